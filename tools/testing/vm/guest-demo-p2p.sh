#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The P2P part of `make demo`, in a VM booted with run.sh --p2p: the
# topology, then QEMU's edu DMAing to and from an NVMe's memory buffer
# through rgup::p2p's DMA-only lists (samples/rust/rgup_sample_p2p.rs).

set -eu
# With an argument, the transcript goes to that file (demo.sh shows it).
[ $# -eq 0 ] || exec > "$1" 2>&1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
show() { echo "\$ $*"; "$@"; }

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
echo "=== peer-to-peer DMA (rgup::p2p): an NVMe's CMB and QEMU's edu behind one PCIe switch"
echo "the topology QEMU was given (a second boot, run.sh --p2p):"
"$here/guest-p2p-topology.sh" | grep '^ok\|^not ok'
dmesg -C
show insmod "$root/rgup.ko"
show insmod "$root/rgup_sample_p2p.ko"
dmesg | sed 's/^\[[^]]*\] //' | grep 'rgup_sample_p2p'
"$root/tools/testing/demo/rgup_p2p_demo"
show rmmod rgup_sample_p2p
show rmmod rgup
echo "=== end"
