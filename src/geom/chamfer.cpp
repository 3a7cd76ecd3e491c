#include "geom/chamfer.h"

#include <nanoflann.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace cadcrafter {
namespace {

// nanoflann's dataset adaptor over a PointCloud.
struct CloudAdaptor {
  const PointCloud& points;
  size_t kdtree_get_point_count() const { return points.size(); }
  float kdtree_get_pt(size_t i, size_t dim) const { return points[i][dim]; }
  template <class Box>
  bool kdtree_get_bbox(Box&) const { return false; }
};

using KdTree = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<float, CloudAdaptor, double>, CloudAdaptor, 3>;

// A KD-tree over a cloud (which must outlive it). nanoflann 1.4 builds the index in the
// constructor.
class CloudTree {
 public:
  explicit CloudTree(const PointCloud& points) : adaptor_{points}, tree_(3, adaptor_, nanoflann::KDTreeSingleIndexAdaptorParams(10)) {}
  // Squared distance from `q` to the nearest point of the cloud.
  double nearest_d2(const float* q) const {
    size_t index = 0;
    double d2 = 0.0;
    nanoflann::KNNResultSet<double> result(1);
    result.init(&index, &d2);
    tree_.findNeighbors(result, q, nanoflann::SearchParams());
    return d2;
  }

 private:
  CloudAdaptor adaptor_;
  KdTree tree_;
};

// Mean over `queries` of the squared distance to the nearest point of `targets`.
double mean_squared_nn(const PointCloud& queries, const PointCloud& targets) {
  const CloudTree tree(targets);
  double sum = 0.0;
  for (const Point3& q : queries) sum += tree.nearest_d2(q.data());
  return sum / static_cast<double>(queries.size());
}

// R p for a signed permutation matrix: exact in float.
Point3 rotate(const IntMatrix3& r, const Point3& p) {
  Point3 out{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (r[i][j] != 0) out[i] = r[i][j] > 0 ? p[j] : -p[j];
  return out;
}

IntMatrix3 transpose(const IntMatrix3& r) {
  IntMatrix3 t{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) t[i][j] = r[j][i];
  return t;
}

std::array<IntMatrix3, 24> make_cube_rotations() {
  std::array<IntMatrix3, 24> out{};
  size_t n = 0;
  const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (const auto& perm : perms) {
    // The sign of the permutation, from its number of inversions.
    int parity = 1;
    for (int i = 0; i < 3; ++i)
      for (int j = i + 1; j < 3; ++j)
        if (perm[i] > perm[j]) parity = -parity;
    for (int signs = 0; signs < 8; ++signs) {
      const int s[3] = {signs & 1 ? -1 : 1, signs & 2 ? -1 : 1, signs & 4 ? -1 : 1};
      if (parity * s[0] * s[1] * s[2] != 1) continue;  // determinant +1 only
      IntMatrix3 r{};
      for (int i = 0; i < 3; ++i) r[i][perm[i]] = s[i];
      out[n++] = r;
    }
  }
  return out;  // perms[0] with signs 0 first: the identity
}

}  // namespace

double chamfer_distance(const PointCloud& a, const PointCloud& b) {
  if (a.empty() || b.empty()) return std::numeric_limits<double>::infinity();
  return mean_squared_nn(a, b) + mean_squared_nn(b, a);
}

PointCloud normalize_max_abs(const PointCloud& points) {
  float scale = 0.f;
  for (const Point3& p : points) scale = std::max({scale, std::abs(p[0]), std::abs(p[1]), std::abs(p[2])});
  if (!(scale > 0.f)) return points;
  PointCloud out = points;
  for (Point3& p : out)
    for (float& v : p) v /= scale;
  return out;
}

double deepcad_chamfer(const PointCloud& ground_truth, const PointCloud& generated) {
  float extent = 0.f;
  for (const Point3& p : generated) extent = std::max({extent, std::abs(p[0]), std::abs(p[1]), std::abs(p[2])});
  return extent > 2.f ? chamfer_distance(ground_truth, normalize_max_abs(generated)) : chamfer_distance(ground_truth, generated);
}

PointCloud normalize_centered(const PointCloud& points) {
  if (points.empty()) return points;
  double lo[3], hi[3];
  for (int k = 0; k < 3; ++k) lo[k] = hi[k] = points[0][static_cast<size_t>(k)];
  for (const Point3& p : points)
    for (int k = 0; k < 3; ++k) {
      lo[k] = std::min(lo[k], static_cast<double>(p[static_cast<size_t>(k)]));
      hi[k] = std::max(hi[k], static_cast<double>(p[static_cast<size_t>(k)]));
    }
  double centre[3], half = 0.0;
  for (int k = 0; k < 3; ++k) {
    centre[k] = 0.5 * (lo[k] + hi[k]);
    half = std::max(half, 0.5 * (hi[k] - lo[k]));  // the largest |p - centre| on any axis
  }
  const double scale = half > 0.0 ? 1.0 / half : 1.0;
  PointCloud out(points.size());
  for (size_t i = 0; i < points.size(); ++i)
    for (size_t k = 0; k < 3; ++k) out[i][k] = static_cast<float>((points[i][k] - centre[k]) * scale);
  return out;
}

const std::array<IntMatrix3, 24>& cube_rotations() {
  static const std::array<IntMatrix3, 24> rotations = make_cube_rotations();
  return rotations;
}

namespace {

// min over `rotations` R of chamfer_distance(normalize_centered(a), R normalize_centered(b)).
double centred_chamfer_over(const PointCloud& a, const PointCloud& b, const IntMatrix3* rotations, size_t count) {
  if (a.empty() || b.empty()) return std::numeric_limits<double>::infinity();
  const PointCloud na = normalize_centered(a), nb = normalize_centered(b);
  // CD(na, R nb) = mean_a min_b |a - R b|^2 + mean_b min_a |R b - a|^2. The first term equals
  // min_b |R^T a - b|^2 (R is orthogonal), so both directions query a tree built once: the
  // tree of nb with R^T a, the tree of na with R b.
  const CloudTree tree_a(na), tree_b(nb);
  const double wa = 1.0 / static_cast<double>(na.size()), wb = 1.0 / static_cast<double>(nb.size());
  double best = std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < count; ++k) {
    const IntMatrix3& r = rotations[k];
    const IntMatrix3 rt = transpose(r);
    double total = 0.0;
    for (size_t i = 0; i < na.size() && total < best; ++i) total += wa * tree_b.nearest_d2(rotate(rt, na[i]).data());
    for (size_t i = 0; i < nb.size() && total < best; ++i) total += wb * tree_a.nearest_d2(rotate(r, nb[i]).data());
    best = std::min(best, total);  // an abandoned rotation has total >= best
  }
  return best;
}

}  // namespace

double rotation_free_chamfer(const PointCloud& a, const PointCloud& b) {
  return centred_chamfer_over(a, b, cube_rotations().data(), cube_rotations().size());
}

double centred_chamfer(const PointCloud& a, const PointCloud& b) {
  const IntMatrix3 identity = cube_rotations()[0];
  return centred_chamfer_over(a, b, &identity, 1);
}

double z_turn_free_chamfer(const PointCloud& a, const PointCloud& b) {
  // The quarter turns about +Z: (x, y) -> (-y, x) applied 0..3 times.
  static const std::array<IntMatrix3, 4> turns = {{{{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}},
                                                    {{{0, -1, 0}, {1, 0, 0}, {0, 0, 1}}},
                                                    {{{-1, 0, 0}, {0, -1, 0}, {0, 0, 1}}},
                                                    {{{0, 1, 0}, {-1, 0, 0}, {0, 0, 1}}}}};
  return centred_chamfer_over(a, b, turns.data(), turns.size());
}

}  // namespace cadcrafter
