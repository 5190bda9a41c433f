// The transcript format itself (datadriven.h): parsing, rewriting, diffs.
#include <doctest/doctest.h>

#include <stdexcept>

#include "raft/datadriven.h"

using namespace qc::test::datadriven;

TEST_CASE("datadriven: a command line splits into bare words, values, lists and quoted values") {
  const auto d = parse_line(R"(add-nodes 3 voters=(1, 2,3) learners=() planted=x data="a b\"\x00" "c d")");
  CHECK(d.cmd == "add-nodes");
  REQUIRE(d.args.size() == 6);
  CHECK((d.args[0].key == "3" && !d.args[0].assigned));
  CHECK((d.args[1].key == "voters" && d.args[1].vals == std::vector<std::string>{"1", "2", "3"}));
  CHECK((d.args[2].assigned && d.args[2].vals.empty()));
  CHECK(d.args[3].vals == std::vector<std::string>{"x"});
  CHECK(d.args[4].vals == std::vector<std::string>{std::string("a b\"\0", 5)});
  CHECK((d.args[5].key == "c d" && !d.args[5].assigned));
  CHECK_THROWS(parse_line("cmd a=(1,2"));
  CHECK_THROWS(parse_line("cmd a=\"open"));
  CHECK(quote(std::string("a\"\\\xff", 4)) == R"("a\"\\\xff")");
}

TEST_CASE("datadriven: outputs are compared, rewritten, and fenced when they hold blank lines") {
  const std::string text =
      "# comment\n"
      "echo a\n----\na\n\n"
      "echo b \\\n  c\n----\nwrong\n\n"
      "echo\n----\n----\nold\n\nold\n----\n----\n\n"
      "new x\n";
  // echo prints its arguments joined, or two lines around a blank one.
  std::vector<std::string> seen;
  auto echo = [&](const directive& d) {
    std::string args;
    for (const auto& a : d.args) args += a.key;
    seen.push_back(d.pos + " " + d.cmd + " " + args);
    return d.cmd == "echo" && args.empty() ? std::string("x\n\ny\n") : args + "\n";
  };
  const auto res = run_transcript("t.txt", text, echo);
  CHECK(seen == std::vector<std::string>{"t.txt:2 echo a", "t.txt:6 echo bc", "t.txt:11 echo ", "t.txt:20 new x"});
  CHECK(res.directives == 4);
  REQUIRE(res.failures.size() == 3);
  CHECK(res.failures[0].find("t.txt:6: echo b") == 0);
  CHECK(res.failures[0].find("- wrong\n+ bc\n") != std::string::npos);
  CHECK(res.rewritten ==
        "# comment\n"
        "echo a\n----\na\n\n"
        "echo b \\\n  c\n----\nbc\n\n"
        "echo\n----\n----\nx\n\ny\n----\n----\n\n"
        "new x\n----\nx\n");
  // A rewritten file reads back without a difference.
  const auto again = run_transcript("t.txt", res.rewritten, echo);
  CHECK(again.failures.empty());
  CHECK(again.rewritten == res.rewritten);
}

TEST_CASE("datadriven: an error ends the file and leaves it unrewritten") {
  const std::string text = "a\n----\nok\n\nb\n----\nok\n\nc\n----\nok\n";
  const auto res = run_transcript("t.txt", text, [](const directive& d) -> std::string {
    if (d.cmd == "b") throw std::runtime_error("boom");
    return "ok\n";
  });
  REQUIRE(res.failures.size() == 1);
  CHECK(res.failures[0] == "t.txt:5: b\nerror: boom");
  CHECK(res.directives == 2);
  CHECK(res.rewritten == text);
}

TEST_CASE("datadriven: the diff shows changed lines with context") {
  CHECK(diff("a\nb\nc\n", "a\nB\nc\n", 1) == "  a\n- b\n+ B\n  c\n");
  CHECK(diff("1\n2\n3\n4\n5\n6\n7\n", "1\n2\n3\n4\n5\n6\nX\n", 1) == "  ...\n  6\n- 7\n+ X\n");
  CHECK(diff("", "new\n") == "+ new\n");
}
