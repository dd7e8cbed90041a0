#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside a VM booted with run.sh --p2p: is the P2P topology there? TAP out.
# An NVMe (1b36:0010) whose CMB the nvme driver published as p2pmem, and
# QEMU's edu device (1234:11e8), behind the same PCIe switch.
#
#   guest-p2p-topology.sh [FILE]     TAP to FILE, else to stdout

[ $# = 0 ] || exec > "$1"

n=0
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n $what"; else echo "not ok $n $what"; fi
}
find_dev() { # find_dev VENDOR DEVICE: the sysfs path of the first match
	local d
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ]; then
			readlink -f "$d"
			return 0
		fi
	done
	return 1
}

echo "TAP version 13"
echo "1..4"
nvme=$(find_dev 0x1b36 0x0010)
edu=$(find_dev 0x1234 0x11e8)
check "NVMe present" test -n "$nvme"
check "edu present" test -n "$edu"
check "NVMe CMB published as 64 MiB of p2pmem" \
	test "$(cat "$nvme/p2pmem/size" 2>/dev/null)" = 67108864 -a \
	     "$(cat "$nvme/p2pmem/published" 2>/dev/null)" = 1
# In sysfs a device sits below its bridges: ../.. is the switch's upstream port.
check "NVMe and edu behind the same PCIe switch" \
	test -n "$nvme" -a "$(dirname "$(dirname "$nvme")")" = "$(dirname "$(dirname "$edu")")"
