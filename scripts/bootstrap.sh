#!/usr/bin/env bash
# Installs Quorum Chat's build and test dependencies from Debian 12 packages.
# Idempotent: does nothing when everything is already installed.
# Usage: scripts/bootstrap.sh [--browser]   (--browser adds chromium + node)
set -euo pipefail

pkgs=(build-essential cmake pkg-config git
      libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
      libsqlitecpp-dev libsqlite3-dev sqlite3 doctest-dev libtomlplusplus-dev libssl-dev libsodium-dev
      libjemalloc-dev
      iproute2 iptables procps curl python3
      clang libclang-rt-14-dev)  # libFuzzer targets (scripts/fuzz.sh)
if [[ "${1:-}" == "--browser" ]]; then
  pkgs+=(chromium nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # nodejs/npm may come from elsewhere on the image; accept a working binary.
    case "$p" in
      nodejs) command -v node >/dev/null && continue ;;
      npm) command -v npm >/dev/null && continue ;;
    esac
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Guard against mixing in Debian's default Boost 1.74 headers.
if ! grep -q 'BOOST_LIB_VERSION "1_81"' /usr/include/boost/version.hpp 2>/dev/null; then
  echo "bootstrap: /usr/include/boost is not Boost 1.81; remove libboost1.74-dev" >&2
  exit 1
fi
