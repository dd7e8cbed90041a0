#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Make the report of one benchmark run (run-bench.sh) from its CSVs.

    report.py OUTDIR

OUTDIR holds the samples the guest wrote (pin.csv, mirror.csv, p2p.csv: the
columns of BENCH_CSV_HEADER in bench_util.h; pin-memory.csv), env.txt (the
guest's kernel and CPU) and host.txt (date, QEMU, accelerator, load). Writes
into OUTDIR:

    results.md   a table per benchmark and series: the ratio of medians
                 (rgup / upstream) first, then min / median / max of each
                 implementation; the run's kernel, accelerator and CPU
    results.csv  the same numbers, one row per case and implementation
    *.png        time against size per series (log-log, every
                 implementation on one plot, bars from min to max), the
                 ratios against size, and rgup's memory per pinned page

Standard library and matplotlib only.
"""

import csv
import math
import os
import statistics
import sys

# The ratio targets of the pin, mirror and P2P issues (rgup / upstream).
TARGETS = [
    ("pin", "", 1.05),
    ("mirror", "fault-in", 1.0),
    ("mirror", "munmap", 1.1),
]

# What "upstream" is, per benchmark and series prefix.
UPSTREAM = {
    ("pin", "ioctl"): "gup_test PIN_LONGTERM_BENCHMARK (one ioctl; rgup: RGUP_IOC_PIN + RGUP_IOC_UNPIN)",
    ("pin", "gup_test uAPI"): "gup_test PIN_LONGTERM_TEST_START + _STOP, two ioctls (rgup: the same two on /dev/rgup_gup_test: PinRequest::pin, RLIMIT_MEMLOCK accounting, and its drop)",
    ("pin", "in kernel"): "C: kvmalloc_array + pin_user_pages(FOLL_WRITE | FOLL_LONGTERM) + unpin_user_pages (rgup: PinRequest::pin + drop, RLIMIT_MEMLOCK accounting)",
    ("mirror", ""): "test_hmm's dmirror (/dev/hmm_dmirror0; rgup: /dev/rgup_dmirror0), the same HMM_DMIRROR_* commands",
    ("p2p", ""): "C: pin_user_pages_fast(FOLL_PCI_P2PDMA) + sg_alloc_table_from_pages_segment + dma_map_sgtable and back (rgup: DmaOnlySgt::from_user + drop)",
    ("dma", ""): "dma_map_sgtable() of the pin's table (PinnedPages::dma_map; rgup: DmaRegion, one IOVA range with dma_iova_try_alloc + dma_iova_link + dma_iova_sync, dma_iova_destroy back), edu behind QEMU's intel-iommu",
}

TITLES = {
    "pin": "Pin + unpin (rgup::pin)",
    "mirror": "Mirror (rgup::mirror)",
    "p2p": "P2P DMA-only list, map + unmap (rgup::p2p)",
    "dma": "A pin mapped for a device behind an IOMMU, map + unmap (rgup::dma)",
}

# The benchmarks, in report order (one CSV each).
BENCHES = ("pin", "mirror", "p2p", "dma")


def read_kv(path):
    """key=value lines of path as a dict ({} when missing)."""
    out = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    out[k] = v
    return out


def read_samples(outdir):
    """{(bench, series, case): {"size": int, "impl": {name: [us, ...]}}}, in file order."""
    cases = {}
    for name in BENCHES:
        path = os.path.join(outdir, name + ".csv")
        if not os.path.exists(path):
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                key = (row["bench"], row["series"], row["case"])
                c = cases.setdefault(key, {"size": int(row["size_bytes"]), "impl": {}})
                c["impl"].setdefault(row["implementation"], []).append(
                    float(row["microseconds"]))
    return cases


def stats(values):
    """(min, median, max) of values."""
    return min(values), statistics.median(values), max(values)


def fmt(us):
    """A time in microseconds, 3 significant digits."""
    if us >= 100:
        return "%.0f" % us
    if us >= 10:
        return "%.1f" % us
    return "%.2f" % us


def ratio(c, impl="rgup"):
    """Median of impl over the median of upstream, or None."""
    if impl not in c["impl"] or "upstream" not in c["impl"]:
        return None
    return statistics.median(c["impl"][impl]) / statistics.median(c["impl"]["upstream"])


def target_for(bench, case):
    """The ratio target of the issues for a case, or None."""
    for b, prefix, t in TARGETS:
        if b == bench and case.startswith(prefix):
            return t
    return None


def upstream_label(bench, series):
    for (b, prefix), label in UPSTREAM.items():
        if b == bench and series.startswith(prefix):
            return label
    return "upstream"


def slug(*parts):
    s = "-".join(parts).lower()
    return "".join(ch if ch.isalnum() else "-" for ch in s).strip("-").replace("--", "-")


def by_series(cases):
    """{(bench, series): [(case, data), ...]} in order."""
    out = {}
    for (bench, series, case), c in cases.items():
        out.setdefault((bench, series), []).append((case, c))
    return out


def plots(outdir, cases, memory):
    """Writes the PNGs; returns [(file, caption)]."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    groups = by_series(cases)
    for (bench, series), rows in groups.items():
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        impls = []
        for _, c in rows:
            impls += [i for i in c["impl"] if i not in impls]
        for impl in impls:
            pts = sorted((c["size"], stats(c["impl"][impl])) for _, c in rows if impl in c["impl"])
            xs = [p[0] for p in pts]
            med = [p[1][1] for p in pts]
            lo = [p[1][1] - p[1][0] for p in pts]
            hi = [p[1][2] - p[1][1] for p in pts]
            ax.errorbar(xs, med, yerr=[lo, hi], marker="o", capsize=3, label=impl)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("size (bytes)")
        ax.set_ylabel("time (us), median, bars min-max")
        ax.set_title("%s: %s" % (bench, series), fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        name = "%s.png" % slug(bench, series)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, name), dpi=100)
        plt.close(fig)
        made.append((name, "%s: %s, time against size" % (bench, series)))

    for bench in sorted({b for b, _ in groups}):
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for (b, series), rows in groups.items():
            if b != bench:
                continue
            pts = sorted((c["size"], ratio(c)) for _, c in rows if ratio(c) is not None)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=series)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("size (bytes)")
        ax.set_ylabel("rgup / upstream, ratio of medians")
        ax.set_title("%s: ratio (below 1: rgup faster)" % bench, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        name = "%s-ratio.png" % bench
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, name), dpi=100)
        plt.close(fig)
        made.append((name, "%s: ratio of medians against size" % bench))

    if memory:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        xs = [m["pin_bytes"] for m in memory]
        ax.plot(xs, [max(m["slab"] + m["vmalloc"], 0.01) for m in memory], marker="o",
                label="Slab + VmallocUsed growth")
        ax.plot(xs, [max(m["memfree"], 0.01) for m in memory], marker="x", linestyle=":",
                label="MemFree drop (noisy)")
        ax.axhline(8.0, color="black", linewidth=0.8, linestyle="--",
                   label="8 B: one page pointer (C)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("bytes per pin")
        ax.set_ylabel("bytes per pinned page, while held")
        ax.set_title("pin: rgup bookkeeping per pinned page", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, "pin-memory.png"), dpi=100)
        plt.close(fig)
        made.append(("pin-memory.png", "pin: rgup's memory per pinned page against pin size"))
    return made


def read_memory(outdir):
    """Median per case of pin-memory.csv: [{case, pin_bytes, pins, pages, memfree, slab, vmalloc}]."""
    path = os.path.join(outdir, "pin-memory.csv")
    if not os.path.exists(path):
        return []
    rows = {}
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["case"], []).append(r)
    out = []
    for case, rs in rows.items():
        out.append({
            "case": case,
            "pin_bytes": int(rs[0]["pin_bytes"]),
            "pins": int(rs[0]["pins"]),
            "pages": int(float(rs[0]["pinned_pages"])),
            "memfree": statistics.median(float(r["memfree_per_page"]) for r in rs),
            "slab": statistics.median(float(r["slab_per_page"]) for r in rs),
            "vmalloc": statistics.median(float(r["vmalloc_per_page"]) for r in rs),
            "rounds": len(rs),
        })
    return out


def markdown(cases, memory, env, host, made):
    """The text of results.md."""
    out = []
    w = out.append
    w("# rgup benchmarks: rgup against its upstream C counterparts")
    w("")
    w("- date: %s" % host.get("date", "?"))
    w("- kernel: %s; QEMU accelerator: **%s** (%s); guest CPU model: %s, %s vCPUs, %s MiB"
      % (env.get("kernel", "?"), host.get("accel", "?"), host.get("qemu", "?"),
         env.get("cpu_model", "?"), env.get("cpus", "?"),
         int(env.get("memory_kib", "0")) // 1024))
    w("- host: %s, %s CPUs; load average before %s, after %s"
      % (host.get("host_cpu", "?"), host.get("host_cpus", "?"),
         host.get("load_before", "?"), host.get("load_after", "?")))
    w("")
    if host.get("accel", "TCG") != "KVM":
        w("**Under TCG (QEMU's emulator) absolute times are meaningless**: every guest "
          "instruction is translated, so times are 10 to 100 times native and distorted "
          "per kind of operation. Read the **ratios** (rgup median / upstream median, "
          "interleaved in the same boot): below 1 rgup is faster.")
        w("")

    w("## Ratios at a glance")
    w("")
    w("| benchmark | series | case | **ratio** | target |")
    w("|---|---|---|---|---|")
    for (bench, series, case), c in cases.items():
        r = ratio(c)
        if r is None:
            continue
        # The pin target is for the library (in kernel) and, through the same uAPI,
        # for the pin by ioctl (not above gup_test's); not for rgup's own uAPI.
        if series.startswith("ioctl"):
            t = None
        elif series.startswith("gup_test uAPI"):
            t = 1.0
        else:
            t = target_for(bench, case)
        tt = "" if t is None else ("<= %.2f %s" % (t, "met" if r <= t else "**not met**"))
        w("| %s | %s | %s | **%.2f** | %s |" % (bench, series, case, r, tt))
    w("")
    w("The pin target applies to the in-kernel pair (the library against the C it "
      "replaces, like for like) and to the pin through gup_test's uAPI (the same two "
      "ioctls, rgup behind one node, mm/gup_test.c behind the other: not above "
      "gup_test's); the ioctl pair also times rgup's uAPI (two system calls, a "
      "handle table) against gup_test's one benchmark ioctl.")
    w("")

    for bench in BENCHES:
        groups = [(s, rows) for (b, s), rows in by_series(cases).items() if b == bench]
        if not groups:
            continue
        w("## %s" % TITLES[bench])
        w("")
        for series, rows in groups:
            impls = []
            for _, c in rows:
                impls += [i for i in c["impl"] if i not in impls]
            extras = [i for i in impls if i not in ("rgup", "upstream")]
            rounds = max(len(v) for _, c in rows for v in c["impl"].values())
            w("### %s" % series)
            w("")
            w("upstream: %s; %d rounds, interleaved; microseconds." % (
                upstream_label(bench, series), rounds))
            w("")
            base = "no mirror" if "no mirror" in extras else None
            head = "| case | **ratio** | rgup min / median / max | upstream min / median / max |"
            head += "".join(" %s median (ratio) |" % e for e in extras)
            if base:
                head += " rgup - no mirror | upstream - no mirror | ratio of the differences |"
            w(head)
            w("|---" * (4 + len(extras) + (3 if base else 0)) + "|")
            for case, c in rows:
                r = ratio(c)
                cells = ["**%.2f**" % r if r is not None else ""]
                for impl in ("rgup", "upstream"):
                    if impl in c["impl"]:
                        cells.append(" / ".join(fmt(v) for v in stats(c["impl"][impl])))
                    else:
                        cells.append("")
                for e in extras:
                    if e in c["impl"]:
                        er = ratio(c, e)
                        cells.append("%s (%s)" % (fmt(statistics.median(c["impl"][e])),
                                                  "%.2f" % er if er else "-"))
                    else:
                        cells.append("")
                if base:
                    cells += invalidation_cells(c, base)
                w("| %s | %s |" % (case, " | ".join(cells)))
            w("")
            if len(rows) >= 3 and (series.endswith("4 KiB pages") or series.startswith("munmap")):
                w(per_page_line(rows))
                w("")

    if memory:
        w("## rgup's bookkeeping per pinned page (measured)")
        w("")
        w("Pins held through /dev/rgup (the same pages pinned `pins` times), "
          "/proc/meminfo while held minus before, divided by the pinned pages; "
          "median of %d rounds. Slab counts kmalloc of every size (kmalloc above 8 KiB "
          "comes from the page allocator but is accounted as unreclaimable slab), "
          "VmallocUsed the vmalloc fallback of kvmalloc; MemFree also moves with the "
          "page cache and the per-CPU free lists, so it is shown but noisy. For "
          "comparison, a C driver (or gup_test) keeps at least the page array: 8 B per "
          "page." % memory[0]["rounds"])
        w("")
        w("| pins x size | pinned pages | **Slab + VmallocUsed (B/page)** | per pin (B) "
          "| Slab | VmallocUsed | MemFree drop |")
        w("|---|---|---|---|---|---|---|")
        for m in memory:
            both = m["slab"] + m["vmalloc"]
            w("| %s | %d | **%.1f** | %.0f | %.1f | %.1f | %.1f |" % (
                m["case"], m["pages"], both, both * m["pages"] / m["pins"], m["slab"],
                m["vmalloc"], m["memfree"]))
        w("")

    w("## Plots")
    w("")
    for name, caption in made:
        w("- [%s](%s): %s" % (name, name, caption))
    w("")
    return "\n".join(out)


def invalidation_cells(c, base):
    """The medians of rgup and upstream minus the median of base, and their ratio."""
    b = statistics.median(c["impl"][base])
    d = [statistics.median(c["impl"][i]) - b for i in ("rgup", "upstream")]
    r = "%.2f" % (d[0] / d[1]) if d[1] > 0 and d[0] > 0 else "-"
    return [fmt(d[0]) if d[0] > 0 else "%.0f" % d[0], fmt(d[1]) if d[1] > 0 else "%.0f" % d[1], r]


def per_page_line(rows):
    """One line: the per-page cost at the two largest cases of a series, and the slope."""
    (small, cs), (case, c) = sorted(rows, key=lambda rc: rc[1]["size"])[-2:]
    pages = c["size"] / 4096
    parts = []
    slopes = []
    x = math.log(c["size"] / cs["size"])
    for impl in ("rgup", "upstream"):
        if impl in c["impl"] and impl in cs["impl"]:
            big = statistics.median(c["impl"][impl])
            parts.append("%s %.3f us" % (impl, big / pages))
            slopes.append("%s %.2f" % (impl, math.log(big / statistics.median(cs["impl"][impl])) / x))
    return ("Per 4 KiB page at %s: %s. Growth from %s to %s, log-log slope "
            "(1.0: linear in the size): %s." % (case, ", ".join(parts), small, case, ", ".join(slopes)))


def write_csv(outdir, cases):
    with open(os.path.join(outdir, "results.csv"), "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(["bench", "series", "case", "size_bytes", "implementation", "rounds",
                     "min_us", "median_us", "max_us", "ratio_to_upstream"])
        for (bench, series, case), c in cases.items():
            for impl, values in c["impl"].items():
                lo, med, hi = stats(values)
                r = ratio(c, impl)
                wr.writerow([bench, series, case, c["size"], impl, len(values),
                             "%.3f" % lo, "%.3f" % med, "%.3f" % hi,
                             "" if r is None else "%.4f" % r])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py OUTDIR")
    outdir = sys.argv[1]
    cases = read_samples(outdir)
    if not cases:
        sys.exit("report.py: no samples in %s" % outdir)
    memory = read_memory(outdir)
    env = read_kv(os.path.join(outdir, "env.txt"))
    host = read_kv(os.path.join(outdir, "host.txt"))
    write_csv(outdir, cases)
    made = plots(outdir, cases, memory)
    with open(os.path.join(outdir, "results.md"), "w", encoding="utf-8") as f:
        f.write(markdown(cases, memory, env, host, made))


if __name__ == "__main__":
    main()
