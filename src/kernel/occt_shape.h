// Kernel-internal: the OpenCASCADE side of Solid. Include only from src/kernel/*.cpp.
#pragma once

#include <TopoDS_Shape.hxx>

#include <mutex>

#include "kernel/solid.h"

namespace cadcrafter {

struct Solid::Impl {
  explicit Impl(TopoDS_Shape s) : shape(std::move(s)) {}
  TopoDS_Shape shape;
  // Meshing stores triangulations inside the shape's faces, so concurrent tessellate()
  // calls on one Solid must take turns.
  std::mutex mesh_mutex;
};

inline Solid make_solid(const TopoDS_Shape& shape) { return Solid(std::make_shared<Solid::Impl>(shape)); }
inline const TopoDS_Shape& occt_shape(const Solid& solid) {
  static const TopoDS_Shape kNull;
  return solid.empty() ? kNull : solid.impl()->shape;
}

}  // namespace cadcrafter
