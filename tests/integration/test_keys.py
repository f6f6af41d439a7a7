"""Keyspace commands: DEL, EXISTS, TYPE, KEYS, SCAN, DBSIZE, FLUSH*, expiry, RENAME & co."""
import time

import pytest

from conftest import Err


def test_del_unlink_exists_touch(raw):
    raw.call("MSET", "a", "1", "b", "2", "c", "3")
    assert raw.call("EXISTS", "a", "a", "nokey") == 2
    assert raw.call("TOUCH", "a", "nokey") == 1
    assert raw.call("DEL", "a", "nokey") == 1
    assert raw.call("UNLINK", "b", "c", "b") == 2
    assert raw.call("EXISTS", "a", "b", "c") == 0
    assert raw.call("DEL") == "ERR wrong number of arguments for 'del' command"


def test_type(raw):
    raw.call("SET", "k", "v")
    assert raw.call("TYPE", "k") == "string"
    assert raw.call("TYPE", "nokey") == "none"


def test_keys_patterns(r):
    r.mset({"hello": 1, "hallo": 1, "hxllo": 1, "hllo": 1, "heeeello": 1, "other": 1})
    assert sorted(r.keys("h?llo")) == ["hallo", "hello", "hxllo"]
    assert sorted(r.keys("h*llo")) == ["hallo", "heeeello", "hello", "hllo", "hxllo"]
    assert sorted(r.keys("h[ae]llo")) == ["hallo", "hello"]
    assert sorted(r.keys("h[^e]llo")) == ["hallo", "hxllo"]
    assert sorted(r.keys("h[a-b]llo")) == ["hallo"]
    assert len(r.keys("*")) == 6
    assert r.keys("nomatch*") == []


def test_scan_visits_every_key_once(r):
    keys = {"key:%d" % i for i in range(1000)}
    r.mset({k: "v" for k in keys})
    r.mset({"other:%d" % i: "v" for i in range(100)})
    seen = []
    cursor = 0
    while True:
        cursor, batch = r.scan(cursor, match="key:*", count=50)
        seen += batch
        if cursor == 0:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) == keys
    assert set(r.scan_iter(count=1000)) == keys | {"other:%d" % i for i in range(100)}


def test_scan_type_and_errors(raw, r):
    r.mset({"a": 1, "b": 2})
    found, cursor = [], b"0"
    while True:
        cursor, batch = raw.call("SCAN", cursor, "TYPE", "string")
        found += batch
        if cursor == b"0":
            break
    assert sorted(found) == [b"a", b"b"]
    cursor, batch = raw.call("SCAN", "0", "TYPE", "list", "COUNT", "1000")
    assert batch == []
    assert raw.call("SCAN", "x") == "ERR invalid cursor"
    assert raw.call("SCAN", "0", "COUNT", "0") == "ERR syntax error"
    assert raw.call("SCAN", "0", "COUNT", "x") == "ERR value is not an integer or out of range"
    assert raw.call("SCAN", "0", "MATCH") == "ERR syntax error"
    assert raw.call("SCAN", "0", "FOO", "bar") == "ERR syntax error"


def test_dbsize_flushdb_flushall(raw):
    raw.call("MSET", "a", "1", "b", "2")
    assert raw.call("DBSIZE") == 2
    raw.call("SELECT", "1")
    raw.call("SET", "c", "3")
    assert raw.call("DBSIZE") == 1
    assert raw.call("FLUSHDB") == "OK"
    assert raw.call("DBSIZE") == 0
    raw.call("SELECT", "0")
    assert raw.call("DBSIZE") == 2
    assert raw.call("FLUSHDB", "FOO") == "ERR syntax error"
    assert raw.call("FLUSHALL", "ASYNC", "SYNC") == "ERR syntax error"
    assert raw.call("FLUSHALL", "ASYNC") == "OK"
    assert raw.call("DBSIZE") == 0
    raw.call("SET", "x", "1")
    assert raw.call("FLUSHDB", "SYNC") == "OK"
    assert raw.call("DBSIZE") == 0


def test_expire_family(raw):
    raw.call("SET", "k", "v")
    assert raw.call("TTL", "k") == -1
    assert raw.call("TTL", "nokey") == -2
    assert raw.call("PTTL", "nokey") == -2
    assert raw.call("EXPIRE", "k", "100") == 1
    assert 99 <= raw.call("TTL", "k") <= 100
    assert raw.call("PEXPIRE", "k", "200000") == 1
    assert 199000 <= raw.call("PTTL", "k") <= 200000
    at = int(time.time()) + 300
    assert raw.call("EXPIREAT", "k", str(at)) == 1
    assert raw.call("EXPIRETIME", "k") == at
    assert raw.call("PEXPIRETIME", "k") == at * 1000
    assert raw.call("PEXPIREAT", "k", str(at * 1000 + 500)) == 1
    assert raw.call("PEXPIRETIME", "k") == at * 1000 + 500
    assert raw.call("EXPIRETIME", "nokey") == -2
    assert raw.call("PERSIST", "k") == 1
    assert raw.call("PERSIST", "k") == 0
    assert raw.call("EXPIRETIME", "k") == -1
    assert raw.call("EXPIRE", "nokey", "10") == 0
    assert raw.call("EXPIRE", "k", "-1") == 1
    assert raw.call("EXISTS", "k") == 0


def test_expiretime_at_the_largest_deadline(raw):
    """PEXPIREAT takes any positive ms deadline; EXPIRETIME of the largest rounds it to
    seconds without overflowing (the server's UBSan build stopped on it, found by
    test_command_fuzz.py)."""
    raw.call("SET", "k", "v")
    assert raw.call("PEXPIREAT", "k", "9223372036854775807") == 1
    assert raw.call("PEXPIRETIME", "k") == 9223372036854775807
    assert raw.call("EXPIRETIME", "k") == 9223372036854776
    assert raw.call("TTL", "k") > 9223372036854775 - int(time.time()) - 10
    assert raw.call("PEXPIREAT", "k", "9223372036854775499") == 1
    assert raw.call("EXPIRETIME", "k") == 9223372036854775


def test_expire_conditions(raw):
    raw.call("SET", "k", "v")
    assert raw.call("EXPIRE", "k", "100", "XX") == 0
    assert raw.call("EXPIRE", "k", "100", "NX") == 1
    assert raw.call("EXPIRE", "k", "200", "NX") == 0
    assert raw.call("EXPIRE", "k", "50", "GT") == 0
    assert raw.call("EXPIRE", "k", "200", "GT") == 1
    assert raw.call("EXPIRE", "k", "300", "LT") == 0
    assert raw.call("EXPIRE", "k", "20", "LT") == 1
    assert raw.call("EXPIRE", "k", "100", "NX", "XX") == \
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    assert raw.call("EXPIRE", "k", "100", "GT", "LT") == \
        "ERR GT and LT options at the same time are not compatible"
    assert raw.call("EXPIRE", "k", "100", "FOO") == "ERR Unsupported option FOO"
    assert raw.call("EXPIRE", "k", "abc") == "ERR value is not an integer or out of range"
    assert raw.call("EXPIRE", "k", "9223372036854775807") == \
        "ERR invalid expire time in 'expire' command"
    assert raw.call("PEXPIRE", "k", "9223372036854775807") == \
        "ERR invalid expire time in 'pexpire' command"


def test_keys_expire(r):
    r.set("short", "v", px=100)
    deadline = time.time() + 5
    while r.exists("short") and time.time() < deadline:
        time.sleep(0.05)
    assert r.get("short") is None
    assert r.exists("short") == 0


def test_rename(raw):
    assert raw.call("RENAME", "nokey", "x") == "ERR no such key"
    raw.call("SET", "a", "1")
    raw.call("EXPIRE", "a", "100")
    assert raw.call("RENAME", "a", "b") == "OK"
    assert raw.call("GET", "b") == b"1"
    assert 99 <= raw.call("TTL", "b") <= 100
    assert raw.call("EXISTS", "a") == 0
    assert raw.call("RENAME", "b", "b") == "OK"
    raw.call("SET", "c", "3")
    assert raw.call("RENAMENX", "b", "c") == 0
    assert raw.call("RENAMENX", "b", "d") == 1
    assert raw.call("RENAMENX", "nokey", "e") == "ERR no such key"


def test_copy(raw):
    raw.call("SET", "a", "1")
    assert raw.call("COPY", "a", "b") == 1
    assert raw.call("COPY", "a", "b") == 0
    raw.call("SET", "a", "2")
    assert raw.call("COPY", "a", "b", "REPLACE") == 1
    assert raw.call("GET", "b") == b"2"
    assert raw.call("COPY", "a", "b", "DB", "3") == 1
    raw.call("SELECT", "3")
    assert raw.call("GET", "b") == b"2"
    raw.call("SELECT", "0")
    assert raw.call("COPY", "nokey", "z") == 0
    assert raw.call("COPY", "a", "a") == "ERR source and destination objects are the same"
    assert raw.call("COPY", "a", "b", "DB", "99") == "ERR DB index is out of range"
    assert raw.call("COPY", "a", "b", "DB", "x") == "ERR value is not an integer or out of range"
    assert raw.call("COPY", "a", "b", "FOO") == "ERR syntax error"


def test_move(raw):
    raw.call("SET", "a", "1")
    assert raw.call("MOVE", "a", "1") == 1
    assert raw.call("EXISTS", "a") == 0
    assert raw.call("MOVE", "a", "1") == 0
    raw.call("SELECT", "1")
    assert raw.call("GET", "a") == b"1"
    raw.call("SELECT", "0")
    raw.call("SET", "a", "0")
    assert raw.call("MOVE", "a", "1") == 0
    assert raw.call("MOVE", "a", "0") == "ERR source and destination objects are the same"
    assert raw.call("MOVE", "a", "99") == "ERR DB index is out of range"
    assert raw.call("MOVE", "a", "x") == "ERR value is not an integer or out of range"


def test_swapdb(raw):
    raw.call("SET", "in0", "x")
    raw.call("SELECT", "1")
    raw.call("SET", "in1", "y")
    assert raw.call("SWAPDB", "0", "1") == "OK"
    assert raw.call("GET", "in0") == b"x"
    assert raw.call("EXISTS", "in1") == 0
    assert raw.call("SWAPDB", "0", "x") == "ERR invalid second DB index"
    assert raw.call("SWAPDB", "x", "0") == "ERR invalid first DB index"
    assert raw.call("SWAPDB", "0", "99") == "ERR DB index is out of range"


def test_randomkey(raw):
    assert raw.call("RANDOMKEY") is None
    raw.call("MSET", "a", "1", "b", "2")
    assert raw.call("RANDOMKEY") in (b"a", b"b")


def test_memory_usage(raw):
    # bytes that do not compress: the whole value counts (test_compression.py checks that a
    # compressed value counts its stored size)
    raw.call("SET", "k", bytes(range(100)))
    n = raw.call("MEMORY", "USAGE", "k")
    assert isinstance(n, int) and n >= 100
    assert raw.call("MEMORY", "USAGE", "nokey") is None
    assert raw.call("MEMORY", "USAGE", "k", "SAMPLES", "5") == n


def test_memory_purge_keeps_data(raw):
    # enough keys that the shards' indexes grow (and are caught mid-resize), then PURGE
    # finishes the resizes: every key is still there, and memory_used does not grow
    raw.call("FLUSHALL")
    for start in range(0, 20000, 1000):
        args = []
        for i in range(start, start + 1000):
            args += ["p:%d" % i, "v%d" % i]
        assert raw.call("MSET", *args) == "OK"
    def used():
        info = raw.call("INFO", "memory").decode()
        return int(info.split("used_memory:")[1].split("\r\n")[0])
    before = used()
    assert raw.call("MEMORY", "PURGE") == "OK"
    assert used() <= before
    assert raw.call("DBSIZE") == 20000
    assert raw.call("MGET", "p:0", "p:9999", "p:19999") == [b"v0", b"v9999", b"v19999"]
    assert raw.call("MEMORY", "PURGE", "x") == \
        "ERR wrong number of arguments for 'memory|purge' command"


def test_databases_are_separate(server):
    a = server.client(db=0, decode_responses=True)
    b = server.client(db=5, decode_responses=True)
    a.flushall()
    a.set("k", "db0")
    b.set("k", "db5")
    assert a.get("k") == "db0"
    assert b.get("k") == "db5"
    assert a.dbsize() == 1 and b.dbsize() == 1
    raw = server.raw()
    assert raw.call("SELECT", "16") == "ERR DB index is out of range"
    assert raw.call("SELECT", "x") == "ERR value is not an integer or out of range"
    assert raw.call("SELECT", "15") == "OK"
    raw.close()


def test_scan_small_database_in_one_call(r):
    r.mset({"a": 1, "b": 2, "c": 3})
    cursor, keys = r.scan(0)
    assert cursor == 0 and sorted(keys) == ["a", "b", "c"]
    r.flushall()
    assert r.scan(0) == (0, [])
