"""String commands: replies and error texts as Redis 7 gives them."""
import time

import pytest
import redis

from conftest import Err


def test_get_set_basic(r):
    assert r.get("missing") is None
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.set("k", "w") is True
    assert r.get("k") == "w"


def test_binary_safe_values(rb):
    value = bytes(range(256)) * 4 + b"\r\n\x00end"
    rb.set(b"bin\x00key\r\n", value)
    assert rb.get(b"bin\x00key\r\n") == value


def test_empty_key_and_value(rb):
    rb.set(b"", b"")
    assert rb.get(b"") == b""
    assert rb.exists(b"") == 1


def test_set_nx_xx(r):
    assert r.set("k", "1", nx=True) is True
    assert r.set("k", "2", nx=True) is None
    assert r.get("k") == "1"
    assert r.set("k", "3", xx=True) is True
    assert r.set("other", "3", xx=True) is None
    assert r.exists("other") == 0


def test_set_get_option(raw):
    assert raw.call("SET", "k", "a", "GET") is None
    assert raw.call("SET", "k", "b", "GET") == b"a"
    assert raw.call("SET", "k", "c", "NX", "GET") == b"b"
    assert raw.call("GET", "k") == b"b"
    assert raw.call("SET", "nokey", "d", "XX", "GET") is None
    assert raw.call("EXISTS", "nokey") == 0


def test_set_expire_options(r):
    r.set("ex", "v", ex=100)
    assert 99 <= r.ttl("ex") <= 100
    r.set("px", "v", px=100000)
    assert 99000 <= r.pttl("px") <= 100000
    at = int(time.time()) + 200
    r.set("exat", "v", exat=at)
    assert 198 <= r.ttl("exat") <= 200
    r.set("pxat", "v", pxat=at * 1000)
    assert 198 <= r.ttl("pxat") <= 200
    r.set("pxat", "v2", keepttl=True)
    assert 198 <= r.ttl("pxat") <= 200
    r.set("pxat", "v3")
    assert r.ttl("pxat") == -1


def test_set_in_the_past_deletes(r):
    r.set("k", "v")
    r.execute_command("SET", "k", "v2", "PXAT", "1")
    assert r.get("k") is None


def test_set_errors(raw):
    assert raw.call("SET", "k", "v", "EX", "0") == "ERR invalid expire time in 'set' command"
    assert raw.call("SET", "k", "v", "EX", "-1") == "ERR invalid expire time in 'set' command"
    assert raw.call("SET", "k", "v", "EX", "abc") == "ERR value is not an integer or out of range"
    assert raw.call("SET", "k", "v", "EX", "9223372036854775807") == \
        "ERR invalid expire time in 'set' command"
    assert raw.call("SET", "k", "v", "PX", "9223372036854775807") == \
        "ERR invalid expire time in 'set' command"
    assert raw.call("SET", "k", "v", "NX", "XX") == "ERR syntax error"
    assert raw.call("SET", "k", "v", "KEEPTTL", "EX", "10") == "ERR syntax error"
    assert raw.call("SET", "k", "v", "EX", "10", "PX", "10") == "ERR syntax error"
    assert raw.call("SET", "k", "v", "EX") == "ERR syntax error"
    assert raw.call("SET", "k", "v", "FOO") == "ERR syntax error"
    assert raw.call("SET", "k") == "ERR wrong number of arguments for 'set' command"
    assert raw.call("GET") == "ERR wrong number of arguments for 'get' command"
    assert raw.call("EXISTS", "k") == 0


def test_setnx_setex_psetex(raw):
    assert raw.call("SETNX", "k", "1") == 1
    assert raw.call("SETNX", "k", "2") == 0
    assert raw.call("SETEX", "k", "100", "v") == "OK"
    assert 99 <= raw.call("TTL", "k") <= 100
    assert raw.call("PSETEX", "k", "100000", "v") == "OK"
    assert 99000 <= raw.call("PTTL", "k") <= 100000
    assert raw.call("SETEX", "k", "0", "v") == "ERR invalid expire time in 'setex' command"
    assert raw.call("SETEX", "k", "x", "v") == "ERR value is not an integer or out of range"
    assert raw.call("PSETEX", "k", "-5", "v") == "ERR invalid expire time in 'psetex' command"


def test_mget_mset_msetnx(raw):
    assert raw.call("MSET", "a", "1", "b", "2") == "OK"
    assert raw.call("MGET", "a", "b", "nokey") == [b"1", b"2", None]
    assert raw.call("MSET", "a", "1", "b") == "ERR wrong number of arguments for 'mset' command"
    assert raw.call("MSETNX", "a", "9", "c", "3") == 0
    assert raw.call("EXISTS", "c") == 0
    assert raw.call("MSETNX", "c", "3", "d", "4") == 1
    assert raw.call("MGET", "c", "d") == [b"3", b"4"]


def test_mget_many_keys(r):
    r.mset({"k%d" % i: str(i) for i in range(500)})
    assert r.mget(["k%d" % i for i in range(500)]) == [str(i) for i in range(500)]


def test_getset_getdel(raw):
    assert raw.call("GETSET", "k", "1") is None
    assert raw.call("GETSET", "k", "2") == b"1"
    assert raw.call("GETDEL", "k") == b"2"
    assert raw.call("GETDEL", "k") is None
    assert raw.call("EXISTS", "k") == 0


def test_getex(raw):
    raw.call("SET", "k", "v")
    assert raw.call("GETEX", "k") == b"v"
    assert raw.call("TTL", "k") == -1
    assert raw.call("GETEX", "k", "EX", "100") == b"v"
    assert 99 <= raw.call("TTL", "k") <= 100
    assert raw.call("GETEX", "k", "PERSIST") == b"v"
    assert raw.call("TTL", "k") == -1
    assert raw.call("GETEX", "k", "PXAT", str(int(time.time() * 1000) + 50000)) == b"v"
    assert 40 <= raw.call("TTL", "k") <= 50
    assert raw.call("GETEX", "nokey", "EX", "10") is None
    assert raw.call("GETEX", "k", "EX", "0") == "ERR invalid expire time in 'getex' command"
    assert raw.call("GETEX", "k", "EX", "10", "PERSIST") == "ERR syntax error"
    assert raw.call("GETEX", "k", "FOO") == "ERR syntax error"


def test_incr_family(raw):
    assert raw.call("INCR", "n") == 1
    assert raw.call("INCRBY", "n", "10") == 11
    assert raw.call("DECR", "n") == 10
    assert raw.call("DECRBY", "n", "20") == -10
    assert raw.call("GET", "n") == b"-10"
    raw.call("SET", "n", "9223372036854775807")
    assert raw.call("INCR", "n") == "ERR increment or decrement would overflow"
    assert raw.call("DECRBY", "n", "-9223372036854775808") == "ERR decrement would overflow"
    raw.call("SET", "s", "abc")
    assert raw.call("INCR", "s") == "ERR value is not an integer or out of range"
    assert raw.call("INCRBY", "n", "x") == "ERR value is not an integer or out of range"
    raw.call("SET", "sp", " 1")
    assert raw.call("INCR", "sp") == "ERR value is not an integer or out of range"


def test_incrbyfloat(raw):
    assert raw.call("INCRBYFLOAT", "f", "10.5") == b"10.5"
    assert raw.call("INCRBYFLOAT", "f", "0.1") == b"10.6"
    assert raw.call("INCRBYFLOAT", "f", "-5") == b"5.6"
    raw.call("SET", "f", "5.0e3")
    assert raw.call("INCRBYFLOAT", "f", "2.0e2") == b"5200"
    assert raw.call("INCRBYFLOAT", "f", "abc") == "ERR value is not a valid float"
    assert raw.call("INCRBYFLOAT", "f", "inf") == "ERR increment would produce NaN or Infinity"
    raw.call("SET", "s", "abc")
    assert raw.call("INCRBYFLOAT", "s", "1") == "ERR value is not a valid float"


def test_append_strlen(raw):
    assert raw.call("APPEND", "k", "Hello") == 5
    assert raw.call("APPEND", "k", " World") == 11
    assert raw.call("STRLEN", "k") == 11
    assert raw.call("STRLEN", "nokey") == 0
    assert raw.call("GET", "k") == b"Hello World"


def test_getrange_setrange(raw):
    raw.call("SET", "k", "This is a string")
    assert raw.call("GETRANGE", "k", "0", "3") == b"This"
    assert raw.call("GETRANGE", "k", "-3", "-1") == b"ing"
    assert raw.call("GETRANGE", "k", "0", "-1") == b"This is a string"
    assert raw.call("GETRANGE", "k", "10", "100") == b"string"
    assert raw.call("GETRANGE", "k", "5", "3") == b""
    assert raw.call("GETRANGE", "nokey", "0", "-1") == b""
    assert raw.call("GETRANGE", "k", "x", "1") == "ERR value is not an integer or out of range"
    raw.call("SET", "k", "Hello World")
    assert raw.call("SETRANGE", "k", "6", "Redis") == 11
    assert raw.call("GET", "k") == b"Hello Redis"
    assert raw.call("SETRANGE", "pad", "5", "x") == 6
    assert raw.call("GET", "pad") == b"\x00\x00\x00\x00\x00x"
    assert raw.call("SETRANGE", "nokey", "0", "") == 0
    assert raw.call("EXISTS", "nokey") == 0
    assert raw.call("SETRANGE", "k", "-1", "x") == "ERR offset is out of range"
    assert raw.call("SETRANGE", "k", "536870912", "x") == \
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"


def test_large_value_roundtrip(rb):
    value = b"x" * (8 * 1024 * 1024 + 17)
    rb.set("big", value)
    assert rb.strlen("big") == len(value)
    assert rb.get("big") == value


def test_incrbyfloat_not_finite_vs_not_float(raw):
    raw.call("SET", "fi", "inf")
    assert raw.call("INCRBYFLOAT", "fi", "1") == "ERR increment would produce NaN or Infinity"
    raw.call("SET", "fi", "abc")
    assert raw.call("INCRBYFLOAT", "fi", "1") == "ERR value is not a valid float"
    raw.call("SET", "fi", "1e4932")
    assert raw.call("INCRBYFLOAT", "fi", "1e4932") == \
        "ERR increment would produce NaN or Infinity"
    assert raw.call("GET", "fi") == b"1e4932"
    raw.call("SET", "fi", "1e300")
    assert len(raw.call("INCRBYFLOAT", "fi", "1e300")) == 301
