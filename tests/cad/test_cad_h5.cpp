// .h5 I/O against the 218 golden files written by DeepCAD's json2vec (h5py), plus bad files.
#include <hdf5.h>

#include <cstdint>
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

// Writes a dataset with the HDF5 C API directly, to make files our writer never would.
void write_raw_dataset(const std::string& path, const char* name, hid_t file_type, hid_t mem_type, int rows, int cols,
                       const void* data) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  const hid_t dset = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(dset);
  H5Sclose(space);
  H5Fclose(file);
}

TEST(CadH5, WrongShapesTypesAndValuesAreReported) {
  TempDir tmp;
  std::vector<int64_t> ints(2 * 17, -1);
  auto error_of = [](const std::string& path) {
    const auto r = read_cad_vec_h5(path);
    return r.ok() ? std::string("(read fine)") : r.error().message;
  };

  write_raw_dataset(tmp / "name.h5", "cad_vec", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, 17, ints.data());
  EXPECT_NE(error_of(tmp / "name.h5").find("no dataset \"vec\""), std::string::npos) << error_of(tmp / "name.h5");

  write_raw_dataset(tmp / "width.h5", "vec", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, 16, ints.data());
  EXPECT_NE(error_of(tmp / "width.h5").find("16 columns, expected 17"), std::string::npos);

  std::vector<double> floats(2 * 17, 0.5);
  write_raw_dataset(tmp / "float.h5", "vec", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, 17, floats.data());
  EXPECT_NE(error_of(tmp / "float.h5").find("not an integer dataset"), std::string::npos);

  ints[5] = int64_t{1} << 40;
  write_raw_dataset(tmp / "huge.h5", "vec", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, 17, ints.data());
  EXPECT_NE(error_of(tmp / "huge.h5").find("value 1099511627776 at row 0 does not fit an int"), std::string::npos)
      << error_of(tmp / "huge.h5");

  // Out-of-range quantised values read fine (they are valid int64) and are caught by the
  // decoder, which names the row.
  CadVec vec = {sol_row(), eos_row(), eos_row()};
  vec[1] = {0, 300, 128, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  ASSERT_TRUE(write_cad_vec_h5(tmp / "range.h5", vec).ok());
  const auto back = read_cad_vec_h5(tmp / "range.h5");
  ASSERT_TRUE(back.ok());
  const auto model = decode(*back);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("row 1 (Line): x=300 outside [0, 255]"), std::string::npos) << model.error().message;
  EXPECT_FALSE(validate_vec(*back).ok());
}

}  // namespace
}  // namespace cadcrafter::testing
