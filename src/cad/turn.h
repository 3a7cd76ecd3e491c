// The target frame of the image -> CAD models (issue 9 §1): what the pictures can tell.
//
// Centring: DeepCAD normalises a model by one scale about the model's own origin, so where the
// designer put the origin (a corner, the centre of a hole, anywhere) moves the part inside the
// normalised box, and a photo cannot see the origin. Datasets built with the centred frame
// (DatasetBuildOptions::vec_frame) encode centred_on(model, box of its solid): the part's
// bounding box centred on the origin, so after DeepCAD's normalisation its longest half-extent
// is 0.75 whatever the origin was.
//
// Quarter turns of a CAD model about +Z: the "view frame" rule of the image -> CAD targets
// (issue 9 §1). A camera at azimuth a sees the same picture of turn_about_z(m, k) from
// azimuth a + 90k as it sees of m from a, so a target rotated by minus the quarter turn nearest
// to the first view's azimuth faces that view (render/camera.h: view_frame_quarter_turns), and
// axis-aligned sketch planes stay axis-aligned.
#pragma once

#include "cad/cad_model.h"
#include "cad/cad_vec.h"
#include "util/status.h"

namespace cadcrafter {

// `model` rotated by quarter_turns * 90 degrees counter-clockwise (seen from +Z) about the Z
// axis through the origin: (x, y, z) -> (-y, x, z) per turn. Applies to every extrude's sketch
// plane (origin, x_axis, y_axis, normal) and sketch_pos, and to the bounding box (min/max
// recomputed from the turned corners). Exact: coordinates are only swapped and negated, so
// turning by 1 then 3, or 4 times by 1, gives back the model bit for bit. Profiles are in
// sketch-local coordinates and do not change. quarter_turns is taken mod 4 (negative =
// clockwise).
CadModel turn_about_z(const CadModel& model, int quarter_turns);

// `model` translated by minus the centre of `box` (every sketch plane origin and sketch_pos;
// profiles are sketch-local and do not move); its bbox becomes `box` translated the same way,
// i.e. symmetric about the origin. `box` is a bounding box of the model's solid in model units
// (the tessellated solid's, in the dataset builder). Commutes with turn_about_z.
CadModel centred_on(const CadModel& model, const BoundingBox& box);

// Half the longest side of `box`: the extent DeepCAD's normalisation scales to 0.75 once the box
// is centred.
double largest_half_extent(const BoundingBox& box);

// `model` with the extents of its cuts and intersections that reach past `box` (a bounding box
// of its solid) shortened to reach past it by 5% of the box's largest half-extent: the solid does
// not change, and "through all" cuts many times longer than the part no longer leave DeepCAD's
// extent range once the part is centred and scaled up (encode refuses |extent| > 2 after
// normalisation). New bodies and joins are never changed (they make the box).
CadModel clip_extents_to_box(const CadModel& model, const BoundingBox& box);

// DeepCAD quantises extents in [-1, 1] (normalised units; 1.0 itself clips to 0.99), so a part
// centred and scaled to half-extent 0.75 cannot carry a one-sided extrude longer than 1 (e.g. a
// rod sketched at one end). `model` with every OneSide or TwoSides extrude whose total length
// exceeds `limit` (model units) re-expressed as a Symmetric extrude about its middle plane (plane
// origin moved along the normal; half the length on each side): the same solid, extents halved.
CadModel with_representable_extents(const CadModel& model, double limit);

// The same solid with each extrude re-expressed, where needed, so that DeepCAD's encoder
// (cad_vec.h) keeps its sketch plane; a quarter turn creates these cases from ordinary planes
// (a +Y normal turns to -X; an x axis of +X turned twice is -X on an XY sketch):
// - a normal with round6(n.x) < 0, which DeepCAD's phi = arctan(n_y / n_x) decodes as
//   (-n.x, -n.y, n.z) with a mirrored sketch: the plane is flipped (normal negated, the
//   profile mirrored by one of the four reflections of the quantisation grid, the first one
//   that keeps DeepCAD's start point, else the first; extents follow: OneSide e1 -> -e1,
//   TwoSides e1 <-> e2, Symmetric unchanged).
// - a y axis with round6(y.x) < 0, which the encoder rebuilds reversed when it places the
//   sketch (sketch_pos = origin + x * p0.x + y * p0.y): when the start point p0 is not the local
//   origin (decoded circles and arcs can start a step off it; a flip can move it), the profile
//   is shifted to make it the origin, as in decoded models, and the plane origin moves with it.
// - an x axis antiparallel to DeepCAD's reference axis: the encoder's gamma is +pi or -pi by the
//   sign of a rounding error, and +pi quantises to 256, clipped to 255 (1.4 degrees off); the x
//   axis is tilted by 1e-8 rad so that it is -pi (level 0, exact).
// Other extrudes are returned unchanged. Expects DeepCAD's loop order (read_cad_json, decode).
// A normal facing -Z (theta clipped at pi) is left alone: a turn about Z never creates one.
CadModel with_encodable_planes(const CadModel& model);

// A DeepCAD vector turned by quarter_turns: the vector of turn_about_z(decode(vec)), i.e.
// encode(with_encodable_planes(turn_about_z(decode(vec), quarter_turns))), except that it keeps
// the rows the turn does not change: DeepCAD's decode/encode cycle is lossy by itself (the
// sketch is rescaled by its re-measured size; encode(decode(v)) == v for only ~60% of F360
// vectors). So each extrude keeps s, e1, e2, b, u and turns (px, py) in integers (q -> 256 - q
// negates; 0 would be 256 and clips to 255, one step off); theta, phi, gamma come from the
// encoder. An extrude whose plane merely turns keeps its sketch rows; one whose plane has to
// flip (see with_encodable_planes) gets its mirrored sketch written in the same quantised frame
// (extents flipped in integers), or, when the mirror moves DeepCAD's start point, the
// encoder's rows (the same solid to within a quantisation step). On the encoder's own vectors
// turn_vec(v, 0) == v, and k then -k, or four single turns, give v back unless a plane flipped
// or a position clipped on the way (tests/cad/test_turn.cpp measures it). decode's box [-0.75, 0.75]^3 is symmetric under the turn, so the model
// scale is unchanged. Errors are decode's or encode's.
Result<CadVec> turn_vec(const CadVec& vec, int quarter_turns);

}  // namespace cadcrafter
