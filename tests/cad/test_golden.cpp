// Every id in ../shared/data/golden: identical vectors, identical rejection categories, and
// decoded geometry within 1e-6 of DeepCAD's own decoder. The full run takes about 5 s, so it
// is part of the default suite rather than a slow_ test.
#include <fstream>

#include "cad/golden_support.h"

namespace cadcrafter::testing {
namespace {

TEST(GoldenFull, EveryVectorAndRejectionMatchesDeepCAD) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  const auto golden = load_golden_vecs();
  ASSERT_EQ(golden.size(), 6549u);
  int matched = 0;
  std::vector<std::string> failures;
  for (const auto& g : golden) {
    const std::string diff = check_golden_encoding(g);
    if (diff.empty()) ++matched;
    else if (failures.size() < 20) failures.push_back(diff);
  }
  for (const auto& f : failures) ADD_FAILURE() << f;
  std::cout << "golden vec.jsonl: " << matched << " / " << golden.size() << " ids match\n";
  EXPECT_EQ(matched, static_cast<int>(golden.size()));
}

TEST(GoldenFull, EveryDecodedGeometryMatchesDeepCAD) {
  CADCRAFTER_REQUIRE_SHARED_DATA();
  std::map<std::string, CadVec> vecs;
  for (auto& g : load_golden_vecs())
    if (!g.rejected) vecs[g.source + "/" + g.id] = std::move(g.vec);
  std::ifstream in(golden_dir() + "/decoded.jsonl");
  std::string line;
  int lines = 0, matched = 0;
  std::vector<std::string> failures;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    ++lines;
    const auto it = vecs.find(j.at("source").get<std::string>() + "/" + j.at("id").get<std::string>());
    ASSERT_NE(it, vecs.end()) << j.at("id");
    const std::string diff = check_golden_decoding(j, it->second);
    if (diff.empty()) ++matched;
    else if (failures.size() < 20) failures.push_back(diff);
  }
  for (const auto& f : failures) ADD_FAILURE() << f;
  std::cout << "golden decoded.jsonl: " << matched << " / " << lines << " lines match\n";
  EXPECT_EQ(lines, 5902);
  EXPECT_EQ(matched, lines);
}

}  // namespace
}  // namespace cadcrafter::testing
