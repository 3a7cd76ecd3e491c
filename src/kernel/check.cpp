#include "kernel/check.h"

#include <BRepCheck_Analyzer.hxx>
#include <BRep_Tool.hxx>
#include <Standard_Failure.hxx>
#include <TopExp_Explorer.hxx>
#include <NCollection_DataMap.hxx>
#include <TopTools_ShapeMapHasher.hxx>
#include <TopoDS.hxx>
#include <TopoDS_Edge.hxx>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "kernel/compile.h"
#include "kernel/occt_shape.h"

namespace cadcrafter {

std::string describe_check_problem(const Solid& solid);  // compile.cpp

namespace {

using Clock = std::chrono::steady_clock;
std::atomic<int> g_abandoned{0};

CheckResult failure(ErrorCode code, std::string reason) {
  CheckResult r;
  r.code = code;
  r.reason = std::move(reason);
  return r;
}

// Every edge of a closed 2-manifold solid is used exactly twice by its faces (a seam twice by
// the same face). More uses mean a non-manifold edge, one use a hole in the boundary.
// Edges lying inside a face (INTERNAL/EXTERNAL orientation) bound nothing and are skipped.
std::string non_manifold_problem(const TopoDS_Shape& shape) {
  int solid_index = 0;
  for (TopExp_Explorer solids(shape, TopAbs_SOLID); solids.More(); solids.Next(), ++solid_index) {
    NCollection_DataMap<TopoDS_Shape, int, TopTools_ShapeMapHasher> uses;
    for (TopExp_Explorer edges(solids.Current(), TopAbs_EDGE); edges.More(); edges.Next()) {
      const TopoDS_Edge& edge = TopoDS::Edge(edges.Current());
      const TopAbs_Orientation o = edge.Orientation();
      if ((o != TopAbs_FORWARD && o != TopAbs_REVERSED) || BRep_Tool::Degenerated(edge)) continue;
      if (int* n = uses.ChangeSeek(edge)) {
        ++*n;
      } else {
        uses.Bind(edge, 1);
      }
    }
    for (NCollection_DataMap<TopoDS_Shape, int, TopTools_ShapeMapHasher>::Iterator it(uses); it.More(); it.Next()) {
      if (it.Value() > 2)
        return "non-manifold result (solid " + std::to_string(solid_index) + " has an edge shared by " + std::to_string(it.Value()) +
               " faces)";
      if (it.Value() < 2) return "result is not closed (solid " + std::to_string(solid_index) + " has a free edge)";
    }
  }
  return {};
}

CheckResult check_now(const CadModel& model, const CheckOptions& options, const std::atomic<bool>* cancel) {
  CompileOptions copt;
  copt.timeout_ms = options.timeout_ms;
  copt.cancel = cancel;
  copt.check_faces = options.check_faces;
  auto solid = compile_model(model, copt);
  if (!solid) return failure(solid.error().code, solid.error().message);
  try {
    const ShapeProperties props = shape_properties(*solid);
    CheckResult r;
    r.volume = props.volume;
    r.area = props.area;
    r.n_solids = props.n_solids;
    r.bbox = props.bbox;
    if (options.keep_solid) r.solid = *solid;
    r.code = ErrorCode::kGeometry;
    if (props.n_solids == 0) {
      r.reason = "result is empty";
      return r;
    }
    if (options.check_validity) {
      const TopoDS_Shape& shape = occt_shape(*solid);
      if (!BRepCheck_Analyzer(shape).IsValid()) {
        r.reason = describe_check_problem(*solid);
        return r;
      }
      r.reason = non_manifold_problem(shape);
      if (!r.reason.empty()) return r;
    }
    if (!(props.volume > 0.0)) {
      r.reason = "result has no positive volume (" + std::to_string(props.volume) + ")";
      return r;
    }
    r.valid = true;
    return r;
  } catch (const Standard_Failure& f) {
    return failure(ErrorCode::kGeometry, std::string("checking the result: OCCT ") + f.DynamicType()->Name());
  } catch (const std::exception& e) {
    return failure(ErrorCode::kInternal, std::string("checking the result: ") + e.what());
  }
}

// State shared by the waiting caller and the worker thread; whoever finishes last frees it.
struct Job {
  CadModel model;
  CheckOptions options;
  std::atomic<bool> cancel{false};
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  CheckResult result;
};

}  // namespace

int abandoned_check_count() { return g_abandoned.load(); }

CheckResult check_model(const CadModel& model, const CheckOptions& options) {
  const auto start = Clock::now();
  auto elapsed_ms = [&] { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); };
  CheckResult result;
  if (options.timeout_ms <= 0) {
    result = check_now(model, options, nullptr);
  } else {
    auto job = std::make_shared<Job>();
    job->model = model;
    job->options = options;
    std::thread([job] {
      CheckResult r;
      try {
        r = check_now(job->model, job->options, &job->cancel);
      } catch (...) {
        r = failure(ErrorCode::kInternal, "unexpected exception in the kernel");
      }
      std::lock_guard<std::mutex> lock(job->mu);
      job->result = std::move(r);
      job->done = true;
      job->cv.notify_all();
    }).detach();
    std::unique_lock<std::mutex> lock(job->mu);
    // The build polls its own deadline; the extra margin covers the uncancellable tail
    // (measuring, BRepCheck) before we give up on it.
    const auto limit = std::chrono::milliseconds(options.timeout_ms);
    if (!job->cv.wait_for(lock, limit + std::chrono::milliseconds(200), [&] { return job->done; })) {
      job->cancel = true;
      if (!job->cv.wait_for(lock, limit / 2 + std::chrono::milliseconds(500), [&] { return job->done; })) {
        ++g_abandoned;
        result = failure(ErrorCode::kTimeout, "timed out after " + std::to_string(options.timeout_ms) + " ms (build abandoned)");
        result.ms = elapsed_ms();
        return result;
      }
    }
    result = std::move(job->result);
  }
  result.ms = elapsed_ms();
  return result;
}

}  // namespace cadcrafter
