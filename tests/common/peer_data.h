// Test-only: does a peer frame's text carry entry or proposal data as a
// JSON object (the layout for peers that announce `json_entries`)? The
// JSON parser reads data only as strings, so such a frame is the one kind
// it may refuse where the direct reader takes it: the codec test and the
// peer fuzzer allow that refusal only when this holds.
//
// Owned by: the tests (pure, any thread).
#pragma once

#include <string_view>

namespace qc::test {

/// True if `text` holds an entry's `"d":{` or a proposal's `"data":{`.
inline bool carries_data_as_object(std::string_view text) {
  return text.find(R"("d":{)") != text.npos || text.find(R"("data":{)") != text.npos;
}

}  // namespace qc::test
