#include "chat/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sodium.h>

#include <charconv>
#include <vector>

#include "common/hex.h"

namespace qc::chat {

namespace {

constexpr std::string_view pbkdf2_prefix = "pbkdf2-sha256$";
constexpr std::string_view argon2id_prefix = "$argon2id$";
constexpr std::uint32_t max_pbkdf2_iterations = 10'000'000;
constexpr std::uint32_t max_argon2id_passes = 10;
constexpr std::uint32_t min_argon2id_memory_kib = crypto_pwhash_argon2id_MEMLIMIT_MIN / 1024;
constexpr std::uint32_t max_argon2id_memory_kib = 1u << 20;  // 1 GiB

struct category : std::error_category {
  const char* name() const noexcept override { return "password"; }
  std::string message(int c) const override {
    switch (static_cast<password_errc>(c)) {
      case password_errc::success: return "success";
      case password_errc::malformed_hash: return "stored password hash is malformed";
      case password_errc::cost_out_of_range: return "password hash cost out of range";
      case password_errc::no_entropy: return "no random bytes for a salt or token";
      case password_errc::hash_failed: return "the hash function failed (out of memory?)";
    }
    return "unknown password error";
  }
};

/// libsodium must be initialised once before use; sodium_init is itself
/// thread-safe and idempotent.
bool sodium_ready() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

bool parse_u32(std::string_view s, std::uint32_t& out) {
  if (s.empty() || s.size() > 10) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

/// The cost fields of an argon2id PHC string: "$argon2id$v=19$m=M,t=T,p=P$...".
struct argon2id_cost {
  std::uint32_t memory_kib = 0, passes = 0, lanes = 0;
};
bool parse_argon2id(std::string_view s, argon2id_cost& c) {
  if (s.substr(0, argon2id_prefix.size()) != argon2id_prefix) return false;
  s.remove_prefix(argon2id_prefix.size());
  if (s.substr(0, 5) != "v=19$") return false;
  s.remove_prefix(5);
  const auto end = s.find('$');
  if (end == std::string_view::npos) return false;
  std::string_view params = s.substr(0, end);
  for (auto [key, out] : {std::pair{"m=", &c.memory_kib}, std::pair{"t=", &c.passes}, std::pair{"p=", &c.lanes}}) {
    if (params.substr(0, 2) != key) return false;
    params.remove_prefix(2);
    const auto comma = params.find(',');
    if (!parse_u32(params.substr(0, comma), *out)) return false;
    params = comma == std::string_view::npos ? std::string_view() : params.substr(comma + 1);
  }
  return params.empty();
}

/// Iterations, salt and key of a PBKDF2 string.
struct pbkdf2_hash {
  std::uint32_t iterations = 0;
  std::vector<unsigned char> salt, key;
};
bool parse_pbkdf2(std::string_view s, pbkdf2_hash& h) {
  if (s.substr(0, pbkdf2_prefix.size()) != pbkdf2_prefix) return false;
  s.remove_prefix(pbkdf2_prefix.size());
  const auto d1 = s.find('$');
  if (d1 == std::string_view::npos) return false;
  const auto d2 = s.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  return parse_u32(s.substr(0, d1), h.iterations) && common::from_hex(s.substr(d1 + 1, d2 - d1 - 1), h.salt) &&
         common::from_hex(s.substr(d2 + 1), h.key) && !h.salt.empty() && h.key.size() == 32;
}

bool pbkdf2(std::string_view password, const std::vector<unsigned char>& salt, std::uint32_t iterations,
            unsigned char (&key)[32]) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                           static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(), sizeof key,
                           key) == 1;
}

bool params_in_range(const hash_params& p) {
  if (p.algorithm == hash_algorithm::pbkdf2_sha256)
    return p.pbkdf2_iterations >= 1 && p.pbkdf2_iterations <= max_pbkdf2_iterations;
  return p.argon2id_passes >= crypto_pwhash_argon2id_OPSLIMIT_MIN && p.argon2id_passes <= max_argon2id_passes &&
         p.argon2id_memory_kib >= min_argon2id_memory_kib && p.argon2id_memory_kib <= max_argon2id_memory_kib;
}

}  // namespace

const std::error_category& password_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(password_errc e) noexcept { return {static_cast<int>(e), password_category()}; }

bool parse_hash_algorithm(std::string_view s, hash_algorithm& out) {
  if (s == "argon2id") out = hash_algorithm::argon2id;
  else if (s == "pbkdf2-sha256") out = hash_algorithm::pbkdf2_sha256;
  else return false;
  return true;
}

std::string hash_password(std::string_view password, const hash_params& p, std::error_code& ec) {
  ec = {};
  if (!params_in_range(p)) return ec = password_errc::cost_out_of_range, std::string();
  if (p.algorithm == hash_algorithm::pbkdf2_sha256) {
    std::vector<unsigned char> salt(16);
    if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) return ec = password_errc::no_entropy, std::string();
    unsigned char key[32];
    if (!pbkdf2(password, salt, p.pbkdf2_iterations, key)) return ec = password_errc::hash_failed, std::string();
    return std::string(pbkdf2_prefix) + std::to_string(p.pbkdf2_iterations) + "$" +
           common::to_hex(salt.data(), salt.size()) + "$" + common::to_hex(key, sizeof key);
  }
  if (!sodium_ready()) return ec = password_errc::hash_failed, std::string();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_argon2id_str(out, password.data(), password.size(), p.argon2id_passes,
                                 static_cast<std::size_t>(p.argon2id_memory_kib) * 1024) != 0)
    return ec = password_errc::hash_failed, std::string();
  return out;
}

bool verify_password(std::string_view password, std::string_view stored, std::error_code& ec) {
  ec = {};
  argon2id_cost a;
  if (parse_argon2id(stored, a)) {
    // Cost bounds before running it: a stored string decides how much
    // memory and time this call takes.
    if (a.passes < crypto_pwhash_argon2id_OPSLIMIT_MIN || a.passes > max_argon2id_passes ||
        a.memory_kib < min_argon2id_memory_kib || a.memory_kib > max_argon2id_memory_kib || a.lanes != 1)
      return ec = password_errc::cost_out_of_range, false;
    if (!sodium_ready()) return ec = password_errc::hash_failed, false;
    const std::string z(stored);  // libsodium wants a NUL-terminated string
    return crypto_pwhash_argon2id_str_verify(z.c_str(), password.data(), password.size()) == 0;
  }
  pbkdf2_hash h;
  if (!parse_pbkdf2(stored, h)) return ec = password_errc::malformed_hash, false;
  if (h.iterations < 1 || h.iterations > max_pbkdf2_iterations) return ec = password_errc::cost_out_of_range, false;
  unsigned char key[32];
  if (!pbkdf2(password, h.salt, h.iterations, key)) return ec = password_errc::hash_failed, false;
  return CRYPTO_memcmp(key, h.key.data(), sizeof key) == 0;
}

bool needs_rehash(std::string_view stored, const hash_params& p) {
  if (p.algorithm == hash_algorithm::pbkdf2_sha256) {
    pbkdf2_hash h;
    return !parse_pbkdf2(stored, h) || h.iterations != p.pbkdf2_iterations;
  }
  argon2id_cost a;
  return !parse_argon2id(stored, a) || a.passes != p.argon2id_passes || a.memory_kib != p.argon2id_memory_kib ||
         a.lanes != 1;
}

std::string new_token() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) return {};
  return common::to_hex(b, sizeof b);
}

std::string token_hash(std::string_view token) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d);
  return common::to_hex(d, sizeof d);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace qc::chat
