// The interaction environment of the transcripts (interaction_env.h).
#include "raft/interaction_env.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "raft/describe.h"

namespace qc::test {

using datadriven::directive;

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::runtime_error(what); }

/// The argument `key=...`, or nullptr.
const datadriven::cmd_arg* find_arg(const directive& d, std::string_view key) {
  for (const auto& a : d.args)
    if (a.assigned && a.key == key) return &a;
  return nullptr;
}

/// The bare words after the command.
std::vector<std::string> positional(const directive& d) {
  std::vector<std::string> out;
  for (const auto& a : d.args)
    if (!a.assigned) out.push_back(a.key);
  return out;
}

std::uint64_t to_u64(std::string_view s) {
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) bad("not a number: " + std::string(s));
  return v;
}

/// "n3" or "3" -> "n3".
std::string node_name(std::string_view s) {
  if (!s.empty() && s.front() != 'n') return "n" + std::to_string(to_u64(s));
  to_u64(s.substr(1));
  return std::string(s);
}

std::string one(const directive& d, std::string_view key) {
  const auto* a = find_arg(d, key);
  if (!a) bad(d.cmd + ": missing " + std::string(key) + "=");
  if (a->vals.size() != 1) bad(d.cmd + ": " + std::string(key) + "= takes one value");
  return a->vals[0];
}

std::uint64_t num(const directive& d, std::string_view key, std::uint64_t dflt) {
  return find_arg(d, key) ? to_u64(one(d, key)) : dflt;
}

bool flag(const directive& d, std::string_view key, bool dflt) {
  if (!find_arg(d, key)) return dflt;
  const auto v = one(d, key);
  if (v != "true" && v != "false") bad(std::string(key) + "= takes true or false");
  return v == "true";
}

/// "term/index" -> {term, index}.
std::pair<std::uint64_t, std::uint64_t> term_index(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) bad("expected term/index: " + std::string(s));
  return {to_u64(s.substr(0, slash)), to_u64(s.substr(slash + 1))};
}

raft::msg_type msg_type_named(std::string_view name) {
  for (int t = 0; t <= static_cast<int>(raft::msg_type::read_index_resp); ++t)
    if (name == raft::to_string(static_cast<raft::msg_type>(t))) return static_cast<raft::msg_type>(t);
  bad("unknown message type " + std::string(name));
}

/// Sets the planted bugs named in `names` (comma-separated or a list).
void plant(raft::config::planted_bugs& b, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (n.empty()) continue;
    if (n == "commit_by_counting") b.commit_by_counting = true;
    else if (n == "early_messages_before_durable") b.early_messages_before_durable = true;
    else if (n == "read_acks_by_context") b.read_acks_by_context = true;
    else if (n == "read_joins_sent_round") b.read_joins_sent_round = true;
    else if (n == "removed_leader_serves") b.removed_leader_serves = true;
    else if (n == "snapshot_ack_last_index") b.snapshot_ack_last_index = true;
    else if (n == "requester_vouches_alone") b.requester_vouches_alone = true;
    else if (n == "learners_never_campaign") b.learners_never_campaign = true;
    else bad("unknown planted bug " + n);
  }
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto c = std::min(s.find(',', start), s.size());
    out.push_back(s.substr(start, c - start));
    start = c + 1;
  }
  return out;
}

/// Calls `f` with each line of `text`, its newline included.
template <class F>
void for_each_line(const std::string& text, F f) {
  for (std::size_t start = 0; start < text.size();) {
    const auto nl = text.find('\n', start);
    const auto end = nl == std::string::npos ? text.size() : nl + 1;
    f(text.substr(start, end - start));
    start = end;
  }
}

std::string indent(const std::string& text) {
  std::string out;
  for_each_line(text, [&](const std::string& line) { out += "  " + line; });
  return out;
}

/// A member id as written in a change: "4" -> "n4"; anything else as is
/// (malformed ids are the point of some transcripts).
std::string member_id(const std::string& s) {
  const bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
  return digits ? "n" + s : s;
}

std::string result(std::error_code ec) { return ec ? "error: " + ec.message() + "\n" : ""; }

std::string result(const raft::proposal& p) {
  if (!p.ec) return "";
  std::string out = "error: " + p.ec.message();
  if (p.ec == raft::errc::not_leader) out += p.leader.empty() ? " (no leader known)" : " (leader " + p.leader + ")";
  return out + "\n";
}

std::string or_ok(std::string s) { return s.empty() ? "ok\n" : s; }

}  // namespace

interaction_env::interaction_env(std::string forced_planted) : forced_planted_(std::move(forced_planted)) {}
interaction_env::~interaction_env() = default;

interaction_env::node& interaction_env::at(const std::string& id) {
  const auto n = to_u64(node_name(id).substr(1));
  if (n == 0 || n > nodes_.size()) bad("no node " + id);
  return nodes_[n - 1];
}

raft::raft_node& interaction_env::core(const std::string& id) {
  auto& n = at(id);
  if (!n.core) bad(id + " is down");
  return *n.core;
}

std::vector<std::string> interaction_env::ids() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) out.push_back(n.cfg.id);
  return out;
}

interaction_env::view interaction_env::view_of(const std::string& id) {
  const auto& n = at(id);
  if (!n.core) return {};
  return {n.core->state(), n.core->term(), n.core->leader(), true};
}

std::map<std::string, interaction_env::view> interaction_env::views() {
  std::map<std::string, view> out;
  for (const auto& id : ids()) out[id] = view_of(id);
  return out;
}

std::string interaction_env::changes(const std::map<std::string, view>& before) {
  std::string out;
  for (const auto& [id, v0] : before) {
    const auto v1 = view_of(id);
    if (!v0.up || !v1.up) continue;
    if (v0.state != v1.state || v0.term != v1.term) {
      out += id + " became " + raft::to_string(v1.state) + " at term " + std::to_string(v1.term);
      if (!v1.leader.empty() && v1.leader != id) out += ", following " + v1.leader;
      out += "\n";
    } else if (v0.leader != v1.leader) {
      out += v1.leader.empty() ? id + " knows no leader\n" : id + " follows " + v1.leader + "\n";
    }
  }
  return out;
}

std::string interaction_env::check_leaders() {
  std::string out;
  for (const auto& n : nodes_) {
    if (!n.core || n.core->state() != raft::role::leader) continue;
    const auto [it, fresh] = leader_of_term_.emplace(std::pair{n.cluster, n.core->term()}, n.cfg.id);
    if (fresh || it->second == n.cfg.id) continue;
    const auto line = "SAFETY VIOLATION: " + n.cfg.id + " and " + it->second + " both lead term " +
                      std::to_string(n.core->term()) + "\n";
    if (reported_.insert(line).second) out += line;
  }
  return out;
}

std::string interaction_env::summary(const std::string& id) {
  const auto& n = at(id);
  if (!n.core) return id + " down\n";
  const auto& c = *n.core;
  std::string out = id + " " + raft::to_string(c.state()) + " Term:" + std::to_string(c.term());
  if (!c.vote().empty()) out += " Vote:" + c.vote();
  out += " Lead:" + (c.leader().empty() ? std::string("none") : c.leader());
  out += " Commit:" + std::to_string(c.commit_index()) + " Applied:" + std::to_string(c.applied_index());
  out += " Last:" + std::to_string(c.last_index());
  if (c.snapshot_index() > 0)
    out += " Snapshot:" + std::to_string(*c.term_at(c.snapshot_index())) + "/" + std::to_string(c.snapshot_index());
  out += " " + describe(c.config());
  if (c.state() == raft::role::leader && c.conf_change_pending()) out += " (change pending)";
  return out + "\n";
}

std::string interaction_env::handle(const directive& given) {
  // A bare `silent` prints only "ok" (and safety violations): for set-up steps.
  directive d = given;
  const bool silent = std::erase_if(d.args, [](auto& a) { return !a.assigned && a.key == "silent"; }) > 0;
  const auto args = positional(d);
  auto arg = [&](std::size_t i) -> std::string {
    if (i >= args.size()) bad(d.cmd + ": missing argument " + std::to_string(i + 1));
    return args[i];
  };
  auto id = [&](std::size_t i) { return node_name(arg(i)); };
  auto count = [&](std::size_t i) { return args.size() > i ? to_u64(args[i]) : 1; };
  const auto before = views();
  std::string out;
  const auto& c = d.cmd;
  if (c == "add-nodes") {
    out = add_nodes(d);
  } else if (c == "campaign") {
    out = result(core(id(0)).campaign());
  } else if (c == "propose") {
    // propose <id> <data> [n=K]: K proposals <data>1 .. <data>K
    const auto k = num(d, "n", 0);
    for (std::uint64_t i = 0; i < std::max<std::uint64_t>(k, 1) && out.empty(); ++i) {
      const auto p = core(id(0)).propose(k ? arg(1) + std::to_string(i + 1) : arg(1));
      out = result(p);
      if (!p.ec && (k == 0 || i + 1 == k))
        out = "ok: " + (k > 1 ? "last " : std::string()) + describe(*core(id(0)).entry_at(p.index)) + "\n";
    }
  } else if (c == "propose-conf-change") {
    const auto& kind = arg(1);
    raft::conf_change cc{raft::conf_change_type::add_learner, member_id(args.size() > 2 ? args[2] : ""), ""};
    if (kind == "add-learner") cc.address = "addr-" + cc.id;
    else if (kind == "promote") cc.type = raft::conf_change_type::promote;
    else if (kind == "remove") cc.type = raft::conf_change_type::remove;
    else bad("propose-conf-change: add-learner, promote or remove, not " + kind);
    const auto p = core(id(0)).propose_conf_change(cc);
    out = p.ec ? result(p) : "ok: " + describe(*core(id(0)).entry_at(p.index)) + "\n";
  } else if (c == "read-index") {
    out = result(core(id(0)).read_index(arg(1)));
  } else if (c == "transfer-leadership") {
    out = result(core(id(0)).transfer_leadership(id(1)));
  } else if (c == "compact") {
    const auto index = to_u64(arg(1));
    const auto h = find_arg(d, "handle") ? one(d, "handle") : "snap-" + std::to_string(index);
    out = result(core(id(0)).compact(index, h));
    if (out.empty()) {
      // The application's snapshot is durable: the disk drops the log prefix too.
      auto& n = at(id(0));
      n.snap = n.core->snapshot();
      std::erase_if(n.log, [&](const raft::entry& e) { return e.index <= index; });
    }
  } else if (c == "tick-election" || c == "tick-heartbeat") {
    for (std::uint64_t i = 0; i < count(1); ++i)
      c == "tick-election" ? core(id(0)).tick_election() : core(id(0)).tick_heartbeat();
  } else if (c == "deliver-msgs") {
    out = deliver(d);
  } else if (c == "step") {
    out = step(d);
  } else if (c == "process-ready") {
    for (std::size_t i = 0; i < std::max<std::size_t>(args.size(), 1); ++i) {
      auto text = get_ready(id(i));
      if (at(id(i)).in_flight) text += finish_ready(id(i));
      out += args.size() > 1 ? "> " + id(i) + " handling ready\n" + indent(text) : text;
    }
  } else if (c == "get-ready") {
    out = get_ready(id(0));
  } else if (c == "finish-ready") {
    if (!at(id(0)).in_flight) bad(id(0) + " has no batch in flight");
    out = finish_ready(id(0));
  } else if (c == "take-early") {
    auto ms = core(id(0)).take_early_messages();
    for (const auto& m : ms) out += describe(m) + "\n";
    wire_.insert(wire_.end(), ms.begin(), ms.end());
    if (out.empty()) out = "no messages\n";
  } else if (c == "stabilize") {
    out = stabilize(d);
  } else if (c == "status") {
    out = status(id(0));
  } else if (c == "log") {
    out = log(id(0));
  } else if (c == "applied") {
    for (const auto& line : at(id(0)).applied_log) out += line + "\n";
    if (out.empty()) out = "nothing applied\n";
  } else if (c == "isolate") {
    for (const auto& other : ids())
      if (other != id(0)) cuts_.insert({id(0), other}), cuts_.insert({other, id(0)});
  } else if (c == "cut") {
    cuts_.insert({id(0), id(1)});
    if (args.size() < 3 || args[2] != "one-way") cuts_.insert({id(1), id(0)});
  } else if (c == "heal") {
    cuts_.clear();
  } else if (c == "crash") {
    out = crash(id(0));
  } else if (c == "restart") {
    if (at(id(0)).core) bad(id(0) + " is up: crash it first");
    apply_disk(at(id(0)), d);  // restart <id> [term= ...]: edits the disk first
    out = restart(id(0));
  } else {
    bad("unknown command " + c);
  }
  // Commands that step messages or finish batches print changes inline.
  static const std::set<std::string> inline_changes = {"add-nodes", "crash", "restart", "deliver-msgs", "step",
                                                      "stabilize", "process-ready", "finish-ready"};
  if (!inline_changes.count(c)) out += changes(before);
  out += check_leaders();
  if (silent) {
    std::string kept;
    for_each_line(out, [&](const std::string& line) {
      if (line.find("SAFETY VIOLATION:") != std::string::npos) kept += line;
    });
    out = kept;
  }
  return or_ok(out);
}

std::string interaction_env::add_nodes(const directive& d) {
  const auto n = to_u64(positional(d).empty() ? "" : positional(d)[0]);
  const auto first = nodes_.size() + 1;
  raft::membership conf;
  const auto* voters = find_arg(d, "voters");
  const auto* learners = find_arg(d, "learners");
  auto add_members = [&](const datadriven::cmd_arg* a, bool voter) {
    if (a)
      for (const auto& v : a->vals) conf.members.push_back({node_name(v), "addr-" + node_name(v), voter});
  };
  add_members(voters, true);
  add_members(learners, false);
  if (!voters && !learners)
    for (std::size_t i = first; i < first + n; ++i) conf.members.push_back({"n" + std::to_string(i), "addr-n" + std::to_string(i), true});
  std::sort(conf.members.begin(), conf.members.end(), [](auto& a, auto& b) { return a.id < b.id; });
  std::size_t cluster = nodes_.empty() ? 0 : nodes_.back().cluster + (conf.members.empty() ? 0 : 1);
  for (const auto& m : conf.members)
    if (to_u64(m.id.substr(1)) < first) cluster = at(m.id).cluster;
  std::string out;
  for (std::size_t i = first; i < first + n; ++i) {
    node nd;
    auto& cfg = nd.cfg;
    cfg.id = "n" + std::to_string(i);
    cfg.election_ticks = static_cast<int>(num(d, "election", 10));
    cfg.heartbeat_ticks = static_cast<int>(num(d, "heartbeat", 1));
    cfg.max_entries_per_msg = num(d, "max-entries", cfg.max_entries_per_msg);
    cfg.max_inflight = num(d, "max-inflight", cfg.max_inflight);
    cfg.max_election_backoff = static_cast<int>(num(d, "max-backoff", static_cast<std::uint64_t>(cfg.max_election_backoff)));
    cfg.pre_vote = flag(d, "pre-vote", true);
    cfg.check_quorum = flag(d, "check-quorum", true);
    cfg.seed = num(d, "seed", 0) + i;
    cfg.check_invariants = true;
    if (const auto* p = find_arg(d, "planted")) plant(cfg.testing_bugs, p->vals);
    plant(cfg.testing_bugs, split_commas(forced_planted_));
    nd.snap.config = conf;
    nd.cluster = cluster;
    apply_disk(nd, d);  // term=, log=, ... apply to every new node
    const auto id = cfg.id;
    nodes_.push_back(std::move(nd));
    out += restart(id);
  }
  return out;
}

void interaction_env::apply_disk(node& n, const directive& d) {
  if (const auto* s = find_arg(d, "snapshot")) {
    if (s->vals.size() != 1) bad("snapshot= takes term/index");
    const auto [term, index] = term_index(s->vals[0]);
    n.snap.index = index;
    n.snap.term = term;
    n.snap.handle = "snap-" + std::to_string(index);
    n.applied = std::max(n.applied, index);
  }
  if (const auto* l = find_arg(d, "log")) {
    // log=(t1, t2, ...): the entries after the snapshot, by term
    n.log.clear();
    for (const auto& v : l->vals) n.log.push_back({to_u64(v), n.snap.index + n.log.size() + 1, raft::entry_type::normal, ""});
  }
  n.hard.term = num(d, "term", n.hard.term);
  if (find_arg(d, "vote")) n.hard.vote = one(d, "vote").empty() ? "" : node_name(one(d, "vote"));
  n.hard.commit = num(d, "commit", n.hard.commit);
  n.applied = num(d, "applied", n.applied);
}

std::string interaction_env::crash(const std::string& id) {
  auto& n = at(id);
  if (!n.core) bad(id + " is already down");
  n.core.reset();
  std::string out = id + " crashed\n";
  if (n.in_flight) out += "the batch it was persisting is lost\n";
  // What was on its way to it is lost with the process.
  const auto lost = std::erase_if(wire_, [&](const raft::message& m) { return m.to == id; });
  if (lost > 0) out += std::to_string(lost) + " message(s) on their way to it are lost\n";
  n.in_flight.reset();
  return out;
}

std::string interaction_env::restart(const std::string& id) {
  auto& n = at(id);
  if (n.core) bad(id + " is up: crash it first");
  // What the core would abort on (raft.h: the node validates its data first).
  const auto last = n.log.empty() ? n.snap.index : n.log.back().index;
  const auto last_term = n.log.empty() ? n.snap.term : n.log.back().term;
  if (std::max(n.hard.commit, n.snap.index) > last || n.applied > std::max(n.hard.commit, n.snap.index) ||
      last_term > n.hard.term)
    bad(id + "'s disk is inconsistent: commit beyond the log, applied beyond commit, or a term above its own");
  raft::initial_state st{n.hard, n.snap, n.log, n.applied};
  n.core = std::make_unique<raft::raft_node>(n.cfg, st);
  return summary(id);
}

std::string interaction_env::status(const std::string& id) {
  std::string out = summary(id);
  auto& n = at(id);
  if (!n.core) return out;
  out += "  ElectionTimeout:" + std::to_string(n.core->election_timeout()) + "\n";
  for (const auto& p : n.core->progress()) {
    out += "  " + p.id + (p.voter ? " voter" : " learner") + " Match:" + std::to_string(p.match);
    // The leader's own entry: only its durable index means anything.
    if (p.id == id) out += " (leader)\n";
    else out += " Next:" + std::to_string(p.next) + " " + raft::to_string(p.state) + (p.recent_active ? " active\n" : "\n");
  }
  return out;
}

std::string interaction_env::log(const std::string& id) {
  const auto& c = core(id);
  std::string out;
  if (c.snapshot_index() > 0) out += "Snapshot " + describe(c.snapshot()) + "\n";
  for (auto i = c.first_index(); i <= c.last_index(); ++i) out += describe(*c.entry_at(i)) + "\n";
  return out.empty() ? "empty\n" : out;
}

std::string interaction_env::get_ready(const std::string& id) {
  auto& n = at(id);
  auto& c = core(id);
  if (n.in_flight) bad(id + " has a batch in flight: finish-ready first");
  if (!c.has_ready()) return "no ready\n";
  n.in_flight = c.get_ready();
  wire_.insert(wire_.end(), n.in_flight->early_messages.begin(), n.in_flight->early_messages.end());
  return describe(*n.in_flight);
}

std::string interaction_env::finish_ready(const std::string& id) {
  const auto before = views();
  auto& n = at(id);
  const raft::ready rd = std::move(*n.in_flight);
  n.in_flight.reset();
  // Stage 2: snapshot, entries and hard state durable together.
  if (rd.snapshot) {
    n.snap = *rd.snapshot;
    n.log.clear();
    n.applied = std::max(n.applied, rd.snapshot->index);
    n.applied_log.push_back("snapshot " + describe(*rd.snapshot));
  }
  for (const auto& e : rd.entries) {
    std::erase_if(n.log, [&](const raft::entry& x) { return x.index >= e.index; });
    n.log.push_back(e);
  }
  if (rd.hard) n.hard = *rd.hard;
  // Stage 3: the messages that promise what is now durable.
  wire_.insert(wire_.end(), rd.messages.begin(), rd.messages.end());
  // Stage 4: apply, checking State Machine Safety across nodes.
  std::string out;
  for (const auto& e : rd.committed) {
    n.applied = e.index;
    n.applied_log.push_back(describe(e));
    const auto [it, fresh] = applied_at_.emplace(std::pair{n.cluster, e.index}, std::pair{id, e});
    if (fresh || it->second.second == e) continue;
    const auto line = "SAFETY VIOLATION: " + id + " applied " + describe(e) + " at index " + std::to_string(e.index) +
                      ", " + it->second.first + " applied " + describe(it->second.second) + "\n";
    if (reported_.insert(line).second) out += line;
  }
  n.core->advance(rd);
  return out + changes(before);
}

std::string interaction_env::deliver_to(const std::string& to, bool drop, const std::string& type,
                                        const std::string& from) {
  std::vector<raft::message> mine;
  std::erase_if(wire_, [&](const raft::message& m) {
    const bool match = m.to == to && (type.empty() || type == raft::to_string(m.type)) && (from.empty() || m.from == from);
    if (match) mine.push_back(m);
    return match;
  });
  std::string out;
  for (const auto& m : mine) {
    if (drop) {
      out += "dropped: " + describe(m) + "\n";
      continue;
    }
    if (cuts_.count({m.from, m.to})) {
      out += "dropped (cut): " + describe(m) + "\n";
      continue;
    }
    if (!at(to).core) {
      out += "dropped (down): " + describe(m) + "\n";
      continue;
    }
    const auto before = views();
    const auto ec = at(to).core->step(m);
    out += describe(m) + "\n" + indent(result(ec) + changes(before));
  }
  return out;
}

std::string interaction_env::deliver(const directive& d) {
  const std::string type = find_arg(d, "type") ? one(d, "type") : "";
  const std::string from = find_arg(d, "from") ? node_name(one(d, "from")) : "";
  if (!type.empty()) msg_type_named(type);
  std::vector<std::string> to;
  for (const auto& p : positional(d)) to.push_back(node_name(p));
  std::vector<std::string> drop;
  if (const auto* a = find_arg(d, "drop"))
    for (const auto& v : a->vals) drop.push_back(node_name(v));
  if (to.empty() && drop.empty()) to = ids();
  std::string out;
  for (const auto& t : to) out += deliver_to(t, false, type, from);
  for (const auto& t : drop) out += deliver_to(t, true, type, from);
  return out.empty() ? "no messages\n" : out;
}

std::string interaction_env::step(const directive& d) {
  // step <id> <type> from=<id> [term=] [log=term/index] [index=] [commit=]
  //      [entries=(term/index, ...)] [context=] [reject] [snapshot=term/index]
  const auto pos = positional(d);
  if (pos.size() < 2) bad("step <id> <type> from=<id> ...");
  raft::message m;
  m.to = node_name(pos[0]);
  m.type = msg_type_named(pos[1]);
  m.from = node_name(one(d, "from"));
  m.term = num(d, "term", core(m.to).term());
  if (find_arg(d, "log")) std::tie(m.log_term, m.index) = term_index(one(d, "log"));
  m.index = num(d, "index", m.index);
  m.commit = num(d, "commit", 0);
  m.reject = std::find(pos.begin(), pos.end(), "reject") != pos.end();
  if (find_arg(d, "context")) m.context = one(d, "context");
  if (const auto* e = find_arg(d, "entries"))
    for (const auto& v : e->vals) {
      const auto [t, i] = term_index(v);
      m.entries.push_back({t, i, raft::entry_type::normal, ""});
    }
  if (find_arg(d, "snapshot")) {
    const auto [t, i] = term_index(one(d, "snapshot"));
    m.snapshot = raft::snapshot_meta{i, t, core(m.to).config(), "snap-" + std::to_string(i)};
  }
  const auto before = views();
  const auto ec = core(m.to).step(m);
  return describe(m) + "\n" + indent(result(ec) + changes(before));
}

std::string interaction_env::stabilize(const directive& d) {
  std::vector<std::string> set;
  for (const auto& p : positional(d)) set.push_back(node_name(p));
  if (set.empty()) set = ids();
  std::string out;
  for (int round = 0;; ++round) {
    if (round == 1000) bad("stabilize: still busy after 1000 rounds; the last output:\n" + out.substr(out.size() - std::min<std::size_t>(out.size(), 3000)));
    bool busy = false;
    for (const auto& id : set) {
      auto& n = at(id);
      if (!n.core || n.in_flight || !n.core->has_ready()) continue;
      busy = true;
      auto text = get_ready(id);
      text += finish_ready(id);
      out += "> " + id + " handling ready\n" + indent(text);
    }
    for (const auto& id : set) {
      if (std::none_of(wire_.begin(), wire_.end(), [&](auto& m) { return m.to == id; })) continue;
      busy = true;
      out += "> " + id + " receiving messages\n" + indent(deliver_to(id, false, "", ""));
    }
    if (!busy) return out.empty() ? "quiet\n" : out;
  }
}

}  // namespace qc::test
