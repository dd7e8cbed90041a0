#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench-pin`: boot the test kernel once and compare rgup's pin + unpin
# with upstream gup_test's PIN_LONGTERM_BENCHMARK (see rgup_pin_bench.c).
# Under TCG absolute times mean little; read the ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../rgup-env.sh"
cd "$RGUP_ROOT"
make -s modules
make -s -C "$here"
out=$RGUP_LOGS/bench-pin-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
"$here/../vm/run.sh" --out "$out" --log "$out/console.log" --timeout 900 -- \
	"$here/guest-pin-bench.sh" "$out" > "$out/vm.out" 2>&1
{
	echo "rgup pin + unpin vs upstream gup_test PIN_LONGTERM_BENCHMARK"
	echo "kernel $(make -s -C "$RGUP_KBUILD" kernelrelease 2>/dev/null || echo '?'), QEMU TCG, -cpu max, 2 vCPUs"
	echo
	cat "$out/pin-bench.md"
} | tee "$out/report.md"
echo "report: $out/report.md"
