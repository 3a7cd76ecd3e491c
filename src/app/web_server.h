// `cadcrafter serve`: a small web page to upload 1-4 photos, run reconstruct on them, look at
// the previews and ranking, and download STEP / GLB / STL / build123d files.
//
// Routes (cpp-httplib):
//   GET  /                       the page (web/index.html)
//   GET  /static/<file>          other files of web/
//   POST /api/reconstruct        multipart form: "photos" (1-4 files), "samples", "seed";
//                                runs the pipeline (one job at a time) and answers with the
//                                job id and index.json, or {"error": message} and status 400
//   GET  /jobs/<id>/<path>       files of a finished job's output folder
// Requests are bounded: uploads up to `max_upload_bytes` in total, read/write timeouts, at
// most `max_jobs_kept` job folders kept (the oldest are deleted). Meant for loopback use.
#pragma once

#include <memory>
#include <string>

#include "app/reconstruct.h"
#include "util/status.h"

namespace cadcrafter::app {

struct WebServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0 = any free port (tests)
  std::string web_dir;             // "" = default_web_dir()
  std::string work_dir;            // job folders; "" = a fresh folder under the temp dir
  ReconstructParams defaults;      // weights, threads, ... (inputs/output/seed/samples per job)
  int max_samples = 8;
  int max_jobs_kept = 20;
  size_t max_upload_bytes = 64u << 20;
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
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// web/ next to the executable, one level up, or in the source tree.
std::string default_web_dir();

}  // namespace cadcrafter::app
