// Fuzzes the vector decoder, validator and listings: any 17-column integer array must decode
// to a model or an Error that names a row, never crash. Bytes map to values so that in-range
// vectors are common but out-of-range ones (negative, 256, huge) still occur.
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "cad/cad_vec.h"
#include "cad/listing.h"

using namespace cadcrafter;

namespace {

int value_of(uint8_t b, bool command_column) {
  if (command_column) return b % 8 == 7 ? -1 : b % 8;  // mostly real commands, some invalid
  switch (b) {
    case 250: return 256;
    case 251: return -300;
    case 252: return INT_MAX;
    case 253: return INT_MIN;
    case 254: return 255;
    case 255: return -1;
    default: return static_cast<int>(b) - 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CadVec vec(size / kVecColumns);
  for (size_t r = 0; r < vec.size(); ++r)
    for (int c = 0; c < kVecColumns; ++c) vec[r][c] = value_of(data[r * kVecColumns + c], c == 0);

  const Status valid = validate_vec(vec);
  (void)format_listing(vec);
  const auto model = decode(vec);
  if (!model.ok()) {
    if (model.error().message.rfind("cad_vec ", 0) != 0) std::abort();
    if (valid.ok()) std::abort();  // whatever validates must decode
    return 0;
  }
  if (model->extrudes.empty()) std::abort();
  for (const auto& e : model->extrudes)
    for (const auto& loop : e.profile.loops)
      for (const auto& c : loop.curves)
        if (!std::isfinite(c.start.x + c.start.y + c.end.x + c.end.y + c.center.x + c.center.y + c.mid.x + c.mid.y + c.radius))
          std::abort();
  (void)format_listing(*model);
  (void)encode(*model);  // may reject, must not crash
  return 0;
}
