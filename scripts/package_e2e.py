#!/usr/bin/env python3
"""The end-to-end service checks (tests/e2e/test_service.py) against the
installed package: the dashpiff service that scripts/package-test.sh started
as its unit says, behind the installed nginx site on a private nginx. Only the
test origin (tests/data, on 127.0.0.1) is started here.

Environment: DASHPIFF_FRONT_URL (the private nginx), DASHPIFF_SERVICE_LOG (the
service's stderr), ONLY (run only checks whose name contains it).
Prints PASS:/FAIL: lines like every e2e suite.
"""
import os
import shutil
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "scripts"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))

from dashpiff_stack import ORIGIN_CONF, Nginx, Stack, free_port  # noqa: E402
import harness  # noqa: E402
import test_service  # noqa: E402,F401  (registers its checks with the harness)


class PackagedStack:
    """What test_service's checks use of a Stack, with the service and the
    front nginx already running."""

    def __init__(self, front_url, service_log):
        self.front_url = front_url
        self.service_log = service_log
        self.workdir = tempfile.mkdtemp(prefix="dashpiff-pkg-e2e-")
        os.chmod(self.workdir, 0o755)
        self.origin_port = free_port()
        self.origin = Nginx("origin", ORIGIN_CONF.format(
            dir=os.path.join(self.workdir, "origin"), port=self.origin_port,
            root=os.path.join(TOP, "tests", "data"), mime="/etc/nginx/mime.types",
            slow_rate="200k", extra=""), self.workdir)

    @property
    def origin_url(self):
        return f"http://127.0.0.1:{self.origin_port}"

    def start(self):
        self.origin.start(self.origin_port)
        return self

    def stop(self):
        self.origin.stop()

    def cleanup(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.service_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # The same wait for a worker's line as a Stack's: it needs only log_text().
    settled_log = Stack.settled_log


def setup():
    return PackagedStack(os.environ["DASHPIFF_FRONT_URL"], os.environ["DASHPIFF_SERVICE_LOG"]).start()


def teardown(stack):
    stack.stop()
    stack.cleanup()


if __name__ == "__main__":
    sys.exit(harness.run("package.e2e.service", setup, teardown, only=os.environ.get("ONLY")))
