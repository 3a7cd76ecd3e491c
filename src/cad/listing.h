// Readable listings of a CAD model and of a DeepCAD vector, for `cadcrafter info`, logs and
// test failure messages; plus the same content as JSON for scripts.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cad/cad_model.h"
#include "cad/cad_vec.h"

namespace cadcrafter {

// One block per extrude: operation, extent, plane (origin and axes), then each loop and its
// curves in sketch-local coordinates.
std::string format_listing(const CadModel& model);

// One line per row with the command name and the arguments it uses, e.g.
// "  3 Arc     x=200 y=132 alpha=41 f=1"; unused columns are shown only when they are not -1.
std::string format_listing(const CadVec& vec);

// The raw quantised rows, 17 right-aligned integers per line.
std::string format_vec_rows(const CadVec& vec);

// Machine-readable forms of the above.
nlohmann::json listing_json(const CadModel& model);
nlohmann::json listing_json(const CadVec& vec);

}  // namespace cadcrafter
