// Photo-like renders: determinism, variety of the drawn scenes, and that the part is where
// the mask says it is.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "render/render_views.h"
#include "render/shapes.h"

namespace cadcrafter {
namespace {

Mesh unit_part() {
  const Mesh m = make_demo_part_mesh(64);
  return apply_normalization(m, unit_sphere_normalization(m));
}

TEST(Photo, DeterministicAndSeedDependent) {
  const Mesh part = unit_part();
  const Camera cam = look_at_camera(40, 30, 3, 45, 96);
  PhotoInfo info;
  const auto a = render_photo(part, cam, PhotoOptions{}, 5, &info);
  const auto b = render_photo(part, cam, PhotoOptions{}, 5);
  const auto c = render_photo(part, cam, PhotoOptions{}, 6);
  ASSERT_EQ(a.size(), 96u * 96u * 3u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_GE(info.jpeg_quality, 40);
  EXPECT_LE(info.jpeg_quality, 95);
  EXPECT_GE(info.lights, 1);
  EXPECT_LE(info.lights, 3);
}

TEST(Photo, ScenesVaryAcrossSeeds) {
  const Mesh part = unit_part();
  const Camera cam = look_at_camera(40, 30, 3, 45, 48);
  std::set<std::string> materials, backgrounds;
  std::set<int> light_counts;
  for (uint64_t seed = 0; seed < 80; ++seed) {
    PhotoInfo info;
    render_photo(part, cam, PhotoOptions{}, seed, &info);
    materials.insert(info.material);
    backgrounds.insert(info.background);
    light_counts.insert(info.lights);
  }
  EXPECT_EQ(materials.size(), photo_material_families().size());
  EXPECT_EQ(backgrounds.size(), photo_background_families().size());
  EXPECT_EQ(light_counts.size(), 3u);
}

TEST(Photo, ExcludedFamiliesAreNeverDrawnAndBadNamesAreRefused) {
  const Mesh part = unit_part();
  const Camera above = look_at_camera(40, 30, 3, 45, 32);
  PhotoOptions o;
  o.exclude = {"metal", "translucent", "table", "room"};
  ASSERT_TRUE(validate_photo_options(o).ok());
  std::set<std::string> materials, backgrounds;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    PhotoInfo info;
    render_photo(part, above, o, seed, &info);
    materials.insert(info.material);
    backgrounds.insert(info.background);
  }
  EXPECT_EQ(materials, (std::set<std::string>{"matte", "glossy"}));
  EXPECT_EQ(backgrounds, (std::set<std::string>{"gradient", "noise", "mat"}));

  // From below the table only backdrops are possible; with all of them excluded, a gradient.
  const Camera below = look_at_camera(40, -30, 3, 45, 32);
  o.exclude = {"gradient", "noise", "room"};
  for (uint64_t seed = 0; seed < 10; ++seed) {
    PhotoInfo info;
    render_photo(part, below, o, seed, &info);
    EXPECT_EQ(info.background, "gradient");
  }

  o.exclude = {"plasma"};
  auto unknown = validate_photo_options(o);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("plasma"), std::string::npos);
  o.exclude = {"matte", "glossy", "metal", "translucent"};
  EXPECT_FALSE(validate_photo_options(o).ok());
  o.exclude = photo_background_families();
  EXPECT_FALSE(validate_photo_options(o).ok());
  RenderOptions r;
  r.rgb = true;
  r.photo.exclude = {"plasma"};
  EXPECT_FALSE(validate(r).ok());
}

TEST(Photo, ZoomVarietyShrinksAndMovesThePartOnlyWhenAsked) {
  CameraOptions fixed;
  const auto a = sample_cameras(fixed, 2, 4, 64, 9);
  CameraOptions zoom = fixed;
  zoom.fov_max_deg = 85.0f;
  const auto b = sample_cameras(zoom, 2, 4, 64, 9);
  ASSERT_EQ(a.size(), b.size());
  bool wider = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_FLOAT_EQ(a[i].fov_deg, 45.0f);
    EXPECT_GE(b[i].fov_deg, 45.0f);
    EXPECT_LE(b[i].fov_deg, 85.0f);
    wider |= b[i].fov_deg > 60.0f;
    // Same azimuth and elevation with or without zoom variety.
    EXPECT_FLOAT_EQ(a[i].azimuth_deg, b[i].azimuth_deg);
  }
  EXPECT_TRUE(wider);
}

TEST(Photo, PartIsLitAndShowsShading) {
  // Inside the mask the image is neither black nor flat: differently oriented faces of the part
  // get different brightness (a cartoon fill would give one colour).
  const Mesh part = unit_part();
  RenderOptions o;
  o.sets = 2;
  o.rgb = true;
  for (const RenderedView& v : render_views(part, o, 21)) {
    double sum = 0, sum2 = 0;
    int n = 0;
    const int s = v.size;
    for (int y = 2; y < s - 2; ++y) {
      for (int x = 2; x < s - 2; ++x) {
        // Interior pixels only (away from the antialiased, blurred outline).
        bool interior = true;
        for (int dy = -2; dy <= 2 && interior; ++dy)
          for (int dx = -2; dx <= 2; ++dx) interior &= v.mask[static_cast<size_t>(y + dy) * s + x + dx] != 0;
        if (!interior) continue;
        const size_t i = (static_cast<size_t>(y) * s + x) * 3;
        const double luma = 0.3 * v.rgb[i] + 0.59 * v.rgb[i + 1] + 0.11 * v.rgb[i + 2];
        sum += luma;
        sum2 += luma * luma;
        ++n;
      }
    }
    ASSERT_GT(n, 200);
    const double mean = sum / n, sd = std::sqrt(std::max(0.0, sum2 / n - mean * mean));
    EXPECT_GT(mean, 8.0) << v.photo.to_json().dump();
    EXPECT_GT(sd, 3.0) << v.photo.to_json().dump();
  }
}

}  // namespace
}  // namespace cadcrafter
