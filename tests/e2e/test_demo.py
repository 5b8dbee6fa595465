#!/usr/bin/env python3
"""scripts/demo.sh as a user runs it: it serves the demo streams and the
/player page, and SIGTERM or SIGINT stops it with every process it started
gone (issue 17). The dependency step finds everything installed (test.sh has
run scripts/deps.sh), so nothing is installed here.

Prints one PASS:/FAIL: line per check."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "scripts"))

from dashpiff_stack import fetch, free_port, port_open  # noqa: E402
import harness  # noqa: E402

START_TIMEOUT = 300   # build.sh runs make: quick when built, slow on a loaded machine
STOP_TIMEOUT = 90     # the pool drains (shutdown-deadline) before it exits


def proc_stat(pid):
    """(ppid, state, start time) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0], int(fields[19])


def descendants(root):
    """{pid: start time} of every live process below root (the start time
    tells a PID reused later from the one recorded)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st and st[1] != "Z":
                children.setdefault(st[0], []).append((int(entry), st[2]))
    found, todo = {}, [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            found[pid] = start
            todo.append(pid)
    return found


def alive(pid, start):
    st = proc_stat(pid)
    return st is not None and st[2] == start and st[1] != "Z"


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


class Demo:
    def __init__(self):
        self.port = free_port()
        self.out = tempfile.NamedTemporaryFile(prefix="dashpiff-demo-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([os.path.join(TOP, "scripts", "demo.sh"), "--port", str(self.port)],
                                     stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self):
        with open(self.out.name, errors="replace") as f:
            return f.read()

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if "Ctrl-C to stop" in self.output():
                return
            harness.expect(self.proc.poll() is None, f"demo.sh exited {self.proc.returncode}: "
                           + self.output()[-400:].replace("\n", " | "))
            time.sleep(0.2)
        raise harness.CheckFailed(f"not ready after {START_TIMEOUT} s")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.unlink(self.out.name)


def stop_and_check(sig):
    demo = Demo()
    try:
        demo.wait_ready()
        stack = descendants(demo.proc.pid)
        names = sorted({comm(p) for p in stack})
        # The origin and front nginx (master and worker each), spawn-fcgi's
        # exec'd supervisor and its workers.
        harness.expect("nginx" in names and "dashpiff-fcgi" in names,
                       f"stack processes not found under the demo: {names}")
        harness.expect(len(stack) >= 5, f"only {len(stack)} processes under the demo: {names}")
        workdir = re.search(r"Logs: (\S+)/dashpiff\.log", demo.output())
        harness.expect(workdir and os.path.isdir(workdir.group(1)), "no work directory in the demo's output")
        demo.proc.send_signal(sig)
        try:
            status = demo.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise harness.CheckFailed(f"demo still running {STOP_TIMEOUT} s after {sig.name}")
        harness.expect(status == 0, f"demo exited {status} after {sig.name}")
        # Everything it started must be gone now, not in a while.
        left = [f"{p} ({comm(p)})" for p, start in stack.items() if alive(p, start)]
        harness.expect(not left, f"left running after {sig.name}: {', '.join(left)}")
        harness.expect(not port_open(demo.port), f"port {demo.port} still open")
        harness.expect(not os.path.exists(workdir.group(1)), "work directory left behind")
        harness.expect(f"stopped ({sig.name})" in demo.output(), "no stop message")
    finally:
        demo.close()


@harness.check
def serves_streams_and_player():
    demo = Demo()
    try:
        demo.wait_ready()
        front = f"http://127.0.0.1:{demo.port}"
        urls = re.findall(r"^  (cenc-piff|piff-only): (\S+)$", demo.output(), re.M)
        harness.expect(len(urls) == 2, f"expected two proxy URLs, got {urls}")
        for name, url in urls:
            status, _, body = fetch(url)
            harness.expect(status == 200 and b"/media/" in body, f"{name}: {url} answered {status}")
        status, _, body = fetch(front + "/player")
        harness.expect(status == 200 and b"dash.all.min.js" in body, f"/player answered {status}")
        # The vendored dash.js, not a download.
        status, _, body = fetch(front + "/player/lib/dash.all.min.js")
        with open(os.path.join(TOP, "www", "vendor", "dashjs", "dash.all.min.js"), "rb") as f:
            harness.expect(status == 200 and body == f.read(), f"/player/lib/dash.all.min.js answered {status}")
        demo.proc.send_signal(signal.SIGTERM)
        demo.proc.wait(STOP_TIMEOUT)
    finally:
        demo.close()


@harness.check
def sigterm_stops_every_process():
    stop_and_check(signal.SIGTERM)


@harness.check
def sigint_stops_every_process():
    stop_and_check(signal.SIGINT)


if __name__ == "__main__":
    sys.exit(harness.run("e2e.demo", only=os.environ.get("ONLY")))
