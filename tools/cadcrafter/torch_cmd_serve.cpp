// `cadcrafter serve [--port 8080 --host 127.0.0.1]`: the web page (app/web_server.h).
#include <cstdio>
#include <memory>
#include <string>

#include "app/web_server.h"
#include "command.h"

namespace cadcrafter::cli {
namespace {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string weights, web, candidates = "auto";
  int threads = 2, workers = 1, queue = 4, keep_jobs = 20, max_samples = 8;
  double time_limit_s = 300, job_ttl_s = 3600, max_upload_mb = 64;
};

int run_serve(const ServeOptions& o) {
  app::WebServerOptions options;
  options.host = o.host;
  options.port = o.port;
  options.web_dir = o.web.empty() ? app::default_web_dir() : o.web;
  if (const std::string problem = app::web_root_problem(options.web_dir); !problem.empty()) return fail("serve", problem);
  options.defaults.weights_dir = o.weights;
  options.defaults.threads = o.threads;
  options.defaults.candidates = o.candidates;
  options.workers = o.workers;
  options.queue_capacity = o.queue;
  options.max_samples = o.max_samples;
  options.job_time_limit_s = o.time_limit_s;
  options.job_ttl_s = o.job_ttl_s;
  options.max_jobs_kept = o.keep_jobs;
  options.max_upload_bytes = static_cast<size_t>(o.max_upload_mb * 1024 * 1024);
  if (o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1")
    std::fprintf(stderr, "cadcrafter serve: warning: listening on %s, not loopback: anyone who can reach it can run jobs\n",
                 o.host.c_str());
  app::WebServer server(options);
  if (auto s = server.bind(); !s) return fail("serve", s.error().message);
  std::fprintf(stderr, "cadcrafter serve: http://%s:%d/ (web root %s; Ctrl-C to stop)\n", o.host.c_str(), server.port(),
               options.web_dir.c_str());
  if (auto s = server.serve(); !s) return fail("serve", s.error().message);
  return 0;
}

CommandRegistration reg("serve", "Web page: upload photos, view and download ranked CAD candidates", [](CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  app.add_option("--host", o->host, "Address to listen on (loopback by default)")->capture_default_str();
  app.add_option("--port", o->port, "Port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--weights", o->weights, "Folder with estimator.pt (default: the shipped models/)");
  app.add_option("--web-root,--web", o->web,
                 "Folder with index.html and node_modules/three (default: web/ next to the program or one level up)");
  app.add_option("--candidates", o->candidates, "Candidate source of every job: auto, retrieval, diffusion, procedural")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "retrieval", "diffusion", "procedural"}));
  app.add_option("--threads", o->threads, "CPU threads per reconstruction")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--workers", o->workers, "Reconstructions at once")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--queue", o->queue, "Jobs that may wait; more are refused with 429")->capture_default_str()->check(CLI::Range(0, 1000));
  app.add_option("--time-limit", o->time_limit_s, "Seconds per job (0: none); checked between stages")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--max-upload-mb", o->max_upload_mb, "Largest upload (all photos), MiB")->capture_default_str()->check(CLI::Range(0.01, 1024.0));
  app.add_option("--max-samples", o->max_samples, "Most candidates a job may ask for")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--job-ttl", o->job_ttl_s, "Seconds a finished job's files are kept")->capture_default_str()->check(CLI::Range(1.0, 1e7));
  app.add_option("--keep-jobs", o->keep_jobs, "Finished jobs kept at most")->capture_default_str()->check(CLI::Range(1, 100000));
  return [o]() { return run_serve(*o); };
});

}  // namespace
}  // namespace cadcrafter::cli
