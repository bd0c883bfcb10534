# Outpost: the commands a newcomer types. The build itself is meson + ninja.
#   make run    install what is missing, build, start the system (Ctrl-C stops it)
#   make test   install what is missing, build release + ASan/UBSan, run every test
#   make bench  run the benchmarks under bench/ (prints figures and ratios)
#   make fuzz   time-boxed libFuzzer runs of every harness (FUZZ_SECONDS each)
#   make install   release build installed under PREFIX (default /usr/local; DESTDIR honoured)
#   make deb       the Debian package, in build/deb/
#   make agent     the agent-only build (-Dapps=agent, -Os, LTO) in build/agent
#   make cross ARCH=arm64|armhf|mipsel|s390x   that agent cross-built (Debian's
#                  gcc-TRIPLET, the target's libraries in $(SYSROOT)/ARCH) in
#                  build/cross-ARCH; s390x (big-endian) also builds the unit tests

PYTHON      ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
JOBS        ?= $(shell nproc)

RELEASE := build/release
ASAN    := build/asan
FUZZ    := build/fuzz

PREFIX      ?= /usr/local
INSTALL := build/install

.PHONY: all deps build asan test unit integration fuzz-replay run bench fuzz install deb clean \
	agent cross cross-all cross-test

all: build

deps:
	@./scripts/install-deps

$(RELEASE)/build.ninja:
	meson setup $(RELEASE) --buildtype=release

$(ASAN)/build.ninja:
	meson setup $(ASAN) --buildtype=debugoptimized -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all

# the agent alone, as small as it builds: routers and boards (docs/openwrt.md)
AGENT := build/agent
AGENT_OPTS := -Dapps=agent --buildtype=minsize -Db_lto=true

$(AGENT)/build.ninja:
	meson setup $(AGENT) $(AGENT_OPTS)

$(FUZZ)/build.ninja:
	CC=clang-14 meson setup $(FUZZ) --buildtype=debugoptimized -Dfuzzing=true -Db_lundef=false

# meson picks up application and test directories when it configures; a
# checkout that gained one since needs a reconfigure, which this stamp detects.
LAYOUT := $(shell ls -d src/*/ tests/unit/*/ tests/fuzz/*/ 2>/dev/null | cksum | cut -d' ' -f1)
reconf = @test "$$(cat $(1)/.layout 2>/dev/null)" = "$(LAYOUT)" || \
	{ meson setup --reconfigure $(1) >/dev/null && echo "$(LAYOUT)" > $(1)/.layout; }

build: deps $(RELEASE)/build.ninja
	$(call reconf,$(RELEASE))
	ninja -C $(RELEASE) -j $(JOBS)

asan: deps $(ASAN)/build.ninja
	$(call reconf,$(ASAN))
	ninja -C $(ASAN) -j $(JOBS)

# Sanitizers: any report fails the run; leaks included.
export ASAN_OPTIONS  := detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

agent: deps $(AGENT)/build.ninja
	$(call reconf,$(AGENT))
	ninja -C $(AGENT) -j $(JOBS) src/outpost

# Cross builds of the agent (docs/openwrt.md). The toolchains come from
# `scripts/install-deps --cross`, which also unpacks the target's libraries
# into SYSROOT/ARCH (scripts/cross-sysroot). Only the agent binary is built, except on s390x, the big-endian
# target, whose unit tests and fuzz replays run under qemu in `make test`.
CROSS_ARCHES := arm64 armhf mipsel s390x
SYSROOT ?= $(or $(OUTPOST_SYSROOT),/usr/local/lib/outpost-sysroot)
triplet_arm64 := aarch64-linux-gnu
triplet_armhf := arm-linux-gnueabihf
triplet_mipsel := mipsel-linux-gnu
triplet_s390x := s390x-linux-gnu
# the architectures whose compiler and qemu are installed
CROSS_HAVE := $(foreach a,$(CROSS_ARCHES),$(if $(shell command -v $(triplet_$(a))-gcc 2>/dev/null),$(a)))
CROSS_HAVE := $(if $(shell command -v qemu-aarch64 2>/dev/null),$(CROSS_HAVE))

cross:
	@case " $(CROSS_ARCHES) " in *" $(ARCH) "*) ;; \
	  *) echo "usage: make cross ARCH=arm64|armhf|mipsel|s390x" >&2; exit 2 ;; esac
	@./scripts/install-deps --cross
	@test -f build/cross-$(ARCH)/build.ninja || meson setup build/cross-$(ARCH) $(AGENT_OPTS) \
	  --cross-file cross/$(ARCH).ini --cross-file $(SYSROOT)/$(ARCH).ini --cross-file cross/linux.ini
	$(call reconf,build/cross-$(ARCH))
	ninja -C build/cross-$(ARCH) -j $(JOBS) $(if $(filter s390x,$(ARCH)),,src/outpost)

# every architecture whose toolchain is installed (none: nothing to do)
cross-all:
	@for a in $(CROSS_HAVE); do $(MAKE) --no-print-directory cross ARCH=$$a || exit 1; done

# the big-endian run of the codec and network floors' tests under qemu
cross-test: cross-all
ifneq ($(filter s390x,$(CROSS_HAVE)),)
	meson test -C build/cross-s390x --suite unit --suite fuzz-replay --print-errorlogs \
	  --num-processes $(JOBS) --timeout-multiplier 3
else
	@echo "cross-test: SKIPPED: no s390x cross toolchain (scripts/install-deps --cross)"
endif

# The PostgreSQL pass: every integration test that starts an `outpost acs`
# once more, each ACS on a database of its own (tests/pg_server.py: one
# throwaway server for the run; skipped without the PostgreSQL binaries).
# Those are the tests marked `acs`: test_acs_*.py and test_dash_*.py by name,
# the others by pytest.mark.acs (a mark, not a file list: some files start an
# ACS in only some tests). conftest.py fails a test that starts an ACS
# without the mark, so a new one cannot be left out. Under ASan on 2 cores
# the pass takes about 12 minutes, the ASan pass before it about 18, the whole
# of `make test` from a clean clone about 37 (2026-12-04). The dashboard's
# browser tests spend their time in the browser, as long with the release
# binary, so they run on ASan like the rest. Each pass ends with its 15
# slowest tests (--durations), to see where the run's time goes.

test: build asan cross-test
	meson test -C $(RELEASE) --suite unit --suite store-pg --print-errorlogs --num-processes $(JOBS)
	meson test -C $(ASAN) --suite unit --suite store-pg --suite fuzz-replay --print-errorlogs --num-processes $(JOBS)
	OUTPOST_BIN=$(CURDIR)/$(ASAN)/src/outpost $(PYTHON) -m pytest -q -x --durations=15 tests/integration
	OUTPOST_TEST_DB=postgres OUTPOST_BIN=$(CURDIR)/$(ASAN)/src/outpost $(PYTHON) -m pytest -q -x \
	  --durations=15 -m acs tests/integration
	@echo "make test: all passed"

run: build
	@./scripts/run-demo $(RELEASE)/src/outpost

bench: build
	@./scripts/install-deps --bench
	@# lib.sh is sourced by the others; nat-reach.sh runs nat-reach-xmpp.sh itself
	@for b in bench/*.sh; do case $$b in bench/lib.sh|bench/nat-reach-xmpp.sh) continue;; esac; \
	  echo "== $$b"; "$$b" $(RELEASE)/src/outpost || exit 1; done

fuzz: deps $(FUZZ)/build.ninja
	$(call reconf,$(FUZZ))
	ninja -C $(FUZZ) -j $(JOBS)
	@./scripts/fuzz-run $(FUZZ) $(FUZZ_SECONDS)

install: deps
	@test -f $(INSTALL)/build.ninja || meson setup $(INSTALL) --buildtype=release --prefix=$(PREFIX)
	meson configure $(INSTALL) -Dprefix=$(PREFIX)
	ninja -C $(INSTALL) -j $(JOBS)
	meson install -C $(INSTALL) $(if $(DESTDIR),--destdir $(DESTDIR),)

deb: deps
	@./scripts/build-deb build/deb

clean:
	rm -rf build
