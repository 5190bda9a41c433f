// Runs the deterministic simulation over many seeds.
//   QC_SIM_SEED=n        run only seed n, with a step trace
//   QC_SIM_SEEDS=n       number of seeds (default 2000)
//   QC_SIM_SEED_BASE=n   first seed (default 1)
//   QC_SIM_CHURN_SEEDS=n seeds of the Figure-8 churn mode run (default 300)
//   QC_SIM_TEETH_SEEDS=n bound for the commit-by-counting teeth test (default 500)
//   QC_SIM_TEETH_ALL=1   teeth test: run all of them and count the seeds that catch it
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "sim/sim.h"

namespace {
std::uint64_t env_u64(const char* name, std::uint64_t dflt) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : dflt;
}

/// The cluster shape of seed `s`: voters and founding learners. Most seeds
/// run 3 or 5 voters; one in four runs 1 or 2 voters with learners, where a
/// single vote is a quorum and a leader may be the only voter.
void shape(qc::sim::sim_options& o, std::uint64_t s) {
  static constexpr int voters[8] = {3, 5, 3, 1, 5, 3, 2, 5};
  static constexpr int learners[8] = {0, 0, 1, 2, 0, 0, 1, 1};
  o.nodes = voters[s % 8];
  o.learners = learners[s % 8];
}
}  // namespace

TEST_CASE("simulation: Raft invariants hold over many seeds, and the cluster recovers") {
  const auto t0 = std::chrono::steady_clock::now();
  if (const char* one = std::getenv("QC_SIM_SEED")) {
    qc::sim::sim_options o;
    o.seed = std::strtoull(one, nullptr, 10);
    shape(o, o.seed);
    o.trace = true;
    auto r = qc::sim::run_simulation(o);
    INFO(r.failure);
    CHECK(r.ok);
    return;
  }
  const auto seeds = env_u64("QC_SIM_SEEDS", 2000);
  const auto base = env_u64("QC_SIM_SEED_BASE", 1);
  std::uint64_t committed = 0, elections = 0, reads = 0, crashes = 0, confs = 0, snaps = 0;
  std::uint64_t failed_streams = 0, late_streams = 0, wipes = 0, refused = 0, unacked = 0, reinstalled = 0;
  for (std::uint64_t s = base; s < base + seeds; ++s) {
    qc::sim::sim_options o;
    o.seed = s;
    shape(o, s);
    auto r = qc::sim::run_simulation(o);
    if (!r.ok) {
      FAIL_CHECK(r.failure << "\n  replay: QC_SIM_SEED=" << s << " build/sim_tests");
      break;
    }
    failed_streams += r.snapshots_failed;
    late_streams += r.snapshots_late;
    wipes += r.wipes;
    refused += r.refused;
    committed += r.committed;
    elections += r.elections;
    reads += r.reads;
    crashes += r.crashes;
    confs += r.conf_changes;
    snaps += r.snapshots_sent;
    unacked += r.crashed_unacked;
    reinstalled += r.reinstalled;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE(seeds << " seeds in " << secs << " s: " << committed << " entries committed, " << elections
                << " elections, " << reads << " reads checked, " << crashes << " crashes, " << confs
                << " membership changes, " << snaps << " snapshots sent (" << late_streams << " late, "
                << failed_streams << " streams failed), " << wipes << " disks lost (" << refused
                << " refused by a peer), " << unacked << " crashes between a batch's write and its ack, "
                << reinstalled << " recorded snapshots reinstalled at restart");
}

TEST_CASE("simulation, Figure-8 churn mode: invariants hold with leader-aimed faults") {
  const auto t0 = std::chrono::steady_clock::now();
  const auto seeds = env_u64("QC_SIM_CHURN_SEEDS", 300);
  std::uint64_t committed = 0, elections = 0, crashes = 0;
  for (std::uint64_t s = 1; s <= seeds; ++s) {
    qc::sim::sim_options o;
    o.seed = s;
    o.nodes = s % 2 ? 3 : 5;
    o.figure8_churn = true;
    auto r = qc::sim::run_simulation(o);
    if (!r.ok) {
      FAIL_CHECK(r.failure << "\n  (Figure-8 churn mode, nodes " << o.nodes << ")");
      break;
    }
    committed += r.committed;
    elections += r.elections;
    crashes += r.crashes;
  }
  MESSAGE(seeds << " churn seeds in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                << " s: " << committed << " entries committed, " << elections << " elections, " << crashes
                << " crashes");
}

TEST_CASE("simulation has teeth: forgetting the vote on disk breaks election safety") {
  int caught_at = 0;
  for (std::uint64_t s = 1; s <= 400 && !caught_at; ++s) {
    qc::sim::sim_options o;
    o.seed = s;
    o.nodes = 3;
    o.bug_forget_vote = true;
    o.membership = false;
    auto r = qc::sim::run_simulation(o);
    if (!r.ok && r.failure.find("election safety") != std::string::npos) {
      caught_at = static_cast<int>(s);
      MESSAGE("injected bug caught by seed " << s << ": " << r.failure);
    }
  }
  CHECK(caught_at > 0);
}

TEST_CASE("simulation has teeth: committing an old-term entry by counting loses a committed entry") {
  // Figure-8 churn mode (one entry per append, several times the default
  // fault rate), three nodes, no membership changes or snapshots: the
  // schedules of the Raft paper's Figure 8 become common. The limit is small
  // on purpose: if a harness change makes the bug hard to find again, this
  // fails instead of silently taking minutes. (About 1 seed in 55 catches
  // it: 28 of 1,500 before heartbeat answers left early, 27 after, when the
  // first catch moved from seed 16 to 257; hence 500, not 200.)
  const auto t0 = std::chrono::steady_clock::now();
  const auto limit = env_u64("QC_SIM_TEETH_SEEDS", 500);
  std::uint64_t caught_at = 0, caught = 0;
  const bool all = std::getenv("QC_SIM_TEETH_ALL") != nullptr;  // experiment: count every seed that catches it
  for (std::uint64_t s = 1; s <= limit && (all || !caught_at); ++s) {
    qc::sim::sim_options o;
    o.seed = s;
    o.nodes = 3;
    o.membership = false;
    o.snapshots = false;
    o.figure8_churn = true;
    o.core_bugs.commit_by_counting = true;
    o.trace = std::getenv("QC_SIM_TRACE") != nullptr;
    auto r = qc::sim::run_simulation(o);
    if (!r.ok) {
      const bool safety = r.failure.find("liveness") == std::string::npos;
      if (safety) ++caught;
      if (safety && !caught_at) caught_at = s;
      if (all || safety)
        MESSAGE("seed " << s << " after "
                        << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                        << " s: " << r.failure);
    }
  }
  if (all) MESSAGE(caught << " of " << limit << " seeds caught it");
  CHECK(caught_at > 0);
}

namespace {
/// Runs seeds [1, limit] with `plant` applied to each seed's options until
/// one fails with a message containing `expect`; returns that seed (0 if
/// none did). Failures of other kinds are reported too: a planted bug may
/// show up as more than one broken invariant.
std::uint64_t first_catch(const char* what, std::uint64_t limit, const std::function<void(qc::sim::sim_options&)>& plant,
                          const std::vector<std::string>& expect, std::uint64_t from = 1) {
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t s = from; s <= limit; ++s) {
    qc::sim::sim_options o;
    o.seed = s;
    shape(o, s);
    plant(o);
    auto r = qc::sim::run_simulation(o);
    if (r.ok) continue;
    for (const auto& e : expect)
      if (r.failure.find(e) != std::string::npos) {
        MESSAGE(std::string(what) << ": caught by seed " << s << " after "
                     << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s: " << r.failure);
        return s;
      }
    MESSAGE(std::string(what) << ": seed " << s << " failed otherwise: " << r.failure);
  }
  return 0;
}
}  // namespace

TEST_CASE("simulation has teeth: a leader's appends before its new term is durable") {
  CHECK(first_catch("early messages before the term is durable", 200,
                    [](auto& o) { o.core_bugs.early_messages_before_durable = true; }, {"while its durable term is"}) > 0);
}

TEST_CASE("simulation has teeth: read contexts that restart with the process and acks matched by context") {
  // Seeds 1 to 374 of five voters do not catch it and 375 does: scanning
  // those from 1 took two minutes of the sanitized CI run, so the scan
  // starts at 350. A harness change that moves the catch makes this fail,
  // not pass.
  CHECK(first_catch("read ids restart, acks by context", 600,
                    [](auto& o) {
                      // Five voters: with three, followers' reads take no round.
                      o.nodes = 5;
                      o.learners = 0;
                      o.bug_read_ids_restart = true;
                      o.core_bugs.read_acks_by_context = true;
                    },
                    {"older than write"}, 350) > 0);
}

TEST_CASE("simulation has teeth: a read request taken for a quorum by one who cannot give it") {
  // Three voters and a learner: a learner's request is no vote. (The other
  // half of the bug, one voter's request taken for a majority of five, the
  // simulation does not reach: check-quorum deposes the old leader before
  // the majority elects a new one. read_requester_five_planted.txt shows it.)
  // Rare: seeds 1 to 4,000 of this shape catch it once, at 3956, so the
  // scan starts at 3900 to spare the sanitized CI run minutes. (Two voters
  // and a learner caught it at 1606 until learners could campaign; seeds 1
  // to 14,000 of that shape no longer do.) A harness change that moves the
  // catch makes this fail, not pass.
  CHECK(first_catch("requester vouches alone", 4000,
                    [](auto& o) {
                      o.nodes = 3;
                      o.learners = 1;
                      o.core_bugs.requester_vouches_alone = true;
                    },
                    {"older than write"}, 3900) > 0);
}

TEST_CASE("simulation has teeth: peers that never notice a member came back without its data") {
  CHECK(first_catch("lost disks unnoticed", 2000, [](auto& o) { o.bug_ignore_incarnations = true; },
                    {"commit without a quorum", "committed entry lost", "leader completeness", "state machine safety",
                     "election safety", "older than write"}) > 0);
}

TEST_CASE("simulation has teeth: learners that never campaign") {
  // A learner whose promotion a newer leader's entry overwrote in its own
  // log, while the promotion stays in another's, can hold the one entry
  // every voter needs; if it never campaigns, nobody is ever elected
  // (raft.cpp `promotable`, tests/raft/testdata/learner_needed*.txt). The
  // simulation found it at one seed in 30,000 beyond those the suite runs,
  // so this runs that seed alone: a harness change that moves the catch
  // makes this fail, not pass.
  CHECK(first_catch("learners never campaign", 9010477,
                    [](auto& o) { o.core_bugs.learners_never_campaign = true; }, {"liveness"}, 9010477) > 0);
}
