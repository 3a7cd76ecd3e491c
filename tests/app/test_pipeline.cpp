// reconstruct_views, the pipeline's stages in memory (what `reconstruct` and `eval --pipeline` run),
// and the DeepCAD vector it gives each candidate: in the targets' centred frame, decoding into the
// candidate's own solid even when the turn to face the first view left a sketch plane that
// DeepCAD's encoder would mirror.
#include <gtest/gtest.h>

#include <cmath>

#include "app/reconstruct.h"
#include "app/refine_support.h"
#include "cad/cad_vec.h"
#include "cad/turn.h"
#include "geom/chamfer.h"
#include "geom/mesh_measure.h"
#include "geom/sampling.h"

namespace cadcrafter::app {
namespace {

using namespace cadcrafter::app::testing;

Mesh mesh_of(const CadModel& m) {
  CheckOptions o;
  o.keep_solid = true;
  const CheckResult c = check_model(m, o);
  EXPECT_TRUE(c.valid) << c.reason;
  return c.valid ? tessellate(c.solid) : Mesh{};
}

// An L profile (legs 4 and 3, width 1) sketched on a plane with normal +Y, extruded 1.5, off the
// origin: turned a quarter about +Z, its normal is -X, which DeepCAD's encoder mirrors.
CadModel l_on_xz_plane() {
  Loop l{{line(0, 0, 4, 0), line(4, 0, 4, 1), line(4, 1, 1, 1), line(1, 1, 1, 3), line(1, 3, 0, 3), line(0, 3, 0, 0)}};
  Extrude e = extrude(Profile{{l}}, 1.5);
  e.plane = plane({2, 1, 0.5}, {0, 0, 1}, {1, 0, 0}, {0, 1, 0});
  e.sketch_pos = e.plane.origin;
  return model_of({e}, "l_xz");
}

// Points of `mesh` centred on its box and scaled as DeepCAD normalises a centred part (longest
// half-extent 0.75).
PointCloud normalised_points(const Mesh& mesh, uint64_t seed = 7) {
  const BoundingBox b = mesh_bbox(mesh);
  const double half = 0.5 * std::max({b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z});
  PointCloud p = sample_surface(mesh, 10000, seed);
  for (auto& q : p) {
    q[0] = static_cast<float>((q[0] - 0.5 * (b.min.x + b.max.x)) * kNormFactor / half);
    q[1] = static_cast<float>((q[1] - 0.5 * (b.min.y + b.max.y)) * kNormFactor / half);
    q[2] = static_cast<float>((q[2] - 0.5 * (b.min.z + b.max.z)) * kNormFactor / half);
  }
  return p;
}

TEST(PipelineVec, EncodeCandidateKeepsATurnedPartCentredAndUnmirrored) {
  const CadModel turned = turn_about_z(l_on_xz_plane(), 1);
  ASSERT_LT(turned.extrudes[0].plane.normal.x, -0.5);
  const Mesh mesh = mesh_of(turned);
  ASSERT_FALSE(mesh.empty());
  const PointCloud truth = normalised_points(mesh);

  auto vec = encode_candidate(turned, mesh_bbox(mesh));
  ASSERT_TRUE(vec.ok()) << vec.error().message;
  auto back = decode(*vec);
  ASSERT_TRUE(back.ok()) << back.error().message;
  const Mesh back_mesh = mesh_of(*back);
  ASSERT_FALSE(back_mesh.empty());
  const BoundingBox box = mesh_bbox(back_mesh);
  for (double c : {box.min.x + box.max.x, box.min.y + box.max.y, box.min.z + box.max.z}) EXPECT_NEAR(0.5 * c, 0.0, 0.01);
  // As close as two samplings of the true surface (the vector is quantised to 8 bits).
  const double noise = chamfer_distance(truth, normalised_points(mesh, 8));
  const double fitted = chamfer_distance(truth, normalised_points(back_mesh, 8));
  EXPECT_LT(fitted, 2 * noise + 1e-5) << "noise " << noise;

  // DeepCAD's own encoding of the turned model decodes into a mirrored L (compared on its own box).
  CadModel with_box = turned;
  with_box.bbox = mesh_bbox(mesh);
  auto naive = encode(with_box);
  ASSERT_TRUE(naive.ok()) << naive.error().message;
  auto naive_back = decode(*naive);
  ASSERT_TRUE(naive_back.ok());
  const Mesh naive_mesh = mesh_of(*naive_back);
  ASSERT_FALSE(naive_mesh.empty());
  EXPECT_GT(chamfer_distance(truth, normalised_points(naive_mesh, 8)), 10 * fitted);
}

TEST(PipelineVec, ReconstructViewsRanksAndEncodesInMemory) {
  const Mesh truth = build(l_bracket(40, 3)).mesh;
  ASSERT_FALSE(truth.empty());
  const std::vector<ViewMaps> views = {rendered_view(truth, 30, 25), rendered_view(truth, 215, 35)};
  ReconstructParams params;
  params.candidates = "procedural";
  params.samples = 2;
  params.threads = 2;
  params.refine_evaluations = 8;
  params.refine_seconds = 30;  // the evaluation budget ends it, not the clock
  std::vector<std::string> stages;
  auto result = reconstruct_views(views, params, [&](const std::string& stage, int, int) {
    if (stages.empty() || stages.back() != stage) stages.push_back(stage);
  });
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->source, "procedural-search");
  EXPECT_GE(result->proposals, 2);
  ASSERT_EQ(result->ranking.size(), 2u);
  EXPECT_NE(std::find(stages.begin(), stages.end(), "check"), stages.end());
  EXPECT_NE(std::find(stages.begin(), stages.end(), "refine"), stages.end());
  EXPECT_GE(result->ranking[0].agreement.score, result->ranking[1].agreement.score);
  for (const auto& c : result->ranking) {
    ASSERT_TRUE(c.check.valid) << c.check.reason;
    EXPECT_EQ(c.source, "procedural");
    EXPECT_LE(c.score_before_refinement, c.agreement.score + 1e-12);
    EXPECT_GT(c.scale, 0.0);  // scaled to the default 100 mm
    ASSERT_FALSE(c.vec.empty()) << c.vec_error;
    auto back = decode(c.vec);
    ASSERT_TRUE(back.ok()) << back.error().message;
    const Mesh m = mesh_of(*back);
    ASSERT_FALSE(m.empty());
    const BoundingBox box = mesh_bbox(m);
    for (double centre : {box.min.x + box.max.x, box.min.y + box.max.y, box.min.z + box.max.z})
      EXPECT_NEAR(0.5 * centre, 0.0, 0.02);  // the centred frame
  }

  // The same options are checked as reconstruct checks them; views are needed.
  params.samples = 0;
  EXPECT_FALSE(reconstruct_views(views, params).ok());
  params.samples = 2;
  EXPECT_FALSE(reconstruct_views({}, params).ok());
}


// Pipeline parameters of these tests: `samples` kept, 2 threads, no parameter refinement.
ReconstructParams unrefined(int samples) {
  ReconstructParams params;
  params.samples = samples;
  params.threads = 2;
  params.refine = false;
  return params;
}

// A source whose proposals are one part several times, with given priors (or none), labelled
// `origin` and carrying `vec` as a source's own DeepCAD vector.
class FixedSource : public CandidateSource {
 public:
  FixedSource(CadModel model, std::vector<std::pair<bool, double>> priors, std::string origin = "fixed", CadVec vec = {})
      : model_(std::move(model)), priors_(std::move(priors)), origin_(std::move(origin)), vec_(std::move(vec)) {}
  std::string name() const override { return "fixed"; }
  nlohmann::json describe() const override { return {{"name", name()}}; }
  int pool_size(int) const override { return static_cast<int>(priors_.size()); }
  Result<std::vector<Proposal>> propose(const std::vector<ViewMaps>&, int, uint64_t) override {
    std::vector<Proposal> out;
    for (const auto& [has, prior] : priors_) {
      Proposal p;
      p.model = model_;
      p.origin = origin_;
      p.vec = vec_;
      p.has_prior = has;
      p.prior = prior;
      out.push_back(p);
    }
    return out;
  }

 private:
  CadModel model_;
  std::vector<std::pair<bool, double>> priors_;
  std::string origin_;
  CadVec vec_;
};

// sequence.h5 of a generated candidate is re-encoded centred (nothing centres a sampled sequence's
// part on its CAD origin); an indexed part's vector is kept as it came (the index is centred).
TEST(PipelineVec, GeneratedVectorsAreWrittenCentredIndexedOnesAsTheyCame) {
  CadModel part = l_on_xz_plane();
  part.bbox = mesh_bbox(mesh_of(part));
  auto vec = encode(part);  // DeepCAD's own normalisation about the CAD origin: off centre
  ASSERT_TRUE(vec.ok()) << vec.error().message;
  auto model = decode(*vec);
  ASSERT_TRUE(model.ok()) << model.error().message;
  const Mesh off = mesh_of(*model);
  ASSERT_FALSE(off.empty());
  // Distance of the box centre from the origin, and the longest half-extent, of a vector's part.
  auto centre_and_half = [](const CadVec& v) {
    auto m = decode(v);
    EXPECT_TRUE(m.ok());
    const BoundingBox b = m.ok() ? mesh_bbox(mesh_of(*m)) : BoundingBox{};
    const double cx = 0.5 * (b.min.x + b.max.x), cy = 0.5 * (b.min.y + b.max.y), cz = 0.5 * (b.min.z + b.max.z);
    const double half = 0.5 * std::max({b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z});
    return std::make_pair(std::sqrt(cx * cx + cy * cy + cz * cz), half);
  };
  ASSERT_GT(centre_and_half(*vec).first, 0.2);
  const std::vector<ViewMaps> views = {rendered_view(off, 30, 25)};
  ReconstructParams params = unrefined(1);
  for (const std::string origin : {"latent diffusion sample 0 (seed 1)", "retrieval: part 7 of the index"}) {
    FixedSource source(*model, {{false, 0.0}}, origin, *vec);
    auto r = reconstruct_views(views, params, {}, &source);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->ranking.size(), 1u);
    const PipelineCandidate& top = r->ranking[0];
    ASSERT_TRUE(top.check.valid) << top.check.reason;
    const auto [centre, half] = centre_and_half(top.vec);
    if (top.source == "diffusion") {
      EXPECT_LT(centre, 0.02) << origin;
      EXPECT_NEAR(half, kNormFactor, 0.02) << origin;
    } else {
      EXPECT_EQ(top.source, "retrieval");
      EXPECT_GT(centre, 0.2) << origin;  // as it came (turned with the model at most)
    }
  }
}

// The ranking key is the agreement score plus prior_weight x the source's prior: with equal
// agreement (one part proposed three times), weight 0 keeps the proposal order and a positive
// weight puts the most believed proposal first; a proposal without a prior counts with the
// pool's median.
TEST(PipelineRank, PriorWeightBreaksTheAgreementsTieByTheSourcesBelief) {
  const CadModel part = l_bracket(40, 3);
  const Mesh truth = build(part).mesh;
  ASSERT_FALSE(truth.empty());
  const std::vector<ViewMaps> views = {rendered_view(truth, 30, 25)};
  ReconstructParams params = unrefined(3);
  FixedSource source(part, {{true, 0.2}, {false, 0.0}, {true, 0.9}});
  params.prior_weight = 0.0;
  auto plain = reconstruct_views(views, params, {}, &source);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  ASSERT_EQ(plain->ranking.size(), 3u);
  EXPECT_DOUBLE_EQ(plain->ranking[0].agreement.score, plain->ranking[2].agreement.score);
  EXPECT_EQ(plain->ranking[0].index, 0);
  EXPECT_DOUBLE_EQ(plain->ranking[0].rank_prior, 0.2);
  EXPECT_DOUBLE_EQ(plain->ranking[1].rank_prior, 0.9);  // no prior: the median of {0.2, 0.9} (upper)

  params.prior_weight = 1.0;
  auto weighted = reconstruct_views(views, params, {}, &source);
  ASSERT_TRUE(weighted.ok()) << weighted.error().message;
  EXPECT_EQ(weighted->ranking[0].index, 1);  // first of the two at 0.9: proposal order among equals
  EXPECT_EQ(weighted->ranking[1].index, 2);
  EXPECT_EQ(weighted->ranking[2].index, 0);

  params.prior_weight = -1.0;
  EXPECT_FALSE(reconstruct_views(views, params, {}, &source).ok());
}

// A generated proposal that does not build (a plate whose second hole crosses its edge) is
// repaired: it enters the ranking valid, labelled, without the crossing hole, and its sequence is
// the repaired one; with repair off it stays out of the valid candidates.
TEST(PipelineRepair, AGeneratedProposalThatDoesNotBuildIsRepairedAndLabelled) {
  CadModel plate = model_of({extrude(Profile{{rect(0, 0, 4, 4), Loop{{circle(1.5, 2, 0.5)}}, Loop{{circle(3.8, 2, 0.6)}}}}, 1.0)});
  plate.bbox = {{0, 0, 0}, {4.4, 4, 1}};
  auto vec = encode(plate);
  ASSERT_TRUE(vec.ok()) << vec.error().message;
  auto model = decode(*vec);
  ASSERT_TRUE(model.ok());
  ASSERT_FALSE(check_model(*model).valid);
  CadModel fixed = *model;
  fixed.extrudes[0].profile.loops.pop_back();
  const Mesh truth = mesh_of(fixed);
  ASSERT_FALSE(truth.empty());
  const std::vector<ViewMaps> views = {rendered_view(truth, 30, 25)};
  ReconstructParams params = unrefined(1);
  FixedSource source(*model, {{false, 0.0}}, "latent diffusion sample 0 (seed 1)", *vec);
  auto r = reconstruct_views(views, params, {}, &source);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->repaired_proposals, 1);
  ASSERT_FALSE(r->ranking.empty());
  const PipelineCandidate& top = r->ranking[0];
  ASSERT_TRUE(top.check.valid) << top.check.reason;
  EXPECT_EQ(top.source, "diffusion");
  EXPECT_NE(top.proposal.origin.find("repaired"), std::string::npos) << top.proposal.origin;
  EXPECT_NE(top.repaired.find("removed loop"), std::string::npos) << top.repaired;
  EXPECT_EQ(top.proposal.model.extrudes.at(0).profile.loops.size(), 2u);
  EXPECT_GT(top.agreement.score, 0.8);  // it is the part the view shows

  params.repair = false;
  auto off = reconstruct_views(views, params, {}, &source);
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_EQ(off->repaired_proposals, 0);
  for (const auto& c : off->ranking) {
    if (c.source != "diffusion") continue;
    EXPECT_FALSE(c.check.valid);
  }
}

}  // namespace
}  // namespace cadcrafter::app
