#include "ops/spawn.h"

#include <fcntl.h>
#include <unistd.h>

namespace qc::ops {

pid_t spawn_process(const std::vector<std::string>& argv, const std::string& log, spawn_options opts) {
  // Everything that allocates happens before fork.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const char* log_path = log.c_str();

  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: async-signal-safe calls only.
  if (opts.new_session) ::setsid();
  const int fd = ::open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) ::_exit(126);
  ::dup2(fd, STDOUT_FILENO);
  ::dup2(fd, STDERR_FILENO);
  ::close_range(3, ~0U, 0);
  if (!args.empty() && args[0] != nullptr) ::execv(args[0], args.data());
  ::_exit(127);
}

}  // namespace qc::ops
