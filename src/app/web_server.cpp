#include "app/web_server.h"

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "util/atomic_file.h"

#ifndef CADCRAFTER_SOURCE_DIR
#define CADCRAFTER_SOURCE_DIR ""
#endif

namespace cadcrafter::app {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string content_type(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript";
  if (ext == ".css") return "text/css";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".json") return "application/json";
  if (ext == ".md" || ext == ".py") return "text/plain; charset=utf-8";
  if (ext == ".glb") return "model/gltf-binary";
  if (ext == ".stl") return "model/stl";
  if (ext == ".step") return "model/step";
  return "application/octet-stream";
}

// A relative path that stays inside its folder (no "..", no absolute paths, plain characters).
bool safe_relative_path(const std::string& p) {
  if (p.empty() || p.size() > 200 || p[0] == '/') return false;
  for (char c : p)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/')) return false;
  for (const auto& part : fs::path(p))
    if (part == ".." || part == ".") return false;
  return true;
}

// root/rel when it is a regular file that, with every link resolved, is still under root.
bool resolve_inside(const std::string& root, const std::string& rel, std::string& out) {
  if (!safe_relative_path(rel)) return false;
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(root, ec);
  if (ec) return false;
  const fs::path full = fs::weakly_canonical(fs::path(root) / rel, ec);
  if (ec || !fs::is_regular_file(full, ec)) return false;
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (b != base.end() || f == full.end()) return false;
  out = full.string();
  return true;
}

void send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) { send_json(res, status, {{"error", message}}); }

bool send_file(httplib::Response& res, const std::string& path) {
  auto bytes = read_file(path);
  if (!bytes) return false;
  res.set_content(*bytes, content_type(path).c_str());
  return true;
}

std::string megabytes(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g MB", static_cast<double>(bytes) / 1e6);
  return text;
}

std::string random_job_id() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32)};
  std::lock_guard<std::mutex> lock(mu);
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(rng()));
  return id;
}

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

}  // namespace

std::string default_web_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const fs::path& dir : {exe.parent_path() / "web", exe.parent_path().parent_path() / "web"})
      if (fs::is_regular_file(dir / "index.html", ec)) return dir.string();
  }
  const std::string source = CADCRAFTER_SOURCE_DIR;
  if (!source.empty() && fs::is_regular_file(source + "/web/index.html", ec)) return source + "/web";
  return "web";
}

std::string web_root_problem(const std::string& web_dir) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(web_dir) / "index.html", ec))
    return "no index.html in the web root " + web_dir + " (give the web/ folder of cadcrafter with --web-root)";
  if (!fs::is_regular_file(fs::path(web_dir) / "node_modules/three/build/three.module.js", ec))
    return "three.js (the 3D viewer) is not installed in " + web_dir +
           "/node_modules: run scripts/setup.sh, or `npm ci` in " + web_dir;
  return "";
}

struct WebServer::Impl {
  enum class State { kQueued, kRunning, kDone, kFailed };
  struct Job {
    std::string id, dir;
    std::vector<std::string> names;  // the uploads' own names, for messages
    ReconstructParams params;
    State state = State::kQueued;
    std::string stage = "queued";
    int done = 0, total = 0;
    int http_status = 200;
    nlohmann::json answer;  // done: the result; failed: {"error": ...}
    Clock::time_point created, started, finished;
  };

  WebServerOptions options;
  bool own_work_dir = false;
  httplib::Server server;
  int port = -1;

  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::map<std::string, std::shared_ptr<Job>> jobs;
  std::deque<std::shared_ptr<Job>> queue;
  std::deque<std::string> finished;  // ids, oldest first
  std::vector<std::thread> workers;
  std::atomic<bool> stopping{false};

  static bool is_finished(const Job& j) { return j.state == State::kDone || j.state == State::kFailed; }

  nlohmann::json limits_json() const {
    return {{"max_photos", options.max_photos},
            {"max_upload_bytes", options.max_upload_bytes},
            {"max_samples", options.max_samples},
            {"default_size", format_length(default_part_size())},
            {"job_time_limit_s", options.job_time_limit_s},
            {"queue_capacity", options.queue_capacity},
            {"workers", options.workers}};
  }

  // Deletes finished jobs past their time to live or beyond max_jobs_kept (caller holds mu).
  void cleanup_locked() {
    const auto now = Clock::now();
    std::error_code ec;
    while (!finished.empty()) {
      auto it = jobs.find(finished.front());
      const bool expired = it == jobs.end() || seconds_between(it->second->finished, now) > options.job_ttl_s ||
                           static_cast<int>(finished.size()) > options.max_jobs_kept;
      if (!expired) break;
      if (it != jobs.end()) {
        fs::remove_all(it->second->dir, ec);
        jobs.erase(it);
      }
      finished.pop_front();
    }
  }

  void finish_locked(Job& job, int http_status, nlohmann::json answer) {
    job.state = http_status == 200 ? State::kDone : State::kFailed;
    job.http_status = http_status;
    job.answer = std::move(answer);
    job.finished = Clock::now();
    job.stage = job.state == State::kDone ? "done" : "failed";
    if (job.state == State::kFailed) {
      std::error_code ec;
      fs::remove_all(job.dir, ec);  // a failed job leaves no files, only its status
    }
    finished.push_back(job.id);
    done_cv.notify_all();
  }

  void run_job(const std::shared_ptr<Job>& job) {
    ReconstructParams params = job->params;
    params.time_limit_s = options.job_time_limit_s;
    params.stop_requested = [this]() { return stopping.load(); };
    const auto progress = [this, job](const std::string& stage, int done, int total) {
      std::lock_guard<std::mutex> lock(mu);
      job->stage = stage;
      job->done = done;
      job->total = total;
    };
    auto result = reconstruct(params, progress);
    std::lock_guard<std::mutex> lock(mu);
    if (!result) {
      std::string message = result.error().message;
      // Name the photo as the user knows it, not by our upload path.
      for (size_t i = 0; i < params.inputs.size(); ++i)
        for (auto at = message.find(params.inputs[i]); at != std::string::npos; at = message.find(params.inputs[i]))
          message.replace(at, params.inputs[i].size(), job->names[i]);
      const bool timeout = result.error().code == ErrorCode::kTimeout;
      return finish_locked(*job, timeout ? 503 : 400, {{"error", message}, {"job", job->id}});
    }
    auto index = read_file(params.output + "/index.json");
    nlohmann::json answer = {{"job", job->id}, {"base", "/jobs/" + job->id + "/"}, {"timings", result->timings}};
    answer["index"] = index ? nlohmann::json::parse(*index, nullptr, false) : nlohmann::json();
    nlohmann::json views = nlohmann::json::array();
    for (size_t i = 0; i < params.inputs.size(); ++i) views.push_back("inputs/view_" + std::to_string(i) + "_input.png");
    answer["views"] = views;
    answer["size"] = format_length(params.size);
    finish_locked(*job, 200, std::move(answer));
  }

  void worker_loop() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      cleanup_locked();
      if (queue.empty()) {
        work_cv.wait_for(lock, std::chrono::milliseconds(250));
        continue;
      }
      std::shared_ptr<Job> job = queue.front();
      queue.pop_front();
      job->state = State::kRunning;
      job->stage = "starting";
      job->started = Clock::now();
      lock.unlock();
      if (options.on_job_start) options.on_job_start(job->id);
      run_job(job);
      lock.lock();
    }
  }

  nlohmann::json status_json_locked(const Job& job) const {
    static const char* names[] = {"queued", "running", "done", "failed"};
    nlohmann::json j = {{"job", job.id}, {"state", names[static_cast<int>(job.state)]}, {"stage", job.stage},
                        {"done", job.done}, {"total", job.total}};
    const auto now = Clock::now();
    j["elapsed_s"] = seconds_between(job.created, is_finished(job) ? job.finished : now);
    if (job.state == State::kQueued) {
      int position = 0;
      for (const auto& q : queue) {
        ++position;
        if (q.get() == &job) break;
      }
      j["queue_position"] = position;
    }
    if (job.state == State::kDone) j["result"] = job.answer;
    if (job.state == State::kFailed) {
      j["error"] = job.answer.value("error", std::string("failed"));
      j["status"] = job.http_status;
    }
    return j;
  }

  void refuse_busy(httplib::Response& res) {
    res.set_header("Retry-After", "30");
    send_error(res, 429,
               "the server is busy: " + std::to_string(options.queue_capacity) +
                   " reconstructions are already waiting; try again in a minute");
  }

  void handle_reconstruct(const httplib::Request& req, httplib::Response& res) {
    if (!req.is_multipart_form_data()) return send_error(res, 400, "expected a multipart form with photos");
    std::vector<httplib::MultipartFormData> photos;
    for (const auto& [name, file] : req.files)
      if (name == "photos") photos.push_back(file);
    if (photos.empty() || static_cast<int>(photos.size()) > options.max_photos)
      return send_error(res, 400,
                        "upload 1 to " + std::to_string(options.max_photos) + " photos of the part (got " +
                            std::to_string(photos.size()) + ")");
    for (const auto& p : photos)
      if (p.content.empty()) return send_error(res, 400, (p.filename.empty() ? "a photo" : p.filename) + " is empty");
    ReconstructParams params = options.defaults;
    try {
      if (req.has_file("samples")) params.samples = std::stoi(req.get_file_value("samples").content);
      if (req.has_file("seed")) params.seed = std::stoull(req.get_file_value("seed").content);
    } catch (const std::exception&) {
      return send_error(res, 400, "samples and seed must be numbers");
    }
    if (params.samples < 1 || params.samples > options.max_samples)
      return send_error(res, 400, "samples must be in 1.." + std::to_string(options.max_samples));
    if (req.has_file("size")) {
      const std::string text = req.get_file_value("size").content;
      if (!text.empty()) {
        auto size = parse_length(text);
        if (!size) return send_error(res, 400, "size: " + size.error().message);
        params.size = *size;
      }
    }
    const double size_mm = params.size.millimetres();
    if (!(size_mm >= kMinPartSizeMm && size_mm <= kMaxPartSizeMm))
      return send_error(res, 400, "size " + format_length(params.size) + ": give the part's longest side between 0.01 mm and 100 m");
    const bool async = req.has_param("async") || (req.has_file("async") && req.get_file_value("async").content != "0");
    {
      std::lock_guard<std::mutex> lock(mu);
      if (static_cast<int>(queue.size()) >= options.queue_capacity) return refuse_busy(res);
    }

    auto job = std::make_shared<Job>();
    job->id = random_job_id();
    job->dir = options.work_dir + "/" + job->id;
    job->created = Clock::now();
    std::error_code ec;
    fs::create_directories(job->dir + "/uploads", ec);
    if (ec) return send_error(res, 500, "cannot create a job folder: " + ec.message());
    params.inputs.clear();
    for (size_t i = 0; i < photos.size(); ++i) {
      // The upload's own name is shown in messages but never used as a path.
      std::string ext = fs::path(photos[i].filename).extension().string();
      if (!safe_relative_path("x" + ext)) ext.clear();
      const std::string path = job->dir + "/uploads/photo_" + std::to_string(i) + ext;
      if (auto s = write_file_atomically(path, photos[i].content); !s) {
        fs::remove_all(job->dir, ec);
        return send_error(res, 500, s.error().message);
      }
      params.inputs.push_back(path);
      job->names.push_back(photos[i].filename.empty() ? "photo " + std::to_string(i + 1) : photos[i].filename);
    }
    params.output = job->dir + "/result";
    params.force = false;
    job->params = std::move(params);

    std::unique_lock<std::mutex> lock(mu);
    if (stopping || static_cast<int>(queue.size()) >= options.queue_capacity) {
      fs::remove_all(job->dir, ec);
      if (stopping) return send_error(res, 503, "the server is stopping");
      return refuse_busy(res);
    }
    jobs[job->id] = job;
    queue.push_back(job);
    work_cv.notify_one();
    if (async) {
      res.status = 202;
      nlohmann::json answer = status_json_locked(*job);
      answer["status_url"] = "/api/jobs/" + job->id;
      return send_json(res, 202, answer);
    }
    done_cv.wait(lock, [&] { return is_finished(*job) || stopping; });
    if (!is_finished(*job)) return send_error(res, 503, "the server is stopping");
    send_json(res, job->http_status, job->answer);
  }

  void handle_job_file(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1], rel = req.matches[2];
    std::string dir;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = jobs.find(id);
      if (it == jobs.end() || it->second->state != State::kDone) return send_error(res, 404, "no such job (or it expired)");
      dir = it->second->dir + "/result";
    }
    std::string path;
    if (!resolve_inside(dir, rel, path) || !send_file(res, path)) return send_error(res, 404, "no such file");
    const std::string name = fs::path(rel).filename().string();
    if (name.rfind("model.", 0) == 0 || name.rfind("sequence.", 0) == 0)
      res.set_header("Content-Disposition", "attachment; filename=\"" + id.substr(0, 6) + "_" +
                                                fs::path(rel).parent_path().filename().string() + "_" + name + "\"");
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
      for (auto& job : queue) finish_locked(*job, 503, {{"error", "the server is stopping"}});
      queue.clear();
    }
    work_cv.notify_all();
    done_cv.notify_all();
    server.stop();
    for (auto& w : workers)
      if (w.joinable()) w.join();
    workers.clear();
  }
};

WebServer::WebServer(WebServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto& o = impl_->options;
  o.workers = std::max(1, o.workers);
  o.queue_capacity = std::max(0, o.queue_capacity);
  o.max_photos = std::clamp(o.max_photos, 1, 4);
  if (o.web_dir.empty()) o.web_dir = default_web_dir();
  if (o.work_dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "cadcrafter_serve_XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    o.work_dir = made ? made : (fs::temp_directory_path() / "cadcrafter_serve").string();
    impl_->own_work_dir = made != nullptr;
  }
  auto& s = impl_->server;
  s.set_payload_max_length(o.max_upload_bytes);
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);
  Impl* impl = impl_.get();
  // Refusals without a body of their own get a message (httplib's 413 for a too large upload).
  s.set_error_handler([impl](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413)
      send_error(res, 413,
                 "the upload is too large: at most " + megabytes(impl->options.max_upload_bytes) +
                     " in all (use smaller photos, e.g. JPEG under 10 MB each)");
    else if (res.status == 404)
      send_error(res, 404, "not found");
  });
  s.Get("/", [impl](const httplib::Request&, httplib::Response& res) {
    if (!send_file(res, impl->options.web_dir + "/index.html")) {
      res.status = 500;
      res.set_content("index.html not found in the web root " + impl->options.web_dir + " (--web-root)", "text/plain");
    }
  });
  s.Get(R"(/static/(.+))", [impl](const httplib::Request& req, httplib::Response& res) {
    const std::string rel = req.matches[1];
    std::string path;
    if (rel.rfind("node_modules", 0) == 0 || !resolve_inside(impl->options.web_dir, rel, path) || !send_file(res, path))
      send_error(res, 404, "no such file");
  });
  s.Get(R"(/vendor/three/(.+))", [impl](const httplib::Request& req, httplib::Response& res) {
    const std::string rel = req.matches[1];
    const std::string root = impl->options.web_dir + "/node_modules/three";
    std::string path;
    if ((rel.rfind("build/", 0) != 0 && rel.rfind("examples/jsm/", 0) != 0) || !resolve_inside(root, rel, path) ||
        !send_file(res, path)) {
      std::error_code ec;
      send_error(res, 404,
                 fs::is_directory(root, ec) ? "no such file"
                                            : "three.js is not installed in " + impl->options.web_dir +
                                                  "/node_modules: run scripts/setup.sh (npm ci in web/)");
    }
  });
  s.Get("/api/limits", [impl](const httplib::Request&, httplib::Response& res) { send_json(res, 200, impl->limits_json()); });
  s.Get(R"(/api/jobs/([0-9a-f]{16}))", [impl](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(impl->mu);
    auto it = impl->jobs.find(req.matches[1]);
    if (it == impl->jobs.end()) return send_error(res, 404, "no such job (or it expired)");
    send_json(res, 200, impl->status_json_locked(*it->second));
  });
  s.Get(R"(/jobs/([0-9a-f]{16})/(.+))", [impl](const httplib::Request& req, httplib::Response& res) { impl->handle_job_file(req, res); });
  s.Post("/api/reconstruct", [impl](const httplib::Request& req, httplib::Response& res) { impl->handle_reconstruct(req, res); });
  for (int i = 0; i < o.workers; ++i) impl_->workers.emplace_back([impl] { impl->worker_loop(); });
}

WebServer::~WebServer() {
  stop();
  if (impl_->own_work_dir) {
    std::error_code ec;
    fs::remove_all(impl_->options.work_dir, ec);
  }
}

Status WebServer::bind() {
  auto& o = impl_->options;
  if (o.port == 0) {
    impl_->port = impl_->server.bind_to_any_port(o.host);
  } else {
    impl_->port = impl_->server.bind_to_port(o.host, o.port) ? o.port : -1;
  }
  if (impl_->port < 0)
    return Status::fail(ErrorCode::kIo, "cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use?)");
  return {};
}

int WebServer::port() const { return impl_->port; }

Status WebServer::serve() {
  if (impl_->port < 0) {
    if (auto s = bind(); !s) return s;
  }
  if (!impl_->server.listen_after_bind()) return Status::fail(ErrorCode::kIo, "the web server stopped with an error");
  return {};
}

void WebServer::stop() {
  if (impl_) impl_->stop();
}

}  // namespace cadcrafter::app
