#!/usr/bin/env bash
# callgrind.sh — instructions per operation and the functions they go to, measured with
# valgrind's callgrind (hardware counters are not available on these machines).
#
# For each operation, engine_bench loads N keys and runs that one row once with one thread;
# callgrind collects only inside the row's worker function (--toggle-collect=run_<op>), so the
# total divided by N is the instruction count of one operation, loop overhead included (a few
# instructions). The load itself is the `set` row: inserting into an empty, growing store.
#
# Usage: bench/callgrind.sh [N] [OP...]    default N = 100000, OPs = set get_with get miss mget_with
#   BUILD_DIR (default build/), TOP (default 12) functions listed per operation,
#   KEEP=dir to keep the callgrind.out files there.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
TOP=${TOP:-12}
N=${1:-100000}
shift || true
OPS=("$@")
[ ${#OPS[@]} -eq 0 ] && OPS=(set get_with get miss mget_with)

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
[ -x "$BUILD_DIR/engine_bench" ] || { echo "callgrind.sh: $BUILD_DIR/engine_bench not built" >&2; exit 1; }

OUT=${KEEP:-$(mktemp -d /tmp/mnemo-callgrind.XXXXXX)}
mkdir -p "$OUT"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$OUT"' EXIT

echo "callgrind: $N keys, instructions (Ir) per operation, 1 thread"
for op in "${OPS[@]}"; do
  f="$OUT/callgrind.$op.out"
  # "run_get" must not also match run_get_with: name the exact symbol and its GCC clones
  valgrind --tool=callgrind --callgrind-out-file="$f" --collect-atstart=no \
    --toggle-collect="run_$op" --toggle-collect="run_$op.*" \
    "$BUILD_DIR/engine_bench" -n "$N" -r 1 -t 1 --only "$op" >/dev/null 2>"$OUT/valgrind.$op.log" ||
    { echo "callgrind.sh: engine_bench --only $op failed:" >&2; tail -20 "$OUT/valgrind.$op.log" >&2; exit 1; }
  total=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ && !t { gsub(",", "", $1); t = $1 } END { print t }')
  echo
  awk -v t="$total" -v n="$N" -v op="$op" \
    'BEGIN { printf "== %s: %.0f instructions per %s\n", op, t / n, (op ~ /^mget/ ? "key" : "op") }'
  # self cost per function (lines inlined from headers, e.g. entry.h:shard_store, are counted
  # with the function they were inlined into), top TOP, as a share of the row's total
  callgrind_annotate --inclusive=no --threshold=100 --auto=no "$f" 2>/dev/null |
    awk -v t="$total" -v n="$N" -v u="$([[ $op == mget* ]] && echo key || echo op)" '
      /^-+$/ { dash++; next }
      /PROGRAM TOTALS/ { next }
      dash >= 3 && NF >= 2 && $1 ~ /^[0-9,]+$/ {
        ir = $1; gsub(",", "", ir)
        name = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", name)
        sub(/ \[[^]]*\]$/, "", name)
        file = name; sub(/:[^:]*$/, "", file); sub(/^.*\//, "", file)
        fn = name; sub(/^.*:/, "", fn)
        cost[fn] += ir
        if (!index(files[fn] ",", file ",")) files[fn] = files[fn] (files[fn] == "" ? "" : ",") file
      }
      END {
        for (fn in cost)
          printf "%d\t  %6.1f%%  %7.1f/%s  %s  (%s)\n", cost[fn], 100 * cost[fn] / t, cost[fn] / n, u, fn, files[fn]
      }' | sort -t "$(printf '\t')" -k1,1nr | head -n "$TOP" | cut -f2-
done
