#include "learn/training/checkpoint.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/atomic_file.h"

namespace cadcrafter::learn {

Status save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                       const CheckpointState& state) {
  return write_atomically(path, [&](const std::string& tmp) -> Status {
    try {
      torch::serialize::OutputArchive archive, model_archive, optim_archive;
      model.save(model_archive);
      optimizer.save(optim_archive);
      archive.write("model", model_archive);
      archive.write("optimizer", optim_archive);
      archive.write("step", torch::tensor(state.step, torch::kLong));
      archive.write("cpu_rng", at::detail::getDefaultCPUGenerator().get_state());
      const std::string extra = state.extra.dump();
      archive.write("extra", torch::from_blob(const_cast<char*>(extra.data()), {static_cast<int64_t>(extra.size())},
                                              torch::kChar).clone());
      archive.save_to(tmp);
    } catch (const std::exception& e) {
      return Status::fail(ErrorCode::kIo, path + ": cannot write checkpoint: " + e.what());
    }
    return {};
  });
}

Result<CheckpointState> load_checkpoint(const std::string& path, torch::nn::Module& model,
                                        torch::optim::Optimizer* optimizer) {
  if (!std::filesystem::exists(path)) return Result<CheckpointState>::fail(ErrorCode::kIo, path + ": no checkpoint");
  CheckpointState state;
  try {
    torch::serialize::InputArchive archive, model_archive;
    archive.load_from(path);
    archive.read("model", model_archive);
    model.load(model_archive);
    if (optimizer) {
      torch::serialize::InputArchive optim_archive;
      archive.read("optimizer", optim_archive);
      optimizer->load(optim_archive);
    }
    torch::Tensor step, rng, extra;
    archive.read("step", step);
    state.step = step.item<int64_t>();
    if (archive.try_read("cpu_rng", rng)) {
      at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle: shares the global state
      generator.set_state(rng);
    }
    if (archive.try_read("extra", extra)) {
      extra = extra.contiguous();
      const std::string text(static_cast<const char*>(extra.data_ptr()), static_cast<size_t>(extra.numel()));
      state.extra = nlohmann::json::parse(text, nullptr, false);
      if (state.extra.is_discarded()) state.extra = nlohmann::json::object();
    }
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    return Result<CheckpointState>::fail(ErrorCode::kParse,
                                         path + ": not a checkpoint of this model (" + what + ")");
  }
  return state;
}

Status save_weights(const std::string& path, torch::nn::Module& model) {
  return write_atomically(path, [&](const std::string& tmp) -> Status {
    try {
      torch::serialize::OutputArchive archive;
      model.save(archive);
      archive.save_to(tmp);
    } catch (const std::exception& e) {
      return Status::fail(ErrorCode::kIo, path + ": cannot write weights: " + e.what());
    }
    return {};
  });
}

Status load_weights(const std::string& path, torch::nn::Module& model) {
  if (!std::filesystem::exists(path)) return Status::fail(ErrorCode::kIo, path + ": no such weights file");
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    model.load(archive);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    return Status::fail(ErrorCode::kParse, path + ": weights do not match this model (" + what + ")");
  }
  return {};
}

Result<torch::Device> parse_device(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      return Result<torch::Device>::fail(ErrorCode::kUnsupported, "--device " + name + ": CUDA is not available in this build/machine");
    try {
      return torch::Device(name);
    } catch (const std::exception&) {
      return Result<torch::Device>::fail(ErrorCode::kInvalidArgument, "--device " + name + ": not a device name");
    }
  }
  return Result<torch::Device>::fail(ErrorCode::kInvalidArgument, "--device must be cpu, cuda or cuda:N (got '" + name + "')");
}

double learning_rate_at(int64_t step, double base, int64_t warmup, int64_t total, const std::string& schedule) {
  if (warmup > 0 && step < warmup) return base * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (schedule == "cosine" && total > warmup) {
    const double t = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(total - warmup));
    return base * (0.1 + 0.9 * 0.5 * (1.0 + std::cos(M_PI * t)));
  }
  return base;
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) {
    if (auto* adam = dynamic_cast<torch::optim::AdamOptions*>(&group.options())) adam->lr(lr);
    else if (auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&group.options())) adamw->lr(lr);
  }
}

CsvLog::CsvLog(std::string path, std::vector<std::string> columns, int64_t resume_step) : path_(std::move(path)) {
  std::vector<std::string> kept;
  if (resume_step > 0) {
    std::ifstream in(path_);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      try {
        if (std::stoll(line.substr(0, line.find(','))) <= resume_step) kept.push_back(line);
      } catch (const std::exception&) {
      }
    }
  }
  std::ostringstream os;
  for (size_t i = 0; i < columns.size(); ++i) os << (i ? "," : "") << columns[i];
  os << '\n';
  for (const auto& l : kept) os << l << '\n';
  write_file_atomically(path_, os.str());
}

void CsvLog::row(const std::vector<std::string>& values) {
  std::ofstream out(path_, std::ios::app);
  for (size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << values[i];
  out << '\n';
}

void seed_everything(uint64_t seed) { torch::manual_seed(seed); }

void ensure_omp_proc_bind(int argc, const char* const* argv) {
  if (std::getenv("OMP_PROC_BIND") != nullptr || argc <= 0) return;
  ::setenv("OMP_PROC_BIND", "true", 1);
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) args.push_back(const_cast<char*>(argv[i]));
  args.push_back(nullptr);
  ::execv("/proc/self/exe", args.data());  // returns only on failure: carry on unbound
}

}  // namespace cadcrafter::learn
