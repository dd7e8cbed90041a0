#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside a VM booted with run.sh --movable (movablecore=): long-term pins
# through rgup migrate user memory out of ZONE_MOVABLE first, short pins and
# mirrors do not (rgup_migrate_test).
#
#   guest-movable.sh OUTDIR
#
# Writes rgup_migrate_test.tap and movable-guest.tap (module loads, how the
# test ended, nothing held afterwards, FOLL_PIN balanced) into OUTDIR.

set -u
out=${1:?usage: guest-movable.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tests=$root/tools/testing/selftests/rgup
scale=${RGUP_TIME_SCALE:-1}

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
. "$here/guest-env.sh"

# Our TAP, line by line, the plan last (guest-env.sh).
rgup_tap_open "$out/movable-guest.tap"
if grep -q 'movablecore=' /proc/cmdline && grep -q 'zone  *Movable' /proc/zoneinfo; then
	result ok "booted with movablecore=: a Movable zone"
else
	result not-ok "no movablecore= or no Movable zone"
fi
before=$(pins_outstanding)
if insmod "$root/rgup.ko" && insmod "$root/rgup_test.ko"; then
	result ok "insmod rgup.ko rgup_test.ko"
else
	result not-ok "insmod rgup.ko rgup_test.ko"
fi
# The KUnit suites ran at insmod, here with user memory in ZONE_MOVABLE: a
# failed Rust KUnit assertion ends its case without running destructors, so
# it would show as pins held below; name the cases first.
failed=$(grep -h '^ *not ok' /sys/kernel/debug/kunit/rgup_*/results 2>/dev/null)
if [ -z "$failed" ] && ls /sys/kernel/debug/kunit/rgup_*/results >/dev/null 2>&1; then
	result ok "KUnit suites at insmod, with ZONE_MOVABLE: no failure"
else
	result not-ok "KUnit with ZONE_MOVABLE: $(echo ${failed:-no results})"
fi
rgup_run_prog "$out/rgup_migrate_test.tap" $((300 * scale)) \
	env -C "$tests" ./rgup_migrate_test ||
	result not-ok "rgup_migrate_test: $RGUP_PROG_FAILURE"
held=$(rgup_stats_held pins pinned_pages charged_pages mirrors mirrored_pages)
if [ -z "$held" ]; then
	result ok "rgup stats: no pin, page, charge or mirror outstanding"
else
	result not-ok "rgup stats: $held"
fi
rgup_unload_and_settle "$before" rgup_test rgup
rgup_tap_close
