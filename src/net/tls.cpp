#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>

#include <boost/asio/ssl/host_name_verification.hpp>

namespace qc::net {

namespace ssl = boost::asio::ssl;

namespace {

std::string why(const boost::system::error_code& ec) {
  std::string s = ec.message();
  if (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    s += " (" + std::string(buf) + ")";
  }
  ERR_clear_error();
  return s;
}

void harden(ssl::context& ctx) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
}

bool use_identity(ssl::context& ctx, const std::string& cert_file, const std::string& key_file, std::string& err) {
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert_file, ec);
  if (ec) return err = "tls.cert_file " + cert_file + ": " + why(ec), false;
  ctx.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return err = "tls.key_file " + key_file + ": " + why(ec), false;
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    return err = "tls.key_file " + key_file + " does not match tls.cert_file " + cert_file, false;
  return true;
}

bool trust(ssl::context& ctx, const std::string& ca_file, std::string& err) {
  boost::system::error_code ec;
  if (ca_file.empty()) ctx.set_default_verify_paths(ec);
  else ctx.load_verify_file(ca_file, ec);
  if (ec) return err = "tls.ca_file " + (ca_file.empty() ? std::string("(system store)") : ca_file) + ": " + why(ec), false;
  return true;
}

}  // namespace

std::shared_ptr<ssl::context> make_server_context(const tls_settings& s, std::string& err) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  harden(*ctx);
  if (!use_identity(*ctx, s.cert_file, s.key_file, err)) return nullptr;
  if (s.verify_peers) {
    if (!trust(*ctx, s.ca_file, err)) return nullptr;
    ctx->set_verify_mode(ssl::verify_peer);  // a certificate is optional here; /raft demands one
  }
  return ctx;
}

std::shared_ptr<ssl::context> make_client_context(const std::string& ca_file, bool verify, std::string& err,
                                                  const std::string& cert_file, const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  harden(*ctx);
  if (!cert_file.empty() && !use_identity(*ctx, cert_file, key_file, err)) return nullptr;
  if (!verify) {
    ctx->set_verify_mode(ssl::verify_none);
    return ctx;
  }
  if (!trust(*ctx, ca_file, err)) return nullptr;
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

bool peer_cert_verified(stream& s) {
  if (!s.is_tls()) return false;
  SSL* ssl = s.tls().native_handle();
  return SSL_get0_peer_certificate(ssl) != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
}

std::shared_ptr<ssl::context> tool_client_context(std::string& err) {
  static const auto made = [] {
    std::string e;
    const char* ca = std::getenv("QC_TLS_CA");
    const char* insecure = std::getenv("QC_TLS_INSECURE");
    auto ctx = make_client_context(ca ? ca : "", !(insecure && std::string(insecure) == "1"), e);
    return std::make_pair(ctx, e);
  }();
  if (!made.first) err = made.second;
  return made.first;
}

qc::error start_client_tls(stream& s, ssl::context& ctx, const std::string& host) {
  s.start_tls(ctx);
  std::string name = host;
  if (name.size() > 2 && name.front() == '[') name = name.substr(1, name.size() - 2);
  // SNI takes DNS names only; an IP is still checked against the
  // certificate's IP SANs by host_name_verification.
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(name, ec);
  if (ec && SSL_set_tlsext_host_name(s.tls().native_handle(), name.c_str()) != 1)
    return {std::make_error_code(std::errc::invalid_argument), "cannot set TLS server name " + name};
  if (SSL_CTX_get_verify_mode(ctx.native_handle()) != SSL_VERIFY_NONE)
    s.tls().set_verify_callback(ssl::host_name_verification(name));
  return {};
}

std::string strip_scheme(const std::string& address, bool& tls) {
  const char* env = std::getenv("QC_TLS");
  tls = env && std::string(env) == "1";
  std::string a = address;
  for (const char* scheme : {"wss://", "https://", "ws://", "http://"}) {
    const std::string p = scheme;
    if (a.compare(0, p.size(), p) == 0) {
      tls = p == "wss://" || p == "https://";
      a = a.substr(p.size());
      break;
    }
  }
  if (auto slash = a.find('/'); slash != std::string::npos) a.resize(slash);
  return a;
}

}  // namespace qc::net
