"""A moto S3 server on 127.0.0.1 that sleeps a set latency before answering each request.

Run by ``cloud.py`` in its own process (``python cloud_server.py [--lifetime SECONDS]``): it
binds a free port, prints ``PORT <n>`` on stdout once it is listening, and serves with
werkzeug's threaded server (one thread per connection), so that concurrent requests sleep
concurrently, as on a real network. The latency is switched out of band: a request to
``/__latency__/<milliseconds>`` (any method) sets it and is answered at once;
``/__latency__/peak`` answers the most requests in flight at once since the last ``peak``.
Every other request first sleeps the latency, then goes to moto. The server exits after
``--lifetime`` seconds whatever happens to its parent.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from typing import Any

PREFIX = "/__latency__/"


class Latency:
    """WSGI middleware: sleep ``self.seconds`` before each request to ``app``, and count the
    requests being answered at once (from arrival to moto's answer)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seconds = 0.0
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            return self.control(path[len(PREFIX) :], start_response)
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.seconds:
                time.sleep(self.seconds)
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.in_flight -= 1

    def control(self, arg: str, start_response: Any) -> Any:
        """``/__latency__/<ms>``: set the latency; ``/__latency__/peak``: the most requests
        in flight at once since the last ``peak`` (and start counting again)."""
        with self.lock:
            if arg == "peak":
                text = f"{self.max_in_flight}"
                self.max_in_flight = self.in_flight
            else:
                self.seconds = float(arg) / 1000
                text = f"latency {self.seconds * 1000:g} ms, {self.requests} requests"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{text}\n".encode()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lifetime", type=float, default=3 * 3600, help="exit after this (s)")
    args = p.parse_args()
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    app = Latency(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # the parent may die without stopping us: bounded in time
    threading.Timer(args.lifetime, lambda: os._exit(3)).start()
    print(f"PORT {server.server_port}", flush=True)
    sys.stdout = sys.stderr
    server.serve_forever()


if __name__ == "__main__":
    main()
