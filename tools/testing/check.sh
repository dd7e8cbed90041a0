#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: everything that proves rgup works, in one command.
#
#   1. bootstrap (a no-op when the cache is warm) and the test kernel
#   2. host checks: rustfmt --check, clippy with warnings as errors,
#      checkpatch --strict on the C files
#      (and the tests of bootstrap's Debian mirror parser, Sphinx htmldocs
#      and, after the module build, rustdoc, warnings as errors)
#   3. build the modules and the kselftests
#   4. boot the test kernel in QEMU and run tools/testing/vm/guest-check.sh:
#      KUnit suites at insmod, the rgup kselftests, leak invariants; the
#      runner fails on any kernel splat or timeout. Then three short boots:
#      the P2P topology twice (guest-p2p.sh), ZONE_MOVABLE (guest-movable.sh)
#   5. count every TAP result against tools/testing/expected-results (every
#      file and KUnit suite there, with at least its results and at most its
#      skips) and print "N passed, N failed, N skipped"
#
# Results and logs go to $RGUP_LOGS/check-<time>/ (printed at the end).
#
# `make check-debug` (check.sh --debug) does the same on the debug kernel
# (tools/testing/kernel/debug.config: KASAN, lockdep, kmemleak, ...): the
# lint checks are skipped, the modules and kselftests are built in a copy of
# the tree in the cache (the tree's own build is for the test kernel), the
# VM runs get longer time limits, and guest-check.sh ends with a kmemleak
# scan.

set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
debug=
if [ "${1:-}" = --debug ]; then
	debug=1
	export RGUP_KCONFIG_NAME=debug
fi
. "$here/rgup-env.sh"
cd "$RGUP_ROOT"

"$here/bootstrap.sh" || exit 1
"$here/kernel/build.sh" "$RGUP_KCONFIG_NAME" || exit 1

# The tree whose modules and selftests the VM runs.
tree=$RGUP_ROOT
mm_out=$RGUP_CACHE/build/selftests-mm
vm_timeout=${RGUP_VM_TIMEOUT:-1200}
p2p_timeout=600
stress_seconds=10
# Multiplies the guest scripts' per-program time limits (each below the
# VM's limit, so that a hang is named).
time_scale=1
if [ -n "$debug" ]; then
	tree=$RGUP_CACHE/build/debug-tree
	mm_out=$RGUP_CACHE/build/selftests-mm-debug
	vm_timeout=${RGUP_VM_TIMEOUT:-3600}
	p2p_timeout=1200
	stress_seconds=60
	time_scale=3
	mkdir -p "$tree"
	# Sources only: tracked and untracked-but-not-ignored files.
	git ls-files -co --exclude-standard -z |
		rsync -a --delete-missing-args --from0 --files-from=- ./ "$tree/" || exit 1
fi
kmake() { make -C "$tree" KDIR="$RGUP_KBUILD" "$@"; }

out=$RGUP_LOGS/check$([ -z "$debug" ] || echo -debug)-$(date +%Y%m%d-%H%M%S)
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

# The counting itself: tap_summary.py on hand-made TAP.
host_check "tap_summary.py unit tests" python3 "$here/test_tap_summary.py"
if [ -z "$debug" ]; then
	host_check "rustfmt --check" make -s rustfmtcheck
	host_check "checkpatch --strict on C sources" make -s checkpatch
	host_check "clippy, warnings are errors" make clippy
	host_check "bootstrap: the Debian mirror from apt sources (debian-mirror-test.sh)" \
		"$here/debian-mirror-test.sh"
fi
built=0
host_check "build modules" kmake modules && built=1
if [ -z "$debug" ]; then
	host_check "rustdoc, warnings are errors" kmake -s rustdoc
	host_check "htmldocs (Sphinx), warnings are errors" kmake -s htmldocs
fi
host_check "build kselftests" kmake selftests || built=0
host_check "build upstream gup_longterm, cow and hmm-tests from the kernel tree" \
	kmake upstream-selftests UPSTREAM_MM_OUT="$mm_out" || built=0
# make install into a scratch root, and the outside driver built in its own
# directory against the installed SDK alone; the VM loads it with modprobe.
host_check "make install; the outside driver built from the SDK alone; SDK mismatches refused" \
	"$tree/tools/testing/sdk/test-external.sh" "$out" "$RGUP_KBUILD" /usr/bin/rustc -19
# The export check: a generated crate naming every public item of rgup (from
# rustdoc's JSON) links against the installed SDK; modpost names any symbol
# rgup.ko does not export.
host_check "export check: every public item of rgup links against the SDK" \
	sh -c 'make -C "$1" -s rustdoc-json KDIR="$2" && \
		"$1/tools/testing/sdk/test-exports.sh" "$1/rust/doc/rgup.json" \
		"$3/modroot/usr/src/rgup/$(cat "$2/include/config/kernel.release")" \
		"$3/export-check" "$2" /usr/bin/rustc -19' \
	sh "$tree" "$RGUP_KBUILD" "$out"

# vm_boot WHAT LOG RUN.SH-OPTIONS... -- GUEST-SCRIPT ARGS...: one boot, one
# host result for how it ended (run.sh: 124 timed out, 125 kernel splat).
vm_boot() {
	local what=$1 out_file=$2 rc
	shift 2
	rgup_stage "check: $what"
	"$here/vm/run.sh" --out "$out" "$@" > "$out_file" 2>&1
	rc=$?
	host_n=$((host_n + 1))
	case $rc in
	0) host_lines+=("ok $host_n $what: clean exit, no kernel splat") ;;
	124) host_lines+=("not ok $host_n $what: timed out (see $(basename "$out_file"))") ;;
	125) host_lines+=("not ok $host_n $what: kernel splat in the console log") ;;
	137) host_lines+=("not ok $host_n $what: QEMU killed by SIGKILL (the host's OOM killer?)") ;;
	*) host_lines+=("not ok $host_n $what: exit status $rc (see $(basename "$out_file"))") ;;
	esac
	tail -n 3 "$out_file" >&2
}
guest_env=(env KSRC="$RGUP_KSRC" KBUILD="$RGUP_KBUILD" UPSTREAM_MM="$mm_out"
	   EXTERNAL_ROOT="$out/modroot" RGUP_STRESS_SECONDS="$stress_seconds"
	   RGUP_TIME_SCALE="$time_scale")
if [ "$built" = 1 ]; then
	vm_boot "VM run" "$out/vm.out" \
		--log "$out/console.log" --timeout "$vm_timeout" -- \
		"${guest_env[@]}" "$tree/tools/testing/vm/guest-check.sh" "$out"
	# Three short boots with the P2P topology (PCIe switch, NVMe CMB, edu):
	# edu behind the NVMe's switch (bus-address DMA end to end), on another
	# root port (unreachable: EREMOTEIO), and behind an IOMMU.
	vm_boot "VM run with the P2P topology (switch)" "$out/vm-p2p.out" \
		--p2p --log "$out/console-p2p.log" --timeout "$p2p_timeout" -- \
		"${guest_env[@]}" "$tree/tools/testing/vm/guest-p2p.sh" "$out"
	vm_boot "VM run with the P2P topology (split root ports)" "$out/vm-p2p-split.out" \
		--p2p-split --log "$out/console-p2p-split.log" --timeout "$p2p_timeout" -- \
		"${guest_env[@]}" "$tree/tools/testing/vm/guest-p2p.sh" "$out" split
	# The same switch behind QEMU's intel-iommu (strict): registered regions
	# as one IOVA range each, a stale IOVA blocked, unbind while registered.
	vm_boot "VM run with the P2P topology behind intel-iommu (strict)" "$out/vm-p2p-iommu.out" \
		--p2p --iommu --log "$out/console-p2p-iommu.log" --timeout "$p2p_timeout" -- \
		"${guest_env[@]}" "$tree/tools/testing/vm/guest-p2p.sh" "$out" iommu
	# One with ZONE_MOVABLE: long-term pins migrate out of it.
	vm_boot "VM run with ZONE_MOVABLE (movablecore=)" "$out/vm-movable.out" \
		--movable --log "$out/console-movable.log" --timeout "$p2p_timeout" -- \
		"${guest_env[@]}" "$tree/tools/testing/vm/guest-movable.sh" "$out"
else
	host_n=$((host_n + 1))
	host_lines+=("not ok $host_n VM runs: not started, the build failed")
fi

{
	echo "TAP version 13"
	echo "1..$host_n"
	printf '%s\n' "${host_lines[@]}"
} > "$host_tap"

# The hardening numbers: what the fault-injection sweep, the stress test and
# the fuzzer covered, kmemleak's verdict, and the kernel splat lines of every
# boot (run.sh's LOG.splats).
if [ -f "$out/hardening.txt" ]; then
	sed -n 's/^# \(injection points: .*\)/P2P boot: \1/p' "$out/rgup_fault_inject-p2p.tap" \
		>> "$out/hardening.txt" 2>/dev/null
	splats=$(cat "$out"/*.splats 2>/dev/null | wc -l)
	echo "kernel splat lines: $splats in $(ls "$out"/console*.log | wc -l) boots" >> "$out/hardening.txt"
	sed 's/^/rgup: hardening: /' "$out/hardening.txt" >&2
fi

rgup_stage "check: results in $out"
python3 "$here/tap_summary.py" --manifest "$here/expected-results" --dir "$out" \
	--kernel "$RGUP_KCONFIG_NAME"
