// The transcript parser, runner and differ (datadriven.h).
#include "raft/datadriven.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace qc::test::datadriven {

namespace {

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.emplace_back(text.substr(start));
      break;
    }
    lines.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Reads a quoted string starting at s[i] == '"'; leaves i after the closing quote.
std::string read_quoted(std::string_view s, std::size_t& i) {
  std::string out;
  for (++i; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      ++i;
      return out;
    }
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i == s.size()) break;
    switch (s[i]) {
      case 'n': out += '\n'; break;
      case 'x': {
        const int hi = i + 1 < s.size() ? hex_digit(s[i + 1]) : -1;
        const int lo = i + 2 < s.size() ? hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) throw std::invalid_argument("bad \\x escape in " + std::string(s));
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        break;
      }
      default: out += s[i];
    }
  }
  throw std::invalid_argument("unterminated quote in " + std::string(s));
}

/// One value (quoted or bare) of a list item, already trimmed.
std::string list_value(std::string_view item) {
  item = trim(item);
  if (item.empty() || item.front() != '"') return std::string(item);
  std::size_t i = 0;
  auto v = read_quoted(item, i);
  if (i != item.size()) throw std::invalid_argument("text after a quoted value: " + std::string(item));
  return v;
}

/// Reads `(v1, v2, ...)` starting at s[i] == '('; nested parens and quotes
/// are kept inside a value.
std::vector<std::string> read_list(std::string_view s, std::size_t& i) {
  std::vector<std::string> vals;
  int depth = 1;
  std::size_t start = ++i;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      std::size_t j = i;
      read_quoted(s, j);
      i = j - 1;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth == 0) {
      const auto last = s.substr(start, i - start);
      if (!vals.empty() || !trim(last).empty()) vals.push_back(list_value(last));
      ++i;
      return vals;
    } else if (c == ',' && depth == 1) {
      vals.push_back(list_value(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  throw std::invalid_argument("unbalanced parenthesis in " + std::string(s));
}

bool has_blank_line(const std::string& s) {
  return s.starts_with("\n") || s.find("\n\n") != std::string::npos;
}

}  // namespace

std::string quote(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out + "\"";
}

directive parse_line(std::string_view line) {
  line = trim(line);
  directive d;
  std::size_t i = line.find(' ');
  d.cmd = std::string(line.substr(0, i));
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i == line.size()) break;
    if (line[i] == '"') {
      d.args.push_back({read_quoted(line, i), {}, false});
      continue;
    }
    const std::size_t k = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '=') ++i;
    cmd_arg a{std::string(line.substr(k, i - k)), {}, false};
    if (i < line.size() && line[i] == '=') {
      a.assigned = true;
      ++i;
      if (i == line.size() || line[i] == ' ') {
        a.vals.emplace_back();
      } else if (line[i] == '(') {
        a.vals = read_list(line, i);
      } else if (line[i] == '"') {
        a.vals.push_back(read_quoted(line, i));
      } else {
        const std::size_t v = i;
        while (i < line.size() && line[i] != ' ') ++i;
        a.vals.emplace_back(line.substr(v, i - v));
      }
    }
    d.args.push_back(std::move(a));
  }
  return d;
}

file_result run_transcript(std::string_view name, std::string_view text,
                           const std::function<std::string(const directive&)>& run) {
  const auto lines = split_lines(text);
  file_result res;
  std::ostringstream out;
  bool broken = false;
  std::size_t i = 0;
  while (i < lines.size() && !broken) {
    const std::size_t cmd_line = i + 1;
    std::string full(trim(lines[i]));
    out << lines[i++] << '\n';
    if (full.empty() || full.front() == '#') continue;
    while (full.ends_with('\\') && i < lines.size()) {
      full.pop_back();
      full += ' ';
      full += trim(lines[i]);
      out << lines[i++] << '\n';
    }
    const std::string pos = std::string(name) + ":" + std::to_string(cmd_line);
    directive d;
    try {
      d = parse_line(full);
    } catch (const std::exception& e) {
      res.failures.push_back(pos + ": " + e.what());
      broken = true;
      break;
    }
    d.pos = pos;
    // The expected output: a single block ended by a blank line, or fenced
    // by doubled separators when it holds blank lines.
    if (i < lines.size() && lines[i] == "----") {
      ++i;
      if (i < lines.size() && lines[i] == "----") {
        for (++i; i < lines.size() && !(lines[i] == "----" && i + 1 < lines.size() && lines[i + 1] == "----"); ++i)
          d.expected += lines[i] + "\n";
        i += 2;
      } else {
        for (; i < lines.size() && !trim(lines[i]).empty(); ++i) d.expected += lines[i] + "\n";
      }
      if (i < lines.size() && trim(lines[i]).empty()) ++i;
    }
    ++res.directives;
    std::string actual;
    try {
      actual = run(d);
    } catch (const std::exception& e) {
      res.failures.push_back(pos + ": " + full + "\nerror: " + e.what());
      broken = true;
      break;
    }
    if (!actual.empty() && !actual.ends_with('\n')) actual += '\n';
    if (actual != d.expected)
      res.failures.push_back(pos + ": " + full + "\noutput differs (-expected +actual):\n" + diff(d.expected, actual));
    out << "----\n";
    if (has_blank_line(actual)) out << "----\n" << actual << "----\n----\n";
    else out << actual;
    out << '\n';
  }
  if (broken) {
    res.rewritten = std::string(text);  // never rewrite a file that could not run to its end
    return res;
  }
  res.rewritten = out.str();
  while (res.rewritten.ends_with("\n\n")) res.rewritten.pop_back();
  return res;
}

std::string diff(std::string_view expected, std::string_view actual, int context) {
  const auto a = split_lines(expected), b = split_lines(actual);
  const std::size_t n = a.size(), m = b.size();
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..]
  std::vector<std::vector<std::uint32_t>> lcs(n + 1, std::vector<std::uint32_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;)
    for (std::size_t j = m; j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  std::vector<std::pair<char, const std::string*>> ops;
  std::size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) ops.emplace_back(' ', &a[i++]), ++j;
    else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) ops.emplace_back('-', &a[i++]);
    else ops.emplace_back('+', &b[j++]);
  }
  std::vector<bool> shown(ops.size(), false);
  for (std::size_t k = 0; k < ops.size(); ++k)
    if (ops[k].first != ' ')
      for (std::size_t c = k >= static_cast<std::size_t>(context) ? k - context : 0;
           c < std::min(ops.size(), k + context + 1); ++c)
        shown[c] = true;
  std::string out;
  bool skipped = false;
  for (std::size_t k = 0; k < ops.size(); ++k) {
    if (!shown[k]) {
      skipped = true;
      continue;
    }
    if (skipped) out += "  ...\n";
    skipped = false;
    out += ops[k].first;
    out += ' ';
    out += *ops[k].second;
    out += '\n';
  }
  if (skipped) out += "  ...\n";
  return out;
}

}  // namespace qc::test::datadriven
