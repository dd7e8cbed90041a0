#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench-count`: what a 4 KiB pin + unpin (RGUP_BENCH_PIN) and a one-page
# P2P map + unmap (RGUP_BENCH_P2P) execute in the guest kernel, by symbol, for
# rgup, the C through rgup's out-of-line calls (the floor) and the C: the
# instructions and the translated blocks of QEMU's TCG, counted by a TCG plugin
# (qemu_tbcount.c) between two markers of rgup_count_bench. One boot per
# implementation, with 1 vCPU so that the counts are exact. Unlike times, the
# counts do not change with the host's load: they show call by call what rgup
# executes beyond the floor (Documentation/rgup/performance.rst).
#
#   count-bench.sh [OPS]    OPS operations per implementation (default 100000)
#
# Writes $RGUP_LOGS/count-<time>/{pin,p2p}.txt (tbcount.py's tables).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../rgup-env.sh"
cd "$RGUP_ROOT"
ops=${1:-100000}
calls=$(( (ops + 999) / 1000 ))
make -s modules
make -s -C "$here" rgup_count_bench qemu_tbcount.so
out=$RGUP_LOGS/count-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

# count KIND IMPL CALLS: one boot, CALLS calls of 1000 operations.
count() {
	local name=$1-$2-$3 guest
	guest="insmod $RGUP_ROOT/rgup.ko && insmod $RGUP_ROOT/rgup_bench.ko &&
		$here/rgup_count_bench $1 $2 4096 $3 && cat /proc/kallsyms > $out/kallsyms-$name.txt"
	rgup_stage "count: $1 implementation $2, $(( $3 * 1000 )) operations"
	timeout -k 15 1800 vng --run "$RGUP_KBUILD" --disable-kvm --disable-microvm --force-9p \
		--cpus 1 --memory 2G --append "oops=panic panic=-1" --rwdir "$out" \
		"--qemu-opts=-plugin $here/qemu_tbcount.so,arg=out=$out/tb-$name.txt" \
		--exec "$guest" </dev/null >"$out/console-$name.log" 2>&1 ||
		rgup_die "count: the $name boot failed: see $out/console-$name.log"
	[ -s "$out/kallsyms-$name.txt" ] && [ -s "$out/tb-$name.txt" ] ||
		rgup_die "count: $name wrote no symbols or no counts: see $out/console-$name.log"
}

# RGUP_BENCH_PIN: 0 rgup, 6 the floor, 1 the C; RGUP_BENCH_P2P: 0 rgup, 3 the floor, 1 the C.
for impl in 0 6 1; do count pin "$impl" "$calls"; done
for impl in 0 3 1; do count p2p "$impl" "$calls"; done
python3 "$here/tbcount.py" "$out" $((calls * 1000)) \
	pin-0-$calls pin-6-$calls pin-1-$calls > "$out/pin.txt"
python3 "$here/tbcount.py" "$out" $((calls * 1000)) \
	p2p-0-$calls p2p-3-$calls p2p-1-$calls > "$out/p2p.txt"
head -n 30 "$out/pin.txt" "$out/p2p.txt"
echo "counts: $out/{pin,p2p}.txt"
