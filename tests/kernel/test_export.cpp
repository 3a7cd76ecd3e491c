// Tessellation invariants and every export format read back: STEP volume, STL volume and
// triangle count, GLB through the Khronos validator, OBJ structure, and no partial files.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cad/units.h"
#include "geom/mesh_io.h"
#include "geom/mesh_measure.h"
#include "kernel/compile.h"
#include "kernel/export.h"
#include "kernel/model_builders.h"
#include "kernel/tessellate.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

using namespace cadcrafter::testing;
namespace fs = std::filesystem;

// A plate with a round hole and a slot cut, on a tilted plane: curved and planar faces,
// reversed faces from the cut.
Solid test_part() {
  Extrude plate = extrude(Profile{{rect(0, 0, 4, 3), Loop{{circle(1, 1.5, 0.5)}}}}, 1.0);
  Extrude slot_cut = extrude(Profile{{slot(2.8, 1.5, 0.4, 0.3)}}, 2.0, Operation::kCut, ExtentType::kSymmetric);
  const double s = std::sqrt(0.5);
  plate.plane = slot_cut.plane = plane({1, 2, 3}, {s, 0, s}, {0, 1, 0}, {-s, 0, s});
  auto solid = compile_model(model_of({plate, slot_cut}));
  EXPECT_TRUE(solid.ok()) << (solid.ok() ? "" : solid.error().message);
  return solid.ok() ? *solid : Solid();
}

TEST(Tessellate, ClosedOutwardMeshMatchesBrep) {
  const Solid part = test_part();
  const ShapeProperties p = shape_properties(part);
  const Mesh mesh = tessellate(part);
  ASSERT_FALSE(mesh.empty());
  ASSERT_EQ(mesh.normals.size(), mesh.vertices.size());
  // Counter-clockwise from outside => positive signed volume close to the exact one.
  EXPECT_NEAR(mesh_volume(mesh), p.volume, 2e-3 * p.volume);
  EXPECT_NEAR(mesh_area(mesh), p.area, 2e-3 * p.area);
  // Vertex normals agree with the winding of the triangles that use them.
  int disagree = 0;
  for (const auto& t : mesh.triangles) {
    const auto &a = mesh.vertices[t[0]], &b = mesh.vertices[t[1]], &c = mesh.vertices[t[2]];
    const double nx = (b[1] - a[1]) * (c[2] - a[2]) - (b[2] - a[2]) * (c[1] - a[1]);
    const double ny = (b[2] - a[2]) * (c[0] - a[0]) - (b[0] - a[0]) * (c[2] - a[2]);
    const double nz = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    const auto& vn = mesh.normals[t[0]];
    if (nx * vn[0] + ny * vn[1] + nz * vn[2] < 0) ++disagree;
  }
  EXPECT_EQ(disagree, 0);
  // A finer deflection gives more triangles and a closer area.
  MeshOptions fine;
  fine.linear_deflection = 1e-4;
  fine.angular_deflection = 0.1;
  const Mesh fine_mesh = tessellate(part, fine);
  EXPECT_GT(fine_mesh.triangles.size(), mesh.triangles.size());
  EXPECT_LE(std::abs(mesh_area(fine_mesh) - p.area), std::abs(mesh_area(mesh) - p.area) + 1e-9);
  EXPECT_TRUE(tessellate(Solid()).empty());
}

TEST(Export, StepRoundTripKeepsVolume) {
  TempDir dir;
  const Solid part = test_part();
  const double volume = shape_properties(part).volume;
  for (StepSchema schema : {StepSchema::kAP214, StepSchema::kAP242}) {
    const std::string path = dir / "part.step";
    StepOptions opt;
    opt.schema = schema;
    opt.model_name = "bracket_A";
    ASSERT_TRUE(export_step(part, path, opt).ok());
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_NE(text.str().find("bracket_A"), std::string::npos) << "product name missing";
    EXPECT_NE(text.str().find(schema == StepSchema::kAP242 ? "AP242" : "AUTOMOTIVE_DESIGN"), std::string::npos);
    auto back = import_step(path);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_NEAR(shape_properties(*back).volume, volume, 1e-6 * volume);
  }
}

TEST(Export, StlIsClosedWithSaneVolume) {
  TempDir dir;
  const Solid part = test_part();
  const double volume = shape_properties(part).volume;
  ASSERT_TRUE(export_stl(part, dir / "part.stl").ok());
  auto mesh = read_stl(dir / "part.stl");
  ASSERT_TRUE(mesh.ok()) << mesh.error().message;
  EXPECT_EQ(mesh->triangles.size(), tessellate(part).triangles.size());
  EXPECT_GT(mesh->triangles.size(), 50u);
  EXPECT_NEAR(mesh_volume(*mesh), volume, 2e-3 * volume);
}

TEST(Export, ObjHasVerticesNormalsFaces) {
  TempDir dir;
  const Solid part = test_part();
  ASSERT_TRUE(export_obj(part, dir / "part.obj").ok());
  const Mesh mesh = tessellate(part);
  std::ifstream in(dir / "part.obj");
  size_t v = 0, vn = 0, f = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("v ", 0) == 0) ++v;
    if (line.rfind("vn ", 0) == 0) ++vn;
    if (line.rfind("f ", 0) == 0) ++f;
  }
  EXPECT_EQ(v, mesh.vertices.size());
  EXPECT_EQ(vn, mesh.vertices.size());
  EXPECT_EQ(f, mesh.triangles.size());
}

TEST(Export, GlbPassesKhronosValidator) {
  TempDir dir;
  const std::string glb = dir / "part.glb";
  ASSERT_TRUE(export_glb(test_part(), glb).ok());
  std::ifstream in(glb, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  ASSERT_EQ(std::string(magic, 4), "glTF");
  const std::string script = source_dir() + "/tests/node/validate_glb.js";
  if (!fs::exists(source_dir() + "/tests/node/node_modules/gltf-validator") || std::system("node --version >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "node or the gltf-validator module is missing (scripts/setup.sh installs them)";
  const std::string report = dir / "report.json";
  const int rc = std::system(("node '" + script + "' '" + glb + "' > '" + report + "' 2>&1").c_str());
  std::ifstream rep(report);
  std::stringstream text;
  text << rep.rdbuf();
  EXPECT_EQ(rc, 0) << text.str();
  EXPECT_NE(text.str().find("\"errors\":0"), std::string::npos) << text.str();
}

// A 4 x 3 x 1 block (plus a hole, so not every number is round) in `unit`.
Solid block_in(LengthUnit unit) {
  CadModel m = model_of({extrude(Profile{{rect(0, 0, 4, 3), Loop{{circle(1, 1.5, 0.5)}}}}, 1.0)});
  m.unit = unit;
  auto solid = compile_model(m);
  EXPECT_TRUE(solid.ok()) << (solid.ok() ? "" : solid.error().message);
  EXPECT_EQ(solid.ok() ? solid->unit() : LengthUnit::kMillimetre, unit);
  return solid.ok() ? *solid : Solid();
}

// Box side lengths, sorted.
std::array<double, 3> sorted_sides(const BoundingBox& b) {
  std::array<double, 3> s{b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z};
  std::sort(s.begin(), s.end());
  return s;
}

BoundingBox mesh_box(const Mesh& mesh) {
  BoundingBox b{{1e30, 1e30, 1e30}, {-1e30, -1e30, -1e30}};
  for (const auto& v : mesh.vertices) {
    b.min = {std::min<double>(b.min.x, v[0]), std::min<double>(b.min.y, v[1]), std::min<double>(b.min.z, v[2])};
    b.max = {std::max<double>(b.max.x, v[0]), std::max<double>(b.max.y, v[1]), std::max<double>(b.max.z, v[2])};
  }
  return b;
}

void expect_sides(const std::array<double, 3>& got, const std::array<double, 3>& want, double rel, const std::string& what) {
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(got[k], want[k], rel * want[k]) << what << " side " << k;
}

std::string text_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ExportUnits, StepDeclaresTheModelUnitAndReadsBackAtItsRealSize) {
  TempDir dir;
  struct Case {
    LengthUnit unit;
    const char* declared;  // how the file names the unit
    double mm;
  };
  for (const Case& c : {Case{LengthUnit::kMillimetre, "SI_UNIT(.MILLI.,.METRE.)", 1.0},
                        Case{LengthUnit::kCentimetre, "SI_UNIT(.CENTI.,.METRE.)", 10.0},
                        Case{LengthUnit::kMetre, "SI_UNIT($,.METRE.)", 1000.0},
                        Case{LengthUnit::kInch, "'INCH'", 25.4}}) {
    SCOPED_TRACE(unit_symbol(c.unit));
    const std::string path = dir / (std::string("part_") + unit_symbol(c.unit) + ".step");
    ASSERT_TRUE(export_step(block_in(c.unit), path).ok());
    const std::string text = text_of(path);
    EXPECT_NE(text.find(c.declared), std::string::npos) << "unit declaration missing";
    // The model's own numbers are kept: the hole's radius 0.5 is written as it is.
    EXPECT_NE(text.find(",0.5)"), std::string::npos);
    // OCCT's reader gives millimetres: the block is 4 x 3 x 1 model units.
    auto back = import_step(path);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->unit(), LengthUnit::kMillimetre);
    expect_sides(sorted_sides(shape_properties(*back).bbox), {1 * c.mm, 3 * c.mm, 4 * c.mm}, 1e-6, "STEP");
  }
}

TEST(ExportUnits, StlAndObjAreInMillimetres) {
  TempDir dir;
  const Solid cm = block_in(LengthUnit::kCentimetre);
  ASSERT_TRUE(export_stl(cm, dir / "part.stl").ok());
  auto stl = read_stl(dir / "part.stl");
  ASSERT_TRUE(stl.ok()) << stl.error().message;
  expect_sides(sorted_sides(mesh_box(*stl)), {10, 30, 40}, 1e-5, "STL");
  EXPECT_NE(text_of(dir / "part.stl").substr(0, 80).find("units: mm"), std::string::npos);

  ASSERT_TRUE(export_obj(block_in(LengthUnit::kInch), dir / "part.obj").ok());
  Mesh obj;
  std::ifstream in(dir / "part.obj");
  bool noted = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "# units: mm") noted = true;
    if (line.rfind("v ", 0) != 0) continue;
    std::istringstream v(line.substr(2));
    std::array<float, 3> p{};
    v >> p[0] >> p[1] >> p[2];
    obj.vertices.push_back(p);
  }
  EXPECT_TRUE(noted);
  expect_sides(sorted_sides(mesh_box(obj)), {25.4, 3 * 25.4, 4 * 25.4}, 1e-5, "OBJ");
}

// The POSITION accessor bounds of a .glb (min/max are required by glTF for positions).
std::array<double, 3> glb_position_sides(const std::string& path) {
  const std::string bytes = text_of(path);
  EXPECT_GE(bytes.size(), 20u);
  if (bytes.size() < 20) return {};
  uint32_t json_len = 0;
  std::memcpy(&json_len, bytes.data() + 12, 4);
  const auto gltf = nlohmann::json::parse(bytes.substr(20, json_len));
  // No node transform may scale the positions behind our back.
  for (const auto& node : gltf.value("nodes", nlohmann::json::array())) {
    EXPECT_FALSE(node.contains("scale")) << node.dump();
    EXPECT_FALSE(node.contains("matrix")) << node.dump();
  }
  BoundingBox b{{1e30, 1e30, 1e30}, {-1e30, -1e30, -1e30}};
  int positions = 0;
  for (const auto& mesh : gltf.at("meshes"))
    for (const auto& prim : mesh.at("primitives")) {
      const auto& acc = gltf.at("accessors").at(prim.at("attributes").at("POSITION").get<size_t>());
      const auto &lo = acc.at("min"), &hi = acc.at("max");
      b.min = {std::min(b.min.x, lo[0].get<double>()), std::min(b.min.y, lo[1].get<double>()), std::min(b.min.z, lo[2].get<double>())};
      b.max = {std::max(b.max.x, hi[0].get<double>()), std::max(b.max.y, hi[1].get<double>()), std::max(b.max.z, hi[2].get<double>())};
      ++positions;
    }
  EXPECT_GT(positions, 0);
  return sorted_sides(b);
}

TEST(ExportUnits, GlbIsInMetres) {
  TempDir dir;
  ASSERT_TRUE(export_glb(block_in(LengthUnit::kCentimetre), dir / "cm.glb").ok());
  expect_sides(glb_position_sides(dir / "cm.glb"), {0.01, 0.03, 0.04}, 1e-5, "GLB from cm");
  ASSERT_TRUE(export_glb(block_in(LengthUnit::kMillimetre), dir / "mm.glb").ok());
  expect_sides(glb_position_sides(dir / "mm.glb"), {0.001, 0.003, 0.004}, 1e-5, "GLB from mm");
}

TEST(Export, FailureLeavesNoFile) {
  TempDir dir;
  // Empty solid: refused before anything is written.
  for (const char* name : {"a.step", "a.stl", "a.glb", "a.obj"}) {
    const std::string path = dir / name;
    Status st = std::string(name) == "a.step" ? export_step(Solid(), path)
                : std::string(name) == "a.stl" ? export_stl(Solid(), path)
                : std::string(name) == "a.glb" ? export_glb(Solid(), path)
                                                : export_obj(Solid(), path);
    EXPECT_FALSE(st.ok());
    EXPECT_FALSE(fs::exists(path)) << name;
  }
  // Unwritable place: an error, no stray temporary files.
  const Status st = export_step(test_part(), dir / "no/such/dir/a.step");
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(fs::is_empty(dir.path()));
  EXPECT_FALSE(import_step(dir / "missing.step").ok());
  std::ofstream(dir / "junk.step") << "this is not STEP";
  EXPECT_FALSE(import_step(dir / "junk.step").ok());
}

}  // namespace
}  // namespace cadcrafter
