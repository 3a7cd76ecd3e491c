#include "kernel/tessellate.h"

#include <BRepAdaptor_Surface.hxx>
#include <BRepBndLib.hxx>
#include <BRepLProp_SLProps.hxx>
#include <BRepMesh_IncrementalMesh.hxx>
#include <BRepTools.hxx>
#include <BRep_Tool.hxx>
#include <Bnd_Box.hxx>
#include <Poly_Triangulation.hxx>
#include <Standard_Failure.hxx>
#include <TopExp_Explorer.hxx>
#include <TopoDS.hxx>

#include <cmath>

#include "kernel/occt_shape.h"

namespace cadcrafter {
namespace {

// Normal of the triangle fan around each vertex, for points where the surface has none.
std::array<float, 3> normalized(double x, double y, double z) {
  const double len = std::sqrt(x * x + y * y + z * z);
  if (len <= 0) return {0.f, 0.f, 0.f};
  return {static_cast<float>(x / len), static_cast<float>(y / len), static_cast<float>(z / len)};
}

void append_face(const TopoDS_Face& face, Mesh& mesh) {
  TopLoc_Location loc;
  const Handle(Poly_Triangulation)& tri = BRep_Tool::Triangulation(face, loc);
  if (tri.IsNull() || tri->NbTriangles() == 0) return;
  const gp_Trsf trsf = loc.Transformation();
  const bool reversed = face.Orientation() == TopAbs_REVERSED;
  const uint32_t base = static_cast<uint32_t>(mesh.vertices.size());
  BRepAdaptor_Surface surface(face);  // includes the face location, so normals are global
  BRepLProp_SLProps props(surface, 1, 1e-9);
  for (int i = 1; i <= tri->NbNodes(); ++i) {
    const gp_Pnt p = tri->Node(i).Transformed(trsf);
    mesh.vertices.push_back({static_cast<float>(p.X()), static_cast<float>(p.Y()), static_cast<float>(p.Z())});
    std::array<float, 3> n{0.f, 0.f, 0.f};
    if (tri->HasUVNodes()) {
      const gp_Pnt2d uv = tri->UVNode(i);
      props.SetParameters(uv.X(), uv.Y());
      if (props.IsNormalDefined()) {
        gp_Dir d = props.Normal();
        if (reversed) d.Reverse();
        n = normalized(d.X(), d.Y(), d.Z());
      }
    }
    mesh.normals.push_back(n);
  }
  for (int t = 1; t <= tri->NbTriangles(); ++t) {
    int a, b, c;
    tri->Triangle(t).Get(a, b, c);
    if (reversed) std::swap(b, c);
    mesh.triangles.push_back({base + a - 1, base + b - 1, base + c - 1});
  }
  // Vertices the surface gave no normal for (apexes, missing UVs): average of their triangles.
  for (int t = 1; t <= tri->NbTriangles(); ++t) {
    const auto& tr = mesh.triangles[mesh.triangles.size() - tri->NbTriangles() + t - 1];
    const auto &p0 = mesh.vertices[tr[0]], &p1 = mesh.vertices[tr[1]], &p2 = mesh.vertices[tr[2]];
    const double ux = p1[0] - p0[0], uy = p1[1] - p0[1], uz = p1[2] - p0[2];
    const double vx = p2[0] - p0[0], vy = p2[1] - p0[1], vz = p2[2] - p0[2];
    const auto fn = normalized(uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx);
    for (uint32_t k : tr) {
      auto& n = mesh.normals[k];
      if (n[0] == 0.f && n[1] == 0.f && n[2] == 0.f) n = fn;
    }
  }
}

}  // namespace

Mesh tessellate(const Solid& solid, const MeshOptions& options) {
  Mesh mesh;
  if (solid.empty()) return mesh;
  std::lock_guard<std::mutex> lock(solid.impl()->mesh_mutex);
  const TopoDS_Shape& shape = solid.impl()->shape;
  try {
    double deflection = options.linear_deflection;
    if (options.relative) {
      Bnd_Box box;
      BRepBndLib::Add(shape, box);
      if (box.IsVoid()) return mesh;
      deflection *= std::sqrt(box.SquareExtent());
    }
    if (!(deflection > 0)) deflection = 1e-3;
    BRepTools::Clean(shape);  // drop meshes from earlier calls with other options
    BRepMesh_IncrementalMesh mesher(shape, deflection, Standard_False, options.angular_deflection, Standard_False);
    for (TopExp_Explorer ex(shape, TopAbs_FACE); ex.More(); ex.Next()) append_face(TopoDS::Face(ex.Current()), mesh);
  } catch (const Standard_Failure&) {
    return Mesh{};  // callers treat an empty mesh as "could not tessellate"
  }
  return mesh;
}

}  // namespace cadcrafter
