#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench-count`: what the guest kernel executes, by symbol, for rgup,
# the C through rgup's out-of-line calls (the floor) and the C:
#
#   pin.txt         a 4 KiB pin + unpin (RGUP_BENCH_PIN: 0 rgup, 6 floor, 1 C)
#   p2p.txt         a one-page P2P map + unmap (RGUP_BENCH_P2P: 0, 3, 1)
#   p2p-64.txt      the same of 64 pages
#   mirror.txt      a mirror fault-in of 8 MiB of 4 KiB pages (rgup's
#                   /dev/rgup_dmirror0, test_hmm's /dev/hmm_dmirror0)
#   mirror-thp.txt  the same of THPs
#   munmap.txt      a munmap() of one mirrored page, of 16 in a row
#                   (rgup's, test_hmm's, and of pages no device mirrors)
#   uapi.txt        a 4 KiB pin through gup_test's uAPI: the system calls
#                   PIN_LONGTERM_TEST_START + _STOP (rgup's
#                   /dev/rgup_gup_test, gup_test's)
#
# the instructions and the translated blocks of QEMU's TCG, counted by a TCG
# plugin (qemu_tbcount.c) between the markers rgup_count_bench executes
# around each implementation's operations. One boot, with 1 vCPU so that the
# counts are exact, all implementations in it: a multi-page case maps the
# same physical pages for each. Unlike times, the counts do not change with
# the host's load: they show call by call what rgup executes beyond the floor
# (Documentation/rgup/performance.rst).
#
#   count-bench.sh [OPS]    OPS one-page operations per implementation
#                           (default 100000; a twentieth of them of 64 pages)
#
# Writes $RGUP_LOGS/count-<time>/*.txt (tbcount.py's tables).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../rgup-env.sh"
cd "$RGUP_ROOT"
ops=${1:-100000}
calls=$(( (ops + 999) / 1000 ))
calls64=$(( (calls + 19) / 20 ))
faults=3
unmaps=10
unmaps_per_window=16	# UNMAPS of rgup_count_bench.c
uapi=$(( (ops + 9) / 10 ))	# START + STOP pairs per node
make -s modules
make -s -C "$here" rgup_count_bench qemu_tbcount.so
out=$RGUP_LOGS/count-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

# The windows, in the order the guest opens them: NAME COUNT (COUNT windows
# added up into NAME).
windows=(pin-0 1 pin-6 1 pin-1 1 p2p-0 1 p2p-3 1 p2p-1 1
	p2p64-0 1 p2p64-3 1 p2p64-1 1
	mirror-rgup "$faults" mirror-test_hmm "$faults"
	mirror_thp-rgup "$faults" mirror_thp-test_hmm "$faults"
	munmap-rgup "$unmaps" munmap-test_hmm "$unmaps" munmap-none "$unmaps"
	uapi-rgup 1 uapi-gup_test 1)
bench=$here/rgup_count_bench
guest="insmod $RGUP_ROOT/rgup.ko && insmod $RGUP_ROOT/rgup_test.ko &&
	insmod $RGUP_KBUILD/lib/test_hmm.ko && insmod $RGUP_ROOT/rgup_bench.ko &&
	$bench pin 061 4096 $calls && $bench p2p 031 4096 $calls &&
	$bench p2p 031 262144 $calls64 &&
	$bench mirror 01 8388608 $faults && $bench mirror-thp 01 8388608 $faults &&
	$bench munmap 012 4096 $unmaps &&
	{ mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug; } &&
	$bench uapi 01 4096 $uapi &&
	cat /proc/kallsyms > $out/kallsyms.txt"
rgup_stage "count: one boot, 1 vCPU: pins, P2P maps, mirror fault-ins, munmaps, uAPI pins"
timeout -k 15 3600 vng --run "$RGUP_KBUILD" --disable-kvm --disable-microvm --force-9p \
	--cpus 1 --memory 2G --append "oops=panic panic=-1" --rwdir "$out" \
	"--qemu-opts=-plugin $here/qemu_tbcount.so,arg=out=$out/tb" \
	--exec "$guest" </dev/null >"$out/console.log" 2>&1 ||
	rgup_die "count: the boot failed: see $out/console.log"
[ -s "$out/kallsyms.txt" ] || rgup_die "count: the guest wrote no symbols: see $out/console.log"
n=0
for ((i = 0; i < ${#windows[@]}; i += 2)); do
	name=${windows[i]}
	: >"$out/tb-$name.txt"
	: >"$out/windows-$name.txt"
	for ((k = 0; k < ${windows[i + 1]}; k++)); do
		[ -s "$out/tb.$n" ] || rgup_die "count: no counts for window $n ($name): see $out/console.log"
		cat "$out/tb.$n" >>"$out/tb-$name.txt"
		# The window's own total (instructions, blocks), for tbcount.py's median.
		awk '{ i += $2 * $3; b += $3 } END { print i, b }' "$out/tb.$n" \
			>>"$out/windows-$name.txt"
		rm "$out/tb.$n"
		n=$((n + 1))
	done
	ln -sf kallsyms.txt "$out/kallsyms-$name.txt"
done
report() {
	local file=$1 ops=$2
	shift 2
	python3 "$here/tbcount.py" "$out" "$ops" "$@" >"$out/$file"
}
report pin.txt $((calls * 1000)) pin-0 pin-6 pin-1
report p2p.txt $((calls * 1000)) p2p-0 p2p-3 p2p-1
report p2p-64.txt $((calls64 * 1000)) p2p64-0 p2p64-3 p2p64-1
report mirror.txt "$faults" mirror-rgup mirror-test_hmm
report mirror-thp.txt "$faults" mirror_thp-rgup mirror_thp-test_hmm
report munmap.txt $((unmaps * unmaps_per_window)) munmap-rgup munmap-test_hmm munmap-none
report uapi.txt "$uapi" uapi-rgup uapi-gup_test
for f in pin p2p p2p-64 mirror mirror-thp munmap uapi; do
	echo "== $f"
	sed "/^$/q" "$out/$f.txt"	# the totals (and medians), up to the table
done
echo "counts: $out/{pin,p2p,p2p-64,mirror,mirror-thp,munmap,uapi}.txt"
