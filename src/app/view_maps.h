// The geometry of one input view as the rest of the pipeline sees it: a framed square image
// (object centred, kFramingMargin around its bounding box) with relative depth, camera-frame
// normals and a foreground mask. Made either from a photo by the estimator (two passes: the
// whole photo letterboxed to find the object, then a crop around it), or read from depth and
// normal PNGs in the project's encoding (render/render_views.h), e.g. the output of
// `cadcrafter render` or of an external estimator.
#pragma once

#include <string>
#include <vector>

#include "app/photo_input.h"
#include "util/status.h"
#include "learn/inference/photo_estimator.h"
#include "render/image_io.h"
#include "render/render_views.h"

namespace cadcrafter {
struct DatasetSample;
}

namespace cadcrafter::app {

// Extra space around the object's bounding box per side (same as the estimator's training).
constexpr float kViewMargin = 0.12f;

struct ViewMaps {
  std::string name;           // input file (or upload) name
  int size = 0;
  Image8 image;               // size x size RGB shown to people: the framed photo or the normal map
  std::vector<float> depth;   // relative depth (valid on the mask)
  std::vector<float> normal;  // size * size * 3, unit, camera frame
  std::vector<float> mask;    // 1 object, 0 background (thresholded)
  std::vector<std::string> notes;
  double object_fraction() const;  // share of mask pixels
};

// Photo -> maps. Fails with a message naming the photo when no object is found.
Result<ViewMaps> estimate_view(const InputPhoto& photo, const learn::PhotoEstimator& estimator);

// `depth_path` is a 16-bit depth PNG (0 = background); the normal map is the file of the same
// name with "depth" replaced by "normal" (as `cadcrafter render` writes them). Framed and
// resized to `size`.
Result<ViewMaps> load_depth_normal_view(const std::string& depth_path, int size);

// A render (render/render_views.h; depth and normals needed) as input maps, framed around the
// object and resized to `size` the way load_depth_normal_view frames a depth PNG: for tests and
// benches on known cameras. Empty maps (no object) when the render shows nothing.
ViewMaps view_maps_of_render(const RenderedView& view, int size, const std::string& name = "render");

// View `view` of a dataset sample (rendered depth, normals, mask) as maps, unframed (size = the
// render size): for evaluating the pipeline on rendered inputs.
ViewMaps view_maps_of_sample(const DatasetSample& sample, int view);

// View `view`'s photo-like render of a dataset sample (a dataset built with --rgb) as a user's
// photo, for estimate_view: evaluating and training on photos of known parts.
InputPhoto photo_of_sample(const DatasetSample& sample, int view);

// Normal map as an image (the render encoding, background grey).
Image8 normals_to_image(const std::vector<float>& normal, const std::vector<float>& mask, int size);

}  // namespace cadcrafter::app
