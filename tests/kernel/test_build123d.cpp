// The build123d script writer: valid Python, and the right build123d calls for each loop,
// operation and extent type.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "cad/build123d_script.h"
#include "kernel/model_builders.h"
#include "test_support.h"

namespace cadcrafter {
namespace {

using namespace cadcrafter::testing;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

CadModel sample_model() {
  Extrude base = extrude(Profile{{rect(0, 0, 4, 3), Loop{{circle(1, 1, 0.3)}}, rect(2, 1, 3, 2)}}, 1.0);
  Extrude cut = extrude(Profile{{slot(2, 1.5, 0.5, 0.2)}}, 0.4, Operation::kCut, ExtentType::kSymmetric);
  Extrude common = extrude(Profile{{rect(-1, -1, 5, 4)}}, 2.0, Operation::kIntersect, ExtentType::kTwoSides, 0.5);
  common.plane = plane({0, 0, 0.25}, {1, 0, 0}, {0, -1, 0}, {0, 0, 1});  // left-handed sketch frame
  return model_of({base, cut, common}, "sample");
}

TEST(Build123dScript, HasTheRightCalls) {
  const std::string py = to_build123d_script(sample_model());
  EXPECT_EQ(count(py, "Plane(origin="), 3u);
  EXPECT_EQ(count(py, "make_face()"), 3u);                   // three outer loops drawn with lines/arcs
  EXPECT_EQ(count(py, "make_face(mode=Mode.SUBTRACT)"), 1u);  // the square hole
  EXPECT_EQ(count(py, "Circle(0.3, mode=Mode.SUBTRACT)"), 1u);
  EXPECT_EQ(count(py, "ThreePointArc("), 2u);
  EXPECT_NE(py.find("extrude(sketch_0(), amount=1, mode=Mode.ADD)"), std::string::npos) << py;
  EXPECT_NE(py.find("extrude(sketch_1(), amount=0.4, both=True, mode=Mode.SUBTRACT)"), std::string::npos) << py;
  // TwoSides 2 + 0.5: one prism of 2.5 from a plane moved 0.5 against the normal.
  EXPECT_NE(py.find("extrude(sketch_2(), amount=2.5, mode=Mode.INTERSECT)"), std::string::npos) << py;
  EXPECT_NE(py.find("Plane(origin=(0, 0, -0.25)"), std::string::npos) << py;
  // Left-handed frame: local v is mirrored so that build123d's y = z x x gives the same points.
  EXPECT_NE(py.find("Line((-1, 1), (5, 1))"), std::string::npos) << py;
}

TEST(Build123dScript, ParsesAsPython) {
  if (std::system("python3 -c 'import ast' 2>/dev/null") != 0) GTEST_SKIP() << "python3 not available";
  testing::TempDir dir;
  std::ofstream(dir / "part.py") << to_build123d_script(sample_model());
  const std::string cmd = "python3 -c \"import ast,sys; ast.parse(open(sys.argv[1]).read())\" '" + (dir / "part.py") + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace cadcrafter
