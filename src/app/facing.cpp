#include "app/facing.h"

#include "app/agreement.h"
#include "cad/turn.h"
#include "kernel/check.h"
#include "kernel/tessellate.h"

namespace cadcrafter::app {

Mesh turn_mesh_about_z(const Mesh& mesh, int quarter_turns) {
  const int k = ((quarter_turns % 4) + 4) % 4;
  if (k == 0) return mesh;
  Mesh out = mesh;
  auto turn = [k](std::array<float, 3>& p) {
    for (int i = 0; i < k; ++i) p = {-p[1], p[0], p[2]};
  };
  for (auto& v : out.vertices) turn(v);
  for (auto& n : out.normals) turn(n);
  return out;
}

FacedVec face_view(const CadVec& vec, const ViewMaps& view) {
  FacedVec out;
  out.vec = vec;
  if (vec.empty()) return out;
  auto model = decode(vec);
  if (!model) return out;
  out.model = std::move(*model);
  CheckOptions copt;
  copt.keep_solid = true;
  copt.timeout_ms = 4000;
  const CheckResult c = check_model(out.model, copt);
  if (!c.valid) return out;
  out.mesh = tessellate(c.solid);
  if (out.mesh.empty()) return out;
  out.valid = true;
  const int k = facing_quarter_turns(out.mesh, view);
  if (k == 0) return out;
  auto turned = turn_vec(vec, -k);
  if (!turned) return out;  // kept unturned, as the vector cannot be re-expressed
  out.vec = std::move(*turned);
  out.model = turn_about_z(out.model, -k);
  out.mesh = turn_mesh_about_z(out.mesh, -k);
  out.turns = k;
  return out;
}

}  // namespace cadcrafter::app
