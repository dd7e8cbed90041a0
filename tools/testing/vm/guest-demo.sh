#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What `make demo` shows inside the test VM: rgup.ko, the library, loading
# (its KUnit suites run at load); the test module's /dev/rgup reporting its
# versions; and sample drivers in other modules using the rgup crate: a
# registration, long-term pins with a software DMA engine, and a mirror.
# Every line says what it shows; rgup's counters are printed with their
# change since the previous print.

set -eu
# With an argument, the transcript goes to that file (demo.sh shows it).
[ $# -eq 0 ] || exec > "$1" 2>&1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
show() { echo "\$ $*"; "$@"; }
klog() { dmesg | sed 's/^\[[^]]*\] //'; }

stats=/sys/kernel/debug/rgup/stats
prev_stats=$(mktemp)
# show_stats WHEN [NOTE]: rgup's counters, each with its change since the last
# call, then NOTE.
show_stats() {
	echo "rgup's counters $1 (in parentheses: the change since the previous print):"
	echo "\$ cat $stats"
	awk -F': ' -v prev="$prev_stats" '
		BEGIN { while ((getline l < prev) > 0) { split(l, a, ": "); old[a[1]] = a[2]; seen = 1 } }
		{ d = seen ? $2 - old[$1] : 0
		  printf "  %-20s %6s%s\n", $1 ":", $2, d ? sprintf("  (%+d)", d) : "" }' "$stats"
	cp "$stats" "$prev_stats"
	[ -z "${2:-}" ] || echo "$2"
}

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
echo "=== rgup demo on Linux $(uname -r)"
echo "=== rgup.ko, the library: it loads, and its KUnit suites run at load"
dmesg -C
show insmod "$root/rgup.ko"
klog | grep -E '^rgup: version'
echo "KUnit suites of rgup.ko (/sys/kernel/debug/kunit/rgup_*/results):"
for d in /sys/kernel/debug/kunit/rgup_*; do
	[ -r "$d/results" ] || continue
	awk -v suite="${d##*/}" '
		/^    ok / { if (/# SKIP/) s++; else p++ }
		/^    not ok / { f++ }
		END { printf "  %-22s %3d passed, %d failed, %d skipped\n", suite, p, f, s }' "$d/results"
done
echo "(The cases' own log lines, e.g. the refusals require_version's tests provoke"
echo " on purpose, are in the kernel log, not shown here.)"
show_stats "after the load" "(They count from the load: the *_total ones already count the KUnit cases' pins
and faults; the others say what rgup holds now: nothing.)"

echo "=== rgup_test.ko, the test module: /dev/rgup, rgup's uAPI for its own tests and this demo"
show insmod "$root/rgup_test.ko"
show ls -l /dev/rgup
echo "RGUP_IOC_VERSION through /dev/rgup: the library's version and the uAPI's, which are independent"
"$root/tools/testing/demo/rgup_version_demo"

echo "=== a driver in another module imports the rgup crate (samples/rust/rgup_sample_client.rs)"
dmesg -C
show insmod "$root/rgup_sample_client.ko"
klog | grep '^rgup_sample_client'
show_stats "after the sample registered as a client"
echo "the modules that depend on rgup.ko (rmmod rgup is refused while one is loaded):"
echo "\$ ls /sys/module/rgup/holders/"
ls /sys/module/rgup/holders/
show rmmod rgup_sample_client

echo "=== long-term pins (rgup::pin): through /dev/rgup, and in a sample driver, rgup_sample_dma"
. "$here/guest-env.sh"
rgup_guest_env_up
show insmod "$root/rgup_sample_dma.ko"
dmesg -C
"$root/tools/testing/demo/rgup_pin_demo" "$RGUP_EXT4"
echo "the driver logged rgup's explanation of the refusal (PinError::Refused, Refusal::explain()):"
klog | grep refusing
show_stats "after the pins" "(pins_total counts the pins just made; nothing is left pinned or charged.)"
show rmmod rgup_sample_dma

echo "=== a secondary-MMU mirror (rgup::mirror): the device page table of rgup_sample_mirror follows this process"
show insmod "$root/rgup_sample_mirror.ko"
"$root/tools/testing/demo/rgup_mirror_demo"
show_stats "after the mirror" "(mirror_faults_total counts its fault rounds; the mirror went with the file.)"
show rmmod rgup_sample_mirror
show rmmod rgup_test
show rmmod rgup
rgup_guest_env_down
rm -f "$prev_stats"
echo "=== end"
