#!/usr/bin/env bash
# Runs mnemo's test stages; `make test` runs them all, `scripts/test.sh STAGE...` some.
#   unit         CTest in build/ (optimised build, assertions on)
#   asan         CTest in build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer), then the
#                integration tests against build-asan/mnemo-server (MNEMO_SANITIZED=1)
#   tsan         the concurrency stress tests (CTest label "stress") in build-tsan/ (ThreadSanitizer),
#                then the command fuzzer against build-tsan/mnemo-server
#   fuzz         every libFuzzer target in tests/fuzz/ for FUZZ_SECONDS on its seed corpus
#   integration  pytest (Debian's /usr/bin/python3) against a real mnemo-server
# Prints one closing line "stages: N passed, N failed" and exits non-zero if any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(unit asan tsan fuzz integration)

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}


# Runs pytest (Debian's /usr/bin/python3) with the arguments; its exit 5, no test collected,
# passes with a line saying so. Environment settings go before the call.
run_pytest() {
  local label=$1
  shift
  /usr/bin/python3 -m pytest -q -rs "$@"
  local rc=$?
  [ $rc -eq 5 ] && { echo "$label: no tests collected"; return 0; }
  return $rc
}

stage_unit() {
  cmake -S . -B build >/dev/null && cmake --build build -j "$JOBS" >/dev/null || return 1
  ctest --test-dir build --output-on-failure -j "$JOBS"
}

stage_asan() {
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMNEMO_SANITIZE=address >/dev/null &&
    cmake --build build-asan -j "$JOBS" >/dev/null || return 1
  ctest --test-dir build-asan --output-on-failure -j "$JOBS" || return 1
  # The server under the sanitizers: the integration suite (random commands included) against
  # the ASan build of mnemo-server; the integration stage runs it against the optimised one.
  # Without LeakSanitizer for the servers: once, a server that got SHUTDOWN and two SIGTERMs
  # while exiting hung in LSan's exit check (its tracer waiting for a thread that spun in
  # sched_yield); the unit tests keep leak checking.
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 MNEMO_SANITIZED=1 \
    MNEMO_SERVER=$PWD/build-asan/mnemo-server run_pytest asan tests/integration
}

stage_tsan() {
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNEMO_SANITIZE=thread >/dev/null &&
    cmake --build build-tsan -j "$JOBS" >/dev/null || return 1
  ctest --test-dir build-tsan --output-on-failure -L stress || return 1
  # The server's threads under TSan: random commands from one and from four connections
  # against build-tsan/mnemo-server (the whole suite takes about 3 minutes there, this 25 s).
  MNEMO_SANITIZED=1 MNEMO_SERVER=$PWD/build-tsan/mnemo-server run_pytest tsan \
    tests/integration/test_command_fuzz.py
}

stage_fuzz() {
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNEMO_FUZZ=ON \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION" \
    >/dev/null || return 1
  local rc=0 src name targets=()
  for src in tests/fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    targets+=("$(basename "$src" .c)")
  done
  if [ ${#targets[@]} -eq 0 ]; then echo "fuzz: no targets"; return 0; fi
  cmake --build build-fuzz -j "$JOBS" --target "${targets[@]}" >/dev/null || return 1
  for name in "${targets[@]}"; do
    local short=${name#fuzz_} work
    work=$(mktemp -d)
    local args=(-max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0)
    [ -f "tests/fuzz/$short.dict" ] && args+=(-dict="$PWD/tests/fuzz/$short.dict")
    local seeds=()
    [ -d "tests/fuzz/corpus/$short" ] && seeds=("$PWD/tests/fuzz/corpus/$short")
    echo "fuzz: $name for ${FUZZ_SECONDS}s"
    # New inputs go to a scratch dir (first corpus dir); the seed corpus is only read.
    if ! "build-fuzz/$name" "${args[@]}" -artifact_prefix="$work/" "$work" "${seeds[@]}" \
          >"$work/log" 2>&1; then
      echo "fuzz: $name FAILED; last lines of its log:"; tail -n 40 "$work/log"; rc=1
    else
      grep -E '^Done|stat::number_of_executed_units' "$work/log" | tail -n 1
    fi
    rm -rf "$work"
  done
  return $rc
}

stage_integration() {
  local tests=(tests/integration/test_*.py)
  if [ ! -e "${tests[0]}" ]; then echo "integration: no tests yet"; return 0; fi
  if [ ! -x build/mnemo-server ]; then echo "integration: build/mnemo-server missing"; return 1; fi
  MNEMO_SERVER=$PWD/build/mnemo-server run_pytest integration tests/integration
}

passed=0 failed=0 failed_names=()
for s in "${stages[@]}"; do
  echo "=== stage: $s"
  start=$(date +%s)
  if "stage_$s"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names+=("$s"); fi
  echo "=== stage $s took $(( $(date +%s) - start ))s"
done
[ $failed -gt 0 ] && echo "failed stages: ${failed_names[*]}"
echo "stages: $passed passed, $failed failed"
[ $failed -eq 0 ]
