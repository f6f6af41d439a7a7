"""Keyspace notifications (notify-keyspace-events): every event type mnemo emits, the flag
syntax of CONFIG SET/GET, and `expired` coming from the store's background thread.

Each test runs a private server so that the setting never leaks into other tests. Waits are
bounded polls; nothing is asserted about timing.
"""
import time

import pytest
import redis

WAIT = 5


@pytest.fixture
def ns(make_server):
    s = make_server("--threads", "2")
    c = s.client(decode_responses=True)
    c.config_set("notify-keyspace-events", "KEA")
    return s, c


def listen(s, pattern="__key*__:*"):
    p = s.client(decode_responses=True).pubsub()
    p.psubscribe(pattern)
    assert p.get_message(timeout=WAIT)["type"] == "psubscribe"
    return p


def drain(p, n, timeout=WAIT):
    """Collects n (channel, data) pairs, waiting at most `timeout` in total."""
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = p.get_message(timeout=0.1)
        if m and m["type"] == "pmessage":
            out.append((m["channel"], m["data"]))
    return out


def events_of(pairs):
    """Keyevent notifications only, as (event, key)."""
    return [(ch.split(":", 1)[1], key) for ch, key in pairs if ch.startswith("__keyevent@")]


def test_flags_config_syntax(make_server):
    s = make_server()
    c = s.client(decode_responses=True)
    assert c.config_get("notify-keyspace-events") == {"notify-keyspace-events": ""}
    for given, shown in (("KEA", "AKE"), ("Ex$", "$xE"), ("g$lshzxetd", "A"), ("Kmn", "nKm"),
                         ("An", "A"), ("", "")):
        assert c.config_set("notify-keyspace-events", given)
        assert c.config_get("notify-keyspace-events") == {"notify-keyspace-events": shown}
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("notify-keyspace-events", "Q")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument "
                            "'notify-keyspace-events') - Invalid event class character. "
                            "Use 'Ag$lshzxeKEtmdn'.")


def test_string_and_generic_events(ns):
    s, c = ns
    p = listen(s)
    c.set("a", "1")
    c.incr("a")
    c.incrby("a", 5)
    c.decr("a")
    c.incrbyfloat("a", 1.5)
    c.append("a", "x")
    c.setrange("a", 0, "z")
    c.expire("a", 100)
    c.persist("a")
    c.rename("a", "b")
    c.delete("b", "missing")
    want = [("set", "a"), ("incrby", "a"), ("incrby", "a"), ("incrby", "a"),
            ("incrbyfloat", "a"), ("append", "a"), ("setrange", "a"), ("expire", "a"),
            ("persist", "a"), ("rename_from", "a"), ("rename_to", "b"), ("del", "b")]
    got = drain(p, 2 * len(want))
    assert events_of(got) == want
    # The keyspace channel carries the event name as its message.
    assert ("__keyspace@0__:a", "set") in got
    assert ("__keyspace@0__:b", "del") in got
    p.close()


def test_multi_key_and_other_commands(ns):
    s, c = ns
    p = listen(s)
    c.mset({"m1": "1", "m2": "2"})
    c.delete("m1", "m2", "m3")
    c.set("g", "v")
    c.getdel("g")
    c.setex("t", 100, "v")
    c.execute_command("COPY", "t", "t2")
    c.execute_command("MOVE", "t2", "3")
    c.expire("t", 0)  # a time already past deletes the key: "del", as Redis
    want = [("set", "m1"), ("set", "m2"), ("del", "m1"), ("del", "m2"), ("set", "g"),
            ("del", "g"), ("set", "t"), ("expire", "t"), ("copy_to", "t2"),
            ("move_from", "t2"), ("move_to", "t2"), ("del", "t")]
    got = drain(p, 2 * len(want))
    assert events_of(got) == want
    assert ("__keyevent@3__:move_to", "t2") in got
    p.close()


def test_no_event_when_nothing_changed(ns):
    s, c = ns
    p = listen(s)
    c.delete("nothing")
    c.setrange("nothing", 0, "")
    c.expire("nothing", 10)
    c.persist("nothing")
    c.set("n", "1", nx=True)
    c.set("n", "2", nx=True)  # refused: no event
    got = drain(p, 2, timeout=1)
    assert events_of(got) == [("set", "n")]
    c.set("marker", "x")
    assert events_of(drain(p, 2)) == [("set", "marker")]
    p.close()


def test_expired_from_background_thread(ns):
    s, c = ns
    p = listen(s, "__keyevent@0__:expired")
    for i in range(5):
        c.set("ttl%d" % i, "v", px=50)
    # Nobody touches the keys: only the store's active expiry can remove them.
    got = drain(p, 5, timeout=WAIT)
    assert sorted(k for _, k in got) == ["ttl%d" % i for i in range(5)]
    assert all(ch == "__keyevent@0__:expired" for ch, _ in got)
    p.close()


def test_expired_on_access(ns):
    s, c = ns
    c.config_set("notify-keyspace-events", "Kx")
    p = listen(s, "__keyspace@0__:lazy")
    c.set("lazy", "v", px=20)
    deadline = time.time() + WAIT
    while c.get("lazy") is not None and time.time() < deadline:
        time.sleep(0.01)
    assert drain(p, 1) == [("__keyspace@0__:lazy", "expired")]
    p.close()


def test_class_filters(ns):
    s, c = ns
    p = listen(s)
    c.config_set("notify-keyspace-events", "E$")  # strings only, keyevent only
    c.set("k", "1")
    c.expire("k", 100)  # generic: filtered out
    c.append("k", "2")
    got = drain(p, 2)
    assert got == [("__keyevent@0__:set", "k"), ("__keyevent@0__:append", "k")]
    c.config_set("notify-keyspace-events", "Kg")  # generic only, keyspace only
    c.set("k", "1")
    c.delete("k")
    assert drain(p, 1) == [("__keyspace@0__:k", "del")]
    c.config_set("notify-keyspace-events", "$")  # neither K nor E: nothing is sent
    c.set("k", "1")
    c.config_set("notify-keyspace-events", "E$")
    c.set("last", "1")
    assert drain(p, 1) == [("__keyevent@0__:set", "last")]
    p.close()


def test_events_reach_subscribers_on_other_workers(make_server):
    s = make_server("--threads", "4")
    c = s.client(decode_responses=True)
    c.config_set("notify-keyspace-events", "E$")
    subs = [listen(s, "__keyevent@0__:set") for _ in range(12)]
    counts = [int(x) for x in c.info("clients")["worker_clients"].split(",")]
    assert sum(1 for x in counts if x) >= 2
    c.set("shared", "v")
    for p in subs:
        assert drain(p, 1) == [("__keyevent@0__:set", "shared")]
        p.close()


def test_selected_database_in_channel(ns):
    s, c = ns
    p = listen(s)
    c5 = s.client(decode_responses=True, db=5)
    c5.set("x", "1")
    assert drain(p, 2) == [("__keyspace@5__:x", "set"), ("__keyevent@5__:set", "x")]
    p.close()
