#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the VM for run-pin-bench.sh: guest-pin-bench.sh OUTDIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
echo 300 > /proc/sys/vm/nr_hugepages
insmod "$root/rgup.ko" || exit 1
"$here/rgup_pin_bench" > "$1/pin-bench.md"
rc=$?
rmmod rgup
exit $rc
