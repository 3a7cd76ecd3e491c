// The web page server on loopback: the page and its viewer files, bounded and validated
// requests (photo count, upload size -> 413, queue full -> 429, per-job time limit -> 503),
// path safety (traversal in plain and encoded forms, links out of a job folder), job status and
// stages, cleanup of old jobs, and a full upload -> ranking -> download round trip when the
// shipped estimator exists.
#include <gtest/gtest.h>

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/web_server.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace cadcrafter::app {
namespace {

namespace fs = std::filesystem;
using cadcrafter::testing::TempDir;
using Json = nlohmann::json;

std::string example_photo(int i = 1) {
  return cadcrafter::testing::source_dir() + "/examples/photos/bracket_" + std::to_string(i) + ".jpg";
}
bool have_estimator() {
  return fs::exists(cadcrafter::testing::source_dir() + "/models/estimator.pt") && fs::exists(example_photo());
}
#define REQUIRE_ESTIMATOR() \
  if (!have_estimator()) GTEST_SKIP() << "no shipped estimator or example photo"

class WebServerTest : public ::testing::Test {
 protected:
  // Starts a server on a free loopback port; `adjust` changes the test defaults first.
  void start(const std::function<void(WebServerOptions&)>& adjust = {}) {
    WebServerOptions o;
    o.port = 0;
    o.web_dir = cadcrafter::testing::source_dir() + "/web";
    o.work_dir = work_.path();
    o.defaults.weights_dir = cadcrafter::testing::source_dir() + "/models";
    o.defaults.threads = 2;
    o.max_upload_bytes = 4u << 20;
    if (adjust) adjust(o);
    server_ = std::make_unique<WebServer>(o);
    ASSERT_TRUE(server_->bind().ok());
    thread_ = std::thread([this] { (void)server_->serve(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(120, 0);
    for (int i = 0; i < 100 && !client_->Get("/"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  static void fast(WebServerOptions& o) { o.defaults.candidates = "procedural"; }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Result post_photos(const std::vector<std::pair<std::string, std::string>>& files, int samples = 1,
                              bool async = false, const std::string& size = "") {
    httplib::MultipartFormDataItems items;
    for (const auto& [name, bytes] : files) items.push_back({"photos", bytes, name, "application/octet-stream"});
    items.push_back({"samples", std::to_string(samples), "", ""});
    items.push_back({"seed", "3", "", ""});
    if (!size.empty()) items.push_back({"size", size, "", ""});
    return client_->Post(async ? "/api/reconstruct?async=1" : "/api/reconstruct", items);
  }
  std::string photo_bytes(int i = 1) { return *read_file(example_photo(i)); }
  Json job_status(const std::string& id) {
    auto res = client_->Get(("/api/jobs/" + id).c_str());
    if (!res) return Json();
    Json j = Json::parse(res->body, nullptr, false);
    j["http"] = res->status;
    return j;
  }
  // Polls a job until it is done or failed; collects the stages it reported.
  Json wait_for(const std::string& id, std::set<std::string>* stages = nullptr) {
    for (int i = 0; i < 1200; ++i) {
      Json j = job_status(id);
      if (stages && j.contains("stage")) stages->insert(j["stage"].get<std::string>());
      if (j["state"] == "done" || j["state"] == "failed") return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return Json();
  }
  static std::string error_of(const httplib::Result& res) {
    return res ? Json::parse(res->body, nullptr, false).value("error", std::string()) : std::string();
  }
  TempDir work_;
  std::unique_ptr<WebServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(WebServerTest, ServesThePageAndTheViewer) {
  start();
  auto res = client_->Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("/api/reconstruct"), std::string::npos);
  EXPECT_NE(res->body.find("/vendor/three/build/three.module.js"), std::string::npos);  // the import map
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/html", 0), 0u);
  auto viewer = client_->Get("/static/viewer.js");
  ASSERT_TRUE(viewer);
  EXPECT_EQ(viewer->status, 200);
  EXPECT_EQ(viewer->get_header_value("Content-Type"), "text/javascript");
  EXPECT_NE(viewer->body.find("OrbitControls"), std::string::npos);

  auto limits = client_->Get("/api/limits");
  ASSERT_TRUE(limits);
  const Json l = Json::parse(limits->body);
  EXPECT_EQ(l["max_photos"], 4);
  EXPECT_EQ(l["max_upload_bytes"], 4u << 20);
  EXPECT_EQ(l["default_size"], "100 mm");

  // Only three's build/ and examples/jsm/ are served, never the rest of node_modules.
  for (const char* path : {"/vendor/three/package.json", "/static/node_modules/three/package.json",
                           "/vendor/three/build/../package.json", "/static/node_modules/playwright-core/package.json"}) {
    auto refused = client_->Get(path);
    ASSERT_TRUE(refused) << path;
    EXPECT_EQ(refused->status, 404) << path;
  }
  const std::string web = cadcrafter::testing::source_dir() + "/web";
  if (!web_root_problem(web).empty()) GTEST_SKIP() << web_root_problem(web);
  auto three = client_->Get("/vendor/three/build/three.module.js");
  ASSERT_TRUE(three);
  EXPECT_EQ(three->status, 200);
  EXPECT_EQ(three->get_header_value("Content-Type"), "text/javascript");
  EXPECT_GT(three->body.size(), 100000u);
  auto controls = client_->Get("/vendor/three/examples/jsm/controls/OrbitControls.js");
  ASSERT_TRUE(controls);
  EXPECT_EQ(controls->status, 200);
}

TEST(WebRoot, NamesWhatIsMissing) {
  TempDir dir;
  EXPECT_NE(web_root_problem(dir.path()).find("no index.html"), std::string::npos);
  ASSERT_TRUE(write_file_atomically(dir / "index.html", "<html></html>").ok());
  const std::string problem = web_root_problem(dir.path());
  EXPECT_NE(problem.find("three.js"), std::string::npos) << problem;
  EXPECT_NE(problem.find("setup.sh"), std::string::npos) << problem;
}

TEST_F(WebServerTest, RefusesBadRequests) {
  start([](WebServerOptions& o) { o.max_photos = 2; });
  auto none = client_->Post("/api/reconstruct", httplib::MultipartFormDataItems{{"seed", "1", "", ""}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 400);
  EXPECT_NE(error_of(none).find("1 to 2"), std::string::npos) << error_of(none);

  auto text = post_photos({{"holiday.jpg", "definitely not a jpeg"}});
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 400);
  const std::string error = error_of(text);
  EXPECT_NE(error.find("holiday.jpg"), std::string::npos) << error;  // the user's name, not our path
  EXPECT_EQ(error.find(work_.path()), std::string::npos) << error;

  auto three = post_photos({{"a.png", "x"}, {"b.png", "x"}, {"c.png", "x"}});
  ASSERT_TRUE(three);
  EXPECT_EQ(three->status, 400);
  EXPECT_NE(error_of(three).find("upload 1 to 2 photos of the part (got 3)"), std::string::npos) << error_of(three);

  auto empty = post_photos({{"empty.jpg", ""}});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  EXPECT_NE(error_of(empty).find("empty.jpg is empty"), std::string::npos) << error_of(empty);

  auto too_many_samples = post_photos({{"a.png", "x"}}, 1000);
  ASSERT_TRUE(too_many_samples);
  EXPECT_EQ(too_many_samples->status, 400);

  for (const char* size : {"5 parsecs", "0mm", "1km"}) {
    auto bad_size = post_photos({{"a.png", "x"}}, 1, false, size);
    ASSERT_TRUE(bad_size);
    EXPECT_EQ(bad_size->status, 400) << size;
    EXPECT_NE(error_of(bad_size).find("size"), std::string::npos) << error_of(bad_size);
  }

  // Bodies over the upload limit: 413 with a message that says the limit.
  auto huge = post_photos({{"big.jpg", std::string(5u << 20, 'x')}});
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  EXPECT_NE(error_of(huge).find("too large: at most 4.19 MB"), std::string::npos) << huge->body;
  // The server still answers afterwards.
  auto page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);

  // Nothing left behind by the refused and failed jobs.
  EXPECT_TRUE(fs::is_empty(work_.path()));
}

TEST_F(WebServerTest, JobFilesAreReachableOnlyInsideTheirJob) {
  REQUIRE_ESTIMATOR();
  start(fast);
  auto res = post_photos({{"bracket.jpg", photo_bytes()}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const Json answer = Json::parse(res->body);
  const std::string id = answer["job"], base = answer["base"];
  ASSERT_EQ(id.size(), 16u);  // random hex: not guessable from another job's id
  auto index = client_->Get((base + "index.json").c_str());
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);  // the control: a real file of the job

  // A link planted in the result folder that points outside it is not followed.
  const fs::path result = fs::path(work_ / id) / "result";
  ASSERT_TRUE(fs::is_directory(result));
  fs::create_symlink("/etc/passwd", result / "passwd.json");
  fs::create_symlink(fs::path(work_ / id) / "uploads", result / "up");

  const std::string j = "/jobs/" + id + "/";
  for (const std::string& path : std::vector<std::string>{
        "/jobs/" + id + "/../../etc/passwd", j + "..%2f..%2f..%2fetc%2fpasswd", j + "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        j + "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", j + "..%252f..%252fetc%252fpasswd", j + "....//....//etc/passwd",
        j + "%2fetc%2fpasswd", j + "/etc/passwd", j + "../uploads/photo_0.jpg", j + "..%2fuploads%2fphoto_0.jpg",
        j + "passwd.json", j + "up/photo_0.jpg", j + "index.json%00.png", "/jobs/..%2f..%2f..%2fetc/passwd",
        "/jobs/" + id + "%2f..%2f..%2fetc/passwd", "/jobs/job1/index.json", "/jobs/0000000000000000/index.json",
        "/static/../CMakeLists.txt", "/static/%2e%2e/CMakeLists.txt", "/static/..%2fCMakeLists.txt",
        "/vendor/three/build/%2e%2e/%2e%2e/%2e%2e/package.json"}) {
    auto refused = client_->Get(path.c_str());
    ASSERT_TRUE(refused) << path;
    EXPECT_TRUE(refused->status == 404 || refused->status == 400) << path << " -> " << refused->status;
    EXPECT_EQ(refused->body.find("root:"), std::string::npos) << path;
    EXPECT_EQ(refused->body.find("cmake_minimum_required"), std::string::npos) << path;
    EXPECT_EQ(refused->body.find("\xff\xd8"), std::string::npos) << path;  // no JPEG upload either
  }
}

TEST_F(WebServerTest, QueueFullAnswers429) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  start([&](WebServerOptions& o) {
    o.workers = 1;
    o.queue_capacity = 1;
    o.on_job_start = [released](const std::string&) { released.wait(); };  // hold the worker
  });
  auto a = post_photos({{"a.jpg", "not a photo"}}, 1, true);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->status, 202) << a->body;
  const std::string id_a = Json::parse(a->body)["job"];
  for (int i = 0; i < 200 && job_status(id_a)["state"] != "running"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(job_status(id_a)["state"], "running");

  auto b = post_photos({{"b.jpg", "not a photo"}}, 1, true);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->status, 202) << b->body;
  const Json queued = Json::parse(b->body);
  EXPECT_EQ(queued["state"], "queued");
  EXPECT_EQ(queued["queue_position"], 1);

  auto c = post_photos({{"c.jpg", "not a photo"}}, 1, true);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 429);
  EXPECT_NE(error_of(c).find("busy"), std::string::npos) << c->body;
  EXPECT_EQ(c->get_header_value("Retry-After"), "30");
  auto c_sync = post_photos({{"c.jpg", "not a photo"}});  // the waiting form is refused the same way
  ASSERT_TRUE(c_sync);
  EXPECT_EQ(c_sync->status, 429);

  release.set_value();
  const Json done_a = wait_for(id_a), done_b = wait_for(queued["job"]);
  EXPECT_EQ(done_a["state"], "failed");  // not photos: each fails with its own message
  EXPECT_NE(done_a["error"].get<std::string>().find("a.jpg"), std::string::npos) << done_a;
  EXPECT_EQ(done_b["state"], "failed");
  EXPECT_NE(done_b["error"].get<std::string>().find("b.jpg"), std::string::npos) << done_b;
  auto d = post_photos({{"d.jpg", "not a photo"}}, 1, true);  // room again
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 202);
}

TEST_F(WebServerTest, JobTimeLimitAnswers503) {
  REQUIRE_ESTIMATOR();
  start([](WebServerOptions& o) {
    fast(o);
    o.job_time_limit_s = 1e-6;
  });
  auto res = post_photos({{"bracket.jpg", photo_bytes()}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_NE(error_of(res).find("time limit of 1e-06 s"), std::string::npos) << res->body;
  EXPECT_TRUE(fs::is_empty(work_.path()));  // no partial result left
}

TEST_F(WebServerTest, AsyncJobReportsStagesAndIsCleanedUp) {
  REQUIRE_ESTIMATOR();
  start([](WebServerOptions& o) {
    fast(o);
    o.job_ttl_s = 1.0;
  });
  auto res = post_photos({{"bracket.jpg", photo_bytes()}, {"other.jpg", photo_bytes(2)}}, 2, true, "40mm");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  const std::string id = Json::parse(res->body)["job"];
  EXPECT_EQ(Json::parse(res->body)["status_url"], "/api/jobs/" + id);
  std::set<std::string> stages;
  const Json done = wait_for(id, &stages);
  ASSERT_EQ(done["state"], "done") << done;
  EXPECT_TRUE(stages.count("check") || stages.count("propose") || stages.count("estimate") || stages.count("write"))
      << "no pipeline stage seen";
  const Json& result = done["result"];
  EXPECT_EQ(result["size"], "40 mm");
  EXPECT_EQ(result["index"]["ranking"].size(), 2u);
  EXPECT_EQ(result["views"].size(), 2u);
  ASSERT_TRUE(fs::is_directory(work_ / id));

  // Past its time to live the job is gone: status, files and folder.
  for (int i = 0; i < 100 && fs::exists(work_ / id); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(fs::exists(work_ / id));
  EXPECT_EQ(job_status(id)["http"], 404);
  auto gone = client_->Get(("/jobs/" + id + "/index.json").c_str());
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404);
}

TEST_F(WebServerTest, KeepsAtMostMaxJobs) {
  start([](WebServerOptions& o) { o.max_jobs_kept = 1; });
  auto first = post_photos({{"one.jpg", "not a photo"}});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 400);
  const std::string id1 = Json::parse(first->body)["job"];
  EXPECT_EQ(job_status(id1)["state"], "failed");
  auto second = post_photos({{"two.jpg", "not a photo"}});
  ASSERT_TRUE(second);
  const std::string id2 = Json::parse(second->body)["job"];
  for (int i = 0; i < 100 && job_status(id1)["http"] != 404; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(job_status(id1)["http"], 404);
  EXPECT_EQ(job_status(id2)["state"], "failed");
  EXPECT_NE(job_status(id2)["error"].get<std::string>().find("two.jpg"), std::string::npos);
}

TEST_F(WebServerTest, UploadRankingAndDownload) {
  REQUIRE_ESTIMATOR();
  start();
  auto res = post_photos({{"bracket.jpg", photo_bytes()}}, 2);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto answer = Json::parse(res->body);
  const std::string base = answer["base"];
  ASSERT_EQ(answer["index"]["ranking"].size(), 2u);
  EXPECT_EQ(answer["size"], "100 mm");
  const std::string folder = answer["index"]["ranking"][0]["folder"];
  auto preview = client_->Get((base + folder + "/preview.png").c_str());
  ASSERT_TRUE(preview);
  EXPECT_EQ(preview->status, 200);
  EXPECT_EQ(preview->body.substr(1, 3), "PNG");
  if (answer["index"]["ranking"][0]["valid"].get<bool>()) {
    for (const char* file : {"model.step", "model.glb", "model.stl", "model.py", "sequence.json"}) {
      auto got = client_->Get((base + folder + "/" + file).c_str());
      ASSERT_TRUE(got) << file;
      EXPECT_EQ(got->status, 200) << file;
    }
    auto step = client_->Get((base + folder + "/model.step").c_str());
    EXPECT_NE(step->body.find("ISO-10303-21"), std::string::npos);
    EXPECT_NE(step->get_header_value("Content-Disposition").find("attachment"), std::string::npos);
    auto glb = client_->Get((base + folder + "/model.glb").c_str());
    EXPECT_EQ(glb->body.substr(0, 4), "glTF");
    EXPECT_EQ(glb->get_header_value("Content-Type"), "model/gltf-binary");
  }
}

}  // namespace
}  // namespace cadcrafter::app
