#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test suite, as run inside the test VM by tools/testing/check.sh:
#
#   guest-check.sh OUTDIR
#
# Loads rgup.ko and the test module rgup_test.ko (their KUnit suites run at
# load), runs every kselftest of tools/testing/selftests/rgup, unloads, then
# loads the outside driver with modprobe from the scratch module tree
# EXTERNAL_ROOT (check.sh installs rgup and the driver there) and runs its
# kselftest; writes one TAP file per part into OUTDIR, plus dmesg. Never
# stops early: a failing part is a "not ok".

set -u
out=${1:?usage: guest-check.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tests=$root/tools/testing/selftests/rgup
export KSRC=${KSRC:?KSRC unset}

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
. "$here/guest-env.sh"

# Our own TAP file, for what is not a test program's output (guest-env.sh).
rgup_tap_open "$out/guest.tap"
# check DESCRIPTION COMMAND...: one result, ok if COMMAND succeeds.
check() {
	local what=$1
	shift
	if "$@"; then result ok "$what"; else result not-ok "$what"; fi
}

# Time limits of the test programs, each below the VM's (check.sh: 1200 s
# on the test kernel; RGUP_TIME_SCALE multiplies them on the debug kernel),
# so that a hang is named and the run goes on.
scale=${RGUP_TIME_SCALE:-1}
limit() { echo $(($1 * scale)); }

ext4=$RGUP_EXT4
check "ext4 test mount at $ext4" rgup_guest_env_up
check "swap: 128 MiB swap file on the ext4 test mount" rgup_guest_swap_up

pins_before=$(pins_outstanding)
echo "# FOLL_PIN pins outstanding before the run: $pins_before"

dmesg -C
for m in rgup rgup_test; do
	if insmod "$root/$m.ko"; then
		result ok "insmod $m.ko"
	else
		result not-ok "insmod $m.ko"
	fi
done

# KUnit: each suite's KTAP from debugfs (CONFIG_KUNIT_DEBUGFS).
suites=0
: > "$out/kunit.tap"
for d in /sys/kernel/debug/kunit/rgup_*; do
	[ -r "$d/results" ] || continue
	cat "$d/results" >> "$out/kunit.tap"
	suites=$((suites + 1))
done
if [ "$suites" -gt 0 ]; then
	result ok "KUnit: $suites rgup suites ran at insmod"
else
	result not-ok "KUnit: no rgup suite ran at insmod"
fi

# With every file closed, rgup holds nothing: its own counters say so (and
# they must be there to say it).
check_nothing_held() { # check_nothing_held WHEN
	local held
	held=$(rgup_stats_held pins pinned_pages charged_pages mirrors mirrored_pages)
	if [ -z "$held" ]; then
		result ok "rgup stats $1: no pin, page, charge or mirror outstanding"
	else
		result not-ok "rgup stats $1: $held"
	fi
}

# The sample drivers the tests exercise.
for m in rgup_sample_dma rgup_sample_mirror; do
	if insmod "$root/$m.ko"; then
		result ok "insmod $m.ko"
	else
		result not-ok "insmod $m.ko"
	fi
done

# The rgup kselftests, in this order: the C tests with the sample drivers
# loaded; rgup_unload_test, which unloads the sample drivers once it showed
# that nothing using rgup unloads while in use; rgup_modules.sh, which
# unloads and reloads rgup.ko. rgup_p2p_test runs in the P2P boots
# (guest-p2p.sh), rgup_migrate_test in the movable-memory boot
# (guest-movable.sh), rgup_external_test below with the outside driver. The
# stress test's time budget is RGUP_STRESS_SECONDS (check.sh: 10 s on the
# test kernel, 60 s on the debug kernel). The fault-injection sweep covers
# every path but the P2P sample's, swept in the P2P switch boot.
stress_seconds=${RGUP_STRESS_SECONDS:-10}
ran=
run_test() { # run_test NAME LIMIT [ARG...]: one kselftest, its TAP in NAME.tap
	local name=$1 lim
	lim=$(limit "$2")
	shift 2
	ran="$ran $name"
	echo "# running $name"
	if ! [ -x "$tests/$name" ]; then
		result not-ok "$name: not built"
	elif ! rgup_run_prog "$out/$name.tap" "$lim" env -C "$tests" "./$name" "$@"; then
		result not-ok "$name: $RGUP_PROG_FAILURE"
	fi
}

run_test rgup_dev_test 120
run_test rgup_pin_test 300
run_test rgup_mirror_test 700
run_test rgup_sample_dma_test 120
run_test rgup_sample_mirror_test 120
run_test rgup_ioctl_fuzz 300
run_test rgup_fault_inject 600 -x rgup_sample_p2p
run_test rgup_stress $((stress_seconds + 120)) -t "$stress_seconds"
check_nothing_held "after the C kselftests"
run_test rgup_unload_test 120
for m in rgup_sample_dma rgup_sample_mirror; do
	if [ -d "/sys/module/$m" ]; then
		result not-ok "$m still loaded after rgup_unload_test"
		rmmod "$m"
	fi
done
run_test rgup_modules.sh 120

# The kernel's own selftests, against rgup's gup_test-compatible node
# (bind-mounted over /sys/kernel/debug/gup_test in a private mount
# namespace) and, as the control, against upstream gup_test in this same
# boot. Run from the ext4 mount: gup_longterm's "local tmpfile" cases use
# the working directory. The result lists must be identical.
# private_tmp_sh BINARY MOUNTS ARGS: the sh -c script that runs BINARY ARGS in
# the caller's new mount namespace after MOUNTS ("" or commands ending in
# &&), with a fresh tmpfs on /tmp, so that the "tmpfile" cases run on a known
# filesystem. BINARY is opened before the tmpfs hides the guest's /tmp and
# executed through /proc/self/fd: a cache under /tmp (RGUP_CACHE=/tmp/...)
# holds the upstream binaries there.
private_tmp_sh() {
	echo "exec 9< '$1' && mount -t tmpfs none /tmp && $2 exec /proc/self/fd/9 $3"
}
upstream_mm() { # upstream_mm TEST rgup|upstream FILE
	local bind=
	[ "$2" = rgup ] && bind="mount --bind /dev/rgup_gup_test /sys/kernel/debug/gup_test &&"
	wait_hugepages_free
	rgup_run_prog "$3" "$(limit 600)" env -C "$ext4" \
		unshare -m sh -c "$(private_tmp_sh "$UPSTREAM_MM/$1" "$bind" "")" ||
		result not-ok "upstream $1 against $2: $RGUP_PROG_FAILURE"
}
pins_total() { sed -n 's/^pins_total: //p' /sys/kernel/debug/rgup/stats; }
results_of() { # the "ok/not ok/skip NAME" lines of a TAP file, numbers dropped
	sed -nE 's/^(ok|not ok) [0-9]+ (.*)$/\1 \2/p' "$1"
}
same_results() { # same_results TEST: rgup's and the control's results agree
	[ -n "$(results_of "$out/upstream-$1-rgup.tap")" ] &&
		diff <(results_of "$out/upstream-$1-rgup.tap") \
			<(results_of "$out/upstream-$1-control.log") > "$out/upstream-$1.diff"
}
if [ -n "${UPSTREAM_MM:-}" ] && [ -c /dev/rgup_gup_test ]; then
	for t in gup_longterm cow; do
		echo "# running upstream $t against rgup"
		before=$(pins_total)
		upstream_mm "$t" rgup "$out/upstream-$t-rgup.tap"
		if [ "$(pins_total)" -gt "$before" ]; then
			result ok "upstream $t pinned through rgup ($(($(pins_total) - before)) pins)"
		else
			result not-ok "upstream $t did not reach rgup's gup_test node"
		fi
		echo "# running upstream $t against upstream gup_test (control)"
		upstream_mm "$t" upstream "$out/upstream-$t-control.log"
		# A difference can come from either run. The control runs upstream's
		# gup_test alone, so running it once more only removes what the
		# environment did to it (on the debug kernel a hugetlb case of the
		# control once skipped, "need more free huge pages", where rgup's
		# run passed). rgup's run is never repeated: a difference it causes
		# stays.
		if ! same_results "$t"; then
			echo "# upstream $t: the control differs; running it once more"
			mv "$out/upstream-$t-control.log" "$out/upstream-$t-control-first.log"
			upstream_mm "$t" upstream "$out/upstream-$t-control.log"
		fi
		if same_results "$t"; then
			result ok "upstream $t: rgup's results identical to upstream gup_test's"
		else
			result not-ok "upstream $t: results differ from upstream gup_test's (see upstream-$t.diff)"
		fi
	done
else
	result not-ok "upstream mm selftests: UPSTREAM_MM unset or /dev/rgup_gup_test missing"
fi

# The kernel's own hmm-tests, the mirror-only cases (the others migrate to
# device-private memory, which rgup does not emulate), against rgup's
# dmirror-compatible nodes (bind-mounted over /dev/hmm_dmirror0 and 1 in a
# private mount namespace) and, as the control, against upstream test_hmm
# loaded in this same boot. The result lists must be identical.
hmm_cases="open_close anon_read anon_read_prot anon_write anon_write_prot
	anon_write_child_shared anon_write_huge anon_write_hugetlbfs file_read
	file_write anon_read_multiple anon_teardown mixedmap compound exclusive
	exclusive_mprotect exclusive_cow userfaultfd_read"
hmm_tests() { # hmm_tests rgup|upstream FILE
	local args= c bind=
	for c in $hmm_cases; do args="$args -r hmm.hmm_device_private.$c"; done
	[ "$1" = rgup ] && bind="mount --bind /dev/rgup_dmirror0 /dev/hmm_dmirror0 &&
		mount --bind /dev/rgup_dmirror1 /dev/hmm_dmirror1 &&"
	rgup_run_prog "$2" "$(limit 300)" \
		unshare -m sh -c "$(private_tmp_sh "$UPSTREAM_MM/hmm-tests" "$bind" "$args")" ||
		result not-ok "upstream hmm-tests against $1: $RGUP_PROG_FAILURE"
}
mirror_faults() { sed -n 's/^mirror_faults_total: //p' /sys/kernel/debug/rgup/stats; }
if [ -x "${UPSTREAM_MM:-}/hmm-tests" ] && [ -c /dev/rgup_dmirror0 ] &&
   insmod "${KBUILD:?}/lib/test_hmm.ko"; then
	echo "# running upstream hmm-tests against rgup"
	before=$(mirror_faults)
	hmm_tests rgup "$out/upstream-hmm-tests-rgup.tap"
	if [ "$(mirror_faults)" -gt "$before" ]; then
		result ok "upstream hmm-tests mirrored through rgup ($(($(mirror_faults) - before)) faults)"
	else
		result not-ok "upstream hmm-tests did not reach rgup's dmirror nodes"
	fi
	echo "# running upstream hmm-tests against upstream test_hmm (control)"
	hmm_tests upstream "$out/upstream-hmm-tests-control.log"
	if [ -n "$(results_of "$out/upstream-hmm-tests-rgup.tap")" ] &&
	   diff <(results_of "$out/upstream-hmm-tests-rgup.tap") \
		<(results_of "$out/upstream-hmm-tests-control.log") > "$out/upstream-hmm-tests.diff"; then
		result ok "upstream hmm-tests: rgup's results identical to upstream test_hmm's"
	else
		result not-ok "upstream hmm-tests: results differ from test_hmm's (see upstream-hmm-tests.diff)"
	fi
	rmmod test_hmm || result not-ok "rmmod test_hmm"
else
	result not-ok "upstream hmm-tests: not built, test_hmm.ko missing or no rgup dmirror node"
fi

rgup_guest_env_down
check_nothing_held "after the upstream suites"

# What rgup shows, kept for the kernel-pointer check below.
cat /sys/kernel/debug/rgup/* > "$out/rgup-debugfs.txt" 2>/dev/null
dmesg > "$out/dmesg-rgup.txt"
if rmmod rgup_test && rmmod rgup; then
	result ok "rmmod rgup_test rgup"
else
	result not-ok "rmmod rgup_test rgup"
fi

# The outside driver (tools/testing/external), built against the SDK that
# `make install DESTDIR=$EXTERNAL_ROOT` installed, and installed next to rgup
# in that module tree: modprobe must load rgup first, by itself.
ext_root=${EXTERNAL_ROOT:-}
krel=$(uname -r)
if [ -n "$ext_root" ] && [ -f "$ext_root/lib/modules/$krel/modules.dep" ]; then
	dmesg -C
	if modprobe -d "$ext_root" rgup_external require_minor=99 2>/dev/null; then
		result not-ok "rgup_external asking for rgup 0.99 loaded anyway"
		modprobe -r -d "$ext_root" rgup_external
	elif dmesg | grep -q 'rgup: this is rgup [0-9.]*; a driver needs rgup 0\.99'; then
		result ok "rgup::require_version refuses an incompatible rgup at init, and says why"
	else
		result not-ok "rgup_external refused, but without rgup's version message"
	fi
	modprobe -r -d "$ext_root" rgup 2>/dev/null
	if ! [ -d /sys/module/rgup ] && modprobe -d "$ext_root" rgup_external &&
	   [ -d /sys/module/rgup ] && [ -e /sys/module/rgup/holders/rgup_external ]; then
		result ok "modprobe rgup_external loaded rgup first (from updates/) and holds it"
	else
		result not-ok "modprobe rgup_external did not load rgup by itself"
	fi
	run_test rgup_external_test 300
	check_nothing_held "after the outside driver's test"
	if modprobe -r -d "$ext_root" rgup_external && ! [ -d /sys/module/rgup ]; then
		result ok "modprobe -r rgup_external unloaded rgup with it"
	else
		result not-ok "modprobe -r rgup_external"
	fi
else
	result not-ok "outside driver: no module tree in EXTERNAL_ROOT='$ext_root'"
fi

# Every rgup kselftest runs somewhere: here, or in the P2P or ZONE_MOVABLE
# boots. A new one that nobody runs would never show up in the counts.
elsewhere="rgup_p2p_test rgup_migrate_test"
for t in "$tests"/rgup_*; do
	name=$(basename "$t")
	case $name in *.c|*.h) continue ;; esac
	[ -f "$t" ] && [ -x "$t" ] || continue
	case " $ran $elsewhere " in
	*" $name "*) ;;
	*) result not-ok "$name is run by no guest script" ;;
	esac
done

# In-flight I/O of other processes may hold pins for a moment: give the
# count up to 5 s to come back to where it was.
pins_after=$(rgup_pins_settle "$pins_before")
echo "# FOLL_PIN pins outstanding after the run: $pins_after"
if [ "$pins_after" -le "$pins_before" ]; then
	result ok "nr_foll_pin_acquired - nr_foll_pin_released back to $pins_before after the run"
else
	result not-ok "FOLL_PIN leak: $((pins_after - pins_before)) pins still held after the run"
fi

# No kernel pointer in anything rgup shows: its debugfs files and what it
# (and its samples and compat nodes) logged. Kernel addresses on x86_64 start
# with ffff; user addresses never do.
kptr_re='(0x)?ffff[0-9a-f]{12}'
kptrs=$( { cat "$out/rgup-debugfs.txt"
	   grep -E 'rgup|dmirror' "$out/dmesg-rgup.txt"; } 2>/dev/null |
	grep -Eio "$kptr_re" | head -n 3)
if [ -z "$kptrs" ]; then
	result ok "no kernel pointer in rgup's debugfs or log lines"
else
	result not-ok "kernel pointers shown: $(echo $kptrs)"
fi

# On a kernel with kmemleak (the debug kernel): scan, twice (a new leak is
# reported on the second scan that still finds it unreferenced), and fail on
# any suspected leak. A kernel built with kmemleak whose kmemleak is off
# (it disables itself on an internal error) fails: no scan is no verdict.
if grep -q '^CONFIG_DEBUG_KMEMLEAK=y' "${KBUILD:?}/.config" &&
   ! [ -w /sys/kernel/debug/kmemleak ]; then
	result not-ok "kmemleak: built in, but /sys/kernel/debug/kmemleak is off (see dmesg)"
	leaks=off
elif [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan > /sys/kernel/debug/kmemleak
	sleep 5
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak > "$out/kmemleak.txt"
	leaks=$(grep -c '^unreferenced object' "$out/kmemleak.txt")
	if [ "$leaks" = 0 ]; then
		result ok "kmemleak: 0 suspected leaks after the run"
	else
		result not-ok "kmemleak: $leaks suspected leaks (see kmemleak.txt)"
	fi
fi

# The hardening numbers, for check.sh to print with the splat count.
{
	sed -n 's/^# \(injection points: .*\)/\1/p' "$out/rgup_fault_inject.tap"
	sed -n 's/^# \(stress iterations: .*\)/\1/p' "$out/rgup_stress.tap"
	sed -n 's/^# \(fuzz calls: .*\)/\1/p' "$out/rgup_ioctl_fuzz.tap"
	if [ "${leaks:-}" = off ]; then
		echo "kmemleak: built in but off, no scan"
	elif [ -n "${leaks:-}" ]; then
		echo "kmemleak: $leaks suspected leaks"
	else
		echo "kmemleak: not in this kernel"
	fi
} > "$out/hardening.txt" 2>/dev/null

dmesg > "$out/dmesg.txt"
rgup_tap_close
