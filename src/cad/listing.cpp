#include "cad/listing.h"

#include <cstdio>
#include <sstream>

#include "cad/cad_json.h"

namespace cadcrafter {
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
std::string pt(Vec2 p) { return "(" + num(p.x) + ", " + num(p.y) + ")"; }
std::string pt(Vec3 p) { return "(" + num(p.x) + ", " + num(p.y) + ", " + num(p.z) + ")"; }

const char* curve_type_name(CurveType t) {
  switch (t) {
    case CurveType::kLine: return "Line";
    case CurveType::kArc: return "Arc";
    case CurveType::kCircle: return "Circle";
  }
  return "?";
}

std::string curve_text(const Curve& c) {
  std::string s = curve_type_name(c.type);
  s.resize(7, ' ');
  switch (c.type) {
    case CurveType::kLine:
      s += pt(c.start) + " -> " + pt(c.end);
      break;
    case CurveType::kArc:
      s += pt(c.start) + " -> " + pt(c.mid) + " -> " + pt(c.end) + "  centre " + pt(c.center) + " r " + num(c.radius);
      break;
    case CurveType::kCircle:
      s += "centre " + pt(c.center) + " r " + num(c.radius);
      break;
  }
  if (c.vec_row >= 0) s += "  [row " + std::to_string(c.vec_row) + "]";
  if (c.reversed) s += "  (reversed)";
  return s;
}

nlohmann::json j2(Vec2 p) { return {p.x, p.y}; }
nlohmann::json j3(Vec3 p) { return {p.x, p.y, p.z}; }

}  // namespace

std::string format_listing(const CadModel& model) {
  std::ostringstream os;
  os << "model " << (model.id.empty() ? "(unnamed)" : model.id) << ": " << model.extrudes.size() << " extrude"
     << (model.extrudes.size() == 1 ? "" : "s") << ", bbox " << pt(model.bbox.min) << " - " << pt(model.bbox.max) << "\n";
  for (size_t i = 0; i < model.extrudes.size(); ++i) {
    const Extrude& e = model.extrudes[i];
    os << "extrude " << i << ": " << operation_name(e.operation) << ", " << extent_type_name(e.extent_type)
       << ", extent_one " << num(e.extent_one);
    if (e.extent_type == ExtentType::kTwoSides) os << ", extent_two " << num(e.extent_two);
    os << "\n";
    os << "  plane origin " << pt(e.plane.origin) << " x " << pt(e.plane.x_axis) << " y " << pt(e.plane.y_axis)
       << " normal " << pt(e.plane.normal) << "\n";
    if (e.sketch_size != 0) os << "  sketch_pos " << pt(e.sketch_pos) << " sketch_size " << num(e.sketch_size) << "\n";
    for (size_t k = 0; k < e.profile.loops.size(); ++k) {
      const Loop& loop = e.profile.loops[k];
      os << "  loop " << k << (k == 0 ? " (outer)" : " (hole)") << ": " << loop.curves.size() << " curve"
         << (loop.curves.size() == 1 ? "" : "s") << "\n";
      for (size_t c = 0; c < loop.curves.size(); ++c) os << "    " << c << " " << curve_text(loop.curves[c]) << "\n";
    }
  }
  return os.str();
}

std::string format_listing(const CadVec& vec) {
  std::ostringstream os;
  for (size_t r = 0; r < vec.size(); ++r) {
    const CadVecRow& row = vec[r];
    std::string name = command_name(row[kColCmd]);
    if (name == "?") name = "cmd=" + std::to_string(row[kColCmd]);
    char head[32];
    std::snprintf(head, sizeof head, "%3zu %-7s", r, name.c_str());
    os << head;
    for (int col = 1; col < kVecColumns; ++col) {
      if (command_uses_column(row[kColCmd], col) || row[col] != kPadValue) os << " " << column_name(col) << "=" << row[col];
    }
    os << "\n";
  }
  return os.str();
}

std::string format_vec_rows(const CadVec& vec) {
  std::ostringstream os;
  for (const auto& row : vec) {
    for (int col = 0; col < kVecColumns; ++col) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%4d", row[col]);
      os << buf;
    }
    os << "\n";
  }
  return os.str();
}

nlohmann::json listing_json(const CadModel& model) {
  nlohmann::json extrudes = nlohmann::json::array();
  for (const Extrude& e : model.extrudes) {
    nlohmann::json loops = nlohmann::json::array();
    for (const Loop& loop : e.profile.loops) {
      nlohmann::json curves = nlohmann::json::array();
      for (const Curve& c : loop.curves) {
        nlohmann::json j{{"type", curve_type_name(c.type)}};
        if (c.type == CurveType::kCircle) {
          j["center"] = j2(c.center);
          j["radius"] = c.radius;
        } else {
          j["start"] = j2(c.start);
          j["end"] = j2(c.end);
        }
        if (c.type == CurveType::kArc) {
          j["mid"] = j2(c.mid);
          j["center"] = j2(c.center);
          j["radius"] = c.radius;
          j["start_angle"] = c.start_angle;
          j["end_angle"] = c.end_angle;
          j["ref_vec"] = j2(c.ref_vec);
        }
        if (c.vec_row >= 0) j["row"] = c.vec_row;
        j["reversed"] = c.reversed;
        curves.push_back(std::move(j));
      }
      loops.push_back({{"curves", std::move(curves)}});
    }
    extrudes.push_back({{"operation", operation_name(e.operation)},
                        {"extent_type", extent_type_name(e.extent_type)},
                        {"extent_one", e.extent_one},
                        {"extent_two", e.extent_two},
                        {"plane",
                         {{"origin", j3(e.plane.origin)},
                          {"x_axis", j3(e.plane.x_axis)},
                          {"y_axis", j3(e.plane.y_axis)},
                          {"normal", j3(e.plane.normal)}}},
                        {"sketch_pos", j3(e.sketch_pos)},
                        {"sketch_size", e.sketch_size},
                        {"loops", std::move(loops)}});
  }
  return {{"id", model.id},
          {"bbox", {{"min", j3(model.bbox.min)}, {"max", j3(model.bbox.max)}}},
          {"extrudes", std::move(extrudes)}};
}

nlohmann::json listing_json(const CadVec& vec) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : vec) {
    nlohmann::json r = nlohmann::json::array();
    for (int v : row) r.push_back(v);
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace cadcrafter
