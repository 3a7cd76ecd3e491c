// Chamfer distance as DeepCAD's evaluation computes it (evaluation/evaluate_ae_cd.py):
// the mean squared nearest-neighbour distance from A to B plus the same from B to A, both
// on 2,000 surface points in the normalised model frame. Nearest neighbours via nanoflann.
#pragma once

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

}  // namespace cadcrafter
