#include "geom/mesh_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/atomic_file.h"

namespace cadcrafter {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_f32(std::string& out, float f) {
  uint32_t v;
  std::memcpy(&v, &f, 4);
  put_u32(out, v);
}
uint32_t get_u32(const std::string& in, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}
float get_f32(const std::string& in, size_t at) {
  const uint32_t v = get_u32(in, at);
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}

}  // namespace

Status write_obj(const Mesh& mesh, const std::string& path, const std::string& note) {
  std::ostringstream out;
  out.precision(9);
  out << "# cadcrafter mesh: " << mesh.vertices.size() << " vertices, " << mesh.triangles.size() << " triangles\n";
  if (!note.empty()) out << "# " << note << '\n';
  for (const auto& v : mesh.vertices) out << "v " << v[0] << ' ' << v[1] << ' ' << v[2] << '\n';
  const bool normals = mesh.normals.size() == mesh.vertices.size() && !mesh.normals.empty();
  if (normals)
    for (const auto& n : mesh.normals) out << "vn " << n[0] << ' ' << n[1] << ' ' << n[2] << '\n';
  for (const auto& t : mesh.triangles) {
    out << 'f';
    for (uint32_t i : t) {
      out << ' ' << i + 1;
      if (normals) out << "//" << i + 1;
    }
    out << '\n';
  }
  return write_file_atomically(path, out.str());
}

Status write_stl(const Mesh& mesh, const std::string& path, const std::string& note) {
  std::string out(80, '\0');
  std::string header = "binary STL written by cadcrafter";
  if (!note.empty()) header += ", " + note;
  std::memcpy(out.data(), header.data(), std::min<size_t>(header.size(), 80));
  put_u32(out, static_cast<uint32_t>(mesh.triangles.size()));
  out.reserve(84 + 50 * mesh.triangles.size());
  for (const auto& t : mesh.triangles) {
    const auto &a = mesh.vertices[t[0]], &b = mesh.vertices[t[1]], &c = mesh.vertices[t[2]];
    const double ux = b[0] - a[0], uy = b[1] - a[1], uz = b[2] - a[2];
    const double vx = c[0] - a[0], vy = c[1] - a[1], vz = c[2] - a[2];
    double nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    const double len = std::sqrt(nx * nx + ny * ny + nz * nz);
    if (len > 0) nx /= len, ny /= len, nz /= len;
    put_f32(out, static_cast<float>(nx));
    put_f32(out, static_cast<float>(ny));
    put_f32(out, static_cast<float>(nz));
    for (const auto* p : {&a, &b, &c})
      for (int k = 0; k < 3; ++k) put_f32(out, (*p)[k]);
    out.push_back('\0');
    out.push_back('\0');
  }
  return write_file_atomically(path, out);
}

Result<Mesh> read_stl(const std::string& path) {
  auto bytes = read_file(path);
  if (!bytes) return bytes.error();
  const std::string& in = *bytes;
  if (in.size() < 84) return Result<Mesh>::fail(ErrorCode::kParse, path + ": too short for a binary STL (" + std::to_string(in.size()) + " bytes)");
  const uint32_t n = get_u32(in, 80);
  if (in.size() != 84 + 50ull * n)
    return Result<Mesh>::fail(ErrorCode::kParse, path + ": binary STL says " + std::to_string(n) + " triangles but has " +
                                                      std::to_string(in.size()) + " bytes");
  Mesh mesh;
  mesh.vertices.reserve(3ull * n);
  mesh.triangles.reserve(n);
  for (uint32_t t = 0; t < n; ++t) {
    const size_t base = 84 + 50ull * t + 12;
    for (uint32_t k = 0; k < 3; ++k)
      mesh.vertices.push_back({get_f32(in, base + 12 * k), get_f32(in, base + 12 * k + 4), get_f32(in, base + 12 * k + 8)});
    mesh.triangles.push_back({3 * t, 3 * t + 1, 3 * t + 2});
  }
  return mesh;
}

}  // namespace cadcrafter
