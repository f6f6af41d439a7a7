"""Pub/sub: SUBSCRIBE, PSUBSCRIBE, PUBLISH, PUBSUB, across worker threads, RESP2 and RESP3.

Subscribers are spread over many connections so that they land on different workers (the
kernel hashes connections over the SO_REUSEPORT group); a private server runs 4 workers.
Waits for messages are bounded and never asserted on timing.
"""
import socket
import time

import pytest
import redis

from conftest import Err, RawClient

WAIT = 5  # seconds: upper bound of every wait for a message


def read_until(raw, n, timeout=WAIT):
    """Reads n replies (each a push or array) from a RawClient."""
    raw.sock.settimeout(timeout)
    return [raw.read() for _ in range(n)]


@pytest.fixture
def srv4(make_server):
    return make_server("--threads", "4")


def workers_used(client):
    counts = [int(x) for x in client.info("clients")["worker_clients"].split(",")]
    return sum(1 for x in counts if x)


def test_subscribe_replies_match_redis(raw):
    assert raw.call("SUBSCRIBE", "a", "b") == [b"subscribe", b"a", 1]
    assert raw.read() == [b"subscribe", b"b", 2]
    assert raw.call("PSUBSCRIBE", "p*") == [b"psubscribe", b"p*", 3]
    # Subscribing twice to the same channel does not count twice.
    assert raw.call("SUBSCRIBE", "a") == [b"subscribe", b"a", 3]
    assert raw.call("UNSUBSCRIBE") == [b"unsubscribe", b"a", 2]
    assert raw.read() == [b"unsubscribe", b"b", 1]
    assert raw.call("PUNSUBSCRIBE") == [b"punsubscribe", b"p*", 0]
    assert raw.call("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
    assert raw.call("PUNSUBSCRIBE") == [b"punsubscribe", None, 0]
    assert raw.call("UNSUBSCRIBE", "never") == [b"unsubscribe", b"never", 0]
    # Out of subscribed mode every command works again.
    assert raw.call("GET", "x") is None


def test_resp2_subscribed_mode_restrictions(raw):
    raw.call("SUBSCRIBE", "a")
    assert raw.call("GET", "x") == Err(
        "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        "RESET are allowed in this context")
    assert raw.call("CONFIG", "GET", "port") == Err(
        "ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        "RESET are allowed in this context")
    assert raw.call("PING") == [b"pong", b""]
    assert raw.call("PING", "hi") == [b"pong", b"hi"]
    assert raw.call("RESET") == "RESET"
    assert raw.call("PING") == "PONG"
    assert raw.call("PUBSUB", "NUMSUB", "a") == [b"a", 0]


def test_publish_reaches_subscribers_on_every_worker(srv4):
    pub = srv4.client(decode_responses=True)
    subs = []
    for _ in range(24):
        p = srv4.client(decode_responses=True).pubsub()
        p.subscribe("news")
        subs.append(p)
    for p in subs:
        assert p.get_message(timeout=WAIT)["type"] == "subscribe"
    assert workers_used(pub) >= 2, pub.info("clients")["worker_clients"]
    assert pub.publish("news", "hello") == 24
    for p in subs:
        m = p.get_message(timeout=WAIT)
        assert m == {"type": "message", "pattern": None, "channel": "news", "data": "hello"}
    assert pub.publish("nobody-listens", "x") == 0
    for p in subs:
        p.close()


def test_patterns_and_channel_both_count(srv4):
    pub = srv4.client(decode_responses=True)
    raws = [srv4.raw() for _ in range(8)]
    for rc in raws:
        assert rc.call("SUBSCRIBE", "news.sport") == [b"subscribe", b"news.sport", 1]
        assert rc.call("PSUBSCRIBE", "news.*") == [b"psubscribe", b"news.*", 2]
    assert pub.publish("news.sport", "goal") == 16
    for rc in raws:
        got = read_until(rc, 2)
        assert [b"message", b"news.sport", b"goal"] in got
        assert [b"pmessage", b"news.*", b"news.sport", b"goal"] in got
    assert pub.publish("news.weather", "rain") == 8
    for rc in raws:
        assert read_until(rc, 1) == [[b"pmessage", b"news.*", b"news.weather", b"rain"]]
    assert pub.publish("other", "x") == 0
    for rc in raws:
        rc.close()


def test_messages_keep_their_order(srv4):
    pub = srv4.client()
    raws = [srv4.raw() for _ in range(6)]
    for rc in raws:
        rc.call("SUBSCRIBE", "seq")
    n = 500
    pipe = pub.pipeline(transaction=False)
    for i in range(n):
        pipe.publish("seq", str(i))
    assert pipe.execute() == [6] * n
    for rc in raws:
        got = read_until(rc, n)
        assert [m[2] for m in got] == [str(i).encode() for i in range(n)]
        rc.close()


def test_order_across_publishers_on_other_workers(srv4):
    # Each PUBLISH returns before the next one starts, from 8 connections (spread over the 4
    # workers): a subscriber gets the messages in that order, also when the next publisher
    # shares its worker and the previous one's message is still queued for it.
    pubs = [srv4.client() for _ in range(8)]
    raws = [srv4.raw() for _ in range(4)]
    for rc in raws:
        rc.call("SUBSCRIBE", "xseq")
    n = 400
    for i in range(n):
        assert pubs[i % len(pubs)].publish("xseq", str(i)) == len(raws)
    for rc in raws:
        got = read_until(rc, n)
        assert [m[2] for m in got] == [str(i).encode() for i in range(n)]
        rc.close()


def test_resp3_push_messages(srv4):
    sub = srv4.raw()
    assert sub.call("HELLO", "3")[b"proto"] == 3
    sub.send(RawClient.encode("SUBSCRIBE", "ch"))
    sub.sock.settimeout(WAIT)
    # The confirmation is a push (">"), so read the raw bytes.
    data = b""
    while data.count(b"\r\n") < 6:
        data += sub.sock.recv(4096)
    assert data == b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    # RESP3 allows every command while subscribed.
    assert sub.call("SET", "k", "v") == "OK"
    assert sub.call("GET", "k") == b"v"
    pubs = [srv4.client() for _ in range(6)]  # some of them on other workers
    for i, p in enumerate(pubs):
        assert p.publish("ch", "m%d" % i) == 1
    want = b"".join(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nm%d\r\n" % i for i in range(6))
    data = sub.buf
    while len(data) < len(want):
        data += sub.sock.recv(65536)
    assert data == want
    sub.close()


def test_resp3_publish_to_self_comes_before_the_reply(raw):
    raw.call("HELLO", "3")
    raw.send(RawClient.encode("SUBSCRIBE", "me"))
    raw.read()
    raw.send(RawClient.encode("PUBLISH", "me", "x"))
    raw.sock.settimeout(WAIT)
    data = b""
    want = b">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$1\r\nx\r\n:1\r\n"
    while len(data) < len(want):
        data += raw.sock.recv(4096)
    assert data == want  # as Redis: the message, then PUBLISH's reply


def test_pubsub_introspection(srv4):
    c = srv4.client(decode_responses=True)
    raws = []
    for ch in ("a1", "a2", "b1", "a1"):
        rc = srv4.raw()
        rc.call("SUBSCRIBE", ch)
        raws.append(rc)
    for pat in ("x*", "y*", "x*"):
        rc = srv4.raw()
        rc.call("PSUBSCRIBE", pat)
        raws.append(rc)
    assert sorted(c.pubsub_channels()) == ["a1", "a2", "b1"]
    assert sorted(c.pubsub_channels("a*")) == ["a1", "a2"]
    assert c.pubsub_numsub("a1", "a2", "zz") == [("a1", 2), ("a2", 1), ("zz", 0)]
    assert c.pubsub_numpat() == 2
    assert c.execute_command("PUBSUB", "NUMSUB") == []
    stats = c.info("stats")
    assert stats["pubsub_channels"] == 3 and stats["pubsub_patterns"] == 2
    flags = [cl for cl in c.client_list() if cl["flags"] == "P"]
    assert len(flags) == 7
    assert sum(int(cl["sub"]) for cl in flags) == 4
    assert sum(int(cl["psub"]) for cl in flags) == 3
    with pytest.raises(redis.ResponseError, match="unknown subcommand 'FOO'. Try PUBSUB HELP."):
        c.execute_command("PUBSUB", "FOO")
    assert len(c.execute_command("PUBSUB", "HELP")) == 14
    # Closing the connections removes their subscriptions.
    for rc in raws:
        rc.close()
    # (each worker notices its connections' closes on its own, the pattern subscribers' too)
    deadline = time.time() + WAIT
    while (c.pubsub_channels() or c.pubsub_numpat()) and time.time() < deadline:
        time.sleep(0.02)
    assert c.pubsub_channels() == []
    assert c.pubsub_numpat() == 0


def test_unsubscribe_all_and_reset(srv4):
    pub = srv4.client()
    rc = srv4.raw()
    rc.call("SUBSCRIBE", "c1", "c2", "c3")
    read_until(rc, 2)
    rc.call("PSUBSCRIBE", "p1*", "p2*")
    read_until(rc, 1)
    got = [rc.call("UNSUBSCRIBE")] + read_until(rc, 2)
    assert sorted(m[1] for m in got) == [b"c1", b"c2", b"c3"]
    assert [m[2] for m in got] == [4, 3, 2]
    assert pub.publish("c1", "x") == 0
    assert pub.publish("p1x", "x") == 1
    assert rc.read() == [b"pmessage", b"p1*", b"p1x", b"x"]
    assert rc.call("RESET") == "RESET"
    assert pub.publish("p1x", "x") == 0
    assert pub.execute_command("PUBSUB", "NUMPAT") == 0
    rc.close()


def test_binary_channels_and_messages(rb):
    p = rb.pubsub()
    p.subscribe(b"bin\x00chan")
    assert p.get_message(timeout=WAIT)["type"] == "subscribe"
    assert rb.publish(b"bin\x00chan", b"\x00\xff\r\n") == 1
    m = p.get_message(timeout=WAIT)
    assert m["channel"] == b"bin\x00chan" and m["data"] == b"\x00\xff\r\n"
    p.close()


def test_slow_subscriber_is_disconnected(make_server):
    s = make_server("--threads", "2", "--client-output-buffer-limit", "pubsub", "256kb", "128kb", "1")
    pub = s.client()
    slow = socket.create_connection(("127.0.0.1", s.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(RawClient.encode("SUBSCRIBE", "firehose"))
    time.sleep(0.1)
    payload = b"x" * 65536
    closed = False
    # Never read from `slow`: its pending output grows until the hard limit closes it.
    for _ in range(400):
        n = pub.publish("firehose", payload)
        if n == 0:
            closed = True
            break
    assert closed, "the slow subscriber was never disconnected"
    assert pub.ping()
    assert pub.pubsub_numsub("firehose") == [(b"firehose", 0)]
    assert "output buffer limits" in s.read_log()
    slow.close()
    # A subscriber that keeps up is not affected by the same limit.
    p = s.client().pubsub()
    p.subscribe("ok")
    p.get_message(timeout=WAIT)
    for i in range(20):
        assert pub.publish("ok", payload) == 1
        m = p.get_message(timeout=WAIT)
        assert m["data"] == payload
    p.close()


def test_client_list_and_kill_by_type(srv4):
    c = srv4.client(decode_responses=True)
    subs = [srv4.raw() for _ in range(3)]
    for rc in subs:
        rc.call("SUBSCRIBE", "t")
    assert len(c.client_list(_type="pubsub")) == 3
    assert all(cl["flags"] == "P" for cl in c.client_list(_type="pubsub"))
    assert all(cl["flags"] != "P" for cl in c.client_list(_type="normal"))
    assert c.execute_command("CLIENT", "LIST", "TYPE", "replica") == ""
    assert c.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 3
    with pytest.raises(redis.ResponseError, match="Unknown client type 'bogus'"):
        c.execute_command("CLIENT", "KILL", "TYPE", "bogus")
    for rc in subs:
        assert rc.read_all_until_close() == b""
    assert c.publish("t", "x") == 0
    assert c.ping()


def test_subscribe_arity_and_noauth(make_server):
    s = make_server("--requirepass", "pw")
    rc = s.raw()
    assert rc.call("SUBSCRIBE", "x") == Err("NOAUTH Authentication required.")
    assert rc.call("AUTH", "pw") == "OK"
    assert rc.call("SUBSCRIBE") == Err("ERR wrong number of arguments for 'subscribe' command")
    assert rc.call("PUBLISH", "x") == Err("ERR wrong number of arguments for 'publish' command")
    rc.close()


def test_churn_publishers_and_closing_subscribers(srv4):
    """Publishers on several workers while subscribers come and go (messages still queued
    for a closed connection must be dropped safely); the server stays up and exits cleanly."""
    import threading

    stop = threading.Event()
    errors = []

    def publisher(i):
        c = srv4.client()
        try:
            while not stop.is_set():
                pipe = c.pipeline(transaction=False)
                for j in range(50):
                    pipe.publish("churn.%d" % (j % 4), "m%d" % j)
                pipe.execute()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=publisher, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(40):
            rcs = [srv4.raw() for _ in range(4)]
            for rc in rcs:
                rc.send(RawClient.encode("SUBSCRIBE", "churn.0", "churn.1"))
                rc.send(RawClient.encode("PSUBSCRIBE", "churn.*"))
            for rc in rcs:
                read_until(rc, 3)
            rcs[0].send(RawClient.encode("UNSUBSCRIBE"))
            for rc in rcs:
                rc.close()  # usually with messages still on their way
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    c = srv4.client()
    assert c.ping()
    deadline = time.time() + WAIT
    while c.pubsub_numpat() and time.time() < deadline:
        time.sleep(0.02)
    assert c.pubsub_numpat() == 0
