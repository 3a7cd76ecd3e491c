// DeepCAD's quantised command vectors ("cad_vec"), bit-exact with DeepCAD's cadlib.
//
// A vector is a list of rows of 17 ints: [cmd, x, y, alpha, f, r, theta, phi, gamma, px, py,
// pz, s, e1, e2, b, u]; unused arguments are -1. Each extrude contributes, for each loop, a SOL
// row and its curve rows, then one Ext row; the sequence ends with EOS.
//
//   encode(model) = CADSequence normalize() -> numericalize(256) -> to_vector(10, 6, 15, 60)
//   decode(vec)   = CADSequence.from_vector(is_numerical=True, n=256) + the numpy part of
//                   DeepCAD's solid builder (profile denormalised by sketch_size, plane origin
//                   = sketch_pos), i.e. geometry in the normalised [-0.75, 0.75] model frame.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "cad/cad_model.h"
#include "util/status.h"

namespace cadcrafter {

constexpr int kVecColumns = 17;
using CadVecRow = std::array<int, kVecColumns>;
using CadVec = std::vector<CadVecRow>;

// Commands (column 0), as in DeepCAD's macro.py.
enum Command : int { kCmdLine = 0, kCmdArc = 1, kCmdCircle = 2, kCmdEos = 3, kCmdSol = 4, kCmdExt = 5 };
constexpr int kNumCommands = 6;

// Argument columns (1-based positions in a row).
enum Column : int {
  kColCmd = 0, kColX = 1, kColY = 2, kColAlpha = 3, kColFlag = 4, kColRadius = 5,
  kColTheta = 6, kColPhi = 7, kColGamma = 8, kColPx = 9, kColPy = 10, kColPz = 11,
  kColSize = 12, kColE1 = 13, kColE2 = 14, kColOperation = 15, kColExtentType = 16,
};

// DeepCAD's limits and quantisation (macro.py).
constexpr int kMaxExtrudes = 10;     // MAX_N_EXT
constexpr int kMaxLoops = 6;         // MAX_N_LOOPS
constexpr int kMaxLoopRows = 15;     // MAX_N_CURVES (SOL + curves of one loop)
constexpr int kMaxTotalLen = 60;     // MAX_TOTAL_LEN (rows, final EOS included)
constexpr int kArgsDim = 256;        // ARGS_DIM: quantised values lie in [0, 255]
constexpr int kPadValue = -1;        // PAD_VAL
constexpr double kNormFactor = 0.75; // NORM_FACTOR

const char* command_name(int cmd);  // "Line", "Arc", "Circle", "EOS", "SOL", "Ext" or "?"
const char* column_name(int col);   // "cmd", "x", "y", "alpha", "f", "r", "theta", ...

// DeepCAD's CMD_ARGS_MASK: which of the 16 argument columns (1..16) a command uses.
// mask[cmd][col - 1] is true when column `col` carries a value for `cmd`.
const std::array<std::array<bool, kVecColumns - 1>, kNumCommands>& command_args_mask();
bool command_uses_column(int cmd, int col);

CadVecRow eos_row();  // EOS_VEC: [3, -1 x 16]
CadVecRow sol_row();  // SOL_VEC: [4, -1 x 16]

// Pads with EOS rows up to `length` (as cad_dataset.py does for MAX_TOTAL_LEN = 60); a vector
// that is already at least that long is returned unchanged.
CadVec pad_vec(const CadVec& vec, int length = kMaxTotalLen);
// Drops everything from the first EOS row on (keeping that EOS), undoing pad_vec.
CadVec trim_vec(const CadVec& vec);

// DeepCAD's encoder. The model's loops and curves must be in DeepCAD's order, as
// read_cad_json() and decode() return them (hand-built models: deepcad::reorder_model first).
// Rejections are ErrorCode::kRejected with a message that starts with the
// DeepCAD category: "MAX_N_EXT:", "MAX_N_LOOPS:", "MAX_N_CURVES:", "MAX_TOTAL_LEN:",
// "exception AssertionError" (an extent outside [-2, 2] after normalisation) or
// "exception ValueError" (no extrude at all). Models DeepCAD cannot process numerically
// (zero bounding box, empty loops) are kInvalidArgument.
Result<CadVec> encode(const CadModel& model);

// DeepCAD's decoder (see the file comment). Total: any vector returns a model or an Error
// (kInvalidArgument) naming the row and the problem. Rows after the first EOS are ignored, as
// are sketch rows after the last Ext (DeepCAD does the same); unused argument columns are not
// looked at. Curves carry Curve::vec_row and Curve::reversed. The model's bbox is set to
// [-0.75, 0.75]^3, the frame DeepCAD normalises into, so encode(decode(v)) is meaningful.
Result<CadModel> decode(const CadVec& vec);

// Strict structural check with one message per problem ("row 7: Arc alpha=0 ..."): known
// commands, used arguments in [0, 255] (circle radius >= 1, arc alpha >= 1, f in {0, 1},
// b in 0..3, u in 0..2), unused arguments = -1, SOL before curves, an Ext after each sketch,
// a final EOS followed only by EOS padding, and DeepCAD's limits. Ok when decode() would
// succeed and the vector is exactly what encode() could produce structurally.
Status validate_vec(const CadVec& vec);

}  // namespace cadcrafter
