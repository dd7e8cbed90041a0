#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count the test results in TAP/KTAP files and print one closing line.

    tap_summary.py [--manifest FILE --dir DIR [--kernel NAME]] [TAPFILE...]

Counts leaf results: a result line that closes a subtest (a KUnit suite) is
not counted again, its children are. A plan is checked at every level: a
(sub)test block that promised more results than it holds counts the missing
ones as failed, one with more results than planned is a failure, and a file
without a top-level plan or without a single result is a failure. Several TAP
documents in one file (one per "TAP version" / "KTAP version" line, e.g.
concatenated KUnit suites) are checked one by one; the plan may come first or
last.

"ok N name # SKIP why" is a skip; "ok ... # XFAIL" a pass; "not ok" is always
a failure, whatever its description holds (no directive turns it into a skip
or a pass). A parent "not ok" whose children all passed is one failure of its
own. "Bail out!" is a failure.

With --manifest, the expected results (tools/testing/expected-results)
are checked too, in DIR:

    file NAME MIN [MAX_SKIPS]   NAME exists, has a plan, and reports at least
                                MIN results, at most MAX_SKIPS (default 0) of
                                them skipped
    kunit SUITE MIN             kunit.tap holds the KUnit suite SUITE with at
                                least MIN cases

A line may start with "NAME:", the kernel it applies to (--kernel, "test"
by default; check.sh --debug says "debug"); other lines apply to all.

Each violation is a failure with its name, and so is a .tap file in DIR that
the manifest does not list (a result file nobody expects is one nobody
counts). Prints the failures, then exactly "N passed, N failed, N skipped",
and exits 1 if anything failed or nothing ran.
"""
import argparse
import os
import re
import sys

VERSION = re.compile(r'^(\s*)K?TAP version \d+')
PLAN = re.compile(r'^(\s*)1\.\.(\d+)\b')
RESULT = re.compile(r'^(\s*)(ok|not ok)\b\s*(\d*)\s*(?:-\s+)?(.*)$')
SUBTEST = re.compile(r'^(\s*)# Subtest: (\S+)')
BAIL = re.compile(r'^\s*Bail out!(.*)$')
# A directive: " # SKIP ...", " # XFAIL ...", " # TODO ..." at the end of a
# description; an escaped "\#" is part of the description.
DIRECTIVE = re.compile(r'(?<!\\)#\s*(SKIP|XFAIL|TODO)\b(.*)$', re.IGNORECASE)


class Block:
    """The results at one indentation level: a document or a subtest."""

    def __init__(self, indent, name=None):
        self.indent = indent
        self.name = name
        self.plan = None
        self.results = 0
        self.failed = 0     # failures in it or below it


class Counts:
    """What one TAP file holds."""

    def __init__(self, name):
        self.name = name
        self.passed = self.failed = self.skipped = 0
        self.reported = 0   # leaf results actually printed
        self.failures = []
        self.suites = {}    # subtest name -> (results, plan)
        self.top_plans = 0

    def fail(self, why, n=1):
        self.failed += n
        self.failures.append(why)


def parse_result(m):
    """(ok, description, directive) of a RESULT match."""
    rest = m.group(4)
    d = DIRECTIVE.search(rest)
    if d:
        return m.group(2) == 'ok', rest[:d.start()].strip(), d.group(1).upper()
    return m.group(2) == 'ok', rest.strip(), ''


def count_lines(name, lines):
    c = Counts(name)
    stack = []          # open blocks, innermost last
    closed = []         # blocks closed since the last result line

    def close(block):
        where = block.name or name
        if block.plan is None:
            if block.indent == 0 or not stack:
                c.fail(f'{where}: no plan')
        elif block.results < block.plan:
            missing = block.plan - block.results
            c.fail(f'{where}: {missing} of {block.plan} planned results never reported',
                   missing)
            block.failed += missing
        elif block.results > block.plan:
            c.fail(f'{where}: {block.results} results, but a plan of {block.plan}')
            block.failed += 1
        if block.name:
            c.suites[block.name] = (block.results, block.plan)
        if stack:
            stack[-1].failed += block.failed

    def close_deeper(indent):
        out = []
        while stack and stack[-1].indent > indent:
            b = stack.pop()
            close(b)
            out.append(b)
        return out

    def block_at(indent):
        if not stack or stack[-1].indent < indent:
            stack.append(Block(indent))
        return stack[-1]

    for raw in lines:
        line = raw.replace('\t', '        ')
        m = VERSION.match(line)
        if m:
            ind = len(m.group(1))
            # Blocks left open by an earlier document: their own plans are
            # checked, but they are no subtest of what follows.
            close_deeper(ind)
            closed = []
            if stack and stack[-1].indent == ind and (stack[-1].results or
                                                      stack[-1].plan is not None):
                close(stack.pop())
            block_at(ind)
            continue
        m = SUBTEST.match(line)
        if m:
            block_at(len(m.group(1))).name = m.group(2)
            continue
        m = PLAN.match(line)
        if m:
            ind = len(m.group(1))
            closed += close_deeper(ind)
            b = block_at(ind)
            if b.plan is not None:
                # A second plan at one level: a new document without a version line.
                stack.pop()
                close(b)
                b = block_at(ind)
            b.plan = int(m.group(2))
            if ind == 0:
                c.top_plans += 1
            continue
        m = BAIL.match(line)
        if m:
            c.fail(f'bail out:{m.group(1)}')
            continue
        m = RESULT.match(line)
        if not m:
            continue
        ind = len(m.group(1))
        children = close_deeper(ind) + closed
        closed = []
        b = block_at(ind)
        b.results += 1
        ok, desc, directive = parse_result(m)
        if children:
            # A parent: its children were counted. Its own "not ok" counts
            # only if nothing below it failed (else it would count twice).
            for ch in children:
                if not ch.name:
                    c.suites[desc] = (ch.results, ch.plan)
            if not ok and not any(ch.failed for ch in children):
                c.fail(f'{desc}: reported not ok, but its results passed')
                b.failed += 1
            continue
        c.reported += 1
        if not ok:
            c.fail(desc)
            b.failed += 1
        elif directive == 'SKIP':
            c.skipped += 1
        else:
            c.passed += 1
    while stack:
        close(stack.pop())
    if c.top_plans == 0:
        if f'{name}: no plan' not in c.failures:
            c.fail(f'{name}: no plan')
    elif c.reported == 0 and not c.failed:
        c.fail(f'{name}: no results')
    return c


def count(path):
    with open(path, errors='replace') as f:
        return count_lines(os.path.basename(path), f.read().splitlines())


def read_manifest(path, kernel='test'):
    """[(kind, name, min, max_skips)] of a manifest file, for @kernel."""
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            words = line.split('#', 1)[0].split()
            if words and words[0].endswith(':'):
                if words[0][:-1] != kernel:
                    continue
                words = words[1:]
            if not words:
                continue
            if words[0] == 'file' and len(words) in (3, 4):
                entries.append(('file', words[1], int(words[2]),
                                int(words[3]) if len(words) == 4 else 0))
            elif words[0] == 'kunit' and len(words) == 3:
                entries.append(('kunit', words[1], int(words[2]), 0))
            else:
                raise ValueError(f'{path}:{n}: cannot parse: {line.strip()}')
    return entries


def check_manifest(entries, directory):
    """Counts of the manifest's files, and the manifest's own violations."""
    results = {}
    problems = []
    suites = {}
    for kind, name, least, max_skips in entries:
        if kind != 'file':
            continue
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            problems.append(f'{name}: missing (expected at least {least} results)')
            continue
        c = results[name] = count(path)
        if c.reported < least:
            problems.append(f'{name}: {c.reported} results, expected at least {least}')
        if c.skipped > max_skips:
            problems.append(f'{name}: {c.skipped} skipped, at most {max_skips} expected')
        suites.update(c.suites)
    for kind, name, least, _ in entries:
        if kind != 'kunit':
            continue
        if name not in suites:
            problems.append(f'KUnit suite {name}: missing (expected {least} cases)')
        elif suites[name][0] < least:
            problems.append(f'KUnit suite {name}: {suites[name][0]} cases, '
                            f'expected at least {least}')
    listed = {name for kind, name, _, _ in entries if kind == 'file'}
    for f in sorted(os.listdir(directory)):
        if f.endswith('.tap') and f not in listed:
            problems.append(f'{f}: not in the manifest')
            results[f] = count(os.path.join(directory, f))
    return results, problems


def main(argv=None):
    ap = argparse.ArgumentParser(description='Count TAP results.')
    ap.add_argument('--manifest', help='expected results (needs --dir)')
    ap.add_argument('--dir', help='the results directory the manifest names files in')
    ap.add_argument('--kernel', default='test', help='which lines of the manifest apply')
    ap.add_argument('files', nargs='*')
    args = ap.parse_args(argv)
    if bool(args.manifest) != bool(args.dir):
        ap.error('--manifest and --dir go together')
    results = {}
    problems = []
    if args.manifest:
        results, problems = check_manifest(read_manifest(args.manifest, args.kernel),
                                           args.dir)
    for path in args.files:
        results[path] = count(path)
    total = [0, 0, 0]
    for path, c in results.items():
        total[0] += c.passed
        total[1] += c.failed
        total[2] += c.skipped
        print(f'# {path}: {c.passed} passed, {c.failed} failed, {c.skipped} skipped')
        for why in c.failures:
            print(f'#   FAILED: {why}')
    for why in problems:
        print(f'# manifest: FAILED: {why}')
    total[1] += len(problems)
    print(f'{total[0]} passed, {total[1]} failed, {total[2]} skipped')
    return 1 if total[1] or not total[0] else 0


if __name__ == '__main__':
    sys.exit(main())
