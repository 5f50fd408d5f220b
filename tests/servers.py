"""Start and stop the servers the server-backed stores are tested against.

Redis (Debian's ``redis-server``), Azure Blob Storage (Azurite, from npm, run with node
directly) and the ``nx-27017`` MongoDB wire-protocol emulator (a pip package: no MongoDB
server installs on these machines, so the MongoDB tests talk to an emulator unless
``ZARRKIT_TEST_MONGODB_URL`` names a real server). ``scripts/install_servers.sh`` installs
them. Each server listens on 127.0.0.1, on a free port unless one is asked for, keeps
nothing on disk, and is ready when :func:`start` returns.

Used by the session fixtures of ``tests/conftest.py`` and, as a command, by
``scripts/conformance.sh`` (zarr 2's suite wants the servers on their default ports)::

    python tests/servers.py start --default-ports --state DIR   # prints `export ...` lines
    python tests/servers.py stop --state DIR
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORTS = {"redis": 6379, "mongodb": 27017, "azurite": 10000}
AZURITE_VERSION = "3.37.0"
SERVERS_DIR = Path(
    os.environ.get("ZARRKIT_SERVERS_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zarrkit" / "servers"
)
#: Azurite's documented development account (public, the same everywhere)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class ServerUnavailable(RuntimeError):
    """A server is not installed here (run scripts/install_servers.sh) or did not start."""


@dataclass
class Server:
    """A running server: its name, port and process."""

    name: str
    port: int
    proc: subprocess.Popen | None = field(default=None, repr=False)
    workdir: str | None = None

    @property
    def url(self) -> str:
        scheme = {"redis": "redis", "mongodb": "mongodb"}.get(self.name, "http")
        return f"{scheme}://{HOST}:{self.port}"

    @property
    def azure_connection_string(self) -> str:
        """Connection string of Azurite's development account on this server."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={self.url}/{AZURITE_ACCOUNT};"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:  # Azurite waits for its clients' keep-alive connections: not for long
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) == 0


def azurite_main() -> Path:
    return SERVERS_DIR / f"azurite-{AZURITE_VERSION}/node_modules/azurite/dist/src/blob/main.js"


def _command(name: str, port: int) -> list[str]:
    if name == "redis":
        exe = shutil.which("redis-server")
        if exe is None:
            raise ServerUnavailable("redis-server is not installed (scripts/install_servers.sh)")
        # no config file, no persistence, no protected mode (loopback only anyway)
        return [exe, "--port", str(port), "--bind", HOST, "--save", ""]  # fmt: skip
    if name == "mongodb":
        code = "import sys; from nx_27017.nx_27017 import main; sys.exit(main())"
        try:
            import nx_27017  # noqa: F401
        except ImportError:
            raise ServerUnavailable("nx-27017 is not installed (pip install nx-27017)") from None
        return [sys.executable, "-c", code, "--host", HOST, "-p", str(port)]
    if name == "azurite":
        main, node = azurite_main(), shutil.which("node")
        if node is None or not main.exists():
            raise ServerUnavailable(f"Azurite is not installed in {main.parent.parent.parent}"
                                    " (scripts/install_servers.sh)")  # fmt: skip
        return [node, str(main), "--blobHost", HOST, "--blobPort", str(port),
                "--inMemoryPersistence", "--silent", "--skipApiVersionCheck"]  # fmt: skip
    raise ValueError(f"unknown server {name!r}")


def start(
    name: str, port: int | None = None, timeout: float = 30.0, detach: bool = False
) -> Server:
    """Start server ``name`` ('redis', 'mongodb' (the emulator) or 'azurite') on ``port``
    (a free one if None) and wait until it accepts connections. A ``detach``-ed server
    outlives this process (in its own session) until :func:`stop_pid`; otherwise it stops
    with :meth:`Server.stop`, or with this process's terminal session."""
    if port is None:
        port = free_port()
    elif port_in_use(port):
        raise ServerUnavailable(
            f"cannot start {name} on {HOST}:{port}: the port is already in use (stop whatever "
            "listens there; zarr 2's suite and the tutorial need the default port)"
        )
    cmd = _command(name, port)
    workdir = tempfile.mkdtemp(prefix=f"zarrkit-{name}-")
    if name == "redis":
        cmd += ["--dir", workdir, "--appendonly", "no"]
    if name == "mongodb":
        cmd += ["--data-dir", "memory", "--log-file", os.path.join(workdir, "log"),
                "--pid-file", os.path.join(workdir, "pid")]  # fmt: skip
    log = open(os.path.join(workdir, "output"), "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=detach,
    )  # fmt: skip
    log.close()
    server = Server(name, port, proc, workdir)
    deadline = time.monotonic() + timeout
    while not port_in_use(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            output = Path(workdir, "output").read_text(errors="replace")[-2000:]
            server.stop()
            raise ServerUnavailable(f"{name} did not start on port {port}:\n{output}")
        time.sleep(0.05)
    return server


def stop_pid(pid: int, grace: float = 2.0) -> None:
    """Stop the detached server of process ``pid``: SIGTERM, then SIGKILL after ``grace``."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            os.kill(pid, 0)  # ProcessLookupError once it is gone
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- the command line (scripts/conformance.sh) ----------------------------------------------
def _env_lines(servers: dict[str, Server]) -> list[str]:
    """zarr 2's variables that switch on its suite's server classes, and ours."""
    out = []
    if "redis" in servers:
        out += ["ZARR_TEST_REDIS=1", f"ZARRKIT_TEST_REDIS_URL={servers['redis'].url}"]
    if "mongodb" in servers:
        out += ["ZARR_TEST_MONGO=1", f"ZARRKIT_TEST_MONGODB_EMULATOR={servers['mongodb'].url}"]
    if "azurite" in servers:
        out += ["ZARR_TEST_ABS=1", f"ZARRKIT_TEST_AZURITE_PORT={servers['azurite'].port}"]
    return [f"export {line}" for line in out]


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--state", required=True, help="folder for the servers' process ids")
    parser.add_argument("--default-ports", action="store_true")
    parser.add_argument("--only", nargs="*", default=list(DEFAULT_PORTS))
    args = parser.parse_args(argv)
    state = Path(args.state) / "servers.json"
    if args.action == "stop":
        if state.exists():
            for entry in json.loads(state.read_text()).values():
                stop_pid(entry["pid"])
                shutil.rmtree(entry["workdir"], ignore_errors=True)
            state.unlink()
        return 0
    started: dict[str, Server] = {}
    try:
        for name in args.only:
            port = DEFAULT_PORTS[name] if args.default_ports else None
            started[name] = start(name, port, detach=True)
    except ServerUnavailable as e:
        for s in started.values():
            s.stop()
        print(f"servers: {e}", file=sys.stderr)
        return 1
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(
        json.dumps(
            {n: {"pid": s.proc.pid, "workdir": s.workdir} for n, s in started.items() if s.proc}
        )
    )
    print("\n".join(_env_lines(started)))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
