// Length units: names, conversion to millimetres, user-written lengths ("40mm", "1.5 in"),
// and scaling a model to another size.
#pragma once

#include <string>

#include "cad/cad_model.h"
#include "util/status.h"

namespace cadcrafter {

double millimetres_per_unit(LengthUnit unit);  // 1, 10, 1000, 25.4
const char* unit_symbol(LengthUnit unit);      // "mm", "cm", "m", "in"

// "mm", "cm", "m", "in" (also "inch", "inches", "millimetre(s)", ...; case-insensitive).
Result<LengthUnit> parse_length_unit(const std::string& text);

struct Length {
  double value = 0.0;
  LengthUnit unit = LengthUnit::kMillimetre;
  double millimetres() const { return value * millimetres_per_unit(unit); }
};

// A positive, finite number followed by a unit, with optional spaces: "40mm", "4 cm",
// "1.5in", "0.04m". A bare number, an unknown unit, zero, a negative value or trailing text
// is an error whose message names the text and shows the expected form.
Result<Length> parse_length(const std::string& text);

// "40 mm", "1.5 in": shortest round-tripping-enough form (%g).
std::string format_length(const Length& length);

// The model with every length multiplied by `factor` (> 0): plane origins, curve points and
// radii, extents, DeepCAD's sketch_pos/sketch_size and the bounding box; directions and
// angles are kept. The result's unit is `unit`.
CadModel scale_model(const CadModel& model, double factor, LengthUnit unit);

// The same model in `unit` (numbers converted, the shape's real size unchanged).
CadModel convert_model_unit(const CadModel& model, LengthUnit unit);

}  // namespace cadcrafter
