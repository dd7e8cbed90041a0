#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside a VM booted with run.sh --p2p (or --p2p-split, or --p2p --iommu):
# the P2P topology checks, then rgup::p2p and registered rgup::dma regions end
# to end through the edu sample driver.
#
#   guest-p2p.sh OUTDIR [split|iommu]
#
# In the iommu boot only the registered regions (IOVAs, a stale IOVA blocked)
# and the known QEMU limit for P2P behind the vIOMMU run.
#
# Writes p2p-topology[-split].tap, rgup_p2p_test[-split].tap (the cases of
# this topology: data through the switch, or the EREMOTEIO refusal),
# rgup_fault_inject-p2p.tap (the switch boot, where the P2P paths succeed)
# and p2p-guest[-split].tap (module loads, how each program ended, nothing
# held afterwards) into OUTDIR.

set -u
out=${1:?usage: guest-p2p.sh OUTDIR [split|iommu]}
mode=${2:-}
split= iommu=
case $mode in
split) split=1 ;;
iommu) iommu=1 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tests=$root/tools/testing/selftests/rgup
sfx=${mode:+-$mode}
scale=${RGUP_TIME_SCALE:-1}

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
. "$here/guest-env.sh"
"$here/guest-p2p-topology.sh" ${split:+--split} "$out/p2p-topology$sfx.tap"

# Our TAP, line by line, the plan last (guest-env.sh).
rgup_tap_open "$out/p2p-guest$sfx.tap"
before=$(pins_outstanding)
# rgup_test.ko: rgup_p2p_test also checks that /dev/rgup refuses peer memory.
if insmod "$root/rgup.ko" && insmod "$root/rgup_test.ko" && insmod "$root/rgup_sample_p2p.ko"; then
	result ok "insmod rgup.ko rgup_test.ko rgup_sample_p2p.ko"
else
	result not-ok "insmod rgup.ko rgup_test.ko rgup_sample_p2p.ko"
fi
if [ -c /dev/rgup_sample_p2p ] && dmesg | grep -q "rgup_sample_p2p.*edu .* bound"; then
	result ok "the sample bound QEMU's edu"
else
	result not-ok "the sample did not bind QEMU's edu"
fi
# The cases of this topology only: the others would skip. The registered
# regions (rgup::dma) run in every boot; behind the IOMMU only they and the
# known QEMU limit for P2P there.
if [ -n "$iommu" ]; then
	if [ -d /sys/class/iommu/dmar0 ] && grep -q . /sys/kernel/iommu_groups/*/type 2>/dev/null; then
		result ok "intel-iommu up: DMAR present, IOMMU groups"
	else
		result not-ok "booted with --iommu but no DMAR/IOMMU groups"
	fi
	cases=(-f region -t behind_iommu_bus_address_dma_is_blocked)
elif [ -n "$split" ]; then
	cases=(-T cmb_to_edu_to_cmb -T ram_to_cmb -T one_list_mixing_ram_and_cmb
	       -T behind_iommu_bus_address_dma_is_blocked)
else
	cases=(-T unreachable_is_eremoteio -T behind_iommu_bus_address_dma_is_blocked)
fi
rgup_run_prog "$out/rgup_p2p_test$sfx.tap" $((300 * scale)) \
	env -C "$tests" RGUP_P2P_SPLIT="$split" RGUP_P2P_IOMMU="$iommu" \
	./rgup_p2p_test "${cases[@]}" ||
	result not-ok "rgup_p2p_test: $RGUP_PROG_FAILURE"
# The fault-injection sweep of the P2P paths, in the switch boot, where
# both of them can succeed.
if [ -z "$mode" ]; then
	rgup_run_prog "$out/rgup_fault_inject-p2p.tap" $((600 * scale)) \
		env -C "$tests" ./rgup_fault_inject rgup_sample_p2p ||
		result not-ok "rgup_fault_inject rgup_sample_p2p: $RGUP_PROG_FAILURE"
fi
held=$(rgup_stats_held p2p_lists p2p_segments pins mirrors)
if [ -z "$held" ]; then
	result ok "no DMA-only list, pin or mirror outstanding"
else
	result not-ok "rgup stats: $held"
fi
rgup_unload_and_settle "$before" rgup_sample_p2p rgup_test rgup
rgup_tap_close
