#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count the test results in TAP/KTAP files and print one closing line.

    tap_summary.py FILE...

Counts leaf results only: a result line that closes a subtest (a suite in
KTAP) is not counted again, its children are. Lines "ok N desc # SKIP ..."
count as skipped. A file whose plan promises more results than it holds
counts the missing ones as failed (a test program that crashed half way).

Prints the failed tests, then exactly "N passed, N failed, N skipped", and
exits 1 if anything failed or nothing ran.
"""
import re
import sys

RESULT = re.compile(r'^(\s*)(ok|not ok)\s+(\d+)\s*(?:-\s*)?([^#]*?)\s*(#\s*(\w+).*)?$')
PLAN = re.compile(r'^(\s*)1\.\.(\d+)')


def count(path):
    passed = failed = skipped = 0
    failures = []
    plans = {}     # indent -> planned count
    seen = {}      # indent -> results seen at that indent
    deeper = {}    # indent -> whether results were seen deeper since last one
    with open(path, errors='replace') as f:
        lines = f.read().splitlines()
    for line in lines:
        line = line.replace('\t', '        ')
        m = PLAN.match(line)
        if m:
            ind = len(m.group(1))
            plans[ind] = plans.get(ind, 0) + int(m.group(2))
            continue
        m = RESULT.match(line)
        if not m:
            continue
        ind = len(m.group(1))
        seen[ind] = seen.get(ind, 0) + 1
        has_children = any(v for k, v in deeper.items() if k > ind)
        for k in list(deeper):
            if k > ind:
                deeper[k] = False
        deeper[ind] = True
        if has_children:
            continue
        directive = (m.group(6) or '').upper()
        name = m.group(4).strip()
        if directive == 'SKIP':
            skipped += 1
        elif m.group(2) == 'ok' or directive == 'XFAIL':
            passed += 1
        else:
            failed += 1
            failures.append(name)
    for ind, planned in plans.items():
        missing = planned - seen.get(ind, 0)
        if missing > 0 and ind == min(plans):
            failed += missing
            failures.append(f'{missing} planned result(s) never reported')
    return passed, failed, skipped, failures


def main():
    total = [0, 0, 0]
    for path in sys.argv[1:]:
        p, f, s, failures = count(path)
        total[0] += p
        total[1] += f
        total[2] += s
        print(f'# {path}: {p} passed, {f} failed, {s} skipped')
        for name in failures:
            print(f'#   FAILED: {name}')
    print(f'{total[0]} passed, {total[1]} failed, {total[2]} skipped')
    return 1 if total[1] or not total[0] else 0


if __name__ == '__main__':
    sys.exit(main())
