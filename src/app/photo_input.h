// Input photos for reconstruct: reading and checking them, and framing (crop + resize).
//
// Accepted: 8-bit PNG or JPEG, RGB, grey (converted to RGB) or with alpha (composited over
// white: a cut-out photo then looks like a part on a plain backdrop). Refused with a message
// that names the file: missing/empty files, anything stb cannot decode, 16-bit PNGs (those are
// depth maps - use --inputs depth-normal), images over the size limits, images smaller than
// 16 pixels a side, and blank images (one flat colour: there is no object to see).
#pragma once

#include <string>
#include <vector>

#include "util/status.h"
#include "render/image_io.h"

namespace cadcrafter::app {

struct PhotoLimits {
  int64_t max_file_bytes = 64LL << 20;
  int64_t max_pixels = 50'000'000;
  int max_side = 12000;
  int min_side = 16;
};

struct InputPhoto {
  std::string name;                // the path or upload name, for messages
  Image8 rgb;                      // 3 channels, the file's size
  int file_channels = 0;           // 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
  std::vector<std::string> notes;  // conversions applied ("grey converted to RGB", ...)
};

Result<InputPhoto> load_photo(const std::string& path, const PhotoLimits& limits = {});
Result<InputPhoto> decode_photo(const std::string& bytes, const std::string& name, const PhotoLimits& limits = {});

// A square window of an image in pixel units (may extend past the borders).
struct FrameBox {
  float x0 = 0, y0 = 0, side = 0;
};

// The whole image, letterboxed into a square.
FrameBox whole_image_box(int width, int height);

// The bounding box of mask >= threshold (mask is size x size, in the coordinates of `within`,
// i.e. pixel (u, v) of the mask covers `within`'s window), grown by `margin` of its larger side
// per side and squared: the framing the estimator was trained on. Ok=false when the mask is
// empty.
bool frame_from_mask(const std::vector<float>& mask, int size, const FrameBox& within, float margin, float threshold,
                     FrameBox* out);

// Crops `image` to `box` and resizes to size x size (bilinear, border pixels replicated past
// the edges; large reductions are box-filtered first so small outputs do not alias).
Image8 crop_resize(const Image8& image, const FrameBox& box, int size);

}  // namespace cadcrafter::app
