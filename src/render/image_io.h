// Image files: PNG writing (8- and 16-bit, grey or RGB) with our own encoder on top of zlib,
// because stb_image_write only writes 8-bit PNG and depth needs 16 bits; PNG/JPEG reading
// (8- and 16-bit) and in-memory JPEG compression through stb_image / stb_image_write.
// Pixels are interleaved, row-major, top row first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace cadcrafter {

struct Image8 {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // width * height * channels
};

struct Image16 {
  int width = 0, height = 0, channels = 0;
  std::vector<uint16_t> pixels;
};

// PNG bytes. channels: 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA).
Result<std::string> encode_png(const Image8& image);
Result<std::string> encode_png(const Image16& image);

// Atomic file writes (no partial file on failure).
Status write_png(const std::string& path, const Image8& image);
Status write_png(const std::string& path, const Image16& image);

// Reads a PNG or JPEG file. `channels` = 0 keeps the file's channel count, 1..4 converts.
// read_image16 keeps 16-bit PNG samples exactly; 8-bit files are scaled by 257.
Result<Image8> read_image8(const std::string& path, int channels = 0);
Result<Image16> read_image16(const std::string& path, int channels = 0);
Result<Image8> decode_image8(const std::string& bytes, int channels = 0, const std::string& name = "<memory>");

// What a PNG or JPEG's header says, without decoding the pixels (cheap checks of untrusted
// files before allocating for them). Fails with stb's reason for anything else.
struct ImageHeader {
  int width = 0, height = 0, channels = 0;
  bool sixteen_bit = false;
};
Result<ImageHeader> probe_image(const std::string& bytes, const std::string& name = "<memory>");

// JPEG at `quality` (1..100) and back, as a camera or a web upload would do to a photo.
Result<std::string> encode_jpeg(const Image8& image, int quality);
Result<Image8> jpeg_round_trip(const Image8& image, int quality);

}  // namespace cadcrafter
