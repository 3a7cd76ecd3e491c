// Rendering real tessellations (F360 models through the kernel): back-face culling must not
// change a single pixel (the kernel winds every triangle counter-clockwise from outside), and
// every model renders inside the frame.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "cad/cad_json.h"
#include "kernel/compile.h"
#include "kernel/tessellate.h"
#include "render/render_views.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

std::vector<std::string> first_f360_models(size_t n) {
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::directory_iterator(testing::shared_data_dir() + "/f360/json"))
    paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  paths.resize(std::min(paths.size(), n));
  return paths;
}

TEST(KernelMeshes, BackFaceCullingChangesNothing) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  int rendered = 0;
  for (const std::string& path : first_f360_models(12)) {
    auto model = read_cad_json(path);
    ASSERT_TRUE(model.ok()) << model.error().message;
    auto solid = compile_model(*model);
    if (!solid) continue;  // a few F360 models fail to build; not this test's business
    const Mesh mesh = tessellate(*solid);
    ASSERT_FALSE(mesh.empty()) << path;
    const Mesh unit = apply_normalization(mesh, unit_sphere_normalization(mesh));
    Rasterizer culled, all;
    culled.set_cull_back_faces(true);
    GBuffer a, b;
    for (const Camera& cam : sample_cameras(CameraOptions{}, 2, 4, 128, 5)) {
      culled.draw(unit, cam, &a);
      all.draw(unit, cam, &b);
      ASSERT_EQ(a.depth, b.depth) << path;
      int covered = 0, border = 0;
      for (int i = 0; i < 128 * 128; ++i) {
        if (!a.covered(i)) continue;
        ++covered;
        const int x = i % 128, y = i / 128;
        border += x == 0 || y == 0 || x == 127 || y == 127;
      }
      EXPECT_GT(covered, 50) << path;
      EXPECT_EQ(border, 0) << path;
    }
    ++rendered;
  }
  EXPECT_GE(rendered, 10);
}

}  // namespace
}  // namespace cadcrafter
