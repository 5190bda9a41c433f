#include "raft/membership.h"

#include <algorithm>

namespace qc::raft {

namespace {
bool clean(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  return true;
}
/// Splits off the next space- or newline-terminated token.
bool next_token(std::string_view& in, char end, std::string_view& tok) {
  auto p = in.find(end);
  if (p == std::string_view::npos) return false;
  tok = in.substr(0, p);
  in.remove_prefix(p + 1);
  return true;
}
}  // namespace

std::string encode_conf_entry(const conf_entry& e) {
  // "conf1 <type> <id> <address|->\n" then "<id> <address> <0|1>\n" per member.
  std::string out = "conf1 " + std::to_string(static_cast<int>(e.change.type)) + ' ' +
                    (e.change.id.empty() ? "-" : e.change.id) + ' ' +
                    (e.change.address.empty() ? "-" : e.change.address) + '\n';
  for (const auto& m : e.after.members) out += m.id + ' ' + m.address + ' ' + (m.voter ? '1' : '0') + '\n';
  return out;
}

std::optional<conf_entry> decode_conf_entry(std::string_view data) {
  conf_entry e;
  std::string_view tok, type, id, addr;
  if (!next_token(data, ' ', tok) || tok != "conf1") return std::nullopt;
  if (!next_token(data, ' ', type) || !next_token(data, ' ', id) || !next_token(data, '\n', addr)) return std::nullopt;
  if (type != "0" && type != "1" && type != "2") return std::nullopt;
  e.change.type = static_cast<conf_change_type>(type[0] - '0');
  if (id != "-") e.change.id = std::string(id);
  if (addr != "-") e.change.address = std::string(addr);
  while (!data.empty()) {
    std::string_view mid, maddr, voter;
    if (!next_token(data, ' ', mid) || !next_token(data, ' ', maddr) || !next_token(data, '\n', voter)) return std::nullopt;
    if (!clean(mid) || !clean(maddr) || (voter != "0" && voter != "1")) return std::nullopt;
    e.after.members.push_back({std::string(mid), std::string(maddr), voter == "1"});
  }
  for (std::size_t i = 1; i < e.after.members.size(); ++i)
    if (!(e.after.members[i - 1].id < e.after.members[i].id)) return std::nullopt;
  return e;
}

const member* find_member(const membership& m, std::string_view id) {
  for (const auto& mb : m.members)
    if (mb.id == id) return &mb;
  return nullptr;
}

bool is_voter(const membership& m, std::string_view id) {
  const member* mb = find_member(m, id);
  return mb && mb->voter;
}

std::size_t voter_count(const membership& m) {
  return static_cast<std::size_t>(std::count_if(m.members.begin(), m.members.end(), [](auto& x) { return x.voter; }));
}

membership newest_config(const snapshot_meta& snap, const std::vector<entry>& entries) {
  membership m = snap.config;
  for (const auto& e : entries)
    if (e.type == entry_type::conf_change)
      if (auto ce = decode_conf_entry(e.data)) m = ce->after;
  return m;
}

std::optional<membership> apply_conf_change(const membership& cur, const conf_change& cc) {
  if (!clean(cc.id)) return std::nullopt;
  membership next = cur;
  auto it = std::find_if(next.members.begin(), next.members.end(), [&](auto& m) { return m.id == cc.id; });
  switch (cc.type) {
    case conf_change_type::add_learner:
      if (it != next.members.end() || !clean(cc.address)) return std::nullopt;
      for (const auto& m : next.members)
        if (m.address == cc.address) return std::nullopt;
      next.members.push_back({cc.id, cc.address, false});
      break;
    case conf_change_type::promote:
      if (it == next.members.end() || it->voter) return std::nullopt;
      it->voter = true;
      break;
    case conf_change_type::remove:
      if (it == next.members.end()) return std::nullopt;
      next.members.erase(it);
      if (voter_count(next) == 0) return std::nullopt;  // never remove the last voter
      break;
  }
  std::sort(next.members.begin(), next.members.end(), [](auto& a, auto& b) { return a.id < b.id; });
  return next;
}

}  // namespace qc::raft
