#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of debian-mirror.sh (which URI bootstrap.sh fetches linux-source-7.3
# through) on hand-made apt sources, one-line and deb822, and on this
# system's own apt configuration (read only). TAP on stdout; exit status 1
# when a case fails. Runs in well under a second; a host check of make check.

set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mirror=$here/debian-mirror.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset RGUP_DEBIAN_MIRROR

n=0 failed=0
# expect NAME WANT [ENV=VALUE...] -- FILE...: WANT is the URI, or "fail".
expect() {
	local name=$1 want=$2 got rc
	shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	n=$((n + 1))
	got=$(env "${envs[@]}" "$mirror" "$@" 2>"$tmp/stderr")
	rc=$?
	if { [ "$want" = fail ] && [ $rc != 0 ] && [ -z "$got" ]; } ||
		{ [ "$want" != fail ] && [ $rc = 0 ] && [ "$got" = "$want" ]; }; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		echo "#   want: $want"
		echo "#   got:  $got (exit $rc) $(cat "$tmp/stderr")"
		failed=1
	fi
}

bookworm=(RGUP_DEBIAN_CODENAME=bookworm)

# Debian 12's default, as the installer and the cloud images write it.
cat > "$tmp/debian.sources" <<'EOF'
Types: deb
# http://snapshot.example.org/archive/debian/20250520T000000Z
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
expect "deb822: the main archive, not the security one" \
	http://mirror.example.org/debian "${bookworm[@]}" -- "$tmp/debian.sources"

# The classic sources.list: security first, options in brackets, a trailing
# slash, comments, deb-src.
cat > "$tmp/sources.list" <<'EOF'
# deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_]/ bookworm main
deb http://security.example.org/debian-security bookworm-security main
deb-src http://src.example.org/debian bookworm main
deb [ arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg ] http://local.example.net/debian/ bookworm main contrib # a comment
deb http://local.example.net/debian/ bookworm-updates main
EOF
expect "one-line: options in brackets, trailing slash, security first" \
	http://local.example.net/debian "${bookworm[@]}" -- "$tmp/sources.list"

# Old-style security suite (bullseye and before) and a cdrom entry.
cat > "$tmp/old.list" <<'EOF'
deb cdrom:[Debian GNU/Linux 11]/ bullseye main
deb http://security.example.org/ bullseye/updates main
deb http://old.example.org/debian bullseye main
EOF
expect "one-line: cdrom: and suite/updates are skipped" \
	http://old.example.org/debian RGUP_DEBIAN_CODENAME=bullseye -- "$tmp/old.list"

# deb822 edge cases: deb-src only and disabled stanzas, lower-case keys,
# several URIs (the first counts), values continued on the next line, a
# comment inside a stanza, an inline signing key.
cat > "$tmp/edge.sources" <<'EOF'
Types: deb-src
URIs: http://src.example.org/debian
Suites: bookworm

Types: deb
Enabled: no
URIs: http://disabled.example.org/debian
Suites: bookworm

types: deb-src deb
uris: http://first.example.org/debian
  http://second.example.org/debian
# a comment inside the stanza
suites: bookworm-backports
 bookworm
components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGPL0BUBEADmW5NdOOHwXIJlgFu6fI0eqmDbxVbPBl9bKdEGWxJ1uVUpP1EB
 -----END PGP PUBLIC KEY BLOCK-----
EOF
expect "deb822: deb-src and Enabled: no skipped, lower-case keys, folded values" \
	http://first.example.org/debian "${bookworm[@]}" -- "$tmp/edge.sources"

# A third-party repository first (its suite is no Debian suite), then
# Debian through an apt-cacher-style proxy URI.
cat > "$tmp/nodesource.sources" <<'EOF'
Types: deb
URIs: https://vendor.example.com/node_20.x
Suites: nodistro
Components: main
EOF
cat > "$tmp/proxy.list" <<'EOF'
deb http://cache.example.net:3142/debian bookworm main
EOF
expect "files in order: a third-party repository is never the archive" \
	http://cache.example.net:3142/debian "${bookworm[@]}" -- \
	"$tmp/nodesource.sources" "$tmp/proxy.list"
grep security "$tmp/sources.list" > "$tmp/security.list"
expect "only third-party and security sources: no archive" fail \
	"${bookworm[@]}" -- "$tmp/nodesource.sources" "$tmp/security.list" "$tmp/missing.list"

# The codename itself beats one of its suites found first.
cat > "$tmp/rank.list" <<'EOF'
deb http://updates-only.example.org/debian bookworm-updates main
deb http://full.example.org/debian bookworm main
EOF
expect "the codename's own suite beats -updates listed first" \
	http://full.example.org/debian "${bookworm[@]}" -- "$tmp/rank.list"
head -n 1 "$tmp/rank.list" > "$tmp/updates.list"
expect "a suite of the codename when the codename itself is absent" \
	http://updates-only.example.org/debian "${bookworm[@]}" -- "$tmp/old.list" \
	"$tmp/missing.list" "$tmp/nodesource.sources" "$tmp/updates.list"

# Suites named by alias (stable, sid), and no codename known.
cat > "$tmp/sid.list" <<'EOF'
deb http://sid.example.org/debian sid main
EOF
expect "alias suites when the codename is unknown" \
	http://sid.example.org/debian RGUP_DEBIAN_CODENAME= -- "$tmp/sid.list"
expect "a codename of another release is not an alias" fail \
	RGUP_DEBIAN_CODENAME= -- "$tmp/debian.sources"

expect "RGUP_DEBIAN_MIRROR wins" http://override.example.org/debian \
	RGUP_DEBIAN_MIRROR=http://override.example.org/debian "${bookworm[@]}" -- "$tmp/debian.sources"

# The system mode (no file arguments) on a hand-made /etc/apt, through
# APT_CONFIG: Dir::Etc::SourceList, then *.list and *.sources of
# Dir::Etc::SourceParts, nothing else (apt ignores *.disabled and the like).
if command -v apt-config >/dev/null; then
	mkdir -p "$tmp/etc/sources.list.d"
	cat > "$tmp/apt.conf" <<-EOF
		Dir::Etc::SourceList "$tmp/etc/sources.list";
		Dir::Etc::SourceParts "$tmp/etc/sources.list.d";
	EOF
	cp "$tmp/nodesource.sources" "$tmp/etc/sources.list.d/vendor.sources"
	echo "deb http://disabled.example.org/debian bookworm main" \
		> "$tmp/etc/sources.list.d/old.list.disabled"
	cp "$tmp/debian.sources" "$tmp/etc/sources.list.d/debian.sources"
	expect "system mode: the files apt-config names (no sources.list, a .disabled file)" \
		http://mirror.example.org/debian APT_CONFIG="$tmp/apt.conf" "${bookworm[@]}" --
	cp "$tmp/sources.list" "$tmp/etc/sources.list"
	expect "system mode: sources.list is read first" \
		http://local.example.net/debian APT_CONFIG="$tmp/apt.conf" "${bookworm[@]}" --
fi

# This machine's own apt configuration, read only: on Debian it must name
# the archive it installs from.
if [ "$(. /etc/os-release 2>/dev/null && echo "${ID:-}")" = debian ]; then
	n=$((n + 1))
	if got=$("$mirror"); then
		echo "ok $n this system's apt sources give $got"
	else
		echo "not ok $n this system's apt sources give no Debian archive"
		failed=1
	fi
fi

echo "1..$n"
exit $failed
