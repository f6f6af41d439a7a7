#!/usr/bin/env bash
# io_batch_ab.sh — A/B of io-batch-usec (batched waits of the uring engine, docs/server.md):
# mnemo-server alone under redis-benchmark, settings alternated, server CPU per request from
# /proc/PID/stat (utime + stime, 10 ms ticks) around the run.
#
# Usage: bench/io_batch_ab.sh [ROUNDS] [USEC...]     default: 2 rounds, 0 and 100
#   THREADS (default 1), CLIENTS (50), TEST (get), N (100000 requests), PIPE (1),
#   MNEMO (default build/mnemo-server), PORT (a free one is picked).
# Prints one line per run: the setting, CPU µs per request, and redis-benchmark's CSV row
# (rps, avg, min, p50, p95, p99, max latency in ms). Printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
shift || true
SETTINGS=("$@")
[ ${#SETTINGS[@]} -eq 0 ] && SETTINGS=(0 100)
MNEMO=${MNEMO:-build/mnemo-server}
THREADS=${THREADS:-1}
CLIENTS=${CLIENTS:-50}
TEST=${TEST:-get}
N=${N:-100000}
PIPE=${PIPE:-1}
PORT=${PORT:-$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
command -v redis-benchmark >/dev/null || { echo "io_batch_ab.sh: redis-benchmark not installed" >&2; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
echo "io_batch_ab: $MNEMO, threads $THREADS, -c $CLIENTS -n $N -P $PIPE -t $TEST, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= ROUNDS; r++)); do
  for us in "${SETTINGS[@]}"; do
    "$MNEMO" --port "$PORT" --bind 127.0.0.1 --threads "$THREADS" --io-batch-usec "$us" \
      >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
    t0=$(ticks $pid)
    row=$(redis-benchmark -p "$PORT" -c "$CLIENTS" -n "$N" -r 1000000 -d 32 -P "$PIPE" -t "$TEST" --csv 2>/dev/null | tail -1)
    t1=$(ticks $pid)
    batched=$(redis-cli -p "$PORT" info stats | tr -d '\r' | awk -F: '/^io_batched_waits/ {print $2}')
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill $pid
    wait $pid 2>/dev/null || true
    awk -v us="$us" -v r="$r" -v t="$((t1 - t0))" -v n="$N" -v row="$row" -v b="$batched" \
      'BEGIN { printf "round %d  io-batch-usec %-5s cpu %6.2f us/req  batched waits %-8s %s\n", r, us, t * 10000 / n, b, row }'
  done
done
