// The web page server on loopback: the page, bounded and validated requests, path safety,
// and a full upload -> ranking -> download round trip when the shipped estimator exists.
#include <gtest/gtest.h>

#include <httplib.h>

#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/web_server.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace cadcrafter::app {
namespace {

namespace fs = std::filesystem;
using cadcrafter::testing::TempDir;

class WebServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WebServerOptions o;
    o.port = 0;
    o.web_dir = cadcrafter::testing::source_dir() + "/web";
    o.work_dir = work_.path();
    o.defaults.weights_dir = cadcrafter::testing::source_dir() + "/models";
    o.defaults.threads = 2;
    o.max_upload_bytes = 4u << 20;
    server_ = std::make_unique<WebServer>(o);
    ASSERT_TRUE(server_->bind().ok());
    thread_ = std::thread([this] { (void)server_->serve(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(120, 0);
    for (int i = 0; i < 100 && !client_->Get("/"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  void TearDown() override {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Result post_photos(const std::vector<std::pair<std::string, std::string>>& files, int samples = 1) {
    httplib::MultipartFormDataItems items;
    for (const auto& [name, bytes] : files) items.push_back({"photos", bytes, name, "application/octet-stream"});
    items.push_back({"samples", std::to_string(samples), "", ""});
    items.push_back({"seed", "3", "", ""});
    return client_->Post("/api/reconstruct", items);
  }
  TempDir work_;
  std::unique_ptr<WebServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(WebServerTest, ServesThePage) {
  auto res = client_->Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("/api/reconstruct"), std::string::npos);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/html", 0), 0u);
}

TEST_F(WebServerTest, RefusesBadRequests) {
  auto none = client_->Post("/api/reconstruct", httplib::MultipartFormDataItems{{"seed", "1", "", ""}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 400);
  EXPECT_NE(nlohmann::json::parse(none->body)["error"].get<std::string>().find("1 to 4"), std::string::npos);

  auto text = post_photos({{"holiday.jpg", "definitely not a jpeg"}});
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 400);
  const std::string error = nlohmann::json::parse(text->body)["error"];
  EXPECT_NE(error.find("holiday.jpg"), std::string::npos) << error;  // the user's name, not our path
  EXPECT_EQ(error.find(work_.path()), std::string::npos) << error;

  auto five = post_photos({{"a.png", "x"}, {"b.png", "x"}, {"c.png", "x"}, {"d.png", "x"}, {"e.png", "x"}});
  ASSERT_TRUE(five);
  EXPECT_EQ(five->status, 400);

  auto too_many_samples = post_photos({{"a.png", "x"}}, 1000);
  ASSERT_TRUE(too_many_samples);
  EXPECT_EQ(too_many_samples->status, 400);

  // Bodies over the upload limit are cut off by the server.
  auto huge = post_photos({{"big.jpg", std::string(5u << 20, 'x')}});
  EXPECT_TRUE(!huge || huge->status == 413 || huge->status == 400);

  for (const char* path : {"/jobs/job1/../../etc/passwd", "/static/../CMakeLists.txt", "/jobs/job1/result.json",
                           "/jobs/nojob/index.json"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
  }
  // Nothing left behind by the failed jobs.
  EXPECT_TRUE(fs::is_empty(work_.path()));
}

TEST_F(WebServerTest, UploadRankingAndDownload) {
  const std::string photo = cadcrafter::testing::source_dir() + "/examples/photos/bracket_1.jpg";
  if (!fs::exists(cadcrafter::testing::source_dir() + "/models/estimator.pt") || !fs::exists(photo))
    GTEST_SKIP() << "no shipped estimator or example photo";
  auto bytes = read_file(photo);
  ASSERT_TRUE(bytes.ok());
  auto res = post_photos({{"bracket.jpg", *bytes}}, 2);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto answer = nlohmann::json::parse(res->body);
  const std::string base = answer["base"];
  ASSERT_EQ(answer["index"]["ranking"].size(), 2u);
  const std::string folder = answer["index"]["ranking"][0]["folder"];
  auto preview = client_->Get((base + folder + "/preview.png").c_str());
  ASSERT_TRUE(preview);
  EXPECT_EQ(preview->status, 200);
  EXPECT_EQ(preview->body.substr(1, 3), "PNG");
  if (answer["index"]["ranking"][0]["valid"].get<bool>()) {
    auto step = client_->Get((base + folder + "/model.step").c_str());
    ASSERT_TRUE(step);
    EXPECT_EQ(step->status, 200);
    EXPECT_NE(step->body.find("ISO-10303-21"), std::string::npos);
    EXPECT_NE(step->get_header_value("Content-Disposition").find("attachment"), std::string::npos);
  }
}

}  // namespace
}  // namespace cadcrafter::app
