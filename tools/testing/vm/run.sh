#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a test kernel in QEMU with virtme-ng and run one command inside it.
#
#   tools/testing/vm/run.sh [options] -- COMMAND [ARG...]
#
# The guest sees the host's root filesystem read-only (so the repository, the
# built modules and the selftest binaries are at the same paths), plus --out
# read-write. q35, 2 vCPUs, 2 GiB by default. KVM is used only if a probe
# boot with it succeeded on this machine (the result is cached); otherwise
# TCG.
#
# Options:
#   --kdir DIR       kernel build directory (default: the cached test kernel)
#   --out DIR        host directory the guest may write (results)
#   --log FILE       where the full console log goes (default: in $RGUP_LOGS)
#   --timeout SEC    hard limit for the whole boot + command (default 900)
#   --p2p            add the P2P topology: a PCIe switch with an NVMe whose
#                    CMB is p2pmem (provider) and QEMU's edu device (client)
#   --p2p-split      the same devices, but edu on a separate root port
#   --iommu          put QEMU's intel-iommu in front (q35's DMAR) and boot with
#                    intel_iommu=on iommu.strict=1: device DMA goes through
#                    IOVAs, unmapped IOVAs fault; combine with --p2p
#   --movable        the top 512 MiB of RAM in ZONE_MOVABLE (movablecore=):
#                    user memory lands there, and long-term pins must
#                    migrate it out first. 512, not 128: the debug kernel's
#                    KASAN shadow is allocated from the top of memory at
#                    boot, and left a 128 MiB zone with no page to manage
#   --append ARGS    more kernel command line
#   --nochain        QEMU's -d nochain: TCG looks up every translated block
#                    instead of chaining it to the next (run-bench.sh chaining)
#   --cpus N, --memory SIZE
#
# Exit status: the command's, or 124 on timeout, 137 when QEMU was killed
# before it (the host's OOM killer?), or 125 when the command
# succeeded but the kernel log shows a splat (WARNING:, BUG:, Oops, KASAN,
# lockdep, "Call Trace:", ...; its lines are also written to LOG.splats).
# The last line printed names the log.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../rgup-env.sh"

kdir=$RGUP_KBUILD out= log= timeout=900 p2p= iommu= cpus=2 memory=2G append= nochain=
while [ $# -gt 0 ]; do
	case "$1" in
	--kdir) kdir=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--p2p) p2p=switch; shift ;;
	--p2p-split) p2p=split; shift ;;
	--iommu) iommu=1; shift ;;
	--movable) append="$append movablecore=512M"; shift ;;
	--append) append="$append $2"; shift 2 ;;
	--nochain) nochain=1; shift ;;
	--cpus) cpus=$2; shift 2 ;;
	--memory) memory=$2; shift 2 ;;
	--) shift; break ;;
	*) rgup_die "run.sh: unknown option $1" ;;
	esac
done
[ $# -gt 0 ] || rgup_die "run.sh: no command given"
[ -f "$kdir/arch/x86/boot/bzImage" ] || rgup_die "no kernel image in $kdir: run 'make kernel'"
command -v vng >/dev/null || rgup_die "virtme-ng not found: run 'make bootstrap'"

mkdir -p "$RGUP_LOGS"
[ -n "$log" ] || log=$RGUP_LOGS/vm-$(date +%Y%m%d-%H%M%S)-$$.log
: > "$log"

qemu_opts=()
[ -z "$nochain" ] || qemu_opts+=(-d nochain)
if [ -n "$iommu" ]; then
	# First, so that the DMAR covers every PCI device after it.
	qemu_opts+=(-device intel-iommu)
	append="$append intel_iommu=on iommu.strict=1"
fi
p2p_img=
if [ -n "$p2p" ]; then
	p2p_img=$(mktemp "${TMPDIR:-/tmp}/rgup-nvme.XXXXXX")
	truncate -s 64M "$p2p_img"
	qemu_opts+=(-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1
		    -device x3130-upstream,id=up1,bus=rp1
		    -device xio3130-downstream,id=dn1,bus=up1,chassis=2,slot=1
		    -drive "file=$p2p_img,if=none,id=nvm,format=raw"
		    -device nvme,serial=rgup0,drive=nvm,cmb_size_mb=64,bus=dn1)
	if [ "$p2p" = switch ]; then
		qemu_opts+=(-device xio3130-downstream,id=dn2,bus=up1,chassis=3,slot=2
			    -device edu,bus=dn2,dma_mask=0xffffffffffffffff)
	else
		qemu_opts+=(-device pcie-root-port,id=rp2,bus=pcie.0,chassis=4
			    -device edu,bus=rp2,dma_mask=0xffffffffffffffff)
	fi
fi
cleanup() { [ -z "$p2p_img" ] || rm -f "$p2p_img"; }
trap cleanup EXIT

# KVM is present on this machine kind but its boots hang: use it only if a
# short probe boot with it has worked here before (cached per machine).
kvm_probe() {
	local cache=$RGUP_CACHE/kvm-probe
	if [ -f "$cache" ]; then cat "$cache"; return; fi
	local verdict=no
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		if timeout -k 5 45 vng --run "$kdir" --cpus 1 --memory 512M \
			--exec 'true' </dev/null >/dev/null 2>&1; then
			verdict=yes
		fi
		pkill -f "qemu-system-x86_64.*rgup-kvm-probe" 2>/dev/null || true
	fi
	echo "$verdict" | tee "$cache"
}

accel=(--disable-kvm)
if [ "${RGUP_KVM:-auto}" != no ] && [ "$(kvm_probe)" = yes ]; then
	accel=("--qemu-opts=-machine q35")
fi

vng_args=(--run "$kdir" "${accel[@]}" --disable-microvm --force-9p --verbose
	  --cpus "$cpus" --memory "$memory" --append "oops=panic panic=-1$append")
[ -z "$out" ] || vng_args+=(--rwdir "$out")
[ ${#qemu_opts[@]} = 0 ] || vng_args+=("--qemu-opts=${qemu_opts[*]}")
cmd=$(printf '%q ' "$@")

rgup_stage "vm: booting $(basename "$kdir") kernel (${accel[*]}, $cpus cpus, $memory${p2p:+, p2p=$p2p}${iommu:+, iommu}${append:+,$append}); log $log"
set +e
start=$SECONDS
timeout -k 15 "$timeout" vng "${vng_args[@]}" --exec "cd $(printf %q "$PWD") && $cmd" \
	</dev/null 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
set -e

# The patterns of a kernel splat (a WARN, a BUG, an oops, a sanitizer or
# lockdep report); the runner never lets one pass.
# Lockdep reports are matched by their titles, not the word "lockdep", which a
# debug kernel also prints at boot ("RCU lockdep checking is enabled").
splat_re='WARNING:|BUG:|Oops|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|bad unlock balance|held lock freed|Call Trace:|kernel BUG at|general protection fault|kmemleak: .*new suspected'
# 137 is SIGKILL: timeout's -k after the limit, or something else (the
# host's OOM killer) before it.
if [ "$rc" = 124 ] || { [ "$rc" = 137 ] && [ $((SECONDS - start)) -ge "$timeout" ]; }; then
	echo "rgup: vm: timed out after ${timeout}s" | tee -a "$log" >&2
	rc=124
elif [ "$rc" = 137 ]; then
	echo "rgup: vm: QEMU killed by SIGKILL after $((SECONDS - start))s, before the time limit" |
		tee -a "$log" >&2
elif grep -Eq "$splat_re" "$log"; then
	echo "rgup: vm: kernel splat in the log:" >&2
	grep -En "$splat_re" "$log" | tee "$log.splats" | head -n 20 >&2
	[ "$rc" != 0 ] || rc=125
fi
rgup_stage "vm: exit status $rc; console log: $log"
exit "$rc"
