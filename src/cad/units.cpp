#include "cad/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace cadcrafter {

double millimetres_per_unit(LengthUnit unit) {
  switch (unit) {
    case LengthUnit::kMillimetre: return 1.0;
    case LengthUnit::kCentimetre: return 10.0;
    case LengthUnit::kMetre: return 1000.0;
    case LengthUnit::kInch: return 25.4;
  }
  return 1.0;
}

const char* unit_symbol(LengthUnit unit) {
  switch (unit) {
    case LengthUnit::kMillimetre: return "mm";
    case LengthUnit::kCentimetre: return "cm";
    case LengthUnit::kMetre: return "m";
    case LengthUnit::kInch: return "in";
  }
  return "mm";
}

Result<LengthUnit> parse_length_unit(const std::string& text) {
  std::string t;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "mm" || t == "millimetre" || t == "millimetres" || t == "millimeter" || t == "millimeters")
    return LengthUnit::kMillimetre;
  if (t == "cm" || t == "centimetre" || t == "centimetres" || t == "centimeter" || t == "centimeters")
    return LengthUnit::kCentimetre;
  if (t == "m" || t == "metre" || t == "metres" || t == "meter" || t == "meters") return LengthUnit::kMetre;
  if (t == "in" || t == "inch" || t == "inches" || t == "\"") return LengthUnit::kInch;
  return Result<LengthUnit>::fail(ErrorCode::kInvalidArgument,
                                  "unknown length unit '" + text + "' (use mm, cm, m or in)");
}

Result<Length> parse_length(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Result<Length>::fail(ErrorCode::kInvalidArgument,
                                "'" + text + "' is not a length: " + why + " (write e.g. 40mm, 4cm or 1.5in)");
  };
  const char* begin = text.c_str();
  while (std::isspace(static_cast<unsigned char>(*begin))) ++begin;
  if (*begin == '\0') return bad("it is empty");
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  if (end == begin) return bad("it does not start with a number");
  const std::string rest(end);
  if (rest.find_first_not_of(" \t") == std::string::npos) return bad("it has no unit");
  auto unit = parse_length_unit(rest);
  if (!unit) return bad("unknown unit '" + rest.substr(rest.find_first_not_of(" \t")) + "'");
  if (!std::isfinite(value)) return bad("the number is not finite");
  if (!(value > 0)) return bad("it must be greater than zero");
  return Length{value, *unit};
}

std::string format_length(const Length& length) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g %s", length.value, unit_symbol(length.unit));
  return buf;
}

namespace {

Vec2 scaled(Vec2 v, double f) { return {v.x * f, v.y * f}; }
Vec3 scaled(Vec3 v, double f) { return {v.x * f, v.y * f, v.z * f}; }

}  // namespace

CadModel scale_model(const CadModel& model, double factor, LengthUnit unit) {
  CadModel out = model;
  out.unit = unit;
  out.bbox.min = scaled(model.bbox.min, factor);
  out.bbox.max = scaled(model.bbox.max, factor);
  for (Extrude& e : out.extrudes) {
    e.plane.origin = scaled(e.plane.origin, factor);
    e.extent_one *= factor;
    e.extent_two *= factor;
    e.sketch_pos = scaled(e.sketch_pos, factor);
    e.sketch_size *= factor;
    for (Loop& loop : e.profile.loops)
      for (Curve& c : loop.curves) {
        c.start = scaled(c.start, factor);
        c.end = scaled(c.end, factor);
        c.mid = scaled(c.mid, factor);
        c.center = scaled(c.center, factor);
        c.radius *= factor;
      }
  }
  return out;
}

CadModel convert_model_unit(const CadModel& model, LengthUnit unit) {
  if (unit == model.unit) return model;
  return scale_model(model, millimetres_per_unit(model.unit) / millimetres_per_unit(unit), unit);
}

}  // namespace cadcrafter
