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

# Lines of our own TAP file, for what is not a test program's output.
inv=$out/guest.tap
inv_n=0
inv_lines=()
result() { # result ok|not-ok DESCRIPTION
	inv_n=$((inv_n + 1))
	if [ "$1" = ok ]; then
		inv_lines+=("ok $inv_n $2")
	else
		inv_lines+=("not ok $inv_n $2")
	fi
}

ext4=$RGUP_EXT4
if rgup_guest_env_up; then
	result ok "ext4 test mount at $ext4"
else
	result not-ok "ext4 test mount at $ext4"
fi

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

# With every file closed, rgup holds nothing: its own counters say so.
check_nothing_held() { # check_nothing_held WHEN
	local held
	held=$(grep -E '^(pins|pinned_pages|charged_pages|mirrors|mirrored_pages): ' \
		/sys/kernel/debug/rgup/stats |
		grep -v ': 0$')
	if [ -z "$held" ]; then
		result ok "rgup stats $1: no pin, page, charge or mirror outstanding"
	else
		result not-ok "rgup stats $1: still held: $(echo $held)"
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

# The stress test's time budget: RGUP_STRESS_SECONDS (check.sh: 10 s on the
# test kernel, 60 s on the debug kernel).
stress_seconds=${RGUP_STRESS_SECONDS:-10}
for t in "$tests"/rgup_*_test "$tests"/rgup_ioctl_fuzz "$tests"/rgup_fault_inject \
	 "$tests"/rgup_stress "$tests"/rgup_*.sh; do
	[ -x "$t" ] || continue
	# The shell tests unload and reload rgup.ko: nothing may hold it then.
	case $t in
	*.sh) if [ -d /sys/module/rgup_sample_dma ]; then
		check_nothing_held "after the C kselftests"
		rmmod rgup_sample_dma rgup_sample_mirror ||
			result not-ok "rmmod rgup_sample_dma rgup_sample_mirror"
	      fi ;;
	esac
	name=$(basename "$t")
	# rgup_p2p_test needs the P2P topology: guest-p2p.sh runs it;
	# rgup_external_test the outside driver, loaded below.
	[ "$name" != rgup_p2p_test ] && [ "$name" != rgup_external_test ] || continue
	echo "# running $name"
	args=()
	[ "$name" != rgup_stress ] || args=(-t "$stress_seconds")
	(cd "$tests" && timeout 1800 "$t" "${args[@]}") > "$out/$name.tap" 2>&1
	rc=$?
	echo "# $name exit status $rc"
	# A failing program reports its own "not ok" lines; one that dies
	# without any is reported here.
	case $rc in
	0|4) ;; # pass, skip
	*) grep -q '^not ok' "$out/$name.tap" ||
		result not-ok "$name exited with status $rc" ;;
	esac
done

# The kernel's own selftests, against rgup's gup_test-compatible node
# (bind-mounted over /sys/kernel/debug/gup_test in a private mount
# namespace) and, as the control, against upstream gup_test in this same
# boot. Run from the ext4 mount: gup_longterm's "local tmpfile" cases use
# the working directory. The result lists must be identical.
upstream_mm() { # upstream_mm TEST rgup|upstream
	local bin=$UPSTREAM_MM/$1 bind=
	# A tmpfs /tmp, so that the "tmpfile" cases run on a known filesystem.
	[ "$2" = rgup ] && bind="mount --bind /dev/rgup_gup_test /sys/kernel/debug/gup_test &&"
	wait_hugepages_free
	(cd "$ext4" && unshare -m sh -c "mount -t tmpfs none /tmp && $bind exec $bin")
}
pins_total() { sed -n 's/^pins_total: //p' /sys/kernel/debug/rgup/stats; }
results_of() { # the "ok/not ok/skip NAME" lines of a TAP file, numbers dropped
	sed -nE 's/^(ok|not ok) [0-9]+ (.*)$/\1 \2/p' "$1"
}
if [ -n "${UPSTREAM_MM:-}" ] && [ -c /dev/rgup_gup_test ]; then
	for t in gup_longterm cow; do
		echo "# running upstream $t against rgup"
		before=$(pins_total)
		upstream_mm "$t" rgup > "$out/upstream-$t-rgup.tap" 2>&1
		if [ "$(pins_total)" -gt "$before" ]; then
			result ok "upstream $t pinned through rgup ($(($(pins_total) - before)) pins)"
		else
			result not-ok "upstream $t did not reach rgup's gup_test node"
		fi
		echo "# running upstream $t against upstream gup_test (control)"
		upstream_mm "$t" upstream > "$out/upstream-$t-control.log" 2>&1
		if [ -n "$(results_of "$out/upstream-$t-rgup.tap")" ] &&
		   diff <(results_of "$out/upstream-$t-rgup.tap") \
			<(results_of "$out/upstream-$t-control.log") > "$out/upstream-$t.diff"; then
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
hmm_tests() { # hmm_tests rgup|upstream
	local args= c bind=
	for c in $hmm_cases; do args="$args -r hmm.hmm_device_private.$c"; done
	[ "$1" = rgup ] && bind="mount --bind /dev/rgup_dmirror0 /dev/hmm_dmirror0 &&
		mount --bind /dev/rgup_dmirror1 /dev/hmm_dmirror1 &&"
	unshare -m sh -c "mount -t tmpfs none /tmp && $bind exec $UPSTREAM_MM/hmm-tests $args"
}
mirror_faults() { sed -n 's/^mirror_faults_total: //p' /sys/kernel/debug/rgup/stats; }
if [ -x "${UPSTREAM_MM:-}/hmm-tests" ] && [ -c /dev/rgup_dmirror0 ] &&
   insmod "${KBUILD:?}/lib/test_hmm.ko"; then
	echo "# running upstream hmm-tests against rgup"
	before=$(mirror_faults)
	hmm_tests rgup > "$out/upstream-hmm-tests-rgup.tap" 2>&1
	if [ "$(mirror_faults)" -gt "$before" ]; then
		result ok "upstream hmm-tests mirrored through rgup ($(($(mirror_faults) - before)) faults)"
	else
		result not-ok "upstream hmm-tests did not reach rgup's dmirror nodes"
	fi
	echo "# running upstream hmm-tests against upstream test_hmm (control)"
	hmm_tests upstream > "$out/upstream-hmm-tests-control.log" 2>&1
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
	echo "# running rgup_external_test"
	(cd "$tests" && timeout 600 ./rgup_external_test) > "$out/rgup_external_test.tap" 2>&1
	rc=$?
	echo "# rgup_external_test exit status $rc"
	[ "$rc" = 0 ] || grep -q '^not ok' "$out/rgup_external_test.tap" ||
		result not-ok "rgup_external_test exited with status $rc"
	check_nothing_held "after the outside driver's test"
	if modprobe -r -d "$ext_root" rgup_external && ! [ -d /sys/module/rgup ]; then
		result ok "modprobe -r rgup_external unloaded rgup with it"
	else
		result not-ok "modprobe -r rgup_external"
	fi
else
	result not-ok "outside driver: no module tree in EXTERNAL_ROOT='$ext_root'"
fi

# In-flight I/O of other processes may hold pins for a moment: give the
# count up to 5 s to come back to where it was.
for _ in $(seq 50); do
	pins_after=$(pins_outstanding)
	[ "$pins_after" -gt "$pins_before" ] || break
	sleep 0.1
done
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
# any suspected leak.
if [ -w /sys/kernel/debug/kmemleak ]; then
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
	if [ -n "${leaks:-}" ]; then
		echo "kmemleak: $leaks suspected leaks"
	else
		echo "kmemleak: not in this kernel"
	fi
} > "$out/hardening.txt" 2>/dev/null

{
	echo "TAP version 13"
	echo "1..$inv_n"
	printf '%s\n' "${inv_lines[@]}"
} > "$inv"
dmesg > "$out/dmesg.txt"
cat "$inv"
