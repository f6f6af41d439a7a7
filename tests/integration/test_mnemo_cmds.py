"""mnemo's own commands: MN.GETVER, MN.CAS, MN.DELVER, MN.COUNT, MN.DELMATCH."""
import pytest

from conftest import Err


def test_getver(raw):
    assert raw.call("MN.GETVER", "nokey") is None
    raw.call("SET", "k", "v1")
    value, v1 = raw.call("MN.GETVER", "k")
    assert value == b"v1" and v1 > 0
    raw.call("SET", "k", "v2")
    value, v2 = raw.call("MN.GETVER", "k")
    assert value == b"v2" and v2 > v1


def test_versions_increase_per_key(raw):
    # each write to a key (re-creation after DEL included) gets a greater version; the upper
    # 48 bits are Unix time in ms
    import time
    seen = 0
    for i in range(50):
        raw.call("SET", "a", str(i))
        if i % 7 == 3:
            raw.call("DEL", "a")
            raw.call("SET", "a", "again")
        _, ver = raw.call("MN.GETVER", "a")
        assert ver > seen
        seen = ver
    assert abs((seen >> 16) - time.time() * 1000) < 3600 * 1000


def test_cas(raw):
    raw.call("SET", "k", "v1")
    _, ver = raw.call("MN.GETVER", "k")
    assert raw.call("MN.CAS", "k", str(ver), "v2") == "OK"
    assert raw.call("GET", "k") == b"v2"
    assert raw.call("MN.CAS", "k", str(ver), "v3") is None  # stale version
    assert raw.call("GET", "k") == b"v2"
    assert raw.call("MN.CAS", "nokey", "1", "v") is None
    assert raw.call("EXISTS", "nokey") == 0
    _, ver = raw.call("MN.GETVER", "k")
    assert raw.call("MN.CAS", "k", str(ver), "v4", "EX", "100") == "OK"
    assert 99 <= raw.call("TTL", "k") <= 100
    _, ver = raw.call("MN.GETVER", "k")
    assert raw.call("MN.CAS", "k", str(ver), "v5", "PX", "50000") == "OK"
    assert 40000 <= raw.call("PTTL", "k") <= 50000
    _, ver = raw.call("MN.GETVER", "k")
    assert raw.call("MN.CAS", "k", str(ver), "v6") == "OK"
    assert raw.call("TTL", "k") == -1
    assert raw.call("MN.CAS", "k", "x", "v") == "ERR value is not an integer or out of range"
    assert raw.call("MN.CAS", "k", "1", "v", "EX") == "ERR syntax error"
    assert raw.call("MN.CAS", "k", "1", "v", "FOO", "1") == "ERR syntax error"
    assert raw.call("MN.CAS", "k", "1", "v", "EX", "0") == \
        "ERR invalid expire time in 'mn.cas' command"
    assert raw.call("MN.CAS", "k", "1") == \
        "ERR wrong number of arguments for 'mn.cas' command"


def test_cas_race_only_one_wins(server, raw):
    raw.call("SET", "k", "0")
    _, ver = raw.call("MN.GETVER", "k")
    other = server.raw()
    assert other.call("MN.CAS", "k", str(ver), "other") == "OK"
    assert raw.call("MN.CAS", "k", str(ver), "mine") is None
    assert raw.call("GET", "k") == b"other"
    other.close()


def test_delver(raw):
    raw.call("SET", "k", "v")
    _, ver = raw.call("MN.GETVER", "k")
    assert raw.call("MN.DELVER", "k", str(ver + 1)) == 0
    assert raw.call("EXISTS", "k") == 1
    assert raw.call("MN.DELVER", "k", str(ver)) == 1
    assert raw.call("EXISTS", "k") == 0
    assert raw.call("MN.DELVER", "k", str(ver)) == 0
    assert raw.call("MN.DELVER", "k", "-1") == "ERR value is not an integer or out of range"


def test_count_delmatch(r, raw):
    r.mset({"user:%d" % i: "x" for i in range(200)})
    r.mset({"session:%d" % i: "x" for i in range(50)})
    assert raw.call("MN.COUNT", "user:*") == 200
    assert raw.call("MN.COUNT", "*") == 250
    assert raw.call("MN.COUNT", "user:1?") == 10
    assert raw.call("MN.COUNT", "nomatch*") == 0
    assert raw.call("MN.DELMATCH", "user:1*") == 111
    assert raw.call("MN.COUNT", "user:*") == 89
    assert raw.call("DBSIZE") == 139
    assert raw.call("MN.DELMATCH", "*") == 139
    assert raw.call("DBSIZE") == 0
    assert raw.call("MN.COUNT") == "ERR wrong number of arguments for 'mn.count' command"


def test_mnemo_commands_in_transaction(raw):
    raw.call("SET", "k", "v")
    _, ver = raw.call("MN.GETVER", "k")
    raw.call("MULTI")
    raw.call("MN.CAS", "k", str(ver), "w")
    raw.call("MN.COUNT", "*")
    raw.call("GET", "k")
    assert raw.call("EXEC") == ["OK", 1, b"w"]


@pytest.mark.parametrize("timing", ["on", "off"])
def test_store_clock_follows_the_wall_clock(make_server, timing):
    # Inside a timed command the store takes its time from the slowlog's monotonic stamp
    # (converted with a per-worker offset); with slowlog and latency monitor off, from
    # CLOCK_REALTIME. Either way versions and deadlines are wall-clock milliseconds.
    import time
    s = make_server()
    c = s.client()
    raw = s.raw()
    if timing == "off":
        c.config_set("slowlog-log-slower-than", "-1")
        c.config_set("latency-monitor-threshold", "0")
    for in_multi in (False, True):
        before = int(time.time() * 1000)
        if in_multi:
            p = c.pipeline(transaction=True)
            p.set("k", "v", px=60000)
            p.set("at", "v", pxat=before + 30000)
            p.execute()
        else:
            c.set("k", "v", px=60000)
            c.set("at", "v", pxat=before + 30000)
        after = int(time.time() * 1000)
        _, ver = raw.call("MN.GETVER", "k")
        assert before - 5 <= ver >> 16 <= after + 5
        # the deadline is the write's time plus the TTL
        assert before + 60000 - 5 <= c.pexpiretime("k") <= after + 60000 + 5
        assert 30000 - (after - before) - 1000 <= c.pttl("at") <= 30000
        assert c.pexpiretime("at") == before + 30000
        c.set("gone", "v", pxat=before - 1)
        assert c.exists("gone") == 0
    raw.close()
