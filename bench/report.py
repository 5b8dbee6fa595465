"""Turns one benchmark run into the markdown results table, with the targets
of issue 7 next to the figures they judge."""
from dataclasses import dataclass, field
from typing import List, Optional

MIB = 1024  # KiB per MiB

# The targets: issue 7's, with the segment figures raised by issue 13 and
# the manifest ones by issue 14.
SEGMENT_RPS_RATIO = 0.8
SEGMENT_P99_RATIO = 1.2
FREE_VS_OFF = 0.95
MANIFEST_RPS_RATIO = 0.5
MANIFEST_P99_RATIO = 1.5
WORKER_RSS_MIB = 32
HUGE_RSS_MIB = 16
TTFB_OVERHEAD_MS = 5.0
TARGET_CONNECTIONS = 64
# The modes the deployment can run with PIFF handling on; both are judged.
JUDGED_MODES = ("auto", "free")

WORKLOAD_TITLES = {
    "mpd": "manifest",
    "seg250k": "250 KB segments",
    "seg1m": "1 MB segments",
}


@dataclass
class Verdict:
    what: str
    measured: str
    target: str
    met: bool


@dataclass
class Report:
    cells: list                 # [(workload, connections, stack, CellResult)]
    pool_peaks: dict            # mode -> {"pools", "workers", "peak_kib", "supervisor_kib"}
    soak: Optional[dict]        # {"mode", "seconds", "supervisor_kib", "workers": {pid: {"peak_kib", "after_kib"}}}
    huge: Optional[dict]
    ttfb: Optional[dict]
    machine: dict
    settings: dict
    micro: list = field(default_factory=list)   # [(name, output)]
    verdicts: List[Verdict] = field(default_factory=list)

    def cell(self, workload, connections, stack):
        for w, c, s, r in self.cells:
            if (w, c, s) == (workload, connections, stack):
                return r
        return None


def mark(met):
    return "met" if met else "**MISSED**"


def _ratio(a, b):
    return a / b if b else float("nan")


def judge(rep):
    """Fills rep.verdicts; returns {(workload, conns, stack): [annotation...]}
    for the throughput table."""
    notes = {}

    def add(key, verdict, note):
        rep.verdicts.append(verdict)
        notes.setdefault(key, []).append(f"{note} {mark(verdict.met)}")

    c = TARGET_CONNECTIONS
    for workload in ("seg250k", "seg1m"):
        base = rep.cell(workload, c, "baseline")
        for mode in JUDGED_MODES:
            r = rep.cell(workload, c, mode)
            if not (base and r):
                continue
            key = (workload, c, mode)
            title = f"{WORKLOAD_TITLES[workload]}, {c} conns, {mode}"
            ratio = _ratio(r.rps, base.rps)
            add(key, Verdict(f"{title}: req/s vs baseline", f"{ratio:.2f}", f"≥ {SEGMENT_RPS_RATIO}",
                             ratio >= SEGMENT_RPS_RATIO), f"req/s ≥ {SEGMENT_RPS_RATIO}×:")
            p99 = _ratio(r.p99_ms, base.p99_ms)
            add(key, Verdict(f"{title}: p99 vs baseline", f"{p99:.2f}", f"≤ {SEGMENT_P99_RATIO}",
                             p99 <= SEGMENT_P99_RATIO), f"p99 ≤ {SEGMENT_P99_RATIO}×:")
            bad = r.non_2xx + r.socket_errors
            add(key, Verdict(f"{title}: non-2xx + socket errors", str(bad), "0", bad == 0), "no errors:")
        off, free = rep.cell(workload, c, "off"), rep.cell(workload, c, "free")
        if off and free:
            ratio = _ratio(free.rps, off.rps)
            add((workload, c, "free"),
                Verdict(f"{WORKLOAD_TITLES[workload]}, {c} conns: free req/s vs off", f"{ratio:.3f}",
                        f"≥ {FREE_VS_OFF}", ratio >= FREE_VS_OFF), f"free ≥ {FREE_VS_OFF}× off:")

    base = rep.cell("mpd", c, "baseline")
    for mode in JUDGED_MODES:
        r = rep.cell("mpd", c, mode)
        if base and r:
            ratio = _ratio(r.rps, base.rps)
            add(("mpd", c, mode), Verdict(f"manifest, {c} conns, {mode}: req/s vs baseline", f"{ratio:.2f}",
                                          f"≥ {MANIFEST_RPS_RATIO}", ratio >= MANIFEST_RPS_RATIO),
                f"req/s ≥ {MANIFEST_RPS_RATIO}×:")
            p99 = _ratio(r.p99_ms, base.p99_ms)
            add(("mpd", c, mode), Verdict(f"manifest, {c} conns, {mode}: p99 vs baseline", f"{p99:.2f}",
                                          f"≤ {MANIFEST_P99_RATIO}", p99 <= MANIFEST_P99_RATIO),
                f"p99 ≤ {MANIFEST_P99_RATIO}×:")

    if rep.soak and rep.soak["workers"]:
        worst = max(w["after_kib"] for w in rep.soak["workers"].values())
        rep.verdicts.append(Verdict("largest worker RSS after the runs", f"{worst / MIB:.1f} MiB",
                                    f"≤ {WORKER_RSS_MIB} MiB", worst <= WORKER_RSS_MIB * MIB))
    if rep.huge:
        added = rep.huge["added_kib"]
        rep.verdicts.append(Verdict("500 MB segment: added peak worker RSS", f"{added / MIB:.1f} MiB",
                                    f"≤ {HUGE_RSS_MIB} MiB",
                                    added <= HUGE_RSS_MIB * MIB and rep.huge["complete"]))
    if rep.ttfb:
        over = rep.ttfb["overhead_ms"]
        rep.verdicts.append(Verdict("TTFB overhead, throttled origin (median)", f"{over:.2f} ms",
                                    f"≤ {TTFB_OVERHEAD_MS} ms", over <= TTFB_OVERHEAD_MS))
    return notes


def _fmt(x, digits=1):
    return f"{x:,.{digits}f}"


def render(rep):
    notes = judge(rep)
    m = rep.machine
    s = rep.settings
    lines = [
        f"# dashpiff benchmark, {m['date']}",
        "",
        f"- commit: `{m['commit']}`{' (work tree has uncommitted changes)' if m['dirty'] else ''}",
        f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_gib']:.1f} GiB RAM, {m['kernel']}; "
        f"load average (1/5/15 min) at start {m['loadavg']}, at end {m['loadavg_end']}",
        f"- tools: {m['nginx']}, {m['wrk']}",
        f"- build: `{s['build']}` ({s['cxxflags']})",
        f"- run: `bench/run.sh{' --quick' if s['quick'] else ''}`: per cell {s['rounds']} round(s) of "
        f"{s['seconds']} s per stack, each after a {s['warmup']} s warm-up; wrk threads = min(conns, nproc); "
        f"pool: {s['pool']}; front nginx: worker_processes {s['front_workers']}; "
        f"baseline: proxy_pass with upstream keepalive and `{s['baseline_directives']}`",
        f"- stream: {s['stream']}",
        f"- total time: {s['elapsed_s']:.0f} s",
        "",
        *([f"**Note:** the machine was busy at the start (load {m['loadavg']} on {m['nproc']} CPUs): "
              "other work competed for the CPUs and the figures are noisier than usual.", ""]
            if float(m["loadavg"].split()[0]) > 0.5 * m["nproc"] else []),
        "## Throughput",
        "",
        "Stacks: `baseline` is the front nginx proxying the origin untouched; `off`, `free`, `auto` are the "
        "dashpiff stack with that `--piff-mode` (a freshly started pool for every measurement). "
        "Ratios are against the baseline cell with the same workload and connections, measured in this run.",
        "",
        "| workload | conns | stack | req/s | MB/s | p50 ms | p99 ms | non-2xx | sock err "
        "| req/s ÷ base | p99 ÷ base | req/s ÷ off | targets |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for w, c, stack, r in rep.cells:
        base = rep.cell(w, c, "baseline")
        off = rep.cell(w, c, "off")
        is_base = stack == "baseline"
        rps_ratio = "" if is_base or not base else f"{_ratio(r.rps, base.rps):.2f}"
        p99_ratio = "" if is_base or not base else f"{_ratio(r.p99_ms, base.p99_ms):.2f}"
        off_ratio = "" if stack in ("baseline", "off") or not off else f"{_ratio(r.rps, off.rps):.3f}"
        lines.append(
            f"| {WORKLOAD_TITLES[w]} | {c} | {stack} | {_fmt(r.rps)} | {_fmt(r.mb_s)} | {r.p50_ms:.2f} "
            f"| {r.p99_ms:.2f} | {r.non_2xx} | {r.socket_errors} | {rps_ratio} | {p99_ratio} | {off_ratio} "
            f"| {'; '.join(notes.get((w, c, stack), []))} |")

    components = ["front nginx", "dashpiff", "origin nginx", "wrk"]
    if any(r.cpu_s for _w, _c, _s, r in rep.cells):
        lines += ["", "## CPU per request", "",
                  "CPU time (user + system, ms) each process group used per request during the measured runs, "
                  "from /proc; *busy* is CPU-seconds per second of the whole set (the machine has "
                  f"{m['nproc']}). On a CPU-bound box the ratio of the totals bounds the req/s ratio.", "",
                  "| workload | conns | stack | " + " | ".join(components) + " | total | busy |",
                  "|---|---:|---|" + "---:|" * (len(components) + 2)]
        for w, c, stack, r in rep.cells:
            if not r.cpu_s:
                continue
            per = [r.cpu_ms_per_request(k) for k in components]
            busy = sum(r.cpu_s.values()) / r.duration_s if r.duration_s else 0.0
            lines.append(f"| {WORKLOAD_TITLES[w]} | {c} | {stack} | "
                         + " | ".join(f"{x:.3f}" if (k in r.cpu_s) else "" for k, x in zip(components, per))
                         + f" | {sum(per):.3f} | {busy:.2f} |")

    lines += ["", "## Memory", ""]
    if rep.soak:
        so = rep.soak
        lines += [f"One pool (`--piff-mode {so['mode']}`) kept up through every workload and connection count "
                  f"in turn ({so['seconds']} s of load), worker RSS sampled every 20 ms: *peak* is the kernel's "
                  "VmHWM, *after* is VmRSS once the load has stopped.", "",
                  "| worker pid | peak RSS MiB | RSS after the runs MiB | target (after) |", "|---|---:|---:|---|"]
        for pid, mem in sorted(so["workers"].items()):
            met = mem["after_kib"] <= WORKER_RSS_MIB * MIB
            lines.append(f"| {pid} | {mem['peak_kib'] / MIB:.1f} | {mem['after_kib'] / MIB:.1f} "
                         f"| ≤ {WORKER_RSS_MIB} MiB {mark(met)} |")
        lines += [f"| supervisor | {so['supervisor_kib'] / MIB:.1f} | | |", ""]
    if rep.pool_peaks:
        lines += ["Throughput cells (a fresh pool per cell): the highest VmHWM of any worker.", "",
                  "| mode | pools | worker processes | highest worker peak RSS MiB | supervisor peak MiB |",
                  "|---|---:|---:|---:|---:|"]
        for mode, pk in rep.pool_peaks.items():
            lines.append(f"| {mode} | {pk['pools']} | {pk['workers']} | {pk['peak_kib'] / MIB:.1f} "
                         f"| {pk['supervisor_kib'] / MIB:.1f} |")

    if rep.huge:
        h = rep.huge
        lines += ["", "## 500 MB segment", "",
                  f"One GET of a {h['size'] / 1e6:.0f} MB segment (a real moof with its PIFF box, then one "
                  f"500 MB mdat) through dashpiff (`--piff-mode {h['mode']}`) on a warmed-up pool, worker RSS "
                  "sampled every 20 ms. *added* is the largest rise of any worker over its value before the "
                  "request (sampled VmRSS peak, or VmHWM, whichever rose more).", "",
                  "| stack | bytes received | complete | seconds | MB/s | RSS before MiB | peak RSS MiB | added MiB | target |",
                  "|---|---:|---|---:|---:|---:|---:|---:|---|"]
        met = h["added_kib"] <= HUGE_RSS_MIB * MIB and h["complete"]
        lines.append(f"| dashpiff {h['mode']} | {h['received']:,} | {'yes' if h['complete'] else 'NO'} "
                     f"| {h['seconds']:.2f} | {h['size'] / h['seconds'] / 1e6:.0f} | {h['before_kib'] / MIB:.1f} "
                     f"| {h['peak_kib'] / MIB:.1f} | {h['added_kib'] / MIB:.1f} | ≤ {HUGE_RSS_MIB} MiB {mark(met)} |")
        if h.get("baseline_seconds"):
            lines.append(f"| baseline | {h['baseline_received']:,} | "
                         f"{'yes' if h['baseline_received'] == h['size'] else 'NO'} | {h['baseline_seconds']:.2f} "
                         f"| {h['size'] / h['baseline_seconds'] / 1e6:.0f} | | | | |")

    if rep.ttfb:
        t = rep.ttfb
        lines += ["", "## Time to first byte, throttled origin", "",
                  f"GET of a {t['segment_kb']:.0f} KB segment from the origin's `/slow/` location "
                  f"(limit_rate {t['rate']}), {t['reps']} alternating repetitions per stack, medians. TTFB as "
                  "curl's time_starttransfer (request sent → first response byte); first body byte shown too.",
                  "", "| stack | TTFB ms | first body byte ms | all TTFB samples ms |", "|---|---:|---:|---|"]
        for stack in ("baseline", t["mode"]):
            d = t[stack]
            lines.append(f"| {stack if stack == 'baseline' else 'dashpiff ' + stack} | {d['ttfb_ms']:.2f} "
                         f"| {d['body_ms']:.2f} | {', '.join(f'{x:.1f}' for x in d['samples'])} |")
        lines.append(f"| **overhead** | {t['overhead_ms']:.2f} | {t['body_overhead_ms']:.2f} "
                     f"| target ≤ {TTFB_OVERHEAD_MS} ms: {mark(t['overhead_ms'] <= TTFB_OVERHEAD_MS)} |")

    lines += ["", "## Targets (issues 7, 13, 14)", "", "| figure | measured | target | verdict |", "|---|---:|---:|---|"]
    for v in rep.verdicts:
        lines.append(f"| {v.what} | {v.measured} | {v.target} | {mark(v.met)} |")
    missed = sum(1 for v in rep.verdicts if not v.met)
    lines += ["", f"{len(rep.verdicts) - missed} of {len(rep.verdicts)} targets met."]

    for name, output in rep.micro:
        lines += ["", f"## Micro-benchmark `{name}`", "", "```", output.rstrip(), "```"]
    return "\n".join(lines) + "\n"
