// .h5 I/O against the 218 golden files written by DeepCAD's json2vec (h5py), plus bad files.
#include <filesystem>
#include <fstream>

#include "cad/cad_h5.h"
#include "cad/golden_support.h"
#include "util/atomic_file.h"

namespace cadcrafter::testing {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> golden_h5_files() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(golden_dir() + "/h5")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(CadH5, ReadsEveryGoldenFileEqualToVecJsonl) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  std::map<std::string, CadVec> golden;
  for (auto& g : load_golden_vecs())
    if (!g.rejected) golden[g.id] = std::move(g.vec);
  const auto files = golden_h5_files();
  ASSERT_EQ(files.size(), 218u);
  int equal = 0;
  for (const auto& f : files) {
    const auto vec = read_cad_vec_h5(f.string());
    ASSERT_TRUE(vec.ok()) << vec.error().message;
    const auto it = golden.find(f.stem().string());
    ASSERT_NE(it, golden.end()) << f;
    EXPECT_EQ(*vec, it->second) << f;
    equal += *vec == it->second;
  }
  EXPECT_EQ(equal, 218);
}

TEST(CadH5, WrittenFilesReReadEqualAndMatchH5pyBytes) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  TempDir tmp;
  int byte_identical = 0, total = 0;
  std::string first_difference;
  for (const auto& f : golden_h5_files()) {
    const auto vec = read_cad_vec_h5(f.string());
    ASSERT_TRUE(vec.ok());
    const std::string out = tmp / f.filename().string();
    ASSERT_TRUE(write_cad_vec_h5(out, *vec).ok());
    const auto again = read_cad_vec_h5(out);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(*again, *vec);
    const auto ours = read_file(out), theirs = read_file(f.string());
    ++total;
    if (*ours == *theirs) ++byte_identical;
    else if (first_difference.empty()) {
      size_t i = 0;
      while (i < ours->size() && i < theirs->size() && (*ours)[i] == (*theirs)[i]) ++i;
      first_difference = f.filename().string() + " differs at byte " + std::to_string(i) + " (sizes " +
                         std::to_string(ours->size()) + " vs " + std::to_string(theirs->size()) + ")";
    }
  }
  std::cout << "byte-identical to h5py: " << byte_identical << " / " << total << " " << first_difference << "\n";
  EXPECT_EQ(byte_identical, total) << first_difference;
}

TEST(CadH5, RoundTripsAnEmptyAndALongVector) {
  TempDir tmp;
  CadVec empty;
  ASSERT_TRUE(write_cad_vec_h5(tmp / "empty.h5", empty).ok());
  const auto back = read_cad_vec_h5(tmp / "empty.h5");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(back->empty());

  CadVec padded = pad_vec({sol_row(), eos_row()}, 60);
  padded[1] = {0, 255, 0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  ASSERT_TRUE(write_cad_vec_h5(tmp / "p.h5", padded).ok());
  const auto again = read_cad_vec_h5(tmp / "p.h5");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, padded);
}

// Bad files: every failure names the file and says what is wrong; nothing crashes.
TEST(CadH5, BadFilesGiveClearErrors) {
  TempDir tmp;
  auto expect_error = [&](const std::string& path, const std::string& needle) {
    const auto r = read_cad_vec_h5(path);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  expect_error(tmp / "missing.h5", "no such file");

  ASSERT_TRUE(write_file_atomically(tmp / "text.h5", "this is not hdf5").ok());
  expect_error(tmp / "text.h5", "not an HDF5 file");

  // A real file cut in half: the signature is there but the data is not.
  CadVec vec = pad_vec({sol_row(), eos_row()}, 60);
  ASSERT_TRUE(write_cad_vec_h5(tmp / "full.h5", vec).ok());
  const auto bytes = read_file(tmp / "full.h5");
  ASSERT_TRUE(bytes.ok());
  for (size_t cut : {bytes->size() / 2, size_t{900}, size_t{100}}) {
    ASSERT_TRUE(write_file_atomically(tmp / "cut.h5", bytes->substr(0, cut)).ok());
    const auto r = read_cad_vec_h5(tmp / "cut.h5");
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("cut.h5"), std::string::npos);
    }
  }

  // Flipped bytes in the object headers must not crash (either an error or some vector).
  for (size_t pos = 0; pos < bytes->size(); pos += 37) {
    std::string corrupt = *bytes;
    corrupt[pos] = static_cast<char>(corrupt[pos] ^ 0x5a);
    ASSERT_TRUE(write_file_atomically(tmp / "flip.h5", corrupt).ok());
    const auto r = read_cad_vec_h5(tmp / "flip.h5");
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("flip.h5"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace cadcrafter::testing
