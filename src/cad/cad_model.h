// The continuous CAD model every stage shares: a list of extrudes, each a planar profile
// (outer loop + holes, lines/arcs/circles) swept along its sketch normal and combined with
// the body so far. This mirrors DeepCAD's CADSequence *after* from_dict has split each
// ExtrudeFeature into one extrude per profile, so one Extrude here = one Ext row in a vector.
//
// Numbers are in the model's `unit` (cad/units.h): a cad_json says it in
// properties.length_unit, and without it is read as centimetres (the F360 data's unit);
// decoded vectors are in the normalised [-0.75, 0.75] frame (unit left at millimetres;
// reconstruct scales them to a real size). Exports convert to each format's unit.
// Nothing here knows about OpenCASCADE or quantisation.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace cadcrafter {

struct Vec2 {
  double x = 0.0, y = 0.0;
};
struct Vec3 {
  double x = 0.0, y = 0.0, z = 0.0;
};

enum class CurveType { kLine = 0, kArc = 1, kCircle = 2 };

// One curve of a loop, in the sketch plane's local 2D coordinates.
// Line:   start -> end.
// Arc:    start -> mid -> end (mid lies on the arc, so the three points define it), plus
//         centre/radius. The DeepCAD bookkeeping fields (start_angle, end_angle, ref_vec)
//         are kept because the exact encoder derives the arc flag and sweep from them.
// Circle: centre + radius; start/end are unused.
struct Curve {
  CurveType type = CurveType::kLine;
  Vec2 start, end;
  Vec2 mid;          // Arc only
  Vec2 center;       // Arc, Circle
  double radius = 0.0;
  // DeepCAD arc bookkeeping (radians; ref_vec is a unit vector in sketch coordinates).
  double start_angle = 0.0, end_angle = 0.0;
  Vec2 ref_vec{1.0, 0.0};
  // Provenance, for listings and conformance tests (not geometry): the cad_vec row this
  // curve was decoded from (-1 when read from JSON), and whether DeepCAD's loop re-ordering
  // swapped its start and end.
  int vec_row = -1;
  bool reversed = false;
};

struct Loop {
  std::vector<Curve> curves;
};

// First loop is the outer boundary after DeepCAD's ordering; the rest are holes.
// (DeepCAD orders loops by bounding box, not by the is_outer flag.)
struct Profile {
  std::vector<Loop> loops;
};

// Sketch plane: global point = origin + u * x_axis + v * y_axis; normal = x_axis x y_axis
// for right-handed planes (DeepCAD's decoder always produces right-handed ones).
struct SketchPlane {
  Vec3 origin;
  Vec3 x_axis{1, 0, 0};
  Vec3 y_axis{0, 1, 0};
  Vec3 normal{0, 0, 1};
};

enum class Operation { kNewBody = 0, kJoin = 1, kCut = 2, kIntersect = 3 };
enum class ExtentType { kOneSide = 0, kSymmetric = 1, kTwoSides = 2 };

struct Extrude {
  SketchPlane plane;
  Profile profile;
  Operation operation = Operation::kNewBody;
  ExtentType extent_type = ExtentType::kOneSide;
  // OneSide: prism of extent_one along normal (may be negative).
  // Symmetric: extent_one on each side (2 * extent_one in total), as DeepCAD builds it.
  // TwoSides: extent_one along normal, extent_two against it.
  double extent_one = 0.0;
  double extent_two = 0.0;
  // DeepCAD normalisation state: sketch_pos is the profile's start point in 3D model units
  // and sketch_size its extent; both are set by the encoder/decoder, informational elsewhere.
  Vec3 sketch_pos;
  double sketch_size = 0.0;
};

// What one model unit is. Exports convert from it (STEP declares it, GLB is in metres,
// STL/OBJ in millimetres).
enum class LengthUnit { kMillimetre = 0, kCentimetre = 1, kMetre = 2, kInch = 3 };

struct BoundingBox {
  Vec3 min, max;
};

struct CadModel {
  std::string id;
  std::vector<Extrude> extrudes;
  BoundingBox bbox;  // properties.bounding_box of the source JSON (drives DeepCAD's scale)
  LengthUnit unit = LengthUnit::kMillimetre;
};

}  // namespace cadcrafter
