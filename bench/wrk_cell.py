"""One bounded wrk run ("cell"): a fixed number of connections for a fixed
time against one server, rotating through a list of request paths."""
import json
import os
import subprocess
import resource
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "rotate.lua")
MARK = "BENCH-JSON "


@dataclass
class CellResult:
    requests: int
    bytes: int
    duration_s: float
    non_2xx: int        # wrk counts statuses >= 400; the stacks answer no 3xx here
    socket_errors: int  # connect + read + write + timeouts
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_s: dict = field(default_factory=dict)  # component -> CPU seconds used during the run

    def cpu_ms_per_request(self, component):
        return self.cpu_s.get(component, 0.0) * 1e3 / self.requests if self.requests else 0.0

    @property
    def rps(self):
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def mb_s(self):
        return self.bytes / self.duration_s / 1e6 if self.duration_s else 0.0


def write_paths(path, paths):
    with open(path, "w") as f:
        f.write("\n".join(paths) + "\n")


def run_cell(base_url, paths_file, connections, seconds, timeout_s=30, cpu_probe=None):
    """cpu_probe() -> {component: CPU seconds so far}; when given, the
    result carries what each component (and wrk itself) used during the run."""
    before = cpu_probe() if cpu_probe else None
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    threads = max(1, min(connections, os.cpu_count() or 1))
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
           "--timeout", f"{timeout_s}s", "-s", LUA, base_url, "--", paths_file]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    cpu = {}
    if cpu_probe:
        after = cpu_probe()
        cpu = {k: after[k] - before.get(k, 0.0) for k in after}
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime) - (wrk_before.ru_utime + wrk_before.ru_stime)
    for line in out.stdout.splitlines():
        if line.startswith(MARK):
            d = json.loads(line[len(MARK):])
            return CellResult(
                requests=d["requests"], bytes=d["bytes"], duration_s=d["duration_us"] / 1e6,
                non_2xx=d["status_errors"],
                socket_errors=d["connect_errors"] + d["read_errors"] + d["write_errors"] + d["timeouts"],
                p50_ms=d["latency_p50_us"] / 1e3, p99_ms=d["latency_p99_us"] / 1e3,
                max_ms=d["latency_max_us"] / 1e3, cpu_s=cpu)
    raise RuntimeError("wrk printed no result:\n" + out.stdout + out.stderr)
