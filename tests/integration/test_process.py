"""The process: arguments, configuration files, listeners, signals, shutdown."""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import SERVER_BIN, Server, free_port, plain_build_only


def run(*args, timeout=10):
    return subprocess.run([SERVER_BIN, *args], capture_output=True, text=True, timeout=timeout)


def test_version():
    p = run("--version")
    assert p.returncode == 0
    assert p.stdout.startswith("mnemo-server v=")


def test_help_lists_settings():
    p = run("--help")
    assert p.returncode == 0
    for name in ("port", "bind", "unixsocket", "threads", "databases", "maxclients", "timeout",
                 "proto-max-bulk-len", "client-query-buffer-limit",
                 "client-output-buffer-limit", "loglevel", "logfile"):
        assert name in p.stdout, name


def test_unknown_setting_in_file_names_the_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# comment\nport 7000\nnosuchsetting 1\n")
    p = run(str(conf))
    assert p.returncode == 1
    assert "line 3" in p.stderr
    assert ">>> 'nosuchsetting 1'" in p.stderr
    assert "Bad directive" in p.stderr


def test_bad_value_and_bad_argument(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("maxclients lots\n")
    p = run(str(conf))
    assert p.returncode == 1 and "line 1" in p.stderr
    p = run("--nosuch", "1")
    assert p.returncode == 1 and "nosuch" in p.stderr
    p = run("/nonexistent/mnemo.conf")
    assert p.returncode == 1 and "can't open config file" in p.stderr
    conf.write_text('requirepass "unterminated\n')
    p = run(str(conf))
    assert p.returncode == 1 and "Unbalanced quotes" in p.stderr


def test_config_file_values(make_server):
    text = """
# a comment line
   # indented comment
maxclients 123
timeout 0
proto-max-bulk-len 2mb
client-query-buffer-limit 64MB
client-output-buffer-limit normal 1gb 512mb 60
client-output-buffer-limit pubsub 32mb 8mb 60
requirepass "pa ss#word"
loglevel verbose
databases 4
threads 1
"""
    s = make_server(config_text=text)
    c = s.client(password="pa ss#word", decode_responses=True)
    assert c.config_get("maxclients") == {"maxclients": "123"}
    assert c.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": "2097152"}
    assert c.config_get("client-query-buffer-limit") == {"client-query-buffer-limit": "67108864"}
    obl = c.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    assert obl.startswith("normal 1073741824 536870912 60 ")
    assert obl.endswith("pubsub 33554432 8388608 60")
    assert c.config_get("databases") == {"databases": "4"}
    assert c.config_get("loglevel") == {"loglevel": "verbose"}
    with pytest.raises(redis.ResponseError):
        c.execute_command("SELECT", "4")
    assert c.info("server")["config_file"].endswith("mnemo.conf")


def test_command_line_overrides_file(make_server):
    s = make_server("--maxclients", "77", config_text="maxclients 55\n")
    assert s.client().config_get("maxclients") == {"maxclients": "77"}


def test_sigterm_exits_zero_after_flushing(make_server):
    s = make_server()
    c = s.raw()
    c.send(c.encode("DEBUG", "SLEEP", "0.5") + c.encode("PING"))
    time.sleep(0.2)
    s.proc.send_signal(signal.SIGTERM)
    assert c.read_all_until_close(timeout=10) == b"+OK\r\n+PONG\r\n"
    assert s.proc.wait(10) == 0
    assert "ready to exit" in s.read_log()


def test_sigint_exits_zero(make_server):
    s = make_server()
    s.client().set("k", "v")
    s.proc.send_signal(signal.SIGINT)
    assert s.proc.wait(10) == 0


@pytest.mark.parametrize("engine", ["epoll", "uring"])
def test_restart_right_after_kill(engine):
    # With io_uring the kernel releases a killed server's listener asynchronously (~10 ms
    # later): the next server on the same port waits for it instead of failing.
    port = free_port()
    cmd = [SERVER_BIN, "--port", str(port), "--bind", "127.0.0.1", "--io-engine", engine]
    for _ in range(3):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                if redis.Redis(port=port, socket_timeout=1).ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.01)
        assert p.poll() is None, "the server exited at start (port still held?)"
        p.kill()
        p.wait()
    q = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                if redis.Redis(port=port, socket_timeout=1).ping():
                    break
            except redis.ConnectionError:
                assert q.poll() is None, "could not bind after a killed predecessor"
                time.sleep(0.01)
        assert redis.Redis(port=port).ping()
    finally:
        q.terminate()
        q.wait(10)


def test_port_in_use_fails(make_server):
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    p = run("--port", str(port), "--bind", "127.0.0.1")
    holder.close()
    assert p.returncode == 1
    assert "Address already in use" in p.stdout + p.stderr


def test_unix_socket(make_server, tmp_path):
    path = str(tmp_path / "mnemo.sock")
    s = make_server("--unixsocket", path)
    c = redis.Redis(unix_socket_path=path)
    assert c.ping()
    c.set("via-unix", "1")
    assert s.client().get("via-unix") == b"1"
    info = c.client_info()
    assert "U" in info["flags"]
    c.close()


@pytest.mark.parametrize("threads", [1, 4])
def test_thread_counts(make_server, threads):
    s = make_server("--threads", threads)
    clients = [s.client() for _ in range(8)]
    for i, c in enumerate(clients):
        c.set("k%d" % i, i)
    for i, c in enumerate(clients):
        assert c.get("k%d" % i) == str(i).encode()
    assert s.client().info("server")["worker_threads"] == threads


def test_logfile(make_server, tmp_path):
    log = tmp_path / "mnemo.log"
    s = make_server("--logfile", str(log), "--loglevel", "debug")
    s.client().ping()
    text = log.read_text()
    assert "Ready to accept connections" in text
    assert " * " in text  # notice marker, Redis's format


def test_example_config_file_loads(make_server):
    """The documented example at the repo root is a valid configuration."""
    from conftest import ROOT
    s = make_server(config_text=open(os.path.join(ROOT, "mnemo.conf")).read())
    c = s.client(decode_responses=True)
    assert c.config_get("databases") == {"databases": "16"}
    assert c.config_get("appendonly") == {"appendonly": "no"}


def _thp_mode():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return f.read()
    except OSError:
        return ""


def _proc_text(pid, name):
    with open("/proc/%d/%s" % (pid, name), "rb") as f:
        return f.read().decode(errors="replace")


@plain_build_only
def test_heap_asks_for_huge_pages(make_server, tmp_path):
    # disable-thp no (the default) and persistence on: the server runs with glibc's hugetlb
    # tunable, so the heap (where the store's memory is) is advised MADV_HUGEPAGE ("hg" in
    # VmFlags) and a snapshot's fork has fewer page-table entries to copy.
    if "[madvise]" not in _thp_mode():
        pytest.skip("transparent huge pages are not in madvise mode here")
    plain = make_server()
    assert "glibc.malloc.hugetlb" not in _proc_text(plain.proc.pid, "environ")
    s = make_server("--appendonly", "yes", "--dir", str(tmp_path))
    c = s.client()
    for i in range(20):
        c.mset({"k%d:%d" % (i, j): "v" * 64 for j in range(10000)})
    assert c.dbsize() == 200000
    env = _proc_text(s.proc.pid, "environ").split("\0")
    assert any(e.startswith("GLIBC_TUNABLES=") and "glibc.malloc.hugetlb=1" in e for e in env)
    smaps = _proc_text(s.proc.pid, "smaps")
    heap = smaps.split("[heap]", 1)
    assert len(heap) == 2, "no [heap] mapping"
    flags = [l for l in heap[1].splitlines() if l.startswith("VmFlags:")][0]
    assert " hg" in flags, flags
    assert c.bgsave()
    s.stop()
    s2 = make_server("--appendonly", "yes", "--dir", str(tmp_path))
    assert s2.client().dbsize() == 200000


def test_disable_thp(make_server, tmp_path):
    s = make_server("--disable-thp", "yes", "--save", "3600 1", "--dir", str(tmp_path))
    c = s.client()
    c.set("k", "v")
    assert c.get("k") == b"v"
    assert "glibc.malloc.hugetlb" not in _proc_text(s.proc.pid, "environ")
    status = _proc_text(s.proc.pid, "status")
    if "THP_enabled:" in status:
        assert "THP_enabled:\t0" in status
    assert c.config_get("disable-thp") == {"disable-thp": "yes"}
