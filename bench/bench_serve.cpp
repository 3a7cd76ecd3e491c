// Load test of `cadcrafter serve` on loopback: the web server (app/web_server.h) in this process,
// C clients at once sending N reconstruction requests in all (the waiting form of
// POST /api/reconstruct, one example photo each). Every answer must be a correct result
// (200, the ranking asked for, the top candidate's STEP downloadable) or a clean refusal
// (429 with a message); anything else is counted as bad and fails the run (exit 1).
// Prints throughput, p50/p95 latency of results and refusals, and the resident memory after a
// warm-up job, after the run and after a second run (flat = no growth from job to job).
// Bounded: --requests in all, --max-seconds of wall time (clients stop sending after it).
//
//   build/bench/bench_serve                          # 40 requests, 4 clients, queue 4
//   build/bench/bench_serve --queue 1                # a small queue: some requests refused
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/web_server.h"
#include "util/atomic_file.h"

namespace {

using Clock = std::chrono::steady_clock;

double rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  return 0;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

struct Outcome {
  std::vector<double> ok_s, refused_s;
  int bad = 0;
  std::vector<std::string> problems;
};

// One request: "ok", "refused" or a problem.
std::string one_request(httplib::Client& client, const std::string& photo, int samples, int seed) {
  httplib::MultipartFormDataItems items{{"photos", photo, "bracket.jpg", "image/jpeg"},
                                        {"samples", std::to_string(samples), "", ""},
                                        {"seed", std::to_string(seed), "", ""}};
  auto res = client.Post("/api/reconstruct", items);
  if (!res) return "no answer (" + httplib::to_string(res.error()) + ")";
  const auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status == 429) {
    if (body.is_object() && body.value("error", std::string()).find("busy") != std::string::npos) return "refused";
    return "429 without a message: " + res->body.substr(0, 200);
  }
  if (res->status != 200) return "status " + std::to_string(res->status) + ": " + res->body.substr(0, 200);
  if (!body.is_object() || !body.contains("index") || body["index"]["ranking"].size() != static_cast<size_t>(samples))
    return "200 without the ranking: " + res->body.substr(0, 200);
  const auto& top = body["index"]["ranking"][0];
  if (top.value("valid", false)) {
    const std::string url = body["base"].get<std::string>() + top["folder"].get<std::string>() + "/model.step";
    auto step = client.Get(url.c_str());
    if (!step || step->status != 200 || step->body.find("ISO-10303-21") == std::string::npos) return "no STEP at " + url;
  }
  return "ok";
}

Outcome run_clients(int port, const std::string& photo, int clients, int requests, int samples, double max_seconds,
                    double* wall_s) {
  Outcome out;
  std::mutex mu;
  std::atomic<int> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(600, 0);
      client.set_write_timeout(60, 0);
      for (int i = next++; i < requests; i = next++) {
        if (std::chrono::duration<double>(Clock::now() - start).count() > max_seconds) break;
        const auto t = Clock::now();
        const std::string what = one_request(client, photo, samples, i);
        const double s = std::chrono::duration<double>(Clock::now() - t).count();
        std::lock_guard<std::mutex> lock(mu);
        if (what == "ok") out.ok_s.push_back(s);
        else if (what == "refused") out.refused_s.push_back(s);
        else {
          ++out.bad;
          out.problems.push_back("client " + std::to_string(c) + ": " + what);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  *wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

void report(const char* label, const Outcome& o, double wall_s) {
  const int answered = static_cast<int>(o.ok_s.size() + o.refused_s.size()) + o.bad;
  std::printf("%s: %d answers in %.1f s: %zu results, %zu refused (429), %d bad\n", label, answered, wall_s, o.ok_s.size(),
              o.refused_s.size(), o.bad);
  std::printf("  throughput %.2f results/s (%.2f answers/s)\n", static_cast<double>(o.ok_s.size()) / wall_s, answered / wall_s);
  std::printf("  result latency p50 %.2f s, p95 %.2f s, max %.2f s\n", percentile(o.ok_s, 0.5), percentile(o.ok_s, 0.95),
              percentile(o.ok_s, 1.0));
  if (!o.refused_s.empty())
    std::printf("  refusal latency p50 %.3f s, p95 %.3f s\n", percentile(o.refused_s, 0.5), percentile(o.refused_s, 0.95));
  for (const auto& p : o.problems) std::printf("  BAD %s\n", p.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 4, requests = 40, queue = 4, workers = 1, samples = 1, threads = 2;
  double max_seconds = 600, time_limit = 120;
  std::string candidates = "procedural", photo_path = "examples/photos/bracket_1.jpg";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_serve: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--clients") clients = std::atoi(value().c_str());
    else if (a == "--requests") requests = std::atoi(value().c_str());
    else if (a == "--queue") queue = std::atoi(value().c_str());
    else if (a == "--workers") workers = std::atoi(value().c_str());
    else if (a == "--samples") samples = std::atoi(value().c_str());
    else if (a == "--threads") threads = std::atoi(value().c_str());
    else if (a == "--candidates") candidates = value();
    else if (a == "--photo") photo_path = value();
    else if (a == "--max-seconds") max_seconds = std::atof(value().c_str());
    else if (a == "--time-limit") time_limit = std::atof(value().c_str());
    else {
      std::fprintf(stderr,
                   "usage: bench_serve [--clients 4] [--requests 40] [--queue 4] [--workers 1] [--samples 1] [--threads 2]\n"
                   "                   [--candidates procedural] [--photo examples/photos/bracket_1.jpg] [--max-seconds 600]\n"
                   "                   [--time-limit 120]\n");
      return 2;
    }
  }
  requests = std::clamp(requests, 1, 1000);
  clients = std::clamp(clients, 1, 64);
  auto photo = cadcrafter::read_file(photo_path);
  if (!photo) {
    std::fprintf(stderr, "bench_serve: %s (run from the source folder or give --photo)\n", photo.error().message.c_str());
    return 2;
  }
  cadcrafter::app::WebServerOptions o;
  o.port = 0;
  o.workers = workers;
  o.queue_capacity = queue;
  o.job_time_limit_s = time_limit;
  o.defaults.threads = threads;
  o.defaults.candidates = candidates;
  o.max_jobs_kept = 8;
  cadcrafter::app::WebServer server(o);
  if (auto s = server.bind(); !s) {
    std::fprintf(stderr, "bench_serve: %s\n", s.error().message.c_str());
    return 1;
  }
  std::thread serving([&] { (void)server.serve(); });
  std::printf("bench_serve: %d requests from %d clients at once, 127.0.0.1:%d, %d worker(s) x %d threads, queue %d, "
              "candidates %s, %d candidate(s) per job, %s (%zu bytes)\n",
              requests, clients, server.port(), workers, threads, queue, candidates.c_str(), samples, photo_path.c_str(),
              photo->size());

  double wall = 0;
  const Outcome warm = run_clients(server.port(), *photo, 1, 2, samples, max_seconds, &wall);
  const double rss_warm = rss_mb();
  std::printf("warm-up: %zu results, %.2f s each; RSS %.0f MB\n", warm.ok_s.size(), percentile(warm.ok_s, 0.5), rss_warm);

  const Outcome first = run_clients(server.port(), *photo, clients, requests, samples, max_seconds, &wall);
  report("run 1", first, wall);
  const double rss_1 = rss_mb();
  const Outcome second = run_clients(server.port(), *photo, clients, requests, samples, max_seconds, &wall);
  report("run 2", second, wall);
  const double rss_2 = rss_mb();
  std::printf("RSS: %.0f MB after warm-up, %.0f MB after run 1, %.0f MB after run 2 (run 2 - run 1: %+.0f MB)\n", rss_warm,
              rss_1, rss_2, rss_2 - rss_1);
  server.stop();
  serving.join();
  const bool ok = first.bad == 0 && second.bad == 0 && !first.ok_s.empty();
  std::printf("%s\n", ok ? "every answer a correct result or a clean refusal" : "FAILED: some answers were neither");
  return ok ? 0 : 1;
}
