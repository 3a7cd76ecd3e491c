// The readable listings: every extrude, loop, curve and row appears with its values.
#include "cad/golden_support.h"
#include "cad/listing.h"

namespace cadcrafter::testing {
namespace {

TEST(Listing, ModelListingShowsExtrudesPlanesLoopsAndCurves) {
  CadModel m;
  m.id = "demo";
  Extrude e;
  e.operation = Operation::kCut;
  e.extent_type = ExtentType::kTwoSides;
  e.extent_one = 2;
  e.extent_two = 0.5;
  Curve c;
  c.type = CurveType::kCircle;
  c.center = {1, 2};
  c.radius = 0.25;
  e.profile.loops = {Loop{{c}}};
  m.extrudes = {e};
  const std::string text = format_listing(m);
  EXPECT_NE(text.find("model demo: 1 extrude"), std::string::npos) << text;
  EXPECT_NE(text.find("extrude 0: CutFeatureOperation, TwoSidesFeatureExtentType, extent_one 2, extent_two 0.5"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("plane origin (0, 0, 0) x (1, 0, 0) y (0, 1, 0) normal (0, 0, 1)"), std::string::npos) << text;
  EXPECT_NE(text.find("loop 0 (outer): 1 curve"), std::string::npos) << text;
  EXPECT_NE(text.find("0 Circle centre (1, 2) r 0.25"), std::string::npos) << text;

  const auto j = listing_json(m);
  EXPECT_EQ(j.at("extrudes").at(0).at("operation"), "CutFeatureOperation");
  EXPECT_EQ(j.at("extrudes").at(0).at("loops").at(0).at("curves").at(0).at("radius"), 0.25);
}

TEST(Listing, VectorListingNamesCommandsAndShowsStrayArguments) {
  CadVecRow line = eos_row();
  line[kColCmd] = kCmdLine;
  line[kColX] = 10;
  line[kColY] = 20;
  CadVecRow odd = eos_row();
  odd[kColCmd] = 7;
  odd[kColE1] = 3;
  const CadVec vec = {sol_row(), line, odd, eos_row()};
  const std::string text = format_listing(vec);
  EXPECT_NE(text.find("  0 SOL"), std::string::npos) << text;
  EXPECT_NE(text.find("  1 Line    x=10 y=20\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  2 cmd=7   e1=3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  3 EOS"), std::string::npos) << text;
  const std::string rows = format_vec_rows(vec);
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 4);
  EXPECT_NE(rows.find("   0  10  20  -1"), std::string::npos) << rows;
  EXPECT_EQ(listing_json(vec).at(1).at(1), 10);
}

}  // namespace
}  // namespace cadcrafter::testing
