#include "cad/cad_h5.h"

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <mutex>
#include <vector>

#include "util/atomic_file.h"

namespace cadcrafter {
namespace {

// Debian's libhdf5 is not built thread-safe: serialise every call into it.
std::mutex& hdf5_mutex() {
  static std::mutex mu;
  return mu;
}

// HDF5 prints an error stack to stderr on every failed call unless told not to; we report
// our own messages instead.
void silence_hdf5_errors() {
  static const bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

// Closes an HDF5 handle when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

}  // namespace

Result<CadVec> read_cad_vec_h5(const std::string& path) {
  auto fail = [&](ErrorCode code, const std::string& what) { return Result<CadVec>::fail(code, path + ": " + what); };
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return fail(ErrorCode::kIo, "no such file");

  std::lock_guard<std::mutex> lock(hdf5_mutex());
  silence_hdf5_errors();
  if (H5Fis_hdf5(path.c_str()) <= 0) return fail(ErrorCode::kParse, "not an HDF5 file (bad or missing signature)");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return fail(ErrorCode::kParse, "cannot open as HDF5 (truncated or corrupt)");
  if (H5Lexists(file.get(), "vec", H5P_DEFAULT) <= 0) return fail(ErrorCode::kParse, "no dataset \"vec\"");
  Handle dset(H5Dopen2(file.get(), "vec", H5P_DEFAULT), H5Dclose);
  if (!dset.ok()) return fail(ErrorCode::kParse, "\"vec\" is not a readable dataset");
  Handle type(H5Dget_type(dset.get()), H5Tclose);
  if (!type.ok() || H5Tget_class(type.get()) != H5T_INTEGER) return fail(ErrorCode::kParse, "\"vec\" is not an integer dataset");
  Handle space(H5Dget_space(dset.get()), H5Sclose);
  if (!space.ok() || H5Sget_simple_extent_ndims(space.get()) != 2) return fail(ErrorCode::kParse, "\"vec\" is not 2-dimensional");
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  if (dims[1] != static_cast<hsize_t>(kVecColumns))
    return fail(ErrorCode::kParse, "\"vec\" has " + std::to_string(dims[1]) + " columns, expected 17");
  if (dims[0] > 1000000) return fail(ErrorCode::kParse, "\"vec\" has an implausible " + std::to_string(dims[0]) + " rows");

  std::vector<int64_t> data(static_cast<size_t>(dims[0] * dims[1]));
  if (!data.empty() && H5Dread(dset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0)
    return fail(ErrorCode::kParse, "reading \"vec\" failed (truncated or corrupt data)");
  CadVec vec(static_cast<size_t>(dims[0]));
  for (size_t i = 0; i < data.size(); ++i) {
    const int64_t v = data[i];
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
      return fail(ErrorCode::kParse, "value " + std::to_string(v) + " at row " + std::to_string(i / kVecColumns) + " does not fit an int");
    vec[i / kVecColumns][i % kVecColumns] = static_cast<int>(v);
  }
  return vec;
}

Status write_cad_vec_h5(const std::string& path, const CadVec& vec) {
  return write_atomically(path, [&](const std::string& tmp) -> Status {
    auto fail = [&](const std::string& what) { return Status::fail(ErrorCode::kIo, path + ": " + what); };
    std::vector<int64_t> data;
    data.reserve(vec.size() * kVecColumns);
    for (const auto& row : vec)
      for (int v : row) data.push_back(v);

    std::lock_guard<std::mutex> lock(hdf5_mutex());
    silence_hdf5_errors();
    Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) return fail("cannot create HDF5 file");
    const hsize_t dims[2] = {vec.size(), static_cast<hsize_t>(kVecColumns)};
    Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
    // h5py creates datasets without a modification-time message (track_times=False);
    // doing the same makes the file byte-identical to json2vec's output.
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (!dcpl.ok() || H5Pset_obj_track_times(dcpl.get(), 0) < 0) return fail("cannot set up dataset properties");
    Handle dset(H5Dcreate2(file.get(), "vec", H5T_STD_I64LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
    if (!space.ok() || !dset.ok()) return fail("cannot create dataset \"vec\"");
    if (!data.empty() && H5Dwrite(dset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0)
      return fail("writing dataset \"vec\" failed");
    return Status();
  });
}

}  // namespace cadcrafter
