// The conf_change entry codec and apply_conf_change (membership.h): pure
// functions, tested directly.
#include <doctest/doctest.h>

#include "raft/membership.h"

using namespace qc;

TEST_CASE("conf entries encode deterministically and garbage never decodes") {
  raft::conf_entry e{{raft::conf_change_type::add_learner, "n9", "10.0.0.9:7001"},
                     {{{"n1", "a:1", true}, {"n9", "10.0.0.9:7001", false}}}};
  auto text = raft::encode_conf_entry(e);
  CHECK(raft::decode_conf_entry(text) == e);
  for (const char* bad : {"", "conf1", "conf9 0 a b\n", "conf1 7 a b\n", "conf1 0 a b\nx y 2\n", "conf1 0 a b\nb x 1\na y 1\n"})
    CHECK(!raft::decode_conf_entry(bad));
  CHECK(!raft::apply_conf_change({{{"n1", "a", true}}}, {raft::conf_change_type::remove, "n1", ""}));
}
