#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the URI of the Debian archive that this system's apt already uses,
# so that bootstrap.sh fetches linux-source-7.3 from trixie-backports through
# the same mirror (a local mirror, a caching proxy, a CDN): rgup names no
# archive host of its own.
#
#   debian-mirror.sh                 read the system's apt sources
#   debian-mirror.sh FILE...         read these files instead (tests)
#
# RGUP_DEBIAN_MIRROR, when set, wins and is printed as is. Exit status 1, with
# a message on stderr, when no source serves the Debian archive.
#
# The system's sources are apt's own: Dir::Etc::SourceList and the *.list and
# *.sources files of Dir::Etc::SourceParts (as `apt-config` reports them;
# /etc/apt/sources.list and /etc/apt/sources.list.d/ by default). A file named
# *.sources is deb822 (stanzas of `Types:`, `URIs:`, `Suites:`,
# `Components:`, `Enabled:`, several URIs and suites each); any other file is
# the one-line format (`deb [options] URI suite [component...]`). Only `deb`
# entries count (not deb-src, not cdrom:, not disabled stanzas).
#
# Which URI serves the Debian archive: the first one whose suites include
#   1. the system's codename (VERSION_CODENAME of /etc/os-release, e.g.
#      bookworm; RGUP_DEBIAN_CODENAME overrides it, for tests), else
#   2. a suite of that codename (bookworm-updates, bookworm-backports, ...),
#      else
#   3. a Debian suite name (stable, oldstable, testing, unstable, sid, with or
#      without -updates/-backports),
# never a -security suite (the security archive has no backports) and never
# a third-party repository (its suites are none of these).

set -euo pipefail

if [ -n "${RGUP_DEBIAN_MIRROR:-}" ]; then
	echo "$RGUP_DEBIAN_MIRROR"
	exit 0
fi

files=("$@")
if [ $# = 0 ]; then
	list=/etc/apt/sources.list
	parts=/etc/apt/sources.list.d
	if command -v apt-config >/dev/null; then
		eval "$(apt-config shell list Dir::Etc::SourceList/f parts Dir::Etc::SourceParts/d)"
	fi
	shopt -s nullglob
	files=("$list" "${parts%/}"/*.list "${parts%/}"/*.sources)
fi

codename=${RGUP_DEBIAN_CODENAME-}
if [ -z "${RGUP_DEBIAN_CODENAME+set}" ] && [ -r /etc/os-release ]; then
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
fi

# One line "URI SUITE" per (URI, suite) of every enabled deb entry, in the
# order apt reads them.
entries() {
	local f
	for f in "${files[@]}"; do
		[ -r "$f" ] || continue
		case $f in
		*.sources) deb822 < "$f" ;;
		*) oneline < "$f" ;;
		esac
	done
}

oneline() {
	awk '
	{
		sub(/#.*/, "")
		# Options: "[arch=amd64 signed-by=...]", spaces allowed inside.
		gsub(/\[[^]]*\]/, " ")
		if ($1 != "deb" || NF < 3) next
		print $2, $3
	}'
}

deb822() {
	awk '
	function flush(   nt, t, nu, u, ns, s, i, j, isdeb) {
		if (!seen) return
		nt = split(f["types"], t, /[ \t]+/)
		for (i = 1; i <= nt; i++) if (t[i] == "deb") isdeb = 1
		if (isdeb && tolower(f["enabled"]) != "no") {
			nu = split(f["uris"], u, /[ \t]+/)
			ns = split(f["suites"], s, /[ \t]+/)
			for (i = 1; i <= nu; i++)
				for (j = 1; j <= ns; j++)
					if (u[i] != "" && s[j] != "") print u[i], s[j]
		}
		delete f
		seen = 0
		key = ""
	}
	/^#/ { next }
	/^[ \t]*$/ { flush(); next }
	/^[ \t]/ {
		# A continuation line: more values of the field above.
		if (key != "") f[key] = f[key] " " $0
		next
	}
	{
		i = index($0, ":")
		if (!i) next
		key = tolower(substr($0, 1, i - 1))
		f[key] = substr($0, i + 1)
		sub(/^[ \t]+/, "", f[key])
		sub(/[ \t]+$/, "", f[key])
		seen = 1
	}
	END { flush() }'
}

aliases='stable|oldstable|oldoldstable|testing|unstable|sid'
best= best_rank=9
while read -r uri suite; do
	case $uri in cdrom:*) continue ;; esac
	case $suite in
	*-security | */updates) continue ;;
	esac
	rank=9
	if [ -n "$codename" ] && [ "$suite" = "$codename" ]; then
		rank=1
	elif [ -n "$codename" ] && [[ $suite == "$codename"-* ]]; then
		rank=2
	elif [[ $suite =~ ^($aliases)(-updates|-backports|-proposed-updates)?$ ]]; then
		rank=3
	fi
	if [ "$rank" -lt "$best_rank" ]; then
		best=${uri%/} best_rank=$rank
	fi
done < <(entries)

if [ -z "$best" ]; then
	echo "rgup: no Debian archive in the apt sources (${files[*]:-none}" \
		"for codename '${codename:-unknown}'); set RGUP_DEBIAN_MIRROR" >&2
	exit 1
fi
echo "$best"
