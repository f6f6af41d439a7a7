#!/usr/bin/env bash
# mem_compare.sh — RSS per key for the reference data set (N keys of 16 bytes with 32-byte values,
# bench/dataset.py), in redis-server, memcached and libmnemo side by side.
#
# Each server is started here on 127.0.0.1 on a free port, with a private working directory, and
# stopped on exit (also on error or ^C). Its RSS (VmRSS in /proc/PID/status) is read after start
# and after the load; the figure is (after - start) / N. mnemo's figure is engine_bench's load
# phase (the same bytes, RSS of the process before opening the store and after loading).
#
# Usage: bench/mem_compare.sh [N]          (or MNEMO_BENCH_N; default 1000000)
#   BUILD_DIR=dir    where engine_bench (and later mnemo-server) are; default build/
#   MNEMO_SERVER_ARGS="..."  extra mnemo-server settings (e.g. --io-engine epoll)
#   MEM_REPEATS=R    loads per server (a fresh process each time); the median is shown; default 3
#   --csv            machine-readable output (server,bytes_per_key,own_bytes_per_key,keys)
#
# Adding a server: write srv_NAME_start PORT DIR (start it in the background, set SRV_PID),
# srv_NAME_load PORT (load the data set, print the number of keys the server then holds) and
# optionally srv_NAME_own PORT (the server's own memory figure in bytes) and srv_NAME_settle PORT
# (anything to do before the RSS is read, e.g. purge the allocator's free pages), then add NAME to
# SERVERS below. A server that fails to start or load is reported and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
BUILD_DIR=${BUILD_DIR:-build}
CSV=0
N=${MNEMO_BENCH_N:-1000000}
REPEATS=${MEM_REPEATS:-3}
for a in "$@"; do
  case "$a" in
    --csv) CSV=1 ;;
    ''|*[!0-9]*) echo "usage: $0 [--csv] [N]" >&2; exit 2 ;;
    *) N=$a ;;
  esac
done

WORK=$(mktemp -d /tmp/mnemo-memcmp.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { [ "$CSV" = 1 ] || echo "$@" >&2; }

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Waits until something accepts connections on 127.0.0.1:PORT (at most ~10 s) while PID lives.
wait_port() {
  local port=$1 pid=$2
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 1
    if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# ---- redis-server: defaults, no persistence --------------------------------------------------
srv_redis_start() {
  local port=$1 dir=$2
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" --daemonize no >/dev/null 2>&1 &
  SRV_PID=$!
}
srv_redis_load() {
  local port=$1 out
  out=$("$PY" bench/dataset.py resp "$N" | redis-cli -h 127.0.0.1 -p "$port" --pipe 2>&1)
  echo "$out" | grep -q 'errors: 0,' || { echo "redis-cli --pipe: $out" >&2; return 1; }
  redis-cli -h 127.0.0.1 -p "$port" dbsize
}
srv_redis_own() {
  redis-cli -h 127.0.0.1 -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'
}
# jemalloc returns freed pages (e.g. the hash table before the last resize) only after a ~10 s
# decay: purge them so that the figure is the steady state, not a snapshot of the decay.
srv_redis_settle() { redis-cli -h 127.0.0.1 -p "$1" memory purge >/dev/null; }
srv_redis_version() { redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'; }

# ---- memcached: 1 GiB of item memory, one worker thread -----------------------------------
srv_memcached_start() {
  local port=$1 dir=$2
  local user=()
  [ "$(id -u)" -eq 0 ] && user=(-u root)
  memcached -l 127.0.0.1 -p "$port" -U 0 -m 1024 -t 1 "${user[@]}" >"$dir/memcached.log" 2>&1 &
  SRV_PID=$!
}
srv_memcached_load() {
  "$PY" bench/dataset.py load-memcache "$N" 127.0.0.1 "$1"
}
srv_memcached_own() {
  "$PY" - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"stats\r\n")
d = b""
while not d.endswith(b"END\r\n"):
    d += s.recv(65536)
st = dict(l.split()[1:3] for l in d.decode().splitlines() if l.startswith("STAT "))
# item memory in use plus the hash table (what memcached itself accounts for)
print(int(st["bytes"]) + int(st.get("hash_bytes", 0)))
EOF
}
srv_memcached_version() { memcached --version | awk '{ print $2 }'; }

# ---- mnemo-server (when it exists): RESP, so redis-cli --pipe loads it ----------------------
# Enabled when $BUILD_DIR/mnemo-server is built. The flags are those documented for
# mnemo-server; adjust here if they change.
srv_mnemo_server_start() {
  local port=$1 dir=$2
  "$BUILD_DIR/mnemo-server" --port "$port" --bind 127.0.0.1 ${MNEMO_SERVER_ARGS:-} >"$dir/mnemo-server.log" 2>&1 &
  SRV_PID=$!
}
srv_mnemo_server_load() { srv_redis_load "$@"; }
srv_mnemo_server_own() { srv_redis_own "$@"; }
srv_mnemo_server_settle() { srv_redis_settle "$@"; }
srv_mnemo_server_version() { echo "build"; }

SERVERS=(redis memcached)
[ -x "$BUILD_DIR/mnemo-server" ] && SERVERS+=(mnemo_server)

# One measurement: start, load, read RSS, stop. Prints "rss_per_key own_per_key keys".
measure_once() {
  local srv=$1 dir port rss0 rss1 keys own
  dir="$WORK/$srv.$2"
  mkdir -p "$dir"
  port=$(free_port)
  log "mem_compare: $srv on 127.0.0.1:$port, loading $N keys (run $2/$REPEATS) ..."
  SRV_PID=
  "srv_${srv}_start" "$port" "$dir"
  PIDS+=("$SRV_PID")
  if ! wait_port "$port" "$SRV_PID"; then
    log "mem_compare: $srv did not start:"; cat "$dir"/*.log >&2 || true
    return 1
  fi
  sleep 0.5
  rss0=$(rss_kb "$SRV_PID")
  if ! keys=$("srv_${srv}_load" "$port"); then
    log "mem_compare: loading $srv failed"; return 1
  fi
  # let background work (rehashing, hash-table expansion, LRU crawler) settle
  sleep 2
  if declare -F "srv_${srv}_settle" >/dev/null; then "srv_${srv}_settle" "$port" || true; sleep 0.5; fi
  rss1=$(rss_kb "$SRV_PID")
  own=$("srv_${srv}_own" "$port" 2>/dev/null || echo 0)
  kill "$SRV_PID" 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
  awk -v a="$rss0" -v b="$rss1" -v o="$own" -v n="$N" -v k="$keys" \
    'BEGIN { printf "%.1f %.1f %s\n", (b - a) * 1024 / n, o / n, k }'
}

# Median of the runs (by RSS per key); prints the median run's line.
median_line() { sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }

declare -A PER_KEY OWN_PER_KEY KEYS VERSION ALL_RUNS
for srv in "${SERVERS[@]}"; do
  runs=""
  for r in $(seq "$REPEATS"); do
    if line=$(measure_once "$srv" "$r"); then
      runs+="$line"$'\n'
    fi
  done
  [ -n "$runs" ] || continue
  read -r "PER_KEY[$srv]" "OWN_PER_KEY[$srv]" "KEYS[$srv]" <<<"$(printf '%s' "$runs" | median_line)"
  ALL_RUNS[$srv]=$(printf '%s' "$runs" | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }')
  VERSION[$srv]=$("srv_${srv}_version" 2>/dev/null || echo "?")
done

# ---- libmnemo: engine_bench's load phase, in a fresh process each time ----------------------
mnemo_ok=0
if [ -x "$BUILD_DIR/engine_bench" ]; then
  runs=""
  for r in $(seq "$REPEATS"); do
    log "mem_compare: libmnemo (engine_bench --mem-only), loading $N keys (run $r/$REPEATS) ..."
    if out=$("$BUILD_DIR/engine_bench" --mem-only --csv -n "$N"); then
      runs+=$(echo "$out" | awk -F, -v n="$N" '
        $2 == "rss_bytes_per_key" { r = $3 } $2 == "memory_used_bytes_per_key" { u = $3 }
        END { print r, u, n }')$'\n'
    fi
  done
  if [ -n "$runs" ]; then
    read -r "PER_KEY[libmnemo]" "OWN_PER_KEY[libmnemo]" "KEYS[libmnemo]" <<<"$(printf '%s' "$runs" | median_line)"
    ALL_RUNS[libmnemo]=$(printf '%s' "$runs" | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }')
    VERSION[libmnemo]=$(sed -n 's/.*MNEMO_VERSION_STRING "\(.*\)".*/\1/p' include/mnemo.h)
    mnemo_ok=1
  fi
else
  log "mem_compare: $BUILD_DIR/engine_bench is not built; libmnemo skipped"
fi

ALL=("${SERVERS[@]}")
[ "$mnemo_ok" = 1 ] && ALL+=(libmnemo)

if [ "$CSV" = 1 ]; then
  echo "server,version,keys,rss_bytes_per_key,own_accounting_bytes_per_key,all_runs"
  for s in "${ALL[@]}"; do
    [ -n "${PER_KEY[$s]:-}" ] || continue
    echo "$s,${VERSION[$s]},${KEYS[$s]},${PER_KEY[$s]},${OWN_PER_KEY[$s]},${ALL_RUNS[$s]}"
  done
else
  echo
  echo "memory per key: $N keys of 16 B with 32-byte values (RSS growth / keys, median of $REPEATS)"
  printf '%-12s %-8s %9s %10s %12s   %s\n' server version keys "RSS B/key" "own B/key" "all runs (RSS B/key)"
  for s in "${ALL[@]}"; do
    [ -n "${PER_KEY[$s]:-}" ] || continue
    printf '%-12s %-8s %9s %10s %12s   %s\n' "$s" "${VERSION[$s]}" "${KEYS[$s]}" "${PER_KEY[$s]}" \
      "${OWN_PER_KEY[$s]}" "${ALL_RUNS[$s]}"
  done
  echo "  (own accounting: redis used_memory, memcached bytes + hash_bytes, mnemo stats.memory_used)"
  # each of mnemo's figures against each reference server
  for m in "${ALL[@]}"; do
    [[ $m == *mnemo* && -n "${PER_KEY[$m]:-}" ]] || continue
    for s in "${ALL[@]}"; do
      [[ $s != *mnemo* && -n "${PER_KEY[$s]:-}" ]] || continue
      awk -v a="${PER_KEY[$m]}" -v b="${PER_KEY[$s]}" -v m="$m" -v s="$s" \
        'BEGIN { printf "ratio %-12s / %-10s %6.2f\n", m, s, a / b }'
    done
  done
fi
