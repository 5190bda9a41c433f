// chatnode: one binary that is a full Quorum Chat node (docs/CONFIG.md).
#include <cstdio>
#include <string>

#include "actors/node.h"
#include "common/log.h"
#include "config/config.h"

#ifdef QC_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#ifndef QC_VERSION
#define QC_VERSION "dev"
#endif

namespace {

/// The allocator this binary runs on, for the start-up log.
std::string allocator_name() {
#ifdef QC_JEMALLOC
  const char* version = nullptr;
  std::size_t size = sizeof version;
  if (mallctl("version", &version, &size, nullptr, 0) == 0 && version) return std::string("jemalloc ") + version;
  return "jemalloc";
#else
  return "the C library's malloc";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  qc::config::node_config cfg;
  std::string text;
  switch (qc::config::parse_command_line(argc, argv, cfg, text, QC_VERSION)) {
    case qc::config::cli_action::exit_ok:
      std::fputs(text.c_str(), stdout);
      return 0;
    case qc::config::cli_action::exit_error:
      std::fprintf(stderr, "chatnode: %s\n", text.c_str());
      return 2;
    case qc::config::cli_action::run:
      break;
  }
  qc::log::level lvl = qc::log::level::info;
  qc::log::parse_level(cfg.log_level, lvl);
  qc::log::threshold() = static_cast<int>(lvl);
  qc::log::node_tag() = cfg.id;
  qc::log::info("memory allocator: ", allocator_name());
  return qc::actors::run_node(cfg, QC_VERSION);
}
