#!/usr/bin/env bash
# Installs the Debian packages mnemo needs to build, test and benchmark, and only those that are
# missing. Safe to run again: with everything present it does nothing and asks no registry.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config      # toolchain
  clang libclang-rt-dev                 # libFuzzer and sanitizer runtimes for the fuzz targets
  libxxhash-dev liblz4-dev              # engine: hashing, compression
  liburing-dev                          # server: the io_uring event engine (io-engine uring)
  python3 python3-redis python3-pytest  # integration tests (Debian's /usr/bin/python3)
  redis-server redis-tools memcached    # side-by-side benchmarks and redis-cli
  procps                                # ps/pgrep for scripts
)

# `deps.sh bench` adds what only the benchmarks need (plots).
[ "${1:-}" = "bench" ] && pkgs+=(python3-matplotlib)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged servers as services where it can; the benchmarks start their own.
for svc in redis-server memcached; do
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
done
