#!/usr/bin/env python3
"""The operator's dashboard and alerts (docs/monitoring/) against a live
/metrics of the real stack: every metric and label they name exists, the
rules pass `promtool check rules`, the dashboard's queries parse as PromQL,
and the series added for them (request latency, pool saturation, build info)
say what they claim. Prints one PASS:/FAIL: line per check."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import yaml  # noqa: E402

from dashpiff_stack import BUILD, TOP, Stack, child_pids, fetch, wait_for  # noqa: E402
from codec import enc  # noqa: E402
from harness import check, expect, run  # noqa: E402

MONITORING = os.path.join(TOP, "docs", "monitoring")
DASHBOARD = os.path.join(MONITORING, "dashpiff-dashboard.json")
ALERTS = os.path.join(MONITORING, "dashpiff-alerts.yml")
WORKERS, THREADS = 2, 3
# Series Prometheus itself adds to every scrape, and the labels it attaches.
PROMETHEUS_SERIES = {"up"}
TARGET_LABELS = {"instance", "job"}
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "rate", "irate", "increase", "histogram_quantile", "absent", "offset", "bool",
    "label_values", "topk", "bottomk", "clamp_min", "clamp_max", "delta", "deriv", "time", "vector",
}


def scrape(stack):
    status, _, body = fetch(stack.front_url + "/metrics")
    expect(status == 200, f"/metrics answered {status}")
    return body.decode()


def parse_metrics(text):
    """{metric name: {label: set(values)}} of a Prometheus text page."""
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+$", line)
        expect(m, f"unparsable /metrics line: {line!r}")
        labels = series.setdefault(m.group(1), {})
        for name, value in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""):
            labels.setdefault(name, set()).add(value)
    return series


def value(text, sample):
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return None


def dashboard_queries():
    dash = json.load(open(DASHBOARD))
    out = []

    def walk(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "definition") and isinstance(v, str):
                    out.append((where, v))
                elif k == "query" and isinstance(v, str) and node.get("type") != "datasource":
                    out.append((where, v))
                else:
                    walk(v, f"{where}.{k}" if k != "panels" else where)
        elif isinstance(node, list):
            for item in node:
                walk(item, f"{where}/{item.get('title', '')}" if isinstance(item, dict) and "title" in item else where)
    walk(dash, "dashboard")
    return out


def alert_queries():
    rules = yaml.safe_load(open(ALERTS))
    return [(f"alert {r.get('alert') or r.get('record')}", r["expr"]) for g in rules["groups"] for r in g["rules"]]


def names_in(expr):
    """Metric names, label names and equality-matched label values of a
    query (Grafana variables removed)."""
    lv = re.fullmatch(r"\s*label_values\((\w+),\s*(\w+)\)\s*", expr)
    if lv:
        return {lv.group(1)}, {lv.group(2)}, []
    text = re.sub(r"\$\{?\w+\}?", "x", expr)
    text = re.sub(r"\{\{[^}]*\}\}", "", text)
    labels = set()
    values = []
    for body in re.findall(r"\{([^{}]*)\}", text):
        for name, op, val in re.findall(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"', body):
            labels.add(name)
            if op == "=":
                values.append((name, val))
    for clause in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        labels.update(w.strip() for w in clause.split(",") if w.strip())
    stripped = re.sub(r"\{[^{}]*\}|\"[^\"]*\"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    metrics = {w for w in re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", stripped)
               if w not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]?|e\d+|x", w)}
    return metrics, labels, values


class Monitored:
    def __init__(self):
        # /slow/ at 2 KB/s: a 14 KB segment holds a thread for about 7 s, long
        # enough to be seen by scrapes on a loaded machine.
        self.stack = Stack(args=["--workers", str(WORKERS), "--threads", str(THREADS)], slow_rate="2k")
        self.stack.start()
        wait_for(lambda: len(child_pids(self.stack.fcgi.pid)) == WORKERS, what="workers")
        self.traffic()
        self.text = scrape(self.stack)
        self.series = parse_metrics(self.text)

    def traffic(self):
        """One of everything the dashboard plots: /create, a manifest, PIFF
        segments, a 404, an origin that refuses, and a worker respawned."""
        s = self.stack
        origin_mpd = s.origin_url + "/streams/cenc-piff/manifest.mpd"
        status, _, body = fetch(s.front_url + "/create?url=" + urllib.parse.quote(origin_mpd, safe=""))
        expect(status == 200, f"/create answered {status}")
        status, _, _ = fetch(json.loads(body)["url"])
        expect(status == 200, f"manifest answered {status}")
        base = s.front_url + "/media/" + enc(s.origin_url + "/streams/cenc-piff/")
        for name in ("seg-0-1.m4s", "seg-0-2.m4s"):
            status, _, _ = fetch(base + "/" + name)
            expect(status == 200, f"{name} answered {status}")
        fetch(s.front_url + "/nope")
        fetch(s.front_url + "/mpd/" + enc("http://127.0.0.1:1/refused.mpd"))
        victim = sorted(child_pids(s.fcgi.pid))[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in child_pids(s.fcgi.pid) and len(child_pids(s.fcgi.pid)) == WORKERS,
                 timeout=15, what="the killed worker replaced")

    def stop(self):
        self.stack.stop()
        self.stack.cleanup()


def check_names(series, queries):
    known_labels = TARGET_LABELS | {"le"} | {l for labels in series.values() for l in labels}
    problems = []
    for where, expr in queries:
        metrics, labels, values = names_in(expr)
        for m in sorted(metrics):
            if m not in series and m not in PROMETHEUS_SERIES:
                problems.append(f"{where}: metric {m} is not in /metrics")
        for l in sorted(labels - known_labels):
            problems.append(f"{where}: label {l} appears on no dashpiff series")
        for name, val in values:
            seen = {v for labels in series.values() for v in labels.get(name, ())}
            if name not in TARGET_LABELS and seen and val not in seen:
                problems.append(f"{where}: {name}=\"{val}\" matches no series (values: {sorted(seen)})")
    return problems


@check
def dashboard_names_only_exported_metrics(m):
    queries = dashboard_queries()
    expect(len(queries) >= 12, f"only {len(queries)} queries found in the dashboard")
    problems = check_names(m.series, queries)
    expect(not problems, "; ".join(problems[:5]))


@check
def alert_rules_name_only_exported_metrics(m):
    queries = alert_queries()
    expect(len(queries) >= 6, f"only {len(queries)} rules")
    problems = check_names(m.series, queries)
    expect(not problems, "; ".join(problems[:5]))


@check
def dashboard_and_rules_cover_what_the_operator_needs(m):
    used = set()
    for _, expr in dashboard_queries() + alert_queries():
        used |= names_in(expr)[0]
    need = {"dashpiff_requests_total", "dashpiff_request_duration_seconds_bucket", "dashpiff_origin_errors_total",
            "dashpiff_piff_boxes_total", "dashpiff_segments_passed_unparsed_total",
            "dashpiff_workers_restarted_total", "dashpiff_worker_threads_busy", "dashpiff_worker_threads"}
    expect(need <= used, f"not used: {sorted(need - used)}")


def promtool():
    tool = shutil.which("promtool")
    expect(tool, "promtool not installed (Debian package prometheus; scripts/deps.sh test)")
    return tool


@check
def promtool_check_rules_accepts_the_alerts(m):
    out = subprocess.run([promtool(), "check", "rules", ALERTS], capture_output=True, text=True)
    expect(out.returncode == 0, (out.stdout + out.stderr).strip().replace("\n", " | "))


@check
def dashboard_queries_parse_as_promql(m):
    # promtool has no offline query parser of its own: the queries become
    # recording rules, with Grafana's variables given typical values.
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}",
         "expr": expr.replace("$__rate_interval", "5m").replace("$instance", ".*")}
        for i, (_, expr) in enumerate(dashboard_queries()) if "label_values" not in expr]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(rules, f)
    try:
        out = subprocess.run([promtool(), "check", "rules", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    expect(out.returncode == 0, (out.stdout + out.stderr).strip().replace("\n", " | "))


@check
def promtool_accepts_the_metrics_page(m):
    out = subprocess.run([promtool(), "check", "metrics"], input=m.text, capture_output=True, text=True)
    # check metrics lints names too; only errors (exit 1 with "error") fail.
    expect("error" not in (out.stdout + out.stderr).lower(), (out.stdout + out.stderr).strip()[:300])


@check
def request_latency_histogram_counts_every_answer(m):
    for route, status in (("mpd", "200"), ("media", "200"), ("other", "404")):
        total = value(m.text, f'dashpiff_requests_total{{route="{route}",status="{status}"}}')
        count = value(m.text, f'dashpiff_request_duration_seconds_count{{route="{route}",status="{status}"}}')
        inf = value(m.text, f'dashpiff_request_duration_seconds_bucket{{route="{route}",status="{status}",le="+Inf"}}')
        expect(total and total == count == inf, f"{route} {status}: total {total}, count {count}, +Inf {inf}")


@check
def worker_respawn_and_origin_errors_are_counted(m):
    expect(value(m.text, "dashpiff_workers_restarted_total") == 1,
           f"workers_restarted_total {value(m.text, 'dashpiff_workers_restarted_total')}, one worker was killed")
    refused = sum(value(m.text, f'dashpiff_origin_errors_total{{kind="{k}"}}') or 0
                  for k in m.series["dashpiff_origin_errors_total"]["kind"])
    expect(refused >= 1, "the refused origin is not counted in dashpiff_origin_errors_total")
    boxes = sum(float(line.split()[-1]) for line in m.text.splitlines() if line.startswith("dashpiff_piff_boxes_total{"))
    expect(boxes > 0, "no PIFF box counted for two PIFF segments")


@check
def pool_saturation_gauges_follow_the_threads_and_transfers(m):
    s = m.stack
    # After the respawn: still workers x threads, and only the scrape busy.
    text = scrape(s)
    expect(value(text, "dashpiff_worker_threads") == WORKERS * THREADS,
           f"dashpiff_worker_threads {value(text, 'dashpiff_worker_threads')}, want {WORKERS * THREADS}")
    expect(value(text, "dashpiff_worker_threads_busy") == 1,
           f"idle pool: busy {value(text, 'dashpiff_worker_threads_busy')}, want 1 (the scrape)")
    # Two slow downloads are two transfers on the workers' event loops and
    # hold no thread while they last (issue 13): busy stays at the scrape.
    url = s.front_url + "/media/" + enc(s.origin_url + "/slow/streams/cenc-piff/") + "/seg-0-2.m4s"
    threads = [threading.Thread(target=fetch, args=(url,)) for _ in range(2)]
    for t in threads:
        t.start()
    seen = []
    try:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            text = scrape(s)
            seen.append((value(text, "dashpiff_transfers_in_flight"), value(text, "dashpiff_worker_threads_busy")))
            # The thread that launched the second transfer may still count
            # as busy for a moment after the transfer does: look again.
            if seen[-1] == (2, 1):
                break
            time.sleep(0.05)
    finally:
        for t in threads:
            t.join()
    expect(seen and seen[-1] == (2, 1), f"(transfers, busy threads) during two slow downloads: {seen[-5:]}, want (2, 1)")
    wait_for(lambda: value(scrape(s), "dashpiff_transfers_in_flight") == 0, timeout=30, what="transfers back to 0")
    wait_for(lambda: value(scrape(s), "dashpiff_worker_threads_busy") == 1, timeout=30, what="busy back to 1")


@check
def build_info_matches_version_output(m):
    out = subprocess.run([os.path.join(BUILD, "fcgi", "dashpiff-fcgi"), "--version"],
                         capture_output=True, text=True).stdout
    vm = re.match(r"dashpiff-fcgi (\S+) \(commit (\S+)\)$", out.strip())
    expect(vm, f"--version printed {out!r}")
    sample = f'dashpiff_build_info{{version="{vm.group(1)}",commit="{vm.group(2)}"}}'
    expect(value(m.text, sample) == 1, f"{sample} 1 not in /metrics")
    head = subprocess.run(["git", "-C", TOP, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        expect(vm.group(2) == head.stdout.strip(), f"commit {vm.group(2)}, checkout is at {head.stdout.strip()}")


def setup():
    return Monitored()


def teardown(m):
    if m:
        m.stop()


if __name__ == "__main__":
    sys.exit(run("e2e.monitoring", setup, teardown, only=os.environ.get("ONLY")))
