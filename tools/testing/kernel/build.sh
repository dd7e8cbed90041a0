#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or bring up to date) a test kernel out of tree in the cache:
#
#   tools/testing/kernel/build.sh [NAME]      NAME defaults to "test"
#
# The configuration is x86_64 tinyconfig + the fragments listed in
# tools/testing/kernel/NAME.fragments (one per line, relative to this
# directory), or NAME.config alone. It is regenerated whenever a fragment, the
# kernel source or the toolchain changes; every option a fragment asks for is
# then checked in the final .config and the build fails naming any that Kconfig
# dropped. The build itself is incremental. Afterwards the uAPI headers are
# installed into $O/usr/include for the selftests.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export RGUP_KCONFIG_NAME=${1:-${RGUP_KCONFIG_NAME:-test}}
. "$here/../rgup-env.sh"

name=$RGUP_KCONFIG_NAME
O=$RGUP_KBUILD
[ -f "$RGUP_KSRC/.rgup-unpacked" ] || rgup_die "no kernel source in $RGUP_KSRC: run 'make bootstrap'"

fragments=()
if [ -f "$here/$name.fragments" ]; then
	while read -r f; do
		[ -n "$f" ] && [ "${f#\#}" = "$f" ] && fragments+=("$here/$f")
	done < "$here/$name.fragments"
elif [ -f "$here/$name.config" ]; then
	fragments=("$here/$name.config")
else
	rgup_die "unknown kernel config '$name' (no $here/$name.config)"
fi

kmake() {
	make -C "$RGUP_KSRC" O="$O" ARCH=x86_64 "${RGUP_KMAKE_VARS[@]}" "$@"
}

config_key=$( {
	cat "${fragments[@]}"
	cat "$RGUP_KSRC/.rgup-unpacked"
	/usr/bin/rustc --version
	clang-19 --version | head -n 1
	"$RGUP_TOOLS/bin/bindgen" --version
} | sha256sum | cut -d' ' -f1)

# Every CONFIG_X=y|m|n ("# CONFIG_X is not set" = n) asked for must be in
# .config with that value.
verify_config() {
	local dropped=() line opt want have
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) opt=${line%%=*}; want=${line#*=} ;;
		"# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}; want=n ;;
		*) continue ;;
		esac
		have=$(grep -E "^$opt=" "$O/.config" | cut -d= -f2- || true)
		[ -n "$have" ] || have=n
		[ "$have" = "$want" ] || dropped+=("$opt (asked $want, got $have)")
	done < <(cat "${fragments[@]}")
	if [ ${#dropped[@]} != 0 ]; then
		printf 'rgup: Kconfig dropped options from the %s fragment:\n' "$name" >&2
		printf '  %s\n' "${dropped[@]}" >&2
		exit 1
	fi
}

mkdir -p "$O"
if [ "$(cat "$O/.rgup-config-key" 2>/dev/null)" != "$config_key" ]; then
	rgup_stage "kernel[$name]: configuring (tinyconfig + ${fragments[*]##*/})"
	rm -f "$O/.rgup-config-key" "$O/.rgup-built-key"
	kmake -s tinyconfig
	"$RGUP_KSRC/scripts/kconfig/merge_config.sh" -m -O "$O" "$O/.config" "${fragments[@]}" >/dev/null
	kmake -s olddefconfig
	verify_config
	kmake -s rustavailable >/dev/null || rgup_die "the kernel says Rust is not available with this toolchain"
	echo "$config_key" > "$O/.rgup-config-key"
fi

if [ "$(cat "$O/.rgup-built-key" 2>/dev/null)" = "$config_key" ] && [ -z "${RGUP_KERNEL_REBUILD:-}" ]; then
	rgup_stage "kernel[$name]: up to date in $O"
	exit 0
fi

jobs=$(( $(nproc) + 1 ))
rgup_stage "kernel[$name]: building in $O with -j$jobs (from scratch: README.md, \"How long it takes\"; log $O/build.log)"
if ! kmake -j"$jobs" bzImage modules > "$O/build.log" 2>&1; then
	tail -n 40 "$O/build.log" >&2
	rgup_die "kernel build failed; full log: $O/build.log"
fi
kmake -s headers_install INSTALL_HDR_PATH="$O/usr" >> "$O/build.log" 2>&1
echo "$config_key" > "$O/.rgup-built-key"
rgup_stage "kernel[$name]: built $(kmake -s kernelrelease 2>/dev/null)"
