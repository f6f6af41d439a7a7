"""Both I/O engines (io-engine epoll and uring) on what depends on how bytes come in and go
out: pipelines, big values sent in many pieces, output buffer limits, pub/sub pushes from
other workers, CLIENT KILL and closes with sends in flight, idle timeout, shutdown, replies
held for the log under appendfsync always. The rest of the suite runs on the default engine
of conftest.py (uring where the kernel allows it)."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from conftest import SERVER_BIN, RawClient, plain_build_only
from test_persistence import PServer

WAIT = 10


def uring_allowed():
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return f.read().strip() == "0"
    except OSError:
        return True  # older kernels have no switch


@pytest.fixture(params=["epoll", "uring"])
def engine(request):
    return request.param


@pytest.fixture
def srv(make_server, engine):
    def make(*args, **kw):
        return make_server("--io-engine", engine, *args, **kw)
    return make


def recv_exact(sock, n):
    out = bytearray()
    while len(out) < n:
        d = sock.recv(min(1 << 20, n - len(out)))
        if not d:
            raise ConnectionError("closed after %d of %d bytes" % (len(out), n))
        out += d
    return bytes(out)


def wait_closed(sock, timeout=WAIT):
    sock.settimeout(timeout)
    while True:
        try:
            d = sock.recv(1 << 20)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        if not d:
            return True


def test_engine_is_the_one_asked_for(srv, engine):
    s = srv()
    got = s.client().config_get("io-engine")["io-engine"]
    if engine == "uring" and not uring_allowed():
        assert got == "epoll"
        assert "not available" in s.read_log()
    else:
        assert got == engine
    assert ("I/O engine: io_uring" in s.read_log()) == (got == "uring")
    api = s.client().info("server")["multiplexing_api"]
    assert api == ("io_uring" if got == "uring" else "epoll")


def test_default_engine_is_uring(make_server):
    # A config file that names io-engine only in a comment keeps conftest from choosing.
    s = make_server(config_text="# io-engine: left to its default\n")
    got = s.client().config_get("io-engine")["io-engine"]
    assert got == ("uring" if uring_allowed() else "epoll")


def refuse_io_uring():
    """preexec_fn: a seccomp filter that fails io_uring_setup(2) with ENOSYS, as a container
    runtime's default profile does."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    nr_io_uring_setup, enosys = 425, 38  # the same number on x86_64 and the generic table
    prog = (SockFilter * 4)(
        SockFilter(0x20, 0, 0, 0),                   # ld  [nr]
        SockFilter(0x15, 0, 1, nr_io_uring_setup),   # jeq io_uring_setup
        SockFilter(0x06, 0, 0, 0x00050000 | enosys), # ret ERRNO(ENOSYS)
        SockFilter(0x06, 0, 0, 0x7fff0000))          # ret ALLOW
    fprog = SockFprog(4, prog)
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:
        os._exit(99)


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"),
                    reason="syscall number of io_uring_setup")
def test_uring_refused_falls_back_to_epoll(monkeypatch, make_server):
    real_popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen",
                        lambda *a, **kw: real_popen(*a, preexec_fn=refuse_io_uring, **kw))
    s = make_server("--io-engine", "uring", "--threads", "2")
    monkeypatch.undo()
    c = s.client()
    assert c.config_get("io-engine")["io-engine"] == "epoll"
    assert "io-engine uring is not available" in s.read_log()
    assert c.set("k", "v") and c.get("k") == b"v"


def test_pipeline_replies_in_order(srv):
    s = srv("--threads", "1")
    c = s.raw()
    n = 20000
    req = b"".join(c.encode("INCR", "ctr") + c.encode("SET", "k%d" % i, "v%d" % i) +
                   c.encode("GET", "k%d" % i) for i in range(n))
    c.send(req)
    for i in range(n):
        assert c.read() == i + 1
        assert c.read() == "OK"
        assert c.read() == b"v%d" % i


def test_big_values_in_and_out_through_a_small_window(srv):
    """A value much larger than the socket buffers goes out in many short sends, and comes in
    over many receives; a client with a tiny receive buffer gets every byte in order."""
    s = srv("--threads", "1")
    big = os.urandom(3 << 20)
    c = s.client()
    assert c.set("big", big)
    assert c.get("big") == big
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", s.port))
    sock.settimeout(WAIT)
    sock.sendall(RawClient.encode("GET", "big") * 3 + RawClient.encode("PING"))
    head = b"$%d\r\n" % len(big)
    for _ in range(3):
        assert recv_exact(sock, len(head)) == head
        assert recv_exact(sock, len(big) + 2) == big + b"\r\n"
    assert recv_exact(sock, 7) == b"+PONG\r\n"
    sock.close()
    assert c.strlen("big") == len(big)


def test_output_buffer_hard_limit_disconnects_a_slow_reader(srv):
    s = srv("--client-output-buffer-limit", "normal", "1mb", "0", "0")
    c = s.client()
    c.set("big", b"x" * 100000)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", s.port))
    try:
        sock.sendall(RawClient.encode("GET", "big") * 400)  # 40 MB nobody reads
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert wait_closed(sock)
    assert "overcoming of output buffer limits" in s.read_log()
    assert c.strlen("big") == 100000
    assert c.info("clients")["connected_clients"] == 1


def test_pubsub_from_other_workers(srv):
    s = srv("--threads", "2")
    subs = []
    for _ in range(4):  # spread over both workers by the kernel's hash
        p = s.client().pubsub()
        p.subscribe("ch")
        assert p.get_message(timeout=WAIT)["type"] == "subscribe"
        subs.append(p)
    # One publisher: the order across publishers on different workers is not promised.
    pub = s.client()
    for i in range(200):
        assert pub.publish("ch", "m%d" % i) == 4
    for p in subs:
        for i in range(200):
            m = p.get_message(timeout=WAIT)
            assert m is not None and m["data"] == b"m%d" % i
        p.close()


def test_client_kill_with_a_send_in_flight(srv):
    """The victim never reads, so its socket is full and a send is waiting in the kernel:
    KILL still closes it, and the server forgets it."""
    s = srv("--threads", "1")
    c = s.client()
    c.set("big", b"z" * 200000)
    victim = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    victim.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    victim.connect(("127.0.0.1", s.port))
    victim.sendall(RawClient.encode("CLIENT", "ID") + RawClient.encode("GET", "big") * 50)
    victim.settimeout(WAIT)
    line = b""
    while not line.endswith(b"\r\n"):
        line += victim.recv(1)
    vid = int(line[1:-2])
    assert c.client_kill_filter(_id=vid) == 1
    assert wait_closed(victim)
    assert [x for x in c.client_list() if int(x["id"]) == vid] == []
    assert c.info("clients")["connected_clients"] == 1
    assert c.ping()


def test_closes_with_output_pending(srv):
    """Clients that leave without reading their replies, half-close, or QUIT: the server
    frees them and keeps serving."""
    s = srv("--threads", "2")
    c = s.client()
    c.set("big", b"q" * 100000)
    for _ in range(20):
        k = socket.create_connection(("127.0.0.1", s.port))
        k.sendall(RawClient.encode("GET", "big") * 30)
        k.close()
    h = socket.create_connection(("127.0.0.1", s.port))
    h.sendall(RawClient.encode("PING") + RawClient.encode("ECHO", "bye"))
    h.shutdown(socket.SHUT_WR)
    h.settimeout(WAIT)
    got = b""
    while True:
        d = h.recv(4096)
        if not d:
            break
        got += d
    assert got == b"+PONG\r\n$3\r\nbye\r\n"
    h.close()
    q = s.raw()
    q.send(q.encode("QUIT") + q.encode("PING"))
    assert q.read_all_until_close() == b"+OK\r\n"
    for _ in range(100):
        if c.info("clients")["connected_clients"] == 1:
            break
        time.sleep(0.05)
    assert c.info("clients")["connected_clients"] == 1
    assert c.strlen("big") == 100000


def test_idle_timeout(srv):
    s = srv("--timeout", "1")
    idle = s.raw()
    assert idle.call("PING") == "PONG"
    assert idle.read_all_until_close(timeout=WAIT) == b""
    assert s.client().ping()


def test_shutdown_flushes_replies(srv):
    s = srv()
    c = s.raw()
    c.send(c.encode("DEBUG", "SLEEP", "0.5") + c.encode("PING"))
    time.sleep(0.2)
    s.proc.send_signal(signal.SIGTERM)
    assert c.read_all_until_close(timeout=WAIT) == b"+OK\r\n+PONG\r\n"
    assert s.proc.wait(WAIT) == 0


def test_held_replies_under_appendfsync_always(srv):
    """A write's reply leaves only once its record is durable, with several clients
    pipelining at once (the replies wait in the buffer while later ones pile up)."""
    s = srv("--appendonly", "yes", "--appendfsync", "always", "--threads", "2")
    errors = []

    def writer(cid):
        try:
            c = s.client()
            for r in range(20):
                p = c.pipeline(transaction=False)
                for i in range(50):
                    p.incr("c%d" % cid)
                assert p.execute()[-1] == (r + 1) * 50
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    c = s.client(decode_responses=True)
    for i in range(4):
        assert c.get("c%d" % i) == "1000"
    # One client alone: when a write's reply arrives its record is durable already.
    for i in range(50):
        c.set("k%d" % i, i)
        info = c.info("persistence")
        assert info["mnemo_log_durable_lsn"] >= info["mnemo_log_appended_lsn"], info


def kernel_at_least(major, minor):
    try:
        v = [int(x) for x in os.uname().release.split("-")[0].split(".")[:2]]
    except ValueError:
        return False
    return v >= [major, minor]


def under_benchmark(s, bench_args, body, clients=4):
    """Runs redis-benchmark (32 clients) against s while `clients` threads run body(r, n),
    each with a client of its own; fails if either failed."""
    bench = subprocess.Popen(["redis-benchmark", "-p", str(s.port), "-q", "-c", "32"] +
                             bench_args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    errors = []

    def run(n):
        try:
            body(s.client(), n)
        except Exception as e:  # reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    out, _ = bench.communicate(timeout=300)
    assert bench.returncode == 0 and "error" not in out.lower(), out
    assert not errors, errors


def batched_waits(c):
    return int(c.info("stats")["io_batched_waits"])


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark not installed")
def test_batched_waits_under_load(make_server):
    """uring under load gathers requests per wait (io-batch-usec): every reply still goes to the
    connection that asked, and a lone client is never batched (nothing to gather)."""
    # A 2 ms window: the rate that turns it on (two requests expected within the window) is
    # then 1000 requests/s, which even a loaded CI machine's benchmark client exceeds.
    s = make_server("--io-engine", "uring", "--threads", "1", "--io-batch-usec", "2000")
    c = s.client()
    if c.config_get("io-engine")["io-engine"] != "uring":
        pytest.skip("io_uring not available")
    c.set("mine", "x")
    for _ in range(200):  # one client: never batched
        assert c.get("mine") == b"x"
    assert batched_waits(c) == 0

    def checker(r, n):  # other clients check that their replies are theirs
        for i in range(300):
            r.set("chk:%d:%d" % (n, i), "v%d.%d" % (n, i))
            assert r.get("chk:%d:%d" % (n, i)) == b"v%d.%d" % (n, i)
            assert r.incr("ctr:%d" % n) == i + 1

    under_benchmark(s, ["-n", "200000", "-r", "100000", "-t", "set,get,incr"], checker)
    if kernel_at_least(6, 12):  # min_wait_usec (IORING_FEAT_MIN_TIMEOUT)
        assert batched_waits(c) > 0
    # Off at run time: no more batched waits.
    c.config_set("io-batch-usec", 0)
    c.config_resetstat()
    p = subprocess.run(["redis-benchmark", "-p", str(s.port), "-q", "-c", "32", "-n", "50000",
                        "-t", "get"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0
    assert batched_waits(c) == 0


def commit_delays(c):
    return int(c.info("stats")["io_commit_delays"])


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark not installed")
@pytest.mark.skipif(not kernel_at_least(6, 12), reason="no min_wait_usec before Linux 6.12")
@pytest.mark.parametrize("threads", [1, 2])
def test_commit_delays_under_appendfsync_always(workdir, threads):
    """Under appendfsync always the worker does not batch its waits between a sync and the
    next requests (its own sync gathered those), but under load (and commit-delay yes) it
    does once before it leads a sync, so that one fsync covers more requests
    (io_commit_delays). A lone client is never delayed. With two workers one gathers at a time and the other's replies wait for its sync
    (the rate and connections that count are the server's). Every acknowledged write
    survives a SIGKILL, and the waits turn back into ordinary batched waits when the setting
    goes."""
    s = PServer(workdir, "--io-engine", "uring", "--threads", threads, "--io-batch-usec",
                "2000", "--appendfsync", "always", "--commit-delay", "yes")
    s.start()
    c = s.client()
    if c.config_get("io-engine")["io-engine"] != "uring":
        s.kill()
        pytest.skip("io_uring not available")
    for i in range(200):  # one client: nothing to gather
        assert c.set("lone:%d" % i, i)
    assert commit_delays(c) == 0 and batched_waits(c) == 0
    acked = {}

    def writer(r, n):
        for i in range(300):
            assert r.set("w:%d:%d" % (n, i), "v%d.%d" % (n, i))
            acked[(n, i)] = True  # acknowledged: durable under always
            assert r.incr("ctr:%d" % n) == i + 1

    under_benchmark(s, ["-n", "30000", "-r", "1000", "-t", "set"], writer)
    assert batched_waits(c) == 0
    assert commit_delays(c) > 0
    s.kill()  # SIGKILL: nothing flushed at exit
    s.start()
    c = s.client()
    assert c.get("lone:199") == b"199"
    for (n, i) in acked:
        assert c.get("w:%d:%d" % (n, i)) == b"v%d.%d" % (n, i)
    for n in range(4):
        assert c.get("ctr:%d" % n) == b"300"
    c.config_set("appendfsync", "everysec")
    c.config_resetstat()
    p = subprocess.run(["redis-benchmark", "-p", str(s.port), "-q", "-c", "32", "-n", "20000",
                        "-r", "1000", "-t", "set"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert batched_waits(c) > 0 and commit_delays(c) == 0
    s.stop()


def tmpfs_dir():
    """/dev/shm where it is a tmpfs (fdatasync costs nothing there), else None."""
    try:
        with open("/proc/mounts") as f:
            if not any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in f):
                return None
    except OSError:
        return None
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


SLOW_FSYNC = os.path.join(os.path.dirname(SERVER_BIN), "libslow_fsync.so")


def set_load(port, n):
    p = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-c", "32", "-n", str(n),
                        "-r", "1000", "-t", "set"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr


@plain_build_only
@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark not installed")
@pytest.mark.skipif(not kernel_at_least(6, 12), reason="no min_wait_usec before Linux 6.12")
@pytest.mark.skipif(not os.path.exists(SLOW_FSYNC), reason="build/libslow_fsync.so not built")
@pytest.mark.skipif(tmpfs_dir() is None, reason="no tmpfs at /dev/shm")
def test_commit_delay_follows_slow_fsyncs():
    """commit-delay auto (the default) gathers requests before a sync only while fdatasyncs of
    a millisecond or more take 1 % of the time or more. The log is on tmpfs, where a sync
    costs nothing (a real disk may be slow itself: CI's is), and an LD_PRELOAD shim makes
    every fdatasync 1.5 ms longer, as a slow disk: the delays come; the disk fast again: they
    stop within a second or two; `no` on the slow disk: none. INFO persistence counts the
    syncs and the time spent in the slow ones."""
    d = tempfile.mkdtemp(prefix="mnemo-slow-", dir=tmpfs_dir())
    try:
        ctl = os.path.join(d, "slow_fsync_usec")
        with open(ctl, "w") as f:
            f.write("1500")
        s = PServer(d, "--io-engine", "uring", "--threads", 1, "--io-batch-usec", "2000",
                    "--appendfsync", "always",
                    env={"LD_PRELOAD": SLOW_FSYNC, "SLOW_FSYNC_FILE": ctl})
        s.start()
        c = s.client()
        if c.config_get("io-engine")["io-engine"] != "uring":
            s.kill()
            pytest.skip("io_uring not available")
        assert c.config_get("commit-delay")["commit-delay"] == "auto"
        set_load(s.port, 40000)  # seconds of load: the share is looked at once a second
        info = c.info("persistence")
        assert info["mnemo_fsyncs"] > 0
        assert info["mnemo_slow_fsync_ms"] >= info["mnemo_fsyncs"]  # each took 1.5 ms or more
        assert commit_delays(c) > 0
        # The disk fast again: once a whole second has passed with little slow syncing, no
        # more delays. A worker preempted inside a sync on a loaded machine makes one slow
        # sync and can turn the delay on for a second, so some window of 20k SETs, out of
        # five, must see none; with the delay stuck on, every window sees hundreds.
        with open(ctl, "w") as f:
            f.write("0")
        deadline = time.time() + 3
        while time.time() < deadline:
            set_load(s.port, 5000)
        windows = []
        for _ in range(5):
            c.config_resetstat()
            set_load(s.port, 20000)
            windows.append(commit_delays(c))
            if windows[-1] == 0:
                break
        assert windows[-1] == 0, windows
        with open(ctl, "w") as f:
            f.write("1500")
        c.config_set("commit-delay", "no")
        assert c.config_get("commit-delay")["commit-delay"] == "no"
        c.config_resetstat()
        set_load(s.port, 20000)
        assert commit_delays(c) == 0
        try:
            c.config_set("commit-delay", "sometimes")
            assert False, "accepted a bad value"
        except redis.ResponseError as e:
            assert "yes, no, auto" in str(e)
        s.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark not installed")
@pytest.mark.skipif(not kernel_at_least(6, 12), reason="no min_wait_usec before Linux 6.12")
@pytest.mark.skipif(tmpfs_dir() is None, reason="no tmpfs at /dev/shm")
def test_commit_delay_auto_stays_off_on_fast_syncs():
    """On a disk whose syncs are never slow (tmpfs), commit-delay auto never delays: under the
    same load that makes `yes` delay, the sync follows each batch at once."""
    d = tempfile.mkdtemp(prefix="mnemo-fast-", dir=tmpfs_dir())
    try:
        for setting, delayed in (("auto", False), ("yes", True)):
            s = PServer(d, "--io-engine", "uring", "--threads", 1, "--io-batch-usec", "2000",
                        "--appendfsync", "always", "--commit-delay", setting)
            s.start()
            c = s.client()
            if c.config_get("io-engine")["io-engine"] != "uring":
                s.kill()
                pytest.skip("io_uring not available")
            set_load(s.port, 40000)
            assert int(c.info("persistence")["mnemo_fsyncs"]) > 0
            assert (commit_delays(c) > 0) == delayed, setting
            s.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)
