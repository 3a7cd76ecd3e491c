// DeepCAD's sketch bookkeeping, reproduced operation for operation so that the encoder and
// decoder agree bit for bit with DeepCAD's numpy code (cadlib/curves.py, cadlib/sketch.py):
// implicit start/end points, arc mid points, bounding boxes (arcs include the axis extremes
// they sweep through), and the loop/profile re-ordering that runs whenever DeepCAD builds a
// loop or a profile. Used by the JSON reader and by the vector decoder.
//
// This translation unit is compiled with -ffp-contract=off: a fused multiply-add would round
// differently from numpy and change tie-breaks in the ordering.
#pragma once

#include "cad/cad_model.h"

namespace cadcrafter::deepcad {

struct Box2 {
  Vec2 min, max;
};

// numpy's ndarray.round(6): rint(x * 1e6) / 1e6 (half to even), not a correctly rounded decimal.
double round6(double x);
// numpy's round() with decimals=0: round half to even.
double round_half_even(double x);
// np.allclose(a, b) with rtol=1e-5, atol=1e-8 (asymmetric: the tolerance scales with |b|).
bool allclose(Vec2 a, Vec2 b);

// A curve's start and end as DeepCAD sees them; for a circle these are its leftmost and
// rightmost points (centre -/+ radius along x).
Vec2 start_point(const Curve& c);
Vec2 end_point(const Curve& c);

// DeepCAD's Arc.get_mid_point: centre + radius * rot((start_angle + end_angle) / 2) * ref_vec.
Vec2 arc_mid_point(const Curve& arc);

// DeepCAD's Curve.reverse(): swap start and end (arcs keep their mid point and angles);
// circles are unchanged. Toggles Curve::reversed when the swap is visible (start != end).
void reverse(Curve& c);

Box2 curve_bbox(const Curve& c);
Box2 loop_bbox(const Loop& loop);
Box2 profile_bbox(const Profile& profile);

// Profile.bbox_size: the largest |bbox corner - start point| over both axes and both corners.
double profile_bbox_size(const Profile& profile);

// Loop.reorder(): fix curve directions, start at the leftmost-lowest start point, and make
// the loop mostly counter-clockwise.
void reorder_loop(Loop& loop);
// Profile.reorder(): stable sort of the loops by the rounded minimum corner (x, then y).
void reorder_profile(Profile& profile);

// Both of the above for every extrude: what DeepCAD's from_dict does to a model while reading
// it. read_cad_json() and decode() already return models in this order; call it on models
// built by hand before encode(). (Not idempotent in every case, like DeepCAD's own code, so
// do not apply it twice to a model that is meant to match DeepCAD exactly.)
void reorder_model(CadModel& model);

}  // namespace cadcrafter::deepcad
