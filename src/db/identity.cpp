#include "db/identity.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "db/errc.h"
#include "db/fsync.h"
#include "db/sqlite_util.h"

namespace qc::db {

namespace fs = std::filesystem;

namespace {

bool is_hex16(const std::string& s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string random_hex16() {
  std::random_device rd;
  const std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

/// Writes `text` to `file` atomically and durably.
qc::error replace_file(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      const int e = errno ? errno : EIO;  // a stream may fail without setting errno
      return {from_errno(e), "cannot write " + tmp.string() + ": " + std::strerror(e)};
    }
  }
  if (auto e = fsync_path(tmp)) return {from_errno(e.value()), "cannot fsync " + tmp.string() + ": " + e.message()};
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) return {from_errno(ec.value()), "cannot rename " + tmp.string() + " to " + file.string() + ": " + ec.message()};
  if (auto e = fsync_path(file))  // the rename: the directory entry
    return {from_errno(e.value()), "cannot fsync " + file.string() + ": " + e.message()};
  return {};
}

}  // namespace

std::optional<node_identity> load_or_create_identity(const fs::path& dir, const std::string& node_id, bool may_create,
                                                     std::string& err) {
  const fs::path file = dir / "identity";
  std::ifstream in(file);
  if (!in) {
    if (!may_create) {
      err = file.string() + " is missing although the directory holds data: it was damaged or partly wiped; "
                            "remove this node from the cluster and add it again with an empty data directory";
      return std::nullopt;
    }
    node_identity id{node_id, random_hex16(), true};
    if (auto e = replace_file(file, "node " + node_id + "\nincarnation " + id.incarnation + "\n")) {
      err = e.what;
      return std::nullopt;
    }
    return id;
  }
  node_identity id;
  std::string key, value;
  while (in >> key >> value) {
    if (key == "node") id.node_id = value;
    else if (key == "incarnation") id.incarnation = value;
  }
  if (id.node_id.empty() || !is_hex16(id.incarnation)) {
    err = file.string() + " is malformed";
    return std::nullopt;
  }
  if (id.node_id != node_id) {
    err = file.string() + " belongs to node " + id.node_id + ", not " + node_id;
    return std::nullopt;
  }
  return id;
}

std::optional<peer_incarnations> load_peer_incarnations(const fs::path& dir, std::string& err) {
  peer_incarnations out;
  const fs::path file = dir / "peers";
  std::ifstream in(file);
  if (!in) return out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream ls(line);
    std::string id, inc;
    if (!(ls >> id >> inc) || !is_hex16(inc)) {
      err = file.string() + " is malformed at \"" + line + "\"";
      return std::nullopt;
    }
    out[id] = inc;
  }
  return out;
}

qc::error save_peer_incarnations(const fs::path& dir, const peer_incarnations& peers) {
  std::string text;
  for (const auto& [id, inc] : peers) text += id + " " + inc + "\n";
  return replace_file(dir / "peers", text);
}

}  // namespace qc::db
