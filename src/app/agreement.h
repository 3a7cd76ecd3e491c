// How well a candidate solid explains the input views: the ranking signal of reconstruct, and
// the objective of its refinement (refine.h).
//
// The photos' camera poses are unknown, so for every input view the candidate is rendered
// from a grid of poses around it (the training cameras' distance and field of view); both
// the candidate's render and the input's estimated maps are framed the same way (square
// around the mask's bounding box, kViewMargin) and compared at a small size, each pixel an
// average over the area it covers (mask = coverage fraction; overlap sums below are weighted by
// the smaller of the two fractions):
//   mask IoU (soft: sum of min / sum of max of the two coverage fractions);
//   normal agreement = mean over the overlap of max(0, 1 - angle(n_input, n_candidate) / 90 deg)
//     (camera-frame normals, so this also checks the pose; linear in the angle, so a pose a few
//     degrees off costs as much as a few degrees, where the cosine max(0, n_input . n_candidate)
//     of the first version hardly moved: 3 degrees cost 0.0014, now 0.033);
//   depth agreement: the input depth is relative (the estimator knows it only up to scale and
//     shift), so on the overlap the candidate's depth d is aligned to the input depth y by least
//     squares, y ~ a d + b with a >= 0 (a negative scale would explain a flipped relief), and
//     depth agreement = 1 - rmse / std(y), in [0, 1] (1 - sqrt(1 - r^2) for a correlation r > 0,
//     0 for r <= 0). An input without depth information (constant on its mask, or fewer than
//     16 overlap pixels) has none, and its view score falls back to the weights without depth.
//   view score = IoU * (b + wn * normals + wd * depth), b = 1 - wn - wd (defaults wn = 0.4,
//     wd = 0.2, b = 0.4); without depth: IoU * (b + wn * normals) / (b + wn).
// With `pose_evaluations` > 0 each view's best grid pose is then refined continuously (azimuth,
// elevation, roll about the optical axis, and a shift and zoom of the candidate's framing box
// against the input's) by a compass search (pattern_search.h) of at most that many renders.
// Views are posed independently: the photos show one rigid part, but their relative poses are
// unknown, so each photo gets the pose that explains it best (a shared pose would need the
// photos' relative camera motion, which nothing here measures).
// The candidate's score is the mean over the input views of their best pose's score.
// Scale does not matter (both are framed), which is right: photos have no scale.
#pragma once

#include <vector>

#include "app/view_maps.h"
#include "geom/mesh.h"
#include "render/camera.h"
#include "render/render_views.h"

namespace cadcrafter::app {

struct AgreementOptions {
  int compare_size = 64;   // maps are compared at this size
  // The candidate is rendered straight into the framing box (its camera cropped to the box that
  // the projected mesh's bounding box gives) at supersample x compare_size, then averaged down:
  // its mask is a coverage fraction, so the score moves smoothly with sub-pixel changes of shape
  // and pose (what the continuous refinements need), and nothing is resampled twice. The pose
  // grid, which only has to pick the best of 48 poses 30 degrees apart, renders at
  // grid_supersample (1: 2.2x faster than 2); scores after pose refinement are at supersample.
  int supersample = 2;
  int grid_supersample = 1;
  std::vector<float> azimuths_deg = {0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330};
  std::vector<float> elevations_deg = {-25, 10, 30, 50};
  // View score = IoU * (1 - normal_weight - depth_weight + normal_weight * normals + depth_weight * depth).
  // The depth weight is the smaller one: the estimator's depth is the noisier of its maps on photos
  // (aligned AbsRel 0.045, docs/reconstruct.md), but it is the only map that tells a hole from a
  // pocket or a relief from its inverse.
  double normal_weight = 0.4;
  double depth_weight = 0.2;
  bool angular_normals = true;  // false: max(0, cosine), the first version's normal agreement
  // Renders per view for the continuous pose refinement after the grid (0: grid poses only).
  int pose_evaluations = 0;

  // The first version's scoring (IoU * (0.5 + 0.5 * max(0, cosine)), no depth, grid poses only),
  // for comparisons. (Its maps are now area-averaged, see supersample.)
  static AgreementOptions first_version() {
    AgreementOptions o;
    o.normal_weight = 0.5;
    o.depth_weight = 0.0;
    o.angular_normals = false;
    o.pose_evaluations = 0;
    return o;
  }
};

// Where the candidate is seen from for one view: a look-at camera (render/camera.h) at
// azimuth/elevation with a roll about the optical axis, and the candidate's framing box
// moved by (shift_x, shift_y) of its side and made 1/zoom as large (zoom > 1: the candidate
// appears larger in the comparison).
struct ViewPose {
  float azimuth_deg = 0, elevation_deg = 0, roll_deg = 0;
  float shift_x = 0, shift_y = 0, zoom = 1;
};

struct ViewAgreement {
  double score = 0, mask_iou = 0, normal_agreement = 0;
  double depth_agreement = -1;  // -1: the input has no usable depth for this pose
  ViewPose pose;                // best pose
};

struct Agreement {
  double score = 0;         // mean of the views' scores
  double grid_score = 0;    // the same before the pose refinement
  std::vector<ViewAgreement> views;
};

// Scores candidates against fixed input views: frames the inputs once and keeps its renderer's
// buffers between calls. Not thread-safe: one scorer per thread.
class AgreementScorer {
 public:
  explicit AgreementScorer(const std::vector<ViewMaps>& views, AgreementOptions options = {});

  // Grid of poses, then (options.pose_evaluations > 0) continuous pose refinement per view.
  // `mesh` in any units (normalised to the unit sphere here).
  Agreement measure(const Mesh& mesh);
  // Each view at the given pose (poses.size() == number of views), no search.
  Agreement at_poses(const Mesh& mesh, const std::vector<ViewPose>& poses);
  // Continuous pose refinement from `start`'s poses: at most `evaluations` renders per view.
  // The result's views score at least as much as `start`'s when `start` was measured on `mesh`.
  // `fine`: small first steps in azimuth, elevation and zoom only (how the parameter refinement
  // lets the poses follow a slightly changed shape).
  Agreement refine_poses(const Mesh& mesh, const Agreement& start, int evaluations, bool fine = false);

  const AgreementOptions& options() const { return options_; }
  size_t view_count() const { return inputs_.size(); }

  struct Framed {  // maps framed and resampled to compare_size
    int size = 0;
    std::vector<float> mask, normal, depth;
  };

 private:
  ViewAgreement score_view(const Mesh& unit_mesh, size_t view, const ViewPose& pose);
  Framed render_framed(const Mesh& unit_mesh, const ViewPose& pose, int supersample);

  AgreementOptions options_;
  std::vector<Framed> inputs_;
  ViewRenderer renderer_;
};

// `mesh` in any units (normalised to the unit sphere here).
Agreement measure_agreement(const Mesh& mesh, const std::vector<ViewMaps>& views, const AgreementOptions& options = {});

// The view frame of a candidate (render/camera.h, view_frame_quarter_turns): the quarter turns k
// such that turn_about_z(candidate, -k) faces `first_view` the way training targets face their first
// view, from the azimuth of the best grid pose of the candidate for that view (no pose refinement:
// only the nearest quarter turn matters).
int facing_quarter_turns(const Mesh& mesh, const ViewMaps& first_view, const AgreementOptions& options = {});

// The candidate's normal map at `size` from a pose (for previews), framed like the inputs.
Image8 candidate_normal_image(const Mesh& mesh, const ViewPose& pose, int size);

}  // namespace cadcrafter::app
