// chat_store::open_reader: a second connection that sees only what the
// owner committed, with the applied_index of that same state.
#include <doctest/doctest.h>

#include "db/chat_store.h"
#include "db/temp_store.h"

using namespace qc;

namespace {
std::size_t history_size(db::chat_store& s) { return s.history("alice", "bob", 100, std::nullopt).size(); }
}  // namespace

TEST_CASE("a reader sees the owner's committed state and its applied index, never the open transaction") {
  test::temp_dir d("reader");
  auto owner = test::open_store(d.p / "chat.db");
  owner->apply_batch({test::command_entry(1, chat::cmd_create_account{"alice", "pbkdf2$h", 1}),
                      test::command_entry(2, chat::cmd_create_account{"bob", "pbkdf2$h", 1}),
                      test::command_entry(3, chat::cmd_send{"alice", "bob", "one", std::nullopt, 10})});
  owner->commit();

  db::open_error err;
  auto reader = db::chat_store::open_reader(d.p / "chat.db", err);
  REQUIRE_MESSAGE(reader, err.message);
  auto seen = [&] {
    std::pair<std::uint64_t, std::size_t> out;
    reader->read_committed([&](std::uint64_t applied) {
      // What a query inside asks of applied_index() (the digest does) is the state it reads.
      CHECK(reader->applied_index() == applied);
      out = {applied, history_size(*reader)};
    });
    return out;
  };
  CHECK(seen() == std::pair<std::uint64_t, std::size_t>{3, 1});

  // Applied but not committed: the owner sees it, the reader does not.
  owner->apply_batch({test::command_entry(4, chat::cmd_send{"bob", "alice", "two", std::nullopt, 11})});
  CHECK(owner->applied_index() == 4);
  CHECK(history_size(*owner) == 2);
  CHECK(seen() == std::pair<std::uint64_t, std::size_t>{3, 1});

  owner->commit();
  CHECK(seen() == std::pair<std::uint64_t, std::size_t>{4, 2});

  // It only reads.
  CHECK_THROWS(reader->apply_batch({test::command_entry(5, chat::cmd_send{"bob", "alice", "x", std::nullopt, 12})}));
  CHECK(seen() == std::pair<std::uint64_t, std::size_t>{4, 2});
}

TEST_CASE("a reader's account lookup follows the owner's commits: a deleted account is gone for it too") {
  test::temp_dir d("reader-accounts");
  auto owner = test::open_store(d.p / "chat.db");
  owner->apply_batch({test::command_entry(1, chat::cmd_create_account{"alice", "pbkdf2$h", 1})});
  owner->commit();
  db::open_error err;
  auto reader = db::chat_store::open_reader(d.p / "chat.db", err);
  REQUIRE_MESSAGE(reader, err.message);
  const auto exists = [&] {
    bool out = false;
    reader->read_committed([&](std::uint64_t) { out = reader->account_exists("alice"); });
    return out;
  };
  CHECK(exists());
  owner->apply_batch({test::command_entry(2, chat::cmd_delete_account{"alice"})});
  owner->commit();
  CHECK_FALSE(exists());  // a cache of names on the reader would still say yes
}

TEST_CASE("a reader of a missing file is refused with the path") {
  test::temp_dir d("reader");
  db::open_error err;
  CHECK_FALSE(db::chat_store::open_reader(d.p / "none.db", err));
  CHECK(err.message.find("none.db") != std::string::npos);
}
