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
# Writes p2p-topology.tap and rgup_fault_inject-p2p.tap (switch boot only),
# rgup_p2p_test[-split].tap and p2p-guest[-split].tap (module loads, nothing
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
sfx=${mode:+-$mode}

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
. "$here/guest-env.sh"
[ -n "$mode" ] || "$here/guest-p2p-topology.sh" "$out/p2p-topology.tap"

n=0 lines=()
result() { # result ok|not-ok DESCRIPTION
	n=$((n + 1))
	if [ "$1" = ok ]; then lines+=("ok $n $2"); else lines+=("not ok $n $2"); fi
}
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
if [ -n "$iommu" ]; then
	filter=(-f region -t behind_iommu_bus_address_dma_is_blocked)
	if [ -d /sys/class/iommu/dmar0 ] && grep -q . /sys/kernel/iommu_groups/*/type 2>/dev/null; then
		result ok "intel-iommu up: DMAR present, IOMMU groups"
	else
		result not-ok "booted with --iommu but no DMAR/IOMMU groups"
	fi
else
	filter=(-T behind_iommu_bus_address_dma_is_blocked)
fi
(cd "$root/tools/testing/selftests/rgup" &&
	RGUP_P2P_SPLIT=$split RGUP_P2P_IOMMU=$iommu timeout 300 ./rgup_p2p_test "${filter[@]}") \
	> "$out/rgup_p2p_test$sfx.tap" 2>&1
# The fault-injection sweep of the P2P paths (it skips on a kernel without
# fault injection); in the switch boot, where both of them can succeed.
[ -n "$mode" ] ||
	(cd "$root/tools/testing/selftests/rgup" && timeout 1200 ./rgup_fault_inject rgup_sample_p2p) \
		> "$out/rgup_fault_inject-p2p.tap" 2>&1
held=$(grep -E '^p2p_(lists|segments): ' /sys/kernel/debug/rgup/stats | grep -v ': 0$')
if [ -z "$held" ]; then
	result ok "no DMA-only list outstanding"
else
	result not-ok "still held: $(echo $held)"
fi
rmmod rgup_sample_p2p rgup_test rgup || result not-ok "rmmod"
for _ in $(seq 50); do
	after=$(pins_outstanding)
	[ "$after" -gt "$before" ] || break
	sleep 0.1
done
if [ "$after" -le "$before" ]; then
	result ok "FOLL_PIN pins back to $before"
else
	result not-ok "FOLL_PIN leak: $((after - before)) pins"
fi
{
	echo "TAP version 13"
	echo "1..$n"
	printf '%s\n' "${lines[@]}"
} > "$out/p2p-guest$sfx.tap"
cat "$out/p2p-guest$sfx.tap"
