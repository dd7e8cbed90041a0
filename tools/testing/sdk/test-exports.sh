#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The export check: a crate that names every public item of `rgup` links
# against the SDK alone (Documentation/rgup/design.rst, "Linking: dependents
# and exports").
#
#   tools/testing/sdk/test-exports.sh RGUP_JSON SDK_DIR OUT KDIR RUSTC LLVM
#
# RGUP_JSON is rustdoc's JSON of the crate (make rustdoc-json). modpost fails
# the build, naming the symbol, if rgup.ko does not export something the
# generated crate reaches.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
json=$1 sdk=$(cd "$2" && pwd) out=$3 kdir=$4 rustc=$5 llvm=$6

rm -rf "$out"
python3 "$here/export_check.py" "$json" "$out"
make -C "$kdir" M="$out" RGUP_SDK="$sdk" LLVM="$llvm" RUSTC="$rustc" KRUSTFLAGS=-Dwarnings modules
echo "ok: every public item of rgup links against the SDK ($(grep -c black_box "$out/rgup_export_check.rs") references)"
