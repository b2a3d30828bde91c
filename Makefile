# lockstep: a thin wrapper around CMake + Ninja + CTest.
#   make            build build/lockstep
#   make deps       install build and test prerequisites (Debian, apt-get)
#   make check      deps, build, run every test
#   make demo       build and run the main example
#   make asan       build (Debug: assertions on) and test with -fsanitize=address,undefined
#   make fuzz       run the loader fuzzer with libFuzzer (FUZZ_SECONDS=600)
#   make install    install to $(PREFIX) (default /usr/local): bin/lockstep, its man
#                   page, share/doc/lockstep/, bash and zsh completion
#   make bench      build lockstep, run bench/run-bench.sh, write $(BUILD)/bench-results.md

BUILD ?= build
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 600
CMAKE_FLAGS ?=

DEB_PACKAGES := gcc make cmake ninja-build pkg-config libyaml-dev libjansson-dev \
	libcmocka-dev libuv1-dev libsqlite3-dev sqlite3 libcurl4-openssl-dev python3 jq graphviz time \
	man-db groff-base zsh procps

# COMMAND:PACKAGE pairs: the package is installed only when the command is
# not on PATH. kubectl (tests/k8s) may come from elsewhere, such as Google
# Cloud SDK's `kubectl` package, which conflicts with kubernetes-client.
DEB_COMMANDS := kubectl:kubernetes-client

.PHONY: all build deps check demo asan fuzz install clean bench

all: build

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@sh scripts/deps.sh $(DEB_PACKAGES) $(DEB_COMMANDS)

check: deps
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: deps
	$(MAKE) build
	@sh examples/multi-service/demo.sh $(BUILD)/lockstep

asan: deps
	$(MAKE) build BUILD=build-asan CMAKE_FLAGS="-DLOCKSTEP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"
	cd build-asan && ctest --output-on-failure -j $(JOBS)

fuzz:
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DLOCKSTEP_LIBFUZZER=ON \
		-DLOCKSTEP_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-fuzz -j $(JOBS) --target fuzz_load
	mkdir -p build-fuzz/corpus-load
	build-fuzz/tests/fuzz_load -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		build-fuzz/corpus-load tests/fuzz/corpus/load

# The benchmark suite (bench/run-bench.sh, under 5 minutes on 2 cores; BENCH_FULL=1
# adds N = 5,000). It needs jq and GNU time (Debian packages `jq` and `time`).
.PHONY: bench
bench: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target lockstep
	bench/run-bench.sh $(BUILD)/lockstep > $(BUILD)/bench-results.md.tmp
	mv $(BUILD)/bench-results.md.tmp $(BUILD)/bench-results.md
	sh bench/splice.sh $(BUILD)/bench-results.md docs/performance.md
	@echo "benchmark results written to $(BUILD)/bench-results.md and docs/performance.md"

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
