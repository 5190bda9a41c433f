// The protocol's message object as JSON text, written straight into a
// string: the read replies (`history`, `unread`, `conversations`) and the
// `send` reply and event carry up to a thousand of them, and building a
// boost::json::object for each cost more than the query that found them.
//
// The text is byte for byte what boost::json::serialize gives for the same
// object (keys in protocol order, the same string escapes), so replicas and
// tests see one format whichever path wrote it.
//
// Owned by: plain functions; called on the apply thread (queries, apply
// results) and by tests.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "chat/command.h"

namespace qc::chat {

/// Appends `{"id":…,"from":…,"to":…,"body":…,"ts":…,"read":…}` to `out`.
void append_message_json(std::string& out, const message_view& m);

/// The message object alone.
std::string message_json(const message_view& m);

/// Builds a reply's `"messages":[…]` from rows as a query yields them,
/// without a copy of each row: add() each, then reply(). History finds the
/// newest rows first but lists them oldest first: reply(…, true) reverses
/// the order.
class messages_writer {
 public:
  /// `rows`: how many rows the query may yield (its limit): room for them
  /// is made once, from the first row's size, not by doubling as they come.
  explicit messages_writer(std::size_t rows = 0) : rows_(rows) { at_.reserve(rows); }
  void add(const message_view& m);
  /// True until the first add().
  bool empty() const { return at_.empty(); }
  /// `head` (an object's opening with at least one member, such as
  /// chat::reply_ok_head's) with `,"messages":[…]}` after it.
  std::string reply(std::string head, bool reverse);

 private:
  std::size_t rows_;
  std::string objects_;                                  ///< the objects back to back
  std::vector<std::pair<std::size_t, std::size_t>> at_;  ///< offset and size of each
};

}  // namespace qc::chat
