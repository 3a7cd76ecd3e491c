#include "learn/inference/part_index.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/dataset.h"
#include "learn/data/backbone_input.h"
#include "learn/training/condition_trainer.h"
#include "learn/training/contrastive.h"
#include "util/atomic_file.h"
#include "util/progress.h"

namespace cadcrafter::learn {
namespace fs = std::filesystem;

namespace {

// Stored framed views [N, K, 4, s, s] -> per-part embeddings [N, F] through the backbone.
torch::Tensor embed_parts(LoadedBackbone& backbone, const torch::Tensor& stored, bool progress) {
  const int64_t n = stored.size(0), k = stored.size(1);
  std::vector<torch::Tensor> out;
  ProgressBar bar("embed parts", n, progress);
  const int64_t chunk = std::max<int64_t>(1, 256 / k);
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t len = std::min(chunk, n - s);
    auto views = decode_views(stored.narrow(0, s, len).reshape({len * k, 4, stored.size(3), stored.size(4)}));  // [len*k, 2, 3, h, w]
    auto f = backbone.extractor->extract(views.reshape({len * k * 2, 3, stored.size(3), stored.size(4)})).to(torch::kCPU);
    out.push_back(multi_view_embedding(f.view({len, k, 2, -1})));
    bar.add(len);
  }
  bar.finish();
  return torch::cat(out, 0);
}

std::string relative_or_absolute(const std::string& target, const std::string& from_dir) {
  std::error_code ec;
  auto rel = fs::relative(fs::absolute(target), fs::absolute(from_dir), ec);
  return ec || rel.empty() ? fs::absolute(target).string() : rel.string();
}

}  // namespace

Status build_part_index(const PartIndexBuildOptions& o) {
  auto reader = DatasetReader::open(o.dataset);
  if (!reader) return reader.error();
  std::vector<size_t> indices;
  for (const auto& split : o.splits)
    for (size_t i : reader->indices(split, o.source)) indices.push_back(i);
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  if (indices.empty()) return Status::fail(ErrorCode::kInvalidArgument, o.dataset + ": no samples in the requested splits/source");
  if (o.views_per_model < 1) return Status::fail(ErrorCode::kInvalidArgument, "views_per_model must be >= 1");
  const fs::path out(o.out_dir);
  if (fs::exists(out / "index.pt") && !o.force)
    return Status::fail(ErrorCode::kInvalidArgument, o.out_dir + " already holds a part index (pass --force to replace it)");
  auto backbone = load_backbone(o.backbone, torch::kCPU);
  if (!backbone) return backbone.error();
  const int64_t k = std::min<int64_t>(o.views_per_model, reader->views());
  auto stored = load_framed_views(*reader, indices, backbone->image_size,
                                  [&](size_t i, int64_t total) { return spread_views(0x1D3E5ULL + i, total, k); }, o.threads, o.progress);
  if (!stored) return stored.error();
  torch::Tensor emb;
  {
    torch::NoGradGuard no_grad;
    emb = embed_parts(*backbone, *stored, o.progress);
  }
  std::vector<int64_t> offsets{0};
  std::vector<int16_t> rows;
  std::string ids;
  for (size_t i : indices) {
    auto s = reader->get(i, /*images=*/false);
    if (!s) return s.error();
    for (const auto& r : s->vec_rows()) {
      rows.insert(rows.end(), r.begin(), r.end());
      if (r[0] == kCmdEos) break;
    }
    offsets.push_back(static_cast<int64_t>(rows.size() / kVecColumns));
    ids += s->info.id + "\n";
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return Status::fail(ErrorCode::kIo, o.out_dir + ": cannot create folder: " + ec.message());
  std::vector<torch::Tensor> tensors = {
      emb.to(torch::kHalf), torch::tensor(offsets, torch::kLong),
      torch::from_blob(rows.data(), {static_cast<int64_t>(rows.size() / kVecColumns), kVecColumns}, torch::kInt16).clone()};
  if (auto st = write_atomically((out / "index.pt").string(), [&](const std::string& tmp) -> Status {
        torch::save(tensors, tmp);
        return {};
      });
      !st)
    return st;
  if (auto st = write_file_atomically((out / "ids.txt").string(), ids); !st) return st;
  nlohmann::json config = {{"kind", "part_index"},
                           {"backbone", relative_or_absolute(o.backbone, o.out_dir)},
                           {"views_per_model", k},
                           {"image_size", backbone->image_size},
                           {"parts", static_cast<int64_t>(indices.size())},
                           {"data", o.dataset},
                           {"vec_frame", reader->vec_frame()},
                           {"splits", o.splits},
                           {"source", o.source.empty() ? "all" : o.source}};
  if (auto st = write_file_atomically((out / "config.json").string(), config.dump(2) + "\n"); !st) return st;
  nlohmann::json info = o.run_info;
  info["stage"] = "part_index";
  return write_file_atomically((out / "run.json").string(), info.dump(2) + "\n");
}

struct PartIndex::Impl {
  std::string dir, backbone_path;
  LoadedBackbone backbone;
  torch::Tensor embeddings;  // [N, F] float, normalised
  std::vector<int64_t> offsets;
  torch::Tensor rows;        // [R, 17] int16
  std::vector<std::string> ids;
  nlohmann::json config;
};

PartIndex::PartIndex() = default;
PartIndex::~PartIndex() = default;
PartIndex::PartIndex(PartIndex&&) noexcept = default;
PartIndex& PartIndex::operator=(PartIndex&&) noexcept = default;

Result<PartIndex> PartIndex::load(const std::string& dir) {
  using R = Result<PartIndex>;
  const fs::path d(dir);
  auto text = read_file((d / "config.json").string());
  if (!text) return text.error();
  auto config = nlohmann::json::parse(*text, nullptr, false);
  if (config.is_discarded() || !config.is_object() || config.value("kind", "") != "part_index")
    return R::fail(ErrorCode::kParse, dir + "/config.json: not a part index");
  PartIndex index;
  index.impl_ = std::make_unique<Impl>();
  auto& m = *index.impl_;
  m.dir = dir;
  m.config = config;
  std::string bb = config.value("backbone", "");
  m.backbone_path = bb.empty() || fs::path(bb).is_absolute() ? bb : (d / bb).lexically_normal().string();
  auto backbone = load_backbone(m.backbone_path, torch::kCPU);
  if (!backbone) return R::fail(backbone.error().code, "backbone of part index " + dir + ": " + backbone.error().message);
  m.backbone = *backbone;
  std::vector<torch::Tensor> tensors;
  try {
    torch::load(tensors, (d / "index.pt").string());
  } catch (const std::exception& e) {
    return R::fail(ErrorCode::kParse, dir + "/index.pt: cannot read (" + std::string(e.what()).substr(0, 120) + ")");
  }
  if (tensors.size() != 3 || tensors[0].dim() != 2 || tensors[1].dim() != 1 || tensors[2].dim() != 2 ||
      tensors[2].size(1) != kVecColumns || tensors[1].size(0) != tensors[0].size(0) + 1)
    return R::fail(ErrorCode::kParse, dir + "/index.pt: unexpected tensor layout");
  if (tensors[0].size(1) != m.backbone.extractor->feature_dim())
    return R::fail(ErrorCode::kInvalidArgument, dir + ": index features do not match its backbone's feature size");
  m.embeddings = torch::nn::functional::normalize(tensors[0].to(torch::kFloat), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto off = tensors[1].contiguous();
  m.offsets.assign(off.data_ptr<int64_t>(), off.data_ptr<int64_t>() + off.size(0));
  m.rows = tensors[2].contiguous();
  if (m.offsets.front() != 0 || m.offsets.back() != m.rows.size(0) || !std::is_sorted(m.offsets.begin(), m.offsets.end()))
    return R::fail(ErrorCode::kParse, dir + "/index.pt: vector offsets are inconsistent");
  std::ifstream ids((d / "ids.txt").string());
  for (std::string line; std::getline(ids, line);) m.ids.push_back(line);
  if (static_cast<int64_t>(m.ids.size()) != m.embeddings.size(0))
    return R::fail(ErrorCode::kParse, dir + "/ids.txt: " + std::to_string(m.ids.size()) + " ids for " +
                                          std::to_string(m.embeddings.size(0)) + " parts");
  return index;
}

int64_t PartIndex::size() const { return impl_ ? impl_->embeddings.size(0) : 0; }
int PartIndex::feature_dim() const { return impl_ ? static_cast<int>(impl_->embeddings.size(1)) : 0; }
std::string PartIndex::backbone_path() const { return impl_ ? impl_->backbone_path : ""; }

std::string PartIndex::vec_frame() const { return impl_ ? impl_->config.value("vec_frame", std::string("model")) : "model"; }

std::vector<std::string> PartIndex::weight_files() const {
  if (!impl_) return {};
  const std::string& bb = impl_->backbone_path;
  return {(fs::path(impl_->dir) / "index.pt").string(), fs::is_regular_file(bb) ? bb : (fs::path(bb) / "backbone.pt").string()};
}

nlohmann::json PartIndex::describe() const {
  if (!impl_) return nullptr;
  nlohmann::json j = impl_->config;
  j["dir"] = impl_->dir;
  return j;
}

namespace {
std::vector<float> embedding_of(const torch::Tensor& e) {
  const auto c = e.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}
}  // namespace

std::vector<RetrievedPart> PartIndex::nearest_to(const std::vector<float>& embedding, int k) const {
  std::vector<RetrievedPart> out;
  if (!impl_ || k <= 0 || static_cast<int64_t>(embedding.size()) != impl_->embeddings.size(1)) return out;
  auto q = torch::from_blob(const_cast<float*>(embedding.data()), {1, static_cast<int64_t>(embedding.size())}, torch::kFloat).clone();
  q = torch::nn::functional::normalize(q, torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto sim = torch::matmul(impl_->embeddings, q.t()).squeeze(1);
  const int64_t kk = std::min<int64_t>(k, sim.size(0));
  auto top = sim.topk(kk);
  auto values = std::get<0>(top).contiguous(), idx = std::get<1>(top).contiguous();
  for (int64_t j = 0; j < kk; ++j) {
    RetrievedPart p;
    p.index = idx[j].item<int64_t>();
    p.similarity = values[j].item<double>();
    p.id = impl_->ids[static_cast<size_t>(p.index)];
    const int64_t a = impl_->offsets[static_cast<size_t>(p.index)], b = impl_->offsets[static_cast<size_t>(p.index) + 1];
    auto rows = impl_->rows.narrow(0, a, b - a).to(torch::kInt).contiguous();
    const int* data = rows.data_ptr<int>();
    for (int64_t r = 0; r < b - a; ++r) {
      CadVecRow row{};
      std::copy(data + r * kVecColumns, data + (r + 1) * kVecColumns, row.begin());
      p.vec.push_back(row);
    }
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<std::vector<RetrievedPart>>> PartIndex::search(const std::vector<GeometryMaps>& views, int k,
                                                                   bool each_view) const {
  using Out = Result<std::vector<std::vector<RetrievedPart>>>;
  if (!impl_) return Out::fail(ErrorCode::kInvalidArgument, "part index not loaded");
  if (views.empty()) return Out::fail(ErrorCode::kInvalidArgument, "no views to search with");
  torch::NoGradGuard no_grad;
  auto f = features_of_maps(impl_->backbone, views);  // [V, 2, F]
  std::vector<std::vector<RetrievedPart>> lists;
  lists.push_back(nearest_to(embedding_of(multi_view_embedding(f.unsqueeze(0)).squeeze(0)), k));
  for (int64_t v = 0; each_view && views.size() > 1 && v < f.size(0); ++v)
    lists.push_back(nearest_to(embedding_of(multi_view_embedding(f.narrow(0, v, 1).unsqueeze(0)).squeeze(0)), k));
  return lists;
}

Result<std::vector<RetrievedPart>> PartIndex::nearest(const std::vector<GeometryMaps>& views, int k) const {
  auto lists = search(views, k, false);
  if (!lists) return lists.error();
  return std::move(lists->front());
}

Result<std::vector<std::vector<RetrievedPart>>> PartIndex::nearest_joint_and_each(const std::vector<GeometryMaps>& views,
                                                                                   int k) const {
  return search(views, k, true);
}

}  // namespace cadcrafter::learn
