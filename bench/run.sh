#!/usr/bin/env bash
# run.sh — what `make bench` runs: the machine, then the engine benchmark, the compression
# benchmark, the memory comparison with redis-server and memcached, mnemo-server against
# redis-server under redis-benchmark, the persistence benchmark, and the hit ratio of both
# servers at equal memory. Figures go to stdout; see docs/BENCHMARKS.md.
#   MNEMO_BENCH_N (default 1000000)  keys;  MNEMO_BENCH_R (default 3)  repeats per row
#   MNEMO_BENCH_COMPRESS_N (default 100000)  documents for compress_bench (~215 MB of values)
#   BUILD_DIR (default build/)        where engine_bench and mnemo-server were built
#   MNEMO_BENCH_THREADS_SERVER (default 1,2)  mnemo-server worker threads to run
#   MNEMO_BENCH_SKIP_SERVER=1         leave the server benchmark out
#   MNEMO_BENCH_SKIP_PERSIST=1        leave the persistence benchmark out
#   MNEMO_BENCH_SKIP_HITRATIO=1       leave the hit-ratio sweep out (13-18 minutes)
#   MNEMO_BENCH_HITRATIO_ARGS         more arguments for bench/hitratio.py (e.g. --only-64)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
export BUILD_DIR

echo "== machine"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "cpu:     $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "memory:  $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "kernel:  $(uname -sr)"
echo "thp:     $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo '?')"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work on the machine skews the figures)"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo 'none')$(git diff --quiet HEAD 2>/dev/null || echo ' (+ local changes)')"
echo

if [ ! -x "$BUILD_DIR/engine_bench" ]; then
  echo "run.sh: $BUILD_DIR/engine_bench is not built (make build)" >&2
  exit 1
fi

echo "== engine ($BUILD_DIR/engine_bench)"
"$BUILD_DIR/engine_bench"
echo

echo "== eviction policies in the library: hit ratio at 64 MB (bench/policy_sim.c)"
"$BUILD_DIR/policy_sim" --mb 64 --requests "${MNEMO_BENCH_SIM_REQUESTS:-10000000}"
"$BUILD_DIR/policy_sim" --mb 64 --requests "${MNEMO_BENCH_SIM_REQUESTS:-10000000}" --scan 0.3
echo "== compression: JSON-like and random values, 200 B - 4 KiB ($BUILD_DIR/compress_bench)"
"$BUILD_DIR/compress_bench" -n "${MNEMO_BENCH_COMPRESS_N:-100000}"
echo

echo "== memory per key, side by side (bench/mem_compare.sh)"
bash bench/mem_compare.sh
echo

if [ "${MNEMO_BENCH_SKIP_SERVER:-0}" != 1 ]; then
  echo "== mnemo-server vs redis-server (bench/server_bench.py)"
  /usr/bin/python3 bench/server_bench.py --mnemo "$BUILD_DIR/mnemo-server" \
    --threads "${MNEMO_BENCH_THREADS_SERVER:-1,2}" --pipeline-n 1000000 \
    --max-other-load 15 --retries 3 --plot docs/plots/server_bench.png
fi

if [ "${MNEMO_BENCH_SKIP_PERSIST:-0}" != 1 ]; then
  echo
  echo "== persistence: mnemo-server vs redis-server (bench/persist_bench.py)"
  /usr/bin/python3 bench/persist_bench.py --mnemo "$BUILD_DIR/mnemo-server"
fi

if [ "${MNEMO_BENCH_SKIP_HITRATIO:-0}" != 1 ]; then
  echo
  echo "== hit ratio at equal memory, mnemo-server vs redis-server (bench/hitratio.py)"
  # docs/plots/hit_ratio.png is redrawn when more than one memory size ran.
  # shellcheck disable=SC2086  # MNEMO_BENCH_HITRATIO_ARGS is a list of words
  /usr/bin/python3 bench/hitratio.py --mnemo "$BUILD_DIR/mnemo-server" \
    --driver "$BUILD_DIR/hitratio" ${MNEMO_BENCH_HITRATIO_ARGS:-}
fi
