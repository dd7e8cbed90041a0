#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Write rgup's SDK: what a driver outside this tree builds against.
#
#   tools/testing/sdk/make-sdk.sh KDIR RUSTC SDK_DIR
#
# KDIR is the kernel build rgup was built against, RUSTC its compiler; run
# after the module build (make sdk does). SDK_DIR receives:
#
#   librgup.rmeta                 the crate's metadata (--extern rgup)
#   Module.symvers                rgup.ko's exports, for modpost
#   include/uapi/linux/rgup.h     the uAPI header
#   rgup.mk                       the make fragment (rgup.mk.in)
#   rgup-sdk.txt                  what it was made from

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
kdir=$1 rustc=$2 out=$3

die() { echo "rgup: make sdk: $*" >&2; exit 1; }

krelease=$(cat "$kdir/include/config/kernel.release") || die "no kernel build in $kdir"
[ -f "$root/rust/librgup.rmeta" ] && [ -f "$root/Module.symvers" ] && [ -f "$root/rgup.ko" ] ||
	die "build rgup first (make)"
rustc_version=$("$rustc" --version)
kernel_rmeta=$(sha256sum "$kdir/rust/libkernel.rmeta" | cut -d' ' -f1)
# The crate's version, from its one definition (rust/rgup.rs, `pub const VERSION`).
version=$(awk '/^pub const VERSION: Version = Version \{/ { on = 1; next }
	on && /major:/ { gsub(/[ ,]/, ""); split($0, a, ":"); ma = a[2] }
	on && /minor:/ { gsub(/[ ,]/, ""); split($0, a, ":"); mi = a[2] }
	on && /patch:/ { gsub(/[ ,]/, ""); split($0, a, ":"); pa = a[2] }
	on && /^\};/ { print ma "." mi "." pa; exit }' "$root/rust/rgup.rs")
[ -n "$version" ] || die "cannot read rgup's version from rust/rgup.rs"

rm -rf "$out"
mkdir -p "$out/include/uapi/linux"
cp "$root/rust/librgup.rmeta" "$out/"
# rgup.ko's exports only, named by module name rather than by this build's path
# (modpost uses the last path component for the "depends" of the dependent).
awk -F'\t' -v OFS='\t' '$3 ~ /(^|\/)rgup$/ { $3 = "rgup"; print }' "$root/Module.symvers" \
	> "$out/Module.symvers"
[ -s "$out/Module.symvers" ] || die "rgup exports nothing in $root/Module.symvers"
cp "$root/include/uapi/linux/rgup.h" "$out/include/uapi/linux/"
sed -e "s|@RGUP_VERSION@|$version|g" -e "s|@KRELEASE@|$krelease|g" \
	-e "s|@RUSTC_VERSION@|$rustc_version|g" -e "s|@KERNEL_RMETA_SHA256@|$kernel_rmeta|g" \
	"$here/rgup.mk.in" > "$out/rgup.mk"
cat > "$out/rgup-sdk.txt" <<INFO
rgup $version SDK
kernel release: $krelease
rustc: $rustc_version
kernel crate metadata (rust/libkernel.rmeta) sha256: $kernel_rmeta
exported symbols: $(wc -l < "$out/Module.symvers")
INFO
echo "rgup: SDK for Linux $krelease in $out"
