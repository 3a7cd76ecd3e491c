#include "app/web_server.h"

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>

#include <nlohmann/json.hpp>

#include "util/atomic_file.h"

#ifndef CADCRAFTER_SOURCE_DIR
#define CADCRAFTER_SOURCE_DIR ""
#endif

namespace cadcrafter::app {

namespace fs = std::filesystem;

namespace {

std::string content_type(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript";
  if (ext == ".css") return "text/css";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
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

void send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

bool send_file(httplib::Response& res, const std::string& path) {
  auto bytes = read_file(path);
  if (!bytes) return false;
  res.set_content(*bytes, content_type(path).c_str());
  return true;
}

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

struct WebServer::Impl {
  WebServerOptions options;
  httplib::Server server;
  int port = -1;
  std::mutex job_mutex;  // one reconstruction at a time: the CPU is the bottleneck anyway
  std::deque<std::string> jobs;
  std::atomic<int> next_job{1};

  void handle_reconstruct(const httplib::Request& req, httplib::Response& res) {
    if (!req.is_multipart_form_data()) return send_json(res, 400, {{"error", "expected a multipart form with photos"}});
    std::vector<httplib::MultipartFormData> photos;
    for (const auto& [name, file] : req.files)
      if (name == "photos") photos.push_back(file);
    if (photos.empty() || photos.size() > 4)
      return send_json(res, 400, {{"error", "upload 1 to 4 photos (got " + std::to_string(photos.size()) + ")"}});
    ReconstructParams params = options.defaults;
    try {
      if (req.has_file("samples")) params.samples = std::stoi(req.get_file_value("samples").content);
      if (req.has_file("seed")) params.seed = std::stoull(req.get_file_value("seed").content);
    } catch (const std::exception&) {
      return send_json(res, 400, {{"error", "samples and seed must be numbers"}});
    }
    if (params.samples < 1 || params.samples > options.max_samples)
      return send_json(res, 400, {{"error", "samples must be in 1.." + std::to_string(options.max_samples)}});

    std::lock_guard<std::mutex> lock(job_mutex);
    const std::string id = "job" + std::to_string(next_job++);
    const std::string job_dir = options.work_dir + "/" + id;
    std::error_code ec;
    fs::create_directories(job_dir + "/uploads", ec);
    if (ec) return send_json(res, 500, {{"error", "cannot create a job folder: " + ec.message()}});
    params.inputs.clear();
    for (size_t i = 0; i < photos.size(); ++i) {
      // The upload's own name is shown in messages but never used as a path.
      std::string ext = fs::path(photos[i].filename).extension().string();
      if (!safe_relative_path("x" + ext)) ext.clear();
      const std::string path = job_dir + "/uploads/photo_" + std::to_string(i) + ext;
      if (auto s = write_file_atomically(path, photos[i].content); !s) return send_json(res, 500, {{"error", s.error().message}});
      params.inputs.push_back(path);
    }
    params.output = job_dir + "/result";
    params.force = false;
    auto result = reconstruct(params);
    if (!result) {
      std::string message = result.error().message;
      // Name the photo as the user knows it, not by our upload path.
      for (size_t i = 0; i < params.inputs.size(); ++i) {
        const auto at = message.find(params.inputs[i]);
        if (at != std::string::npos) message.replace(at, params.inputs[i].size(), photos[i].filename);
      }
      fs::remove_all(job_dir, ec);
      return send_json(res, 400, {{"error", message}});
    }
    jobs.push_back(job_dir);
    while (static_cast<int>(jobs.size()) > options.max_jobs_kept) {
      fs::remove_all(jobs.front(), ec);
      jobs.pop_front();
    }
    auto index = read_file(params.output + "/index.json");
    nlohmann::json answer = {{"job", id}, {"base", "/jobs/" + id + "/"}, {"timings", result->timings}};
    answer["index"] = index ? nlohmann::json::parse(*index, nullptr, false) : nlohmann::json();
    nlohmann::json views = nlohmann::json::array();
    for (size_t i = 0; i < photos.size(); ++i) views.push_back("inputs/view_" + std::to_string(i) + "_input.png");
    answer["views"] = views;
    send_json(res, 200, answer);
  }
};

WebServer::WebServer(WebServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto& o = impl_->options;
  if (o.web_dir.empty()) o.web_dir = default_web_dir();
  if (o.work_dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "cadcrafter_serve_XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    o.work_dir = made ? made : (fs::temp_directory_path() / "cadcrafter_serve").string();
  }
  auto& s = impl_->server;
  s.set_payload_max_length(o.max_upload_bytes);
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);
  Impl* impl = impl_.get();
  s.Get("/", [impl](const httplib::Request&, httplib::Response& res) {
    if (!send_file(res, impl->options.web_dir + "/index.html")) {
      res.status = 500;
      res.set_content("web/index.html not found in " + impl->options.web_dir, "text/plain");
    }
  });
  s.Get(R"(/static/(.+))", [impl](const httplib::Request& req, httplib::Response& res) {
    const std::string rel = req.matches[1];
    if (!safe_relative_path(rel) || !send_file(res, impl->options.web_dir + "/" + rel)) res.status = 404;
  });
  s.Get(R"(/jobs/(job[0-9]+)/(.+))", [impl](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1], rel = req.matches[2];
    if (!safe_relative_path(rel) || !send_file(res, impl->options.work_dir + "/" + id + "/result/" + rel)) {
      res.status = 404;
      return;
    }
    const std::string name = fs::path(rel).filename().string();
    if (name.rfind("model.", 0) == 0)
      res.set_header("Content-Disposition", "attachment; filename=\"" + id + "_" + fs::path(rel).parent_path().filename().string() + "_" + name + "\"");
  });
  s.Post("/api/reconstruct", [impl](const httplib::Request& req, httplib::Response& res) { impl->handle_reconstruct(req, res); });
}

WebServer::~WebServer() { stop(); }

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
  if (impl_) impl_->server.stop();
}

}  // namespace cadcrafter::app
