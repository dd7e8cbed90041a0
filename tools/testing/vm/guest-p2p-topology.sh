#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside a VM booted with run.sh --p2p or --p2p-split: is the P2P topology
# there? TAP out. An NVMe (1b36:0010) whose CMB the nvme driver published as
# p2pmem, and QEMU's edu device (1234:11e8): behind the same PCIe switch
# (--p2p), or edu on a root port of its own (--p2p-split), where no P2P path
# exists.
#
#   guest-p2p-topology.sh [--split] [FILE]     TAP to FILE, else to stdout

split=
[ "${1:-}" != --split ] || { split=1; shift; }
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
# In sysfs a device sits below its bridges: ../.. is the switch's upstream
# port for a device behind a switch, the host bridge for one on a root port.
if [ -z "$split" ]; then
	check "NVMe and edu behind the same PCIe switch" \
		test -n "$nvme" -a -n "$edu" -a \
		"$(dirname "$(dirname "$nvme")")" = "$(dirname "$(dirname "$edu")")"
else
	# ../.. of edu is the host bridge (pciDDDD:BB): a root port's device.
	on_root_port() {
		[ -n "$nvme" ] && [ -n "$edu" ] &&
			[[ $(basename "$(dirname "$(dirname "$edu")")") == pci* ]] &&
			[ "$(dirname "$(dirname "$nvme")")" != "$(dirname "$(dirname "$edu")")" ]
	}
	check "edu on a root port of its own, not behind the NVMe's switch" on_root_port
fi
