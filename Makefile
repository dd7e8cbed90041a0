# SPDX-License-Identifier: GPL-2.0
#
# rgup: the user-facing make wrapper. kbuild itself reads ./Kbuild.
#
#   make              build the modules against the cached test kernel
#   make KDIR=<dir>   ... against any other configured and built 7.3 tree
#   make demo         bootstrap, build, boot a test kernel, show rgup working
#   make check        host checks + build + all tests in QEMU
#   make check-debug  the same tests on the debug kernel (KASAN, lockdep, kmemleak)
#   make bench        every benchmark, rgup vs its upstream C counterpart, in one
#                     boot: results.md, results.csv and PNG plots in
#                     ~/.cache/rgup/logs/bench-<time>/ (installs python3-matplotlib)
#   make bench-pin|bench-mirror|bench-p2p|bench-dma   one of them, the same way
#   make bench-count  instructions and TCG blocks per pin, P2P map, mirror fault-in,
#                     munmap and pin through gup_test's uAPI, by kernel symbol: rgup,
#                     the floor and the C (count-bench.sh; a QEMU plugin)
#   make sdk          what an outside driver builds against, in
#                     sdk/<kernel release>/ (SDK_DIR=... to choose)
#   make install      rgup.ko into /lib/modules/<release>/updates/, depmod, and
#                     the SDK into /usr/src/rgup/<release>/ (DESTDIR honoured)
#   make rustdoc      the rgup crate's API as HTML in Documentation/output/rust/rustdoc/
#                     (the kernel's rustdoc, after the module build), warnings are errors
#   make rustdoc-json the same as rustdoc JSON: rust/doc/rgup.json
#   make htmldocs     Documentation/rgup/ as HTML in Documentation/output/ (Sphinx,
#                     installs python3-sphinx), warnings are errors
#
# See README.md and Documentation/rgup/testing.rst.

RGUP_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
RGUP_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rgup
export RGUP_CACHE

# The test kernel build (O= directory) made by tools/testing/kernel/build.sh.
KDIR ?= $(RGUP_CACHE)/build/test
KSRC = $(shell readlink -f $(KDIR)/source 2>/dev/null || echo $(KDIR))

# The toolchain the cached test kernel was built with (see
# tools/testing/rgup-env.sh). With KDIR= set, override LLVM/RUSTC/... to
# match that tree's toolchain.
LLVM ?= -19
RUSTC ?= /usr/bin/rustc
CLIPPY_DRIVER ?= /usr/bin/clippy-driver
RUSTFMT ?= /usr/bin/rustfmt
BINDGEN ?= $(RGUP_CACHE)/tools/bin/bindgen
export LIBCLANG_PATH ?= /usr/lib/llvm-19/lib

KMAKE = $(MAKE) -C $(KDIR) M=$(RGUP_ROOT) LLVM=$(LLVM) RUSTC=$(RUSTC) \
	CLIPPY_DRIVER=$(CLIPPY_DRIVER) BINDGEN=$(BINDGEN)

RUST_SOURCES = $(shell cd $(RGUP_ROOT) && git ls-files -co --exclude-standard \
	'*.rs' 2>/dev/null | grep -v _generated.rs)
C_SOURCES = $(shell cd $(RGUP_ROOT) && git ls-files -co --exclude-standard \
	'*.c' '*.h' 2>/dev/null)

.PHONY: all modules kdir-check clean bootstrap kernel kernel-debug \
	rustfmt rustfmtcheck clippy checkpatch rust-analyzer selftests upstream-selftests \
	check check-debug demo bench bench-pin bench-mirror bench-p2p bench-dma bench-count help sdk install
.PHONY: htmldocs cleandocs rustdoc rustdoc-json

all: modules

# The kernel options rgup's modules need (README.md, "Requirements"), read
# from the kernel build's include/config/auto.conf, so that a kernel without
# them stops here, naming them, rather than in rustc, modpost or insmod.
# KUnit is only needed for rgup's KUnit suites: without it they are not built.
RGUP_KCONFIG_NEEDED := RUST MODULES MMU_NOTIFIER HMM_MIRROR PCI_P2PDMA ZONE_DEVICE DEBUG_FS

kdir-check:
	@test -f $(KDIR)/Module.symvers || { \
	  echo "rgup: no built kernel in KDIR=$(KDIR)." >&2; \
	  echo "rgup: run 'make bootstrap kernel' (or pass KDIR=<built 7.3 tree>)." >&2; \
	  exit 1; }
	@conf=$(KDIR)/include/config/auto.conf; missing=; \
	test -f $$conf || { \
	  echo "rgup: KDIR=$(KDIR) has no include/config/auto.conf: not a configured kernel build." >&2; \
	  exit 1; }; \
	for c in $(RGUP_KCONFIG_NEEDED); do \
	  grep -q "^CONFIG_$$c=y$$" $$conf 2>/dev/null || missing="$$missing CONFIG_$$c"; \
	done; \
	test -z "$$missing" || { \
	  echo "rgup: the kernel in KDIR=$(KDIR) lacks:$$missing" >&2; \
	  echo "rgup: rgup needs each of them =y (read from $$conf)." >&2; \
	  echo "rgup: MMU_NOTIFIER and HMM_MIRROR cannot be set alone: an option must select" >&2; \
	  echo "rgup: them, e.g. TEST_HMM=m as tools/testing/kernel/test.config does." >&2; \
	  echo "rgup: See README.md, Requirements." >&2; \
	  exit 1; }; \
	grep -q '^CONFIG_KUNIT=y$$' $$conf || \
	  echo "rgup: note: CONFIG_KUNIT is not =y in KDIR=$(KDIR): rgup's KUnit suites are not built." >&2

modules: kdir-check
	$(KMAKE) modules

# Lints every crate with clippy; any warning fails.
clippy: kdir-check
	$(KMAKE) CLIPPY=1 KRUSTFLAGS=-Dwarnings -B modules

rustfmt:
	$(RUSTFMT) --edition 2021 --config-path $(KSRC)/.rustfmt.toml $(RUST_SOURCES)

rustfmtcheck:
	$(RUSTFMT) --check --edition 2021 --config-path $(KSRC)/.rustfmt.toml $(RUST_SOURCES)

checkpatch:
	$(KSRC)/scripts/checkpatch.pl --strict --no-tree --terse --show-types \
		--ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES -f $(C_SOURCES)

rust-analyzer: kdir-check
	$(KMAKE) rust-analyzer
	scripts/rust_analyzer_deps.py rust-project.json $(RGUP_ROOT)

selftests: kdir-check
	$(MAKE) -C tools/testing/selftests/rgup KDIR=$(KDIR)

# The kernel's own mm selftests that rgup's compat nodes serve, built from
# the kernel tree (never copied into this repository).
UPSTREAM_MM_OUT ?= $(RGUP_CACHE)/build/selftests-mm
upstream-selftests: kdir-check
	mkdir -p $(UPSTREAM_MM_OUT)
	$(MAKE) -C $(KSRC)/tools/testing/selftests/mm OUTPUT=$(UPSTREAM_MM_OUT) \
		KHDR_INCLUDES="-isystem $(KDIR)/usr/include" \
		$(UPSTREAM_MM_OUT)/gup_longterm $(UPSTREAM_MM_OUT)/cow $(UPSTREAM_MM_OUT)/hmm-tests

clean:
	-test -f $(KDIR)/Makefile && $(KMAKE) clean
	$(MAKE) -C tools/testing/selftests/rgup clean
	$(MAKE) -C tools/testing/demo clean
	$(MAKE) -C tools/testing/bench clean
	rm -f src/*_generated.* tools/testing/rgup_test/*_generated.* rust/*.rmeta
	rm -rf sdk

bootstrap:
	tools/testing/bootstrap.sh

kernel:
	tools/testing/kernel/build.sh test

check:
	tools/testing/check.sh

# The whole suite on the debug kernel (KASAN, lockdep, kmemleak, ...).
check-debug:
	tools/testing/check.sh --debug

demo:
	tools/testing/demo.sh

# Benchmarks: not part of check; they report ratios, they never fail on a time.
bench:
	tools/testing/bench/run-bench.sh

bench-pin:
	tools/testing/bench/run-bench.sh pin

bench-mirror:
	tools/testing/bench/run-bench.sh mirror

bench-p2p:
	tools/testing/bench/run-bench.sh p2p

bench-dma:
	tools/testing/bench/run-bench.sh dma

bench-count:
	tools/testing/bench/count-bench.sh

# The rgup crate's API, by the kernel's rustdoc with the crate's own flags
# (see the rustdoc section of Kbuild): HTML in
# Documentation/output/rust/rustdoc/rgup/, JSON in rust/doc/rgup.json.
# Warnings are errors. Both build the modules first.
RUSTDOC ?= /usr/bin/rustdoc

rustdoc: kdir-check
	$(KMAKE) RUSTDOC=$(RUSTDOC) RGUP_RUSTDOC=html modules

rustdoc-json: kdir-check
	$(KMAKE) RUSTDOC=$(RUSTDOC) RGUP_RUSTDOC=json modules

# Documentation/rgup/ as HTML in Documentation/output/ (Debian's Sphinx,
# installed on first use); warnings are errors.
htmldocs:
	scripts/rgup_htmldocs.sh

clean: cleandocs
cleandocs:
	rm -rf Documentation/output rust/doc

help:
	@sed -n '3,/^$$/p' Makefile

# --- the SDK: what a driver outside this tree builds against -----------------
#
# librgup.rmeta (the crate's metadata), rgup's exports (Module.symvers), the
# uAPI header and rgup.mk, the make fragment an outside driver's Kbuild
# includes. rgup.mk records the kernel release, the rustc and the kernel
# crate's metadata it was built with and refuses, at build time, a build that
# differs in any (tools/testing/sdk/rgup.mk.in). See
# Documentation/rgup/drivers.rst.

KRELEASE = $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
SDK_DIR ?= $(RGUP_ROOT)/sdk/$(KRELEASE)
# Where `make install` puts the SDK, one directory per kernel release.
SDK_PREFIX ?= /usr/src/rgup
MODULE_DIR ?= updates

sdk: modules
	tools/testing/sdk/make-sdk.sh "$(KDIR)" "$(RUSTC)" "$(SDK_DIR)"

install: sdk
	install -D -m 0644 rgup.ko "$(DESTDIR)/lib/modules/$(KRELEASE)/$(MODULE_DIR)/rgup.ko"
	rm -rf "$(DESTDIR)$(SDK_PREFIX)/$(KRELEASE)"
	mkdir -p "$(DESTDIR)$(SDK_PREFIX)"
	cp -r "$(SDK_DIR)" "$(DESTDIR)$(SDK_PREFIX)/$(KRELEASE)"
	depmod $(if $(DESTDIR),-b "$(DESTDIR)") "$(KRELEASE)"
