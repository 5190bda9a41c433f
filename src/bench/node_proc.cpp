#include "bench/node_proc.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace qc::bench {

namespace fs = std::filesystem;

namespace {
/// Socket inodes in LISTEN state (st == 0A) on `port`, from one /proc/net table.
void listening_inodes(const char* table, int port, std::set<std::string>& out) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string sl, local, remote, st, txrx, tr, retr, uid, timeout, inode;
    ss >> sl >> local >> remote >> st >> txrx >> tr >> retr >> uid >> timeout >> inode;
    if (st != "0A") continue;
    const auto colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    if (std::stoi(local.substr(colon + 1), nullptr, 16) == port) out.insert(inode);
  }
}
}  // namespace

std::optional<int> pid_listening_on(int port) {
  std::set<std::string> inodes;
  listening_inodes("/proc/net/tcp", port, inodes);
  listening_inodes("/proc/net/tcp6", port, inodes);
  if (inodes.empty()) return std::nullopt;
  std::error_code ec;
  for (const auto& p : fs::directory_iterator("/proc", ec)) {
    const std::string name = p.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec2;
    for (const auto& fd : fs::directory_iterator(p.path() / "fd", ec2)) {
      std::error_code ec3;
      const auto target = fs::read_symlink(fd.path(), ec3).string();
      if (ec3 || target.rfind("socket:[", 0) != 0) continue;
      if (inodes.count(target.substr(8, target.size() - 9))) return std::stoi(name);
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return std::nullopt;
}

}  // namespace qc::bench
