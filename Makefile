# The two commands a user needs: `make run` and `make test`. Both install missing Debian
# packages first (scripts/install-deps.sh: no apt-get when nothing is missing, never with
# ROOST_NO_APT=1), then configure and build with CMake.
#
#   make test              build and run every test
#   make test SAN=address  the same under ASan+UBSan (build-address/)
#   make test SAN=thread   the same under ThreadSanitizer (build-thread/)
#   make run               build and start the demo server (roost serve on 127.0.0.1:8080)
#   make bench             build and run the benchmarks (installs the peer servers too)
#   make fuzz              build the libFuzzer targets (clang, ASan+UBSan) and run each 60 s
#                          (FUZZ_SECONDS=N to change; CI runs 30 s)
#   make format            clang-format every source file

SAN ?=
CC ?= cc
JOBS ?= $(shell nproc)
ifeq ($(SAN),)
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
else
BUILD ?= build-$(SAN)
BUILD_TYPE ?= Debug
endif

FUZZ_SECONDS ?= 60

.PHONY: all deps build test run bench fuzz format clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DROOST_SANITIZE=$(SAN) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j 1

run: build
	./$(BUILD)/roost serve

# Each script alternates roost with its peer and prints a Markdown table (docs/benchmarks.md).
bench: build
	@./scripts/install-deps.sh --bench
	./bench/run_post.sh $(BUILD)
	./bench/run_task.sh $(BUILD)
	./bench/run_echo.sh $(BUILD)
	./bench/run_http.sh $(BUILD)
	./bench/run_upload.sh $(BUILD)
	./bench/run_static.sh $(BUILD)
	./bench/run_load.sh $(BUILD)
	./bench/run_pump.sh $(BUILD)
	./bench/run_pg.sh $(BUILD)

fuzz:
	@./scripts/install-deps.sh --fuzz
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DROOST_SANITIZE=address -DROOST_FUZZ=ON -DROOST_BUILD_TESTS=OFF -DROOST_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@./tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-*
