# The verbs people type. CMake does the building underneath; each flavour has its own build dir.
#   make          build the library, tests, examples and benchmarks (build/)
#   make run      build and start mnemo-server in the foreground (in memory, no configuration)
#   make test     unit tests, ASan+UBSan unit tests, TSan stress test, fuzzers briefly,
#                 integration tests against the real server
#   make bench    engine and server benchmarks, side by side with redis-server and memcached
JOBS        ?= $(shell nproc)
FUZZ_SECONDS ?= 20
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-unit test-asan test-tsan test-fuzz test-integration bench clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

run: build
	@if [ -x build/mnemo-server ]; then exec build/mnemo-server $(ARGS); \
	 else echo "mnemo-server is not built yet (see the server issue); the library is in build/"; exit 1; fi

test: build
	@bash scripts/test.sh

test-unit: build
	@bash scripts/test.sh unit
test-asan: deps
	@bash scripts/test.sh asan
test-tsan: deps
	@bash scripts/test.sh tsan
test-fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/test.sh fuzz
test-integration: build
	@bash scripts/test.sh integration

bench: build
	@bash scripts/deps.sh bench
	@bash bench/run.sh

clean:
	rm -rf build build-asan build-tsan build-fuzz
