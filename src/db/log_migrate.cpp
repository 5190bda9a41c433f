#include "db/log_migrate.h"

#include <sstream>

#include "common/log.h"
#include "db/log_file.h"
#include "db/sqlite_util.h"

namespace qc::db {

namespace fs = std::filesystem;

namespace {

constexpr int sqlite_schema_version = 1;

bool decode_members(const std::string& text, raft::membership& m) {
  std::istringstream in(text);
  std::string id, addr, voter;
  m.members.clear();
  while (in >> id >> addr >> voter) {
    if (voter != "0" && voter != "1") return false;
    m.members.push_back({id, addr, voter == "1"});
  }
  return in.eof();
}

/// Entries per batch record when converting: a few MiB at a time.
constexpr std::size_t convert_batch_bytes = 4u << 20;

}  // namespace

log_error read_sqlite_log(const fs::path& file, const std::string& node_id, raft::initial_state& out) {
  auto fail = [&](log_errc code, const std::string& why) { return log_error{code, file.string() + ": " + why}; };
  bool created = false;
  std::string err;
  auto db = open_database(file, created, err);
  if (!db) return fail(log_errc::corrupt, err);
  try {
    auto meta = [&](const char* key) -> std::string {
      SQLite::Statement q(*db, "SELECT value FROM meta WHERE key = ?");
      q.bind(1, key);
      return q.executeStep() ? q.getColumn(0).getString() : std::string();
    };
    if (meta("schema_version") != std::to_string(sqlite_schema_version))
      return fail(log_errc::unknown_format, "unknown schema version '" + meta("schema_version") + "'");
    const std::string owner = meta("node_id");
    if (owner != node_id)
      return fail(log_errc::wrong_node, "this data directory belongs to node '" + owner + "', not '" + node_id + "'");
    SQLite::Statement hs(*db, "SELECT term, vote, commit_index FROM hard_state WHERE id = 1");
    SQLite::Statement sn(*db, "SELECT idx, term, config, handle FROM snapshot WHERE id = 1");
    if (!hs.executeStep() || !sn.executeStep()) return fail(log_errc::inconsistent, "hard state or snapshot record missing");
    out = {};
    out.hard.term = static_cast<std::uint64_t>(hs.getColumn(0).getInt64());
    out.hard.vote = hs.getColumn(1).getString();
    out.hard.commit = static_cast<std::uint64_t>(hs.getColumn(2).getInt64());
    out.snapshot.index = static_cast<std::uint64_t>(sn.getColumn(0).getInt64());
    out.snapshot.term = static_cast<std::uint64_t>(sn.getColumn(1).getInt64());
    if (!decode_members(sn.getColumn(2).getString(), out.snapshot.config))
      return fail(log_errc::inconsistent, "snapshot configuration is malformed");
    out.snapshot.handle = sn.getColumn(3).getString();
    SQLite::Statement es(*db, "SELECT idx, term, type, data FROM entries ORDER BY idx");
    std::uint64_t expect = out.snapshot.index + 1, term = out.snapshot.term;
    while (es.executeStep()) {
      raft::entry e;
      e.index = static_cast<std::uint64_t>(es.getColumn(0).getInt64());
      e.term = static_cast<std::uint64_t>(es.getColumn(1).getInt64());
      const int type = es.getColumn(2).getInt();
      if (type != 0 && type != 1) return fail(log_errc::inconsistent, "entry " + std::to_string(e.index) + " has an unknown type");
      e.type = static_cast<raft::entry_type>(type);
      const auto col = es.getColumn(3);
      e.data = std::string(static_cast<const char*>(col.getBlob()), static_cast<std::size_t>(col.getBytes()));
      if (e.index != expect)
        return fail(log_errc::inconsistent, "log has a gap at index " + std::to_string(expect) +
                                                " (next stored entry " + std::to_string(e.index) + ")");
      if (e.term < term) return fail(log_errc::inconsistent, "log terms decrease at index " + std::to_string(e.index));
      term = e.term;
      ++expect;
      out.entries.push_back(std::move(e));
    }
    if (out.hard.commit > expect - 1)
      return fail(log_errc::inconsistent, "commit index " + std::to_string(out.hard.commit) +
                                              " is beyond the log (last " + std::to_string(expect - 1) + ")");
  } catch (const std::exception& e) {
    return fail(log_errc::corrupt, e.what());
  }
  return {};
}

log_error migrate_sqlite_log(const fs::path& data_dir, const fs::path& scratch, const std::string& node_id,
                             const log_options& opts) {
  const fs::path old = data_dir / sqlite_log_name;
  raft::initial_state st;
  if (auto e = read_sqlite_log(old, node_id, st)) return e;
  log::info("converting ", old.string(), " (", st.entries.size(), " entries after the snapshot at ", st.snapshot.index,
            ") to the segment log in ", (data_dir / "wal").string());
  log_error err;
  auto store = log_store::create(scratch, node_id, st.hard, st.snapshot, opts, err);
  if (!store) return err;
  log_batch b;
  std::size_t bytes = 0;
  for (auto& e : st.entries) {
    bytes += e.data.size() + 16;
    b.entries.push_back(std::move(e));
    if (bytes >= convert_batch_bytes) {
      if ((err = store->save(b))) return err;
      b.entries.clear();
      bytes = 0;
    }
  }
  if (!b.entries.empty())
    if ((err = store->save(b))) return err;
  return {};  // every save was fdatasynced, and create() synced the directory
}

log_error retire_sqlite_log(const fs::path& data_dir) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const fs::path p = data_dir / (std::string(sqlite_log_name) + suffix);
    std::error_code ec;
    if (fs::remove(p, ec) && !ec) log::info("deleted ", p.string(), ": the log now lives in ", (data_dir / "wal").string());
    if (ec) return log_file::io_error(ec.value(), p, "cannot delete");
  }
  return log_file::sync_dir(data_dir);
}

}  // namespace qc::db
