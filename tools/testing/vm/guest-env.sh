# SPDX-License-Identifier: GPL-2.0
#
# Sourced inside the test VM: the environment rgup's tests and demo need
# besides the modules.
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
