#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: from nothing to rgup running in a test kernel, with a progress
# line per stage. The first run bootstraps the toolchain and builds the test
# kernel; how long that and a warm run take: README.md, "How long it takes".

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/rgup-env.sh"
cd "$RGUP_ROOT"

rgup_stage "demo: bootstrap"
"$here/bootstrap.sh"
rgup_stage "demo: test kernel"
"$here/kernel/build.sh" test
rgup_stage "demo: build rgup.ko and the sample driver"
make -s modules > /dev/null
make -s selftests > /dev/null
make -s -C tools/testing/demo > /dev/null

out=$RGUP_LOGS/demo-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
rgup_stage "demo: boot the test kernel in QEMU and run the demo"
rc=0
"$here/vm/run.sh" --out "$out" --log "$out/console.log" --timeout 600 -- \
	"$here/vm/guest-demo.sh" > "$out/vm.out" 2>&1 || rc=$?
# Show what the guest printed, without the kernel's boot chatter.
sed -n '/^=== /,$p' "$out/vm.out" | grep -v '^\[ *[0-9]*\.[0-9]*\]' | sed -n '/^=== /,/^=== end/p'
rgup_stage "demo: boot again with the P2P topology (PCIe switch, NVMe CMB, edu)"
"$here/vm/run.sh" --p2p --out "$out" --log "$out/console-p2p.log" --timeout 600 -- \
	"$here/vm/guest-demo-p2p.sh" > "$out/vm-p2p.out" 2>&1 || rc=$?
sed -n '/^=== /,$p' "$out/vm-p2p.out" | grep -v '^\[ *[0-9]*\.[0-9]*\]' | sed -n '/^=== /,/^=== end/p'
rgup_stage "demo: done (status $rc); full console log: $out/console.log"
exit "$rc"
