"""A gate in front of an S3 server that refuses some requests with HTTP 403, as S3 does.

Used by tests/storage/test_s3.py to check that "access denied" is raised and never read as a missing
chunk. The refusals are made here, not by the S3 server's own policy engine: moto's IAM and
bucket-policy enforcement differ from one moto release to the next (some releases let the
denied read through), while a 403 from the gate is the same with every server version. The
clients (s3fs through botocore, obstore through its Rust client) see an ordinary S3 endpoint
and S3's own error replies::

    gate = S3Gate(upstream="http://127.0.0.1:5000", key="zarrkit-test-key",
                  deny_reads=r"/locked/.+/2")
    gate.start()          # gate.endpoint: http://127.0.0.1:<free port>
    ...
    gate.stop()

Requests signed with another access key than ``key`` get ``403 InvalidAccessKeyId``; reads
(GET, HEAD) of an object whose path (``/bucket/key``, path-style addressing) matches
``deny_reads`` get ``403 AccessDenied``. Every other request is passed to ``upstream``
unchanged (method, path, headers, body), and its reply passed back.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: headers that belong to one connection, not to the request (RFC 9110, 7.6.1)
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",  # the gate answered "100 Continue" itself
}

ERROR_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message>"
    "<Resource>{resource}</Resource><RequestId>zarrkit-s3-gate</RequestId></Error>"
)
#: reply headers the gate writes itself
REPLACED = {"transfer-encoding", "content-length", "server", "date"}
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class S3Gate:
    """An HTTP server on 127.0.0.1 that passes S3 requests to ``upstream`` or refuses them."""

    #: the bucket the tests use behind the gate (set by the fixture that makes one)
    bucket: str = ""

    def __init__(self, upstream: str, key: str, deny_reads: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.key = key
        self.deny_reads = re.compile(deny_reads)
        #: (method, path, status) of every request the gate refused
        self.refused: list[tuple[str, str, int]] = []
        #: seconds every request waits before it is passed on (a far-away server)
        self.latency = 0.0
        #: (method, path) of every request, and the most that were in flight at once
        self.seen: list[tuple[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> S3Gate:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def reset(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self.seen = []
            self.max_in_flight = 0

    def refusal(self, method: str, path: str, authorization: str) -> tuple[int, str, str] | None:
        """``(status, S3 error code, message)`` if the request is refused, else None."""
        found = CREDENTIAL.search(authorization)
        if found is None or found.group(1) != self.key:
            return 403, "InvalidAccessKeyId", "The AWS Access Key Id does not exist in our records."
        if method in ("GET", "HEAD") and self.deny_reads.fullmatch(urllib.parse.unquote(path)):
            return 403, "AccessDenied", "Access Denied"
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, and "Expect: 100-continue" answered

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # quiet

            def _body(self) -> bytes:
                """The request body exactly as sent (chunked transfer coding kept)."""
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    raw = bytearray()
                    while True:
                        line = self.rfile.readline()
                        raw += line
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            break
                        raw += self.rfile.read(size + 2)  # the data and its CRLF
                    while True:  # trailer fields, then an empty line
                        line = self.rfile.readline()
                        raw += line
                        if line in (b"\r\n", b"\n", b""):
                            return bytes(raw)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                with gate._lock:
                    gate.seen.append((self.command, self.path.split("?", 1)[0]))
                    gate.in_flight += 1
                    gate.max_in_flight = max(gate.max_in_flight, gate.in_flight)
                try:
                    if gate.latency:
                        time.sleep(gate.latency)
                    self._pass()
                finally:
                    with gate._lock:
                        gate.in_flight -= 1

            def _pass(self) -> None:
                body = self._body()
                path = self.path.split("?", 1)[0]
                refused = gate.refusal(self.command, path, self.headers.get("Authorization", ""))
                if refused is not None:
                    status, code, message = refused
                    gate.refused.append((self.command, path, status))
                    reply = ERROR_XML.format(code=code, message=message, resource=path).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(reply)))
                    self.send_header("x-amz-request-id", "zarrkit-s3-gate")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(reply)
                    return
                conn = http.client.HTTPConnection(*gate.upstream, timeout=60)
                try:
                    conn.putrequest(
                        self.command, self.path, skip_host=True, skip_accept_encoding=True
                    )
                    for name, value in self.headers.items():
                        if name.lower() not in HOP_BY_HOP:
                            conn.putheader(name, value)
                    conn.endheaders(body or None)
                    upstream = conn.getresponse()
                    data = upstream.read()
                    self.send_response(upstream.status, upstream.reason)
                    for name, value in upstream.getheaders():
                        if name.lower() not in HOP_BY_HOP | REPLACED:
                            self.send_header(name, value)
                    length = upstream.getheader("Content-Length")
                    if self.command == "HEAD" and length is not None:
                        self.send_header("Content-Length", length)
                    else:
                        self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

        return Handler
