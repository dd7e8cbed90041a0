#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what rgup needs to build and test, and nothing else. Idempotent: a
# second run checks and returns within seconds.
#
#   1. Debian packages (only the missing ones; needs root or sudo)
#   2. bindgen-cli $RGUP_BINDGEN_VERSION from crates.io, into $RGUP_CACHE/tools
#   3. virtme-ng $RGUP_VIRTME_NG_VERSION from PyPI, into a venv in the cache
#   4. Debian's linux-source-7.3 from trixie-backports, fetched with a private
#      apt state directory inside the cache (/etc/apt is never touched)
#      through the Debian mirror this system's apt already uses (read from
#      its sources by debian-mirror.sh), or from the .deb named by
#      RGUP_KERNEL_DEB when the archive no longer has it; unpacked once.
#
# Environment: RGUP_CACHE (cache root), RGUP_DEBIAN_MIRROR (the Debian archive
# URI to fetch trixie-backports from, e.g. a local mirror; by default the one
# of the system's apt sources that serves its release), RGUP_KERNEL_DEB
# (fallback .deb file or a directory holding linux-source-7.3_*.deb). apt's
# own settings (proxy, Acquire::*) apply as usual.

set -euo pipefail
. "$(dirname "$0")/rgup-env.sh"

PACKAGES=(
	rustc-web rust-web-src rust-web-clippy rustfmt-web
	clang-19 lld-19 llvm-19 libclang-19-dev
	make gcc libc6-dev flex bison bc libelf-dev libssl-dev cpio rsync
	kmod udev busybox-static qemu-system-x86 liburing-dev e2fsprogs util-linux
	python3 python3-venv xz-utils perl
	curl ca-certificates
)

install_packages() {
	rgup_apt_install "${PACKAGES[@]}"
	rgup_stage "bootstrap: Debian packages present"
}

install_bindgen() {
	local bin=$RGUP_TOOLS/bin/bindgen
	local have=
	[ -x "$bin" ] && have=$("$bin" --version 2>/dev/null)
	if [ "$have" = "bindgen $RGUP_BINDGEN_VERSION" ]; then
		rgup_stage "bootstrap: bindgen $RGUP_BINDGEN_VERSION present"
		return
	fi
	command -v cargo >/dev/null || rgup_die "cargo is needed to install bindgen-cli"
	rgup_stage "bootstrap: cargo install bindgen-cli $RGUP_BINDGEN_VERSION (~2 min)"
	CARGO_TARGET_DIR=$RGUP_CACHE/tmp/cargo-target \
		cargo install --quiet --locked --root "$RGUP_TOOLS" \
		bindgen-cli --version "$RGUP_BINDGEN_VERSION"
	rm -rf "$RGUP_CACHE/tmp/cargo-target"
}

install_virtme_ng() {
	local venv=$RGUP_TOOLS/venv
	local have=
	[ -x "$venv/bin/vng" ] &&
		have=$("$venv/bin/python3" -m pip show virtme-ng 2>/dev/null | sed -n 's/^Version: //p')
	if [ "$have" = "$RGUP_VIRTME_NG_VERSION" ]; then
		rgup_stage "bootstrap: virtme-ng $RGUP_VIRTME_NG_VERSION present"
		return
	fi
	rgup_stage "bootstrap: pip install virtme-ng==$RGUP_VIRTME_NG_VERSION into $venv"
	/usr/bin/python3 -m venv "$venv"
	"$venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
		"virtme-ng==$RGUP_VIRTME_NG_VERSION"
}

# Fetch linux-source-7.3 with apt, but with every piece of apt state private;
# the archive is the system's own Debian mirror (or RGUP_DEBIAN_MIRROR).
fetch_kernel_deb_from_archive() {
	local apt=$RGUP_CACHE/apt mirror
	mirror=$("$RGUP_ROOT/tools/testing/debian-mirror.sh") || return 1
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
	cat > "$apt/sources.list" <<-SRC
		deb $mirror trixie-backports main
	SRC
	rgup_stage "bootstrap: fetching linux-source-$RGUP_KVER_SERIES from $mirror trixie-backports"
	local opts=(
		-o "Dir::Etc::SourceList=$apt/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::State::Lists=$apt/lists"
		-o "Dir::Cache=$apt/cache"
		-o "Dir::State::Status=/var/lib/dpkg/status"
		-o "APT::Get::List-Cleanup=0"
		-o "Debug::NoLocking=1"
		-o "Acquire::Languages=none"
	)
	apt-get "${opts[@]}" -qq update >/dev/null 2>&1 || return 1
	(cd "$apt/debs" && apt-get "${opts[@]}" -qq download "linux-source-$RGUP_KVER_SERIES") \
		>/dev/null 2>&1 || return 1
	ls -t "$apt/debs"/linux-source-"$RGUP_KVER_SERIES"_*_all.deb 2>/dev/null | head -n 1
}

fallback_kernel_deb() {
	local d=${RGUP_KERNEL_DEB:-}
	[ -n "$d" ] || return 1
	if [ -d "$d" ]; then
		d=$(ls "$d"/linux-source-"$RGUP_KVER_SERIES"_*_all.deb 2>/dev/null | sort -V | tail -n 1)
	fi
	[ -f "$d" ] && echo "$d"
}

install_kernel_source() {
	local stamp=$RGUP_KSRC/.rgup-unpacked
	if [ -f "$stamp" ]; then
		rgup_stage "bootstrap: kernel source present ($(cat "$stamp"))"
		return
	fi
	local deb from
	if deb=$(fetch_kernel_deb_from_archive) && [ -n "$deb" ]; then
		from="Debian archive (trixie-backports)"
	elif deb=$(fallback_kernel_deb); then
		from="local file RGUP_KERNEL_DEB"
	else
		rgup_die "linux-source-$RGUP_KVER_SERIES: not in the Debian archive and RGUP_KERNEL_DEB unset or empty (a local mirror: set RGUP_DEBIAN_MIRROR)"
	fi
	rgup_stage "bootstrap: kernel source $(basename "$deb") from $from"
	local tmp=$RGUP_CACHE/tmp/ksrc
	rm -rf "$tmp" "$RGUP_KSRC"
	mkdir -p "$tmp" "$(dirname "$RGUP_KSRC")"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './usr/src/linux-source-*.tar.*'
	local tarball
	tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.* | head -n 1)
	tar -xf "$tarball" -C "$tmp"
	mv "$tmp"/linux-source-"$RGUP_KVER_SERIES" "$RGUP_KSRC"
	rm -rf "$tmp"
	echo "$(basename "$deb") from $from" > "$stamp"
}

mkdir -p "$RGUP_CACHE" "$RGUP_TOOLS"
rgup_stage "bootstrap: cache $RGUP_CACHE"
install_packages
install_bindgen
install_virtme_ng
install_kernel_source
rgup_stage "bootstrap: done"
