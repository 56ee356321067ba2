# Thin wrapper over CMake/ctest. The two set-up commands are `make up` and `make check`.
BUILD    ?= build/release
ASAN     ?= build/asan
FUZZ     ?= build/fuzz
JOBS     ?= $(shell nproc)
FUZZ_SECONDS ?= 30

.PHONY: all deps build up check check-asan bench fuzz clean

all: build

deps:
	@tools/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Build, start the whole stack on a simulated pool, print where to connect; Ctrl-C stops it.
up: build
	@tools/xoc-stack --build $(BUILD)

# Install, build, run every test (unit, service, e2e, compat, fuzz corpora).
check: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE bench

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer; the compat tests too (the
# real clients drive the sanitized services: a report in a service's log fails the test).
check-asan: deps
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DXOC_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)
	@cd $(ASAN) && ctest --output-on-failure -j $(JOBS) -LE bench

# Benchmarks: each compares against a baseline in the same run and prints ratios.
bench: build
	@cd $(BUILD) && ctest --output-on-failure -L bench -V

# libFuzzer targets, each run for FUZZ_SECONDS.
fuzz: deps
	@cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Debug -DXOC_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(FUZZ) -j $(JOBS)
	@tools/run-fuzz $(FUZZ) $(FUZZ_SECONDS)

clean:
	rm -rf build
