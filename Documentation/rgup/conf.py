# SPDX-License-Identifier: GPL-2.0
#
# Sphinx configuration of rgup's documentation: `make htmldocs` renders this
# directory (index.rst is the root) into Documentation/output/ with Debian's
# python3-sphinx, warnings as errors (tools/testing/docs.sh, which also sets
# the tag `rustdoc` when `make rustdoc` has written the API reference next to
# it). Kept minimal, with the kernel's choices (Documentation/conf.py) where
# they matter.

import os
import re

project = 'rgup'
author = 'The rgup developers'
copyright = 'The rgup developers, GPL-2.0'

# The library's version, from the constant that rgup::version() returns.
_here = os.path.dirname(os.path.abspath(__file__))
_root = os.path.normpath(os.path.join(_here, '..', '..'))
try:
    with open(os.path.join(_root, 'rust', 'rgup.rs'), encoding='utf-8') as _f:
        _m = re.search(r'const VERSION: Version = Version \{\s*major: (\d+),\s*'
                       r'minor: (\d+),\s*patch: (\d+),', _f.read())
    release = '.'.join(_m.groups()) if _m else 'unknown'
except OSError:
    release = 'unknown'
version = release

root_doc = master_doc = 'index'
extensions = []
exclude_patterns = []
# As the kernel's: a literal block (::) is plain text unless it says otherwise
# (.. code-block:: rust).
highlight_language = 'none'

# The kernel's default theme; `make htmldocs DOCS_THEME=sphinx_rtd_theme`
# picks another one that is installed (Debian's python3-sphinx-rtd-theme).
html_theme = os.environ.get('DOCS_THEME') or 'alabaster'
html_title = f'rgup {release}'
html_static_path = []
html_show_sourcelink = False
html_copy_source = False

