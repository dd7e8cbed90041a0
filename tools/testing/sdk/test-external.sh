#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The outside driver, as its author would build it (make check runs this on
# the host, then boots the result):
#
#   tools/testing/sdk/test-external.sh OUT KDIR RUSTC LLVM
#
# 1. `make install DESTDIR=OUT/modroot`: rgup.ko into updates/, depmod, the SDK
#    into /usr/src/rgup/<release>/ of that root;
# 2. copies tools/testing/external/ to OUT/external (nothing of rgup's tree is
#    reachable from there) and builds it with `make -C KDIR M=...` against the
#    installed SDK only, then installs it into extra/ of the same root and runs
#    depmod, so that the VM's `modprobe -d OUT/modroot rgup_external` loads
#    rgup first;
# 3. shows that the SDK refuses, at build time and with its own message, a
#    different rustc, kernel release or kernel build.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$1 kdir=$2 rustc=$3 llvm=$4

krel=$(cat "$kdir/include/config/kernel.release")
modroot=$out/modroot
sdk=$modroot/usr/src/rgup/$krel
ext=$out/external

step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "make install DESTDIR=$modroot"
rm -rf "$modroot"
make -C "$root" -s install KDIR="$kdir" DESTDIR="$modroot"
[ -f "$modroot/lib/modules/$krel/updates/rgup.ko" ] || fail "rgup.ko not installed"
for f in librgup.rmeta Module.symvers rgup.mk include/uapi/linux/rgup.h; do
	[ -f "$sdk/$f" ] || fail "SDK file $f missing in $sdk"
done

step "build tools/testing/external in $ext against $sdk"
rm -rf "$ext"
mkdir -p "$ext"
cp "$root"/tools/testing/external/{Kbuild,Makefile,*.rs,*.c,*.h} "$ext/"
xmake() { make -C "$ext" KDIR="$kdir" RGUP_SDK="$sdk" LLVM="$llvm" RUSTC="$rustc" "$@"; }
# With clippy, warnings as errors, as rgup's own crates are built in make check.
xmake CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver KRUSTFLAGS=-Dwarnings modules
modinfo -F depends "$ext/rgup_external.ko" | grep -qx rgup ||
	fail "rgup_external.ko does not record its dependency on rgup"
xmake modules_install INSTALL_MOD_PATH="$modroot" >/dev/null
depmod -b "$modroot" "$krel"
grep -q '^extra/rgup_external.ko: updates/rgup.ko$' "$modroot/lib/modules/$krel/modules.dep" ||
	fail "modules.dep does not say rgup_external needs rgup: $(cat "$modroot/lib/modules/$krel/modules.dep")"

# mismatch NAME SED-OF-rgup.mk EXPECTED-MESSAGE [MAKE VARS...]: the build
# must stop in rgup.mk with EXPECTED-MESSAGE, before compiling anything.
mismatch() {
	local name=$1 edit=$2 want=$3 log=$out/external-$1.log
	shift 3
	rm -rf "$out/sdk-$name"
	cp -r "$sdk" "$out/sdk-$name"
	[ -z "$edit" ] || sed -i "$edit" "$out/sdk-$name/rgup.mk"
	xmake clean >/dev/null 2>&1 || true
	if make -C "$ext" KDIR="$kdir" RGUP_SDK="$out/sdk-$name" LLVM="$llvm" RUSTC="$rustc" \
		"$@" modules > "$log" 2>&1; then
		fail "$name: the build went through"
	fi
	grep -q "$want" "$log" || fail "$name: not stopped by rgup.mk: $(tail -n 5 "$log")"
	echo "refused ($name): $(grep -o "rgup SDK .*" "$log" | head -n 1)"
}
step "the SDK refuses what does not match"
fake=$out/fake-rustc
printf '#!/bin/sh\necho "rustc 0.0.0 (not the kernel'"'"'s)"\n' > "$fake"
chmod +x "$fake"
mismatch rustc "" "made with '.*', this build uses 'rustc 0.0.0" RUSTC="$fake"
mismatch release 's/^rgup_sdk_krelease := .*/rgup_sdk_krelease := 0.0.0-other/' \
	"made for Linux 0.0.0-other, this build is for $krel"
mismatch kernel-build 's/^rgup_sdk_kernel_rmeta := .*/rgup_sdk_kernel_rmeta := 0000/' \
	"made against another build of Linux"
xmake clean >/dev/null 2>&1 || true
xmake modules >/dev/null
echo "ok: rgup_external.ko built from the SDK alone and installed in $modroot"
