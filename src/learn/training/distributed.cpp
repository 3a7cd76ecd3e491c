#include "learn/training/distributed.h"

// c10d's headers compile their backends only under USE_C10D_GLOO / USE_C10D_NCCL, which torch's
// own build defines; src/learn/CMakeLists.txt sets CADCRAFTER_C10D_GLOO when the Gloo headers are
// installed (Debian: libgloo-dev) and CADCRAFTER_C10D_NCCL when the torch it builds against has
// CUDA and nccl.h is found (the GPU machine's torch 2.x).
#if defined(CADCRAFTER_C10D_GLOO)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(CADCRAFTER_C10D_NCCL)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#if defined(CADCRAFTER_C10D_GLOO) || defined(CADCRAFTER_C10D_NCCL)
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#define CADCRAFTER_C10D 1
#endif

#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace cadcrafter::learn {

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

Result<int> parse_int(const std::string& text, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || end == text.c_str() || *end != '\0' || v < -1000000 || v > 1000000)
    return Result<int>::fail(ErrorCode::kInvalidArgument, what + ": not an integer ('" + text + "')");
  return static_cast<int>(v);
}

std::string describe(const DistributedOptions& o) {
  return "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size);
}

}  // namespace

Result<std::pair<std::string, int>> parse_rendezvous(const std::string& text) {
  using R = Result<std::pair<std::string, int>>;
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return R::fail(ErrorCode::kInvalidArgument, "rendezvous '" + text + "': expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return R::fail(ErrorCode::kInvalidArgument, "rendezvous '" + text + "': expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) return R::fail(ErrorCode::kInvalidArgument, "rendezvous '" + text + "': empty host");
  auto p = parse_int(port, "rendezvous '" + text + "' port");
  if (!p) return p.error();
  if (*p < 1 || *p > 65535) return R::fail(ErrorCode::kInvalidArgument, "rendezvous '" + text + "': port must be 1..65535");
  return std::make_pair(host, *p);
}

Result<DistributedOptions> resolve_distributed_options(int world_size, int rank, const std::string& rendezvous,
                                                       double timeout_s) {
  using R = Result<DistributedOptions>;
  DistributedOptions o;
  o.timeout_s = timeout_s;
  if (!(timeout_s > 0)) return R::fail(ErrorCode::kInvalidArgument, "distributed timeout must be > 0 s");
  if (world_size < 0) {
    const std::string env = env_or_empty("WORLD_SIZE");
    if (env.empty()) {
      world_size = 1;
    } else {
      auto v = parse_int(env, "WORLD_SIZE");
      if (!v) return v.error();
      world_size = *v;
    }
  }
  if (world_size < 1) return R::fail(ErrorCode::kInvalidArgument, "world size must be >= 1 (got " + std::to_string(world_size) + ")");
  if (rank < 0) {
    const std::string env = env_or_empty("RANK");
    if (env.empty()) {
      if (world_size > 1) return R::fail(ErrorCode::kInvalidArgument, "world size " + std::to_string(world_size) + " needs --rank (or RANK)");
      rank = 0;
    } else {
      auto v = parse_int(env, "RANK");
      if (!v) return v.error();
      rank = *v;
    }
  }
  if (rank < 0 || rank >= world_size)
    return R::fail(ErrorCode::kInvalidArgument, "rank " + std::to_string(rank) + " is outside 0.." + std::to_string(world_size - 1) +
                                                    " (world size " + std::to_string(world_size) + ")");
  o.world_size = world_size;
  o.rank = rank;
  if (!rendezvous.empty()) {
    auto hp = parse_rendezvous(rendezvous);
    if (!hp) return hp.error();
    o.host = hp->first;
    o.port = hp->second;
  } else {
    const std::string addr = env_or_empty("MASTER_ADDR"), port = env_or_empty("MASTER_PORT");
    if (world_size > 1 && (addr.empty() || port.empty()))
      return R::fail(ErrorCode::kInvalidArgument,
                     "world size " + std::to_string(world_size) + " needs --rendezvous HOST:PORT (or MASTER_ADDR and MASTER_PORT)");
    if (!addr.empty()) o.host = addr;
    if (!port.empty()) {
      auto p = parse_int(port, "MASTER_PORT");
      if (!p) return p.error();
      if (*p < 1 || *p > 65535) return R::fail(ErrorCode::kInvalidArgument, "MASTER_PORT must be 1..65535");
      o.port = *p;
    }
  }
  return o;
}

bool distributed_available(const torch::Device& device) {
#if defined(CADCRAFTER_C10D_NCCL)
  if (device.is_cuda()) return true;
#endif
#if defined(CADCRAFTER_C10D_GLOO)
  (void)device;
  return true;  // Gloo: CPU tensors, and CUDA runs through a CPU copy
#else
  (void)device;
  return false;
#endif
}

#if defined(CADCRAFTER_C10D)
struct Distributed::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
#if defined(CADCRAFTER_C10D_NCCL)
  // torch 2.x: ProcessGroupNCCL is a Backend; 1.13 (not built with NCCL here) a ProcessGroup.
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
#if defined(CADCRAFTER_C10D_GLOO)
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
  torch::Device comm_device{torch::kCPU};  // where the collectives' buffers live
  std::chrono::milliseconds timeout{600000};

  template <typename Launch>
  void run(Launch&& launch) {
#if defined(CADCRAFTER_C10D_NCCL)
    if (nccl) {
      launch(*nccl)->wait(timeout);
      return;
    }
#endif
#if defined(CADCRAFTER_C10D_GLOO)
    launch(*gloo)->wait(timeout);
#endif
  }
  void all_reduce(torch::Tensor& t, c10d::ReduceOp op = c10d::ReduceOp::SUM) {
    std::vector<at::Tensor> v{t};
    c10d::AllreduceOptions opts;
    opts.reduceOp = op;
    opts.timeout = timeout;
    run([&](auto& pg) { return pg.allreduce(v, opts); });
  }
  void broadcast(torch::Tensor& t) {
    std::vector<at::Tensor> v{t};
    c10d::BroadcastOptions opts;
    opts.rootRank = 0;
    opts.timeout = timeout;
    run([&](auto& pg) { return pg.broadcast(v, opts); });
  }
  void barrier() {
    c10d::BarrierOptions opts;
    opts.timeout = timeout;
    run([&](auto& pg) { return pg.barrier(opts); });
  }
};
#else
struct Distributed::Impl {};
#endif

Distributed::Distributed(DistributedOptions options, std::string backend, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), backend_(std::move(backend)), impl_(std::move(impl)) {}

Distributed::~Distributed() = default;

Result<std::shared_ptr<Distributed>> Distributed::connect(const DistributedOptions& o, const torch::Device& device) {
  using R = Result<std::shared_ptr<Distributed>>;
  if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size)
    return R::fail(ErrorCode::kInvalidArgument, "distributed: " + describe(o) + " is not a valid rank");
#if !defined(CADCRAFTER_C10D)
  (void)device;
  return R::fail(ErrorCode::kUnsupported,
                 "distributed training: this build has no c10d backend (install libgloo-dev, the Gloo headers, and re-run cmake)");
#else
  auto impl = std::make_unique<Impl>();
  impl->timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000.0));
  const std::string where = o.host + ":" + std::to_string(o.port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(o.port);
    so.isServer = o.rank == 0;
    so.numWorkers = static_cast<std::size_t>(o.world_size);
    so.waitWorkers = true;
    so.timeout = impl->timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(o.host, so);
  } catch (const std::exception& e) {
    return R::fail(ErrorCode::kIo, "distributed: " + describe(o) + ": rendezvous at " + where + " failed" +
                                       (o.rank == 0 ? " (could not host the store there, or not every rank arrived" : " (rank 0 unreachable") +
                                       " within " + std::to_string(static_cast<int64_t>(o.timeout_s)) + " s): " + e.what());
  }
  std::string backend;
  try {
#if defined(CADCRAFTER_C10D_NCCL)
    if (device.is_cuda()) {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = impl->timeout;
      impl->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, o.rank, o.world_size, opts);
      impl->comm_device = device;
      backend = "nccl";
    }
#endif
#if defined(CADCRAFTER_C10D_GLOO)
    if (backend.empty()) {
      auto opts = c10d::ProcessGroupGloo::Options::create(impl->timeout);
      // Loopback rendezvous: every rank is on this machine. Otherwise the interface named by
      // GLOO_SOCKET_IFNAME (as in torch.distributed), else the one this host name resolves to.
      const std::string ifname = env_or_empty("GLOO_SOCKET_IFNAME");
      if (!ifname.empty())
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (o.host == "localhost" || o.host.rfind("127.", 0) == 0 || o.host == "::1")
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.host == "::1" ? "::1" : "127.0.0.1"));
      else
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      impl->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, o.rank, o.world_size, opts);
      impl->comm_device = torch::Device(torch::kCPU);
      backend = "gloo";
    }
#endif
  } catch (const std::exception& e) {
    return R::fail(ErrorCode::kIo, "distributed: " + describe(o) + ": creating the process group via " + where + " failed: " + e.what());
  }
  if (backend.empty())
    return R::fail(ErrorCode::kUnsupported, "distributed: no c10d backend in this build for device " + device.str());
  return std::shared_ptr<Distributed>(new Distributed(o, backend, std::move(impl)));
#endif
}

void Distributed::fail(const std::string& what, const std::exception& e) const {
  throw DistributedError("distributed " + describe(options_) + ": " + what +
                         " failed: another rank exited or did not answer within " +
                         std::to_string(static_cast<int64_t>(options_.timeout_s)) + " s (" + e.what() + ")");
}

std::pair<int64_t, int64_t> Distributed::shard(int64_t n) const {
  const int64_t w = options_.world_size, r = options_.rank;
  return {n * r / w, n * (r + 1) / w};
}

double Distributed::share_weight(double local, double global) const {
  return global > 0 ? local * static_cast<double>(options_.world_size) / global : 0.0;
}

std::vector<double> Distributed::sum(const std::vector<double>& values) {
  if (values.empty()) return {};
#if defined(CADCRAFTER_C10D)
  auto t = torch::tensor(values, torch::kDouble).to(impl_->comm_device);
  try {
    impl_->all_reduce(t);
  } catch (const std::exception& e) {
    fail("all-reduce", e);
  }
  t = t.to(torch::kCPU).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
#else
  return values;
#endif
}

void Distributed::average_gradients(const std::vector<torch::Tensor>& params, std::vector<double>* scalars) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat;
  std::vector<torch::Tensor> trained;
  for (const auto& p : params) {
    if (!p.requires_grad()) continue;
    trained.push_back(p);
    const auto& g = p.grad();
    flat.push_back(g.defined() ? g.detach().reshape({-1}).to(torch::kFloat)
                               : torch::zeros({p.numel()}, p.options().dtype(torch::kFloat)));
  }
  const int64_t n_scalars = scalars ? static_cast<int64_t>(scalars->size()) : 0;
  if (flat.empty() && n_scalars == 0) return;
  std::vector<torch::Tensor> on_comm;
#if defined(CADCRAFTER_C10D)
  const torch::Device comm = impl_->comm_device;
#else
  const torch::Device comm(torch::kCPU);
#endif
  for (auto& f : flat) on_comm.push_back(f.to(comm));
  if (n_scalars > 0) {
    std::vector<float> s(scalars->begin(), scalars->end());
    on_comm.push_back(torch::tensor(s, torch::kFloat).to(comm));
  }
  auto buffer = torch::cat(on_comm);
#if defined(CADCRAFTER_C10D)
  try {
    impl_->all_reduce(buffer);
  } catch (const std::exception& e) {
    fail("gradient all-reduce", e);
  }
#endif
  const double inv = 1.0 / static_cast<double>(options_.world_size);
  int64_t offset = 0;
  for (auto& p : trained) {
    const int64_t n = p.numel();
    auto averaged = buffer.narrow(0, offset, n).view(p.sizes()).mul(inv).to(p.device(), p.scalar_type());
    offset += n;
    if (p.grad().defined())
      p.mutable_grad().copy_(averaged);
    else
      p.mutable_grad() = averaged;
  }
  if (n_scalars > 0) {
    auto s = buffer.narrow(0, offset, n_scalars).to(torch::kCPU, torch::kDouble).contiguous();
    for (int64_t i = 0; i < n_scalars; ++i) (*scalars)[static_cast<size_t>(i)] = s.data_ptr<double>()[i];
  }
}

void Distributed::broadcast_from_main(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    if (!t.defined() || t.numel() == 0) continue;
#if defined(CADCRAFTER_C10D)
    auto buf = t.detach().contiguous().to(impl_->comm_device).clone();
    try {
      impl_->broadcast(buf);
    } catch (const std::exception& e) {
      fail("broadcast of rank 0's weights", e);
    }
    t.detach().copy_(buf.to(t.device()));
#endif
  }
}

void Distributed::check_same(int64_t value, const std::string& what) {
#if defined(CADCRAFTER_C10D)
  auto t = torch::tensor(std::vector<int64_t>{value, -value}, torch::kLong).to(impl_->comm_device);
  try {
    impl_->all_reduce(t, c10d::ReduceOp::MAX);
  } catch (const std::exception& e) {
    fail("agreement on " + what, e);
  }
  t = t.to(torch::kCPU);
  const int64_t hi = t[0].item<int64_t>(), lo = -t[1].item<int64_t>();
  if (hi != lo)
    throw DistributedError("distributed " + describe(options_) + ": the ranks disagree on " + what + " (" + std::to_string(lo) +
                           " .. " + std::to_string(hi) + "; this rank: " + std::to_string(value) + ")");
#else
  (void)value;
  (void)what;
#endif
}

void Distributed::barrier() {
#if defined(CADCRAFTER_C10D)
  try {
    impl_->barrier();
  } catch (const std::exception& e) {
    fail("barrier", e);
  }
#endif
}

std::vector<torch::Tensor> module_state(torch::nn::Module& module) {
  std::vector<torch::Tensor> out = module.parameters();
  for (auto& b : module.buffers()) out.push_back(b);
  return out;
}

void synchronize_start(const std::shared_ptr<Distributed>& d, torch::nn::Module& model, int64_t step) {
  if (!d) return;
  d->check_same(step, "the step to start from (resume every rank from the same checkpoint.pt)");
  d->broadcast_from_main(module_state(model));
}

void distributed_step(const std::shared_ptr<Distributed>& d, const torch::Tensor& loss, torch::nn::Module& model,
                      torch::optim::Optimizer& optimizer, double grad_clip, std::vector<double>* scalars) {
  optimizer.zero_grad();
  if (loss.defined() && loss.requires_grad()) loss.backward();
  if (d) d->average_gradients(model.parameters(), scalars);
  if (grad_clip > 0) torch::nn::utils::clip_grad_norm_(model.parameters(), grad_clip);
  optimizer.step();
}

}  // namespace cadcrafter::learn
