// sqlite_keys: what a send's SQL costs with the account names as the
// index keys (chat.db's schema) against integer account ids, and against
// names led by a 64-bit hash of them. Only the statements of a send, on
// the schema's three B-trees that a send writes (the message row, its two
// indexes, the recipient's conversation row), with chat.db's settings
// (WAL, synchronous=NORMAL, a 16 MiB page cache, a transaction of 5,000
// sends). 64 users, each sending to the next; 100,000 sends to grow the
// tables, then 200,000 timed.
//
//   g++ -O2 -std=c++20 tools/sqlite_keys.cpp -lsqlite3 -o build/sqlite_keys
//   build/sqlite_keys text|int|hash [NAME_PREFIX] [DIR]
//
// NAME_PREFIX (default "gb123456789_", the shape of etcdbench's account
// names) makes every name share a prefix, as a benchmark's do.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql, err);
    std::exit(1);
  }
}

sqlite3_stmt* prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    std::exit(1);
  }
  return s;
}

void run(sqlite3_stmt* s) {
  sqlite3_step(s);
  sqlite3_reset(s);
}

std::int64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return static_cast<std::int64_t>(h);
}

enum class keys { text, integer, hash };

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "text";
  const keys k = mode == "int" ? keys::integer : mode == "hash" ? keys::hash : keys::text;
  const std::string prefix = argc > 2 ? argv[2] : "gb123456789_";
  const std::string path = std::string(argc > 3 ? argv[3] : "build") + "/sqlite-keys-" + mode + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA synchronous=NORMAL");
  exec(db, "PRAGMA cache_size=-16384");
  const char* key = k == keys::integer ? "INTEGER" : "TEXT";
  std::string m = std::string("CREATE TABLE messages(id INTEGER PRIMARY KEY, sender ") + key + " NOT NULL, recipient " + key +
                  " NOT NULL, body TEXT NOT NULL, ts INTEGER NOT NULL, read INTEGER NOT NULL, pa " +
                  (k == keys::hash ? "INTEGER" : key) + " NOT NULL, pb " + (k == keys::hash ? "INTEGER" : key) + " NOT NULL)";
  exec(db, m.c_str());
  if (k == keys::hash) {
    // pa: the recipient's hash; pb: the pair's. Rows of colliding hashes are
    // told apart by the names in the row.
    exec(db, "CREATE INDEX messages_unread ON messages(pa, id) WHERE read = 0");
    exec(db, "CREATE INDEX messages_pair ON messages(pb, id)");
    exec(db,
         "CREATE TABLE conversations(uh INTEGER NOT NULL, ph INTEGER NOT NULL, user TEXT NOT NULL, peer TEXT NOT NULL,"
         " last_id INTEGER NOT NULL, unread INTEGER NOT NULL, PRIMARY KEY(uh, ph, user, peer)) WITHOUT ROWID");
  } else {
    exec(db, "CREATE INDEX messages_unread ON messages(recipient, id) WHERE read = 0");
    exec(db, "CREATE INDEX messages_pair ON messages(pa, pb, id)");
    std::string c = std::string("CREATE TABLE conversations(user ") + key + " NOT NULL, peer " + key +
                    " NOT NULL, last_id INTEGER NOT NULL, unread INTEGER NOT NULL, PRIMARY KEY(user, peer)) WITHOUT ROWID";
    exec(db, c.c_str());
  }
  const bool h = k == keys::hash;
  sqlite3_stmt* ins = prepare(db, "INSERT INTO messages VALUES (?, ?, ?, ?, ?, 0, ?, ?)");
  sqlite3_stmt* upd = prepare(db, h ? "UPDATE conversations SET last_id = ?, unread = unread + 1"
                                      " WHERE uh = ? AND ph = ? AND user = ? AND peer = ?"
                                    : "UPDATE conversations SET last_id = ?, unread = unread + 1 WHERE user = ? AND peer = ?");
  sqlite3_stmt* cins = prepare(db, h ? "INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                                     : "INSERT INTO conversations VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
  constexpr int users = 64;
  std::vector<std::string> names;
  for (int i = 0; i < users; ++i) names.push_back(prefix + std::to_string(i));
  const std::string body(256, 'x');
  auto name = [&](sqlite3_stmt* s, int col, int u) {
    sqlite3_bind_text(s, col, names[u].data(), static_cast<int>(names[u].size()), SQLITE_STATIC);
  };
  auto user = [&](sqlite3_stmt* s, int col, int u) {  // the key of user u
    if (k == keys::integer) sqlite3_bind_int64(s, col, u + 1);
    else name(s, col, u);
  };
  auto sends = [&](int first_id, int count) {
    const auto t0 = std::chrono::steady_clock::now();
    exec(db, "BEGIN");
    for (int i = 0; i < count; ++i) {
      const int id = first_id + i, from = id % users, to = (from + 1) % users;
      const bool from_first = k == keys::integer ? from < to : names[from] < names[to];
      const int lo = from_first ? from : to, hi = from_first ? to : from;
      sqlite3_bind_int64(ins, 1, id);
      h ? name(ins, 2, from) : user(ins, 2, from);
      h ? name(ins, 3, to) : user(ins, 3, to);
      sqlite3_bind_text(ins, 4, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
      sqlite3_bind_int64(ins, 5, 1732400000123LL + id);
      if (h) {
        sqlite3_bind_int64(ins, 6, fnv1a(names[to]));
        sqlite3_bind_int64(ins, 7, fnv1a(names[lo] + '\0' + names[hi]));
      } else {
        user(ins, 6, lo);
        user(ins, 7, hi);
      }
      run(ins);
      sqlite3_bind_int64(upd, 1, id);
      if (h) {
        sqlite3_bind_int64(upd, 2, fnv1a(names[to]));
        sqlite3_bind_int64(upd, 3, fnv1a(names[from]));
        name(upd, 4, to);
        name(upd, 5, from);
      } else {
        user(upd, 2, to);
        user(upd, 3, from);
      }
      run(upd);
      if (sqlite3_changes(db) == 0)  // the pair's first message: both rows
        for (int side = 0; side < 2; ++side) {
          const int u = side == 0 ? to : from, p = side == 0 ? from : to;
          int col = 1;
          if (h) {
            sqlite3_bind_int64(cins, col++, fnv1a(names[u]));
            sqlite3_bind_int64(cins, col++, fnv1a(names[p]));
            name(cins, col++, u);
            name(cins, col++, p);
          } else {
            user(cins, col++, u);
            user(cins, col++, p);
          }
          sqlite3_bind_int64(cins, col++, id);
          sqlite3_bind_int64(cins, col, side == 0 ? 1 : 0);
          run(cins);
        }
      if ((i + 1) % 5000 == 0) {
        exec(db, "COMMIT");
        exec(db, "BEGIN");
      }
    }
    exec(db, "COMMIT");
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / count;
  };
  sends(1, 100000);
  std::printf("%-4s keys, names \"%s<n>\": %.2f us per send\n", mode.c_str(), prefix.c_str(), sends(100001, 200000));
  for (auto* s : {ins, upd, cins}) sqlite3_finalize(s);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
}
