"""Memory of the dashpiff pool, read from /proc.

spawn-fcgi -n execs dashpiff-fcgi in place, so the PID the stack started is
the supervisor; the workers are its children (when the service runs without
a supervisor, that one process is the worker).
"""
import os
import threading
import time

from dashpiff_stack import child_pids


def status_kib(pid, field):
    """VmRSS / VmHWM / ... of a process in KiB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def children(pid):
    return sorted(child_pids(pid))


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads), or 0 when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2:].split()
    # utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid):
    """A process and its direct children (nginx master + workers, pool
    supervisor + workers)."""
    return cpu_seconds(pid) + sum(cpu_seconds(c) for c in children(pid))


def workers(supervisor_pid):
    return children(supervisor_pid) or [supervisor_pid]


class RssSampler:
    """Samples VmRSS (and VmHWM, the kernel's own peak) of every worker of a
    pool every `interval` seconds on a background thread, remembering each
    worker's highest value, including workers that are gone by the end."""

    def __init__(self, supervisor_pid, interval=0.02):
        self.supervisor_pid = supervisor_pid
        self.interval = interval
        self.peak_rss = {}   # pid -> KiB
        self.peak_hwm = {}   # pid -> KiB
        self.last_rss = {}   # pid -> KiB
        self.supervisor_hwm = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self):
        for pid in workers(self.supervisor_pid):
            rss = status_kib(pid, "VmRSS")
            hwm = status_kib(pid, "VmHWM")
            if rss is None or hwm is None:
                continue
            self.last_rss[pid] = rss
            self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), rss)
            self.peak_hwm[pid] = max(self.peak_hwm.get(pid, 0), hwm)
        hwm = status_kib(self.supervisor_pid, "VmHWM")
        if hwm is not None:
            self.supervisor_hwm = max(self.supervisor_hwm, hwm)

    def _loop(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()
        return False


def snapshot(supervisor_pid):
    """{pid: (VmRSS, VmHWM)} of the workers right now, KiB."""
    out = {}
    for pid in workers(supervisor_pid):
        rss, hwm = status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")
        if rss is not None and hwm is not None:
            out[pid] = (rss, hwm)
    return out


def wait_for_workers(supervisor_pid, expected, timeout=10.0):
    """Workers are forked after the supervisor starts; give them a moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(children(supervisor_pid)) >= expected:
            return True
        time.sleep(0.05)
    return False
