#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: everything that proves rgup works, in one command.
#
#   1. bootstrap (a no-op when the cache is warm) and the test kernel
#   2. host checks: rustfmt --check, clippy with warnings as errors,
#      checkpatch --strict on the C files
#   3. build the modules and the kselftests
#   4. boot the test kernel in QEMU and run tools/testing/vm/guest-check.sh:
#      KUnit suites at insmod, the rgup kselftests, leak invariants; the
#      runner fails on any kernel splat or timeout
#   5. count every TAP result and print "N passed, N failed, N skipped"
#
# Results and logs go to $RGUP_LOGS/check-<time>/ (printed at the end).

set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/rgup-env.sh"
cd "$RGUP_ROOT"

"$here/bootstrap.sh" || exit 1
"$here/kernel/build.sh" test || exit 1

out=$RGUP_LOGS/check-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
host_tap=$out/host.tap
host_n=0
host_lines=()

# host_check DESCRIPTION COMMAND...: run, log, one TAP line.
host_check() {
	local what=$1 log
	shift
	host_n=$((host_n + 1))
	log=$out/host-$host_n.log
	rgup_stage "check: $what"
	if "$@" > "$log" 2>&1; then
		host_lines+=("ok $host_n $what")
		return 0
	fi
	host_lines+=("not ok $host_n $what")
	echo "rgup: check: '$what' failed; last lines of $log:" >&2
	tail -n 30 "$log" >&2
	return 1
}

host_check "rustfmt --check" make -s rustfmtcheck
host_check "checkpatch --strict on C sources" make -s checkpatch
host_check "clippy, warnings are errors" make clippy
built=0
host_check "build modules" make modules && built=1
host_check "build kselftests" make selftests || built=0
host_check "build upstream gup_longterm, cow and hmm-tests from the kernel tree" \
	make upstream-selftests || built=0

vm_rc=skipped
if [ "$built" = 1 ]; then
	rgup_stage "check: tests in QEMU"
	KSRC=$RGUP_KSRC "$here/vm/run.sh" --out "$out" --log "$out/console.log" \
		--timeout "${RGUP_VM_TIMEOUT:-1200}" -- \
		env KSRC="$RGUP_KSRC" KBUILD="$RGUP_KBUILD" UPSTREAM_MM="$RGUP_CACHE/build/selftests-mm" \
		"$here/vm/guest-check.sh" "$out" > "$out/vm.out" 2>&1
	vm_rc=$?
	tail -n 5 "$out/vm.out" >&2
fi
# Two short boots with the P2P topology (PCIe switch, NVMe CMB, edu): edu
# behind the NVMe's switch (bus-address DMA end to end), then on another
# root port (unreachable: EREMOTEIO).
if [ "$built" = 1 ]; then
	rgup_stage "check: P2P DMA in QEMU (switch)"
	"$here/vm/run.sh" --p2p --out "$out" --log "$out/console-p2p.log" --timeout 600 -- \
		"$here/vm/guest-p2p.sh" "$out" > "$out/vm-p2p.out" 2>&1 ||
		vm_rc=${vm_rc/#0/p2p}
	rgup_stage "check: P2P DMA in QEMU (split root ports)"
	"$here/vm/run.sh" --p2p-split --out "$out" --log "$out/console-p2p-split.log" --timeout 600 -- \
		"$here/vm/guest-p2p.sh" "$out" split > "$out/vm-p2p-split.out" 2>&1 ||
		vm_rc=${vm_rc/#0/p2p}
fi

host_n=$((host_n + 1))
case $vm_rc in
0) host_lines+=("ok $host_n VM run: clean exit, no kernel splat") ;;
124) host_lines+=("not ok $host_n VM run: timed out") ;;
125) host_lines+=("not ok $host_n VM run: kernel splat in the console log") ;;
skipped) host_lines+=("not ok $host_n VM run: not started, the build failed") ;;
p2p) host_lines+=("not ok $host_n VM run with the P2P topology failed (see vm-p2p.out)") ;;
*) host_lines+=("not ok $host_n VM run: exit status $vm_rc") ;;
esac

{
	echo "TAP version 13"
	echo "1..$host_n"
	printf '%s\n' "${host_lines[@]}"
} > "$host_tap"

rgup_stage "check: results in $out"
shopt -s nullglob
tap_files=("$host_tap")
for f in "$out"/*.tap; do
	[ "$f" = "$host_tap" ] || tap_files+=("$f")
done
python3 "$here/tap_summary.py" "${tap_files[@]}"
