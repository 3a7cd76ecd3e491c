// Building blocks for procedural sketches: lines, arcs with DeepCAD's bookkeeping, and the
// closed loops mechanical parts are made of (rectangles, rounded rectangles, slots, polygons
// with bulged edges, L/U outlines). All loops are built counter-clockwise; `reversed_loop`
// turns one into a clockwise hole, as the F360 files store holes.
//
// Arc convention (see ../shared/data/f360/README.md): an arc covers the angles from
// ref_vec to ref_vec + sweep counter-clockwise, start_angle = 0 and end_angle = sweep, and
// start/end follow the loop's traversal, so `start` is not always the end ref_vec points at.
#pragma once

#include <vector>

#include "cad/cad_model.h"

namespace cadcrafter::shapes {

Curve make_line(Vec2 from, Vec2 to);
Curve make_circle(Vec2 center, double radius);

// The arc traversed from angle `start_angle` (radians, about `center`) through `signed_sweep`
// (positive = counter-clockwise). |signed_sweep| must be in (0, 2π).
Curve make_arc(Vec2 center, double radius, double start_angle, double signed_sweep);

// The arc from `from` to `to` whose centre lies on the left of the chord (so a positive
// sweep, traversed counter-clockwise) when `sweep` > 0, or on the right (clockwise) when
// `sweep` < 0. On a counter-clockwise loop a positive sweep bulges outwards.
Curve make_arc_through_chord(Vec2 from, Vec2 to, double sweep);

// The same geometric curve traversed the other way (arc bookkeeping stays valid).
Curve reversed_curve(const Curve& c);
Loop reversed_loop(const Loop& loop);

// Closed counter-clockwise loops.
Loop polygon_loop(const std::vector<Vec2>& points);
Loop rectangle_loop(Vec2 center, double width, double height);
// Corner radius must be < min(width, height) / 2 (equal to half means a slot: use slot_loop).
Loop rounded_rectangle_loop(Vec2 center, double width, double height, double corner_radius);
// A stadium: two half circles joined by straight sides; `length` is centre-to-centre along
// the direction `angle`.
Loop slot_loop(Vec2 center, double length, double radius, double angle);
Loop circle_loop(Vec2 center, double radius);

// Signed area (positive = counter-clockwise), exact for arcs.
double loop_signed_area(const Loop& loop);

// 2D bounding box of a loop, including the axis extremes an arc passes through.
struct Box2 {
  Vec2 min{1e300, 1e300}, max{-1e300, -1e300};
  void add(Vec2 p);
};
Box2 loop_box(const Loop& loop);

// Mirror a loop across the sketch x axis (v -> -v) and reverse it, so a counter-clockwise
// loop stays counter-clockwise. Used when a sketch plane is flipped to a positive normal.
Loop mirrored_loop_v(const Loop& loop);

}  // namespace cadcrafter::shapes
