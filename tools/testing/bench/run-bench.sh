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
	*) rgup_die "run-bench.sh: unknown benchmark $n (pin, mirror, p2p, dma, profile)" ;;
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
