// Fuzzes the cad_json reader and everything downstream of it: any byte string must give a
// model or an Error, never a crash; a model must encode (or be rejected) and, when encoded,
// decode; and what we write must read back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "cad/listing.h"

using namespace cadcrafter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto model = parse_cad_json(text, "fuzz.json");
  if (!model.ok()) {
    if (model.error().message.rfind("fuzz.json", 0) != 0) std::abort();  // errors must name the file
    return 0;
  }
  (void)format_listing(*model);
  const auto vec = encode(*model);
  if (vec.ok()) {
    if (!validate_vec(*vec).ok()) std::abort();  // the encoder only produces valid vectors
    const auto decoded = decode(*vec);
    if (!decoded.ok()) std::abort();
  }
  const auto again = parse_cad_json(to_cad_json(*model), "again.json");
  if (!again.ok() || again->extrudes.size() != model->extrudes.size()) std::abort();
  return 0;
}
