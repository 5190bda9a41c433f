// Runs every transcript in tests/raft/testdata/*.txt through the interaction
// environment (interaction_env.h) and compares each command's output with
// the output saved beside it.
//
//   QC_REWRITE=1 raft_tests -tc='transcripts*'   writes the actual outputs back
//   raft_tests -tc='transcripts*' -sc='*figure8*' runs one transcript
//   QC_PLANT=commit_by_counting ...               plants a bug on every node
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "raft/datadriven.h"
#include "raft/interaction_env.h"

namespace fs = std::filesystem;

namespace {

std::string env_or(const char* name, const char* dflt) {
  const char* v = std::getenv(name);
  return v ? v : dflt;
}

std::vector<fs::path> transcripts() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(QC_SOURCE_DIR) / "tests/raft/testdata"))
    if (e.path().extension() == ".txt") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("transcripts: tests/raft/testdata/*.txt") {
  const bool rewrite = env_or("QC_REWRITE", "") == "1";
  const auto planted = env_or("QC_PLANT", "");
  // Saving what a planted bug printed would make the transcripts expect it.
  REQUIRE_MESSAGE(!(rewrite && !planted.empty()), "QC_REWRITE and QC_PLANT together are refused");
  const auto files = transcripts();
  REQUIRE(!files.empty());
  for (const auto& path : files) {
    SUBCASE(path.filename().string().c_str()) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      qc::test::interaction_env env(planted);
      const auto name = "tests/raft/testdata/" + path.filename().string();
      const auto res = qc::test::datadriven::run_transcript(
          name, text.str(), [&](const qc::test::datadriven::directive& d) { return env.handle(d); });
      CHECK(res.directives > 0);
      if (rewrite && res.rewritten != text.str()) {
        std::ofstream(path, std::ios::binary) << res.rewritten;
        MESSAGE("rewrote " << name);
      }
      for (const auto& f : res.failures)
        if (!rewrite || f.find("output differs") == std::string::npos) FAIL_CHECK(f);
    }
  }
}
