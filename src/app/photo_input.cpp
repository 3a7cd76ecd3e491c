#include "app/photo_input.h"

#include <algorithm>
#include <cmath>

#include "util/atomic_file.h"

namespace cadcrafter::app {

namespace {

Result<InputPhoto> fail(const std::string& name, const std::string& problem) {
  return Result<InputPhoto>::fail(ErrorCode::kInvalidArgument, name + ": " + problem);
}

// Standard deviation of the luminance, on a subsample: a blank picture has (almost) none.
double luminance_spread(const Image8& rgb) {
  const int64_t n = static_cast<int64_t>(rgb.width) * rgb.height;
  const int64_t step = std::max<int64_t>(1, n / 200000);
  double sum = 0, sum2 = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < n; i += step) {
    const uint8_t* p = &rgb.pixels[static_cast<size_t>(i) * 3];
    const double y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    sum += y;
    sum2 += y * y;
    ++count;
  }
  const double mean = sum / static_cast<double>(count);
  return std::sqrt(std::max(0.0, sum2 / static_cast<double>(count) - mean * mean));
}

}  // namespace

Result<InputPhoto> decode_photo(const std::string& bytes, const std::string& name, const PhotoLimits& limits) {
  if (bytes.empty()) return fail(name, "empty file");
  if (static_cast<int64_t>(bytes.size()) > limits.max_file_bytes)
    return fail(name, "file too large (" + std::to_string(bytes.size() >> 20) + " MiB; the limit is " +
                          std::to_string(limits.max_file_bytes >> 20) + " MiB)");
  auto header = probe_image(bytes, name);
  if (!header) {
    const std::string& m = header.error().message;
    return fail(name, m.substr(m.find("not a PNG") == std::string::npos ? 0 : m.find("not a PNG")));
  }
  const int width = header->width, height = header->height;
  if (header->sixteen_bit)
    return fail(name, "16-bit image: photos must be 8-bit (16-bit PNGs are depth maps; use --inputs depth-normal for those)");
  if (width < limits.min_side || height < limits.min_side)
    return fail(name, "image too small (" + std::to_string(width) + "x" + std::to_string(height) + "; at least " +
                          std::to_string(limits.min_side) + " pixels a side)");
  if (width > limits.max_side || height > limits.max_side ||
      static_cast<int64_t>(width) * height > limits.max_pixels)
    return fail(name, "image too large (" + std::to_string(width) + "x" + std::to_string(height) + "; at most " +
                          std::to_string(limits.max_side) + " pixels a side and " +
                          std::to_string(limits.max_pixels / 1000000) + " megapixels)");
  auto decoded = decode_image8(bytes, 0, name);
  if (!decoded) return fail(name, "cannot decode the image (" + decoded.error().message + ")");
  InputPhoto photo;
  photo.name = name;
  photo.file_channels = decoded->channels;
  photo.rgb.width = decoded->width;
  photo.rgb.height = decoded->height;
  photo.rgb.channels = 3;
  const size_t n = static_cast<size_t>(decoded->width) * decoded->height;
  photo.rgb.pixels.resize(n * 3);
  const int c = decoded->channels;
  const bool grey = c <= 2, alpha = c == 2 || c == 4;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* src = &decoded->pixels[i * c];
    const float a = alpha ? src[c - 1] / 255.0f : 1.0f;
    for (int k = 0; k < 3; ++k) {
      const float v = grey ? src[0] : src[k];
      photo.rgb.pixels[i * 3 + k] = static_cast<uint8_t>(std::lround(v * a + 255.0f * (1.0f - a)));
    }
  }
  if (grey) photo.notes.push_back("grey image converted to RGB");
  if (alpha) photo.notes.push_back("alpha channel composited over white");
  if (luminance_spread(photo.rgb) < 1.0)
    return fail(name, "blank image (a single flat colour): there is no object to reconstruct");
  return photo;
}

Result<InputPhoto> load_photo(const std::string& path, const PhotoLimits& limits) {
  auto bytes = read_file(path);
  if (!bytes) return Result<InputPhoto>::fail(ErrorCode::kIo, bytes.error().message);
  return decode_photo(*bytes, path, limits);
}

FrameBox whole_image_box(int width, int height) {
  const float side = static_cast<float>(std::max(width, height));
  return {(static_cast<float>(width) - side) / 2.0f, (static_cast<float>(height) - side) / 2.0f, side};
}

bool frame_from_mask(const std::vector<float>& mask, int size, const FrameBox& within, float margin, float threshold,
                     FrameBox* out) {
  int x_min = size, y_min = size, x_max = -1, y_max = -1;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      if (mask[static_cast<size_t>(y) * size + x] >= threshold) {
        x_min = std::min(x_min, x);
        x_max = std::max(x_max, x);
        y_min = std::min(y_min, y);
        y_max = std::max(y_max, y);
      }
  if (x_max < 0) return false;
  const float scale = within.side / static_cast<float>(size);
  const float w = static_cast<float>(x_max - x_min + 1) * scale, h = static_cast<float>(y_max - y_min + 1) * scale;
  const float cx = within.x0 + static_cast<float>(x_min) * scale + w / 2.0f;
  const float cy = within.y0 + static_cast<float>(y_min) * scale + h / 2.0f;
  const float side = std::max(w, h) * (1.0f + 2.0f * margin);
  *out = {cx - side / 2.0f, cy - side / 2.0f, side};
  return true;
}

namespace {

// Averages factor x factor blocks (the last partial block averages what it has).
Image8 box_reduce(const Image8& image, int factor) {
  Image8 out;
  out.width = (image.width + factor - 1) / factor;
  out.height = (image.height + factor - 1) / factor;
  out.channels = image.channels;
  out.pixels.assign(static_cast<size_t>(out.width) * out.height * out.channels, 0);
  std::vector<uint32_t> sums(static_cast<size_t>(out.width) * out.channels);
  std::vector<uint32_t> counts(static_cast<size_t>(out.width));
  for (int oy = 0; oy < out.height; ++oy) {
    std::fill(sums.begin(), sums.end(), 0u);
    std::fill(counts.begin(), counts.end(), 0u);
    for (int y = oy * factor; y < std::min(image.height, (oy + 1) * factor); ++y)
      for (int x = 0; x < image.width; ++x) {
        const int ox = x / factor;
        ++counts[static_cast<size_t>(ox)];
        for (int c = 0; c < image.channels; ++c)
          sums[static_cast<size_t>(ox) * out.channels + c] +=
              image.pixels[(static_cast<size_t>(y) * image.width + x) * image.channels + c];
      }
    for (int ox = 0; ox < out.width; ++ox)
      for (int c = 0; c < out.channels; ++c)
        out.pixels[(static_cast<size_t>(oy) * out.width + ox) * out.channels + c] = static_cast<uint8_t>(
            (sums[static_cast<size_t>(ox) * out.channels + c] + counts[static_cast<size_t>(ox)] / 2) /
            std::max(1u, counts[static_cast<size_t>(ox)]));
  }
  return out;
}

}  // namespace

Image8 crop_resize(const Image8& image, const FrameBox& box, int size) {
  const int factor = static_cast<int>(std::floor(box.side / static_cast<float>(2 * size)));
  if (factor >= 2) {
    FrameBox reduced{box.x0 / factor, box.y0 / factor, box.side / factor};
    return crop_resize(box_reduce(image, factor), reduced, size);
  }
  Image8 out;
  out.width = out.height = size;
  out.channels = image.channels;
  out.pixels.resize(static_cast<size_t>(size) * size * image.channels);
  const float step = box.side / static_cast<float>(size);
  auto at = [&](int x, int y, int c) -> float {
    x = std::clamp(x, 0, image.width - 1);
    y = std::clamp(y, 0, image.height - 1);
    return image.pixels[(static_cast<size_t>(y) * image.width + x) * image.channels + c];
  };
  for (int v = 0; v < size; ++v) {
    // Source pixel coordinates of the output pixel centre (pixel i has its centre at i + 0.5).
    const float sy = box.y0 + (static_cast<float>(v) + 0.5f) * step - 0.5f;
    const int y0 = static_cast<int>(std::floor(sy));
    const float fy = sy - static_cast<float>(y0);
    for (int u = 0; u < size; ++u) {
      const float sx = box.x0 + (static_cast<float>(u) + 0.5f) * step - 0.5f;
      const int x0 = static_cast<int>(std::floor(sx));
      const float fx = sx - static_cast<float>(x0);
      for (int c = 0; c < image.channels; ++c) {
        const float top = at(x0, y0, c) * (1 - fx) + at(x0 + 1, y0, c) * fx;
        const float bottom = at(x0, y0 + 1, c) * (1 - fx) + at(x0 + 1, y0 + 1, c) * fx;
        out.pixels[(static_cast<size_t>(v) * size + u) * image.channels + c] =
            static_cast<uint8_t>(std::clamp(std::lround(top * (1 - fy) + bottom * fy), 0L, 255L));
      }
    }
  }
  return out;
}

}  // namespace cadcrafter::app
