// Reading ../shared/data/golden (DeepCAD's own encodings of the F360 and DeepCAD JSON files)
// and comparing our encoder/decoder with it. Shared by test_golden.cpp (a subset in the
// default suite) and slow_golden.cpp (every id).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cad/cad_json.h"
#include "cad/cad_vec.h"
#include "cad/deepcad_sketch.h"
#include "test_support.h"

namespace cadcrafter::testing {

struct GoldenVec {
  std::string id, source;
  bool rejected = false;
  std::string reason;  // for rejections
  CadVec vec;
};

inline std::string golden_dir() { return shared_data_dir() + "/golden"; }

inline std::string golden_json_path(const GoldenVec& g) {
  return shared_data_dir() + "/" + (g.source == "deepcad" ? "deepcad" : "f360") + "/json/" + g.id + ".json";
}

inline CadVec vec_from_json(const nlohmann::json& rows) {
  CadVec vec;
  for (const auto& r : rows) {
    CadVecRow row{};
    for (int c = 0; c < kVecColumns; ++c) row[c] = r.at(c).get<int>();
    vec.push_back(row);
  }
  return vec;
}

inline std::vector<GoldenVec> load_golden_vecs() {
  std::vector<GoldenVec> out;
  std::ifstream in(golden_dir() + "/vec.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    GoldenVec g;
    g.id = j.at("id");
    g.source = j.at("source");
    if (j.contains("rejected")) {
      g.rejected = true;
      g.reason = j.at("rejected");
    } else {
      g.vec = vec_from_json(j.at("vec"));
    }
    out.push_back(std::move(g));
  }
  return out;
}

// The category a golden rejection reason starts with ("MAX_N_EXT", "exception AssertionError").
inline std::string rejection_category(const std::string& reason) {
  if (reason.rfind("exception ", 0) == 0) {
    const size_t end = reason.find_first_of(" :", 10);
    return reason.substr(0, end);
  }
  return reason.substr(0, reason.find(':'));
}

// Encodes one golden id; returns "" on a match, else a description of the difference.
inline std::string check_golden_encoding(const GoldenVec& g) {
  const auto model = read_cad_json(golden_json_path(g));
  if (!model.ok()) return g.id + ": read failed: " + model.error().message;
  const auto vec = encode(*model);
  if (g.rejected) {
    if (vec.ok()) return g.id + ": DeepCAD rejects (" + g.reason + ") but we encoded it";
    if (vec.error().code != ErrorCode::kRejected) return g.id + ": wrong error code: " + vec.error().message;
    const std::string want = rejection_category(g.reason), got = rejection_category(vec.error().message);
    if (want != got) return g.id + ": rejection category " + got + " != golden " + want;
    return "";
  }
  if (!vec.ok()) return g.id + ": rejected: " + vec.error().message + " but DeepCAD encodes it";
  if (vec->size() != g.vec.size())
    return g.id + ": " + std::to_string(vec->size()) + " rows, golden " + std::to_string(g.vec.size());
  for (size_t r = 0; r < g.vec.size(); ++r) {
    for (int c = 0; c < kVecColumns; ++c) {
      if ((*vec)[r][c] != g.vec[r][c])
        return g.id + ": row " + std::to_string(r) + " col " + column_name(c) + ": " + std::to_string((*vec)[r][c]) +
               " != golden " + std::to_string(g.vec[r][c]);
    }
  }
  return "";
}

// ---- decoded.jsonl ------------------------------------------------------------------------

inline std::string near_vec(const nlohmann::json& want, const std::vector<double>& got, double tol,
                            const std::string& what) {
  if (want.size() != got.size()) return what + ": size differs";
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = want.at(i).get<double>();
    if (!(std::fabs(w - got[i]) <= tol))
      return what + "[" + std::to_string(i) + "]: " + std::to_string(got[i]) + " != golden " + std::to_string(w);
  }
  return "";
}

inline std::vector<double> v2(Vec2 v) { return {v.x, v.y}; }
inline std::vector<double> v3(Vec3 v) { return {v.x, v.y, v.z}; }
inline Vec3 to_3d(const SketchPlane& p, Vec2 q) {
  return {p.origin.x + q.x * p.x_axis.x + q.y * p.y_axis.x, p.origin.y + q.x * p.x_axis.y + q.y * p.y_axis.y,
          p.origin.z + q.x * p.x_axis.z + q.y * p.y_axis.z};
}

// Compares decode(vec) with one line of decoded.jsonl: counts, types and integer fields
// exactly, floats within `tol`. Returns "" on a match.
inline std::string check_golden_decoding(const nlohmann::json& golden, const CadVec& vec, double tol = 1e-6) {
  const std::string id = golden.at("id");
  const auto model = decode(vec);
  if (!model.ok()) return id + ": decode failed: " + model.error().message;
  const auto& gext = golden.at("extrudes");
  if (gext.size() != model->extrudes.size()) return id + ": extrude count differs";
  for (size_t i = 0; i < gext.size(); ++i) {
    const auto& ge = gext[i];
    const Extrude& e = model->extrudes[i];
    const std::string where = id + " extrude " + std::to_string(i);
    std::string d;
    const auto& gp = ge.at("plane");
    // theta, phi, gamma are not part of CadModel: check the dequantisation of the Ext row.
    size_t ext_row = 0;
    for (size_t r = 0, seen = 0; r < vec.size(); ++r)
      if (vec[r][kColCmd] == kCmdExt && seen++ == i) ext_row = r;
    for (const auto& [name, col] : {std::pair<const char*, int>{"theta", kColTheta}, {"phi", kColPhi}, {"gamma", kColGamma}}) {
      const double angle = (vec[ext_row][col] / 256.0 * 2 - 1) * M_PI;
      if (!(std::fabs(gp.at(name).get<double>() - angle) <= tol)) return where + ": plane " + name + " differs";
    }
    if (!(d = near_vec(gp.at("origin"), v3(e.plane.origin), tol, where + " origin")).empty()) return d;
    if (!(d = near_vec(gp.at("x_axis"), v3(e.plane.x_axis), tol, where + " x_axis")).empty()) return d;
    if (!(d = near_vec(gp.at("y_axis"), v3(e.plane.y_axis), tol, where + " y_axis")).empty()) return d;
    if (!(d = near_vec(gp.at("normal"), v3(e.plane.normal), tol, where + " normal")).empty()) return d;
    if (!(d = near_vec(ge.at("sketch_pos"), v3(e.sketch_pos), tol, where + " sketch_pos")).empty()) return d;
    if (!(d = near_vec(nlohmann::json::array({ge.at("sketch_size"), ge.at("extent_one"), ge.at("extent_two")}),
                       {e.sketch_size, e.extent_one, e.extent_two}, tol, where + " size/extents"))
             .empty())
      return d;
    if (ge.at("operation").get<int>() != static_cast<int>(e.operation)) return where + ": operation differs";
    if (ge.at("extent_type").get<int>() != static_cast<int>(e.extent_type)) return where + ": extent_type differs";
    const auto& gloops = ge.at("loops");
    if (gloops.size() != e.profile.loops.size()) return where + ": loop count differs";
    for (size_t k = 0; k < gloops.size(); ++k) {
      const auto& gcurves = gloops[k].at("curves");
      const auto& curves = e.profile.loops[k].curves;
      if (gcurves.size() != curves.size()) return where + " loop " + std::to_string(k) + ": curve count differs";
      for (size_t m = 0; m < curves.size(); ++m) {
        const auto& gc = gcurves[m];
        const Curve& c = curves[m];
        const std::string cw = where + " loop " + std::to_string(k) + " curve " + std::to_string(m);
        const std::string type = gc.at("type");
        static const char* const names[] = {"Line", "Arc", "Circle"};
        if (type != names[static_cast<int>(c.type)]) return cw + ": type " + names[static_cast<int>(c.type)] + " != " + type;
        if (gc.at("row").get<int>() != c.vec_row) return cw + ": row differs";
        if (c.type == CurveType::kCircle) {
          if (!(d = near_vec(gc.at("center"), v2(c.center), tol, cw + " center")).empty()) return d;
          if (!(d = near_vec(nlohmann::json::array({gc.at("radius")}), {c.radius}, tol, cw + " radius")).empty()) return d;
          if (!(d = near_vec(gc.at("start"), v2(deepcad::start_point(c)), tol, cw + " start")).empty()) return d;
          if (!(d = near_vec(gc.at("center_3d"), v3(to_3d(e.plane, c.center)), tol, cw + " center_3d")).empty()) return d;
          if (!(d = near_vec(gc.at("axis_3d"), v3(e.plane.normal), tol, cw + " axis_3d")).empty()) return d;
          if (!(d = near_vec(nlohmann::json::array({gc.at("radius_3d")}), {c.radius}, tol, cw + " radius_3d")).empty())
            return d;
          continue;
        }
        if (gc.at("reversed").get<bool>() != c.reversed) return cw + ": reversed flag differs";
        if (!(d = near_vec(gc.at("start"), v2(c.start), tol, cw + " start")).empty()) return d;
        if (!(d = near_vec(gc.at("end"), v2(c.end), tol, cw + " end")).empty()) return d;
        if (!(d = near_vec(gc.at("start_3d"), v3(to_3d(e.plane, c.start)), tol, cw + " start_3d")).empty()) return d;
        if (!(d = near_vec(gc.at("end_3d"), v3(to_3d(e.plane, c.end)), tol, cw + " end_3d")).empty()) return d;
        if (c.type == CurveType::kLine) {
          // The builder drops zero-length lines; an Arc row whose ends coincide decodes as one.
          if (gc.at("skipped_in_3d").get<bool>() != deepcad::allclose(c.start, c.end)) return cw + ": skipped_in_3d differs";
          const bool from_arc = vec.at(static_cast<size_t>(c.vec_row))[kColCmd] == kCmdArc;
          if (gc.value("from_degenerate_arc", false) != from_arc) return cw + ": from_degenerate_arc differs";
        }
        if (c.type == CurveType::kArc) {
          if (!(d = near_vec(gc.at("mid"), v2(c.mid), tol, cw + " mid")).empty()) return d;
          if (!(d = near_vec(gc.at("mid_3d"), v3(to_3d(e.plane, c.mid)), tol, cw + " mid_3d")).empty()) return d;
          if (!(d = near_vec(gc.at("center_3d"), v3(to_3d(e.plane, c.center)), tol, cw + " center_3d")).empty()) return d;
          if (!(d = near_vec(nlohmann::json::array({gc.at("start_angle"), gc.at("sweep_angle")}), {c.start_angle, c.end_angle},
                             tol, cw + " start/sweep angle"))
                   .empty())
            return d;
          if (!(d = near_vec(gc.at("center"), v2(c.center), tol, cw + " center")).empty()) return d;
          if (!(d = near_vec(gc.at("ref_vec"), v2(c.ref_vec), tol, cw + " ref_vec")).empty()) return d;
          if (!(d = near_vec(nlohmann::json::array({gc.at("radius"), gc.at("end_angle")}), {c.radius, c.end_angle}, tol,
                             cw + " radius/sweep"))
                   .empty())
            return d;
          const double cross = (c.mid.x - c.start.x) * (c.end.y - c.start.y) - (c.mid.y - c.start.y) * (c.end.x - c.start.x);
          if (gc.at("clock_sign").get<int>() != (cross >= 0 ? 1 : 0)) return cw + ": clock_sign differs";
        }
      }
    }
  }
  return "";
}

}  // namespace cadcrafter::testing
