#include "db/log_store.h"

#include <sstream>

#include "db/sqlite_util.h"

namespace qc::db {

namespace {
constexpr int schema_version = 1;

std::string encode_members(const raft::membership& m) {
  std::string out;
  for (const auto& mb : m.members) out += mb.id + ' ' + mb.address + ' ' + (mb.voter ? '1' : '0') + '\n';
  return out;
}
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
}  // namespace

struct log_store::impl {
  std::unique_ptr<SQLite::Database> db;
  std::unique_ptr<statement_cache> st;
  bool created = false;
  std::string path;
};

log_store::log_store(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
log_store::~log_store() = default;
bool log_store::created() const { return impl_->created; }

std::unique_ptr<log_store> log_store::open(const std::filesystem::path& path, const std::string& node_id,
                                           const raft::membership& bootstrap, std::string& err) {
  auto i = std::make_unique<impl>();
  i->path = path.string();
  i->db = open_database(path, i->created, err);
  if (!i->db) return nullptr;
  auto& db = *i->db;
  try {
    if (i->created) {
      SQLite::Transaction tx(db);
      db.exec("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
      db.exec("CREATE TABLE hard_state(id INTEGER PRIMARY KEY CHECK(id = 1), term INTEGER NOT NULL, vote TEXT NOT NULL, commit_index INTEGER NOT NULL)");
      db.exec("CREATE TABLE snapshot(id INTEGER PRIMARY KEY CHECK(id = 1), idx INTEGER NOT NULL, term INTEGER NOT NULL, config TEXT NOT NULL, handle TEXT NOT NULL)");
      db.exec("CREATE TABLE entries(idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL)");
      SQLite::Statement m(db, "INSERT INTO meta VALUES (?, ?)");
      m.bind(1, "schema_version");
      m.bind(2, std::to_string(schema_version));
      m.exec();
      m.reset();
      m.bind(1, "node_id");
      m.bind(2, node_id);
      m.exec();
      db.exec("INSERT INTO hard_state VALUES (1, 0, '', 0)");
      SQLite::Statement s(db, "INSERT INTO snapshot VALUES (1, 0, 0, ?, '')");
      s.bind(1, encode_members(bootstrap));
      s.exec();
      tx.commit();
    } else {
      auto meta = [&](const char* key) -> std::string {
        SQLite::Statement q(db, "SELECT value FROM meta WHERE key = ?");
        q.bind(1, key);
        return q.executeStep() ? q.getColumn(0).getString() : std::string();
      };
      if (meta("schema_version") != std::to_string(schema_version)) {
        err = i->path + ": unknown schema version '" + meta("schema_version") + "'";
        return nullptr;
      }
      const std::string owner = meta("node_id");
      if (owner != node_id) {
        err = i->path + ": this data directory belongs to node '" + owner + "', not '" + node_id + "'";
        return nullptr;
      }
      SQLite::Statement hs(db, "SELECT commit_index FROM hard_state WHERE id = 1");
      SQLite::Statement sn(db, "SELECT idx, term, config FROM snapshot WHERE id = 1");
      if (!hs.executeStep() || !sn.executeStep()) {
        err = i->path + ": hard state or snapshot record missing";
        return nullptr;
      }
      const auto commit = static_cast<std::uint64_t>(hs.getColumn(0).getInt64());
      const auto snap_idx = static_cast<std::uint64_t>(sn.getColumn(0).getInt64());
      const auto snap_term = static_cast<std::uint64_t>(sn.getColumn(1).getInt64());
      raft::membership cfg;
      if (!decode_members(sn.getColumn(2).getString(), cfg)) {
        err = i->path + ": snapshot configuration is malformed";
        return nullptr;
      }
      SQLite::Statement r(db, "SELECT MIN(idx), MAX(idx), COUNT(*), MIN(term) FROM entries");
      r.executeStep();
      const auto count = static_cast<std::uint64_t>(r.getColumn(2).getInt64());
      std::uint64_t last = snap_idx;
      if (count > 0) {
        const auto lo = static_cast<std::uint64_t>(r.getColumn(0).getInt64());
        const auto hi = static_cast<std::uint64_t>(r.getColumn(1).getInt64());
        if (lo != snap_idx + 1) {
          err = i->path + ": log starts at index " + std::to_string(lo) + " but the snapshot ends at " + std::to_string(snap_idx);
          return nullptr;
        }
        if (hi - lo + 1 != count) {
          SQLite::Statement g(db, "SELECT a.idx + 1 FROM entries a WHERE NOT EXISTS (SELECT 1 FROM entries b WHERE b.idx = a.idx + 1) AND a.idx < (SELECT MAX(idx) FROM entries) LIMIT 1");
          g.executeStep();
          err = i->path + ": log has a gap at index " + std::to_string(g.getColumn(0).getInt64());
          return nullptr;
        }
        if (static_cast<std::uint64_t>(r.getColumn(3).getInt64()) < snap_term) {
          err = i->path + ": log holds an entry older than the snapshot's term";
          return nullptr;
        }
        SQLite::Statement t(db, "SELECT COUNT(*) FROM entries a JOIN entries b ON b.idx = a.idx + 1 WHERE b.term < a.term");
        t.executeStep();
        if (t.getColumn(0).getInt64() != 0) {
          err = i->path + ": log terms decrease (corrupt log)";
          return nullptr;
        }
        last = hi;
      }
      if (commit > last) {
        err = i->path + ": commit index " + std::to_string(commit) + " is beyond the log (last " + std::to_string(last) + ")";
        return nullptr;
      }
    }
  } catch (const std::exception& e) {
    err = i->path + ": " + e.what();
    return nullptr;
  }
  i->st = std::make_unique<statement_cache>(db);
  return std::unique_ptr<log_store>(new log_store(std::move(i)));
}

raft::initial_state log_store::load() {
  auto reset_after = impl_->st->guard();
  raft::initial_state s;
  auto& st = *impl_->st;
  auto& hs = st("SELECT term, vote, commit_index FROM hard_state WHERE id = 1");
  if (hs.executeStep()) {
    s.hard.term = static_cast<std::uint64_t>(hs.getColumn(0).getInt64());
    s.hard.vote = hs.getColumn(1).getString();
    s.hard.commit = static_cast<std::uint64_t>(hs.getColumn(2).getInt64());
  }
  auto& sn = st("SELECT idx, term, config, handle FROM snapshot WHERE id = 1");
  if (sn.executeStep()) {
    s.snapshot.index = static_cast<std::uint64_t>(sn.getColumn(0).getInt64());
    s.snapshot.term = static_cast<std::uint64_t>(sn.getColumn(1).getInt64());
    decode_members(sn.getColumn(2).getString(), s.snapshot.config);
    s.snapshot.handle = sn.getColumn(3).getString();
  }
  auto& es = st("SELECT idx, term, type, data FROM entries ORDER BY idx");
  while (es.executeStep()) {
    raft::entry e;
    e.index = static_cast<std::uint64_t>(es.getColumn(0).getInt64());
    e.term = static_cast<std::uint64_t>(es.getColumn(1).getInt64());
    e.type = static_cast<raft::entry_type>(es.getColumn(2).getInt());
    const auto col = es.getColumn(3);
    e.data.assign(static_cast<const char*>(col.getBlob()), static_cast<std::size_t>(col.getBytes()));
    s.entries.push_back(std::move(e));
  }
  return s;
}

bool log_store::save(const std::optional<raft::hard_state>& hard, const std::optional<raft::snapshot_meta>& snapshot,
                     const std::vector<raft::entry>& entries, std::string& err) {
  auto reset_after = impl_->st->guard();
  try {
    auto& st = *impl_->st;
    SQLite::Transaction tx(*impl_->db);
    if (snapshot) {
      // A received snapshot resets the log (the core discarded its own).
      impl_->db->exec("DELETE FROM entries");
      auto& s = st("UPDATE snapshot SET idx = ?, term = ?, config = ?, handle = ? WHERE id = 1");
      s.bind(1, static_cast<std::int64_t>(snapshot->index));
      s.bind(2, static_cast<std::int64_t>(snapshot->term));
      s.bind(3, encode_members(snapshot->config));
      s.bind(4, snapshot->handle);
      s.exec();
    }
    if (!entries.empty()) {
      auto& del = st("DELETE FROM entries WHERE idx >= ?");
      del.bind(1, static_cast<std::int64_t>(entries.front().index));
      del.exec();
      for (const auto& e : entries) {
        auto& ins = st("INSERT INTO entries VALUES (?, ?, ?, ?)");
        ins.bind(1, static_cast<std::int64_t>(e.index));
        ins.bind(2, static_cast<std::int64_t>(e.term));
        ins.bind(3, static_cast<int>(e.type));
        ins.bindNoCopy(4, static_cast<const void*>(e.data.data()), static_cast<int>(e.data.size()));
        ins.exec();
      }
    }
    if (hard) {
      auto& h = st("UPDATE hard_state SET term = ?, vote = ?, commit_index = ? WHERE id = 1");
      h.bind(1, static_cast<std::int64_t>(hard->term));
      h.bind(2, hard->vote);
      h.bind(3, static_cast<std::int64_t>(hard->commit));
      h.exec();
    }
    impl_->st->reset_all();  // no statement mid-read at COMMIT: its WAL checkpoint must run
    tx.commit();
    return true;
  } catch (const std::exception& e) {
    err = impl_->path + ": " + e.what();
    return false;
  }
}

bool log_store::compact(const raft::snapshot_meta& snap, std::string& err) {
  auto reset_after = impl_->st->guard();
  try {
    auto& st = *impl_->st;
    SQLite::Transaction tx(*impl_->db);
    auto& s = st("UPDATE snapshot SET idx = ?, term = ?, config = ?, handle = ? WHERE id = 1 AND idx < ?");
    s.bind(1, static_cast<std::int64_t>(snap.index));
    s.bind(2, static_cast<std::int64_t>(snap.term));
    s.bind(3, encode_members(snap.config));
    s.bind(4, snap.handle);
    s.bind(5, static_cast<std::int64_t>(snap.index));
    s.exec();
    auto& d = st("DELETE FROM entries WHERE idx <= ?");
    d.bind(1, static_cast<std::int64_t>(snap.index));
    d.exec();
    impl_->st->reset_all();
    tx.commit();
    return true;
  } catch (const std::exception& e) {
    err = impl_->path + ": " + e.what();
    return false;
  }
}

std::uint64_t log_store::entry_count() {
  auto reset_after = impl_->st->guard();
  auto& q = (*impl_->st)("SELECT COUNT(*) FROM entries");
  q.executeStep();
  return static_cast<std::uint64_t>(q.getColumn(0).getInt64());
}

}  // namespace qc::db
