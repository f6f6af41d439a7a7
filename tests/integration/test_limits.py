"""Limits: maxclients, idle timeout, query buffer limit, output buffer limits."""
import socket
import time

import pytest

from conftest import RawClient


def test_maxclients(make_server):
    s = make_server("--maxclients", "3")
    rejected = 0

    def connect():
        """A client inside the limit. A slot frees when the server has seen its client's
        close (the start-up probe's, keep[0]'s): try until it has; each refusal meanwhile
        is counted as a rejected connection too."""
        nonlocal rejected
        deadline = time.time() + 30
        while True:
            c = s.raw()
            try:
                if c.call("PING") == "PONG":
                    return c
            except ConnectionError:
                pass
            c.close()
            rejected += 1
            assert time.time() < deadline, "a closed client's slot never came back"
            time.sleep(0.05)

    keep = [connect() for _ in range(3)]
    extra = s.raw()
    assert extra.read_all_until_close() == b"-ERR max number of clients reached\r\n"
    rejected += 1
    keep[0].close()
    again = connect()
    assert again.call("INFO", "stats").count(b"rejected_connections:%d\r\n" % rejected) == 1


def test_idle_timeout(make_server):
    s = make_server("--timeout", "1")
    idle = s.raw()
    assert idle.call("PING") == "PONG"
    assert idle.read_all_until_close(timeout=10) == b""
    active = s.raw()
    for _ in range(4):
        assert active.call("PING") == "PONG"
        time.sleep(0.3)
    active.close()


def test_query_buffer_limit(make_server):
    s = make_server("--client-query-buffer-limit", "1mb")
    s.client().set("keep", "1")
    c = s.raw()
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000000\r\n")
    try:
        for _ in range(40):
            c.send(b"x" * 65536)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert c.read_all_until_close() == b""
    assert s.client().get("keep") == b"1"
    assert s.client().exists("k") == 0


def slow_reader(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


def flood_gets(sock, n):
    req = RawClient.encode("GET", "big")
    try:
        sock.sendall(req * n)
    except (BrokenPipeError, ConnectionResetError):
        pass


def wait_closed(sock, timeout=10):
    sock.settimeout(timeout)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            d = sock.recv(1 << 20)
        except ConnectionResetError:
            return True
        if not d:
            return True
    return False


def test_output_buffer_hard_limit(make_server):
    s = make_server("--client-output-buffer-limit", "normal", "1mb", "0", "0")
    s.client().set("big", b"x" * 100000)
    sock = slow_reader(s.port)
    flood_gets(sock, 400)  # 40 MB of replies that nobody reads
    time.sleep(0.5)
    assert wait_closed(sock)
    assert s.client().strlen("big") == 100000
    assert "overcoming of output buffer limits" in s.read_log()


def test_output_buffer_soft_limit(make_server):
    s = make_server("--client-output-buffer-limit", "normal", "0", "1mb", "1")
    s.client().set("big", b"x" * 100000)
    sock = slow_reader(s.port)
    flood_gets(sock, 200)
    time.sleep(2.5)
    assert wait_closed(sock)
    assert s.client().ping()


def test_no_output_limit_by_default(server, r):
    """A normal client that reads slowly is not disconnected by default (limits 0 0 0)."""
    r.set("big", b"y" * 100000)
    c = server.raw()
    c.send(c.encode("GET", "big") * 100)
    time.sleep(0.5)
    for _ in range(100):
        assert len(c.read()) == 100000
    c.close()
