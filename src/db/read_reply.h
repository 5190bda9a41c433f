// The protocol's read ops (`list_accounts`, `history`, `unread`,
// `conversations`) answered from chat.db as whole reply texts: the query
// runs, and the reply is written around its rows, in one string on the
// thread that owns the store. The loop thread then only sends it.
//
// Owned by: the apply actor's thread (its chat_store); read_query values
// are made on the loop thread and handed over with the query.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "chat/request.h"
#include "db/chat_store.h"

namespace qc::db {

/// One read, as the gateway hands it to the apply actor.
struct read_query {
  chat::op kind = chat::op::history;  ///< list_accounts, history, unread or conversations
  std::string head;                   ///< chat::reply_ok_head of the request
  std::string user;                   ///< the connection's user
  std::string with;                   ///< history
  std::string pattern = "*";          ///< list_accounts
  std::optional<std::string> after;   ///< list_accounts
  std::size_t limit = 50;             ///< list_accounts, history, unread
  std::optional<std::uint64_t> before;  ///< history
  /// history: the whole reply when `with` names no account (not_found).
  std::string no_such_user;
};

/// The whole ok reply to `q` (`head` and the op's result members).
/// Apply actor's thread.
std::string answer_read(chat_store& s, const read_query& q);

}  // namespace qc::db
