// Data-parallel training over c10d Gloo (learn/training/distributed.h), with real processes on
// loopback: the test binary starts copies of itself that run DistributedWorker.Train as ranks.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "learn/training/ae_trainer.h"
#include "learn/training/checkpoint.h"
#include "learn/training/distributed.h"
#include "learn_test_data.h"
#include "test_support.h"

extern char** environ;

using namespace cadcrafter;
using namespace cadcrafter::learn;

namespace {

AeConfig dist_config(int64_t batch, int64_t steps) {
  AeConfig c;
  c.model.d_model = 32;
  c.model.n_heads = 4;
  c.model.ff_dim = 64;
  c.model.encoder_layers = 1;
  c.model.decoder_layers = 2;
  c.model.z_dim = 32;
  c.model.arg_embed_dim = 8;
  c.train.batch_size = batch;
  c.train.lr = 2e-3;
  c.train.warmup_steps = 2;
  c.train.max_steps = steps;
  c.train.log_every = 2;
  c.train.val_every = 0;
  c.train.val_limit = 4;
  c.train.checkpoint_every = 2;
  return c;
}

VecDataset dist_data() { return testdata::random_dataset(64, 21); }

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Worker {
  pid_t pid = -1;
  std::string log;
};

// Starts this test binary as rank `rank` of `world` (DistributedWorker.Train), stderr to `log`.
Worker start_worker(int rank, int world, int port, const std::string& out, int64_t batch, int64_t steps, int64_t stop_after,
                    const std::string& log) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("CC_DIST_WORKER=1");
  env_strings.push_back("CC_DIST_RANK=" + std::to_string(rank));
  env_strings.push_back("CC_DIST_WORLD=" + std::to_string(world));
  env_strings.push_back("CC_DIST_PORT=" + std::to_string(port));
  env_strings.push_back("CC_DIST_OUT=" + out);
  env_strings.push_back("CC_DIST_BATCH=" + std::to_string(batch));
  env_strings.push_back("CC_DIST_STEPS=" + std::to_string(steps));
  env_strings.push_back("CC_DIST_STOP=" + std::to_string(stop_after));
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string filter = "--gtest_filter=DistributedWorker.Train";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Worker w;
  w.log = log;
  if (posix_spawn(&w.pid, exe.c_str(), &fa, nullptr, argv, envp.data()) != 0) w.pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return w;
}

// Exit code of `w` (-signal when killed), or 1000 when it has not ended within `seconds`
// (it is then killed).
int wait_worker(const Worker& w, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = ::waitpid(w.pid, &status, WNOHANG);
    if (r == w.pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(w.pid, SIGKILL);
  ::waitpid(w.pid, &status, 0);
  return 1000;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<torch::Tensor> weights_in(const std::string& path) {
  CadAutoencoder model(dist_config(8, 1).model);
  EXPECT_TRUE(load_weights(path, *model).ok()) << path;
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double m = 0.0;
  EXPECT_EQ(a.size(), b.size());
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, (a[i] - b[i]).abs().max().item<double>());
  return m;
}

double mean_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double sum = 0.0, n = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    sum += (a[i] - b[i]).abs().sum().item<double>();
    n += static_cast<double>(a[i].numel());
  }
  return n > 0 ? sum / n : 0.0;
}

// One process, in this one.
void train_single(const std::string& out, int64_t batch, int64_t steps, bool resume = false) {
  RunContext ctx;
  ctx.run_dir = out;
  ctx.seed = 3;
  ctx.progress = false;
  ctx.resume = resume;
  auto r = train_autoencoder(dist_data(), dist_config(batch, steps), ctx);
  ASSERT_TRUE(r.ok()) << r.error().message;
}

int64_t env_int(const char* name) { return std::atoll(std::getenv(name)); }

}  // namespace

// A rank of the tests below (skipped when run on its own).
TEST(DistributedWorker, Train) {
  if (!std::getenv("CC_DIST_WORKER")) GTEST_SKIP() << "a rank started by the Distributed tests";
  torch::set_num_threads(1);
  DistributedOptions o;
  o.world_size = static_cast<int>(env_int("CC_DIST_WORLD"));
  o.rank = static_cast<int>(env_int("CC_DIST_RANK"));
  o.port = static_cast<int>(env_int("CC_DIST_PORT"));
  o.timeout_s = 20;
  RunContext ctx;
  ctx.run_dir = std::getenv("CC_DIST_OUT");
  ctx.seed = 3;
  ctx.progress = false;
  ctx.stop_after_steps = env_int("CC_DIST_STOP");
  auto d = Distributed::connect(o, torch::Device(torch::kCPU));
  if (!d) {
    std::fprintf(stderr, "%s\n", d.error().message.c_str());
    std::_Exit(2);
  }
  ctx.dist = *d;
  try {
    auto r = train_autoencoder(dist_data(), dist_config(env_int("CC_DIST_BATCH"), env_int("CC_DIST_STEPS")), ctx);
    if (!r) {
      std::fprintf(stderr, "%s\n", r.error().message.c_str());
      std::_Exit(2);
    }
  } catch (const DistributedError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::_Exit(3);
  }
}

TEST(Distributed, OptionsFromFlagsAndEnvironment) {
  auto ok = resolve_distributed_options(2, 1, "10.0.0.5:29501");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->world_size, 2);
  EXPECT_EQ(ok->rank, 1);
  EXPECT_EQ(ok->host, "10.0.0.5");
  EXPECT_EQ(ok->port, 29501);
  auto single = resolve_distributed_options(-1, -1, "");
  ASSERT_TRUE(single.ok());
  EXPECT_FALSE(single->enabled());

  auto bad_rank = resolve_distributed_options(2, 2, "127.0.0.1:29501");
  ASSERT_FALSE(bad_rank.ok());
  EXPECT_NE(bad_rank.error().message.find("outside 0..1"), std::string::npos) << bad_rank.error().message;
  EXPECT_FALSE(resolve_distributed_options(0, 0, "").ok());
  auto no_rendezvous = resolve_distributed_options(2, 0, "");
  ASSERT_FALSE(no_rendezvous.ok());
  EXPECT_NE(no_rendezvous.error().message.find("--rendezvous"), std::string::npos);
  EXPECT_FALSE(parse_rendezvous("nohost").ok());
  EXPECT_FALSE(parse_rendezvous("host:70000").ok());
  EXPECT_FALSE(parse_rendezvous(":80").ok());
  auto v6 = parse_rendezvous("[::1]:80");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "::1");

  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("RANK", "3", 1);
  ::setenv("MASTER_ADDR", "node0", 1);
  ::setenv("MASTER_PORT", "1234", 1);
  auto env = resolve_distributed_options(-1, -1, "");
  auto flag_wins = resolve_distributed_options(-1, 2, "");
  ::setenv("RANK", "x", 1);
  auto env_bad = resolve_distributed_options(-1, -1, "");
  for (const char* k : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(k);
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->host, "node0");
  EXPECT_EQ(env->port, 1234);
  ASSERT_TRUE(flag_wins.ok());
  EXPECT_EQ(flag_wins->rank, 2);
  EXPECT_FALSE(env_bad.ok());
}

TEST(Distributed, UnreachableRendezvousFailsWithinTheTimeout) {
  if (!distributed_available(torch::Device(torch::kCPU))) GTEST_SKIP() << "built without c10d Gloo";
  DistributedOptions o;
  o.world_size = 2;
  o.rank = 1;  // a client: nobody hosts the store there
  o.port = free_port();
  o.timeout_s = 1.5;
  const auto t0 = std::chrono::steady_clock::now();
  auto d = Distributed::connect(o, torch::Device(torch::kCPU));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("rank 1 of 2: rendezvous at 127.0.0.1:"), std::string::npos) << d.error().message;
  EXPECT_LT(secs, 15.0);
}

TEST(Distributed, TwoRanksMatchOneRankWithTheGlobalBatch) {
  if (!distributed_available(torch::Device(torch::kCPU))) GTEST_SKIP() << "built without c10d Gloo";
  torch::set_num_threads(1);
  cadcrafter::testing::TempDir dir;
  const int64_t steps = 6, b = 4;
  train_single(dir / "one_2b", 2 * b, steps);
  train_single(dir / "one_b", b, steps);
  const int port = free_port();
  auto r0 = start_worker(0, 2, port, dir / "two_b", 2 * b, steps, 0, dir / "rank0.log");
  auto r1 = start_worker(1, 2, port, dir / "two_b", 2 * b, steps, 0, dir / "rank1.log");
  ASSERT_GT(r0.pid, 0);
  ASSERT_GT(r1.pid, 0);
  EXPECT_EQ(wait_worker(r0, 120), 0) << read_text(r0.log);
  EXPECT_EQ(wait_worker(r1, 120), 0) << read_text(r1.log);
  ASSERT_TRUE(std::filesystem::exists(dir / "two_b/model.pt")) << read_text(r0.log);

  const auto reference = weights_in(dir / "one_2b/model.pt");
  const auto two = weights_in(dir / "two_b/model.pt"), half = weights_in(dir / "one_b/model.pt");
  // Float tolerance: the gradients agree to ~1e-7 (summation order), but Adam's first steps move
  // each weight by ~lr * sign(gradient), so a weight whose gradient is at that noise level can
  // move differently: the mean difference is the tight check, the max a loose one.
  EXPECT_LT(mean_difference(two, reference), 1e-6) << "2 ranks x batch " << b << " vs 1 rank x batch " << 2 * b;
  EXPECT_LT(max_difference(two, reference), 1e-3);
  // The comparison can fail: batch B alone trains differently.
  EXPECT_GT(mean_difference(half, reference), 1e-4);
  EXPECT_GT(max_difference(half, reference), 5e-3);

  auto info = nlohmann::json::parse(read_text(dir / "two_b/run.json"));
  EXPECT_EQ(info.value("world_size", 0), 2);
  // The log is rank 0's alone: one header and one row per log_every steps.
  const std::string log = read_text(dir / "two_b/log.csv");
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1 + steps / 2) << log;
}

TEST(Distributed, ResumeWithAnotherWorldSize) {
  if (!distributed_available(torch::Device(torch::kCPU))) GTEST_SKIP() << "built without c10d Gloo";
  torch::set_num_threads(1);
  cadcrafter::testing::TempDir dir;
  const int64_t steps = 6, batch = 8;
  train_single(dir / "straight", batch, steps);
  // Two ranks stop after 4 steps (checkpoint), one process finishes the run.
  const int port = free_port();
  auto r0 = start_worker(0, 2, port, dir / "mixed", batch, steps, 4, dir / "rank0.log");
  auto r1 = start_worker(1, 2, port, dir / "mixed", batch, steps, 4, dir / "rank1.log");
  EXPECT_EQ(wait_worker(r0, 120), 0) << read_text(r0.log);
  EXPECT_EQ(wait_worker(r1, 120), 0) << read_text(r1.log);
  ASSERT_TRUE(std::filesystem::exists(dir / "mixed/checkpoint.pt"));
  ASSERT_FALSE(std::filesystem::exists(dir / "mixed/model.pt"));
  train_single(dir / "mixed", batch, steps, /*resume=*/true);
  const auto mixed = weights_in(dir / "mixed/model.pt"), straight = weights_in(dir / "straight/model.pt");
  EXPECT_LT(mean_difference(mixed, straight), 1e-6);  // tolerances: see TwoRanksMatchOneRankWithTheGlobalBatch
  EXPECT_LT(max_difference(mixed, straight), 1e-3);
}

TEST(Distributed, KilledRankMakesTheOtherExitWithAClearMessage) {
  if (!distributed_available(torch::Device(torch::kCPU))) GTEST_SKIP() << "built without c10d Gloo";
  cadcrafter::testing::TempDir dir;
  const int port = free_port();
  auto r0 = start_worker(0, 2, port, dir / "run", 8, 1000000, 0, dir / "rank0.log");
  auto r1 = start_worker(1, 2, port, dir / "run", 8, 1000000, 0, dir / "rank1.log");
  ASSERT_GT(r0.pid, 0);
  ASSERT_GT(r1.pid, 0);
  // Mid-run: rank 0 has written a checkpoint.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(dir / "run/checkpoint.pt") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(std::filesystem::exists(dir / "run/checkpoint.pt")) << read_text(r0.log);
  ::kill(r1.pid, SIGKILL);
  EXPECT_EQ(wait_worker(r1, 10), -SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = wait_worker(r0, 40);  // the workers' collective timeout is 20 s
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(code, 3) << "rank 0 must fail with a DistributedError, not hang: " << read_text(r0.log);
  const std::string log = read_text(r0.log);
  EXPECT_NE(log.find("distributed rank 0 of 2:"), std::string::npos) << log;
  EXPECT_NE(log.find("another rank exited or did not answer"), std::string::npos) << log;
  EXPECT_LT(secs, 30.0);
}
