// Chamfer distance as DeepCAD's evaluation computes it (evaluation/evaluate_ae_cd.py):
// the mean squared nearest-neighbour distance from A to B plus the same from B to A, both
// on 2,000 surface points in the normalised model frame. Nearest neighbours via nanoflann.
#pragma once

#include <array>

#include "geom/sampling.h"

namespace cadcrafter {

constexpr int kChamferPoints = 2000;  // DeepCAD's --n_points default

// mean_a min_b |a-b|^2 + mean_b min_a |a-b|^2. Zero for identical clouds, symmetric.
// Infinity when either cloud is empty.
double chamfer_distance(const PointCloud& a, const PointCloud& b);

// DeepCAD's normalize_pc: divide by the largest absolute coordinate.
PointCloud normalize_max_abs(const PointCloud& points);

// DeepCAD's evaluation step: the generated cloud is normalised only when it leaves
// [-2, 2]^3 (a decoded shape far out of frame), then chamfer_distance(gt, gen).
double deepcad_chamfer(const PointCloud& ground_truth, const PointCloud& generated);

// Rotation-free Chamfer distance: how far two shapes are apart whatever their placement,
// size and axis-aligned orientation. Each cloud is centred on the centre of its bounding box
// and scaled to unit max-abs coordinate (normalize_centered), then the result is the minimum
// over the 24 proper rotations of the cube (cube_rotations) R of chamfer_distance(a', R b').
// The bounding-box centre (not the mean of the points) is used so the centre depends on the
// shape's extent alone, not on where its surface area lies, and both it and the max-abs
// scale commute with every one of the 24 rotations: a cloud against a copy of itself turned
// by multiples of 90 degrees, shifted and uniformly scaled gives ~0 (float rounding).
// Values are in the unit-max-abs frame, i.e. not directly comparable with chamfer_distance in
// DeepCAD's [-0.75, 0.75] frame (a full-size model reads about (1/0.75)^2 = 1.8x larger).
// Symmetric up to float rounding. Infinity when either cloud is empty.
// Cost: one KD-tree per cloud, built once, then 24 x (|a| + |b|) nearest-neighbour queries at
// most (a rotation is abandoned once its partial sum exceeds the best so far).
double rotation_free_chamfer(const PointCloud& a, const PointCloud& b);

// The same normalisation without the rotations: both clouds centred and scaled to unit max-abs
// coordinate, compared as they stand. Reads how far a prediction is from the target once the
// placement and size that images cannot tell (where the model's origin lies, its scale) are
// taken out, with its orientation still counted.
double centred_chamfer(const PointCloud& a, const PointCloud& b);

// Between the two: the best of the four quarter turns about +Z (the turns the view frame fixes).
double z_turn_free_chamfer(const PointCloud& a, const PointCloud& b);

// Centre of the bounding box to the origin, then divided by the largest absolute coordinate
// (the cloud fits [-1, 1]^3 and touches its boundary). A single point or an empty cloud is
// only centred.
PointCloud normalize_centered(const PointCloud& points);

// The 24 proper rotations of the cube as signed permutation matrices (entries -1, 0, 1,
// determinant +1), the identity first.
using IntMatrix3 = std::array<std::array<int, 3>, 3>;
const std::array<IntMatrix3, 24>& cube_rotations();

}  // namespace cadcrafter
