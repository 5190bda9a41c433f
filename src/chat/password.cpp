#include "chat/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <vector>

namespace qc::chat {

namespace {
std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}
bool from_hex(std::string_view s, std::vector<unsigned char>& out) {
  if (s.size() % 2) return false;
  out.clear();
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); i += 2) {
    int h = val(s[i]), l = val(s[i + 1]);
    if (h < 0 || l < 0) return false;
    out.push_back(static_cast<unsigned char>(h * 16 + l));
  }
  return true;
}
bool random_bytes(unsigned char* p, int n) { return RAND_bytes(p, n) == 1; }
constexpr int max_iterations = 10'000'000;
}  // namespace

std::string hash_password(std::string_view password, int iterations) {
  unsigned char salt[16];
  if (!random_bytes(salt, sizeof salt)) std::abort();  // no entropy: refuse to hash weakly
  unsigned char key[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt, sizeof salt, iterations, EVP_sha256(),
                    sizeof key, key);
  return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + to_hex(salt, sizeof salt) + "$" + to_hex(key, sizeof key);
}

bool verify_password(std::string_view password, std::string_view stored) {
  constexpr std::string_view prefix = "pbkdf2-sha256$";
  if (stored.substr(0, prefix.size()) != prefix) return false;
  stored.remove_prefix(prefix.size());
  auto d1 = stored.find('$');
  if (d1 == std::string_view::npos) return false;
  auto d2 = stored.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  const std::string iter_text(stored.substr(0, d1));
  if (iter_text.empty() || iter_text.size() > 9 || iter_text.find_first_not_of("0123456789") != std::string::npos) return false;
  const int iterations = std::atoi(iter_text.c_str());
  if (iterations < 1 || iterations > max_iterations) return false;
  std::vector<unsigned char> salt, expect;
  if (!from_hex(stored.substr(d1 + 1, d2 - d1 - 1), salt) || !from_hex(stored.substr(d2 + 1), expect)) return false;
  if (salt.empty() || expect.size() != 32) return false;
  unsigned char key[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(), static_cast<int>(salt.size()),
                    iterations, EVP_sha256(), sizeof key, key);
  return CRYPTO_memcmp(key, expect.data(), sizeof key) == 0;
}

std::string new_token() {
  unsigned char b[32];
  if (!random_bytes(b, sizeof b)) std::abort();
  return to_hex(b, sizeof b);
}

std::string token_hash(std::string_view token) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d);
  return to_hex(d, sizeof d);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace qc::chat
