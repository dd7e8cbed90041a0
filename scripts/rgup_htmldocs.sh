#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make htmldocs`: render Documentation/rgup/ (index.rst is the root,
# Documentation/rgup/conf.py the configuration) as HTML into
# Documentation/output/ with Debian's Sphinx, installed here on first use
# (python3-sphinx; python3-sphinx-rtd-theme too with DOCS_THEME=sphinx_rtd_theme).
# Warnings are errors (-W --keep-going: every warning is reported, then the
# build fails; -n: nitpicky, every reference must resolve).
#
# When `make rustdoc` has put the crate's API reference in
# Documentation/output/rust/rustdoc/ (where the kernel puts its own), the
# pages link to it (Sphinx tag `rustdoc`, as the kernel's rust/index.rst).
#
# Sphinx runs on Debian's /usr/bin/python3: the virtme-ng venv that
# rgup-env.sh puts first on PATH cannot see Debian's python3-sphinx.

set -euo pipefail
. "$(dirname "$0")/../tools/testing/rgup-env.sh"
cd "$RGUP_ROOT"

rgup_apt_install python3-sphinx
if [ "${DOCS_THEME:-}" = sphinx_rtd_theme ]; then
	rgup_apt_install python3-sphinx-rtd-theme
fi

out=$RGUP_ROOT/Documentation/output
tags=()
if [ -f "$out/rust/rustdoc/rgup/index.html" ]; then
	tags=(-t rustdoc)
fi
exec /usr/bin/python3 -m sphinx -b html -q -W --keep-going -n \
	-d "$out/.doctrees" "${tags[@]}" Documentation/rgup "$out"
