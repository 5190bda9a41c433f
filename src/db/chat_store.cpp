#include "db/chat_store.h"

#include <openssl/evp.h>
#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <system_error>
#include <unordered_set>

#include <boost/json.hpp>

#include "chat/message_json.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/overloaded.h"
#include "db/errc.h"
#include "db/fsync.h"
#include "db/sqlite_util.h"
#include "db/wal_checkpointer.h"
#include "db/write_combining_vfs.h"
#include "raft/membership.h"

namespace qc::db {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// 2: sessions.last_used (idle expiry) and three secondary indexes fewer.
// Version-1 files (data dirs and snapshots from older nodes) are upgraded
// in place by upgrade_schema().
constexpr int schema_version = 2;

// Every B-tree a message touches is a page written at each commit, so a
// message has its row and two index entries: unread-by-recipient (only
// while unread) and by conversation. Deleting an account finds its
// messages through its conversation rows, which exist for every pair that
// has messages, both ways round.
const char* schema_sql[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE accounts(name TEXT PRIMARY KEY, pw_hash TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE sessions(token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, created INTEGER NOT NULL,"
    " last_used INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
    "CREATE INDEX sessions_by_user ON sessions(user)",
    // pa/pb: the conversation's two names in order, so a conversation is one index range.
    "CREATE TABLE messages(id INTEGER PRIMARY KEY, sender TEXT NOT NULL, recipient TEXT NOT NULL, body TEXT NOT NULL,"
    " ts INTEGER NOT NULL, read INTEGER NOT NULL, pa TEXT NOT NULL, pb TEXT NOT NULL)",
    "CREATE INDEX messages_unread ON messages(recipient, id) WHERE read = 0",
    "CREATE INDEX messages_pair ON messages(pa, pb, id)",
    // One row per (user, peer) with messages between them, both ways round:
    // the unread count from peer to user, and last_id, the pair's newest
    // message id when user last received one. A send updates only the
    // recipient's row, so the pair's newest message is the larger last_id
    // of its two rows.
    "CREATE TABLE conversations(user TEXT NOT NULL, peer TEXT NOT NULL, last_id INTEGER NOT NULL,"
    " unread INTEGER NOT NULL, PRIMARY KEY(user, peer)) WITHOUT ROWID",
    "CREATE TABLE nonces(sender TEXT NOT NULL, nonce TEXT NOT NULL, msg_id INTEGER NOT NULL, recipient TEXT NOT NULL,"
    " ts INTEGER NOT NULL, PRIMARY KEY(sender, nonce)) WITHOUT ROWID",
    "INSERT INTO meta VALUES ('schema_version', 2), ('applied_index', 0)",
};

/// A user's conversation row `c` beside its mirror `o` (the same pair seen
/// by the peer), and the pair's newest message id, the larger last_id of
/// the two (see the schema): the one place the queries that read a
/// conversation (the `conversations` op, its query plan, the state
/// digest) take them from. Literal text, so that each query stays a
/// literal the statement cache keys by.
#define CONVERSATION_AND_MIRROR \
  "conversations c LEFT JOIN conversations o ON o.user = c.peer AND o.peer = c.user"
#define PAIR_NEWEST_ID "MAX(c.last_id, IFNULL(o.last_id, 0))"

/// The applied index as committed with the state (the owner's, a reader's, a snapshot's).
constexpr const char* select_applied_index = "SELECT value FROM meta WHERE key = 'applied_index'";

// Schema 1 had no sessions.last_used, three more secondary indexes
// (messages by sender, conversations by recency and by peer) and a full
// unread index; the upgrade adds the column (a session's last use taken to
// be its creation) and drops and rebuilds indexes.
const char* upgrade_from_1[] = {
    "ALTER TABLE sessions ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0",
    "UPDATE sessions SET last_used = created",
    "DROP INDEX messages_sender",
    "DROP INDEX conversations_recent",
    "DROP INDEX conversations_by_peer",
    "DROP INDEX messages_unread",
    "CREATE INDEX messages_unread ON messages(recipient, id) WHERE read = 0",
    "UPDATE meta SET value = 2 WHERE key = 'schema_version'",
};

/// Reads the schema version of `db` (0 if it has none: not a chat.db).
int schema_of(SQLite::Database& db) {
  try {
    SQLite::Statement v(db, "SELECT value FROM meta WHERE key = 'schema_version'");
    return v.executeStep() ? v.getColumn(0).getInt() : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

/// Brings `db` (no transaction open) to schema_version in one transaction.
/// False if its version is not one this build knows.
bool upgrade_schema(SQLite::Database& db, const fs::path& path) {
  const int v = schema_of(db);
  if (v == schema_version) return true;
  if (v != 1) return false;
  const auto t0 = std::chrono::steady_clock::now();
  SQLite::Transaction tx(db);
  for (const char* sql : upgrade_from_1) db.exec(sql);
  tx.commit();
  log::info(path.string(), ": upgraded the chat schema from version 1 to 2 in ",
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count(), " ms");
  return true;
}

/// The message in columns first..first+5 of `q`'s current row, in place.
chat::message_view view_message(SQLite::Statement& q, int first = 0) {
  const auto text = [&q](int col) {
    const auto c = q.getColumn(col);
    const char* p = c.getText();  // before getBytes(), as SQLite requires
    return std::string_view(p, static_cast<std::size_t>(c.getBytes()));
  };
  return {static_cast<std::uint64_t>(q.getColumn(first).getInt64()), text(first + 1), text(first + 2),
          text(first + 3), q.getColumn(first + 4).getInt64(), q.getColumn(first + 5).getInt() != 0};
}

/// The same from SQLite's own statement (statement_cache::raw), columns 0..5.
chat::message_view view_message(sqlite3_stmt* q) {
  return {static_cast<std::uint64_t>(sqlite3_column_int64(q, 0)),
          column_text(q, 1),
          column_text(q, 2),
          column_text(q, 3),
          sqlite3_column_int64(q, 4),
          sqlite3_column_int(q, 5) != 0};
}

chat::message to_message(const chat::message_view& m) {
  return {m.id, std::string(m.from), std::string(m.to), std::string(m.body), m.ts, m.read};
}

chat::message read_message(SQLite::Statement& q, int first = 0) { return to_message(view_message(q, first)); }

constexpr const char* msg_cols = "id, sender, recipient, body, ts, read";

}  // namespace

const char* to_string(apply_code c) {
  switch (c) {
    case apply_code::ok:
    case apply_code::noop: return "ok";
    case apply_code::not_found: return "not_found";
    case apply_code::conflict: return "conflict";
    case apply_code::forbidden: return "forbidden";
    case apply_code::unauthenticated: return "unauthenticated";
    case apply_code::bad_entry: return "internal";
  }
  return "internal";
}

struct chat_store::impl {
  fs::path path;
  std::uint64_t wal_bytes = default_wal_bytes;
  std::uint64_t wal_frames = 0;  ///< the WAL's bound in pages (connect)
  std::uint64_t page_bytes = 4096;  ///< chat.db's page size (connect)
  double wal_phase = 0;          ///< open's wal_phase
  /// Declared before `db`, whose commits call it, so that it outlives it.
  std::unique_ptr<wal_checkpointer> checkpointer;
  std::unique_ptr<SQLite::Database> db;
  std::unique_ptr<statement_cache> st;
  std::uint64_t applied = 0;

  /// Opens the connection to `path` and sets it up (pragmas, schema,
  /// applied index); `check`: run quick_check first. False with `err`.
  bool connect(bool check, std::string& err);
  /// Replaces chat.db with `copy` (a checked, fsynced copy of a snapshot
  /// beside it) and reconnects.
  qc::error swap_in(const fs::path& copy);
  /// Hands the WAL's checkpoints to a checkpointer (db/wal_checkpointer.h):
  /// its thread copies the WAL from one commit before the bound, and the
  /// next commit past the bound finishes inline what is left.
  void start_checkpoints() {
    // Members apply the same entries at about the same pace, so with one
    // bound they all checkpoint at once: on a shared disk each member's
    // copy (the bound's worth of pages, fsynced) slows the others' log
    // fsyncs, and a write waits for a majority of them. A phase shortens
    // this member's first cycle so that its later ones fall elsewhere.
    const auto first = wal_frames - static_cast<std::uint64_t>(static_cast<double>(wal_frames) * wal_phase);
    checkpointer =
        std::make_unique<wal_checkpointer>(path, write_combining_vfs(), wal_frames, std::max<std::uint64_t>(first, 16));
    checkpointer->hook(db->getHandle());
  }
  /// Stops them (waiting for one under way), e.g. before the file is swapped.
  void stop_checkpoints() {
    if (db) wal_checkpointer::unhook(db->getHandle());
    checkpointer.reset();
  }
  bool in_tx = false;            ///< a write transaction is open
  std::uint64_t uncommitted = 0;  ///< entries applied in it

  void commit(std::error_code& ec, std::string& err) {
    ec.clear();
    if (!in_tx) return;
    // No statement may still be mid-read after COMMIT: its read transaction
    // would keep every checkpoint from finishing, and the WAL would grow
    // forever.
    st->reset_all();
    try {
      db->exec("COMMIT");
    } catch (const std::exception& e) {
      ec = storage_error(e, *db);
      err = path.string() + ": " + storage_error_text(e, *db);
      rollback();
      return;
    }
    in_tx = false;
    uncommitted = 0;
  }

  /// Drops the open transaction (SQLite may have rolled it back already)
  /// and reads applied_index back as it was last committed.
  void rollback() {
    known_accounts.clear();
    st->reset_all();
    try {
      if (in_tx && sqlite3_get_autocommit(db->getHandle()) == 0) db->exec("ROLLBACK");
      SQLite::Statement a(*db, select_applied_index);
      if (a.executeStep()) applied = static_cast<std::uint64_t>(a.getColumn(0).getInt64());
    } catch (const std::exception&) {
      // The next write fails the same way and is reported then.
    }
    in_tx = false;
    uncommitted = 0;
  }

  std::int64_t scalar(const char* sql, const std::string& a = {}, const std::string& b = {}) {
    auto& q = (*st)(sql);
    if (!a.empty()) q.bind(1, a);
    if (!b.empty()) q.bind(2, b);
    return q.executeStep() ? q.getColumn(0).getInt64() : 0;
  }
  /// Names of accounts that exist in the open transaction's view, as found
  /// by exists(): every send looks up both its users. Emptied whenever an
  /// account may vanish from that view (a deleted account, a rollback, an
  /// installed snapshot), so it never answers for a name chat.db lacks.
  /// A reader keeps none: the deletions happen on the owner's connection,
  /// so a reader's cache could only go stale.
  std::unordered_set<std::string> known_accounts;
  static constexpr std::size_t known_accounts_max = 100'000;
  bool reader = false;  ///< open_reader: sees the owner's commits, applies nothing

  bool exists(const std::string& user) {
    if (known_accounts.contains(user)) return true;
    auto& q = (*st)("SELECT 1 FROM accounts WHERE name = ?");
    q.bindNoCopy(1, user);
    if (!q.executeStep()) return false;
    if (reader) return true;
    if (known_accounts.size() >= known_accounts_max) known_accounts.clear();
    known_accounts.insert(user);
    return true;
  }
  /// Records `c`'s nonce for the message at `index`; false (and nothing
  /// written) if the sender used that nonce before.
  bool insert_nonce(const chat::cmd_send& c, std::uint64_t index) {
    auto& n = (*st)("INSERT INTO nonces VALUES (?, ?, ?, ?, ?) ON CONFLICT(sender, nonce) DO NOTHING");
    n.bindNoCopy(1, c.from);
    n.bindNoCopy(2, *c.nonce);
    n.bind(3, static_cast<std::int64_t>(index));
    n.bindNoCopy(4, c.to);
    n.bind(5, c.ts);
    return n.exec() == 1;
  }
  std::optional<chat::message> message(std::uint64_t id) {
    auto& q = (*st)("SELECT id, sender, recipient, body, ts, read FROM messages WHERE id = ?");
    q.bind(1, static_cast<std::int64_t>(id));
    if (!q.executeStep()) return std::nullopt;
    return read_message(q);
  }
  /// Points both conversation rows of (a, b) at their newest remaining
  /// message, or drops them when none is left.
  void refresh_conversation(const std::string& a, const std::string& b) {
    const std::string& lo = std::min(a, b);
    const std::string& hi = std::max(a, b);
    auto& q = (*st)("SELECT MAX(id) FROM messages WHERE pa = ? AND pb = ?");
    q.bind(1, lo);
    q.bind(2, hi);
    q.executeStep();
    const bool none = q.getColumn(0).isNull();
    const std::int64_t last = none ? 0 : q.getColumn(0).getInt64();
    for (int k = 0; k < (a == b ? 1 : 2); ++k) {
      const std::string& u = k == 0 ? a : b;
      const std::string& p = k == 0 ? b : a;
      if (none) {
        auto& d = (*st)("DELETE FROM conversations WHERE user = ? AND peer = ?");
        d.bind(1, u);
        d.bind(2, p);
        d.exec();
      } else {
        auto& upd = (*st)("UPDATE conversations SET last_id = ? WHERE user = ? AND peer = ?");
        upd.bind(1, last);
        upd.bind(2, u);
        upd.bind(3, p);
        upd.exec();
      }
    }
  }
  void bump_unread(const std::string& user, const std::string& peer, int delta) {
    auto& q = (*st)("UPDATE conversations SET unread = MAX(0, unread + ?) WHERE user = ? AND peer = ?");
    q.bind(1, delta);
    q.bind(2, user);
    q.bind(3, peer);
    q.exec();
  }
  /// Deletes one message, keeping conversations consistent.
  void delete_message(const chat::message& m) {
    if (!m.read) bump_unread(m.to, m.from, -1);
    auto& d = (*st)("DELETE FROM messages WHERE id = ?");
    d.bind(1, static_cast<std::int64_t>(m.id));
    d.exec();
    refresh_conversation(m.from, m.to);
  }

  apply_result apply_one(const raft::entry& e);
};

namespace {
void add_event(apply_result& r, const std::string& user, std::shared_ptr<const std::string> ev) {
  r.events.push_back({user, std::move(ev)});
}
void add_event(apply_result& r, const std::string& user, const json::object& ev) {
  add_event(r, user, std::make_shared<const std::string>(json::serialize(ev)));
}
/// Groups ids by user and emits one event of `kind` per user.
void add_grouped(apply_result& r, const std::map<std::string, std::vector<std::uint64_t>>& by_user, const char* kind,
                 const std::string& by = {}) {
  for (const auto& [user, ids] : by_user) {
    json::array a;
    for (auto i : ids) a.push_back(i);
    json::object ev{{"event", kind}, {"ids", std::move(a)}};
    if (!by.empty()) ev["by"] = by;
    add_event(r, user, ev);
  }
}
}  // namespace

apply_result chat_store::impl::apply_one(const raft::entry& e) {
  apply_result r;
  r.index = e.index;
  r.term = e.term;
  if (e.type != raft::entry_type::normal || e.data.empty()) return r;  // no-op / conf change
  auto cmd = chat::decode_command(e.data);
  if (!cmd) {
    r.code = apply_code::bad_entry;
    return r;
  }
  r.code = apply_code::ok;
  std::visit(
      overloaded{
          [&](const chat::cmd_create_account& c) {
            if (exists(c.user)) {
              r.code = apply_code::conflict;
              return;
            }
            auto& q = (*st)("INSERT INTO accounts VALUES (?, ?, ?)");
            q.bind(1, c.user);
            q.bind(2, c.pw_hash);
            q.bind(3, c.ts);
            q.exec();
            r.result_json = json::serialize(json::object{{"user", c.user}});
          },
          [&](const chat::cmd_create_session& c) {
            if (!exists(c.user)) {
              r.code = apply_code::not_found;
              return;
            }
            if (c.expire_before > 0) {
              auto& d = (*st)("DELETE FROM sessions WHERE user = ? AND last_used < ?");
              d.bind(1, c.user);
              d.bind(2, c.expire_before);
              d.exec();
            }
            auto& q = (*st)("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?)");
            q.bind(1, c.token_hash);
            q.bind(2, c.user);
            q.bind(3, c.ts);
            q.bind(4, c.ts);
            q.exec();
            if (!c.rehash_to.empty()) {
              auto& u = (*st)("UPDATE accounts SET pw_hash = ? WHERE name = ? AND pw_hash = ?");
              u.bind(1, c.rehash_to);
              u.bind(2, c.user);
              u.bind(3, c.rehash_from);
              u.exec();
            }
            const auto unread = scalar("SELECT COUNT(*) FROM messages WHERE recipient = ? AND read = 0", c.user);
            r.result_json = json::serialize(json::object{{"user", c.user}, {"unread", unread}});
          },
          [&](const chat::cmd_touch_session& c) {
            auto& u = (*st)("UPDATE sessions SET last_used = MAX(last_used, ?) WHERE token_hash = ? AND user = ?");
            u.bind(1, c.ts);
            u.bind(2, c.token_hash);
            u.bind(3, c.user);
            if (u.exec() == 0) r.code = apply_code::not_found;
            else r.result_json = json::serialize(json::object{{"last_used", c.ts}});
          },
          [&](const chat::cmd_drop_session& c) {
            auto& q = (*st)("DELETE FROM sessions WHERE token_hash = ? AND user = ?");
            q.bind(1, c.token_hash);
            q.bind(2, c.user);
            q.exec();
          },
          [&](const chat::cmd_send& c) {
            if (!exists(c.from)) {
              r.code = apply_code::unauthenticated;
              return;
            }
            // The nonce row goes in first: a sender's nonce that is there
            // already makes this a retry (one statement in the usual case,
            // not a lookup and an insert).
            if (c.nonce && !insert_nonce(c, e.index)) {
              auto& n = (*st)("SELECT msg_id, recipient, ts FROM nonces WHERE sender = ? AND nonce = ?");
              n.bind(1, c.from);
              n.bind(2, *c.nonce);
              if (n.executeStep()) {
                const auto id = static_cast<std::uint64_t>(n.getColumn(0).getInt64());
                const std::string to = n.getColumn(1).getString();
                const auto ts = n.getColumn(2).getInt64();
                const auto m = message(id);
                r.result_json = R"({"duplicate":true,"message":)" +
                                chat::message_json(m ? *m : chat::message{id, c.from, to, "", ts, false}) +
                                (m ? "}" : R"(,"deleted":true})");
                return;
              }
            }
            if (!exists(c.to)) {
              if (c.nonce) {  // nothing was sent: the nonce stays free
                auto& d = (*st)("DELETE FROM nonces WHERE sender = ? AND nonce = ?");
                d.bind(1, c.from);
                d.bind(2, *c.nonce);
                d.exec();
              }
              r.code = apply_code::not_found;
              return;
            }
            chat::message m{e.index, c.from, c.to, c.body, c.ts, false};
            auto& ins = (*st)("INSERT INTO messages VALUES (?, ?, ?, ?, ?, 0, ?, ?)");
            ins.bind(1, static_cast<std::int64_t>(m.id));
            ins.bindNoCopy(2, m.from);
            ins.bindNoCopy(3, m.to);
            ins.bindNoCopy(4, m.body);
            ins.bind(5, m.ts);
            ins.bindNoCopy(6, std::min(m.from, m.to));
            ins.bindNoCopy(7, std::max(m.from, m.to));
            ins.exec();
            // Conversation rows: only the recipient's changes (one more
            // unread, last_id the new message); the sender's keeps its
            // last_id, and the pair's newest is the larger of the two. A
            // pair's first message finds no row and inserts both (one for
            // a message to oneself).
            auto& upd = (*st)("UPDATE conversations SET last_id = ?, unread = unread + 1 WHERE user = ? AND peer = ?");
            upd.bind(1, static_cast<std::int64_t>(m.id));
            upd.bindNoCopy(2, m.to);
            upd.bindNoCopy(3, m.from);
            if (upd.exec() == 0) {
              for (int k = 0; k < (m.from == m.to ? 1 : 2); ++k) {
                auto& ins = (*st)("INSERT INTO conversations VALUES (?, ?, ?, ?) ON CONFLICT(user, peer) DO NOTHING");
                ins.bindNoCopy(1, k == 0 ? m.to : m.from);
                ins.bindNoCopy(2, k == 0 ? m.from : m.to);
                ins.bind(3, static_cast<std::int64_t>(m.id));
                ins.bind(4, k == 0 ? 1 : 0);
                ins.exec();
              }
            }
            // The message object is serialized once, for the reply and for
            // the one event text both parties share.
            const std::string obj = chat::message_json(m);
            r.result_json = R"({"message":)" + obj + "}";
            auto ev = std::make_shared<const std::string>(R"({"event":"message","message":)" + obj + "}");
            add_event(r, m.to, ev);
            if (m.from != m.to) add_event(r, m.from, std::move(ev));
          },
          [&](const chat::cmd_mark_read& c) {
            if (c.with && !exists(*c.with)) {
              r.code = apply_code::not_found;
              return;
            }
            std::vector<chat::message> changed;
            if (c.with) {
              auto& q = (*st)("SELECT id, sender, recipient, body, ts, read FROM messages WHERE recipient = ? AND read = 0 AND sender = ? ORDER BY id");
              q.bind(1, c.user);
              q.bind(2, *c.with);
              while (q.executeStep()) changed.push_back(read_message(q));
            } else {
              std::set<std::uint64_t> seen;
              for (auto id : c.ids) {
                if (!seen.insert(id).second) continue;
                auto m = message(id);
                if (m && m->to == c.user && !m->read) changed.push_back(*m);
              }
            }
            std::map<std::string, std::vector<std::uint64_t>> by_user;
            for (const auto& m : changed) {
              auto& u = (*st)("UPDATE messages SET read = 1 WHERE id = ?");
              u.bind(1, static_cast<std::int64_t>(m.id));
              u.exec();
              bump_unread(c.user, m.from, -1);
              by_user[m.from].push_back(m.id);
              if (m.from != c.user) by_user[c.user].push_back(m.id);
            }
            r.result_json = json::serialize(json::object{{"marked", changed.size()}});
            add_grouped(r, by_user, "read", c.user);
          },
          [&](const chat::cmd_delete_messages& c) {
            std::vector<chat::message> victims;
            std::set<std::uint64_t> seen;
            for (auto id : c.ids) {
              if (!seen.insert(id).second) continue;
              auto m = message(id);
              if (!m) continue;
              if (m->from != c.user && m->to != c.user) {
                r.code = apply_code::forbidden;
                return;
              }
              victims.push_back(*m);
            }
            std::map<std::string, std::vector<std::uint64_t>> by_user;
            for (const auto& m : victims) {
              delete_message(m);
              by_user[m.from].push_back(m.id);
              if (m.to != m.from) by_user[m.to].push_back(m.id);
            }
            r.result_json = json::serialize(json::object{{"deleted", victims.size()}});
            add_grouped(r, by_user, "deleted");
          },
          [&](const chat::cmd_delete_account& c) {
            if (!exists(c.user)) {
              r.code = apply_code::not_found;
              return;
            }
            std::map<std::string, std::vector<std::uint64_t>> by_user;
            std::vector<std::string> peers;  // every user with messages to or from c.user
            {
              auto& q = (*st)("SELECT peer FROM conversations WHERE user = ?");
              q.bind(1, c.user);
              while (q.executeStep()) peers.push_back(q.getColumn(0).getString());
            }
            std::vector<chat::message> victims;
            for (const auto& peer : peers) {
              auto& q = (*st)("SELECT id, sender, recipient, body, ts, read FROM messages WHERE pa = ? AND pb = ?");
              q.bind(1, std::min(c.user, peer));
              q.bind(2, std::max(c.user, peer));
              while (q.executeStep()) victims.push_back(read_message(q));
            }
            std::sort(victims.begin(), victims.end(), [](auto& a, auto& b) { return a.id < b.id; });
            for (const auto& m : victims) {
              auto& d = (*st)("DELETE FROM messages WHERE id = ?");
              d.bind(1, static_cast<std::int64_t>(m.id));
              d.exec();
              const std::string& other = m.from == c.user ? m.to : m.from;
              if (other != c.user) by_user[other].push_back(m.id);
            }
            for (const auto& peer : peers) {
              auto& d = (*st)("DELETE FROM conversations WHERE user = ? AND peer = ?");
              d.bind(1, peer);
              d.bind(2, c.user);
              d.exec();
            }
            for (const char* sql : {"DELETE FROM conversations WHERE user = ?", "DELETE FROM sessions WHERE user = ?",
                                    "DELETE FROM nonces WHERE sender = ?", "DELETE FROM accounts WHERE name = ?"}) {
              auto& d = (*st)(sql);
              d.bind(1, c.user);
              d.exec();
            }
            known_accounts.erase(c.user);
            r.deleted_account = c.user;
            add_grouped(r, by_user, "deleted");
          },
      },
      *cmd);
  return r;
}

chat_store::chat_store(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
chat_store::~chat_store() {
  // A commit the disk refuses is rolled back: the Raft log replays these
  // entries at the next start.
  std::error_code ec;
  std::string err;
  impl_->commit(ec, err);
}

namespace {
/// The name of the copy a snapshot install puts beside chat.db.
fs::path install_copy_name(const fs::path& db) { return db.string() + ".install"; }
}  // namespace

std::unique_ptr<chat_store> chat_store::open(const fs::path& path, open_error& err, std::uint64_t wal_bytes,
                                             double wal_phase) {
  auto i = std::make_unique<impl>();
  i->path = path;
  i->wal_bytes = wal_bytes;
  i->wal_phase = std::clamp(wal_phase, 0.0, 1.0);
  // A copy for a snapshot install that a crash cut short: the snapshot
  // file it came from is still there, and the install runs again.
  std::error_code ec;
  fs::remove(install_copy_name(path), ec);
  if (!i->connect(true, err.message)) return nullptr;
  return std::unique_ptr<chat_store>(new chat_store(std::move(i)));
}

bool chat_store::impl::connect(bool check, std::string& err) {
  bool created = false;
  // The state machine is derived data: the Raft log (fdatasynced) holds
  // every committed entry after the last snapshot, and a chat.db rolled
  // back by a crash or a power loss is re-applied from there at start
  // (node.cpp). So no fsync per commit: it is off the write path.
  db = open_database(path, created, err, false, write_combining_vfs(), check);
  if (!db) return false;
  try {
    // SQLite's page size is never below 512; the floor keeps the divisions safe.
    const auto page = std::max<std::uint64_t>(db->execAndGet("PRAGMA page_size").getInt64(), 512);
    page_bytes = page;
    wal_frames = std::max<std::uint64_t>(wal_bytes / page, 16);
    db->exec("PRAGMA journal_size_limit = " + std::to_string(wal_frames * page));
    start_checkpoints();
    // One transaction holds up to a second of writes (apply_actor). Pages it
    // dirties past the spill threshold are written into the WAL
    // mid-transaction and read back: measured at 0.5 pwrite and 0.5 pread
    // per write per member with SQLite's 2 MiB default. Dirty pages may
    // take up to 64 MiB before they spill, which holds a transaction's
    // 5,000 entries with room to spare; clean pages are recycled past
    // 16 MiB. Memory a process touches for the first time costs a page
    // fault (11-14 µs per 4 KiB page, measured in a KVM guest), so a cache
    // that only grows makes every new page of chat.db pay one until it is
    // full; a smaller one reuses its pages sooner.
    db->exec("PRAGMA cache_size = -16384");
    db->exec("PRAGMA cache_spill = " + std::to_string((64ull << 20) / page));
    // A file without a single table is one whose creation was cut short (a
    // kill between creating the file and committing the schema): nothing
    // was ever stored in it, so it is set up like a new one.
    const bool empty = [&] {
      SQLite::Statement tables(*db, "SELECT count(*) FROM sqlite_master");
      return tables.executeStep() && tables.getColumn(0).getInt64() == 0;
    }();
    if (created || empty) {
      SQLite::Transaction tx(*db);
      for (const char* sql : schema_sql) db->exec(sql);
      tx.commit();
    }
    if (!upgrade_schema(*db, path)) {
      err = path.string() + ": not a Quorum Chat state database (schema version missing or unknown)";
      return false;
    }
    SQLite::Statement a(*db, select_applied_index);
    if (!a.executeStep()) {
      err = path.string() + ": applied_index missing";
      return false;
    }
    applied = static_cast<std::uint64_t>(a.getColumn(0).getInt64());
  } catch (const std::exception& e) {
    err = path.string() + ": " + e.what();
    return false;
  }
  st = std::make_unique<statement_cache>(*db);
  return true;
}

std::unique_ptr<chat_store> chat_store::open_reader(const fs::path& path, open_error& err) {
  auto i = std::make_unique<impl>();
  i->path = path;
  i->reader = true;
  try {
    i->db = std::make_unique<SQLite::Database>(path.c_str(), SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX, 0,
                                               write_combining_vfs());
    // No memory mapping: a page read through one from a file with holes
    // on a full tmpfs raises SIGBUS, which would stop the node, where a
    // pread returns the bytes. A page cache of its own instead (it is
    // dropped whenever the owner commits, so it holds one second's
    // working set at most).
    i->db->exec("PRAGMA cache_size = -16384");
  } catch (const std::exception& e) {
    err.message = path.string() + ": " + e.what();
    return nullptr;
  }
  i->st = std::make_unique<statement_cache>(*i->db);
  return std::unique_ptr<chat_store>(new chat_store(std::move(i)));
}

void chat_store::read_committed(const std::function<void(std::uint64_t applied)>& fn) {
  read_together([&] {
    auto& q = (*impl_->st)(select_applied_index);
    std::uint64_t applied = 0;
    if (q.executeStep()) applied = static_cast<std::uint64_t>(q.getColumn(0).getInt64());
    q.reset();
    // A reader applies nothing: its applied_index() is this transaction's
    // (the state digest reports it beside the digest).
    impl_->applied = applied;
    fn(applied);
  });
}

std::uint64_t chat_store::applied_index() const { return impl_->applied; }

std::vector<apply_result> chat_store::apply_batch(const std::vector<raft::entry>& entries) {
  std::error_code ec;
  std::string err;
  auto out = apply_batch(entries, ec, err);
  if (ec) throw std::system_error(ec, err);
  return out;
}

std::vector<apply_result> chat_store::apply_batch(const std::vector<raft::entry>& entries, std::error_code& ec,
                                                  std::string& err) {
  auto reset_after = impl_->st->guard();
  std::vector<apply_result> out;
  std::uint64_t applied = impl_->applied;
  ec.clear();
  try {
    for (const auto& e : entries) {
      if (e.index <= applied) continue;
      if (!impl_->in_tx) {
        impl_->db->exec("BEGIN");
        impl_->in_tx = true;
      }
      out.push_back(impl_->apply_one(e));
      applied = e.index;
    }
    if (out.empty()) return out;
    auto& q = (*impl_->st)("UPDATE meta SET value = ? WHERE key = 'applied_index'");
    q.bind(1, static_cast<std::int64_t>(applied));
    q.exec();
  } catch (const std::exception& e) {
    ec = storage_error(e, *impl_->db);
    err = impl_->path.string() + ": " + storage_error_text(e, *impl_->db);
    impl_->rollback();
    return {};
  }
  impl_->uncommitted += out.size();
  impl_->applied = applied;
  return out;
}

void chat_store::commit(std::error_code& ec, std::string& err) { impl_->commit(ec, err); }

void chat_store::commit() {
  std::error_code ec;
  std::string err;
  impl_->commit(ec, err);
  if (ec) throw std::system_error(ec, err);
}

std::uint64_t chat_store::uncommitted() const { return impl_->uncommitted; }

std::uint64_t chat_store::free_bytes() {
  auto reset_after = impl_->st->guard();
  auto& q = (*impl_->st)("PRAGMA freelist_count");
  return q.executeStep() ? static_cast<std::uint64_t>(q.getColumn(0).getInt64()) * impl_->page_bytes : 0;
}

void chat_store::read_together(const std::function<void()>& fn) {
  if (impl_->in_tx) {
    fn();
    return;
  }
  // Prepared once, not compiled for each batch as exec() would.
  (*impl_->st)("BEGIN").exec();
  struct end_read {
    impl& i;
    ~end_read() {
      i.st->reset_all();
      try {
        if (sqlite3_get_autocommit(i.db->getHandle()) == 0) (*i.st)("COMMIT").exec();
      } catch (const std::exception&) {
        // A read-only transaction has nothing to lose; the next one begins afresh.
      }
    }
  } end{*impl_};
  fn();
}

std::optional<std::string> chat_store::password_hash(const std::string& user) {
  auto reset_after = impl_->st->guard();
  auto& q = (*impl_->st)("SELECT pw_hash FROM accounts WHERE name = ?");
  q.bind(1, user);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

std::optional<session_info> chat_store::session(const std::string& token_hash) {
  auto reset_after = impl_->st->guard();
  auto& q = (*impl_->st)("SELECT user, last_used FROM sessions WHERE token_hash = ?");
  q.bind(1, token_hash);
  if (!q.executeStep()) return std::nullopt;
  return session_info{q.getColumn(0).getString(), q.getColumn(1).getInt64()};
}

std::optional<std::string> chat_store::session_user(const std::string& token_hash) {
  auto reset_after = impl_->st->guard();
  auto& q = (*impl_->st)("SELECT user FROM sessions WHERE token_hash = ?");
  q.bind(1, token_hash);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

bool chat_store::account_exists(const std::string& user) {
  auto reset_after = impl_->st->guard();
  return impl_->exists(user);
}

account_page chat_store::list_accounts(const std::string& pattern, std::size_t limit,
                                       const std::optional<std::string>& after) {
  auto reset_after = impl_->st->guard();
  auto& q = (*impl_->st)("SELECT name FROM accounts WHERE name > ? AND name GLOB ? ORDER BY name LIMIT ?");
  q.bind(1, after.value_or(""));
  q.bind(2, pattern);
  q.bind(3, static_cast<std::int64_t>(limit + 1));
  account_page p;
  while (q.executeStep()) p.accounts.push_back(q.getColumn(0).getString());
  if (p.accounts.size() > limit) {
    p.accounts.pop_back();
    p.next = p.accounts.back();
  }
  return p;
}

void chat_store::history_each(const std::string& user, const std::string& with, std::size_t limit,
                              std::optional<std::uint64_t> before, const message_visitor& fn) {
  auto reset_after = impl_->st->guard();
  sqlite3* db = impl_->st->handle();
  auto* q = impl_->st->raw(
      "SELECT id, sender, recipient, body, ts, read FROM messages WHERE pa = ? AND pb = ? AND id < ? "
      "ORDER BY id DESC LIMIT ?");
  bind_static(db, q, 1, std::min(user, with));
  bind_static(db, q, 2, std::max(user, with));
  bind_int64(db, q, 3, static_cast<std::int64_t>(before.value_or(static_cast<std::uint64_t>(INT64_MAX))));
  bind_int64(db, q, 4, static_cast<std::int64_t>(limit));
  while (step_row(db, q)) fn(view_message(q));
}

std::vector<chat::message> chat_store::history(const std::string& user, const std::string& with, std::size_t limit,
                                               std::optional<std::uint64_t> before) {
  std::vector<chat::message> out;
  history_each(user, with, limit, before, [&](const chat::message_view& m) { out.push_back(to_message(m)); });
  std::reverse(out.begin(), out.end());
  return out;
}

void chat_store::unread_each(const std::string& user, std::size_t limit, const message_visitor& fn) {
  auto reset_after = impl_->st->guard();
  sqlite3* db = impl_->st->handle();
  auto* q = impl_->st->raw(
      "SELECT id, sender, recipient, body, ts, read FROM messages WHERE recipient = ? AND read = 0 ORDER BY id LIMIT ?");
  bind_static(db, q, 1, user);
  bind_int64(db, q, 2, static_cast<std::int64_t>(limit));
  while (step_row(db, q)) fn(view_message(q));
}

std::vector<chat::message> chat_store::unread(const std::string& user, std::size_t limit) {
  std::vector<chat::message> out;
  unread_each(user, limit, [&](const chat::message_view& m) { out.push_back(to_message(m)); });
  return out;
}

std::uint64_t chat_store::unread_count(const std::string& user) {
  auto reset_after = impl_->st->guard();
  return static_cast<std::uint64_t>(impl_->scalar("SELECT COUNT(*) FROM messages WHERE recipient = ? AND read = 0", user));
}

std::vector<conversation> chat_store::conversations(const std::string& user) {
  auto reset_after = impl_->st->guard();
  auto& q = (*impl_->st)(
      "SELECT c.peer, c.unread, m.id, m.sender, m.recipient, m.body, m.ts, m.read FROM " CONVERSATION_AND_MIRROR
      " JOIN messages m ON m.id = " PAIR_NEWEST_ID " WHERE c.user = ? ORDER BY m.id DESC");
  q.bind(1, user);
  std::vector<conversation> out;
  while (q.executeStep()) {
    conversation c;
    c.with = q.getColumn(0).getString();
    c.unread = static_cast<std::uint64_t>(q.getColumn(1).getInt64());
    c.last = read_message(q, 2);
    out.push_back(std::move(c));
  }
  return out;
}

std::uint64_t chat_store::message_count() {
  auto reset_after = impl_->st->guard();
  return static_cast<std::uint64_t>(impl_->scalar("SELECT COUNT(*) FROM messages"));
}

std::string chat_store::state_digest() {
  auto reset_after = impl_->st->guard();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  const char* dumps[] = {
      "SELECT name, pw_hash, created FROM accounts ORDER BY name",
      "SELECT token_hash, user, created, last_used FROM sessions ORDER BY token_hash",
      "SELECT id, sender, recipient, body, ts, read FROM messages ORDER BY id",
      // Each row's conversation as read (the pair's newest message), not
      // its stored last_id: which of the two rows holds it depends on
      // whether a build before the one-row update applied the message.
      "SELECT c.user, c.peer, " PAIR_NEWEST_ID ", c.unread FROM " CONVERSATION_AND_MIRROR " ORDER BY c.user, c.peer",
      "SELECT sender, nonce, msg_id, recipient, ts FROM nonces ORDER BY sender, nonce",
  };
  for (const char* sql : dumps) {
    SQLite::Statement q(*impl_->db, sql);
    EVP_DigestUpdate(ctx, sql, std::strlen(sql));
    while (q.executeStep()) {
      for (int c = 0; c < q.getColumnCount(); ++c) {
        const std::string v = q.getColumn(c).getString();
        const std::string len = std::to_string(v.size()) + ":";
        EVP_DigestUpdate(ctx, len.data(), len.size());
        EVP_DigestUpdate(ctx, v.data(), v.size());
      }
      EVP_DigestUpdate(ctx, "\n", 1);
    }
  }
  unsigned char d[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, d, &n);
  EVP_MD_CTX_free(ctx);
  return common::to_hex(d, n);
}

namespace {
/// VACUUM INTO `file` from `db`, then fsync the copy.
qc::error vacuum_into(SQLite::Database& db, const fs::path& file) {
  try {
    SQLite::Statement q(db, "VACUUM INTO ?");
    q.bind(1, file.string());
    q.exec();
  } catch (const std::exception& e) {
    return {storage_error(e, db), file.string() + ": " + storage_error_text(e, db)};
  }
  if (auto fe = fsync_path(file)) {
    const int e = fe.value();
    return {from_errno(e), "fsync of " + file.string() + " failed: " + std::strerror(e)};
  }
  return {};
}
}  // namespace

qc::error chat_store::snapshot_to(const fs::path& file) {
  qc::error out;
  impl_->commit(out.code, out.what);
  if (out) return out;
  impl_->st->clear();  // no statement may be mid-read during VACUUM
  return vacuum_into(*impl_->db, file);
}

const fs::path& chat_store::path() const { return impl_->path; }

qc::error chat_store::snapshot_file_to(const fs::path& db_file, const fs::path& file) {
  try {
    // Never through a memory mapping: this copy runs beside a serving
    // node, and a mapped page the kernel cannot supply (a hole on a full
    // tmpfs, a file cut shorter) raises SIGBUS, which stops the whole
    // process, where pread reports an error. The copy VFS declines any
    // mapping and reads the file in 120 KiB pieces: 4,156 preads instead
    // of 21,726 for an 89 MB chat.db (NOTEBOOK, 2026-12-05 evening).
    SQLite::Database db(db_file.c_str(), SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX, 0, write_combining_copy_vfs());
    return vacuum_into(db, file);
  } catch (const std::exception& e) {
    return {errc::io_error, db_file.string() + ": " + e.what()};
  }
}

std::uint64_t chat_store::snapshot_applied_index(const fs::path& file) {
  try {
    SQLite::Database db(file.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(db, select_applied_index);
    return q.executeStep() ? static_cast<std::uint64_t>(q.getColumn(0).getInt64()) : 0;
  } catch (...) {
    return 0;
  }
}

namespace {
/// The checks of verify_snapshot on an open snapshot.
qc::error check_snapshot(SQLite::Database& src, const fs::path& file, std::uint64_t& applied) {
  if (quick_check(src) != "ok") return {errc::corrupt, file.string() + ": snapshot fails its integrity check"};
  const int version = schema_of(src);  // schema 1: from a node of an earlier version, upgraded on install
  if (version != 1 && version != schema_version) return {errc::corrupt, file.string() + ": not a chat snapshot"};
  SQLite::Statement a(src, select_applied_index);
  if (!a.executeStep()) return {errc::corrupt, file.string() + ": snapshot has no applied_index"};
  applied = static_cast<std::uint64_t>(a.getColumn(0).getInt64());
  return {};
}
}  // namespace

qc::error chat_store::verify_snapshot(const fs::path& file, std::uint64_t& applied) {
  try {
    SQLite::Database src(file.string(), SQLite::OPEN_READONLY);
    return check_snapshot(src, file, applied);
  } catch (const std::exception& e) {
    return {errc::corrupt, file.string() + ": " + e.what()};
  }
}

qc::error chat_store::install_snapshot(const fs::path& file) {
  std::uint64_t snap_applied = 0;
  if (auto bad = verify_snapshot(file, snap_applied)) return bad;
  qc::error out;
  impl_->commit(out.code, out.what);
  if (out) return out;
  // The snapshot file stays (the Raft core may send it on), so chat.db
  // becomes a copy of it: made in the kernel (copy_file_range or
  // sendfile) and fsynced, then renamed into place. Copying it page by
  // page through SQLite's backup API took 2.2 s for 350 MB and wrote it
  // twice (into the WAL, then the checkpoint).
  const fs::path copy = install_copy_name(impl_->path);
  std::error_code ec;
  fs::copy_file(file, copy, fs::copy_options::overwrite_existing, ec);
  if (!ec) ec = fsync_path(copy);
  if (ec) {
    std::error_code ignored;
    fs::remove(copy, ignored);
    return {from_errno(ec.value()), "cannot copy " + file.string() + " to " + copy.string() + ": " + ec.message()};
  }
  return impl_->swap_in(copy);
}

qc::error chat_store::impl::swap_in(const fs::path& copy) {
  const fs::path dir = path.parent_path();
  auto fail = [&](const std::string& what) {
    std::error_code ignored;
    fs::remove(copy, ignored);
    return qc::error{errc::io_error, what};
  };
  // Everything chat.db holds goes into the main file before its WAL is
  // deleted: a crash before the rename then leaves the old state, whole,
  // and never a WAL of the old file beside the new one (SQLite would
  // replay it into the new file).
  st.reset();
  stop_checkpoints();  // a checkpoint under way would make TRUNCATE fail
  auto keep_old = [&](const std::string& what) {
    st = std::make_unique<statement_cache>(*db);
    start_checkpoints();
    return fail(what);
  };
  try {
    SQLite::Statement q(*db, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (!q.executeStep() || q.getColumn(0).getInt() != 0)
      return keep_old(path.string() + ": the checkpoint before a snapshot install could not finish");
  } catch (const std::exception& e) {
    return keep_old(path.string() + ": " + storage_error_text(e, *db));
  }
  db.reset();
  known_accounts.clear();
  in_tx = false;
  uncommitted = 0;
  for (const char* side : {"-wal", "-shm"}) {
    if (::unlink((path.string() + side).c_str()) != 0 && errno != ENOENT)
      return fail("cannot delete " + path.string() + side + ": " + std::strerror(errno));
  }
  if (auto e = fsync_dir(dir)) return fail("cannot fsync " + dir.string() + ": " + e.message());
  if (::rename(copy.c_str(), path.c_str()) != 0)
    return fail("cannot rename " + copy.string() + " to " + path.string() + ": " + std::strerror(errno));
  if (auto e = fsync_dir(dir)) return {errc::io_error, "cannot fsync " + dir.string() + ": " + e.message()};
  // The bytes were checked (verify_snapshot) before they were copied.
  std::string err;
  if (!connect(false, err)) return {errc::io_error, err};
  return {};
}

std::vector<std::pair<std::string, std::string>> chat_store::query_plans() {
  const std::pair<const char*, const char*> queries[] = {
      {"history", "SELECT id FROM messages WHERE pa = 'a' AND pb = 'b' AND id < 100 ORDER BY id DESC LIMIT 50"},
      {"unread", "SELECT id FROM messages WHERE recipient = 'a' AND read = 0 ORDER BY id LIMIT 50"},
      {"unread_count", "SELECT COUNT(*) FROM messages WHERE recipient = 'a' AND read = 0"},
      {"conversations",
       "SELECT c.peer, m.id FROM " CONVERSATION_AND_MIRROR " JOIN messages m ON m.id = " PAIR_NEWEST_ID
       " WHERE c.user = 'a' ORDER BY m.id DESC"},
      {"list_accounts", "SELECT name FROM accounts WHERE name > '' AND name GLOB 'a*' ORDER BY name LIMIT 51"},
      {"nonce", "SELECT msg_id FROM nonces WHERE sender = 'a' AND nonce = 'n'"},
      {"session", "SELECT user FROM sessions WHERE token_hash = 'x'"},
  };
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, sql] : queries) {
    SQLite::Statement q(*impl_->db, std::string("EXPLAIN QUERY PLAN ") + sql);
    std::string plan;
    while (q.executeStep()) plan += q.getColumn(3).getString() + "\n";
    out.emplace_back(name, plan);
  }
  return out;
}

}  // namespace qc::db

#undef CONVERSATION_AND_MIRROR
#undef PAIR_NEWEST_ID
