// One-line text forms of the core's values for transcripts
// (tests/raft/testdata): entries, messages, configurations, ready batches.
// Deterministic, and only the fields that carry meaning for each kind.
//
// Owned by: the test thread (pure functions).
#pragma once

#include <string>

#include "raft/raft.h"

namespace qc::test {

/// `term/index normal "data"` or `term/index conf add-learner n4`.
std::string describe(const raft::entry& e);

/// `n1->n2 append Term:1 Log:1/5 Commit:5 Entries:[1/6 normal "x"]`.
std::string describe(const raft::message& m);

/// `voters=(n1,n2,n3)`, plus ` learners=(n4)` when there are learners.
std::string describe(const raft::membership& c);

/// `Index:5 Term:1 Handle:"h" voters=(n1,n2,n3)`.
std::string describe(const raft::snapshot_meta& s);

/// `Index:5 Context:"a"`.
std::string describe(const raft::read_state& r);

/// Every part of a ready batch that is set, one item a line, in the order of
/// the persistence contract (types.h): soft and hard state, snapshot,
/// entries, early messages, messages, committed entries, read states.
std::string describe(const raft::ready& rd);

}  // namespace qc::test
