// Password hashing (PBKDF2-HMAC-SHA256, OpenSSL) and session tokens.
//
// Owned by: pure functions; hashing is slow by design, so the gateway runs it
// on a worker thread, never on the loop thread.
#pragma once

#include <string>
#include <string_view>

namespace qc::chat {

/// Salted slow hash as a self-describing string:
/// "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>" (16-byte random salt,
/// 32-byte derived key).
std::string hash_password(std::string_view password, int iterations);

/// Verifies `password` against a hash_password() string in constant time
/// (CRYPTO_memcmp). False for malformed `stored`.
bool verify_password(std::string_view password, std::string_view stored);

/// A fresh session token: 32 random bytes (RAND_bytes) as 64 hex chars.
std::string new_token();

/// Hex SHA-256 of a token: what the replicated state stores.
std::string token_hash(std::string_view token);

/// Constant-time equality of two strings (lengths may leak).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace qc::chat
