// Kernel-internal: the OpenCASCADE side of Solid. Include only from src/kernel/*.cpp.
#pragma once

#include <Message.hxx>
#include <Message_Messenger.hxx>
#include <Message_PrinterOStream.hxx>
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

// OCCT's data exchange prints progress to stdout, which would corrupt our JSON output
// (`cadcrafter check` writes one object per line there). Remove its console printers once.
inline void silence_occt_messages() {
  static std::once_flag once;
  std::call_once(once, [] {
    Message::DefaultMessenger()->RemovePrinters(STANDARD_TYPE(Message_PrinterOStream));
  });
}

inline Solid make_solid(const TopoDS_Shape& shape) { return Solid(std::make_shared<Solid::Impl>(shape)); }
inline const TopoDS_Shape& occt_shape(const Solid& solid) {
  static const TopoDS_Shape kNull;
  return solid.empty() ? kNull : solid.impl()->shape;
}

}  // namespace cadcrafter
