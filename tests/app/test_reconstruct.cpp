// The reconstruct pipeline end to end on depth/normal inputs (no learned part needed):
// output folder contents, --force, determinism for a seed, bad inputs; the ranking signal;
// and photos through the shipped estimator when models/estimator.pt is present.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "app/agreement.h"
#include "app/reconstruct.h"
#include "app/sha256.h"
#include "cad/units.h"
#include "geom/mesh_io.h"
#include "geom/mesh_measure.h"
#include "data/generator.h"
#include "kernel/check.h"
#include "kernel/export.h"
#include "kernel/tessellate.h"
#include "render/render_views.h"
#include "render/shapes.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace cadcrafter::app {
namespace {

namespace fs = std::filesystem;
using cadcrafter::testing::TempDir;

Mesh model_mesh(uint64_t seed) {
  CheckOptions check;
  check.keep_solid = true;
  const auto r = check_model(generate_model(GeneratorOptions{}, seed), check);
  EXPECT_TRUE(r.valid) << r.reason;
  return r.valid ? tessellate(r.solid) : Mesh{};
}

RenderedView view_of(const Mesh& mesh, float azimuth, float elevation) {
  const Mesh unit = apply_normalization(mesh, unit_sphere_normalization(mesh));
  return render_view(unit, look_at_camera(azimuth, elevation, 3, 45, 128));
}

// Writes <dir>/<stem>_depth.png and _normal.png; returns the depth path.
std::string write_depth_normal(const std::string& dir, const std::string& stem, const RenderedView& v) {
  EXPECT_TRUE(write_png(dir + "/" + stem + "_depth.png", depth_image(v)));
  EXPECT_TRUE(write_png(dir + "/" + stem + "_normal.png", normal_image(v)));
  return dir + "/" + stem + "_depth.png";
}

nlohmann::json read_json(const std::string& path) {
  auto text = read_file(path);
  EXPECT_TRUE(text.ok()) << path;
  return text.ok() ? nlohmann::json::parse(*text) : nlohmann::json();
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string(1000, 'a')), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST(Agreement, TheRightShapeFromTheRightPoseScoresBest) {
  const Mesh part = model_mesh(21);
  ASSERT_FALSE(part.empty());
  TempDir tmp;
  auto view = load_depth_normal_view(write_depth_normal(tmp.path(), "v", view_of(part, 60, 30)), 128);
  ASSERT_TRUE(view.ok()) << view.error().message;
  const Agreement same = measure_agreement(part, {*view});
  EXPECT_GT(same.score, 0.9);
  EXPECT_GT(same.views[0].mask_iou, 0.9);
  const Agreement rod = measure_agreement(make_cylinder_mesh(0, 0, 0.2f, -1.0f, 1.0f, 64), {*view});
  EXPECT_LT(rod.score, same.score - 0.1);
}

class ReconstructTest : public ::testing::Test {
 protected:
  void SetUp() override {
    depth_ = write_depth_normal(tmp_.path(), "part", view_of(model_mesh(5), 120, 30));
    params_.inputs = {depth_};
    params_.input_kind = InputKind::kDepthNormal;
    params_.samples = 2;
    params_.seed = 7;
    params_.threads = 2;
    params_.candidates = "procedural";  // no learned model needed (test_learned_pipeline covers it)
    params_.refine_seconds = 0.5;       // a short refinement keeps these tests quick
  }
  TempDir tmp_;
  std::string depth_;
  ReconstructParams params_;
};

TEST_F(ReconstructTest, WritesTheOutputFolder) {
  params_.output = tmp_ / "out";
  std::vector<std::string> stages;
  auto r = reconstruct(params_, [&](const std::string& s, int, int) {
    if (stages.empty() || stages.back() != s) stages.push_back(s);
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(stages, (std::vector<std::string>{"load", "propose", "check", "refine", "write"}));
  ASSERT_EQ(r->ranking.size(), 2u);
  for (const char* f : {"run.json", "index.json", "index.md", "inputs/view_0_input.png", "inputs/view_0_normal.png",
                        "inputs/view_0_mask.png"})
    EXPECT_TRUE(fs::is_regular_file(tmp_ / (std::string("out/") + f))) << f;
  EXPECT_FALSE(fs::exists(params_.output + ".partial." + std::to_string(::getpid())));
  const auto index = read_json(tmp_ / "out/index.json");
  ASSERT_EQ(index["ranking"].size(), 2u);
  EXPECT_EQ(index["source"]["name"], "procedural-search");
  double previous = 2.0;
  for (const auto& c : r->ranking) {
    const std::string dir = tmp_ / ("out/" + c.folder);
    for (const char* f : {"model.py", "sequence.json", "sequence.h5", "preview.png", "report.json"})
      EXPECT_TRUE(fs::is_regular_file(dir + "/" + f)) << c.folder << "/" << f;
    if (c.valid) {
      for (const char* f : {"model.step", "model.glb", "model.stl"})
        EXPECT_GT(fs::file_size(dir + "/" + f), 100u) << c.folder << "/" << f;
      EXPECT_GT(c.volume, 0.0);
      EXPECT_LE(c.score, previous);  // valid ones sorted by score
      previous = c.score;
    }
    const auto report = read_json(dir + "/report.json");
    EXPECT_EQ(report["valid"], c.valid);
    EXPECT_EQ(report["rank"], c.rank);
    // What the parameter refinement did (by default the best 2 valid candidates are refined).
    ASSERT_TRUE(report.contains("refinement"));
    EXPECT_EQ(report["refinement"]["attempted"], c.valid);
    EXPECT_EQ(report["refinement"]["improved"], c.refined);
    if (c.valid) {
      EXPECT_GE(report["refinement"]["score_after"].get<double>(), report["refinement"]["score_before"].get<double>());
      EXPECT_GT(report["refinement"]["evaluations"].get<int>(), 0);
      EXPECT_TRUE(report["refinement"].contains("seconds"));
      EXPECT_DOUBLE_EQ(report["score"].get<double>(), c.score);
      EXPECT_GE(c.score, c.score_before_refinement);
      EXPECT_GE(report["score"].get<double>(), report["grid_score"].get<double>());
    }
    EXPECT_TRUE(report["views"][0].contains("depth_agreement"));
    EXPECT_TRUE(report["views"][0].contains("best_roll_deg"));
    auto preview = read_image8(dir + "/preview.png");
    ASSERT_TRUE(preview.ok());
    EXPECT_EQ(preview->width, 3 * 128);
    EXPECT_EQ(preview->height, 128);
  }
  const auto run = read_json(tmp_ / "out/run.json");
  EXPECT_EQ(run["options"]["seed"], 7);
  EXPECT_TRUE(run["timings_s"].contains("total"));
  EXPECT_TRUE(run["timings_s"].contains("refine"));
  EXPECT_TRUE(run["timings_s"].contains("refine_poses"));
  EXPECT_EQ(run["options"]["refine"], true);
  EXPECT_DOUBLE_EQ(run["options"]["refine_seconds"].get<double>(), params_.refine_seconds);
  ASSERT_TRUE(run["refinement"].is_array());
  EXPECT_EQ(run["refinement"].size(), static_cast<size_t>(std::count_if(
                                          r->ranking.begin(), r->ranking.end(), [](const auto& c) { return c.valid; })));
  for (const auto& entry : run["refinement"]) {
    EXPECT_TRUE(entry.contains("folder"));
    EXPECT_GE(entry["score_after"].get<double>(), entry["score_before"].get<double>());
  }
  EXPECT_TRUE(index["ranking"][0].contains("refined"));
  EXPECT_TRUE(index["ranking"][0].contains("score_before_refinement"));
  EXPECT_EQ(run["inputs"][0]["file"], depth_);
}

// Longest side of a STEP file read back by OCCT, in mm.
double step_longest_side_mm(const std::string& path) {
  auto solid = import_step(path);
  EXPECT_TRUE(solid.ok()) << path << ": " << (solid.ok() ? "" : solid.error().message);
  if (!solid.ok()) return 0;
  const BoundingBox b = shape_properties(*solid).bbox;
  return std::max({b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z});
}

TEST_F(ReconstructTest, SizeSetsTheLongestSideOfTheStep) {
  auto size = parse_length("40mm");
  ASSERT_TRUE(size.ok());
  params_.size = *size;
  params_.output = tmp_ / "out";
  auto r = reconstruct(params_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  int valid = 0;
  for (const auto& c : r->ranking) {
    if (!c.valid) continue;
    ++valid;
    const std::string dir = tmp_ / ("out/" + c.folder);
    EXPECT_NEAR(step_longest_side_mm(dir + "/model.step"), 40.0, 0.005 * 40.0) << c.folder;
    EXPECT_NE(read_file(dir + "/model.step")->find("SI_UNIT(.MILLI.,.METRE.)"), std::string::npos);
    EXPECT_GT(c.scale, 0.0);
    const auto report = read_json(dir + "/report.json");
    EXPECT_EQ(report["length_unit"], "mm");
    EXPECT_NEAR(report["longest_side"].get<double>(), 40.0, 1e-6);
    // The sequence carries the same size and says so.
    const auto seq = read_json(dir + "/sequence.json");
    EXPECT_EQ(seq["properties"]["length_unit"], "mm");
  }
  ASSERT_GT(valid, 0);
  const auto run = read_json(tmp_ / "out/run.json");
  EXPECT_DOUBLE_EQ(run["options"]["size"]["mm"].get<double>(), 40.0);
  EXPECT_EQ(run["options"]["size"]["text"], "40 mm");
  EXPECT_DOUBLE_EQ(read_json(tmp_ / "out/index.json")["size"]["mm"].get<double>(), 40.0);
  EXPECT_NE(read_file(tmp_ / "out/index.md")->find("**40 mm**"), std::string::npos);

  // Inches, and the default (100 mm) when no size is given.
  params_.size = *parse_length("1.5in");
  params_.output = tmp_ / "inch";
  params_.samples = 1;
  r = reconstruct(params_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->ranking[0].valid);
  EXPECT_NEAR(step_longest_side_mm(tmp_ / "inch/candidate_01/model.step"), 38.1, 0.005 * 38.1);
  params_.size = default_part_size();
  params_.output = tmp_ / "default";
  r = reconstruct(params_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->ranking[0].valid);
  EXPECT_NEAR(step_longest_side_mm(tmp_ / "default/candidate_01/model.step"), 100.0, 0.5);
  EXPECT_NE(read_file(tmp_ / "default/index.md")->find("**100 mm**"), std::string::npos);
  // Out of range: refused before anything is written.
  params_.size = Length{0.001, LengthUnit::kMillimetre};
  params_.output = tmp_ / "tiny";
  r = reconstruct(params_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--size"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(tmp_ / "tiny"));
}

TEST_F(ReconstructTest, RefusesToOverwriteWithoutForce) {
  params_.output = tmp_ / "out";
  ASSERT_TRUE(reconstruct(params_).ok());
  ASSERT_TRUE(write_file_atomically(tmp_ / "out/marker.txt", "mine"));
  auto again = reconstruct(params_);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("--force"), std::string::npos);
  EXPECT_TRUE(fs::exists(tmp_ / "out/marker.txt"));  // untouched
  params_.force = true;
  ASSERT_TRUE(reconstruct(params_).ok());
  EXPECT_FALSE(fs::exists(tmp_ / "out/marker.txt"));  // replaced as a whole
  EXPECT_TRUE(fs::exists(tmp_ / "out/index.json"));
}

// The web server's per-job limit: past time_limit_s (or when stop_requested says so) the run
// stops at the next stage with kTimeout and leaves nothing behind.
TEST_F(ReconstructTest, TimeLimitAndStopLeaveNoOutput) {
  params_.output = tmp_ / "out";
  params_.time_limit_s = 1e-9;
  auto late = reconstruct(params_);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kTimeout);
  EXPECT_NE(late.error().message.find("time limit of 1e-09 s (stopped after estimating the views)"), std::string::npos)
      << late.error().message;
  params_.time_limit_s = 0;
  int polls = 0;
  params_.stop_requested = [&polls] { return ++polls > 1; };  // go on past the first check, then stop
  auto stopped = reconstruct(params_);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code, ErrorCode::kTimeout);
  EXPECT_NE(stopped.error().message.find("was stopped (after"), std::string::npos) << stopped.error().message;
  EXPECT_FALSE(fs::exists(tmp_ / "out"));
  params_.stop_requested = {};
  params_.time_limit_s = 600;  // a generous limit changes nothing
  EXPECT_TRUE(reconstruct(params_).ok());
}

TEST_F(ReconstructTest, SameSeedSameOutput) {
  // Deterministic when the refinement ends by its evaluation budget, not by the clock.
  params_.refine_seconds = 600;
  params_.refine_evaluations = 15;
  params_.output = tmp_ / "a";
  ASSERT_TRUE(reconstruct(params_).ok());
  params_.output = tmp_ / "b";
  params_.threads = 1;  // and independent of the thread count
  ASSERT_TRUE(reconstruct(params_).ok());
  EXPECT_EQ(*read_file(tmp_ / "a/index.json"), *read_file(tmp_ / "b/index.json"));
  EXPECT_EQ(*read_file(tmp_ / "a/candidate_01/sequence.json"), *read_file(tmp_ / "b/candidate_01/sequence.json"));
  EXPECT_EQ(*read_file(tmp_ / "a/candidate_01/preview.png"), *read_file(tmp_ / "b/candidate_01/preview.png"));
}

// --no-refine writes the candidates as ranked; the refinement only ever raises a score.
TEST_F(ReconstructTest, RefinementRaisesScoresAndCanBeSwitchedOff) {
  params_.refine_seconds = 600;
  params_.refine_evaluations = 30;
  params_.output = tmp_ / "refined";
  auto refined = reconstruct(params_);
  ASSERT_TRUE(refined.ok()) << refined.error().message;
  params_.refine = false;
  params_.output = tmp_ / "plain";
  auto plain = reconstruct(params_);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE(read_json(tmp_ / "plain/run.json")["timings_s"].contains("refine"));
  EXPECT_EQ(read_json(tmp_ / "plain/run.json")["refinement"].size(), 0u);
  for (const auto& c : plain->ranking) {
    EXPECT_FALSE(c.refined);
    EXPECT_EQ(read_json(tmp_ / ("plain/" + c.folder + "/report.json"))["refinement"]["attempted"], false);
  }
  ASSERT_FALSE(plain->ranking.empty());
  ASSERT_FALSE(refined->ranking.empty());
  EXPECT_GE(refined->ranking[0].score, plain->ranking[0].score);
  for (const auto& c : refined->ranking) EXPECT_GE(c.score, c.score_before_refinement);
}

TEST_F(ReconstructTest, BadRefineSecondsAreRefused) {
  for (double bad : {-1.0, std::nan(""), std::numeric_limits<double>::infinity(), 1e9}) {
    ReconstructParams p = params_;
    p.output = tmp_ / "out";
    p.refine_seconds = bad;
    const Status s = validate_params(p);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.error().message.find("--refine-seconds"), std::string::npos) << s.error().message;
    EXPECT_FALSE(reconstruct(p).ok());
  }
  EXPECT_FALSE(fs::exists(tmp_ / "out"));
  ReconstructParams zero = params_;
  zero.output = tmp_ / "zero";
  zero.refine_seconds = 0;  // allowed: no refinement
  EXPECT_TRUE(validate_params(zero).ok());
}

TEST_F(ReconstructTest, BadInputsFailCleanlyWithoutOutput) {
  params_.output = tmp_ / "out";
  ReconstructParams p = params_;
  p.inputs = {depth_, depth_, depth_, depth_, depth_};
  EXPECT_FALSE(reconstruct(p).ok());
  p = params_;
  p.samples = 0;
  EXPECT_FALSE(reconstruct(p).ok());
  p = params_;
  p.device = "cuda";
  EXPECT_FALSE(reconstruct(p).ok());
  // A depth file without its normal map.
  ASSERT_TRUE(write_png(tmp_ / "lonely_depth.png", Image16{32, 32, 1, std::vector<uint16_t>(32 * 32, 30000)}));
  p = params_;
  p.inputs = {tmp_ / "lonely_depth.png"};
  auto r = reconstruct(p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("lonely_normal.png"), std::string::npos) << r.error().message;
  // Photos: not an image.
  ASSERT_TRUE(write_file_atomically(tmp_ / "notes.jpg", "hello"));
  p = params_;
  p.input_kind = InputKind::kPhoto;
  p.inputs = {tmp_ / "notes.jpg"};
  r = reconstruct(p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("notes.jpg"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp_ / "out"));
}

TEST(ReconstructPhotos, ShippedEstimatorOnExamplePhotos) {
  const std::string weights = cadcrafter::testing::source_dir() + "/models/estimator.pt";
  const std::string photo = cadcrafter::testing::source_dir() + "/examples/photos/bracket_1.jpg";
  if (!fs::exists(weights) || !fs::exists(photo)) GTEST_SKIP() << "no shipped estimator or example photo";
  TempDir tmp;
  ReconstructParams p;
  p.inputs = {photo};
  p.output = tmp / "out";
  p.samples = 1;
  p.weights_dir = cadcrafter::testing::source_dir() + "/models";
  auto r = reconstruct(p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto run = read_json(tmp / "out/run.json");
  EXPECT_EQ(run["weights"]["estimator"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_GT(run["inputs"][0]["object_fraction"].get<double>(), 0.05);

}


// The demo: the two example photos of an L bracket (examples/photos/bracket_{1,2}.jpg, a plate
// with a leg at one end) through the shipped weights. The top candidate must be an L-like part,
// not the thick plate earlier estimators led to: an L bracket fills a small share of its bounding
// box (the photographed one ~0.3; the top candidate with estimator v2 filled 0.65 of its box).
TEST(ReconstructPhotos, ExampleBracketPhotosGiveAnLBracket) {
  const std::string models = cadcrafter::testing::source_dir() + "/models";
  const std::string photo1 = cadcrafter::testing::source_dir() + "/examples/photos/bracket_1.jpg";
  const std::string photo2 = cadcrafter::testing::source_dir() + "/examples/photos/bracket_2.jpg";
  for (const auto& f : {models + "/estimator.pt", models + "/retrieval/index.pt", photo1, photo2})
    if (!fs::exists(f)) GTEST_SKIP() << "not shipped here: " << f;
  TempDir tmp;
  ReconstructParams p;
  p.inputs = {photo1, photo2};
  p.output = tmp / "out";
  p.samples = 2;
  p.seed = 0;
  p.weights_dir = models;
  auto r = reconstruct(p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_FALSE(r->ranking.empty());
  ASSERT_TRUE(r->ranking[0].valid);
  auto mesh = read_stl(tmp / "out/candidate_01/model.stl");
  ASSERT_TRUE(mesh.ok()) << mesh.error().message;
  const BoundingBox box = mesh_bbox(*mesh);
  const double box_volume = (box.max.x - box.min.x) * (box.max.y - box.min.y) * (box.max.z - box.min.z);
  ASSERT_GT(box_volume, 0.0);
  const double fill = std::abs(mesh_volume(*mesh)) / box_volume;
  EXPECT_LT(fill, 0.5) << "the top candidate fills " << fill << " of its box: a plate or block, not an L bracket ("
                       << r->ranking[0].origin << ")";
}

}  // namespace
}  // namespace cadcrafter::app
