// How well a candidate solid explains the input views: the ranking signal of reconstruct.
//
// The photos' camera poses are unknown, so for every input view the candidate is rendered
// from a grid of poses around it (the training cameras' distance and field of view); both
// the candidate's render and the input's estimated maps are framed the same way (square
// around the mask's bounding box) and compared at a small size:
//   mask IoU, and normal agreement = mean over the overlap of max(0, n_input . n_candidate)
//   (camera-frame normals, so this also checks the pose).
//   view score = IoU * (0.5 + 0.5 * normal agreement), in [0, 1];
// the candidate's score is the mean over the input views of their best pose's score.
// Scale does not matter (both are framed), which is right: photos have no scale.
#pragma once

#include <vector>

#include "app/view_maps.h"
#include "geom/mesh.h"
#include "render/camera.h"

namespace cadcrafter::app {

struct AgreementOptions {
  int compare_size = 64;   // maps are compared at this size
  int render_size = 96;    // candidate renders per pose
  std::vector<float> azimuths_deg = {0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330};
  std::vector<float> elevations_deg = {-25, 10, 30, 50};
};

struct ViewAgreement {
  double score = 0, mask_iou = 0, normal_agreement = 0;
  float azimuth_deg = 0, elevation_deg = 0;  // best pose
};

struct Agreement {
  double score = 0;  // mean of the views' scores
  std::vector<ViewAgreement> views;
};

// `mesh` in any units (normalised to the unit sphere here).
Agreement measure_agreement(const Mesh& mesh, const std::vector<ViewMaps>& views, const AgreementOptions& options = {});

// The view frame of a candidate (render/camera.h, view_frame_quarter_turns): the quarter turns k
// such that turn_about_z(candidate, -k) faces `first_view` the way training targets face their first
// view, from the azimuth of the best pose of the candidate for that view.
int facing_quarter_turns(const Mesh& mesh, const ViewMaps& first_view, const AgreementOptions& options = {});

// The candidate's normal map at `size` from a pose (for previews), framed like the inputs.
Image8 candidate_normal_image(const Mesh& mesh, float azimuth_deg, float elevation_deg, int size);

}  // namespace cadcrafter::app
