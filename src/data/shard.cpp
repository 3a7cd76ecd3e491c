#include "data/shard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "util/atomic_file.h"

namespace cadcrafter {
namespace {

constexpr char kMagic[8] = {'C', 'C', 'S', 'H', 'A', 'R', 'D', '1'};
constexpr size_t kHeaderBytes = 64;
constexpr size_t kRecordHeaderBytes = 12;
constexpr uint32_t kFlagRgb = 1;

// The on-disk numbers are little-endian; so is every machine this project runs on.
static_assert(sizeof(float) == 4, "float must be 32-bit");
inline bool host_is_little_endian() {
  const uint16_t one = 1;
  return *reinterpret_cast<const uint8_t*>(&one) == 1;
}

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}
template <typename T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
void put_array(std::string& out, const std::vector<T>& v) {
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

uint32_t crc(const std::string& bytes, uint32_t seed = 0) {
  uLong c = seed;
  size_t done = 0;
  while (done < bytes.size()) {  // zlib takes uInt lengths
    const size_t n = std::min<size_t>(bytes.size() - done, 1u << 30);
    c = crc32(c, reinterpret_cast<const Bytef*>(bytes.data() + done), static_cast<uInt>(n));
    done += n;
  }
  return static_cast<uint32_t>(c);
}

size_t payload_bytes(int views, int size, bool rgb) {
  const size_t px = static_cast<size_t>(size) * size * views;
  return kShardVecRows * kShardVecCols * 2 + 4 * 4 + static_cast<size_t>(views) * 21 * 4 + px * 2 + px * 3 + px +
         (rgb ? px * 3 : 0);
}

struct Header {
  uint32_t version = 0, count = 0, views = 0, size = 0, flags = 0, vec_rows = 0, vec_cols = 0;
  uint64_t index_offset = 0, meta_offset = 0, meta_size = 0;
  uint32_t index_meta_crc = 0, file_crc = 0;
};

std::string encode_header(const Header& h) {
  std::string out(kMagic, 8);
  put<uint32_t>(out, h.version);
  put<uint32_t>(out, h.count);
  put<uint32_t>(out, h.views);
  put<uint32_t>(out, h.size);
  put<uint32_t>(out, h.flags);
  put<uint16_t>(out, static_cast<uint16_t>(h.vec_rows));
  put<uint16_t>(out, static_cast<uint16_t>(h.vec_cols));
  put<uint64_t>(out, h.index_offset);
  put<uint64_t>(out, h.meta_offset);
  put<uint64_t>(out, h.meta_size);
  put<uint32_t>(out, h.index_meta_crc);
  put<uint32_t>(out, h.file_crc);
  return out;
}

Result<Header> decode_header(const std::string& bytes, const std::string& path) {
  if (bytes.size() < kHeaderBytes) return Result<Header>::fail(ErrorCode::kParse, path + ": truncated shard (no complete header)");
  if (std::memcmp(bytes.data(), kMagic, 8) != 0) return Result<Header>::fail(ErrorCode::kParse, path + ": not a cadcrafter shard (bad magic)");
  const char* p = bytes.data();
  Header h;
  h.version = get<uint32_t>(p + 8);
  h.count = get<uint32_t>(p + 12);
  h.views = get<uint32_t>(p + 16);
  h.size = get<uint32_t>(p + 20);
  h.flags = get<uint32_t>(p + 24);
  h.vec_rows = get<uint16_t>(p + 28);
  h.vec_cols = get<uint16_t>(p + 30);
  h.index_offset = get<uint64_t>(p + 32);
  h.meta_offset = get<uint64_t>(p + 40);
  h.meta_size = get<uint64_t>(p + 48);
  h.index_meta_crc = get<uint32_t>(p + 56);
  h.file_crc = get<uint32_t>(p + 60);
  if (h.version != kShardVersion)
    return Result<Header>::fail(ErrorCode::kUnsupported, path + ": shard version " + std::to_string(h.version) + ", this build reads " + std::to_string(kShardVersion));
  if (h.vec_rows != kShardVecRows || h.vec_cols != kShardVecCols)
    return Result<Header>::fail(ErrorCode::kParse, path + ": unexpected vector shape " + std::to_string(h.vec_rows) + "x" + std::to_string(h.vec_cols));
  if (h.views == 0 || h.size == 0 || h.size > 4096 || h.views > 4096)
    return Result<Header>::fail(ErrorCode::kParse, path + ": corrupt header (views " + std::to_string(h.views) + ", size " + std::to_string(h.size) + ")");
  if (h.index_offset < kHeaderBytes || h.meta_offset != h.index_offset + 8ull * h.count)
    return Result<Header>::fail(ErrorCode::kParse, path + ": corrupt header (index/meta offsets disagree)");
  return h;
}

Status pread_all(int fd, char* buf, size_t n, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::fail(ErrorCode::kIo, path + ": read failed: " + std::strerror(errno));
    if (r == 0) return Status::fail(ErrorCode::kParse, path + ": truncated shard (unexpected end of file)");
    done += static_cast<size_t>(r);
  }
  return {};
}

}  // namespace

std::vector<std::array<int, kShardVecCols>> DatasetSample::vec_rows() const {
  std::vector<std::array<int, kShardVecCols>> rows(static_cast<size_t>(info.vec_len));
  for (size_t r = 0; r < rows.size(); ++r)
    for (int c = 0; c < kShardVecCols; ++c) rows[r][c] = vec[r * kShardVecCols + c];
  return rows;
}

std::string encode_sample_payload(const DatasetSample& s) {
  std::string out;
  out.reserve(payload_bytes(s.views, s.size, !s.rgb.empty()));
  out.append(reinterpret_cast<const char*>(s.vec.data()), s.vec.size() * sizeof(int16_t));
  for (float v : s.norm_center) put<float>(out, v);
  put<float>(out, s.norm_scale);
  for (const ShardCamera& c : s.cameras) {
    for (float v : c.intrinsics) put<float>(out, v);
    for (float v : c.extrinsics) put<float>(out, v);
  }
  put_array(out, s.depth);
  put_array(out, s.normal);
  put_array(out, s.mask);
  put_array(out, s.rgb);
  return out;
}

Status decode_sample_payload(const std::string& raw, int views, int size, bool rgb, DatasetSample* s) {
  if (raw.size() != payload_bytes(views, size, rgb))
    return Status::fail(ErrorCode::kParse, "sample payload has " + std::to_string(raw.size()) + " bytes, expected " +
                                               std::to_string(payload_bytes(views, size, rgb)));
  const char* p = raw.data();
  std::memcpy(s->vec.data(), p, s->vec.size() * sizeof(int16_t));
  p += s->vec.size() * sizeof(int16_t);
  for (float& v : s->norm_center) v = get<float>(p), p += 4;
  s->norm_scale = get<float>(p), p += 4;
  s->views = views;
  s->size = size;
  s->cameras.resize(static_cast<size_t>(views));
  for (ShardCamera& c : s->cameras) {
    std::memcpy(c.intrinsics.data(), p, 36), p += 36;
    std::memcpy(c.extrinsics.data(), p, 48), p += 48;
  }
  const size_t px = static_cast<size_t>(size) * size * views;
  s->depth.resize(px);
  std::memcpy(s->depth.data(), p, px * 2), p += px * 2;
  s->normal.resize(px * 3);
  std::memcpy(s->normal.data(), p, px * 3), p += px * 3;
  s->mask.resize(px);
  std::memcpy(s->mask.data(), p, px), p += px;
  s->rgb.clear();
  if (rgb) {
    s->rgb.resize(px * 3);
    std::memcpy(s->rgb.data(), p, px * 3);
  }
  return {};
}

PackedSample pack_sample(const DatasetSample& sample, int level) {
  const std::string raw = encode_sample_payload(sample);
  uLongf stored_size = compressBound(static_cast<uLong>(raw.size()));
  PackedSample packed;
  packed.info = sample.info;
  packed.stored.resize(stored_size);
  compress2(reinterpret_cast<Bytef*>(packed.stored.data()), &stored_size, reinterpret_cast<const Bytef*>(raw.data()),
            static_cast<uLong>(raw.size()), level);
  packed.stored.resize(stored_size);
  packed.raw_size = static_cast<uint32_t>(raw.size());
  return packed;
}

Status write_shard(const std::string& path, const ShardLayout& layout, const std::vector<PackedSample>& samples,
                   const nlohmann::json& meta_extra) {
  if (!host_is_little_endian()) return Status::fail(ErrorCode::kUnsupported, "shards are little-endian; this host is not");
  // Body = records + index + meta, assembled in memory (a shard is tens of MB).
  std::string body;
  std::vector<uint64_t> offsets;
  nlohmann::json infos = nlohmann::json::array();
  for (const PackedSample& s : samples) {
    offsets.push_back(kHeaderBytes + body.size());
    put<uint32_t>(body, static_cast<uint32_t>(s.stored.size()));
    put<uint32_t>(body, s.raw_size);
    put<uint32_t>(body, crc(s.stored));
    body += s.stored;
    infos.push_back({{"id", s.info.id}, {"source", s.info.source}, {"split", s.info.split}, {"seed", s.info.seed}, {"vec_len", s.info.vec_len}});
  }
  Header h;
  h.version = kShardVersion;
  h.count = static_cast<uint32_t>(samples.size());
  h.views = static_cast<uint32_t>(layout.views);
  h.size = static_cast<uint32_t>(layout.size);
  h.flags = layout.rgb ? kFlagRgb : 0;
  h.vec_rows = kShardVecRows;
  h.vec_cols = kShardVecCols;
  h.index_offset = kHeaderBytes + body.size();
  std::string index_and_meta;
  for (uint64_t o : offsets) put<uint64_t>(index_and_meta, o);
  nlohmann::json meta = meta_extra;
  meta["samples"] = infos;
  const std::string meta_text = meta.dump();
  index_and_meta += meta_text;
  body += index_and_meta;
  h.meta_offset = h.index_offset + 8ull * samples.size();
  h.meta_size = meta_text.size();
  h.index_meta_crc = crc(index_and_meta);
  h.file_crc = crc(body);
  const std::string bytes = encode_header(h) + body;
  return write_file_atomically(path, bytes);
}

Result<std::shared_ptr<ShardFile>> ShardFile::open(const std::string& path) {
  using R = Result<std::shared_ptr<ShardFile>>;
  std::shared_ptr<ShardFile> shard(new ShardFile());
  shard->path_ = path;
  shard->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (shard->fd_ < 0) return R::fail(ErrorCode::kIo, path + ": cannot open shard: " + std::strerror(errno));
  struct stat st{};
  if (::fstat(shard->fd_, &st) != 0) return R::fail(ErrorCode::kIo, path + ": cannot stat: " + std::strerror(errno));
  shard->file_bytes_ = static_cast<uint64_t>(st.st_size);
  std::string head(kHeaderBytes, '\0');
  if (shard->file_bytes_ < kHeaderBytes) return R::fail(ErrorCode::kParse, path + ": truncated shard (" + std::to_string(shard->file_bytes_) + " bytes, no complete header)");
  if (Status s = pread_all(shard->fd_, head.data(), kHeaderBytes, 0, path); !s.ok()) return s.error();
  auto header = decode_header(head, path);
  if (!header.ok()) return header.error();
  const Header& h = *header;
  const uint64_t expected = h.meta_offset + h.meta_size;
  if (shard->file_bytes_ != expected)
    return R::fail(ErrorCode::kParse, path + ": truncated or padded shard (" + std::to_string(shard->file_bytes_) + " bytes, header says " +
                                          std::to_string(expected) + ")");
  std::string tail(static_cast<size_t>(expected - h.index_offset), '\0');
  if (Status s = pread_all(shard->fd_, tail.data(), tail.size(), h.index_offset, path); !s.ok()) return s.error();
  if (crc(tail) != h.index_meta_crc) return R::fail(ErrorCode::kParse, path + ": checksum mismatch in the shard index (corrupt file)");
  shard->layout_ = {static_cast<int>(h.views), static_cast<int>(h.size), (h.flags & kFlagRgb) != 0};
  shard->offsets_.resize(h.count + 1);
  for (uint32_t i = 0; i < h.count; ++i) {
    shard->offsets_[i] = get<uint64_t>(tail.data() + 8 * i);
    if (shard->offsets_[i] < kHeaderBytes || shard->offsets_[i] >= h.index_offset || (i > 0 && shard->offsets_[i] <= shard->offsets_[i - 1]))
      return R::fail(ErrorCode::kParse, path + ": corrupt shard index (record " + std::to_string(i) + ")");
  }
  shard->offsets_[h.count] = h.index_offset;
  try {
    shard->meta_ = nlohmann::json::parse(tail.begin() + 8 * h.count, tail.end());
    const auto& samples = shard->meta_.at("samples");
    if (samples.size() != h.count) return R::fail(ErrorCode::kParse, path + ": meta lists " + std::to_string(samples.size()) + " samples, header " + std::to_string(h.count));
    for (const auto& j : samples)
      shard->infos_.push_back({j.at("id").get<std::string>(), j.at("source").get<std::string>(), j.at("split").get<std::string>(),
                               j.at("seed").get<uint64_t>(), j.at("vec_len").get<int>()});
  } catch (const std::exception& e) {
    return R::fail(ErrorCode::kParse, path + ": bad shard meta JSON: " + e.what());
  }
  return shard;
}

ShardFile::~ShardFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<DatasetSample> ShardFile::read(size_t i, bool images) const {
  using R = Result<DatasetSample>;
  if (i >= infos_.size()) return R::fail(ErrorCode::kInvalidArgument, path_ + ": sample " + std::to_string(i) + " out of range (" + std::to_string(infos_.size()) + ")");
  const uint64_t begin = offsets_[i], end = offsets_[i + 1];
  std::string record(static_cast<size_t>(end - begin), '\0');
  if (record.size() < kRecordHeaderBytes) return R::fail(ErrorCode::kParse, path_ + ": corrupt record " + std::to_string(i));
  if (Status s = pread_all(fd_, record.data(), record.size(), begin, path_); !s.ok()) return s.error();
  const uint32_t stored = get<uint32_t>(record.data()), raw_size = get<uint32_t>(record.data() + 4), want_crc = get<uint32_t>(record.data() + 8);
  if (stored != record.size() - kRecordHeaderBytes)
    return R::fail(ErrorCode::kParse, path_ + ": corrupt record " + std::to_string(i) + " (size field disagrees with the index)");
  const std::string payload = record.substr(kRecordHeaderBytes);
  if (crc(payload) != want_crc) return R::fail(ErrorCode::kParse, path_ + ": checksum mismatch in record " + std::to_string(i) + " (corrupt file)");
  if (!images) {
    // The vector and the normalisation lead the payload: inflate only that prefix.
    const size_t prefix = kShardVecRows * kShardVecCols * sizeof(int16_t) + 4 * sizeof(float);
    std::string head(prefix, '\0');
    z_stream z{};
    if (inflateInit(&z) != Z_OK) return R::fail(ErrorCode::kInternal, "zlib inflateInit failed");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(payload.data()));
    z.avail_in = static_cast<uInt>(payload.size());
    z.next_out = reinterpret_cast<Bytef*>(head.data());
    z.avail_out = static_cast<uInt>(prefix);
    int rc = Z_OK;
    while (z.avail_out > 0 && rc == Z_OK) rc = inflate(&z, Z_NO_FLUSH);
    const bool complete = z.avail_out == 0;
    inflateEnd(&z);
    if (!complete || raw_size < prefix) return R::fail(ErrorCode::kParse, path_ + ": record " + std::to_string(i) + " does not inflate (corrupt file)");
    DatasetSample sample;
    sample.info = infos_[i];
    std::memcpy(sample.vec.data(), head.data(), sample.vec.size() * sizeof(int16_t));
    const char* p = head.data() + sample.vec.size() * sizeof(int16_t);
    for (float& v : sample.norm_center) v = get<float>(p), p += 4;
    sample.norm_scale = get<float>(p);
    sample.views = layout_.views;
    sample.size = layout_.size;
    return sample;
  }
  std::string raw(raw_size, '\0');
  uLongf raw_len = raw_size;
  if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_len, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uLong>(payload.size())) != Z_OK ||
      raw_len != raw_size)
    return R::fail(ErrorCode::kParse, path_ + ": record " + std::to_string(i) + " does not inflate (corrupt file)");
  DatasetSample sample;
  sample.info = infos_[i];
  if (Status s = decode_sample_payload(raw, layout_.views, layout_.size, layout_.rgb, &sample); !s.ok())
    return R::fail(ErrorCode::kParse, path_ + ": record " + std::to_string(i) + ": " + s.error().message);
  return sample;
}

Status verify_shard(const std::string& path) {
  auto shard = ShardFile::open(path);
  if (!shard.ok()) return shard.error();
  auto bytes = read_file(path);
  if (!bytes.ok()) return bytes.error();
  auto header = decode_header(bytes->substr(0, kHeaderBytes), path);
  if (!header.ok()) return header.error();
  if (crc(bytes->substr(kHeaderBytes)) != header->file_crc) return Status::fail(ErrorCode::kParse, path + ": checksum mismatch (corrupt shard)");
  return {};
}

}  // namespace cadcrafter
