// Building datasets end to end on a few models: contents match the encoder, rejections are
// logged, the result does not depend on threads, and a re-run resumes.
#include <filesystem>
#include <fstream>
#include <optional>

#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "cad/turn.h"
#include "cad/turn_support.h"
#include "data/dataset.h"
#include "geom/mesh_measure.h"
#include "kernel/batch_check.h"
#include "kernel/check.h"
#include "kernel/tessellate.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace cadcrafter {
namespace {
namespace fs = std::filesystem;

DatasetBuildOptions small_options(const std::string& out, int threads) {
  DatasetBuildOptions o;
  o.out_dir = out;
  o.sets = 1;
  o.views_per_set = 2;
  o.size = 32;
  o.shard_size = 4;
  o.threads = threads;
  o.seed = 5;
  o.progress = false;
  o.sources.push_back(*parse_dataset_source("synth:6"));
  return o;
}

std::string file_bytes(const std::string& path) { return *read_file(path); }

TEST(Dataset, ParsesSources) {
  EXPECT_EQ(parse_dataset_source("synth:12")->count, 12);
  EXPECT_EQ(parse_dataset_source("f360:/a/b")->path, "/a/b");
  EXPECT_FALSE(parse_dataset_source("synth:x").ok());
  EXPECT_FALSE(parse_dataset_source("synth:-3").ok());
  EXPECT_FALSE(parse_dataset_source("mesh:1").ok());
  EXPECT_FALSE(parse_dataset_source("f360:").ok());
}

TEST(Dataset, SynthBuildIsDeterministicAcrossThreadsAndResumes) {
  testing::TempDir a, b;
  auto ra = build_dataset(small_options(a.path(), 1));
  ASSERT_TRUE(ra.ok()) << ra.error().message;
  auto rb = build_dataset(small_options(b.path(), 2));
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(ra->shards, 2);
  EXPECT_EQ(ra->samples + ra->rejected, 6);
  for (int k = 0; k < ra->shards; ++k) EXPECT_EQ(file_bytes(a / shard_file_name(k)), file_bytes(b / shard_file_name(k))) << k;

  // A re-run skips every finished shard and changes nothing.
  const std::string before = file_bytes(a / shard_file_name(1));
  auto again = build_dataset(small_options(a.path(), 2));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->shards_skipped, 2);
  // A missing shard and a damaged one are rebuilt to the same bytes.
  fs::remove(a / shard_file_name(1));
  std::string damaged = file_bytes(a / shard_file_name(0));
  damaged[100] = static_cast<char>(damaged[100] ^ 1);
  ASSERT_TRUE(write_file_atomically(a / shard_file_name(0), damaged).ok());
  auto resumed = build_dataset(small_options(a.path(), 1));
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->shards_skipped, 0);
  EXPECT_EQ(file_bytes(a / shard_file_name(1)), before);
  EXPECT_EQ(file_bytes(a / shard_file_name(0)), file_bytes(b / shard_file_name(0)));

  // Other options into the same folder are refused.
  auto other = small_options(a.path(), 1);
  other.size = 64;
  auto refused = build_dataset(other);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("other options"), std::string::npos);

  // The reader sees every sample with its images and a vector that decodes.
  auto reader = DatasetReader::open(a.path());
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  ASSERT_EQ(static_cast<int64_t>(reader->size()), ra->samples);
  EXPECT_TRUE(reader->complete());
  for (size_t i = 0; i < reader->size(); ++i) {
    auto s = reader->get(i);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->info.source, "synth");
    EXPECT_EQ(s->views, 2);
    EXPECT_EQ(s->depth.size(), 2u * 32 * 32);
    EXPECT_EQ(s->cameras.size(), 2u);
    int covered = 0;
    for (size_t p = 0; p < s->mask.size(); ++p) {
      covered += s->mask[p] != 0;
      EXPECT_EQ(s->mask[p] != 0, s->depth[p] != 0);
    }
    EXPECT_GT(covered, 10);
    CadVec vec;
    for (const auto& r : s->vec_rows()) vec.push_back(r);
    EXPECT_TRUE(validate_vec(vec).ok());
    EXPECT_TRUE(decode(vec).ok());
  }
  EXPECT_EQ(reader->indices("train").size(), reader->size());
  EXPECT_TRUE(reader->indices("val").empty());
}

TEST(Dataset, F360SamplesMatchTheEncoderAndRejectionsAreLogged) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  testing::TempDir out;
  DatasetBuildOptions o = small_options(out.path(), 2);
  o.sources = {*parse_dataset_source("f360:" + testing::shared_data_dir() + "/f360")};
  o.splits = {"train", "val"};
  o.limit_per_source = 20;
  o.vec_frame = "model";  // DeepCAD's own vectors, bit for bit
  auto r = build_dataset(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->jobs, 20);
  EXPECT_EQ(r->samples + r->rejected, 20);
  std::ifstream rejected(out / "rejected.jsonl");
  int lines = 0;
  for (std::string line; std::getline(rejected, line);) {
    ++lines;
    const auto j = nlohmann::json::parse(line);
    EXPECT_FALSE(j.at("reason").get<std::string>().empty());
    EXPECT_EQ(j.at("source"), "f360");
  }
  EXPECT_EQ(lines, r->rejected);
  auto reader = DatasetReader::open(out.path());
  ASSERT_TRUE(reader.ok());
  std::string previous;
  for (size_t i = 0; i < reader->size(); ++i) {
    auto s = reader->get(i);
    ASSERT_TRUE(s.ok());
    EXPECT_LT(previous, s->info.id);  // sorted by id
    previous = s->info.id;
    EXPECT_TRUE(s->info.split == "train" || s->info.split == "val");
    auto model = read_cad_json(testing::shared_data_dir() + "/f360/json/" + s->info.id + ".json");
    ASSERT_TRUE(model.ok());
    auto vec = encode(*model);
    ASSERT_TRUE(vec.ok());
    const auto rows = s->vec_rows();
    ASSERT_EQ(rows.size(), vec->size());
    for (size_t k = 0; k < rows.size(); ++k) EXPECT_EQ(rows[k], (*vec)[k]);
    // Padding rows are EOS.
    for (size_t k = rows.size(); k < kShardVecRows; ++k) EXPECT_EQ(s->vec[k * kShardVecCols], kCmdEos);
  }
}

// The bounding box of a vector's solid (kernel-built from the decoded vector).
std::optional<std::pair<std::array<double, 3>, std::array<double, 3>>> vec_solid_box(const std::vector<std::array<int, kShardVecCols>>& rows) {
  CheckOptions check;
  check.keep_solid = true;
  const CheckResult c = check_vec(CadVec(rows.begin(), rows.end()), check);
  if (!c.valid) return std::nullopt;
  const Mesh mesh = tessellate(c.solid);
  if (mesh.empty()) return std::nullopt;
  const BoundingBox b = mesh_bbox(mesh);
  return std::make_pair(std::array<double, 3>{b.min.x, b.min.y, b.min.z}, std::array<double, 3>{b.max.x, b.max.y, b.max.z});
}

// The centred frame (the image -> CAD target): every solid's box is centred on the origin and its
// longest half-extent is DeepCAD's 0.75, to within quantisation; the model frame keeps the
// designer's origin (F360 parts off centre), and the renders are the same in both.
TEST(Dataset, CentredFrameCentresEverySolid) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  testing::TempDir centred, model;
  DatasetBuildOptions o = small_options(centred.path(), 2);
  o.sources = {*parse_dataset_source("f360:" + testing::shared_data_dir() + "/f360")};
  o.splits = {"train"};
  o.limit_per_source = 12;
  ASSERT_EQ(o.vec_frame, "centred");  // the default
  ASSERT_TRUE(build_dataset(o).ok());
  o.out_dir = model.path();
  o.vec_frame = "model";
  ASSERT_TRUE(build_dataset(o).ok());
  auto rc = DatasetReader::open(centred.path()), rm = DatasetReader::open(model.path());
  ASSERT_TRUE(rc.ok() && rm.ok());
  EXPECT_EQ(rc->vec_frame(), "centred");
  EXPECT_EQ(rm->vec_frame(), "model");
  ASSERT_EQ(rc->size(), rm->size());
  ASSERT_GT(rc->size(), 5u);
  int checked = 0, off_centre_in_model_frame = 0;
  for (size_t i = 0; i < rc->size(); ++i) {
    auto a = rc->get(i), b = rm->get(i);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->info.id, b->info.id);
    EXPECT_EQ(a->depth, b->depth);  // the pictures do not depend on the frame
    const auto box_c = vec_solid_box(a->vec_rows()), box_m = vec_solid_box(b->vec_rows());
    if (!box_c || !box_m) continue;
    ++checked;
    double half_max = 0, centre_off_m = 0;
    for (int k = 0; k < 3; ++k) {
      SCOPED_TRACE(a->info.id + " axis " + std::to_string(k));
      EXPECT_NEAR(0.5 * (box_c->first[k] + box_c->second[k]), 0.0, 0.02);
      half_max = std::max(half_max, 0.5 * (box_c->second[k] - box_c->first[k]));
      centre_off_m = std::max(centre_off_m, std::abs(0.5 * (box_m->first[k] + box_m->second[k])));
    }
    EXPECT_NEAR(half_max, kNormFactor, 0.02) << a->info.id;
    if (centre_off_m > 0.1) ++off_centre_in_model_frame;
  }
  EXPECT_GE(checked, 5);
  EXPECT_GE(off_centre_in_model_frame, 1);  // else the test would not tell the frames apart
  // A dataset cannot be resumed in another frame, and unknown frames are refused.
  o.out_dir = centred.path();
  EXPECT_FALSE(build_dataset(o).ok());
  o.vec_frame = "middle";
  EXPECT_FALSE(build_dataset(o).ok());
}

// A "through all" cut 100 times longer than the part is shortened to just past the part's box:
// the solid is the same, and its extent fits DeepCAD's range once the part is scaled up.
TEST(Dataset, ClippedCutExtentsKeepTheSolid) {
  using namespace testing::turn_models;  // NOLINT: the shared model builders
  CadModel m;
  m.id = "plate_with_bore";
  m.extrudes.push_back(extrude(plane({0, 0, 0}, {1, 0, 0}, {0, 1, 0}), {polygon({{0, 0}, {4, 0}, {4, 3}, {0, 3}})},
                               Operation::kNewBody, ExtentType::kOneSide, 0.5));
  m.extrudes.push_back(extrude(plane({0, 0, 0.5}, {1, 0, 0}, {0, 1, 0}), {Loop{{circle({2, 1.5}, 0.5)}}}, Operation::kCut,
                               ExtentType::kOneSide, -50.0));
  m.bbox.min = {0, 0, 0};
  m.bbox.max = {4, 3, 0.5};
  const CadModel clipped = clip_extents_to_box(m, m.bbox);
  EXPECT_NEAR(clipped.extrudes[1].extent_one, -(0.5 + 0.05 * 2.0), 1e-12);
  EXPECT_EQ(clipped.extrudes[0].extent_one, 0.5);  // new bodies are never changed
  const CheckResult a = check_model(m), b = check_model(clipped);
  ASSERT_TRUE(a.valid && b.valid) << a.reason << b.reason;
  EXPECT_NEAR(a.volume, 4 * 3 * 0.5 - M_PI * 0.25 * 0.5, 1e-3);
  EXPECT_NEAR(b.volume, a.volume, 1e-9 * a.volume + 1e-9);
  // Centred, the unclipped cut leaves DeepCAD's extent range; the clipped one encodes.
  EXPECT_FALSE(encode(centred_on(m, m.bbox)).ok());
  EXPECT_TRUE(encode(centred_on(clipped, m.bbox)).ok());
}

// A rod sketched at one end and extruded 20 along +Y: centred and scaled, its one-sided extent
// (1.5) would clip at DeepCAD's range (1.0); re-expressed about its middle plane it is the same
// solid and decodes at full length.
TEST(Dataset, LongExtrudesTurnSymmetricAndKeepTheSolid) {
  using namespace testing::turn_models;  // NOLINT: the shared model builders
  CadModel m;
  m.id = "rod";
  m.extrudes.push_back(extrude(plane({0, 0, 0}, {1, 0, 0}, {0, 0, -1}), {Loop{{circle({0, 0}, 0.95)}}}, Operation::kNewBody,
                               ExtentType::kOneSide, 20.0));
  m.bbox.min = {-0.95, 0, -0.95};
  m.bbox.max = {0.95, 20, 0.95};
  const double limit = 0.99 * 10.0 / kNormFactor;
  const CadModel sym = with_representable_extents(m, limit);
  ASSERT_EQ(sym.extrudes[0].extent_type, ExtentType::kSymmetric);
  EXPECT_DOUBLE_EQ(sym.extrudes[0].extent_one, 10.0);
  EXPECT_DOUBLE_EQ(sym.extrudes[0].plane.origin.y, 10.0);
  EXPECT_EQ(with_representable_extents(m, 25.0).extrudes[0].extent_type, ExtentType::kOneSide);  // short enough: unchanged
  const CheckResult a = check_model(m), b = check_model(sym);
  ASSERT_TRUE(a.valid && b.valid) << a.reason << b.reason;
  EXPECT_NEAR(b.volume, a.volume, 1e-9 * a.volume);
  // Through the centred encoding: the one-sided rod comes back short, the symmetric one whole.
  for (const CadModel* model : std::vector<const CadModel*>{&m, &sym}) {
    auto vec = encode(centred_on(*model, m.bbox));
    ASSERT_TRUE(vec.ok());
    const auto box = vec_solid_box(std::vector<std::array<int, kShardVecCols>>(vec->begin(), vec->end()));
    ASSERT_TRUE(box.has_value());
    const double length = box->second[1] - box->first[1];
    if (model == &sym)
      EXPECT_NEAR(length, 1.5, 0.02);
    else
      EXPECT_LT(length, 1.1);
  }
}

TEST(Dataset, ReaderRefusesMissingOrDamagedData) {
  testing::TempDir out;
  auto none = DatasetReader::open(out.path());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("dataset.json"), std::string::npos);
  ASSERT_TRUE(build_dataset(small_options(out.path(), 2)).ok());
  const std::string shard = out / shard_file_name(0);
  const std::string bytes = file_bytes(shard);
  ASSERT_TRUE(write_file_atomically(shard, bytes.substr(0, bytes.size() / 2)).ok());
  auto reader = DatasetReader::open(out.path());
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.error().message.find("truncated"), std::string::npos) << reader.error().message;
}

}  // namespace
}  // namespace cadcrafter
