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

// Mean over `queries` of the squared distance to the nearest point of `targets`.
double mean_squared_nn(const PointCloud& queries, const PointCloud& targets) {
  CloudAdaptor adaptor{targets};
  KdTree tree(3, adaptor, nanoflann::KDTreeSingleIndexAdaptorParams(10));
  tree.buildIndex();
  double sum = 0.0;
  for (const Point3& q : queries) {
    size_t index = 0;
    double d2 = 0.0;
    nanoflann::KNNResultSet<double> result(1);
    result.init(&index, &d2);
    tree.findNeighbors(result, q.data(), nanoflann::SearchParams());
    sum += d2;
  }
  return sum / static_cast<double>(queries.size());
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

}  // namespace cadcrafter
