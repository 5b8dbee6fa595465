"""Time to first byte of one GET, measured like curl's %{time_starttransfer}
(request sent -> first response byte), plus the time to the first body byte.
The connection is closed as soon as a body byte arrives: against a throttled
origin a whole segment would take seconds and only its start matters here."""
import socket
import time
from urllib.parse import urlsplit


def measure(url, timeout=30.0):
    """(ttfb_s, first_body_byte_s, status)."""
    parts = urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    request = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               f"User-Agent: dashpiff-bench\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.perf_counter()
        s.sendall(request)
        received = b""
        first = None
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError(f"{url}: connection closed before the body")
            if first is None:
                first = time.perf_counter() - start
            received += chunk
            end = received.find(b"\r\n\r\n")
            if end >= 0 and len(received) > end + 4:
                body = time.perf_counter() - start
                status = int(received.split(b" ", 2)[1])
                return first, body, status
