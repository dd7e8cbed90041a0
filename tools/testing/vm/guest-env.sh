# SPDX-License-Identifier: GPL-2.0
#
# Sourced inside the test VM: the environment rgup's tests and demo need
# besides the modules, and the FOLL_PIN balance they check.
#
# An ext4 filesystem on a loop device (a filesystem with writeback, whose
# writable shared mappings need dirty tracking) at $RGUP_EXT4, marked by
# .rgup-mounted for the kselftests, and free huge pages: 32, because io_uring
# releases the huge pages of a registered buffer asynchronously, and the
# next case of upstream gup_longterm must still find two free ones (with
# fewer, its io_uring hugetlb case skipped in one run and not in the other).

RGUP_EXT4=/tmp/rgup-ext4

rgup_guest_env_up() {
	echo 32 > /proc/sys/vm/nr_hugepages
	mkdir -p "$RGUP_EXT4" && truncate -s 64M /tmp/rgup-ext4.img &&
		mkfs.ext4 -q -F /tmp/rgup-ext4.img &&
		mount -o loop /tmp/rgup-ext4.img "$RGUP_EXT4" &&
		touch "$RGUP_EXT4/.rgup-mounted"
}

rgup_guest_env_down() {
	umount "$RGUP_EXT4" 2>/dev/null
	rm -f /tmp/rgup-ext4.img
}

# FOLL_PIN pins held system-wide right now (acquired - released). Bash
# builtins only: executing a program from the 9p root filesystem pins pages
# for its own reads, which would disturb the count.
pins_outstanding() {
	local k v a=0 r=0
	# Fold the per-CPU counters first, so that the difference is exact.
	echo 1 > /proc/sys/vm/stat_refresh
	while read -r k v; do
		case $k in
		nr_foll_pin_acquired) a=$v ;;
		nr_foll_pin_released) r=$v ;;
		esac
	done < /proc/vmstat
	echo $((a - r))
}
