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
rgup_stage "demo: build rgup.ko, the test module, the sample drivers and the demo programs"
make -s modules > /dev/null
make -s selftests > /dev/null
make -s -C tools/testing/demo > /dev/null

out=$RGUP_LOGS/demo-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
rgup_stage "demo: boot the test kernel in QEMU and run the demo"
rc=0
# show_transcript TRANSCRIPT VM_OUT: what the guest script printed. It writes
# its own transcript into the results directory, so that kernel messages on
# the console cannot interleave with it; without one (the boot failed), the
# console output after the first "=== " line, without the kernel's lines.
show_transcript() {
	if [ -s "$1" ]; then
		cat "$1"
	else
		sed -n '/^=== /,$p' "$2" | grep -v '^\[ *[0-9]*\.[0-9]*\]' || true
	fi
}
"$here/vm/run.sh" --out "$out" --log "$out/console.log" --timeout 600 -- \
	"$here/vm/guest-demo.sh" "$out/demo.txt" > "$out/vm.out" 2>&1 || rc=$?
show_transcript "$out/demo.txt" "$out/vm.out"
rgup_stage "demo: boot again with the P2P topology (PCIe switch, NVMe CMB, edu)"
"$here/vm/run.sh" --p2p --out "$out" --log "$out/console-p2p.log" --timeout 600 -- \
	"$here/vm/guest-demo-p2p.sh" "$out/demo-p2p.txt" > "$out/vm-p2p.out" 2>&1 || rc=$?
show_transcript "$out/demo-p2p.txt" "$out/vm-p2p.out"
rgup_stage "demo: done (status $rc); full console logs: $out/console.log, $out/console-p2p.log"
cat <<'NEXT'
Where to go next:
  Documentation/rgup/drivers.rst     write a driver on rgup, from an empty directory
                                     to a loaded module (make htmldocs renders the pages)
  Documentation/rgup/migrating.rst   the C a driver has today, and its rgup equivalent
  Documentation/rgup/pin.rst, mirror.rst, p2p.rst   what each part does and promises
  make check                         every test; Documentation/rgup/testing.rst
NEXT
exit "$rc"
