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
# The image is sparse, in the guest's tmpfs: 64 MiB for the tests' files,
# room for the swap file below.

RGUP_EXT4=/tmp/rgup-ext4

rgup_guest_env_up() {
	echo 32 > /proc/sys/vm/nr_hugepages
	mkdir -p "$RGUP_EXT4" && truncate -s 256M /tmp/rgup-ext4.img &&
		mkfs.ext4 -q -F /tmp/rgup-ext4.img &&
		mount -o loop /tmp/rgup-ext4.img "$RGUP_EXT4" &&
		touch "$RGUP_EXT4/.rgup-mounted"
}

# Safe under `set -e` (guest-demo.sh): only what is there is undone.
rgup_guest_env_down() {
	rgup_guest_swap_down
	if mountpoint -q "$RGUP_EXT4"; then
		umount "$RGUP_EXT4"
	fi
	rm -f /tmp/rgup-ext4.img
}

# Swap: a file on the ext4 test filesystem, so that MADV_PAGEOUT really
# swaps anonymous and shmem pages out (upstream cow's swap cases, rgup's
# dirty-on-release and memfd tests). 128 MiB: cow swaps out at most a few
# THPs at a time. CONFIG_SWAP is in the test kernel.
RGUP_SWAP=$RGUP_EXT4/swapfile

rgup_guest_swap_up() {
	fallocate -l 128M "$RGUP_SWAP" && chmod 600 "$RGUP_SWAP" &&
		mkswap -q "$RGUP_SWAP" && swapon "$RGUP_SWAP"
}

rgup_guest_swap_down() {
	# swapoff of a file that is not swap fails (status 4), which under
	# `set -e` ended the demo, which sets up no swap.
	if grep -q "^$RGUP_SWAP " /proc/swaps; then
		swapoff "$RGUP_SWAP"
	fi
	rm -f "$RGUP_SWAP"
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

# rgup_pins_settle BEFORE: the outstanding FOLL_PIN count once it is back to
# BEFORE, or after 5 s (in-flight I/O of other processes may hold pins for a
# moment).
rgup_pins_settle() {
	local after
	for _ in $(seq 50); do
		after=$(pins_outstanding)
		[ "$after" -gt "$1" ] || break
		sleep 0.1
	done
	echo "$after"
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

# rgup_run_prog FILE LIMIT CMD...: run one test program with a time limit
# (seconds), its output (TAP) into FILE. Sets RGUP_PROG_FAILURE to why the
# program failed as a whole, or to nothing when its own TAP speaks for it:
# skipped as a whole (exit 4: it ran nothing), timed out, killed by a signal
# (the OOM killer named as such), or a non-zero exit without any "not ok"
# or "Bail out!".
rgup_run_prog() {
	local file=$1 limit=$2 rc start ooms sig
	shift 2
	ooms=$(dmesg | grep -c 'Out of memory: Killed process')
	start=$SECONDS
	timeout -k 10 "$limit" "$@" > "$file" 2>&1
	rc=$?
	RGUP_PROG_FAILURE=
	if [ "$rc" = 124 ] || { [ "$rc" = 137 ] && [ $((SECONDS - start)) -ge "$limit" ]; }; then
		RGUP_PROG_FAILURE="timed out after ${limit}s"
	elif [ "$rc" -gt 128 ]; then
		sig=$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))
		if [ "$(dmesg | grep -c 'Out of memory: Killed process')" -gt "$ooms" ]; then
			RGUP_PROG_FAILURE="killed by the OOM killer (SIG$sig)"
		else
			RGUP_PROG_FAILURE="killed by SIG$sig"
		fi
	elif [ "$rc" = 4 ]; then
		RGUP_PROG_FAILURE="skipped as a whole (exit 4)"
	elif [ "$rc" != 0 ] && ! grep -qE '^(not ok|Bail out!)' "$file"; then
		RGUP_PROG_FAILURE="exited with status $rc without a failing result"
	fi
	echo "# $(basename "$file"): exit status $rc${RGUP_PROG_FAILURE:+: $RGUP_PROG_FAILURE}, $((SECONDS - start)) s"
	[ -z "$RGUP_PROG_FAILURE" ]
}

# rgup_stats_held NAME...: the counters among NAMES of rgup's debugfs stats
# that are not zero ("name: value"), or what is missing (the file, or a
# counter); nothing when every one is there and zero.
rgup_stats_held() {
	local stats=/sys/kernel/debug/rgup/stats name v out=
	if ! [ -r "$stats" ]; then
		echo "$stats missing"
		return
	fi
	for name in "$@"; do
		v=$(sed -n "s/^$name: //p" "$stats")
		if [ -z "$v" ]; then
			out="$out $name: missing"
		elif [ "$v" != 0 ]; then
			out="$out $name: $v"
		fi
	done
	echo ${out# }
}

# The guest scripts' own TAP file, for what is not a test program's output:
# written line by line, the plan last (rgup_tap_close), so that a hang or an
# oops keeps what came before, and a missing plan fails the file.
rgup_tap_open() { # rgup_tap_open FILE
	RGUP_TAP=$1
	RGUP_TAP_N=0
	echo "TAP version 13" > "$RGUP_TAP"
}

result() { # result ok|not-ok DESCRIPTION
	RGUP_TAP_N=$((RGUP_TAP_N + 1))
	if [ "$1" = ok ]; then
		echo "ok $RGUP_TAP_N $2" >> "$RGUP_TAP"
	else
		echo "not ok $RGUP_TAP_N $2" >> "$RGUP_TAP"
	fi
}

rgup_tap_close() { # the plan, then the file on the console
	echo "1..$RGUP_TAP_N" >> "$RGUP_TAP"
	cat "$RGUP_TAP"
}

# rgup_unload_and_settle BEFORE MODULE...: two results: rmmod of MODULES (in
# that order, dependents first), and the FOLL_PIN count back to BEFORE.
rgup_unload_and_settle() {
	local before=$1 after
	shift
	if rmmod "$@"; then
		result ok "rmmod $*"
	else
		result not-ok "rmmod $*"
	fi
	after=$(rgup_pins_settle "$before")
	if [ "$after" -le "$before" ]; then
		result ok "FOLL_PIN pins back to $before"
	else
		result not-ok "FOLL_PIN leak: $((after - before)) pins"
	fi
}
