"""Starts and stops a real dashpiff stack on 127.0.0.1 for the demo, the
end-to-end tests, the browser tests and the benchmarks:

  origin nginx (static files)  <-  dashpiff-fcgi (spawn-fcgi -n)  <-  front nginx

Every process is started here, remembered by PID and stopped by PID.
Nothing listens outside 127.0.0.1.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("DASHPIFF_BUILD", os.path.join(TOP, "build"))


def free_ports(count):
    """`count` distinct ports free now: each socket holds its port until all
    are taken (two calls of one port each may return the same port twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port():
    return free_ports(1)[0]


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


ORIGIN_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include {mime};
    types {{ application/dash+xml mpd; application/dash-patch+xml mpp; video/iso.segment m4s; }}
    access_log {dir}/access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        gzip on;
        gzip_types application/dash+xml;
        gzip_min_length 64;
        # Access-token origin: refuses requests without ?token=secret.
        location /token/ {{
            if ($arg_token != "secret") {{ return 403 "token required\\n"; }}
            rewrite ^/token/(.*)$ /$1 break;
        }}
        # A throttled origin (TTFB and streaming checks).
        location /slow/ {{
            rewrite ^/slow/(.*)$ /$1 break;
            limit_rate_after 1;
            limit_rate {slow_rate};
        }}
        # Cacheable media, as a CDN origin would answer it.
        location /streams/ {{ expires 60s; }}
        location /nocache/ {{
            rewrite ^/nocache/(.*)$ /$1 break;
            add_header Cache-Control "no-store";
        }}
        # Smooth Streaming presentations as IIS serves them (MS-SSTR 2.2.3):
        # extensionless client manifest and QualityLevels(..)/Fragments(..) URLs.
        location ~ /Manifest$ {{ default_type text/xml; expires 60s; }}
        location ~ "/QualityLevels\([0-9]+\)/Fragments\([a-z]+=[0-9]+\)$" {{ default_type video/mp4; expires 60s; }}
        location = /redirect-to-mpd {{ return 302 /streams/cenc-piff/manifest.mpd; }}
        location = /redirect-file {{ return 302 file:///etc/passwd; }}
        location = /redirect-gopher {{ return 302 gopher://127.0.0.1:70/; }}
        location = /redirect-other-loopback {{ return 302 http://127.0.0.2:{port}/streams/clear/manifest.mpd; }}
        {extra}
    }}
}}
"""

FRONT_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {dir}/access.log;
    upstream dashpiff_fcgi {{
        server unix:{sock};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        include snippets/dashpiff-locations.conf;
        {server_extra}
    }}
    {extra}
}}
"""


def site_variant(sock, port, cache_dir=None):
    """The shipped nginx site (nginx-conf/dashpiff.conf) as an operator enables
    it, plain or with its commented cache block switched on; only the listen
    address, the socket path and the cache directory are substituted."""
    site = open(os.path.join(TOP, "nginx-conf", "dashpiff.conf")).read()
    text = site.replace("unix:/run/dashpiff/dashpiff.sock", "unix:" + sock)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};").replace("listen [::]:80;", "")
    if cache_dir:
        text = re.sub(r"^#(fastcgi_cache_path.*\n)#(\s+max_size.*\n)", r"\1\2", text, flags=re.M)
        text = text.replace("/var/cache/nginx/dashpiff", cache_dir)
        text = text.replace("    include snippets/dashpiff-locations.conf;\n", "")
        text = text.replace("#include snippets/dashpiff-locations-cached.conf;", "include snippets/dashpiff-locations-cached.conf;")
    return text


def wrap(dirname, site):
    """A whole nginx.conf around a site."""
    return f"""
worker_processes 1;
pid {dirname}/nginx.pid;
error_log {dirname}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    {site}
}}
"""


class Nginx:
    def __init__(self, name, conf_text, workdir, snippets=False):
        self.dir = os.path.join(workdir, name)
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        if snippets:
            os.symlink(os.path.join(TOP, "nginx-conf", "snippets"), os.path.join(self.dir, "snippets"))
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf_text)
        self.proc = None

    def start(self, port):
        # Someone else's listener there would pass the wait below while this
        # nginx fails to bind: the caller's requests would go to it.
        if port_open(port):
            raise RuntimeError(f"nginx {self.dir}: port {port} is already in use")
        self.proc = subprocess.Popen(
            ["nginx", "-p", self.dir + "/", "-c", self.conf, "-e", os.path.join(self.dir, "error.log"),
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "stderr.log"), "w"))
        wait_for(lambda: port_open(port) or self.proc.poll() is not None, what=f"nginx on {port}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"nginx {self.dir} failed: " + open(os.path.join(self.dir, "stderr.log")).read())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Stack:
    """origin nginx + spawn-fcgi dashpiff-fcgi + front nginx, on free ports."""

    def __init__(self, args=(), origin_root=None, front_extra="", origin_extra="", slow_rate="200k",
                 workdir=None, front_port=None, allow_network="127.0.0.0/8", front_server_extra=""):
        # front_extra goes into the front's http block, front_server_extra into
        # its server block (extra locations beside the project's snippet).
        self.workdir = workdir or tempfile.mkdtemp(prefix="dashpiff-stack-")
        # nginx workers run as nobody: they must reach the socket and logs.
        os.chmod(self.workdir, 0o755)
        self.origin_root = origin_root or os.path.join(TOP, "tests", "data")
        # Distinct: the front on the origin's port would find it open, and
        # the test would talk to the origin (a CI run got 404 for /mpd/).
        self.origin_port, spare = free_ports(2)
        self.front_port = front_port or spare
        self.sock = os.path.join(self.workdir, "dashpiff.sock")
        # The origin is on loopback, which the SSRF guard refuses unless allowed.
        self.args = (["--allow-network", allow_network] if allow_network else []) + list(args)
        self.origin = Nginx("origin", ORIGIN_CONF.format(
            dir=os.path.join(self.workdir, "origin"), port=self.origin_port, root=self.origin_root,
            mime="/etc/nginx/mime.types", slow_rate=slow_rate, extra=origin_extra), self.workdir)
        self.front = Nginx("front", FRONT_CONF.format(
            dir=os.path.join(self.workdir, "front"), port=self.front_port, sock=self.sock,
            extra=front_extra, server_extra=front_server_extra), self.workdir, snippets=True)
        self.fcgi = None
        self.fcgi_log = os.path.join(self.workdir, "dashpiff.log")

    @property
    def origin_url(self):
        return f"http://127.0.0.1:{self.origin_port}"

    @property
    def front_url(self):
        return f"http://127.0.0.1:{self.front_port}"

    def start(self):
        self.origin.start(self.origin_port)
        self.start_fcgi()
        self.front.start(self.front_port)
        return self

    def start_fcgi(self, extra_args=()):
        binary = os.path.join(BUILD, "fcgi", "dashpiff-fcgi")
        # spawn-fcgi -n execs the worker in place: this PID is the service's.
        cmd = ["spawn-fcgi", "-n", "-s", self.sock, "-M", "0666", "--", binary,
               "--config", "/dev/null"] + self.args + list(extra_args)
        self.fcgi = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.fcgi_log, "a"),
                                     start_new_session=True)
        wait_for(lambda: os.path.exists(self.sock) or self.fcgi.poll() is not None, what="FastCGI socket")
        if self.fcgi.poll() is not None:
            raise RuntimeError("dashpiff-fcgi failed to start: " + open(self.fcgi_log).read())

    def stop_fcgi(self, timeout=40):
        if self.fcgi and self.fcgi.poll() is None:
            self.fcgi.send_signal(signal.SIGTERM)
            try:
                self.fcgi.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.fcgi.pid, signal.SIGKILL)
                self.fcgi.wait()
        # spawn-fcgi refuses a socket in use and reuses a stale one; remove it
        # so the next start is clean.
        if os.path.exists(self.sock):
            os.unlink(self.sock)

    def stop(self):
        self.front.stop()
        self.stop_fcgi()
        self.origin.stop()

    def log_text(self):
        try:
            return open(self.fcgi_log).read()
        except OSError:
            return ""

    def settled_log(self, ready, timeout=5.0):
        """The log once `ready(text)` holds, or as it is after `timeout`:
        a worker writes its lines through a thread of its own, a moment after
        the answer has gone out (src/service/log.h)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()
            if ready(text) or time.monotonic() >= deadline:
                return text
            time.sleep(0.02)

    def cleanup(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def player_locations():
    """The /player page as nginx-conf/snippets/dashpiff-player.conf serves it,
    with this checkout's files in place of the Debian package's paths
    (dash.js vendored in www/vendor/dashjs, as the package ships it)."""
    text = open(os.path.join(TOP, "nginx-conf", "snippets", "dashpiff-player.conf")).read()
    dashjs = os.path.join(TOP, "www", "vendor", "dashjs")
    return (text.replace("/usr/share/dashpiff/www/player/", os.path.join(TOP, "www", "player") + "/")
                .replace("/usr/share/dashpiff/dashjs/", dashjs + "/"))


def fetch(url, method="GET", data=None, headers=None, timeout=30):
    """(status, headers, body) without raising on HTTP errors."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def child_pids(pid):
    """Live (not zombie) child processes of pid, from /proc: the workers of
    the supervisor that spawn-fcgi -n execs in place."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # State and ppid follow the parenthesised command name.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry))
    return found


def proc_kib(pid, field):
    """A /proc/PID/status size in KiB, e.g. VmRSS, VmHWM."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def metric(stack, name):
    """One sample of the stack's /metrics page, e.g.
    'dashpiff_requests_total{route="mpd",status="200"}'; None when absent."""
    status, _, body = fetch(stack.front_url + "/metrics", timeout=5)
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None
