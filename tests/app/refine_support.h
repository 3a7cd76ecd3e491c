// Parts with known dimensions and rendered input views for the refinement tests
// (test_refine.cpp, slow_refine.cpp).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "app/agreement.h"
#include "app/refine.h"
#include "app/view_maps.h"
#include "kernel/check.h"
#include "kernel/tessellate.h"
#include "render/render_views.h"
#include "../kernel/model_builders.h"

namespace cadcrafter::app::testing {

using namespace cadcrafter::testing;

// The model checked by the kernel (solid kept) and tessellated; the agreement is left empty.
inline FittedCandidate build(const CadModel& model) {
  FittedCandidate c;
  c.model = model;
  CheckOptions o;
  o.keep_solid = true;
  c.check = check_model(model, o);
  EXPECT_TRUE(c.check.valid) << c.check.reason;
  if (c.check.valid) c.mesh = tessellate(c.check.solid);
  return c;
}

// The part seen from a look-at camera (the scorer's distance and field of view) at 128 x 128,
// framed as input maps (camera-space depth, normals, mask).
inline ViewMaps rendered_view(const Mesh& mesh, float azimuth, float elevation) {
  const Mesh unit = apply_normalization(mesh, unit_sphere_normalization(mesh));
  const CameraOptions co;
  const RenderedView r = render_view(unit, look_at_camera(azimuth, elevation, co.distance, co.fov_deg, 128));
  return view_maps_of_render(r, 128);
}

// What reconstruct scores with: depth, grid, then continuous poses.
inline AgreementOptions scoring() {
  AgreementOptions o;
  o.pose_evaluations = 48;
  return o;
}

inline double side(const BoundingBox& b, int axis) {
  return axis == 0 ? b.max.x - b.min.x : axis == 1 ? b.max.y - b.min.y : b.max.z - b.min.z;
}

inline double longest(const BoundingBox& b) { return std::max({side(b, 0), side(b, 1), side(b, 2)}); }

// An L bracket of two extrudes: a base plate `length` x 20 x `thick` and a wall `length` x `thick`
// x 15 standing on its edge (bounding box length x 20 x 15).
inline CadModel l_bracket(double length, double thick) {
  Extrude base = extrude(Profile{{rect(0, 0, length, 20)}}, thick);
  Extrude wall = extrude(Profile{{rect(0, 0, length, thick)}}, 15, Operation::kJoin);
  return model_of({base, wall}, "l_bracket");
}

// A plate length x 20 x thick with a round hole through it (one extrude, two loops).
inline CadModel plate_with_hole(double length, double thick) {
  return model_of({extrude(Profile{{rect(0, 0, length, 20), Loop{{circle(length * 0.3, 10, 4)}}}}, thick)}, "plate");
}

}  // namespace cadcrafter::app::testing
