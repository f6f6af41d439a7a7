"""maxmemory and eviction through the server: settings, a write flood against a small ceiling
for every policy, noeviction's OOM error, volatile policies sparing keys without a TTL,
evicted keyspace notifications, OBJECT FREQ / IDLETIME, and lowering the ceiling at run time.
"""
import time

import pytest
import redis

from conftest import plain_build_only

CEILING = 4 * 1024 * 1024
# One segment and a table resize per worker thread, plus slack (docs/operations.md).
MARGIN = 512 * 1024

POLICIES = ["allkeys-lru", "allkeys-lfu", "allkeys-random", "allkeys-s3fifo",
            "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "volatile-s3fifo"]


def used_memory(c):
    return int(c.info("memory")["used_memory"])


def flood(c, n, start=0, ttl_every=0, batch=1000):
    """SETs n keys of 16 bytes with 32-byte values; every ttl_every-th one without a TTL
    (ttl_every=0: none has a TTL). Returns the peak used_memory seen between batches."""
    peak = 0
    val = b"v" * 32
    for b0 in range(start, start + n, batch):
        p = c.pipeline(transaction=False)
        for i in range(b0, min(b0 + batch, start + n)):
            key = b"key:%012d" % i
            if ttl_every and i % ttl_every:
                p.set(key, val, ex=3600)
            else:
                p.set(key, val)
        p.execute()
        peak = max(peak, used_memory(c))
    return peak


def test_settings_and_info(make_server):
    s = make_server("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    c = s.client()
    assert c.config_get("maxmemory") == {"maxmemory": str(64 << 20)}
    assert c.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    mem = c.info("memory")
    assert mem["maxmemory"] == 64 << 20
    assert mem["maxmemory_policy"] == "allkeys-lru"
    assert mem["maxmemory_high_watermark"] == 90
    assert mem["maxmemory_low_watermark"] == 80
    c.config_set("maxmemory", "1gb")
    c.config_set("maxmemory-policy", "ALLKEYS-S3FIFO")
    mem = c.info("memory")
    assert mem["maxmemory"] == 1 << 30
    assert mem["maxmemory_policy"] == "allkeys-s3fifo"
    with pytest.raises(redis.ResponseError, match="must be one of"):
        c.config_set("maxmemory-policy", "mostly-lru")
    with pytest.raises(redis.ResponseError):
        c.config_set("maxmemory", "lots")
    c.config_set("maxmemory-high-watermark", "95")
    with pytest.raises(redis.ResponseError, match="must not be above"):
        c.config_set("maxmemory-low-watermark", "96")
    assert c.config_get("maxmemory-low-watermark") == {"maxmemory-low-watermark": "80"}
    c.config_set("maxmemory-low-watermark", "90")
    assert c.info("memory")["maxmemory_low_watermark"] == 90


def test_default_is_unlimited_with_a_warning(make_server):
    s = make_server()
    c = s.client()
    assert c.info("memory")["maxmemory"] == 0
    assert "No maxmemory limit is set" in s.read_log()


def test_bad_watermarks_refused_at_startup(tmp_path):
    from conftest import Server
    with pytest.raises(RuntimeError, match="must not be above"):
        Server("--maxmemory-high-watermark", "50", "--maxmemory-low-watermark", "60")


@pytest.mark.parametrize("policy", POLICIES)
def test_flood_stays_under_the_ceiling(make_server, policy):
    s = make_server("--maxmemory", str(CEILING), "--maxmemory-policy", policy)
    c = s.client()
    volatile = policy.startswith("volatile")
    # 4x the ceiling; for volatile policies 1 key in 32 has no TTL (they take an eighth of it:
    # the fixed part of a default server, 4096 shards, takes a good part of 4 MB).
    n = 240000
    peak = flood(c, n, ttl_every=32 if volatile else 0)
    info = c.info()
    assert peak <= CEILING + MARGIN, (peak, CEILING)
    assert info["evicted_keys"] > 0
    keys = c.dbsize()
    assert 5000 < keys < n  # eviction did not empty the store
    if volatile:
        p = c.pipeline(transaction=False)
        for i in range(0, n, 32):
            p.exists(b"key:%012d" % i)
        assert all(x == 1 for x in p.execute()), "a key without a TTL was evicted"
    assert c.ping()


def test_noeviction_refuses_writes_keeps_data(make_server):
    s = make_server("--maxmemory", str(CEILING), "--maxmemory-policy", "noeviction")
    c = s.client()
    val = b"n" * 32
    stored = 0
    with pytest.raises(redis.ResponseError) as e:
        for i in range(100000):
            c.set(b"key:%012d" % i, val)
            stored += 1
    assert str(e.value) == "OOM command not allowed when used memory > 'maxmemory'."
    assert stored > 1000
    assert c.dbsize() == stored
    assert c.info("stats")["evicted_keys"] == 0
    # Reads, deletes and TTL changes keep working; denyoom writes fail with the same error.
    assert c.get(b"key:%012d" % 0) == val
    for cmd in (("APPEND", "key:%012d" % 0, "x"), ("INCR", "counter"), ("SETRANGE", "k", 0, "v"),
                ("MSET", "a", "1", "b", "2")):
        with pytest.raises(redis.ResponseError, match="^OOM"):
            c.execute_command(*cmd)
    assert c.expire(b"key:%012d" % 1, 100)
    assert c.persist(b"key:%012d" % 1)
    assert c.delete(*[b"key:%012d" % i for i in range(0, stored, 2)]) == (stored + 1) // 2
    c.set("after", "delete")  # room again
    assert c.get("after") == b"delete"
    # Raising the ceiling lets everything through again.
    c.config_set("maxmemory", "0")
    c.set("unlimited", "1")


def test_multi_exec_under_noeviction(make_server):
    s = make_server("--maxmemory", str(CEILING), "--maxmemory-policy", "noeviction")
    c = s.client()
    val = b"m" * 32
    try:
        for i in range(100000):
            c.set(b"key:%012d" % i, val)
    except redis.ResponseError:
        pass
    p = c.pipeline(transaction=True)
    p.get(b"key:%012d" % 0)
    p.set("new-key", "x")
    res = p.execute(raise_on_error=False)
    assert res[0] == val
    assert isinstance(res[1], redis.ResponseError) and str(res[1]).startswith("OOM")
    assert c.ping()


def test_evicted_notifications_and_counters(make_server):
    s = make_server("--maxmemory", str(2 << 20), "--maxmemory-policy", "allkeys-lru",
                    "--notify-keyspace-events", "Ee")
    c = s.client()
    sub = s.client().pubsub()
    sub.psubscribe("__keyevent@0__:evicted")
    assert sub.get_message(timeout=2)["type"] == "psubscribe"
    flood(c, 100000)
    evicted = int(c.info("stats")["evicted_keys"])
    assert evicted > 0
    got = 0
    deadline = time.time() + 10
    while got < 100 and time.time() < deadline:
        m = sub.get_message(timeout=1)
        if m and m["type"] == "pmessage":
            assert m["data"].startswith(b"key:")
            got += 1
    assert got >= 100
    sub.close()


def test_object_freq_and_idletime(make_server):
    s = make_server("--maxmemory-policy", "allkeys-s3fifo")
    c = s.client()
    c.set("k", "v")
    assert c.object("freq", "k") == 0
    for _ in range(5):
        c.get("k")
    assert c.object("freq", "k") == 3  # a 2-bit counter: saturates at 3
    assert c.object("freq", "k") == 3  # OBJECT itself is not an access
    assert c.object("idletime", "k") >= 0
    assert c.object("freq", "missing") is None
    c.config_set("maxmemory-policy", "allkeys-lru")
    with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is not selected"):
        c.object("freq", "k")
    c.config_set("maxmemory-policy", "allkeys-lfu")
    with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is selected"):
        c.object("idletime", "k")
    assert c.object("freq", "k") == 3


def test_lowering_the_ceiling_evicts_without_stalling(make_server):
    s = make_server("--maxmemory-policy", "allkeys-lru")
    c = s.client()
    flood(c, 200000)
    before = used_memory(c)
    assert before > 8 << 20
    c.config_set("maxmemory", str(4 << 20))
    # The server keeps answering while the background thread works it off (a liveness bound,
    # not a speed check).
    deadline = time.time() + 30
    while used_memory(c) > (4 << 20) * 0.9 and time.time() < deadline:
        assert c.ping()
        time.sleep(0.05)
    assert used_memory(c) <= (4 << 20) * 0.9
    assert c.info("stats")["evicted_keys"] > 0
    c.set("still", "writable")
    assert c.get("still") == b"writable"


@plain_build_only
def test_used_memory_tracks_rss(make_server):
    """INFO used_memory follows the process's real memory: the growth of both over a load
    agrees within 10% (the issue's bound; the fixed part of the process is left out)."""
    s = make_server()
    c = s.client()
    m0 = c.info("memory")
    flood(c, 500000)
    m1 = c.info("memory")
    grown_used = m1["used_memory"] - m0["used_memory"]
    grown_rss = m1["used_memory_rss"] - m0["used_memory_rss"]
    ratio = grown_used / grown_rss
    print("used_memory grew %d, RSS %d: ratio %.3f" % (grown_used, grown_rss, ratio))
    assert 0.9 <= ratio <= 1.1


@plain_build_only
def test_rss_follows_used_memory_under_eviction(make_server):
    """Under eviction churn (4x the ceiling written) the process's memory stays with the
    accounting: RSS grows no more than 10% beyond the peak of used_memory. (Longer churn with
    reads, bench/hitratio's 10 M requests at 64 MB, is where per-thread malloc arenas used to
    strand freed segments, 84 MiB of RSS for 57 MiB used; main.c's M_ARENA_MAX: 61 MiB. That
    run is too long for the tests; this one checks the accounting itself.)"""
    s = make_server("--maxmemory", str(32 << 20), "--maxmemory-policy", "allkeys-lru")
    c = s.client()
    m0 = c.info("memory")
    peak = flood(c, 1500000)
    m1 = c.info("memory")
    assert c.info("stats")["evicted_keys"] > 0
    grown_used = peak - m0["used_memory"]
    grown_rss = m1["used_memory_rss"] - m0["used_memory_rss"]
    print("used_memory grew %d at its peak, RSS %d: ratio %.3f" % (grown_used, grown_rss,
                                                                   grown_rss / grown_used))
    assert grown_rss <= grown_used * 1.1
