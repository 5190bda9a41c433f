// libFuzzer target: the TOML config loader and validation. Any text must load
// or fail with a message, never crash.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  qc::config::node_config cfg;
  std::string err;
  if (qc::config::load_toml(text, cfg, err)) {
    (void)qc::config::validate(cfg, err);
  } else if (err.empty()) {
    std::abort();  // a refusal must say why
  }
  return 0;
}
