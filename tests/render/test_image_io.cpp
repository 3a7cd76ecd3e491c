// PNG writer (ours, on zlib) against stb_image's reader; error messages on bad files.
#include <gtest/gtest.h>

#include <fstream>

#include "render/image_io.h"
#include "render/random.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

TEST(ImageIo, Png16RoundTripIsExact) {
  testing::TempDir dir;
  Rng rng(1);
  for (int channels : {1, 3}) {
    Image16 im{37, 23, channels, {}};
    for (int i = 0; i < im.width * im.height * channels; ++i) {
      // Smooth ramps (exercise the predictors) mixed with noise and the extremes.
      im.pixels.push_back(static_cast<uint16_t>(i % 5 == 0 ? rng.index(65536) : (i * 977) % 65536));
    }
    im.pixels[0] = 0;
    im.pixels[1] = 65535;
    const std::string path = dir / ("d" + std::to_string(channels) + ".png");
    ASSERT_TRUE(write_png(path, im).ok());
    auto back = read_image16(path);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->width, 37);
    EXPECT_EQ(back->height, 23);
    EXPECT_EQ(back->channels, channels);
    EXPECT_EQ(back->pixels, im.pixels);
  }
}

TEST(ImageIo, Png8RoundTripIsExact) {
  testing::TempDir dir;
  Rng rng(2);
  for (int channels : {1, 2, 3, 4}) {
    Image8 im{64, 9, channels, {}};
    for (int i = 0; i < 64 * 9 * channels; ++i) im.pixels.push_back(static_cast<uint8_t>(rng.index(256)));
    const std::string path = dir / "x.png";
    ASSERT_TRUE(write_png(path, im).ok());
    auto back = read_image8(path);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->channels, channels);
    EXPECT_EQ(back->pixels, im.pixels);
  }
}

TEST(ImageIo, JpegRoundTripIsCloseOnSmoothImages) {
  Image8 im{64, 64, 3, {}};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) im.pixels.push_back(static_cast<uint8_t>(2 * x + y + 40 * c));
  auto back = jpeg_round_trip(im, 90);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->pixels.size(), im.pixels.size());
  double err = 0;
  for (size_t i = 0; i < im.pixels.size(); ++i) err += std::abs(im.pixels[i] - back->pixels[i]);
  EXPECT_LT(err / im.pixels.size(), 2.0);
  EXPECT_FALSE(jpeg_round_trip(im, 0).ok());
}

TEST(ImageIo, BadFilesGiveMessagesNamingTheFile) {
  testing::TempDir dir;
  auto missing = read_image8(dir / "nope.png");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nope.png"), std::string::npos);
  const std::string junk = dir / "junk.png";
  std::ofstream(junk) << "this is not an image";
  auto bad = read_image16(junk);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kParse);
  EXPECT_NE(bad.error().message.find("junk.png"), std::string::npos);
  // Inconsistent image: refused, and no file is left behind.
  Image8 wrong{4, 4, 3, std::vector<uint8_t>(5)};
  EXPECT_FALSE(write_png(dir / "wrong.png", wrong).ok());
  EXPECT_FALSE(std::ifstream(dir / "wrong.png").good());
}

}  // namespace
}  // namespace cadcrafter

namespace cadcrafter {
namespace {

TEST(ImageIo, ProbeReadsTheHeaderOnly) {
  Image16 deep{5, 3, 1, std::vector<uint16_t>(15, 40000)};
  auto png16 = encode_png(deep);
  ASSERT_TRUE(png16.ok());
  auto h = probe_image(*png16);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->width, 5);
  EXPECT_EQ(h->height, 3);
  EXPECT_EQ(h->channels, 1);
  EXPECT_TRUE(h->sixteen_bit);
  Image8 rgb{16, 8, 3, std::vector<uint8_t>(16 * 8 * 3, 100)};
  auto jpeg = encode_jpeg(rgb, 90);
  ASSERT_TRUE(jpeg.ok());
  h = probe_image(*jpeg);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->width, 16);
  EXPECT_EQ(h->channels, 3);
  EXPECT_FALSE(h->sixteen_bit);
  // A truncated header and random bytes are refused, naming the input.
  auto bad = probe_image(png16->substr(0, 10), "cut.png");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("cut.png"), std::string::npos);
  EXPECT_FALSE(probe_image("").ok());
}

}  // namespace
}  // namespace cadcrafter
