#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Add what the kernel's generate_rust_analyzer.py cannot know to rust-project.json.

The kernel gives every external crate only core, kernel, pin_init and zerocopy
as dependencies. rgup's module and sample crates also depend on the `rgup`
crate (--extern rgup in Kbuild): every crate whose name starts with rgup, and every rgup crate reads RGUP_OBJ (the
directory of generated bindings, --env-set in Kbuild).

    rust_analyzer_deps.py rust-project.json OBJDIR
"""
import json
import os
import sys


def main():
    path, objdir = sys.argv[1], os.path.abspath(sys.argv[2])
    with open(path) as f:
        project = json.load(f)
    crates = project['crates']
    names = {c.get('display_name'): i for i, c in enumerate(crates)}
    lib = names.get('rgup')
    if lib is None:
        sys.exit('rust_analyzer_deps.py: no crate "rgup" in ' + path)
    for c in crates:
        name = c.get('display_name', '')
        if name.startswith('rgup'):
            c.setdefault('env', {})['RGUP_OBJ'] = objdir
            if name != 'rgup' and not any(d['crate'] == lib for d in c['deps']):
                c['deps'].append({'crate': lib, 'name': 'rgup'})
    with open(path, 'w') as f:
        json.dump(project, f, indent=4, sort_keys=False)


if __name__ == '__main__':
    main()
