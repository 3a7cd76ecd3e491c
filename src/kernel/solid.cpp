#include "kernel/solid.h"

#include <BRepBndLib.hxx>
#include <BRepGProp.hxx>
#include <Bnd_Box.hxx>
#include <GProp_GProps.hxx>
#include <Standard_Failure.hxx>
#include <TopExp_Explorer.hxx>

#include "kernel/occt_shape.h"

namespace cadcrafter {

ShapeProperties shape_properties(const Solid& solid) {
  ShapeProperties p;
  const TopoDS_Shape& shape = occt_shape(solid);
  if (shape.IsNull()) return p;
  try {
    for (TopExp_Explorer ex(shape, TopAbs_SOLID); ex.More(); ex.Next()) ++p.n_solids;
    for (TopExp_Explorer ex(shape, TopAbs_FACE); ex.More(); ex.Next()) ++p.n_faces;
    GProp_GProps volume, surface;
    BRepGProp::VolumeProperties(shape, volume);
    BRepGProp::SurfaceProperties(shape, surface);
    p.volume = volume.Mass();
    p.area = surface.Mass();
    Bnd_Box box;
    BRepBndLib::AddOptimal(shape, box, Standard_False, Standard_False);
    if (!box.IsVoid()) {
      double x0, y0, z0, x1, y1, z1;
      box.Get(x0, y0, z0, x1, y1, z1);
      p.bbox = {{x0, y0, z0}, {x1, y1, z1}};
    }
  } catch (const Standard_Failure&) {
    // Leave what was measured; a shape OCCT cannot measure is reported invalid by the checker.
  }
  return p;
}

}  // namespace cadcrafter
