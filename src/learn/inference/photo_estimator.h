// The estimator as the product layer uses it, without LibTorch in the interface: an 8-bit
// RGB image that is already framed (square, object centred) in, float maps out.
//
// Two kinds of model file are accepted:
// - our own weights (learn/networks/estimator.h: save_estimator), e.g. the shipped models/estimator.pt;
// - an external TorchScript module (torch::jit::save / torch.jit.save) mapping a float
//   [1, 3, S, S] sRGB image in [0, 1] to [1, 5, S, S]: relative depth, normal xyz (camera
//   frame, OpenCV axes, normalised here) and a mask logit - the same layout as ours. Its input
//   size is given by `torchscript_size` (default 128).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "util/status.h"
#include "render/image_io.h"

namespace cadcrafter::learn {

// Per-pixel maps of one framed view, row-major, size x size.
struct GeometryMaps {
  int size = 0;
  std::vector<float> depth;   // relative depth (defined up to scale and shift on the mask)
  std::vector<float> normal;  // size * size * 3, unit vectors in the camera frame
  std::vector<float> mask;    // foreground probability in [0, 1]
};

class PhotoEstimator {
 public:
  // Loads our weights or, failing that, a TorchScript module. `threads` = intra-op threads.
  static Result<PhotoEstimator> load(const std::string& path, int torchscript_size = 128);
  PhotoEstimator();
  ~PhotoEstimator();
  PhotoEstimator(PhotoEstimator&&) noexcept;
  PhotoEstimator& operator=(PhotoEstimator&&) noexcept;

  // The network's input size (the caller frames and resizes to it).
  int input_size() const;
  std::string kind() const;  // "cadcrafter-estimator" or "torchscript"
  // `image`: input_size() square, 3 channels. Deterministic.
  Result<GeometryMaps> estimate(const Image8& image) const;
  // Test-time mirror averaging (learn/networks/estimator.h average_with_mirror): the image and its
  // mirror, averaged; our network runs them as one batch of 2, a TorchScript module in two passes.
  // On by default (docs/reconstruct.md: it lowers the held-out errors of every style family).
  void set_mirror_average(bool on);
  bool mirror_average() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sets LibTorch's intra-op thread count (the product layer never includes LibTorch).
void set_torch_threads(int threads);

}  // namespace cadcrafter::learn
