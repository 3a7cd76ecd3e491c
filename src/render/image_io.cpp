#include "render/image_io.h"

#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <limits>

#include "util/atomic_file.h"

// The one translation unit of the project that compiles stb_image and stb_image_write.
// The symbols are exported: other stages include <stb/stb_image.h> for declarations only
// and link against these definitions (so never define the IMPLEMENTATION macros elsewhere).
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace cadcrafter {
namespace {

void put_u32(std::string* out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
  out->append(b, 4);
}

void put_chunk(std::string* out, const char type[4], const std::string& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t type_at = out->size();
  out->append(type, 4);
  out->append(data);
  const auto* crc_bytes = reinterpret_cast<const Bytef*>(out->data() + type_at);
  put_u32(out, static_cast<uint32_t>(crc32(0L, crc_bytes, static_cast<uInt>(4 + data.size()))));
}

int paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Filters each scanline with whichever of None/Sub/Up/Paeth gives the smallest sum of
// absolute (signed) residuals - the usual heuristic, worth ~2x on smooth depth images.
std::string filter_scanlines(const uint8_t* raw, int height, size_t row_bytes, int bpp) {
  std::string out;
  out.reserve(static_cast<size_t>(height) * (row_bytes + 1));
  std::vector<uint8_t> candidate[4];
  for (auto& c : candidate) c.resize(row_bytes);
  const std::vector<uint8_t> zero_row(row_bytes, 0);
  for (int y = 0; y < height; ++y) {
    const uint8_t* cur = raw + static_cast<size_t>(y) * row_bytes;
    const uint8_t* up = y > 0 ? cur - row_bytes : zero_row.data();
    long best_cost = -1;
    int best = 0;
    for (int f = 0; f < 4; ++f) {
      const int filter_type = f == 3 ? 4 : f;  // 0 None, 1 Sub, 2 Up, 4 Paeth
      long cost = 0;
      for (size_t i = 0; i < row_bytes; ++i) {
        const int a = i >= static_cast<size_t>(bpp) ? cur[i - bpp] : 0;
        const int b = up[i];
        const int c = i >= static_cast<size_t>(bpp) ? up[i - bpp] : 0;
        int predicted = 0;
        if (filter_type == 1) predicted = a;
        if (filter_type == 2) predicted = b;
        if (filter_type == 4) predicted = paeth(a, b, c);
        const uint8_t r = static_cast<uint8_t>(cur[i] - predicted);
        candidate[f][i] = r;
        cost += r < 128 ? r : 256 - r;
      }
      if (best_cost < 0 || cost < best_cost) {
        best_cost = cost;
        best = f;
      }
    }
    out.push_back(static_cast<char>(best == 3 ? 4 : best));
    out.append(reinterpret_cast<const char*>(candidate[best].data()), row_bytes);
  }
  return out;
}

Result<std::string> encode_png_bytes(const uint8_t* big_endian_samples, int width, int height, int channels,
                                     int bit_depth) {
  if (width <= 0 || height <= 0 || channels < 1 || channels > 4)
    return Result<std::string>::fail(ErrorCode::kInvalidArgument, "encode_png: bad image shape");
  static const uint8_t kColorType[5] = {0, 0, 4, 2, 6};  // by channel count
  const int bytes_per_sample = bit_depth / 8;
  const size_t row_bytes = static_cast<size_t>(width) * channels * bytes_per_sample;
  const std::string filtered =
      filter_scanlines(big_endian_samples, height, row_bytes, channels * bytes_per_sample);
  uLongf packed_size = compressBound(static_cast<uLong>(filtered.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                reinterpret_cast<const Bytef*>(filtered.data()), static_cast<uLong>(filtered.size()), 6) != Z_OK)
    return Result<std::string>::fail(ErrorCode::kInternal, "encode_png: zlib compression failed");
  packed.resize(packed_size);

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_u32(&ihdr, static_cast<uint32_t>(width));
  put_u32(&ihdr, static_cast<uint32_t>(height));
  ihdr.push_back(static_cast<char>(bit_depth));
  ihdr.push_back(static_cast<char>(kColorType[channels]));
  ihdr.append(3, '\0');  // deflate, adaptive filtering, no interlace
  put_chunk(&png, "IHDR", ihdr);
  put_chunk(&png, "IDAT", packed);
  put_chunk(&png, "IEND", std::string());
  return png;
}

template <typename ImageT>
Status check_shape(const ImageT& im) {
  if (im.width <= 0 || im.height <= 0 || im.channels < 1 || im.channels > 4 ||
      im.pixels.size() != static_cast<size_t>(im.width) * im.height * im.channels)
    return Status::fail(ErrorCode::kInvalidArgument, "image has inconsistent width/height/channels/pixels");
  return {};
}

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

}  // namespace

Result<ImageHeader> probe_image(const std::string& bytes, const std::string& name) {
  if (bytes.empty() || bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    return Result<ImageHeader>::fail(ErrorCode::kInvalidArgument, name + ": empty or oversized image data");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = static_cast<int>(bytes.size());
  ImageHeader h;
  if (!stbi_info_from_memory(data, length, &h.width, &h.height, &h.channels))
    return Result<ImageHeader>::fail(ErrorCode::kParse, name + ": not a PNG or JPEG image (" + stb_reason() + ")");
  h.sixteen_bit = stbi_is_16_bit_from_memory(data, length) != 0;
  return h;
}

Result<std::string> encode_png(const Image8& im) {
  if (Status s = check_shape(im); !s) return s.error();
  return encode_png_bytes(im.pixels.data(), im.width, im.height, im.channels, 8);
}

Result<std::string> encode_png(const Image16& im) {
  if (Status s = check_shape(im); !s) return s.error();
  std::vector<uint8_t> be(im.pixels.size() * 2);  // PNG stores 16-bit samples big-endian
  for (size_t i = 0; i < im.pixels.size(); ++i) {
    be[2 * i] = static_cast<uint8_t>(im.pixels[i] >> 8);
    be[2 * i + 1] = static_cast<uint8_t>(im.pixels[i] & 0xFF);
  }
  return encode_png_bytes(be.data(), im.width, im.height, im.channels, 16);
}

template <typename ImageT>
static Status write_png_impl(const std::string& path, const ImageT& im) {
  auto bytes = encode_png(im);
  if (!bytes) return Status::fail(bytes.error().code, path + ": " + bytes.error().message);
  return write_file_atomically(path, *bytes);
}

Status write_png(const std::string& path, const Image8& im) { return write_png_impl(path, im); }
Status write_png(const std::string& path, const Image16& im) { return write_png_impl(path, im); }

namespace {
// Copies the pixels stb decoded (8- or 16-bit samples) into our image type and frees stb's buffer.
template <typename Image, typename Sample>
Image take_stb_pixels(Sample* data, int w, int h, int channels) {
  Image im;
  im.width = w;
  im.height = h;
  im.channels = channels;
  im.pixels.assign(data, data + static_cast<size_t>(w) * h * channels);
  stbi_image_free(data);
  return im;
}
}  // namespace

Result<Image8> decode_image8(const std::string& bytes, int channels, const std::string& name) {
  if (channels < 0 || channels > 4) return Result<Image8>::fail(ErrorCode::kInvalidArgument, "channels must be 0..4");
  int w = 0, h = 0, n = 0;
  stbi_uc* data = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                                        static_cast<int>(bytes.size()), &w, &h, &n, channels);
  if (!data)
    return Result<Image8>::fail(ErrorCode::kParse, name + ": not a readable PNG/JPEG image (" + stb_reason() + ")");
  return take_stb_pixels<Image8>(data, w, h, channels ? channels : n);
}

Result<Image8> read_image8(const std::string& path, int channels) {
  auto bytes = read_file(path);
  if (!bytes) return bytes.error();
  return decode_image8(*bytes, channels, path);
}

Result<Image16> read_image16(const std::string& path, int channels) {
  if (channels < 0 || channels > 4) return Result<Image16>::fail(ErrorCode::kInvalidArgument, "channels must be 0..4");
  auto bytes = read_file(path);
  if (!bytes) return bytes.error();
  int w = 0, h = 0, n = 0;
  stbi_us* data = stbi_load_16_from_memory(reinterpret_cast<const stbi_uc*>(bytes->data()),
                                           static_cast<int>(bytes->size()), &w, &h, &n, channels);
  if (!data)
    return Result<Image16>::fail(ErrorCode::kParse, path + ": not a readable PNG/JPEG image (" + stb_reason() + ")");
  return take_stb_pixels<Image16>(data, w, h, channels ? channels : n);
}

Result<std::string> encode_jpeg(const Image8& im, int quality) {
  if (Status s = check_shape(im); !s) return s.error();
  if (quality < 1 || quality > 100)
    return Result<std::string>::fail(ErrorCode::kInvalidArgument, "JPEG quality must be in 1..100");
  std::string out;
  auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  if (!stbi_write_jpg_to_func(append, &out, im.width, im.height, im.channels, im.pixels.data(), quality))
    return Result<std::string>::fail(ErrorCode::kInternal, "JPEG encoding failed");
  return out;
}

Result<Image8> jpeg_round_trip(const Image8& im, int quality) {
  auto jpeg = encode_jpeg(im, quality);
  if (!jpeg) return jpeg.error();
  return decode_image8(*jpeg, im.channels, "<jpeg round trip>");
}

}  // namespace cadcrafter
