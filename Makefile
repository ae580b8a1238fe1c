# The two commands a user needs: `make run` and `make test`. Both install missing Debian
# packages first (scripts/install-deps.sh: no apt-get when nothing is missing, never with
# ROOST_NO_APT=1), then configure and build with CMake.
#
#   make test              build and run every test
#   make test SAN=address  the same under ASan+UBSan (build-address/)
#   make test SAN=thread   the same under ThreadSanitizer (build-thread/)
#   make run               build and start the demo server (roost serve on 127.0.0.1:8080)
#   make bench             build and run the benchmarks (installs the peer servers too)
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

.PHONY: all deps build test run bench format clean

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

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-*
