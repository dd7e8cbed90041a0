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

# Wait (up to 60 s) until every huge page is free again: io_uring releases a
# registered buffer's huge pages from a worker after the ring is closed, and
# the next suite's hugetlb cases skip ("need more free huge pages") if they
# are still held, which on the debug kernel made the rgup and control runs of
# gup_longterm differ. Bash builtins only, like pins_outstanding.
wait_hugepages_free() {
	local k v total free i
	for ((i = 0; i < 600; i++)); do
		total= free=
		while read -r k v _; do
			case $k in
			HugePages_Total:) total=$v ;;
			HugePages_Free:) free=$v ;;
			esac
		done < /proc/meminfo
		[ "$free" = "$total" ] && return 0
		sleep 0.1
	done
	echo "# $free of $total huge pages free after 60 s" >&2
	return 1
}
