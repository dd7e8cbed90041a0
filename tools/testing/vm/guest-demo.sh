#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What `make demo` shows inside the test VM: rgup.ko loading (and its KUnit
# suites), the test module's /dev/rgup answering, and sample drivers from
# other modules using the rgup crate: pins, and a mirror.

set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
show() { echo "\$ $*"; "$@"; }

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
echo "=== rgup demo on $(uname -r)"
dmesg -C
show insmod "$root/rgup.ko"
dmesg | sed 's/^\[[^]]*\] //' | grep -E '^rgup|^ *(ok|not ok) [0-9]+ rgup_|# rgup_'
echo "=== the test module: /dev/rgup, rgup's uAPI for its tests and demos"
show insmod "$root/rgup_test.ko"
show ls -l /dev/rgup
echo "=== RGUP_IOC_VERSION through /dev/rgup"
"$root/tools/testing/selftests/rgup/rgup_dev_test" -r rgup_dev.version | grep -E '^(ok|not ok)'
echo "=== a driver in another module imports the rgup crate"
show cat /sys/kernel/debug/rgup/stats
dmesg -C
show insmod "$root/rgup_sample_client.ko"
dmesg | sed 's/^\[[^]]*\] //'
show cat /sys/kernel/debug/rgup/stats
show ls /sys/module/rgup/holders/
show rmmod rgup_sample_client
echo "=== long-term pins (rgup::pin) through /dev/rgup and the sample DMA engine"
. "$here/guest-env.sh"
rgup_guest_env_up
show insmod "$root/rgup_sample_dma.ko"
dmesg -C
"$root/tools/testing/demo/rgup_pin_demo" "$RGUP_EXT4"
echo "rgup's explanation, logged by the sample driver:"
dmesg | sed 's/^\[[^]]*\] //' | grep refusing
show cat /sys/kernel/debug/rgup/stats
show rmmod rgup_sample_dma
echo "=== a secondary-MMU mirror (rgup::mirror) in the sample device driver"
show insmod "$root/rgup_sample_mirror.ko"
"$root/tools/testing/demo/rgup_mirror_demo"
show cat /sys/kernel/debug/rgup/stats
show rmmod rgup_sample_mirror
show rmmod rgup_test
show rmmod rgup
rgup_guest_env_down
echo "=== end"
