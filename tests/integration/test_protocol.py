"""The wire: pipelining, inline commands, RESP3, and malformed input.

Every malformed request gets Redis's error text, then that connection (and only it) is closed;
the server stays up and keeps its data.
"""
import socket
import time

import pytest

from conftest import Err, RawClient


def test_pipeline_1000_commands_one_write(server, r):
    c = server.raw()
    payload = b"".join(c.encode("SET", "k%d" % i, "v%d" % i) for i in range(1000))
    payload += b"".join(c.encode("GET", "k%d" % i) for i in range(1000))
    c.send(payload)
    for i in range(1000):
        assert c.read() == "OK"
    for i in range(1000):
        assert c.read() == b"v%d" % i
    c.close()
    assert r.dbsize() == 1000


def test_redis_py_pipeline(r):
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.incr("counter")
    assert p.execute()[-1] == 1000


def test_command_split_across_writes(server, r):
    c = server.raw()
    data = c.encode("SET", "split", "x" * 100000) + c.encode("GET", "split")
    for i in range(0, len(data), 777):
        c.send(data[i:i + 777])
        time.sleep(0.0005) if i % 7770 == 0 else None
    assert c.read() == "OK"
    assert c.read() == b"x" * 100000
    c.close()


def test_pipeline_of_every_form_in_random_chunks(server, r):
    """Commands the server parses ahead (canonical multibulk, up to 16 at a time) mixed with
    ones that go through the general parser (inline, more arguments than the ahead pass
    holds, a header with a leading zero at the end) and a command with more keys than the
    prefetch hint holds, sent in random chunks: every reply comes,
    in order, and the protocol error closes the connection after the replies before it."""
    import random
    rnd = random.Random(11)
    c = server.raw()
    big = []
    for i in range(40):
        big += ["m%d" % i, "v%d" % i]
    parts, want = [], []
    for i in range(60):
        k = "pf%d" % (i % 7)
        kind = i % 7
        if kind == 0:
            parts.append(c.encode("INCR", k))
            want.append(("int", k))
        elif kind == 1:
            parts.append(b"incr " + k.encode() + b"\r\n")  # inline
            want.append(("int", k))
        elif kind == 2:
            parts.append(c.encode("MSET", *big))  # 81 arguments
            want.append(("ok", None))
        elif kind == 3:
            parts.append(c.encode("get", "m%d" % (i % 40)))
            want.append(("bulk", b"v%d" % (i % 40)))
        elif kind == 4:
            parts.append(c.encode("NOSUCHCMD", k))
            want.append(("err", "unknown command"))
        elif kind == 5:
            parts.append(b"*0\r\n" + c.encode("PING"))  # nothing to run, then PONG
            want.append(("pong", None))
        else:
            # 40 keys, more than one prefetch hint holds: the command still runs, in order
            parts.append(c.encode("MGET", *["m%d" % j for j in range(40)]))
            want.append(("array", [b"v%d" % j for j in range(40)]))
    parts.append(b"*2\r\n$3\r\nGET\r\n$01\r\nk\r\n")  # leading zero: protocol error
    data = b"".join(parts)
    pos = 0
    while pos < len(data):
        n = rnd.choice([1, 3, 17, 64, 500, 4096])
        c.send(data[pos:pos + n])
        pos += n
    counts = {}
    for kind, arg in want:
        got = c.read()
        if kind == "int":
            counts[arg] = counts.get(arg, 0) + 1
            assert got == counts[arg]
        elif kind == "ok":
            assert got == "OK"
        elif kind == "bulk":
            assert got == arg
        elif kind == "err":
            assert isinstance(got, Err) and arg in got
        elif kind == "array":
            assert got == arg
        else:
            assert got == "PONG"
    got = c.read()
    assert isinstance(got, Err) and "invalid bulk length" in got
    with pytest.raises((ConnectionError, OSError)):
        c.read()
    c.close()
    assert r.get("pf0") == str(counts["pf0"])


def test_inline_commands(server, r):
    c = server.raw()
    c.send(b"SET greeting \"hello world\"\r\nGET greeting\r\n\r\nPING\n")
    assert c.read() == "OK"
    assert c.read() == b"hello world"
    assert c.read() == "PONG"
    c.send(b"SET q 'it\\'s'\r\nGET q\r\n")
    assert c.read() == "OK"
    assert c.read() == b"it's"
    c.send(b"SET hex \"\\x41\\x42\\n\"\r\nGET hex\r\n")
    assert c.read() == "OK"
    assert c.read() == b"AB\n"
    c.close()


def test_empty_multibulk_ignored(server):
    c = server.raw()
    c.send(b"*0\r\n*-1\r\nPING\r\n")
    assert c.read() == "PONG"
    c.close()


def assert_closed_with(server, data, expected, r=None):
    c = server.raw()
    c.send(data)
    assert c.read_all_until_close() == expected
    c.close()
    assert server.alive()
    assert server.client().ping()


@pytest.fixture
def keep(r):
    r.set("survivor", "still here")
    yield
    assert r.get("survivor") == "still here"


def test_garbage_after_star(server, keep):
    assert_closed_with(server, b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n")


def test_huge_multibulk_count(server, keep):
    assert_closed_with(server, b"*99999999999\r\n",
                       b"-ERR Protocol error: invalid multibulk length\r\n")


def test_negative_bulk_length(server, keep):
    assert_closed_with(server, b"*2\r\n$3\r\nGET\r\n$-5\r\n",
                       b"-ERR Protocol error: invalid bulk length\r\n")


def test_bulk_longer_than_proto_max(server, keep):
    assert_closed_with(server, b"*1\r\n$999999999999\r\n",
                       b"-ERR Protocol error: invalid bulk length\r\n")


def test_bulk_over_configured_proto_max(make_server):
    s = make_server("--proto-max-bulk-len", "1mb")
    c = s.raw()
    c.call("SET", "keep", "1")
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
    assert c.read_all_until_close() == b"-ERR Protocol error: invalid bulk length\r\n"
    assert s.client().get("keep") == b"1"
    # just under the limit is fine
    assert s.client().set("k", b"x" * 1000000)


def test_unterminated_inline_over_64k(server, keep):
    assert_closed_with(server, b"x" * 70000, b"-ERR Protocol error: too big inline request\r\n")


def test_unbalanced_quotes(server, keep):
    assert_closed_with(server, b"SET x \"unbalanced\r\n",
                       b"-ERR Protocol error: unbalanced quotes in request\r\n")


def test_replies_before_protocol_error_are_sent(server, keep):
    c = server.raw()
    c.send(c.encode("PING") + c.encode("SET", "a", "1") + b"*1\r\nxx\r\n" + c.encode("PING"))
    assert c.read_all_until_close() == \
        b"+PONG\r\n+OK\r\n-ERR Protocol error: expected '$', got 'x'\r\n"


def test_binary_garbage(server, keep):
    c = server.raw()
    c.send(b"*\x00\xff\xfe\r\n")
    data = c.read_all_until_close()
    assert data.startswith(b"-ERR Protocol error")
    assert server.alive()


def test_many_connections_garbage_server_survives(server, keep):
    import random
    rnd = random.Random(42)
    for _ in range(30):
        c = server.raw()
        c.send(b"*" + bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40))))
        c.sock.settimeout(0.05)
        try:
            c.sock.recv(100)
        except (socket.timeout, ConnectionResetError):
            pass
        c.close()
    assert server.client().ping()


def test_client_disconnect_mid_command(server, keep):
    c = server.raw()
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$100\r\nabc")
    c.close()
    time.sleep(0.1)
    assert server.client().exists("z") == 0


def test_half_closed_client_gets_its_replies(server, r):
    """A client that sends a pipeline and shuts down its write side still gets every reply."""
    c = server.raw()
    payload = b"".join(c.encode("SET", "h%d" % i, "x" * 100) for i in range(2000))
    c.send(payload)
    c.sock.shutdown(socket.SHUT_WR)
    data = c.read_all_until_close()
    assert data == b"+OK\r\n" * 2000
    assert r.dbsize() == 2000


def test_concurrent_clients_pipelined_incr(server, r):
    import threading

    def work():
        c = server.raw()
        for _ in range(10):
            c.send(c.encode("INCR", "shared") * 50)
            for _ in range(50):
                c.read()
        c.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert r.get("shared") == "4000"
