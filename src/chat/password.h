// Password hashing and session tokens.
//
// A stored hash names its algorithm and cost, so the cost can be raised
// later and old hashes keep verifying:
//   argon2id:      "$argon2id$v=19$m=<KiB>,t=<passes>,p=1$<salt>$<hash>"
//                  (libsodium's crypto_pwhash_str, the PHC string format)
//   PBKDF2-SHA256: "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>"
//                  (OpenSSL; 16-byte salt, 32-byte key)
// needs_rehash() says when a stored hash is weaker than (or just different
// from) the node's current parameters; the gateway then writes the new hash
// with the next login.
//
// Owned by: pure functions; hashing is slow by design, so the gateway runs it
// on its hash_pool's workers, never on the loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace qc::chat {

/// Why hashing or verifying failed (not a wrong password: that is `false`).
enum class password_errc : int {
  success = 0,
  malformed_hash,         ///< the stored string is not one of the formats above
  cost_out_of_range,      ///< a parameter outside what this node computes
  no_entropy,             ///< the random generator failed: no salt
  hash_failed,            ///< the library refused (e.g. out of memory for argon2id)
};

/// The category for password_errc; name() is "password".
const std::error_category& password_category() noexcept;

/// Makes an error_code from a password_errc (enables implicit conversion).
std::error_code make_error_code(password_errc e) noexcept;

/// The algorithm new hashes use ([security] password_hash).
enum class hash_algorithm { argon2id, pbkdf2_sha256 };

/// Parses "argon2id" / "pbkdf2-sha256"; false if neither.
bool parse_hash_algorithm(std::string_view s, hash_algorithm& out);

/// Algorithm and cost of new hashes (part of the node config, read by the
/// gateway's hashing jobs). Defaults follow OWASP's 2023 password
/// storage guidance: argon2id with 19 MiB and 2 passes, or PBKDF2-HMAC-SHA256
/// with 600,000 iterations.
struct hash_params {
  hash_algorithm algorithm = hash_algorithm::argon2id;
  std::uint32_t argon2id_passes = 2;          ///< libsodium opslimit, 1..10
  std::uint32_t argon2id_memory_kib = 19456;  ///< libsodium memlimit / 1024, 8..1048576
  std::uint32_t pbkdf2_iterations = 600'000;  ///< 1..10,000,000
  friend bool operator==(const hash_params&, const hash_params&) = default;
};

/// A fresh salted hash of `password` with `p`, as a self-describing string.
/// On failure returns "" and sets `ec` (nothing weaker is ever returned).
std::string hash_password(std::string_view password, const hash_params& p, std::error_code& ec);

/// Verifies `password` against a stored hash of either format, in constant
/// time. False with `ec` clear for a wrong password; false with `ec` set when
/// `stored` is malformed or the library failed.
bool verify_password(std::string_view password, std::string_view stored, std::error_code& ec);

/// True if `stored` was not made with exactly `p`'s algorithm and cost
/// (weaker or stronger): the next successful login replaces it.
bool needs_rehash(std::string_view stored, const hash_params& p);

/// A fresh session token: 32 random bytes as 64 hex chars; "" if the random
/// generator fails.
std::string new_token();

/// Hex SHA-256 of a token: what the replicated state stores.
std::string token_hash(std::string_view token);

/// Constant-time equality of two strings (lengths may leak).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace qc::chat

template <>
struct std::is_error_code_enum<qc::chat::password_errc> : std::true_type {};
