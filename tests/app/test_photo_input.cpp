// Input photo checks (every refusal names the file and the problem) and framing.
#include <gtest/gtest.h>

#include <cmath>

#include "app/photo_input.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace cadcrafter::app {
namespace {

using cadcrafter::testing::TempDir;

// A grey-ish square on a white background, with some texture.
Image8 test_photo(int w, int h, int channels = 3) {
  Image8 im{w, h, channels, std::vector<uint8_t>(static_cast<size_t>(w) * h * channels, 255)};
  for (int y = h / 4; y < 3 * h / 4; ++y)
    for (int x = w / 3; x < 2 * w / 3; ++x)
      for (int c = 0; c < channels; ++c)
        im.pixels[(static_cast<size_t>(y) * w + x) * channels + c] = static_cast<uint8_t>(60 + (x * 7 + y * 3 + c * 20) % 60);
  return im;
}

std::string error_of(const Result<InputPhoto>& r) { return r.ok() ? std::string("(ok)") : r.error().message; }

TEST(PhotoInput, AcceptsRgbPngAndJpeg) {
  TempDir tmp;
  ASSERT_TRUE(write_png(tmp / "a.png", test_photo(80, 60)));
  auto jpeg = encode_jpeg(test_photo(80, 60), 90);
  ASSERT_TRUE(jpeg.ok());
  ASSERT_TRUE(write_file_atomically(tmp / "b.jpg", *jpeg));
  for (const char* name : {"a.png", "b.jpg"}) {
    auto p = load_photo(tmp / name);
    ASSERT_TRUE(p.ok()) << error_of(p);
    EXPECT_EQ(p->rgb.width, 80);
    EXPECT_EQ(p->rgb.height, 60);
    EXPECT_EQ(p->rgb.channels, 3);
    EXPECT_TRUE(p->notes.empty());
  }
}

TEST(PhotoInput, RefusesMissingEmptyAndNonImages) {
  TempDir tmp;
  auto missing = load_photo(tmp / "nope.png");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nope.png"), std::string::npos);

  ASSERT_TRUE(write_file_atomically(tmp / "empty.png", ""));
  auto empty = load_photo(tmp / "empty.png");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("empty.png: empty file"), std::string::npos) << empty.error().message;

  ASSERT_TRUE(write_file_atomically(tmp / "text.jpg", "this is not a picture\n"));
  auto text = load_photo(tmp / "text.jpg");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("not a PNG or JPEG"), std::string::npos) << text.error().message;

  // A truncated PNG: the header promises pixels that are not there.
  auto png = encode_png(test_photo(64, 64));
  ASSERT_TRUE(png.ok());
  ASSERT_TRUE(write_file_atomically(tmp / "cut.png", png->substr(0, 60)));
  EXPECT_FALSE(load_photo(tmp / "cut.png").ok());
}

TEST(PhotoInput, Refuses16BitWithAHint) {
  TempDir tmp;
  Image16 depth{32, 32, 1, std::vector<uint16_t>(32 * 32, 0)};
  for (size_t i = 0; i < depth.pixels.size(); ++i) depth.pixels[i] = static_cast<uint16_t>(i * 37);
  ASSERT_TRUE(write_png(tmp / "depth.png", depth));
  auto r = load_photo(tmp / "depth.png");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("16-bit"), std::string::npos);
  EXPECT_NE(r.error().message.find("depth-normal"), std::string::npos);
}

TEST(PhotoInput, RefusesTooLargeAndTooSmall) {
  TempDir tmp;
  ASSERT_TRUE(write_png(tmp / "a.png", test_photo(100, 100)));
  PhotoLimits small_limits;
  small_limits.max_pixels = 5000;
  auto big = load_photo(tmp / "a.png", small_limits);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("too large"), std::string::npos);

  // A header claiming 30000 x 30000 is refused before any pixel is decoded.
  auto png = encode_png(test_photo(16, 16));
  ASSERT_TRUE(png.ok());
  std::string huge = *png;
  const unsigned char side[4] = {0x00, 0x00, 0x75, 0x30};  // 30000, big-endian (IHDR width/height)
  for (int i = 0; i < 4; ++i) huge[16 + i] = huge[20 + i] = static_cast<char>(side[i]);
  auto r = decode_photo(huge, "huge.png");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("huge.png"), std::string::npos);

  ASSERT_TRUE(write_png(tmp / "tiny.png", test_photo(8, 8)));
  auto tiny = load_photo(tmp / "tiny.png");
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.error().message.find("too small"), std::string::npos);
}

TEST(PhotoInput, GreyAndAlphaAreConverted) {
  TempDir tmp;
  ASSERT_TRUE(write_png(tmp / "grey.png", test_photo(40, 40, 1)));
  auto grey = load_photo(tmp / "grey.png");
  ASSERT_TRUE(grey.ok()) << error_of(grey);
  EXPECT_EQ(grey->rgb.channels, 3);
  EXPECT_EQ(grey->file_channels, 1);
  const size_t centre = (20 * 40 + 20) * 3;
  EXPECT_EQ(grey->rgb.pixels[centre], grey->rgb.pixels[centre + 1]);
  ASSERT_EQ(grey->notes.size(), 1u);

  Image8 rgba = test_photo(40, 40, 4);
  for (size_t i = 0; i < 40 * 40; ++i) rgba.pixels[i * 4 + 3] = i < 40 * 20 ? 0 : 255;  // top half transparent
  rgba.pixels[(30 * 40 + 20) * 4 + 0] = 10;
  ASSERT_TRUE(write_png(tmp / "cut.png", rgba));
  auto cut = load_photo(tmp / "cut.png");
  ASSERT_TRUE(cut.ok()) << error_of(cut);
  EXPECT_EQ(cut->rgb.pixels[(10 * 40 + 20) * 3], 255);  // transparent -> white
  EXPECT_EQ(cut->rgb.pixels[(30 * 40 + 20) * 3], 10);   // opaque kept
}

TEST(PhotoInput, RefusesBlankImages) {
  TempDir tmp;
  Image8 blank{64, 64, 3, std::vector<uint8_t>(64 * 64 * 3, 200)};
  ASSERT_TRUE(write_png(tmp / "blank.png", blank));
  auto r = load_photo(tmp / "blank.png");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("blank"), std::string::npos);
}

TEST(Framing, WholeImageBoxIsCentredSquare) {
  const FrameBox b = whole_image_box(200, 100);
  EXPECT_FLOAT_EQ(b.side, 200);
  EXPECT_FLOAT_EQ(b.x0, 0);
  EXPECT_FLOAT_EQ(b.y0, -50);
}

TEST(Framing, MaskBoxAddsMarginAroundObject) {
  std::vector<float> mask(100 * 100, 0.0f);
  for (int y = 40; y < 60; ++y)
    for (int x = 20; x < 60; ++x) mask[static_cast<size_t>(y) * 100 + x] = 1.0f;
  FrameBox box;
  ASSERT_TRUE(frame_from_mask(mask, 100, FrameBox{0, 0, 200}, 0.25f, 0.5f, &box));  // mask covers a 200 px window
  EXPECT_FLOAT_EQ(box.side, 40 * 2 * 1.5f);
  EXPECT_FLOAT_EQ(box.x0 + box.side / 2, (20 + 20) * 2.0f);  // object centre x = 40 mask px = 80 window px
  EXPECT_FLOAT_EQ(box.y0 + box.side / 2, 50 * 2.0f);
  std::vector<float> empty(100 * 100, 0.0f);
  EXPECT_FALSE(frame_from_mask(empty, 100, FrameBox{0, 0, 100}, 0.1f, 0.5f, &box));
}

TEST(Framing, CropResizeSamplesTheBox) {
  // Left half black, right half white: the crop of the right half is all white, the identity
  // crop is unchanged, and a 4x reduction keeps the edge in the middle.
  Image8 im{64, 64, 3, std::vector<uint8_t>(64 * 64 * 3, 0)};
  for (int y = 0; y < 64; ++y)
    for (int x = 32; x < 64; ++x)
      for (int c = 0; c < 3; ++c) im.pixels[(static_cast<size_t>(y) * 64 + x) * 3 + c] = 255;
  const Image8 same = crop_resize(im, FrameBox{0, 0, 64}, 64);
  EXPECT_EQ(same.pixels, im.pixels);
  const Image8 right = crop_resize(im, FrameBox{32, 16, 32}, 16);
  for (uint8_t v : right.pixels) EXPECT_EQ(v, 255);
  const Image8 small = crop_resize(im, FrameBox{0, 0, 64}, 16);
  EXPECT_EQ(small.pixels[(8 * 16 + 2) * 3], 0);
  EXPECT_EQ(small.pixels[(8 * 16 + 13) * 3], 255);
  // Past the border the edge pixels are replicated.
  const Image8 outside = crop_resize(im, FrameBox{48, 0, 64}, 8);
  EXPECT_EQ(outside.pixels[(4 * 8 + 7) * 3], 255);
}

}  // namespace
}  // namespace cadcrafter::app
