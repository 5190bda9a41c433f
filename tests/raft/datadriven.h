// The data-driven transcript format (etcd-io/raft's interaction tests, after
// cockroachdb/datadriven): a file is a sequence of directives, each a command
// line followed by the output it is expected to produce:
//
//   # a comment
//   command arg key=value key=(v1, v2) key="quoted value"
//   ----
//   expected output
//   <blank line>
//
// Output that itself holds blank lines is fenced by a doubled separator
// (`----` `----` before it, `----` `----` after it). A command line ending in
// `\` continues on the next line.
//
// Owned by: the test thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace qc::test::datadriven {

/// One argument of a command: `key`, `key=value` or `key=(v1, v2, ...)`.
/// Quoted values ("a b", with \" \\ \n and \xNN escapes) arrive unquoted;
/// so does a quoted bare word, which becomes the key.
struct cmd_arg {
  std::string key;
  std::vector<std::string> vals;
  bool assigned = false;  ///< written as key=...; false for a bare word (a positional argument)
};

/// One directive of a transcript.
struct directive {
  std::string pos;  ///< "file:line" of the command line
  std::string cmd;
  std::vector<cmd_arg> args;
  std::string expected;  ///< the saved output, each line ending in '\n'
};

/// Splits a command line into the command and its arguments. Throws
/// std::invalid_argument on an unbalanced paren or quote.
directive parse_line(std::string_view line);

/// What running one transcript produced.
struct file_result {
  std::vector<std::string> failures;  ///< one report per mismatch or error: position, command, diff
  std::string rewritten;              ///< the file with every expected output replaced by the actual one
  int directives = 0;
};

/// Runs every directive of the transcript `text` (named `name` in reports)
/// through `run`, which returns the directive's output. An exception from
/// `run` is reported as a failure and ends the file (what follows would run
/// against a broken state).
file_result run_transcript(std::string_view name, std::string_view text,
                           const std::function<std::string(const directive&)>& run);

/// A line diff of `expected` against `actual` ("-" expected only, "+" actual
/// only, " " both), with `context` unchanged lines around each change.
std::string diff(std::string_view expected, std::string_view actual, int context = 3);

/// Quotes `s` the way arguments and outputs show data: printable ASCII as is,
/// `"` and `\` escaped, anything else as \xNN.
std::string quote(std::string_view s);

}  // namespace qc::test::datadriven
