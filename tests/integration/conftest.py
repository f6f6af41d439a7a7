"""Fixtures for mnemo-server integration tests.

Every test talks to a real mnemo-server process. The session-wide `server` is started once
(the binary comes from $MNEMO_SERVER, default build/mnemo-server) on a free loopback port with
a temporary working directory; `r` / `rb` give a redis-py client on it after FLUSHALL.
Tests that need their own settings start a private server with `make_server(...)`.
`RawClient` speaks RESP over a plain socket, for exact reply bytes, RESP3 and bad input.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER_BIN = os.environ.get("MNEMO_SERVER", os.path.join(ROOT, "build", "mnemo-server"))
# The suite runs on the io_uring engine unless told otherwise (MNEMO_IO_ENGINE=epoll); where
# the kernel refuses io_uring the server falls back to epoll by itself. test_io_engine.py
# runs the engine-sensitive tests under both engines explicitly.
IO_ENGINE = os.environ.get("MNEMO_IO_ENGINE", "uring")
# Set by `scripts/test.sh asan` and `tsan`, which run this suite (or part of it) against
# build-asan/ and build-tsan/mnemo-server: the few tests about the process's own memory (RSS,
# huge pages) or that preload a library do not hold under a sanitizer's allocator and runtime,
# and are skipped there.
SANITIZED = os.environ.get("MNEMO_SANITIZED") == "1"
plain_build_only = pytest.mark.skipif(
    SANITIZED, reason="measures RSS or preloads a library: not under a sanitizer "
                      "(MNEMO_SANITIZED=1)")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One mnemo-server process on 127.0.0.1:<port>."""

    def __init__(self, *args, config_text=None, wait=True):
        self.dir = tempfile.mkdtemp(prefix="mnemo-it-")
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "server.log")
        cmd = [SERVER_BIN]
        if config_text is not None:
            conf = os.path.join(self.dir, "mnemo.conf")
            with open(conf, "w") as f:
                f.write(config_text)
            cmd.append(conf)
        cmd += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        args = [str(a) for a in args]
        if "--io-engine" not in args and not (config_text and "io-engine" in config_text):
            cmd += ["--io-engine", IO_ENGINE]
        cmd += args
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            try:
                self.wait_ready()
            except Exception:
                self.proc.kill()  # never leave a server behind when startup checks fail
                self.proc.wait()
                self.log.close()
                raise

    def wait_ready(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mnemo-server exited with %s:\n%s" %
                                   (self.proc.returncode, self.read_log()))
            probe = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
            try:
                if probe.ping():
                    return
            except (redis.AuthenticationError, redis.ResponseError):
                return  # NOAUTH: it is up
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(0.05)
            finally:
                probe.connection_pool.disconnect()  # never counts against maxclients later
        raise RuntimeError("mnemo-server did not answer PING:\n" + self.read_log())

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def raw(self, **kw):
        return RawClient(self.port, **kw)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s. Returns the exit code."""
        if self.log.closed:
            return self.proc.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


class Err(str):
    """An error reply (its full text, code included)."""


class RawClient:
    """A RESP2/RESP3 client on a plain socket: exact bytes in, parsed values out."""

    def __init__(self, port, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, int):
                a = str(a)
            if isinstance(a, str):
                a = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def call(self, *args):
        self.send(self.encode(*args))
        return self.read()

    def _fill(self):
        d = self.sock.recv(1 << 16)
        if not d:
            raise ConnectionError("closed by server")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode(errors="replace")
        if t == b"-":
            return Err(rest.decode(errors="replace"))  # an error may quote binary arguments
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read() for _ in range(n)]
            return set(items) if t == b"~" and all(
                not isinstance(i, (list, dict, set)) for i in items) else items
        if t == b"%":
            n = int(rest)
            d = {}
            for _ in range(n):
                k = self.read()
                d[k] = self.read()
            return d
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t == b",":
            return float(rest)
        if t == b"(":
            return int(rest)
        if t == b"=":
            return self._exact(int(rest))[4:]
        if t == b"!":
            return Err(self._exact(int(rest)).decode())
        raise ValueError("bad reply type %r" % line)

    def read_all_until_close(self, timeout=5):
        """Everything the server sends until it closes the connection."""
        self.sock.settimeout(timeout)
        data = self.buf
        self.buf = b""
        while True:
            try:
                d = self.sock.recv(1 << 16)
            except socket.timeout:
                raise AssertionError("server did not close the connection; got %r" % data[:200])
            except ConnectionResetError:
                return data
            if not d:
                return data
            data += d


def stop_and_check(s):
    """Stops a server and checks that it exited cleanly (status 0, no sanitizer report)."""
    log = s.read_log() if not s.log.closed else ""
    code = s.stop()
    assert "Sanitizer" not in log, log[-3000:]
    assert code == 0, "mnemo-server exited with %s:\n%s" % (code, log[-3000:])


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    stop_and_check(s)


@pytest.fixture
def workdir():
    """A directory for a server's files that outlives its processes (restarts)."""
    d = tempfile.mkdtemp(prefix="mnemo-persist-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def r(server):
    c = server.client(decode_responses=True)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def rb(server):
    c = server.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def raw(server, r):
    c = server.raw()
    yield c
    c.close()


# Server processes a test started outside the fixtures above (test_persistence.PServer): a
# test that fails between start and stop would leave its server running.
STARTED_PROCS = []


@pytest.fixture(autouse=True)
def reap_started_servers():
    yield
    while STARTED_PROCS:
        p = STARTED_PROCS.pop()
        if p.poll() is None:
            p.kill()
            p.wait(10)


@pytest.fixture
def make_server():
    started = []

    def make(*args, **kw):
        s = Server(*args, **kw)
        started.append(s)
        return s

    yield make
    for s in started:
        stop_and_check(s)
