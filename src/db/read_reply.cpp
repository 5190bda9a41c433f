#include "db/read_reply.h"

#include <boost/json.hpp>

#include "chat/message_json.h"
#include "common/json_text.h"

namespace qc::db {

namespace json = boost::json;

std::string answer_read(chat_store& s, const read_query& q) {
  switch (q.kind) {
    case chat::op::list_accounts: {
      auto page = s.list_accounts(q.pattern, q.limit, q.after);
      json::object o;
      json::array names;
      for (auto& a : page.accounts) names.emplace_back(a);
      o["accounts"] = std::move(names);
      o["next"] = page.next ? json::value(*page.next) : json::value(nullptr);
      return chat::reply_ok(q.head, json::serialize(o));
    }
    case chat::op::history: {
      chat::messages_writer w(q.limit);
      s.history_each(q.user, q.with, q.limit, q.before, [&](const chat::message_view& m) { w.add(m); });
      // Messages go with their accounts: only an empty page can mean that
      // `with` names none, and only then is it looked up.
      if (w.empty() && q.with != q.user && !s.account_exists(q.with)) return q.no_such_user;
      return w.reply(q.head, true);  // found newest first, listed oldest first
    }
    case chat::op::unread: {
      chat::messages_writer w(q.limit);
      s.unread_each(q.user, q.limit, [&](const chat::message_view& m) { w.add(m); });
      return w.reply(q.head, false);
    }
    default: {  // conversations
      std::string out = q.head + ",\"conversations\":[";
      bool first = true;
      for (auto& c : s.conversations(q.user)) {
        if (!first) out += ',';
        first = false;
        out += "{\"with\":";
        common::append_json_string(out, c.with);
        out += ",\"unread\":" + std::to_string(c.unread) + ",\"last\":";
        chat::append_message_json(out, c.last);
        out += '}';
      }
      return out + "]}";
    }
  }
}

}  // namespace qc::db
