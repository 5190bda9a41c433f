#include "net/fd_plan.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace qc::net {

fd_plan plan_descriptors(std::size_t configured_clients, std::size_t peer_handshakes, std::size_t members) {
  fd_plan p;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    p.error = std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
    rl.rlim_cur = rl.rlim_max = 1024;
  }
  p.soft_before = rl.rlim_cur;
  p.hard = rl.rlim_max;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    else p.error = std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
  }
  p.soft = rl.rlim_cur;
  // RLIM_INFINITY (or a huge limit) would overflow the arithmetic below;
  // nothing near it could be used anyway.
  const std::size_t soft = static_cast<std::size_t>(std::min<std::uint64_t>(p.soft, 1u << 30));
  p.reserved = fd_reserved_base + fd_reserved_per_member * members;
  p.sockets = soft > p.reserved + 8 ? soft - p.reserved : 8;
  const std::size_t headroom = std::max<std::size_t>(16, p.sockets / 20);
  const std::size_t others = peer_handshakes + members + headroom;
  const std::size_t fits = p.sockets > others + 1 ? p.sockets - others : 1;
  p.clients = std::min(configured_clients, fits);
  p.clients_capped = p.clients < configured_clients;
  return p;
}

std::string describe(const fd_plan& p) {
  std::string s = "descriptors: soft limit " + std::to_string(p.soft_before);
  if (p.soft != p.soft_before) s += " -> " + std::to_string(p.soft);
  s += " (hard " + std::to_string(p.hard) + "); " + std::to_string(p.reserved) + " kept for files and peers, " +
       std::to_string(p.sockets) + " for accepted connections, of which " + std::to_string(p.clients) +
       " client WebSockets";
  if (p.clients_capped) s += " (capped below [limits] max_connections)";
  if (!p.error.empty()) s += "; " + p.error;
  return s;
}

}  // namespace qc::net
