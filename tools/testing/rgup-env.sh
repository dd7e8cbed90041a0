# SPDX-License-Identifier: GPL-2.0
#
# Common environment of rgup's build and test scripts. Sourced, not run.
#
# Everything rgup fetches or builds outside the repository lives under one
# cache directory, so a fresh clone reuses it:
#
#   $RGUP_CACHE/apt/          private apt state used to fetch linux-source-7.3
#   $RGUP_CACHE/src/linux/    unpacked kernel source tree (read-only use)
#   $RGUP_CACHE/tools/        bindgen-cli (cargo --root) and the virtme-ng venv
#   $RGUP_CACHE/build/<name>/ out-of-tree kernel builds (O=), one per config
#   $RGUP_CACHE/logs/         QEMU serial logs and test results

RGUP_ROOT=${RGUP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RGUP_CACHE=${RGUP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rgup}

RGUP_KVER_SERIES=7.3
RGUP_BINDGEN_VERSION=0.72.1
RGUP_VIRTME_NG_VERSION=1.42

RGUP_KSRC=${RGUP_KSRC:-$RGUP_CACHE/src/linux}
RGUP_KCONFIG_NAME=${RGUP_KCONFIG_NAME:-test}
RGUP_KBUILD=${RGUP_KBUILD:-$RGUP_CACHE/build/$RGUP_KCONFIG_NAME}
RGUP_TOOLS=$RGUP_CACHE/tools
RGUP_LOGS=${RGUP_LOGS:-$RGUP_CACHE/logs}

# The kernel and every module must be built by the same rustc (crate metadata
# is version-locked): Debian's rustc-web, with its rust-src, and LLVM 19.
export PATH="$RGUP_TOOLS/bin:$RGUP_TOOLS/venv/bin:$PATH"
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
RGUP_KMAKE_VARS=(
	LLVM=-19
	RUSTC=/usr/bin/rustc
	RUSTDOC=/usr/bin/rustdoc
	CLIPPY_DRIVER=/usr/bin/clippy-driver
	RUSTFMT=/usr/bin/rustfmt
	BINDGEN="$RGUP_TOOLS/bin/bindgen"
	RUST_LIB_SRC=/usr/lib/rustlib/src/rust/library
)

RGUP_T0=${RGUP_T0:-$(date +%s)}
export RGUP_T0

# rgup_stage NAME: one progress line with the elapsed time since the start.
rgup_stage() {
	printf '[rgup %4ss] %s\n' "$(($(date +%s) - RGUP_T0))" "$*" >&2
}

rgup_die() {
	printf 'rgup: error: %s\n' "$*" >&2
	exit 1
}

# rgup_as_root CMD...: run CMD as root (directly, or through sudo).
rgup_as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		rgup_die "need root to run: $*"
	fi
}

# rgup_apt_install PKG...: install the Debian packages of the list that are
# missing (one apt-get update first); a no-op when all are present.
rgup_apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} != 0 ] || return 0
	rgup_stage "apt-get install ${missing[*]}"
	rgup_as_root apt-get update -qq
	rgup_as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
