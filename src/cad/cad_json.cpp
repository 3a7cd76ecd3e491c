#include "cad/cad_json.h"
#include "cad/units.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cad/deepcad_sketch.h"
#include "util/atomic_file.h"

namespace cadcrafter {
namespace {

using nlohmann::json;

const char* const kOperationNames[] = {"NewBodyFeatureOperation", "JoinFeatureOperation", "CutFeatureOperation",
                                       "IntersectFeatureOperation"};
const char* const kExtentTypeNames[] = {"OneSideFeatureExtentType", "SymmetricFeatureExtentType",
                                        "TwoSidesFeatureExtentType"};

// Thrown inside the reader and turned into an Error at the API boundary; `where` is the JSON
// path of the offending value so the message points at it.
struct ReadError : std::runtime_error {
  ReadError(ErrorCode c, const std::string& where, const std::string& what)
      : std::runtime_error(where + ": " + what), code(c) {}
  ErrorCode code;
};

const char* type_name(const json& j) { return j.type_name(); }

const json& member(const json& obj, const std::string& key, const std::string& where) {
  if (!obj.is_object()) throw ReadError(ErrorCode::kParse, where, std::string("expected an object, found ") + type_name(obj));
  const auto it = obj.find(key);
  if (it == obj.end()) throw ReadError(ErrorCode::kParse, where, "missing key \"" + key + "\"");
  return *it;
}

double number(const json& obj, const std::string& key, const std::string& where) {
  const json& v = member(obj, key, where);
  if (!v.is_number())
    throw ReadError(ErrorCode::kParse, where + "." + key, std::string("expected a number, found ") + type_name(v));
  const double d = v.get<double>();
  if (!std::isfinite(d)) throw ReadError(ErrorCode::kParse, where + "." + key, "not a finite number");
  return d;
}

std::string string_member(const json& obj, const std::string& key, const std::string& where) {
  const json& v = member(obj, key, where);
  if (!v.is_string())
    throw ReadError(ErrorCode::kParse, where + "." + key, std::string("expected a string, found ") + type_name(v));
  return v.get<std::string>();
}

const json& array_member(const json& obj, const std::string& key, const std::string& where) {
  const json& v = member(obj, key, where);
  if (!v.is_array())
    throw ReadError(ErrorCode::kParse, where + "." + key, std::string("expected an array, found ") + type_name(v));
  return v;
}

Vec2 point2(const json& obj, const std::string& key, const std::string& where) {
  const json& p = member(obj, key, where);
  return {number(p, "x", where + "." + key), number(p, "y", where + "." + key)};
}

Vec3 point3(const json& obj, const std::string& key, const std::string& where) {
  const json& p = member(obj, key, where);
  const std::string w = where + "." + key;
  return {number(p, "x", w), number(p, "y", w), number(p, "z", w)};
}

Curve read_curve(const json& stat, const std::string& where) {
  const std::string type = string_member(stat, "type", where);
  Curve c;
  if (type == "Line3D") {
    c.type = CurveType::kLine;
    c.start = point2(stat, "start_point", where);
    c.end = point2(stat, "end_point", where);
  } else if (type == "Circle3D") {
    c.type = CurveType::kCircle;
    c.center = point2(stat, "center_point", where);
    c.radius = number(stat, "radius", where);
  } else if (type == "Arc3D") {
    c.type = CurveType::kArc;
    c.start = point2(stat, "start_point", where);
    c.end = point2(stat, "end_point", where);
    c.center = point2(stat, "center_point", where);
    c.radius = number(stat, "radius", where);
    c.start_angle = number(stat, "start_angle", where);
    c.end_angle = number(stat, "end_angle", where);
    c.ref_vec = point2(stat, "reference_vector", where);
    c.mid = deepcad::arc_mid_point(c);
  } else {
    throw ReadError(ErrorCode::kUnsupported, where + ".type",
                    "unsupported curve type \"" + type + "\" (DeepCAD knows Line3D, Arc3D, Circle3D)");
  }
  return c;
}

Profile read_profile(const json& stat, const std::string& where) {
  const json& loops = array_member(stat, "loops", where);
  if (loops.empty()) throw ReadError(ErrorCode::kUnsupported, where + ".loops", "profile has no loops");
  Profile profile;
  for (size_t i = 0; i < loops.size(); ++i) {
    const std::string lw = where + ".loops[" + std::to_string(i) + "]";
    const json& curves = array_member(loops[i], "profile_curves", lw);
    if (curves.empty()) throw ReadError(ErrorCode::kUnsupported, lw + ".profile_curves", "loop has no curves");
    Loop loop;
    for (size_t k = 0; k < curves.size(); ++k)
      loop.curves.push_back(read_curve(curves[k], lw + ".profile_curves[" + std::to_string(k) + "]"));
    deepcad::reorder_loop(loop);
    profile.loops.push_back(std::move(loop));
  }
  deepcad::reorder_profile(profile);
  return profile;
}

SketchPlane read_plane(const json& transform, const std::string& where) {
  SketchPlane plane;
  plane.origin = point3(transform, "origin", where);
  plane.x_axis = point3(transform, "x_axis", where);
  plane.y_axis = point3(transform, "y_axis", where);
  plane.normal = point3(transform, "z_axis", where);
  return plane;
}

template <size_t N>
int index_of(const char* const (&names)[N], const std::string& value) {
  for (size_t i = 0; i < N; ++i)
    if (value == names[i]) return static_cast<int>(i);
  return -1;
}

void read_extrude_feature(const json& entities, const std::string& id, CadModel& model) {
  const std::string where = "entities." + id;
  const json& entity = member(entities, id, "entities");
  const std::string start_type = string_member(member(entity, "start_extent", where), "type", where + ".start_extent");
  if (start_type != "ProfilePlaneStartDefinition")
    throw ReadError(ErrorCode::kUnsupported, where + ".start_extent.type",
                    "\"" + start_type + "\" is not supported (DeepCAD needs ProfilePlaneStartDefinition)");

  const std::string op_name = string_member(entity, "operation", where);
  const int op = index_of(kOperationNames, op_name);
  if (op < 0) throw ReadError(ErrorCode::kParse, where + ".operation", "unknown operation \"" + op_name + "\"");
  const std::string extent_name = string_member(entity, "extent_type", where);
  const int extent = index_of(kExtentTypeNames, extent_name);
  if (extent < 0) throw ReadError(ErrorCode::kParse, where + ".extent_type", "unknown extent type \"" + extent_name + "\"");
  const json& e1 = member(member(entity, "extent_one", where), "distance", where + ".extent_one");
  const double extent_one = number(e1, "value", where + ".extent_one.distance");
  double extent_two = 0.0;
  if (extent == static_cast<int>(ExtentType::kTwoSides)) {
    const json& e2 = member(member(entity, "extent_two", where), "distance", where + ".extent_two");
    extent_two = number(e2, "value", where + ".extent_two.distance");
  }

  const json& profiles = array_member(entity, "profiles", where);
  for (size_t i = 0; i < profiles.size(); ++i) {
    const std::string pw = where + ".profiles[" + std::to_string(i) + "]";
    const std::string sketch_id = string_member(profiles[i], "sketch", pw);
    const std::string profile_id = string_member(profiles[i], "profile", pw);
    const json& sketch = member(entities, sketch_id, "entities");
    const std::string sw = "entities." + sketch_id;
    const json& sketch_profiles = member(sketch, "profiles", sw);
    Extrude ext;
    ext.profile = read_profile(member(sketch_profiles, profile_id, sw + ".profiles"), sw + ".profiles." + profile_id);
    ext.plane = read_plane(member(sketch, "transform", sw), sw + ".transform");
    // A NewBody feature with several profiles: DeepCAD keeps NewBody for the first only.
    ext.operation = static_cast<Operation>(op == 0 && i > 0 ? 1 : op);
    ext.extent_type = static_cast<ExtentType>(extent);
    ext.extent_one = extent_one;
    ext.extent_two = extent_two;
    model.extrudes.push_back(std::move(ext));
  }
}

CadModel read_model(const json& root) {
  if (!root.is_object()) throw ReadError(ErrorCode::kParse, "(root)", std::string("expected an object, found ") + type_name(root));
  CadModel model;
  const json& entities = member(root, "entities", "(root)");
  if (!entities.is_object()) throw ReadError(ErrorCode::kParse, "entities", "expected an object");
  const json& sequence = array_member(root, "sequence", "(root)");
  for (size_t i = 0; i < sequence.size(); ++i) {
    const std::string where = "sequence[" + std::to_string(i) + "]";
    if (string_member(sequence[i], "type", where) != "ExtrudeFeature") continue;
    read_extrude_feature(entities, string_member(sequence[i], "entity", where), model);
  }
  const json& box = member(member(root, "properties", "(root)"), "bounding_box", "properties");
  model.bbox.min = point3(box, "min_point", "properties.bounding_box");
  model.bbox.max = point3(box, "max_point", "properties.bounding_box");
  // Our own key (DeepCAD's reader ignores it); files without it are F360 data, in centimetres.
  model.unit = LengthUnit::kCentimetre;
  const json& properties = member(root, "properties", "(root)");
  if (properties.contains("length_unit")) {
    const json& u = properties["length_unit"];
    if (!u.is_string()) throw ReadError(ErrorCode::kParse, "properties.length_unit", "expected a string");
    auto unit = parse_length_unit(u.get<std::string>());
    if (!unit) throw ReadError(ErrorCode::kParse, "properties.length_unit", unit.error().message);
    model.unit = *unit;
  }
  return model;
}

json vec3_json(Vec3 v) { return json{{"x", v.x}, {"y", v.y}, {"z", v.z}}; }
json vec2_json(Vec2 v) { return json{{"x", v.x}, {"y", v.y}, {"z", 0.0}}; }

json curve_json(const Curve& c, Vec3 normal, int index) {
  json j;
  j["curve"] = "C" + std::to_string(index);
  switch (c.type) {
    case CurveType::kLine:
      j["type"] = "Line3D";
      j["start_point"] = vec2_json(c.start);
      j["end_point"] = vec2_json(c.end);
      break;
    case CurveType::kArc:
      j["type"] = "Arc3D";
      j["start_point"] = vec2_json(c.start);
      j["end_point"] = vec2_json(c.end);
      j["center_point"] = vec2_json(c.center);
      j["radius"] = c.radius;
      j["start_angle"] = c.start_angle;
      j["end_angle"] = c.end_angle;
      j["reference_vector"] = vec2_json(c.ref_vec);
      j["normal"] = vec3_json(normal);
      break;
    case CurveType::kCircle:
      j["type"] = "Circle3D";
      j["center_point"] = vec2_json(c.center);
      j["radius"] = c.radius;
      j["normal"] = vec3_json(normal);
      break;
  }
  return j;
}

json distance_json(double value, const char* role) {
  return json{{"type", "DistanceExtentDefinition"},
              {"distance", {{"type", "ModelParameter"}, {"role", role}, {"name", "none"}, {"value", value}}},
              {"taper_angle", {{"type", "ModelParameter"}, {"role", "TaperAngle"}, {"name", "none"}, {"value", 0.0}}}};
}

}  // namespace

const char* operation_name(Operation op) {
  const int i = static_cast<int>(op);
  return i >= 0 && i < 4 ? kOperationNames[i] : "?";
}

const char* extent_type_name(ExtentType type) {
  const int i = static_cast<int>(type);
  return i >= 0 && i < 3 ? kExtentTypeNames[i] : "?";
}

Result<CadModel> parse_cad_json(const std::string& text, const std::string& name) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    std::string msg = name + ": not valid JSON (" + e.what() + ")";
    if (text.find("NaN") != std::string::npos || text.find("Infinity") != std::string::npos)
      msg += "; NaN/Infinity are not allowed";
    return Result<CadModel>::fail(ErrorCode::kParse, msg);
  }
  try {
    CadModel model = read_model(root);
    model.id = std::filesystem::path(name).stem().string();
    return model;
  } catch (const ReadError& e) {
    return Result<CadModel>::fail(e.code, name + ": " + e.what());
  } catch (const std::exception& e) {  // e.g. nlohmann type errors we did not anticipate
    return Result<CadModel>::fail(ErrorCode::kParse, name + ": " + e.what());
  }
}

Result<CadModel> read_cad_json(const std::string& path) {
  auto text = read_file(path);
  if (!text.ok()) return text.error();
  return parse_cad_json(*text, path);
}

std::string to_cad_json(const CadModel& model) {
  json entities = json::object();
  json sequence = json::array();
  for (size_t i = 0; i < model.extrudes.size(); ++i) {
    const Extrude& ext = model.extrudes[i];
    const std::string sketch_id = "S" + std::to_string(i + 1), extrude_id = "E" + std::to_string(i + 1);
    json loops = json::array();
    int curve_index = 1;
    for (size_t k = 0; k < ext.profile.loops.size(); ++k) {
      json curves = json::array();
      for (const Curve& c : ext.profile.loops[k].curves) curves.push_back(curve_json(c, ext.plane.normal, curve_index++));
      loops.push_back(json{{"is_outer", k == 0}, {"profile_curves", std::move(curves)}});
    }
    entities[sketch_id] = json{
        {"name", "Sketch " + std::to_string(i + 1)},
        {"type", "Sketch"},
        {"transform",
         {{"origin", vec3_json(ext.plane.origin)},
          {"x_axis", vec3_json(ext.plane.x_axis)},
          {"y_axis", vec3_json(ext.plane.y_axis)},
          {"z_axis", vec3_json(ext.plane.normal)}}},
        {"profiles", {{"P1", {{"loops", std::move(loops)}, {"properties", json::object()}}}}},
        {"reference_plane", json::object()}};
    entities[extrude_id] = json{{"name", "Extrude " + std::to_string(i + 1)},
                                {"type", "ExtrudeFeature"},
                                {"profiles", json::array({json{{"profile", "P1"}, {"sketch", sketch_id}}})},
                                {"operation", operation_name(ext.operation)},
                                {"start_extent", {{"type", "ProfilePlaneStartDefinition"}}},
                                {"extent_type", extent_type_name(ext.extent_type)},
                                {"extent_one", distance_json(ext.extent_one, "AlongDistance")},
                                {"extent_two", distance_json(ext.extent_two, "AgainstDistance")}};
    sequence.push_back(json{{"index", 2 * i}, {"type", "Sketch"}, {"entity", sketch_id}});
    sequence.push_back(json{{"index", 2 * i + 1}, {"type", "ExtrudeFeature"}, {"entity", extrude_id}});
  }
  json root{{"entities", std::move(entities)},
            {"properties",
             {{"bounding_box",
               {{"type", "BoundingBox3D"}, {"max_point", vec3_json(model.bbox.max)}, {"min_point", vec3_json(model.bbox.min)}}},
              {"length_unit", unit_symbol(model.unit)}}},
            {"sequence", std::move(sequence)}};
  return root.dump();
}

Status write_cad_json(const CadModel& model, const std::string& path) {
  return write_file_atomically(path, to_cad_json(model));
}

}  // namespace cadcrafter
