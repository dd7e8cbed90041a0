#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# rgup as a library module: a sample driver in another .ko imports a type and
# a function from the `rgup` crate; loading it must register a client inside
# rgup.ko (shown in rgup's debugfs stats) and pin rgup.ko as a dependency.
# rgup.ko alone registers no device node: the test nodes come with the test
# module rgup_test.ko.
#
# Needs rgup.ko and rgup_test.ko loaded and the modules built; KSRC names the
# kernel source tree (for ktap_helpers.sh).

set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
. "${KSRC:?KSRC unset}/tools/testing/selftests/kselftest/ktap_helpers.sh"

stats=/sys/kernel/debug/rgup/stats
sample=rgup_sample_client

stat() { sed -n "s/^$1: //p" "$stats"; }

# check DESCRIPTION COMMAND...: one TAP line.
check() {
	local what=$1
	shift
	if "$@"; then
		ktap_test_pass "$what"
	else
		ktap_test_fail "$what"
	fi
}

ktap_print_header
if [ ! -d /sys/module/rgup ]; then
	ktap_skip_all "rgup.ko is not loaded"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 11

check "/dev/rgup exists while rgup_test is loaded" test -c /dev/rgup
check "debugfs stats readable" test -r "$stats"

before=$(stat clients)
dmesg -C
check "insmod $sample.ko" insmod "$root/$sample.ko"
check "sample registered one client across modules" \
	test "$(stat clients)" = "$((before + 1))"
check "sample checked rgup::require_version() and logged the version" \
	sh -c "dmesg | grep -q 'registered with rgup 0\.[0-9]*\.[0-9]* as $sample'"
check "rgup.ko is held by $sample" test -e "/sys/module/rgup/holders/$sample"
check "rmmod rgup refused while $sample uses it" \
	sh -c "! rmmod rgup 2>/dev/null && test -d /sys/module/rgup"
check "rmmod $sample unregisters its client" \
	sh -c "rmmod $sample && test \"\$(sed -n 's/^clients: //p' $stats)\" = $before"
check "rmmod rgup refused while rgup_test uses it" \
	sh -c "! rmmod rgup 2>/dev/null && test -d /sys/module/rgup"
check "rgup.ko alone registers no device node (no /dev/rgup*)" \
	sh -c "rmmod rgup_test && rmmod rgup && insmod '$root/rgup.ko' && \
		! ls /dev/rgup* >/dev/null 2>&1 && test -r $stats"
check "rgup_test.ko brings /dev/rgup, /dev/rgup_gup_test, /dev/rgup_dmirror0 and 1" \
	sh -c "insmod '$root/rgup_test.ko' && test -c /dev/rgup && test -c /dev/rgup_gup_test && \
		test -c /dev/rgup_dmirror0 && test -c /dev/rgup_dmirror1"

ktap_finished
