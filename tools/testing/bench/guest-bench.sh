#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside the VM for run-bench.sh: load rgup and what the named benchmarks
# compare against, run them one after the other in this boot, and write
# their CSVs and env.txt (kernel, CPU, memory) into OUTDIR. "profile" samples
# 4 KiB pins (rgup and the C, in the kernel and through both ioctl pairs) and the
# mirror's 512 MiB THP fault-in (rgup and test_hmm) with perf record
# (cpu-clock) and writes perf-pin-*.txt and perf-mirror-*.txt, flat profiles.
# "chaining" times the 4 KiB pin loops of run-bench.sh chaining into
# chaining-loops.txt.
#
#   guest-bench.sh OUTDIR pin|mirror|p2p|profile|chaining...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
. "$root/tools/testing/vm/guest-env.sh"	# pins_outstanding
out=$1
shift
has() { [[ " ${*:2} " == *" $1 "* ]]; }

{
	echo "kernel=$(uname -r)"
	echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "cpus=$(nproc)"
	echo "memory_kib=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
	if grep -q 'Hypervisor detected: KVM' <(dmesg 2>/dev/null); then
		echo "guest_sees=KVM"
	else
		echo "guest_sees=no KVM (TCG)"
	fi
} > "$out/env.txt"

# 300 huge pages of 2 MiB for the pin benchmark's hugetlb cases.
echo 300 > /proc/sys/vm/nr_hugepages
insmod "$root/rgup.ko"
insmod "$root/rgup_test.ko"
if has mirror "$@" || has profile "$@"; then insmod "${KBUILD:?}/lib/test_hmm.ko"; fi
bench_module() {
	has pin "$@" || has p2p "$@" || has dma "$@" || has profile "$@" || has chaining "$@"
}
if bench_module "$@"; then insmod "$root/rgup_bench.ko"; fi

# perf record (cpu-clock, the task only) of rgup_pin_bench --loop IMPL 4096
# for a few seconds, per IMPL: a flat profile by symbol. perf writes its data
# to the guest's tmpfs (writing it to the 9p output directory fails).
profile() {
	local impl tmp
	command -v perf >/dev/null || { echo "guest-bench.sh: no perf" >&2; return 1; }
	tmp=$(mktemp -d /dev/shm/rgup-perf.XXXXXX)
	for impl in 0 1 2 5 10 11 12 13; do
		perf record -q -e cpu-clock -F 20000 -B -N -o "$tmp/$impl.data" -- \
			"$here/rgup_pin_bench" --loop "$impl" 4096 5 > "$out/perf-pin-$impl.txt"
		perf report -q -i "$tmp/$impl.data" --kallsyms=/proc/kallsyms --stdio \
			--sort dso,sym --percent-limit 0.5 2>&1 | cut -c1-160 >> "$out/perf-pin-$impl.txt"
	done
	# Mirror fault-in of 512 MiB with THP (case 3), rgup (0) and test_hmm (1).
	for impl in 0 1; do
		perf record -q -e cpu-clock -F 5000 -B -N -o "$tmp/m$impl.data" -- \
			"$here/rgup_mirror_bench" --loop "$impl" 3 3 > "$out/perf-mirror-$impl.txt"
		perf report -q -i "$tmp/m$impl.data" --kallsyms=/proc/kallsyms --stdio \
			--sort dso,sym --percent-limit 0.5 2>&1 | cut -c1-160 >> "$out/perf-mirror-$impl.txt"
		rm -f "$tmp/m$impl.data"
	done
	rm -rf "$tmp"
}

# rgup_pin_bench --loop for 2 s each: rgup's and gup_test's uAPI pairs (12,
# 13), and in kernel rgup, its floor and the C (0, 6, 1), four rounds.
chaining() {
	local round impl
	for round in 1 2 3 4; do
		for impl in 12 13 13 12 0 6 1; do
			"$here/rgup_pin_bench" --loop "$impl" 4096 2 || return 1
		done
	done > "$out/chaining-loops.txt"
}

rc=0
for name in "$@"; do
	case $name in
	pin)
		grep -i '^HugePages_\(Total\|Free\)' /proc/meminfo > "$out/pin-hugepages.txt"
		"$here/rgup_pin_bench" "$out/pin.csv" "$out/pin-memory.csv" || rc=1
		# Pins left behind would show here (and keep huge pages from the pool).
		grep -i '^HugePages_\(Total\|Free\)' /proc/meminfo >> "$out/pin-hugepages.txt"
		echo "FOLL_PIN outstanding after: $(pins_outstanding)" >> "$out/pin-hugepages.txt"
		;;
	mirror) "$here/rgup_mirror_bench" "$out/mirror.csv" || rc=1 ;;
	p2p) "$here/rgup_p2p_bench" "$out/p2p.csv" || rc=1 ;;
	dma) "$here/rgup_dma_bench" "$out/dma.csv" || rc=1 ;;
	profile) profile || rc=1 ;;
	chaining) chaining || rc=1 ;;
	*) echo "guest-bench.sh: unknown benchmark $name" >&2; rc=2 ;;
	esac
done

if has mirror "$@" || has profile "$@"; then rmmod test_hmm; fi
if bench_module "$@"; then rmmod rgup_bench; fi
rmmod rgup_test
rmmod rgup
exit $rc
