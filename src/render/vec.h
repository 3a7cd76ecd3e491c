// Small float 3-vector and 3x3 matrix for the renderer. Rendering works in float: the
// normalised frame spans [-1, 1], so float's 24 bits are far finer than a pixel.
#pragma once

#include <array>
#include <cmath>

namespace cadcrafter {

constexpr double kPi = 3.14159265358979323846;

struct V3 {
  float x = 0, y = 0, z = 0;
  V3() = default;
  constexpr V3(float x_, float y_, float z_) : x(x_), y(y_), z(z_) {}
  explicit V3(const std::array<float, 3>& a) : x(a[0]), y(a[1]), z(a[2]) {}
  V3 operator+(const V3& o) const { return {x + o.x, y + o.y, z + o.z}; }
  V3 operator-(const V3& o) const { return {x - o.x, y - o.y, z - o.z}; }
  V3 operator-() const { return {-x, -y, -z}; }
  V3 operator*(float s) const { return {x * s, y * s, z * s}; }
  V3 operator*(const V3& o) const { return {x * o.x, y * o.y, z * o.z}; }  // component-wise
  V3 operator/(float s) const { return {x / s, y / s, z / s}; }
  V3& operator+=(const V3& o) { x += o.x; y += o.y; z += o.z; return *this; }
  V3& operator*=(float s) { x *= s; y *= s; z *= s; return *this; }
  float operator[](int i) const { return i == 0 ? x : (i == 1 ? y : z); }
};

inline float dot(const V3& a, const V3& b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline V3 cross(const V3& a, const V3& b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
inline float length(const V3& a) { return std::sqrt(dot(a, a)); }
inline V3 normalize(const V3& a) {
  const float l = length(a);
  return l > 0 ? a / l : V3{0, 0, 0};
}
inline V3 lerp(const V3& a, const V3& b, float t) { return a + (b - a) * t; }

// Row-major 3x3 matrix: m[r][c].
struct M3 {
  std::array<std::array<float, 3>, 3> m{};
  V3 operator*(const V3& v) const {
    return {m[0][0] * v.x + m[0][1] * v.y + m[0][2] * v.z, m[1][0] * v.x + m[1][1] * v.y + m[1][2] * v.z,
            m[2][0] * v.x + m[2][1] * v.y + m[2][2] * v.z};
  }
  M3 transposed() const {
    M3 t;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) t.m[r][c] = m[c][r];
    return t;
  }
  V3 row(int r) const { return {m[r][0], m[r][1], m[r][2]}; }
};

}  // namespace cadcrafter
