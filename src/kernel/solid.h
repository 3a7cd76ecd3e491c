// A B-rep solid built by the CAD kernel, as an opaque value: upstream code (renderer, CLI,
// learning) passes it around, measures it, tessellates and exports it, but never sees
// OpenCASCADE. Copies are cheap and share the same immutable shape.
#pragma once

#include <memory>

#include "cad/cad_model.h"

namespace cadcrafter {

class Solid {
 public:
  struct Impl;  // defined in kernel/occt_shape.h (OpenCASCADE side only)

  Solid() = default;
  explicit Solid(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  // True for a default-constructed Solid (no shape at all). A built shape may still have
  // zero volume; see shape_properties().
  bool empty() const { return impl_ == nullptr; }
  const std::shared_ptr<Impl>& impl() const { return impl_; }

  // What one unit of the shape's numbers is: the compiled model's unit (compile_model), mm
  // for a STEP read back (import_step). The exports convert from it.
  LengthUnit unit() const { return unit_; }
  Solid with_unit(LengthUnit unit) const {
    Solid s = *this;
    s.unit_ = unit;
    return s;
  }

 private:
  std::shared_ptr<Impl> impl_;
  LengthUnit unit_ = LengthUnit::kMillimetre;
};

// Mass properties and topology counts, computed with OCCT's BRepGProp / TopExp.
struct ShapeProperties {
  double volume = 0.0;  // model units (Solid::unit) cubed; sum over all solids
  double area = 0.0;    // total boundary area
  int n_solids = 0;
  int n_faces = 0;
  BoundingBox bbox;     // tight box (optimal BRepBndLib), zero box when empty
};

ShapeProperties shape_properties(const Solid& solid);

}  // namespace cadcrafter
