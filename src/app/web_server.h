// `cadcrafter serve`: a web page to upload 1-4 photos, follow the reconstruction's stages, turn
// each ranked candidate around in a 3D viewer (three.js, served from the web root: no internet
// needed) and download STEP / GLB / STL / build123d / cad_json files.
//
// Routes (cpp-httplib):
//   GET  /                         the page (<web root>/index.html)
//   GET  /static/<file>            other files of the web root (not its node_modules/)
//   GET  /vendor/three/<file>      three.js from <web root>/node_modules/three (build/ and
//                                  examples/jsm/ only), installed by scripts/setup.sh (npm)
//   GET  /api/limits               the limits below, for the page to check before uploading
//   POST /api/reconstruct          multipart form: "photos" (1..max_photos files), "samples",
//                                  "seed", "size" (the part's longest side: "40mm", "4cm",
//                                  "1.5in"; default 100 mm). With "async" = 1 (form field or
//                                  query) it answers 202 {job, status} at once; otherwise it
//                                  waits and answers 200 with the job's result (index.json), or
//                                  {"error": message} with 400 (bad input), 503 (time limit).
//                                  Refusals: 400 (photo count, bad fields), 413 (upload too
//                                  large), 429 (queue full, with Retry-After).
//   GET  /api/jobs/<id>            {state: queued|running|done|failed, stage, done, total,
//                                  queue_position, elapsed_s, result | error}
//   GET  /jobs/<id>/<path>         files of a finished job's output folder
// Jobs run on `workers` threads in submission order; at most `queue_capacity` wait. Job ids are
// 16 random hex digits; a job's files are served only from its own result folder (relative
// paths without "..", checked again after resolving). Finished jobs are deleted after
// `job_ttl_s` or when more than `max_jobs_kept` are kept. Listens on loopback by default.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "app/reconstruct.h"
#include "util/status.h"

namespace cadcrafter::app {

struct WebServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0 = any free port (tests)
  std::string web_dir;             // the web root; "" = default_web_dir()
  std::string work_dir;            // job folders; "" = a fresh folder under the temp dir (removed at the end)
  ReconstructParams defaults;      // weights, threads, candidates ... (inputs/output/seed/samples/size per job)
  int max_samples = 8;
  int max_photos = 4;              // photos per upload (the pipeline takes 1 to 4)
  size_t max_upload_bytes = 64u << 20;  // the whole request body
  int workers = 1;                 // reconstructions at once (each uses defaults.threads)
  int queue_capacity = 4;          // jobs waiting for a worker; one more is refused with 429
  double job_time_limit_s = 300;   // per job, checked between stages (0 = none); past it: 503
  double job_ttl_s = 3600;         // finished jobs (files + status) are deleted after this
  int max_jobs_kept = 20;          // and the oldest finished ones beyond this count
  // Test hook: called on the worker thread before a job runs (may block to hold the queue).
  std::function<void(const std::string& job_id)> on_job_start;
};

class WebServer {
 public:
  explicit WebServer(WebServerOptions options);
  ~WebServer();
  // Binds (the port is known afterwards) without serving yet.
  Status bind();
  int port() const;
  // Serves until stop() (blocking).
  Status serve();
  // Stops listening, stops queued and running jobs (a running one at its next stage), joins
  // the workers.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The web root: "web" next to the executable, one level up (build/cadcrafter -> web/), or in
// the source tree.
std::string default_web_dir();

// What is missing from a web root for the page to work ("" when nothing): index.html, or
// three.js (node_modules/three, installed by `npm ci` in web/ / scripts/setup.sh).
std::string web_root_problem(const std::string& web_dir);

}  // namespace cadcrafter::app
