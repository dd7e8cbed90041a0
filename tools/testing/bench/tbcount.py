#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""count-bench.sh's report: instructions and translated blocks per operation,
by kernel symbol, from qemu_tbcount.c's counts and the guest's /proc/kallsyms.

    tbcount.py DIR OPS RUN...

DIR holds tb-NAME.txt and kallsyms-NAME.txt for each run NAME, each of OPS
operations between the markers; a symbol's figure is its count / OPS. The
timer's interrupts in the window count too (a fraction of an instruction per
operation for each symbol they run), and so does whatever else the vCPU runs
then (RCU callbacks, deferred frees, another task's teardown). When a run
was counted in several windows (windows-NAME.txt, one "instructions blocks"
line each), the median window is printed too: work of another task in one
window moves the sum, not the median."""
import bisect
import collections
import statistics
import sys


def load(d, name):
    syms = []
    with open(f"{d}/kallsyms-{name}.txt") as f:
        for line in f:
            p = line.split()
            if len(p) >= 3 and p[1] in "tTwW":
                syms.append((int(p[0], 16), p[2]))
    syms.sort()
    addrs = [a for a, _ in syms]
    insns, blocks = collections.Counter(), collections.Counter()
    with open(f"{d}/tb-{name}.txt") as f:
        for line in f:
            va, n, runs = line.split()
            va, n, runs = int(va, 16), int(n), int(runs)
            i = bisect.bisect_right(addrs, va) - 1
            sym = syms[i][1] if i >= 0 else "?"
            insns[sym] += n * runs
            blocks[sym] += runs
    return insns, blocks


def main():
    d, ops, runs = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    res = {r: load(d, r) for r in runs}
    print("per operation: instructions / translated blocks executed in the kernel")
    for r, (ins, blk) in res.items():
        i = sum(ins.values()) / ops
        t = sum(blk.values()) / ops
        print(f"  {r:24s} {i:8.0f} / {t:6.0f}")
    medians = {}
    for r in runs:
        try:
            with open(f"{d}/windows-{r}.txt") as f:
                w = [tuple(int(v) for v in line.split()) for line in f if line.strip()]
        except FileNotFoundError:
            continue
        if len(w) > 1:
            per = ops / len(w)
            medians[r] = (statistics.median(i for i, _ in w) / per,
                          statistics.median(b for _, b in w) / per, len(w))
    if medians:
        print("per operation, in the median window:")
        for r, (i, t, n) in medians.items():
            print(f"  {r:24s} {i:8.0f} / {t:6.0f}   (of {n} windows)")
    rows = []
    for sym in set().union(*(ins.keys() for ins, _ in res.values())):
        per = [(ins[sym] / ops, blk[sym] / ops) for ins, blk in res.values()]
        top = max(abs(i) for i, _ in per)
        if top >= 1:
            rows.append((top, sym, per))
    rows.sort(key=lambda r: (-r[0], r[1]))
    print()
    print(f"{'symbol':64s} " + " ".join(f"{r[:17]:>17s}" for r in runs))
    for _, sym, per in rows[:60]:
        print(f"{sym[:64]:64s} " + " ".join(f"{i:8.1f}/{t:6.1f}  " for i, t in per))


if __name__ == "__main__":
    main()
