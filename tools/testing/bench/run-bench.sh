#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench` (and its subsets `make bench-pin`, `bench-mirror`,
# `bench-p2p`, `bench-dma`): boot the (non-debug) test kernel once, run the
# named benchmarks in that boot (dma in a second boot, behind QEMU's
# intel-iommu with edu: run.sh --p2p --iommu), each side by side with its upstream C counterpart
# (rgup_pin_bench.c, rgup_mirror_bench.c, rgup_p2p_bench.c), then make the
# report on the host with report.py: results.md (tables, ratios of medians),
# results.csv and PNG plots, in $RGUP_LOGS/bench-<time>/.
#
#   run-bench.sh [pin] [mirror] [p2p] [dma]   (none named: all four)
#   run-bench.sh profile                    perf profiles of 4 KiB pins instead
#   run-bench.sh chaining                   4 KiB pins (in kernel and through
#                                           gup_test's uAPI) timed in two boots,
#                                           QEMU as is and with -d nochain
#
# Under TCG absolute times mean little; read the ratios. Benchmarks are
# reports, never tests: nothing fails on a time. matplotlib (Debian's
# python3-matplotlib) is installed here when missing, never by make check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../rgup-env.sh"
cd "$RGUP_ROOT"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(pin mirror p2p dma)
main=() iommu=
for n in "${names[@]}"; do
	case $n in
	pin | mirror | p2p | profile) main+=("$n") ;;
	dma) iommu=1 ;;
	chaining) [ $# = 1 ] || rgup_die "run-bench.sh: chaining runs alone" ;;
	*) rgup_die "run-bench.sh: unknown benchmark $n (pin, mirror, p2p, dma, profile, chaining)" ;;
	esac
done

# The plots are made with Debian's matplotlib, by the system python3 (the
# virtme-ng venv on PATH does not see Debian's packages).
rgup_apt_install python3-matplotlib
make -s modules
make -s -C "$here"

tag=$(date +%Y%m%d-%H%M%S)
[ $# = 0 ] || tag=$(IFS=-; echo "${names[*]}")-$tag
out=$RGUP_LOGS/bench-$tag
mkdir -p "$out"
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "host_cpus=$(nproc)"
	echo "qemu=$(qemu-system-x86_64 --version | head -n 1)"
	echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/host.txt"

# How much of a time gap is TCG's chaining of translated blocks: the same
# loops in a boot with chaining and in one without (every block looked up,
# the time following the instructions), 1 vCPU. Medians and ratios in
# chaining.txt (Documentation/rgup/performance.rst, ninth round).
if [ "${names[*]}" = chaining ]; then
	for mode in chained nochain; do
		rgup_stage "bench: 4 KiB pin loops, QEMU $mode; results in $out"
		opt=()
		[ "$mode" = chained ] || opt=(--nochain)
		"$here/../vm/run.sh" --cpus 1 "${opt[@]}" \
			--out "$out" --log "$out/console-$mode.log" --timeout 1800 -- \
			env KBUILD="$RGUP_KBUILD" "$here/guest-bench.sh" "$out" chaining \
			> "$out/vm-$mode.out" 2>&1 || rgup_die "the $mode VM failed: see $out/vm-$mode.out"
		mv "$out/chaining-loops.txt" "$out/loops-$mode.txt"
	done
	/usr/bin/python3 - "$out" > "$out/chaining.txt" <<'PY'
import re, statistics, sys
names = {"0": "rgup, in kernel", "6": "floor, in kernel", "1": "C, in kernel",
         "12": "rgup, gup_test's uAPI", "13": "gup_test, its uAPI"}
med = {}
for mode in ("chained", "nochain"):
    t = {}
    for line in open(f"{sys.argv[1]}/loops-{mode}.txt"):
        m = re.match(r"--loop (\d+) \d+: \d+ calls, ([\d.]+) us", line)
        if m:
            t.setdefault(m.group(1), []).append(float(m.group(2)))
    med[mode] = {k: statistics.median(v) for k, v in t.items()}
print(f"{'median, us':28} {'chained':>10} {'nochain':>10}")
for k, n in names.items():
    print(f"{n:28} {med['chained'][k]:10.2f} {med['nochain'][k]:10.2f}")
for a, b, n in (("12", "13", "uAPI, rgup / gup_test"), ("0", "6", "in kernel, rgup / floor"),
                ("0", "1", "in kernel, rgup / C")):
    print(f"{n:28} {med['chained'][a] / med['chained'][b]:10.3f} "
          f"{med['nochain'][a] / med['nochain'][b]:10.3f}")
PY
	cat "$out/chaining.txt"
	exit 0
fi

# 6 GiB: a 1 GiB pinned buffer, the mirror's 1 GiB buffer and 512 MiB
# copies, 600 MiB of huge pages.
if [ ${#main[@]} -gt 0 ]; then
	rgup_stage "bench: ${main[*]} in one boot; results in $out"
	"$here/../vm/run.sh" --memory 6G --out "$out" --log "$out/console.log" --timeout 3600 -- \
		env KBUILD="$RGUP_KBUILD" "$here/guest-bench.sh" "$out" "${main[@]}" \
		> "$out/vm.out" 2>&1 || rgup_die "the benchmark VM failed: see $out/vm.out"
fi
if [ -n "$iommu" ]; then
	rgup_stage "bench: dma behind intel-iommu (edu); results in $out"
	"$here/../vm/run.sh" --p2p --iommu --memory 2G --out "$out" --log "$out/console-dma.log" \
		--timeout 1800 -- env KBUILD="$RGUP_KBUILD" "$here/guest-bench.sh" "$out" dma \
		> "$out/vm-dma.out" 2>&1 || rgup_die "the DMA benchmark VM failed: see $out/vm-dma.out"
fi
{
	echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
	if grep -qs -- '--disable-kvm' "$out"/vm*.out; then
		echo "accel=TCG"
	else
		echo "accel=KVM"
	fi
} >> "$out/host.txt"

if [ "${names[*]}" = profile ]; then
	head -n 30 "$out"/perf-*.txt
	echo "profiles: $out/perf-*.txt"
	exit 0
fi
/usr/bin/python3 "$here/report.py" "$out"
cat "$out/results.md"
echo "report: $out/results.md (CSV: $out/results.csv, plots: $out/*.png)"
