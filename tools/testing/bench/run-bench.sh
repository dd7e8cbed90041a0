#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench-pin`, `make bench-mirror`: boot the test kernel once and run one
# side-by-side benchmark, rgup against its upstream C counterpart in the same
# boot (see rgup_pin_bench.c, rgup_mirror_bench.c and rgup_p2p_bench.c).
#
#   run-bench.sh pin|mirror|p2p
#
# Under TCG absolute times mean little; read the ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../rgup-env.sh"
cd "$RGUP_ROOT"
name=${1:?usage: run-bench.sh pin|mirror|p2p}
case $name in
pin) title="rgup pin + unpin vs upstream gup_test PIN_LONGTERM_BENCHMARK" ;;
mirror) title="rgup::mirror vs upstream test_hmm (dmirror), the same HMM_DMIRROR_* commands" ;;
p2p) title="rgup::p2p DmaOnlySgt::from_user vs pin + sg_alloc_table + dma_map_sgtable in C, per map+unmap" ;;
*) echo "run-bench.sh: unknown benchmark $name" >&2; exit 2 ;;
esac
make -s modules
make -s -C "$here"
out=$RGUP_LOGS/bench-$name-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
# 6 GiB: the mirror benchmark keeps a 1 GiB buffer and 512 MiB copies around.
"$here/../vm/run.sh" --memory 6G --out "$out" --log "$out/console.log" --timeout 1800 -- \
	env KBUILD="$RGUP_KBUILD" "$here/guest-bench.sh" "$name" "$out" > "$out/vm.out" 2>&1
{
	echo "$title"
	echo "kernel $(make -s -C "$RGUP_KBUILD" kernelrelease 2>/dev/null || echo '?'), QEMU TCG, -cpu max, 2 vCPUs"
	echo
	cat "$out/$name-bench.md"
} | tee "$out/report.md"
echo "report: $out/report.md"
