// Text forms of the core's values for transcripts (describe.h).
#include "raft/describe.h"

#include "raft/datadriven.h"

namespace qc::test {

namespace {

const char* change_name(raft::conf_change_type t) {
  switch (t) {
    case raft::conf_change_type::add_learner: return "add-learner";
    case raft::conf_change_type::promote: return "promote";
    case raft::conf_change_type::remove: return "remove";
  }
  return "?";
}

std::string ids(const raft::membership& c, bool voters) {
  std::string out;
  for (const auto& m : c.members)
    if (m.voter == voters) out += (out.empty() ? "" : ",") + m.id;
  return "(" + out + ")";
}

template <class T>
std::string lines(const char* title, const std::vector<T>& items) {
  if (items.empty()) return "";
  std::string out = std::string(title) + ":\n";
  for (const auto& i : items) out += "  " + describe(i) + "\n";
  return out;
}

}  // namespace

std::string describe(const raft::entry& e) {
  std::string out = std::to_string(e.term) + "/" + std::to_string(e.index);
  if (e.type == raft::entry_type::normal) return out + " normal " + datadriven::quote(e.data);
  const auto ce = raft::decode_conf_entry(e.data);
  if (!ce) return out + " conf (undecodable) " + datadriven::quote(e.data);
  return out + " conf " + change_name(ce->change.type) + " " + ce->change.id;
}

std::string describe(const raft::membership& c) {
  std::string out = "voters=" + ids(c, true);
  const auto learners = ids(c, false);
  if (learners != "()") out += " learners=" + learners;
  return out;
}

std::string describe(const raft::snapshot_meta& s) {
  return "Index:" + std::to_string(s.index) + " Term:" + std::to_string(s.term) + " Handle:" +
         datadriven::quote(s.handle) + " " + describe(s.config);
}

std::string describe(const raft::message& m) {
  using raft::msg_type;
  const auto t = m.type;
  std::string out = m.from + "->" + m.to + " " + raft::to_string(t) + " Term:" + std::to_string(m.term);
  if (t == msg_type::append || t == msg_type::vote || t == msg_type::pre_vote)
    out += " Log:" + std::to_string(m.log_term) + "/" + std::to_string(m.index);
  if (t == msg_type::append_resp || t == msg_type::read_index_resp) out += " Index:" + std::to_string(m.index);
  if (t == msg_type::append || t == msg_type::heartbeat) out += " Commit:" + std::to_string(m.commit);
  if (m.reject) out += " Rejected";
  if (t == msg_type::append_resp && m.reject)
    out += " Hint:" + std::to_string(m.hint_term) + "/" + std::to_string(m.reject_hint);
  if (!m.context.empty()) out += " Context:" + datadriven::quote(m.context);
  if (m.snapshot) out += " Snapshot:[" + describe(*m.snapshot) + "]";
  if (!m.entries.empty()) {
    out += " Entries:[";
    for (std::size_t i = 0; i < m.entries.size(); ++i) out += (i ? ", " : "") + describe(m.entries[i]);
    out += "]";
  }
  return out;
}

std::string describe(const raft::read_state& r) {
  return "Index:" + std::to_string(r.index) + " Context:" + datadriven::quote(r.context);
}

std::string describe(const raft::ready& rd) {
  std::string out;
  if (rd.soft)
    out += "Soft Lead:" + (rd.soft->leader.empty() ? std::string("none") : rd.soft->leader) +
           " State:" + raft::to_string(rd.soft->state) + "\n";
  if (rd.hard) {
    out += "Hard Term:" + std::to_string(rd.hard->term);
    if (!rd.hard->vote.empty()) out += " Vote:" + rd.hard->vote;
    out += " Commit:" + std::to_string(rd.hard->commit) + "\n";
  }
  if (rd.snapshot) out += "Snapshot " + describe(*rd.snapshot) + "\n";
  out += lines("Entries", rd.entries);
  out += lines("Early messages", rd.early_messages);
  out += lines("Messages", rd.messages);
  out += lines("Committed", rd.committed);
  out += lines("Read states", rd.read_states);
  return out;
}

}  // namespace qc::test
