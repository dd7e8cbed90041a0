#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside a VM booted with run.sh --p2p (or --p2p-split): the P2P topology
# checks, then rgup::p2p end to end through the edu sample driver.
#
#   guest-p2p.sh OUTDIR [split]
#
# Writes p2p-topology[-split].tap, rgup_p2p_test[-split].tap (the cases of
# this topology: data through the switch, or the EREMOTEIO refusal),
# rgup_fault_inject-p2p.tap (the switch boot, where the P2P paths succeed)
# and p2p-guest[-split].tap (module loads, how each program ended, nothing
# held afterwards) into OUTDIR.

set -u
out=${1:?usage: guest-p2p.sh OUTDIR [split]}
split=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tests=$root/tools/testing/selftests/rgup
sfx=${split:+-split}
scale=${RGUP_TIME_SCALE:-1}

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
. "$here/guest-env.sh"
"$here/guest-p2p-topology.sh" ${split:+--split} "$out/p2p-topology$sfx.tap"

# Our TAP, line by line, the plan last (see guest-check.sh).
tap=$out/p2p-guest$sfx.tap
n=0
echo "TAP version 13" > "$tap"
result() { # result ok|not-ok DESCRIPTION
	n=$((n + 1))
	if [ "$1" = ok ]; then echo "ok $n $2" >> "$tap"; else echo "not ok $n $2" >> "$tap"; fi
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
# The cases of this topology only: the others would skip.
if [ -n "$split" ]; then
	cases=(-T cmb_to_edu_to_cmb -T ram_to_cmb -T one_list_mixing_ram_and_cmb)
else
	cases=(-T unreachable_is_eremoteio)
fi
rgup_run_prog "$out/rgup_p2p_test$sfx.tap" $((300 * scale)) \
	env -C "$tests" RGUP_P2P_SPLIT="$split" ./rgup_p2p_test "${cases[@]}" ||
	result not-ok "rgup_p2p_test: $RGUP_PROG_FAILURE"
# The fault-injection sweep of the P2P paths, in the switch boot, where
# both of them can succeed.
if [ -z "$split" ]; then
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
if rmmod rgup_sample_p2p rgup_test rgup; then
	result ok "rmmod rgup_sample_p2p rgup_test rgup"
else
	result not-ok "rmmod rgup_sample_p2p rgup_test rgup"
fi
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
echo "1..$n" >> "$tap"
cat "$tap"
