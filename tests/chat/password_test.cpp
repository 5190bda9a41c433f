// chat/password: both formats hash and verify, costs are stored per hash
// and bounded, needs_rehash tells old parameters from current ones, and
// failures are error codes, never a weaker hash.
#include <ostream>  // std::error_code in doctest messages

#include <doctest/doctest.h>

#include "chat/password.h"

using namespace qc::chat;

namespace {
const hash_params cheap_argon2id{hash_algorithm::argon2id, 1, 64, 1000};
const hash_params cheap_pbkdf2{hash_algorithm::pbkdf2_sha256, 1, 64, 1000};
}  // namespace

TEST_CASE("argon2id: salted, self-describing, verified") {
  std::error_code ec;
  auto h1 = hash_password("secret", cheap_argon2id, ec);
  REQUIRE(!ec);
  auto h2 = hash_password("secret", cheap_argon2id, ec);
  CHECK(h1 != h2);  // salted
  CHECK(h1.rfind("$argon2id$v=19$m=64,t=1,p=1$", 0) == 0);
  CHECK(verify_password("secret", h1, ec));
  CHECK(!ec);
  CHECK(!verify_password("Secret", h1, ec));
  CHECK(!ec);  // a wrong password is not an error
}

TEST_CASE("PBKDF2-SHA256: hashes made by older nodes keep verifying") {
  std::error_code ec;
  auto h = hash_password("secret", cheap_pbkdf2, ec);
  REQUIRE(!ec);
  CHECK(h.rfind("pbkdf2-sha256$1000$", 0) == 0);
  CHECK(verify_password("secret", h, ec));
  CHECK(!verify_password("Secret", h, ec));
  // A hash as nodes wrote them before argon2id (20,000 iterations), salt
  // 00..0f, password "pw"; the key was computed independently with Python's
  // hashlib.pbkdf2_hmac('sha256', b'pw', bytes(range(16)), 20000, 32).
  const std::string old = "pbkdf2-sha256$20000$000102030405060708090a0b0c0d0e0f$"
                          "460da5aa1a363534059178232447580813ce46c8e4243c8de36599023eaef07c";
  CHECK(verify_password("pw", old, ec));
  CHECK(!ec);
  CHECK(!verify_password("pW", old, ec));
}

TEST_CASE("malformed or out-of-range stored hashes are errors, not matches") {
  std::error_code ec;
  for (const char* bad : {"", "pbkdf2-sha256$", "pbkdf2-sha256$x$aa$bb", "pbkdf2-sha256$99999999999$aa$bb",
                          "md5$1$a$b", "$argon2id$v=19$m=64,t=1$abc$def", "$argon2i$v=19$m=64,t=1,p=1$abc$def"}) {
    CAPTURE(bad);
    CHECK(!verify_password("secret", bad, ec));
    CHECK(ec == password_errc::malformed_hash);
  }
  // Costs a node will not run for a stored string: 4 GiB, 100 passes, 4 lanes.
  for (const char* costly : {"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",
                             "$argon2id$v=19$m=64,t=100,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",
                             "$argon2id$v=19$m=64,t=1,p=4$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",
                             "pbkdf2-sha256$20000000$00$" "0000000000000000000000000000000000000000000000000000000000000000"}) {
    CAPTURE(costly);
    CHECK(!verify_password("secret", costly, ec));
    CHECK(ec == password_errc::cost_out_of_range);
  }
  // Parameters out of range never produce a hash.
  auto h = hash_password("secret", {hash_algorithm::argon2id, 0, 64, 1}, ec);
  CHECK(h.empty());
  CHECK(ec == password_errc::cost_out_of_range);
  h = hash_password("secret", {hash_algorithm::pbkdf2_sha256, 1, 64, 0}, ec);
  CHECK(h.empty());
  CHECK(ec == password_errc::cost_out_of_range);
}

TEST_CASE("needs_rehash: another algorithm or any other cost") {
  std::error_code ec;
  const auto a = hash_password("pw", cheap_argon2id, ec);
  const auto p = hash_password("pw", cheap_pbkdf2, ec);
  CHECK_FALSE(needs_rehash(a, cheap_argon2id));
  CHECK_FALSE(needs_rehash(p, cheap_pbkdf2));
  CHECK(needs_rehash(p, cheap_argon2id));  // PBKDF2 -> argon2id
  CHECK(needs_rehash(a, cheap_pbkdf2));
  CHECK(needs_rehash(a, {hash_algorithm::argon2id, 2, 64, 1000}));   // more passes
  CHECK(needs_rehash(a, {hash_algorithm::argon2id, 1, 128, 1000}));  // more memory
  CHECK(needs_rehash(p, {hash_algorithm::pbkdf2_sha256, 1, 64, 600'000}));
  CHECK(needs_rehash("garbage", cheap_argon2id));
}

TEST_CASE("the defaults meet today's guidance") {
  const hash_params d;
  CHECK(d.algorithm == hash_algorithm::argon2id);
  CHECK(d.argon2id_memory_kib >= 19 * 1024);  // OWASP: argon2id m >= 19 MiB with t >= 2
  CHECK(d.argon2id_passes >= 2);
  CHECK(d.pbkdf2_iterations >= 600'000);      // OWASP: PBKDF2-HMAC-SHA256 >= 600,000
  hash_algorithm alg;
  CHECK(parse_hash_algorithm("argon2id", alg));
  CHECK(alg == hash_algorithm::argon2id);
  CHECK(parse_hash_algorithm("pbkdf2-sha256", alg));
  CHECK(alg == hash_algorithm::pbkdf2_sha256);
  CHECK_FALSE(parse_hash_algorithm("bcrypt", alg));
}
