// Cluster configurations and single-server changes (Raft dissertation §4.1).
//
// Owned by: pure functions; called by the core (consensus actor) and by codecs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "raft/types.h"

namespace qc::raft {

/// A single-server membership change (dissertation §4.1, §4.2.1 learners).
enum class conf_change_type : std::uint8_t {
  add_learner = 0,  ///< add a non-voting member that receives the log
  promote = 1,      ///< turn a caught-up learner into a voter
  remove = 2,       ///< remove a member (learner or voter, possibly the leader)
};

/// A requested change. `address` matters only for add_learner.
struct conf_change {
  conf_change_type type = conf_change_type::add_learner;
  node_id id;
  std::string address;

  friend bool operator==(const conf_change&, const conf_change&) = default;
};

/// The payload of a conf_change log entry: the change and the full
/// configuration that results from it. Carrying the full result makes every
/// such entry self-contained, so a node that sees only a log suffix still
/// learns the whole configuration.
struct conf_entry {
  conf_change change;
  membership after;

  friend bool operator==(const conf_entry&, const conf_entry&) = default;
};

/// Text encoding of a conf_entry for the log. Deterministic.
std::string encode_conf_entry(const conf_entry& e);

/// Parses encode_conf_entry's output; nullopt on any malformation.
std::optional<conf_entry> decode_conf_entry(std::string_view data);

/// Applies `cc` to `cur`. Returns nullopt when the change is invalid:
/// adding an existing id, promoting a non-learner, removing an unknown id,
/// ids or addresses containing whitespace, or an empty id.
std::optional<membership> apply_conf_change(const membership& cur, const conf_change& cc);

/// The member with `id`, or nullptr.
const member* find_member(const membership& m, std::string_view id);

/// True if `id` is a voter in `m`.
bool is_voter(const membership& m, std::string_view id);

/// Number of voters in `m`.
std::size_t voter_count(const membership& m);

/// The configuration of a node restarted from `snap` and the log `entries`
/// after it: that of its last conf_change entry, committed or not (§4.1),
/// else the snapshot's.
membership newest_config(const snapshot_meta& snap, const std::vector<entry>& entries);

}  // namespace qc::raft
