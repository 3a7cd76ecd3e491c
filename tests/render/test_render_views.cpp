// The multi-view API: sizes, determinism, framing, and the files written for people.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "render/render_views.h"
#include "render/shapes.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

TEST(RenderViews, DeterministicForASeed) {
  const Mesh part = make_demo_part_mesh(64);
  RenderOptions o;
  o.sets = 2;
  o.rgb = true;
  const auto a = render_views(part, o, 99);
  const auto b = render_views(part, o, 99, nullptr, 2);  // threads must not change anything
  const auto c = render_views(part, o, 100);
  ASSERT_EQ(a.size(), 8u);
  ASSERT_EQ(b.size(), 8u);
  int rgb_differs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].depth, b[i].depth);
    EXPECT_EQ(a[i].normal, b[i].normal);
    EXPECT_EQ(a[i].mask, b[i].mask);
    EXPECT_EQ(a[i].rgb, b[i].rgb);
    EXPECT_EQ(a[i].set, static_cast<int>(i) / 4);
    EXPECT_EQ(a[i].view, static_cast<int>(i) % 4);
    rgb_differs += a[i].rgb != c[i].rgb;
    EXPECT_NE(a[i].depth, c[i].depth);
  }
  EXPECT_EQ(rgb_differs, 8);
}

TEST(RenderViews, Size224WorksAndTheObjectStaysInFrame) {
  RenderOptions o;
  o.sets = 1;
  o.size = 224;
  o.rgb = true;
  const auto views = render_views(make_demo_part_mesh(64), o, 3);
  ASSERT_EQ(views.size(), 4u);
  for (const RenderedView& v : views) {
    ASSERT_EQ(v.size, 224);
    ASSERT_EQ(v.depth.size(), 224u * 224u);
    ASSERT_EQ(v.normal.size(), 224u * 224u * 3u);
    ASSERT_EQ(v.rgb.size(), 224u * 224u * 3u);
    int covered = 0;
    for (int y = 0; y < 224; ++y) {
      for (int x = 0; x < 224; ++x) {
        const bool m = v.mask[static_cast<size_t>(y) * 224 + x] != 0;
        covered += m;
        EXPECT_EQ(m, v.depth[static_cast<size_t>(y) * 224 + x] != 0);
        if (x == 0 || y == 0 || x == 223 || y == 223) {
          EXPECT_FALSE(m);  // the unit sphere fits in the frame
        }
      }
    }
    EXPECT_GT(covered, 224 * 224 / 20);
  }
}

TEST(RenderViews, DepthStaysWithinTheUnitSphereShell) {
  // Normalised model at distance 3: every visible depth lies in [2, 4].
  RenderOptions o;
  o.sets = 2;
  for (const RenderedView& v : render_views(make_demo_part_mesh(64), o, 8)) {
    for (uint16_t d : v.depth) {
      if (d == 0) continue;
      EXPECT_GE(d, 2 * kDepthUnitsPerLength - 1);
      EXPECT_LE(d, 4 * kDepthUnitsPerLength + 1);
    }
  }
}

TEST(RenderViews, RejectsBadOptions) {
  RenderOptions o;
  EXPECT_TRUE(validate(o).ok());
  o.size = 2;
  EXPECT_FALSE(validate(o).ok());
  o = RenderOptions{};
  o.depth = o.normal = o.mask = o.rgb = false;
  EXPECT_FALSE(validate(o).ok());
  o = RenderOptions{};
  o.camera.distance = 0.5f;
  EXPECT_FALSE(validate(o).ok());
}

TEST(RenderViews, FolderHasImagesCamerasAndAContactSheet) {
  testing::TempDir dir;
  RenderOptions o;
  o.sets = 1;
  o.views_per_set = 2;
  o.rgb = true;
  Normalization norm;
  const auto views = render_views(make_demo_part_mesh(32), o, 1, &norm);
  ASSERT_TRUE(write_render_folder(dir.path(), views, o, norm, {{"shape", "demo"}}).ok());
  auto depth = read_image16(dir / "s0_v1_depth.png");
  ASSERT_TRUE(depth.ok()) << depth.error().message;
  EXPECT_EQ(depth->pixels, views[1].depth);  // exact 16-bit round trip through the file
  auto rgb = read_image8(dir / "s0_v0_rgb.png");
  ASSERT_TRUE(rgb.ok());
  EXPECT_EQ(rgb->pixels, views[0].rgb);
  auto sheet = read_image8(dir / "contact_sheet.png");
  ASSERT_TRUE(sheet.ok());
  EXPECT_EQ(sheet->width, 2 * 128 + 3 * 2);
  std::ifstream in(dir / "cameras.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_EQ(j["views"].size(), 2u);
  EXPECT_EQ(j["views"][1]["depth"], "s0_v1_depth.png");
  EXPECT_FLOAT_EQ(j["views"][1]["camera"]["azimuth_deg"].get<float>(), views[1].camera.azimuth_deg);
  EXPECT_FLOAT_EQ(j["normalization"]["scale"].get<float>(), norm.scale);
  EXPECT_TRUE(j["views"][0]["photo"].contains("material"));
  // Nothing but our files: no temporary leftovers.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
    ++files;
  }
  EXPECT_EQ(files, 2 * 4 + 2);
}

}  // namespace
}  // namespace cadcrafter
