// The persistence contract of the ready batch (types.h), checked on every
// batch of a churny run of five cores through the in-memory network:
//   - early messages are only a leader's outputs (appends, heartbeats,
//     snapshots, timeout_now, read_index answers) and heartbeat answers
//     in a term already durable, never a promise;
//   - every message in `messages` promises only what the disk already holds
//     after stage 2 (a granted vote: that vote in that term; an append ack:
//     that entry; a vote request: the candidate's own vote);
//   - every committed entry handed out for apply is durable locally, in
//     order, gap-free, never handed out twice;
//   - the hard state's commit never points beyond the durable log.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <sstream>

#include "raft/network.h"

using namespace qc;
using qc::test::network;
using raft::msg_type;

namespace {

bool leader_output(msg_type t) {
  return t == msg_type::append || t == msg_type::heartbeat || t == msg_type::snapshot ||
         t == msg_type::timeout_now || t == msg_type::read_index_resp;
}

const raft::entry* on_disk(const qc::test::test_node& n, std::uint64_t index) {
  for (const auto& e : n.log)
    if (e.index == index) return &e;
  return nullptr;
}

/// Checks one batch against the contract; returns "" or what broke.
/// `durable_term`: the node's durable term before this batch.
std::string check_batch(const std::string& id, const raft::ready& rd, const qc::test::test_node& n,
                        std::uint64_t& last_applied, std::uint64_t durable_term) {
  std::ostringstream bad;
  for (const auto& m : rd.early_messages) {
    if (m.type == msg_type::heartbeat_resp) {
      if (m.term != durable_term)
        bad << id << " answered a heartbeat in term " << m.term << " before that term was durable (" << durable_term
            << "); ";
    } else if (!leader_output(m.type)) {
      bad << id << " sent " << raft::to_string(m.type) << " before persisting; ";
    }
  }
  for (const auto& m : rd.messages) {
    if (m.type == msg_type::vote_resp && !m.reject && !(n.hard.term == m.term && n.hard.vote == m.to))
      bad << id << " granted a vote to " << m.to << " in term " << m.term << " that is not durable; ";
    if (m.type == msg_type::vote && !(n.hard.term == m.term && n.hard.vote == id))
      bad << id << " asked for votes in term " << m.term << " without a durable self-vote; ";
    if (m.type == msg_type::append_resp && !m.reject && m.index > n.snap.index && !on_disk(n, m.index))
      bad << id << " acknowledged index " << m.index << " that is not durable; ";
  }
  for (const auto& e : rd.committed) {
    if (e.index != last_applied + 1 && e.index > n.snap.index)
      bad << id << " hands out index " << e.index << " for apply after " << last_applied << "; ";
    const auto* d = on_disk(n, e.index);
    if (e.index > n.snap.index && (!d || d->term != e.term || d->data != e.data))
      bad << id << " hands out index " << e.index << " for apply that is not durable; ";
    last_applied = e.index;
  }
  if (rd.snapshot) last_applied = std::max(last_applied, rd.snapshot->index);
  const std::uint64_t disk_last = n.log.empty() ? n.snap.index : n.log.back().index;
  if (n.hard.commit > disk_last) bad << id << " commit " << n.hard.commit << " beyond its durable log " << disk_last << "; ";
  return bad.str();
}

}  // namespace

TEST_CASE("ready contract: every batch of a churny run promises only what is durable") {
  network net(5);
  std::map<std::string, std::uint64_t> applied, durable_term;
  std::string broken;
  std::uint64_t batches = 0, promises = 0, applies = 0, early_heartbeat_answers = 0;
  net.on_persisted = [&](const std::string& id, const raft::ready& rd, const qc::test::test_node& n) {
    ++batches;
    promises += rd.messages.size();
    applies += rd.committed.size();
    for (const auto& m : rd.early_messages) early_heartbeat_answers += m.type == msg_type::heartbeat_resp;
    if (broken.empty()) broken = check_batch(id, rd, n, applied[id], durable_term[id]);
    durable_term[id] = n.hard.term;
  };
  // A fixed schedule of faults, driven by a small LCG (deterministic).
  std::uint64_t s = 12345;
  auto rnd = [&](std::uint64_t n) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (s >> 33) % n;
  };
  const std::vector<std::string> ids = {"n1", "n2", "n3", "n4", "n5"};
  std::set<std::string> down;
  int proposed = 0;
  for (int step = 0; step < 600 && broken.empty(); ++step) {
    const auto r = rnd(100);
    const auto& x = ids[rnd(ids.size())];
    if (r < 8) {
      net.recover();
      net.isolate(x);
    } else if (r < 12) {
      net.recover();
    } else if (r < 15 && !down.count(x) && down.size() < 2) {
      net.crash(x);  // loses nothing: the network persists each batch at once
      down.insert(x);
    } else if (r < 20 && !down.empty()) {
      const auto y = *down.begin();
      net.start(y, {});
      applied[y] = net.at(y).applied.empty() ? net.at(y).snap.index : net.at(y).applied.back().index;
      down.erase(y);
    } else if (r < 22) {
      const auto l = net.leader();
      if (!l.empty() && !down.count(x)) net.core(l).transfer_leadership(x);
    }
    const auto l = net.leader();
    if (!l.empty() && !net.core(l).propose("v" + std::to_string(proposed)).ec) ++proposed;
    for (auto& id : ids)
      if (!down.count(id)) net.core(id).tick();
    net.settle(3);
  }
  INFO(broken);
  CHECK(broken.empty());
  // The run did exercise the contract.
  CHECK(batches > 1000);
  CHECK(promises > 1000);
  CHECK(applies > 100);
  CHECK(early_heartbeat_answers > 100);
  MESSAGE(batches << " batches, " << promises << " promises, " << applies << " applies checked; " << proposed
                  << " proposals; " << early_heartbeat_answers << " heartbeat answers sent early");
}

TEST_CASE("ready contract: a committed entry is handed out for apply exactly once, after it is durable") {
  network net(3);
  net.elect("n1");
  std::map<std::string, int> batch, persisted_in, committed_in, handed_out;
  net.on_persisted = [&](const std::string& id, const raft::ready& rd, const qc::test::test_node&) {
    ++batch[id];
    for (auto& e : rd.entries)
      if (e.data == "x" && !persisted_in.count(id)) persisted_in[id] = batch[id];
    for (auto& e : rd.committed)
      if (e.data == "x") committed_in[id] = batch[id], ++handed_out[id];
  };
  REQUIRE(!net.core("n1").propose("x").ec);
  net.settle();
  net.tick(3);
  for (auto id : {"n1", "n2", "n3"}) {
    CAPTURE(std::string(id));
    CHECK(handed_out[id] == 1);
    REQUIRE(persisted_in.count(id));
    // stage 2 (durable) of a batch precedes its stage 4 (apply), so the same
    // batch may carry both on a follower; the leader counts its own copy only
    // after advance(), so it commits in a later batch
    CHECK(committed_in[id] >= persisted_in[id]);
  }
  CHECK(committed_in["n1"] > persisted_in["n1"]);
}

TEST_CASE("a batch that only moves the commit index needs nothing durable; a restart starts from what was applied") {
  // A single-member cluster commits its own entries: the batch after the
  // entry's persist moves only the commit index (and hands it out).
  raft::config c;
  c.id = "n1";
  c.seed = 7;
  raft::initial_state st;
  st.hard = {1, "", 0};
  st.snapshot.config = {{{"n1", "a1", true}}};
  raft::raft_node n(c, st);
  REQUIRE_FALSE(n.campaign());
  std::vector<raft::entry> disk;
  raft::hard_state durable = st.hard;
  std::uint64_t applied = 0;
  int commit_only = 0;
  auto drain = [&] {
    while (n.has_ready()) {
      auto rd = n.get_ready();
      if (rd.hard && !rd.must_persist()) {
        CHECK(rd.hard->term == durable.term);  // only the commit index moved
        CHECK(rd.hard->vote == durable.vote);
        CHECK_FALSE(rd.hard_must_sync);
        ++commit_only;
      }
      if (rd.must_persist()) {
        for (auto& e : rd.entries) disk.push_back(e);
        if (rd.hard) durable = *rd.hard;
      }
      for (auto& e : rd.committed) applied = e.index;
      n.advance(rd);
    }
  };
  drain();
  REQUIRE(n.state() == raft::role::leader);
  for (int i = 0; i < 3; ++i) {
    REQUIRE_FALSE(n.propose("x" + std::to_string(i)).ec);
    drain();
  }
  CHECK(commit_only >= 3);
  CHECK(applied == n.commit_index());
  CHECK(durable.commit < applied);  // the disk's commit index lags
  // Restart from the disk and the state machine: commit is what was applied.
  raft::initial_state again;
  again.hard = durable;
  again.snapshot.config = st.snapshot.config;
  again.entries = disk;
  again.applied = applied;
  raft::raft_node m(c, again);
  CHECK(m.commit_index() == applied);
}

TEST_CASE("ready batches share an entry's bytes: the disk's batch, each follower's append and the apply batch") {
  network net(3);
  net.elect("n1");
  const std::string bytes(1000, 'q');
  std::set<const char*> buffers;  // where the leader's batches hold those bytes
  int handed = 0;
  const auto see = [&](const raft::entry& e) {
    if (e.data != bytes) return;
    buffers.insert(e.data.data());
    ++handed;
  };
  net.on_persisted = [&](const std::string& id, const raft::ready& rd, const qc::test::test_node&) {
    if (id != "n1") return;
    for (const auto& e : rd.entries) see(e);
    for (const auto& e : rd.committed) see(e);
    for (const auto* ms : {&rd.early_messages, &rd.messages})
      for (const auto& m : *ms)
        for (const auto& e : m.entries) see(e);
  };
  REQUIRE(!net.core("n1").propose(bytes).ec);
  net.settle();
  net.tick(3);
  CHECK(handed >= 4);  // written, sent to n2 and n3, applied
  CHECK(buffers.size() == 1);
}
