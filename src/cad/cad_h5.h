// DeepCAD's cad_vec .h5 files: one dataset "vec", int64 little-endian, shape (L, 17),
// contiguous and uncompressed, as json2vec.py writes it with h5py.
#pragma once

#include <string>

#include "cad/cad_vec.h"
#include "util/status.h"

namespace cadcrafter {

// Reads dataset "vec". Errors name the file: missing (kIo), not HDF5 / truncated / no "vec" /
// wrong rank, width or type / a value outside the int range (kParse).
Result<CadVec> read_cad_vec_h5(const std::string& path);

// Writes dataset "vec" atomically (no partial file on failure).
Status write_cad_vec_h5(const std::string& path, const CadVec& vec);

}  // namespace cadcrafter
