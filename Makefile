# buildtrail: a thin wrapper over Meson. `make test` is what CI runs.
# Every target installs what it needs first (`make deps`, a no-op when the
# Debian packages are present).

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
BENCH_BUILD?= build-release
FUZZ_SECONDS ?= 60
MESON      ?= meson

# Debian 12 packages the build and the tests need (README: Dependencies).
DEPS := g++ meson ninja-build pkg-config python3 \
        libzstd-dev libsodium-dev rapidjson-dev doctest-dev \
        libsqlite3-dev libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libuv1-dev \
        libtomlplusplus-dev libyaml-cpp-dev libre2-dev libpsl-dev curl openssl clang libclang-rt-14-dev strace util-linux \
        libbpf-dev bpftool libelf-dev zlib1g-dev podman runc busybox-static clang-format \
        git python3-pip python3-setuptools python3-wheel \
        rsyslog rsyslog-gnutls libivykis0 libnet1 libwrap0 libjson-c5 libpcre3 python3-securesystemslib \
        libprotobuf-dev protobuf-compiler nodejs chromium

.PHONY: all deps build demo test asan fuzz bench docs format clean

all: build

deps:
	@scripts/deps.sh $(DEPS)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Starts a collector, runs a sample build under the sensor, prints its trail.
demo: build
	@scripts/demo.sh $(BUILD)

test: build
	@scripts/otlp-deps.sh
	@scripts/ui-deps.sh
	@scripts/run-tests.sh $(BUILD)

asan: deps
	@[ -f $(ASAN_BUILD)/build.ninja ] || $(MESON) setup $(ASAN_BUILD) \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C $(ASAN_BUILD)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	 scripts/run-tests.sh $(ASAN_BUILD)

fuzz: deps
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CXX=clang++ $(MESON) setup $(FUZZ_BUILD) \
	    -Dfuzz=true -Db_lundef=false -Dbuildtype=debugoptimized
	ninja -C $(FUZZ_BUILD)
	@scripts/run-fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: deps
	@[ -f $(BENCH_BUILD)/build.ninja ] || $(MESON) setup $(BENCH_BUILD) -Dbuildtype=release
	ninja -C $(BENCH_BUILD)
	@scripts/run-bench.sh $(BENCH_BUILD)

# Splices the parts of the reference pages derived from declarations (events,
# config, attribution, secret rules, upload tools) into docs/; the prose
# around them is written in the pages. Tests fail when a page is stale.
docs: build
	$(BUILD)/agent/gen-docs write .

# The tree's C++ and C through clang-format (.clang-format); `make test`
# checks it.
format: deps
	@scripts/format.sh fix

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(BENCH_BUILD)
