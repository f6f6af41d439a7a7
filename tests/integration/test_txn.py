"""MULTI / EXEC / DISCARD / WATCH / UNWATCH with Redis's semantics."""
import threading

import pytest
import redis

from conftest import Err


def test_multi_exec(raw):
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "a", "1") == "QUEUED"
    assert raw.call("INCR", "a") == "QUEUED"
    assert raw.call("GET", "a") == "QUEUED"
    assert raw.call("EXEC") == ["OK", 2, b"2"]


def test_exec_discard_without_multi(raw):
    assert raw.call("EXEC") == "ERR EXEC without MULTI"
    assert raw.call("DISCARD") == "ERR DISCARD without MULTI"
    raw.call("MULTI")
    assert raw.call("MULTI") == "ERR MULTI calls can not be nested"
    assert raw.call("DISCARD") == "OK"
    assert raw.call("EXEC") == "ERR EXEC without MULTI"


def test_discard(raw):
    raw.call("MULTI")
    raw.call("SET", "a", "1")
    assert raw.call("DISCARD") == "OK"
    assert raw.call("EXISTS", "a") == 0


def test_queue_time_error_aborts(raw):
    raw.call("MULTI")
    assert raw.call("SET", "a", "1") == "QUEUED"
    assert raw.call("NOSUCH") == "ERR unknown command 'NOSUCH', with args beginning with: "
    assert raw.call("GET") == "ERR wrong number of arguments for 'get' command"
    assert raw.call("EXEC") == "EXECABORT Transaction discarded because of previous errors."
    assert raw.call("EXISTS", "a") == 0


def test_runtime_error_does_not_abort(raw):
    raw.call("SET", "s", "abc")
    raw.call("MULTI")
    raw.call("SET", "a", "1")
    raw.call("INCR", "s")
    raw.call("INCR", "a")
    assert raw.call("EXEC") == ["OK", "ERR value is not an integer or out of range", 2]


def test_watch_other_client_aborts(server, r):
    r.set("w", "1")
    c = server.raw()
    assert c.call("WATCH", "w") == "OK"
    r.set("w", "2")
    c.call("MULTI")
    c.call("SET", "w", "3")
    assert c.call("EXEC") is None
    assert r.get("w") == "2"
    # the watch is gone after EXEC
    c.call("MULTI")
    c.call("SET", "w", "4")
    assert c.call("EXEC") == ["OK"]
    c.close()


def test_watch_redis_py_pipeline(server, r):
    r.set("counter", "10")
    other = server.client()
    with r.pipeline() as p:
        p.watch("counter")
        value = int(p.get("counter"))
        other.incr("counter")
        p.multi()
        p.set("counter", value + 1)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("counter") == "11"
    other.close()


def test_watch_unchanged_succeeds(raw):
    raw.call("SET", "w", "1")
    raw.call("WATCH", "w", "missing")
    raw.call("MULTI")
    raw.call("INCR", "w")
    assert raw.call("EXEC") == [2]


def test_watch_missing_key_created(server, raw):
    raw.call("WATCH", "newkey")
    other = server.raw()
    other.call("SET", "newkey", "x")
    raw.call("MULTI")
    raw.call("GET", "newkey")
    assert raw.call("EXEC") is None
    other.close()


def test_watch_deleted_key(server, raw):
    raw.call("SET", "k", "1")
    raw.call("WATCH", "k")
    other = server.raw()
    other.call("DEL", "k")
    raw.call("MULTI")
    raw.call("SET", "k", "2")
    assert raw.call("EXEC") is None
    other.close()


def test_unwatch(server, raw):
    raw.call("SET", "k", "1")
    raw.call("WATCH", "k")
    other = server.raw()
    other.call("SET", "k", "2")
    assert raw.call("UNWATCH") == "OK"
    raw.call("MULTI")
    raw.call("GET", "k")
    assert raw.call("EXEC") == [b"2"]
    other.close()


def test_watch_inside_multi(raw):
    raw.call("MULTI")
    assert raw.call("WATCH", "k") == "ERR WATCH inside MULTI is not allowed"
    assert raw.call("EXEC") == []


def test_discard_unwatches(server, raw):
    raw.call("SET", "k", "1")
    raw.call("WATCH", "k")
    raw.call("MULTI")
    raw.call("DISCARD")
    other = server.raw()
    other.call("SET", "k", "2")
    raw.call("MULTI")
    raw.call("GET", "k")
    assert raw.call("EXEC") == [b"2"]
    other.close()


def test_watch_in_other_db(server, raw):
    raw.call("SELECT", "2")
    raw.call("SET", "k", "1")
    raw.call("WATCH", "k")
    other = server.raw()
    other.call("SET", "k", "zzz")  # db 0: not the watched key
    raw.call("MULTI")
    raw.call("GET", "k")
    assert raw.call("EXEC") == [b"1"]
    other.close()


def test_watch_swapdb_aborts(server, raw):
    # Versions come from per-shard clocks, so the key swapped in under the watched name can
    # carry the very version that was watched (same shard index, same millisecond): EXEC must
    # still see that the database changed under it.
    for _ in range(20):
        raw.call("SELECT", "0")
        raw.call("FLUSHALL")
        other = server.raw()
        other.call("SELECT", "1")
        raw.call("SET", "k", "in-db-0")
        other.call("SET", "k", "in-db-1")
        raw.call("WATCH", "k")
        other.call("SWAPDB", "0", "1")
        raw.call("MULTI")
        raw.call("GET", "k")
        assert raw.call("EXEC") is None
        other.close()
    # a swap of two other databases leaves the watch alone
    raw.call("SET", "k", "v")
    raw.call("WATCH", "k")
    other = server.raw()
    other.call("SWAPDB", "2", "3")
    raw.call("MULTI")
    raw.call("GET", "k")
    assert raw.call("EXEC") == [b"v"]
    other.close()


def test_keyless_commands_in_transaction(raw):
    raw.call("MSET", "a", "1", "b", "2")
    raw.call("MULTI")
    raw.call("DBSIZE")
    raw.call("KEYS", "*")
    raw.call("FLUSHDB")
    raw.call("DBSIZE")
    res = raw.call("EXEC")
    assert res[0] == 2 and sorted(res[1]) == [b"a", b"b"] and res[2:] == ["OK", 0]


def test_select_inside_transaction(raw):
    raw.call("MULTI")
    raw.call("SELECT", "1")
    raw.call("SET", "k", "db1")
    assert raw.call("EXEC") == ["OK", "OK"]
    assert raw.call("GET", "k") == b"db1"


def test_transactions_are_atomic(server, r):
    """Concurrent MULTI/INCR/INCR/EXEC on two keys: no reader ever sees them differ."""
    r.mset({"x": 0, "y": 0})
    stop = threading.Event()
    bad = []

    def writer():
        c = server.raw()
        for _ in range(300):
            c.call("MULTI")
            c.call("INCR", "x")
            c.call("INCR", "y")
            c.call("EXEC")
        c.close()

    def reader():
        c = server.raw()
        while not stop.is_set():
            c.call("MULTI")
            c.call("GET", "x")
            c.call("GET", "y")
            x, y = c.call("EXEC")
            if x != y:
                bad.append((x, y))
        c.close()

    ws = [threading.Thread(target=writer) for _ in range(2)]
    rd = threading.Thread(target=reader)
    rd.start()
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    stop.set()
    rd.join()
    assert not bad
    assert r.mget("x", "y") == ["600", "600"]


def test_watch_ttl_change_aborts(server, raw):
    # A TTL change leaves the version alone but, as in Redis, touches the watched key.
    raw.call("SET", "wt", "v")
    assert raw.call("WATCH", "wt") == "OK"
    other = server.raw()
    assert other.call("EXPIRE", "wt", "100") == 1
    raw.call("MULTI")
    raw.call("SET", "wt", "mine")
    assert raw.call("EXEC") is None
    assert raw.call("WATCH", "wt") == "OK"
    assert other.call("PERSIST", "wt") == 1
    raw.call("MULTI")
    raw.call("SET", "wt", "mine")
    assert raw.call("EXEC") is None
    assert raw.call("GET", "wt") == b"v"
    other.close()
