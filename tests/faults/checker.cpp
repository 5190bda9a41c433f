#include "faults/checker.h"

#include <algorithm>
#include <climits>
#include <set>
#include <sstream>

namespace qc::faults {

namespace {

constexpr std::size_t max_examples = 20;
constexpr std::int64_t never = INT64_MAX;

std::string ms(std::int64_t ns) {
  std::ostringstream o;
  o << (ns / 1'000'000) << "ms";
  return o.str();
}

std::string describe_msg(const message& m) {
  return "#" + std::to_string(m.id) + " " + m.from + "->" + m.to + " '" + m.body + "'";
}

/// One logical send: every attempt with the same user and body (retries
/// reuse the nonce and body).
struct logical_send {
  std::string from, to, body;
  std::int64_t first_invoke = never;
  std::int64_t ack_complete = never;  ///< earliest acknowledged completion
  std::set<std::uint64_t> reply_ids;  ///< ids in ok replies
  bool acked() const { return ack_complete != never; }
};

using send_key = std::pair<std::string, std::string>;  // from, body

struct checker {
  const std::vector<op_record>& h;
  const final_state& f;
  verdict v;

  std::map<send_key, logical_send> sends;
  std::map<std::uint64_t, send_key> by_content;  ///< content_hash(from, to, body) -> its send
  std::map<std::uint64_t, std::uint64_t> observed;  ///< id -> content hash (read flag ignored)
  std::map<send_key, std::set<std::uint64_t>> ids_of;
  std::map<std::uint64_t, std::int64_t> delete_attempt;  ///< id -> earliest invocation of any delete naming it
  std::map<std::uint64_t, std::int64_t> delete_ack;      ///< id -> earliest acknowledged delete completion
  std::map<std::uint64_t, std::int64_t> mark_ack;        ///< id -> earliest acknowledged mark_read by its recipient
  std::map<std::uint64_t, message> final_msgs;           ///< id -> message in the final state

  checker(const std::vector<op_record>& hist, const final_state& fin) : h(hist), f(fin) {}

  void violation(const std::string& property, const std::string& what) {
    ++v.counts[property];
    auto& list = v.violations[property];
    if (list.size() < max_examples) list.push_back(what);
  }

  /// The send a content hash belongs to, if anyone sent it.
  const logical_send* send_of(std::uint64_t content) const {
    auto k = by_content.find(content);
    return k == by_content.end() ? nullptr : &sends.at(k->second);
  }

  std::string describe_entry(const read_entry& e) const {
    if (auto* s = send_of(e.content)) return describe_msg({e.id, s->from, s->to, s->body, e.read});
    return "#" + std::to_string(e.id) + " (content nobody sent)";
  }

  void observe(const read_entry& e, const std::string& where) {
    auto [it, fresh] = observed.emplace(e.id, e.content);
    if (!fresh && it->second != e.content)
      violation("phantom", "id " + std::to_string(e.id) + " seen with two contents: " +
                               describe_entry({e.id, it->second, false}) + " and " + describe_entry(e) + " (" + where + ")");
    auto k = by_content.find(e.content);
    if (k == by_content.end()) {
      if (fresh) violation("phantom", describe_entry(e) + " was never sent by anyone (" + where + ")");
      return;
    }
    ids_of[k->second].insert(e.id);
  }

  void collect() {
    for (const auto& op : h)
      if (op.kind == op_kind::send) {
        auto& s = sends[{op.user, op.body}];
        s.from = op.user;
        s.to = op.peer;
        s.body = op.body;
        by_content[content_hash(op.user, op.peer, op.body)] = {op.user, op.body};
      }
    for (const auto& op : h) {
      switch (op.kind) {
        case op_kind::send: {
          auto& s = sends[{op.user, op.body}];
          s.first_invoke = std::min(s.first_invoke, op.invoke_ns);
          if (op.result == outcome::ok) {
            ++v.sends_ok;
            s.ack_complete = std::min(s.ack_complete, op.complete_ns);
            s.reply_ids.insert(op.msg_id);
            ids_of[{op.user, op.body}].insert(op.msg_id);
          } else if (op.result == outcome::unknown) {
            ++v.sends_unknown;
          } else {
            ++v.sends_failed;
          }
          break;
        }
        case op_kind::del:
          for (auto id : op.ids) {
            auto& a = delete_attempt.try_emplace(id, never).first->second;
            a = std::min(a, op.invoke_ns);
            if (op.result == outcome::ok) {
              auto& d = delete_ack.try_emplace(id, never).first->second;
              d = std::min(d, op.complete_ns);
            }
          }
          if (op.result == outcome::ok) ++v.deletes_ok;
          break;
        case op_kind::mark_read:
          if (op.result == outcome::ok) ++v.marks_ok;
          break;
        case op_kind::read:
          if (op.result == outcome::ok) {
            ++v.reads_ok;
            for (const auto& m : op.messages) observe(m, "read by p" + std::to_string(op.process) + " at " + ms(op.invoke_ns));
          }
          break;
      }
    }
    for (const auto& [conv, msgs] : f.conversations)
      for (const auto& m : msgs) {
        observe(entry_of(m), "final state");
        final_msgs[m.id] = m;
        ++v.final_messages;
      }
    // mark_read only affects messages addressed to the caller.
    for (const auto& op : h)
      if (op.kind == op_kind::mark_read && op.result == outcome::ok)
        for (auto id : op.ids) {
          auto it = observed.find(id);
          auto* s = it == observed.end() ? nullptr : send_of(it->second);
          if (!s || s->to != op.user) continue;
          auto& m = mark_ack.try_emplace(id, never).first->second;
          m = std::min(m, op.complete_ns);
        }
  }

  void check_duplicates_and_phantoms() {
    for (const auto& [key, ids] : ids_of) {
      if (ids.size() > 1) {
        std::string list;
        for (auto id : ids) list += (list.empty() ? "" : ", ") + std::to_string(id);
        violation("duplicate", key.first + "'s send '" + key.second + "' applied as ids " + list);
      }
      auto s = sends.find(key);
      if (s != sends.end() && !s->second.acked() && !ids.empty()) ++v.unknown_applied;
    }
  }

  void check_lost() {
    for (const auto& [key, s] : sends) {
      if (!s.acked() || s.reply_ids.empty()) continue;
      const auto id = *s.reply_ids.begin();
      if (final_msgs.count(id) || delete_attempt.count(id)) continue;
      violation("lost", "acknowledged send #" + std::to_string(id) + " " + s.from + "->" + s.to + " '" + s.body +
                            "' (acked at " + ms(s.ack_complete) + ") is gone and was never deleted");
    }
  }

  void check_realtime() {
    struct acked {
      std::int64_t invoke, complete;
      std::uint64_t id;
      const logical_send* s;
    };
    std::vector<acked> a;
    for (const auto& [key, s] : sends)
      if (s.acked() && s.reply_ids.size() == 1) a.push_back({s.first_invoke, s.ack_complete, *s.reply_ids.begin(), &s});
    auto by_complete = a;
    std::sort(by_complete.begin(), by_complete.end(), [](auto& x, auto& y) { return x.complete < y.complete; });
    std::sort(a.begin(), a.end(), [](auto& x, auto& y) { return x.invoke < y.invoke; });
    std::size_t j = 0;
    const acked* max_before = nullptr;
    for (const auto& b : a) {
      while (j < by_complete.size() && by_complete[j].complete < b.invoke) {
        if (!max_before || by_complete[j].id > max_before->id) max_before = &by_complete[j];
        ++j;
      }
      if (max_before && max_before->id > b.id)
        violation("realtime", "send '" + max_before->s->body + "' got #" + std::to_string(max_before->id) +
                                  " and completed at " + ms(max_before->complete) + ", before send '" + b.s->body +
                                  "' was invoked at " + ms(b.invoke) + ", which got the smaller #" +
                                  std::to_string(b.id));
    }
  }

  void check_reads() {
    // Acknowledged sends per conversation, by acknowledgement time.
    std::map<std::pair<std::string, std::string>, std::vector<std::pair<std::int64_t, std::uint64_t>>> acked_by_conv;
    for (const auto& [key, s] : sends)
      if (s.acked() && !s.reply_ids.empty())
        acked_by_conv[conv_key(s.from, s.to)].push_back({s.ack_complete, *s.reply_ids.begin()});
    for (auto& [c, list] : acked_by_conv) std::sort(list.begin(), list.end());
    static const std::vector<message> none;

    for (const auto& op : h) {
      if (op.kind != op_kind::read || op.result != outcome::ok) continue;
      const auto conv = conv_key(op.user, op.peer);
      const std::string who = "read by p" + std::to_string(op.process) + " of " + conv.first + "/" + conv.second +
                              " [" + ms(op.invoke_ns) + ", " + ms(op.complete_ns) + "]";
      v.reads_checked_messages += op.messages.size();
      std::vector<std::uint64_t> ids;
      bool ordered = true;
      for (const auto& m : op.messages) {
        auto* s = send_of(m.content);
        if (s && conv_key(s->from, s->to) != conv)
          violation("read_order", who + " returned " + describe_entry(m) + " of another conversation");
        if (!ids.empty() && m.id <= ids.back()) ordered = false;
        ids.push_back(m.id);
        if (s && s->first_invoke > op.complete_ns)
          violation("phantom", who + " returned " + describe_entry(m) + " before its send was invoked at " +
                                   ms(s->first_invoke));
        if (op.local) continue;  // stale is allowed; invented and out of order are not
        auto d = delete_ack.find(m.id);
        if (d != delete_ack.end() && d->second < op.invoke_ns)
          violation("resurrection", who + " returned " + describe_entry(m) + " deleted (acknowledged) at " + ms(d->second));
        auto mk = mark_ack.find(m.id);
        if (!m.read && mk != mark_ack.end() && mk->second < op.invoke_ns)
          violation("lost_mark", who + " shows " + describe_entry(m) + " unread; marked read (acknowledged) at " +
                                     ms(mk->second));
      }
      if (!ordered) {
        violation("read_order", who + " is not in increasing id order");
        std::sort(ids.begin(), ids.end());
      }
      // Every acknowledged write before the read began, within the window.
      const std::uint64_t window_min = op.read_full && !ids.empty() ? ids.front() : 0;
      auto ac = op.local ? acked_by_conv.end() : acked_by_conv.find(conv);
      if (ac != acked_by_conv.end())
        for (const auto& [done, id] : ac->second) {
          if (done >= op.invoke_ns) break;
          if (id < window_min || std::binary_search(ids.begin(), ids.end(), id)) continue;
          auto da = delete_attempt.find(id);
          if (da != delete_attempt.end() && da->second < op.complete_ns) continue;
          violation("stale_read", who + " misses #" + std::to_string(id) + " acknowledged at " + ms(done));
        }
      // No holes: the final state's messages between the first and last id returned.
      if (ids.size() >= 2) {
        auto fc = f.conversations.find(conv);
        const auto& fin = fc == f.conversations.end() ? none : fc->second;
        auto lo = std::lower_bound(fin.begin(), fin.end(), ids.front(), [](const message& m, std::uint64_t x) { return m.id < x; });
        for (auto it = lo; it != fin.end() && it->id < ids.back(); ++it)
          if (!std::binary_search(ids.begin(), ids.end(), it->id))
            violation("read_order", who + " skips " + describe_msg(*it) + ", which the final state holds");
      }
    }
  }

  void check_final() {
    for (const auto& [conv, msgs] : f.conversations) {
      for (std::size_t i = 0; i < msgs.size(); ++i) {
        const auto& m = msgs[i];
        if (i > 0 && msgs[i - 1].id >= m.id) violation("read_order", "final state of " + conv.first + "/" + conv.second + " is not in id order");
        if (delete_ack.count(m.id)) violation("resurrection", "final state holds deleted " + describe_msg(m));
        if (!m.read && mark_ack.count(m.id)) violation("lost_mark", "final state shows marked " + describe_msg(m) + " unread");
      }
    }
    for (const auto& n : f.unreachable) violation("divergence", "member " + n + " could not be read at the end");
    if (!f.digests.empty()) {
      const auto& [first_node, first] = *f.digests.begin();
      for (const auto& [node, d] : f.digests)
        if (d != first)
          violation("divergence", node + " has digest " + d.first.substr(0, 12) + " at applied " + std::to_string(d.second) +
                                      ", " + first_node + " has " + first.first.substr(0, 12) + " at " +
                                      std::to_string(first.second));
    }
  }
};

}  // namespace

const std::vector<std::string>& verdict::properties() {
  static const std::vector<std::string> p = {"lost",       "duplicate",    "phantom",   "realtime",  "stale_read",
                                             "read_order", "resurrection", "lost_mark", "divergence"};
  return p;
}

std::string verdict::describe(std::size_t examples_per_property) const {
  std::ostringstream o;
  for (const auto& p : properties()) {
    auto c = counts.find(p);
    o << "  " << p << ": " << (c == counts.end() ? std::string("ok") : std::to_string(c->second) + " violation(s)") << "\n";
    if (c == counts.end()) continue;
    const auto& list = violations.at(p);
    for (std::size_t i = 0; i < list.size() && i < examples_per_property; ++i) o << "    - " << list[i] << "\n";
  }
  return o.str();
}

verdict check(const std::vector<op_record>& history, const final_state& final) {
  checker c(history, final);
  c.collect();
  c.check_duplicates_and_phantoms();
  c.check_lost();
  c.check_realtime();
  c.check_reads();
  c.check_final();
  return std::move(c.v);
}

}  // namespace qc::faults
