#include "kernel/export.h"

#include <BRepBndLib.hxx>
#include <BRepMesh_IncrementalMesh.hxx>
#include <BRepTools.hxx>
#include <Bnd_Box.hxx>
#include <IFSelect_ReturnStatus.hxx>
#include <Interface_Static.hxx>
#include <Message_ProgressRange.hxx>
#include <RWGltf_CafWriter.hxx>
#include <RWMesh_CoordinateSystem.hxx>
#include <STEPCAFControl_Controller.hxx>
#include <STEPCAFControl_Writer.hxx>
#include <STEPControl_Reader.hxx>
#include <Standard_Failure.hxx>
#include <TColStd_IndexedDataMapOfStringString.hxx>
#include <TDataStd_Name.hxx>
#include <TDocStd_Document.hxx>
#include <XCAFApp_Application.hxx>
#include <XCAFDoc_DocumentTool.hxx>
#include <XCAFDoc_ShapeTool.hxx>

#include <cmath>
#include <filesystem>
#include <mutex>

#include "cad/units.h"
#include "geom/mesh_io.h"
#include "kernel/occt_shape.h"
#include "util/atomic_file.h"

namespace cadcrafter {
namespace {

// STEP settings live in OCCT's global Interface_Static table and the XCAF application is a
// singleton: exports take turns.
std::mutex& exchange_mutex() {
  static std::mutex mu;
  return mu;
}

Status no_shape(const std::string& path) {
  return Status::fail(ErrorCode::kInvalidArgument, "cannot write " + path + ": the solid is empty");
}

// A one-shape XDE document whose root label carries `name`.
Handle(TDocStd_Document) make_document(const TopoDS_Shape& shape, const std::string& name) {
  Handle(TDocStd_Document) doc;
  XCAFApp_Application::GetApplication()->NewDocument("MDTV-XCAF", doc);
  Handle(XCAFDoc_ShapeTool) shapes = XCAFDoc_DocumentTool::ShapeTool(doc->Main());
  const TDF_Label label = shapes->AddShape(shape, Standard_False);
  TDataStd_Name::Set(label, TCollection_ExtendedString(name.c_str(), Standard_True));
  return doc;
}

void close_document(Handle(TDocStd_Document)& doc) {
  if (!doc.IsNull() && doc->CanClose() == CDM_CCS_OK) XCAFApp_Application::GetApplication()->Close(doc);
}

Status occt_failure(const std::string& path, const Standard_Failure& f) {
  const char* msg = f.GetMessageString();
  return Status::fail(ErrorCode::kGeometry, "cannot write " + path + ": OCCT " + f.DynamicType()->Name() +
                                                (msg != nullptr && *msg ? std::string(": ") + msg : std::string()));
}

// write.step.unit's name for a unit.
const char* step_unit_name(LengthUnit unit) {
  switch (unit) {
    case LengthUnit::kMillimetre: return "MM";
    case LengthUnit::kCentimetre: return "CM";
    case LengthUnit::kMetre: return "M";
    case LengthUnit::kInch: return "INCH";
  }
  return "MM";
}

// tessellate() in the solid's unit, turned into millimetres for STL/OBJ.
Mesh millimetre_mesh(const Solid& solid, const MeshOptions& options) {
  Mesh mesh = tessellate(solid, options);
  const float f = static_cast<float>(millimetres_per_unit(solid.unit()));
  if (f != 1.0f)
    for (auto& v : mesh.vertices)
      for (float& c : v) c *= f;
  return mesh;
}

}  // namespace

Status export_step(const Solid& solid, const std::string& path, const StepOptions& options) {
  silence_occt_messages();
  if (solid.empty()) return no_shape(path);
  return write_atomically(path, [&](const std::string& tmp) -> Status {
    std::lock_guard<std::mutex> lock(exchange_mutex());
    Handle(TDocStd_Document) doc;
    try {
      doc = make_document(occt_shape(solid), options.model_name);
      // The document's unit is the solid's; the file declares the same one, so the numbers are
      // written as they are (OCCT would scale them between two different units).
      XCAFDoc_DocumentTool::SetLengthUnit(doc, millimetres_per_unit(solid.unit()) / 1000.0);
      // The schema is read when the writer creates its model, so set it first.
      STEPCAFControl_Controller::Init();
      Interface_Static::SetCVal("write.step.schema", options.schema == StepSchema::kAP242 ? "AP242DIS" : "AP214IS");
      Interface_Static::SetCVal("write.step.unit", step_unit_name(solid.unit()));
      Interface_Static::SetCVal("write.step.product.name", options.model_name.c_str());
      STEPCAFControl_Writer writer;
      writer.SetNameMode(Standard_True);
      if (!writer.Transfer(doc, STEPControl_AsIs)) {
        close_document(doc);
        return Status::fail(ErrorCode::kGeometry, "cannot write " + path + ": STEP transfer failed");
      }
      const IFSelect_ReturnStatus st = writer.Write(tmp.c_str());
      close_document(doc);
      if (st != IFSelect_RetDone) return Status::fail(ErrorCode::kIo, "cannot write " + path + ": STEP writer failed");
      return {};
    } catch (const Standard_Failure& f) {
      close_document(doc);
      return occt_failure(path, f);
    }
  });
}

Status export_stl(const Solid& solid, const std::string& path, const MeshOptions& mesh_options) {
  if (solid.empty()) return no_shape(path);
  const Mesh mesh = millimetre_mesh(solid, mesh_options);
  if (mesh.empty()) return Status::fail(ErrorCode::kGeometry, "cannot write " + path + ": tessellation produced no triangles");
  return write_stl(mesh, path, "units: mm");
}

Status export_obj(const Solid& solid, const std::string& path, const MeshOptions& mesh_options) {
  if (solid.empty()) return no_shape(path);
  const Mesh mesh = millimetre_mesh(solid, mesh_options);
  if (mesh.empty()) return Status::fail(ErrorCode::kGeometry, "cannot write " + path + ": tessellation produced no triangles");
  return write_obj(mesh, path, "units: mm");
}

Status export_glb(const Solid& solid, const std::string& path, const MeshOptions& mesh_options, const std::string& model_name) {
  silence_occt_messages();
  if (solid.empty()) return no_shape(path);
  return write_atomically(path, [&](const std::string& tmp) -> Status {
    std::lock_guard<std::mutex> exchange(exchange_mutex());
    std::lock_guard<std::mutex> meshing(solid.impl()->mesh_mutex);
    const TopoDS_Shape& shape = occt_shape(solid);
    Handle(TDocStd_Document) doc;
    try {
      Bnd_Box box;
      BRepBndLib::Add(shape, box);
      double deflection = mesh_options.linear_deflection;
      if (mesh_options.relative && !box.IsVoid()) deflection *= std::sqrt(box.SquareExtent());
      if (!(deflection > 0)) deflection = 1e-3;
      BRepTools::Clean(shape);
      BRepMesh_IncrementalMesh mesher(shape, deflection, Standard_False, mesh_options.angular_deflection, Standard_False);
      doc = make_document(shape, model_name);
      RWGltf_CafWriter writer(TCollection_AsciiString(tmp.c_str()), Standard_True);
      writer.ChangeCoordinateSystemConverter().SetInputCoordinateSystem(RWMesh_CoordinateSystem_Zup);
      // glTF is in metres (the converter's output unit); the input is the solid's unit.
      writer.ChangeCoordinateSystemConverter().SetInputLengthUnit(millimetres_per_unit(solid.unit()) / 1000.0);
      TColStd_IndexedDataMapOfStringString info;
      info.Add("generator", "cadcrafter");
      const bool ok = writer.Perform(doc, info, Message_ProgressRange());
      close_document(doc);
      if (!ok) return Status::fail(ErrorCode::kIo, "cannot write " + path + ": glTF writer failed");
      return {};
    } catch (const Standard_Failure& f) {
      close_document(doc);
      return occt_failure(path, f);
    }
  });
}

Result<Solid> import_step(const std::string& path) {
  silence_occt_messages();
  if (!std::filesystem::is_regular_file(path)) return Result<Solid>::fail(ErrorCode::kIo, path + ": no such file");
  std::lock_guard<std::mutex> lock(exchange_mutex());
  try {
    STEPControl_Reader reader;
    if (reader.ReadFile(path.c_str()) != IFSelect_RetDone)
      return Result<Solid>::fail(ErrorCode::kParse, path + ": not a readable STEP file");
    if (reader.TransferRoots() == 0) return Result<Solid>::fail(ErrorCode::kParse, path + ": STEP file has no shape");
    const TopoDS_Shape shape = reader.OneShape();
    if (shape.IsNull()) return Result<Solid>::fail(ErrorCode::kParse, path + ": STEP file has no shape");
    return make_solid(shape);
  } catch (const Standard_Failure& f) {
    return Result<Solid>::fail(ErrorCode::kParse, path + ": OCCT " + f.DynamicType()->Name() + " while reading STEP");
  }
}

}  // namespace cadcrafter
