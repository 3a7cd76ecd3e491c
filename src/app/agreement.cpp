#include "app/agreement.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "app/pattern_search.h"

namespace cadcrafter::app {

namespace {

using Framed = AgreementScorer::Framed;

// Fewer overlap pixels than this: no depth comparison (two numbers fit any two pixels).
constexpr int kMinDepthPixels = 16;
constexpr double kPi = 3.14159265358979323846;

// The square around a bounding box (x0, y0)-(x1, y1) in pixels: kViewMargin per side, as
// frame_from_mask frames the inputs, then moved by shift * side and made 1/zoom as large.
FrameBox framing_box(float x0, float y0, float x1, float y1, float shift_x, float shift_y, float zoom) {
  const float w = x1 - x0, h = y1 - y0;
  const float base = std::max(w, h) * (1.0f + 2.0f * kViewMargin);
  const float side = base / std::max(zoom, 1e-3f);
  const float cx = (x0 + x1) / 2 + shift_x * base, cy = (y0 + y1) / 2 + shift_y * base;
  return FrameBox{cx - side / 2, cy - side / 2, side};
}

Framed empty_framed(int size) {
  Framed f;
  f.size = size;
  const size_t n = static_cast<size_t>(size) * size;
  f.mask.assign(n, 0.0f);
  f.normal.assign(n * 3, 0.0f);
  f.depth.assign(n, 0.0f);
  return f;
}

// One output pixel of frame_input / average_down from the sums over its `samples` sub-samples, of
// which `covered` fell on the object: coverage fraction, unit mean normal, mean depth.
void store_cell(Framed& out, size_t dst, int covered, int samples, const float normal[3], float depth) {
  if (covered == 0) return;
  out.mask[dst] = static_cast<float>(covered) / static_cast<float>(samples);
  const float len = std::sqrt(normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2]);
  for (int c = 0; c < 3; ++c) out.normal[dst * 3 + c] = len > 1e-6f ? normal[c] / len : 0.0f;
  out.depth[dst] = depth / static_cast<float>(covered);
}

// An input view framed around its mask and resampled to `size`: each pixel averages k x k
// nearest samples of the area it covers (k = the source pixels per output pixel, 1 to 4), so the
// mask becomes a coverage fraction and normals and depth are means over the covered samples.
Framed frame_input(const ViewMaps& v, int size) {
  FrameBox box;
  const size_t n = static_cast<size_t>(std::max(v.size, 0)) * std::max(v.size, 0);
  if (v.size <= 0 || v.mask.size() != n || v.normal.size() != n * 3 ||
      !frame_from_mask(v.mask, v.size, FrameBox{0, 0, static_cast<float>(v.size)}, kViewMargin, 0.5f, &box))
    return empty_framed(size);
  const bool has_depth = v.depth.size() == n;
  Framed out = empty_framed(size);
  const float step = box.side / static_cast<float>(size);
  const int k = std::clamp(static_cast<int>(std::ceil(step - 1e-3f)), 1, 4);
  for (int row = 0; row < size; ++row)
    for (int col = 0; col < size; ++col) {
      int covered = 0;
      float normal[3] = {0, 0, 0}, depth = 0;
      for (int sy = 0; sy < k; ++sy)
        for (int sx = 0; sx < k; ++sx) {
          const int x = static_cast<int>(std::floor(box.x0 + (col + (sx + 0.5f) / k) * step));
          const int y = static_cast<int>(std::floor(box.y0 + (row + (sy + 0.5f) / k) * step));
          if (x < 0 || y < 0 || x >= v.size || y >= v.size) continue;
          const size_t src = static_cast<size_t>(y) * v.size + x;
          if (v.mask[src] <= 0.5f) continue;
          ++covered;
          for (int c = 0; c < 3; ++c) normal[c] += v.normal[src * 3 + c];
          if (has_depth) depth += v.depth[src];
        }
      store_cell(out, static_cast<size_t>(row) * size + col, covered, k * k, normal, depth);
    }
  return out;
}

// A render at size * ss averaged down to `size` (see frame_input for what the averages are).
Framed average_down(const RenderedView& r, int size, int ss) {
  Framed out = empty_framed(size);
  for (int row = 0; row < size; ++row)
    for (int col = 0; col < size; ++col) {
      int covered = 0;
      float normal[3] = {0, 0, 0}, depth = 0;
      for (int sy = 0; sy < ss; ++sy)
        for (int sx = 0; sx < ss; ++sx) {
          const size_t src = static_cast<size_t>(row * ss + sy) * r.size + (col * ss + sx);
          if (r.mask[src] <= 127) continue;
          ++covered;
          for (int c = 0; c < 3; ++c) normal[c] += r.normal[src * 3 + c] / 127.5f - 1.0f;
          if (!r.depth.empty()) depth += static_cast<float>(r.depth[src]) / kDepthUnitsPerLength;
        }
      store_cell(out, static_cast<size_t>(row) * size + col, covered, ss * ss, normal, depth);
    }
  return out;
}

// The camera of a pose, cropped to the candidate's framing box: the mesh's projected bounding box
// (which is the silhouette's) framed like the inputs, moved and zoomed by the pose, and mapped to
// an image of `size` pixels. False when the mesh is not in front of the camera.
bool framed_camera(const Mesh& unit, const ViewPose& pose, int size, Camera* out) {
  const CameraOptions co;
  const int base = 256;  // any size: only the intrinsics' ratios matter here
  Camera cam = look_at_camera(pose.azimuth_deg, pose.elevation_deg, co.distance, co.fov_deg, base, pose.roll_deg);
  float x0 = std::numeric_limits<float>::infinity(), y0 = x0, x1 = -x0, y1 = -x0;
  for (const auto& p : unit.vertices) {
    const V3 c = cam.to_camera(V3(p));
    if (!(c.z > 1e-3f)) return false;
    const float u = cam.fx * c.x / c.z + cam.cx, v = cam.fy * c.y / c.z + cam.cy;
    x0 = std::min(x0, u);
    x1 = std::max(x1, u);
    y0 = std::min(y0, v);
    y1 = std::max(y1, v);
  }
  if (!(x1 > x0 || y1 > y0)) return false;
  const FrameBox box = framing_box(x0, y0, x1, y1, pose.shift_x, pose.shift_y, pose.zoom);
  const float scale = static_cast<float>(size) / box.side;
  cam.width = cam.height = size;
  cam.fx *= scale;
  cam.fy *= scale;
  cam.cx = (cam.cx - box.x0) * scale;
  cam.cy = (cam.cy - box.y0) * scale;
  *out = cam;
  return true;
}

// Depth agreement on the overlap (see agreement.h), each pixel weighted by the smaller coverage:
// 1 - rmse / std(input) after the weighted least-squares fit input ~ a * candidate + b with
// a >= 0; -1 when the input has no depth information there.
double depth_agreement(const Framed& input, const Framed& candidate) {
  double n = 0, sx = 0, sy = 0;
  for (size_t i = 0; i < input.mask.size(); ++i) {
    const double w = std::min(input.mask[i], candidate.mask[i]);
    if (w <= 0) continue;
    n += w;
    sx += w * candidate.depth[i];
    sy += w * input.depth[i];
  }
  if (n < kMinDepthPixels) return -1;
  const double mx = sx / n, my = sy / n;
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < input.mask.size(); ++i) {
    const double w = std::min(input.mask[i], candidate.mask[i]);
    if (w <= 0) continue;
    const double dx = candidate.depth[i] - mx, dy = input.depth[i] - my;
    sxx += w * dx * dx;
    sxy += w * dx * dy;
    syy += w * dy * dy;
  }
  const double std_y = std::sqrt(syy / n);
  if (!(std_y > 1e-9 + 1e-5 * std::fabs(my))) return -1;  // flat input (no depth, or a constant)
  const double a = sxx > 0 ? std::max(0.0, sxy / sxx) : 0.0;
  const double residual = std::max(0.0, syy - 2 * a * sxy + a * a * sxx);
  return std::clamp(1.0 - std::sqrt(residual / n) / std_y, 0.0, 1.0);
}

ViewAgreement compare(const Framed& input, const Framed& candidate, const AgreementOptions& o) {
  double inter = 0, uni = 0, normal_sum = 0;  // normal_sum: the weighted sum of the per-pixel normal agreement
  for (size_t i = 0; i < input.mask.size(); ++i) {
    const double a = input.mask[i], b = candidate.mask[i];
    uni += std::max(a, b);
    const double w = std::min(a, b);
    if (w > 0) {
      inter += w;
      double d = 0;
      for (int k = 0; k < 3; ++k) d += input.normal[i * 3 + k] * candidate.normal[i * 3 + k];
      normal_sum += w * (o.angular_normals ? std::max(0.0, 1.0 - std::acos(std::clamp(d, -1.0, 1.0)) / (kPi / 2))
                                        : std::max(0.0, d));
    }
  }
  ViewAgreement v;
  v.mask_iou = uni > 0 ? inter / uni : 0.0;
  v.normal_agreement = inter > 0 ? normal_sum / inter : 0.0;
  v.depth_agreement = o.depth_weight > 0 ? depth_agreement(input, candidate) : -1;
  const double base = 1.0 - o.normal_weight - o.depth_weight;
  if (v.depth_agreement >= 0) {
    v.score = v.mask_iou * (base + o.normal_weight * v.normal_agreement + o.depth_weight * v.depth_agreement);
  } else {
    const double sum = base + o.normal_weight;
    v.score = sum > 0 ? v.mask_iou * (base + o.normal_weight * v.normal_agreement) / sum : v.mask_iou;
  }
  return v;
}

Mesh unit_mesh(const Mesh& mesh) { return apply_normalization(mesh, unit_sphere_normalization(mesh)); }

// Pose <-> search coordinates: azimuth, elevation, roll (degrees), shift x, y, log zoom.
std::vector<double> pose_vector(const ViewPose& p) {
  return {p.azimuth_deg, p.elevation_deg, p.roll_deg, p.shift_x, p.shift_y, std::log(std::max(p.zoom, 1e-3f))};
}

ViewPose vector_pose(const std::vector<double>& x) {
  ViewPose p;
  p.azimuth_deg = static_cast<float>(std::fmod(x[0] + 720.0, 360.0));
  p.elevation_deg = static_cast<float>(x[1]);
  p.roll_deg = static_cast<float>(x[2]);
  p.shift_x = static_cast<float>(x[3]);
  p.shift_y = static_cast<float>(x[4]);
  p.zoom = static_cast<float>(std::exp(x[5]));
  return p;
}

// First steps move the render by a few pixels at 64x64; floors by about a tenth of one.
const std::vector<SearchDimension>& pose_dimensions() {
  static const std::vector<SearchDimension> dims = {
      {6.0, 0.25, -1e9, 1e9},                           // azimuth (wraps)
      {5.0, 0.25, -85.0, 85.0},                         // elevation
      {4.0, 0.25, -45.0, 45.0},                         // roll
      {0.02, 0.002, -0.25, 0.25},                       // shift x
      {0.02, 0.002, -0.25, 0.25},                       // shift y
      {0.03, 0.002, std::log(0.7), std::log(1.4)}};     // log zoom
  return dims;
}

// The candidate framed at compare_size: rendered into its framing box at supersample x the size
// and averaged down.
Framed render_candidate(ViewRenderer& renderer, const Mesh& unit, const ViewPose& pose, int size, int ss, bool depth) {
  ss = std::clamp(ss, 1, 8);
  Camera cam;
  if (!framed_camera(unit, pose, size * ss, &cam)) return empty_framed(size);
  RenderOptions render;
  render.size = size * ss;
  render.depth = depth;
  return average_down(renderer.render(unit, cam, render), size, ss);
}

// A shape that changed a little needs its pose to follow a little: small first steps, and only
// the coordinates that trade off against proportions (azimuth and elevation foreshorten, zoom
// rescales); roll and shift have no step (never tried).
const std::vector<SearchDimension>& fine_pose_dimensions() {
  static const std::vector<SearchDimension> dims = {
      {1.5, 0.25, -1e9, 1e9},                           // azimuth
      {1.25, 0.25, -85.0, 85.0},                        // elevation
      {0.0, 1.0, -45.0, 45.0},                          // roll: off
      {0.0, 1.0, -0.25, 0.25},                          // shift x: off
      {0.0, 1.0, -0.25, 0.25},                          // shift y: off
      {0.008, 0.002, std::log(0.7), std::log(1.4)}};    // log zoom
  return dims;
}

void average(Agreement& a) {
  a.score = 0;
  for (const auto& v : a.views) a.score += v.score;
  if (!a.views.empty()) a.score /= static_cast<double>(a.views.size());
}

}  // namespace

AgreementScorer::AgreementScorer(const std::vector<ViewMaps>& views, AgreementOptions options)
    : options_(std::move(options)) {
  for (const auto& v : views) inputs_.push_back(frame_input(v, options_.compare_size));
}

Framed AgreementScorer::render_framed(const Mesh& unit, const ViewPose& pose, int supersample) {
  return render_candidate(renderer_, unit, pose, options_.compare_size, supersample, options_.depth_weight > 0);
}

ViewAgreement AgreementScorer::score_view(const Mesh& unit, size_t view, const ViewPose& pose) {
  ViewAgreement a = compare(inputs_[view], render_framed(unit, pose, options_.supersample), options_);
  a.pose = pose;
  return a;
}

Agreement AgreementScorer::measure(const Mesh& mesh) {
  Agreement result;
  result.views.resize(inputs_.size());
  if (mesh.empty() || inputs_.empty()) return result;
  const Mesh unit = unit_mesh(mesh);
  for (float elevation : options_.elevations_deg)
    for (float azimuth : options_.azimuths_deg) {
      ViewPose pose;
      pose.azimuth_deg = azimuth;
      pose.elevation_deg = elevation;
      const Framed candidate = render_framed(unit, pose, options_.grid_supersample);
      for (size_t i = 0; i < inputs_.size(); ++i) {
        ViewAgreement a = compare(inputs_[i], candidate, options_);
        if (a.score > result.views[i].score) {
          a.pose = pose;
          result.views[i] = a;
        }
      }
    }
  average(result);
  result.grid_score = result.score;
  if (options_.pose_evaluations > 0) {
    const double grid = result.score;
    result = refine_poses(mesh, result, options_.pose_evaluations);
    result.grid_score = grid;
  }
  return result;
}

Agreement AgreementScorer::at_poses(const Mesh& mesh, const std::vector<ViewPose>& poses) {
  Agreement result;
  result.views.resize(inputs_.size());
  if (mesh.empty() || poses.size() != inputs_.size()) return result;
  const Mesh unit = unit_mesh(mesh);
  for (size_t i = 0; i < inputs_.size(); ++i) result.views[i] = score_view(unit, i, poses[i]);
  average(result);
  result.grid_score = result.score;
  return result;
}

Agreement AgreementScorer::refine_poses(const Mesh& mesh, const Agreement& start, int evaluations, bool fine) {
  if (start.views.size() != inputs_.size()) return measure(mesh);
  Agreement result = start;
  if (mesh.empty()) return result;
  const Mesh unit = unit_mesh(mesh);
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const ViewAgreement first = score_view(unit, i, start.views[i].pose);
    result.views[i] = first;
    if (evaluations <= 0) continue;
    ViewAgreement best = first;
    PatternSearchOptions search;
    search.max_evaluations = evaluations;
    const auto f = [&](const std::vector<double>& x) {
      const ViewAgreement a = score_view(unit, i, vector_pose(x));
      if (a.score > best.score) best = a;
      return a.score;
    };
    pattern_search(f, pose_vector(first.pose), first.score, fine ? fine_pose_dimensions() : pose_dimensions(), search);
    result.views[i] = best;
  }
  average(result);
  return result;
}

Agreement measure_agreement(const Mesh& mesh, const std::vector<ViewMaps>& views, const AgreementOptions& options) {
  AgreementScorer scorer(views, options);
  return scorer.measure(mesh);
}

int facing_quarter_turns(const Mesh& mesh, const ViewMaps& first_view, const AgreementOptions& options) {
  AgreementOptions grid = options;
  grid.pose_evaluations = 0;
  const Agreement a = measure_agreement(mesh, {first_view}, grid);
  return a.views.empty() ? 0 : view_frame_quarter_turns(a.views.front().pose.azimuth_deg);
}

Image8 candidate_normal_image(const Mesh& mesh, const ViewPose& pose, int size) {
  ViewRenderer renderer;
  const Framed framed = render_candidate(renderer, unit_mesh(mesh), pose, size, 2, false);
  return normals_to_image(framed.normal, framed.mask, size);
}

}  // namespace cadcrafter::app
