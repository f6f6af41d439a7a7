"""Persistence modes: snapshots only (save with appendonly no), and CONFIG SET appendonly yes/no
at run time. A switch-on's base snapshot is followed to completion by polling INFO; no test
bounds wall-clock time (the timeouts are generous limits for a stuck server)."""
import os
import time

import pytest
import redis

from test_persistence import PServer

WAIT = 60  # seconds: a limit for a stuck server, not a performance bound


def wait_for(cond, what, timeout=WAIT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def pfiles(s, suffix):
    if not os.path.isdir(s.pdir()):
        return []
    return sorted(f for f in os.listdir(s.pdir()) if f.endswith(suffix))


def wait_snapshot_done(c):
    wait_for(lambda: not c.info("persistence")["rdb_bgsave_in_progress"], "the snapshot")


def wait_log_on(c):
    def on():
        info = c.info("persistence")
        return info["mnemo_log_state"] == "on" and not info["aof_rewrite_in_progress"]
    wait_for(on, "the log to be on")


def fill(c, n, prefix="k", start=0):
    p = c.pipeline(transaction=False)
    for i in range(start, start + n):
        p.set("%s%d" % (prefix, i), "v%d" % i)
    p.execute()


def test_snapshots_only_round_trip_writes_no_log(workdir):
    s = PServer(workdir, "--appendonly", "no", "--save", "3600 1")
    s.start()
    c = s.client(decode_responses=True)
    info = c.info("persistence")
    assert info["aof_enabled"] == 0 and info["mnemo_log_state"] == "off"
    fill(c, 2000)
    c.set("ttl", "x", ex=3600)
    assert info["rdb_changes_since_last_save"] == 0
    assert c.info("persistence")["rdb_changes_since_last_save"] == 2001
    assert c.bgsave()
    wait_snapshot_done(c)
    info = c.info("persistence")
    assert info["rdb_last_bgsave_status"] == "ok"
    assert info["rdb_changes_since_last_save"] == 0
    c.set("after-snapshot", "lost on a crash")
    assert pfiles(s, ".mlog") == []
    assert len(pfiles(s, ".msnap")) == 1
    s.kill()
    s.start()
    c = s.client(decode_responses=True)
    assert c.dbsize() == 2001
    assert c.get("k1999") == "v1999" and 0 < c.ttl("ttl") <= 3600
    assert c.get("after-snapshot") is None  # snapshots only: what followed it is gone
    assert pfiles(s, ".mlog") == []
    s.stop()


def test_snapshots_only_save_schedule_and_shutdown(workdir):
    s = PServer(workdir, "--appendonly", "no", "--save", "1 5")
    s.start()
    c = s.client(decode_responses=True)
    fill(c, 10)
    wait_for(lambda: c.info("persistence")["rdb_saves"] >= 1, "a scheduled snapshot")
    assert c.save()
    fill(c, 10, prefix="more")
    s.stop()  # a save schedule: SHUTDOWN takes a final snapshot
    assert "Saving the final snapshot" in s.read_log()
    s.start()
    c = s.client(decode_responses=True)
    assert c.dbsize() == 20
    assert pfiles(s, ".mlog") == []
    s.stop()


def test_save_empty_and_appendonly_no_is_memory_only(workdir):
    s = PServer(workdir, "--appendonly", "no", "--save", "")
    s.start()
    c = s.client(decode_responses=True)
    c.set("a", "1")
    with pytest.raises(redis.ResponseError, match="persistence is off"):
        c.bgsave()
    assert not os.path.exists(s.pdir())
    s.stop()


@pytest.mark.parametrize("start", [[], ["--save", "3600 1"]], ids=["memory", "snapshots"])
def test_config_set_appendonly_yes_then_crash_keeps_everything(workdir, start):
    s = PServer(workdir, "--appendonly", "no", *start)
    s.start()
    c = s.client(decode_responses=True)
    fill(c, 20000)
    assert c.config_set("appendonly", "yes")
    assert c.config_get("appendonly") == {"appendonly": "yes"}
    # Written while the base snapshot may still run: acknowledged, so never lost.
    fill(c, 500, prefix="during")
    wait_log_on(c)
    info = c.info("persistence")
    assert info["aof_enabled"] == 1 and info["aof_rewrite_in_progress"] == 0
    assert info["aof_last_bgrewrite_status"] == "ok"
    fill(c, 500, prefix="after")
    c.incr("counter")
    assert len(pfiles(s, ".mlog")) == 1
    s.kill()
    s.start("--appendonly", "yes")
    c = s.client(decode_responses=True)
    assert c.dbsize() == 21001
    assert c.get("k19999") == "v19999"
    assert c.get("during499") == "v499" and c.get("after499") == "v499"
    assert c.get("counter") == "1"
    s.stop()


def test_config_set_appendonly_yes_under_always(workdir):
    s = PServer(workdir, "--appendonly", "no", "--save", "3600 1", "--appendfsync", "always")
    s.start()
    c = s.client(decode_responses=True)
    fill(c, 5000)
    assert c.config_set("appendonly", "yes")
    for i in range(50):
        c.set("during%d" % i, i)
        info = c.info("persistence")
        # A reply leaves only once its change is recoverable.
        assert info["mnemo_log_durable_lsn"] >= info["mnemo_log_appended_lsn"], info
    wait_log_on(c)
    s.kill()
    s.start("--appendonly", "yes")
    assert s.client().dbsize() == 5050
    s.stop()


def test_config_set_appendonly_no_stops_the_log(workdir):
    s = PServer(workdir, "--save", "3600 1")  # appendonly yes
    s.start()
    c = s.client(decode_responses=True)
    fill(c, 1000)
    assert c.info("persistence")["aof_enabled"] == 1
    assert c.config_set("appendonly", "no")
    info = c.info("persistence")
    assert info["aof_enabled"] == 0 and info["mnemo_log_state"] == "off"
    segs = {f: os.path.getsize(os.path.join(s.pdir(), f)) for f in pfiles(s, ".mlog")}
    lsn = info["mnemo_log_appended_lsn"]
    fill(c, 100, prefix="unlogged")
    assert c.info("persistence")["mnemo_log_appended_lsn"] == lsn
    assert {f: os.path.getsize(os.path.join(s.pdir(), f)) for f in pfiles(s, ".mlog")} == segs
    # The files still hold the state as of the switch; the next snapshot replaces the log.
    assert c.bgsave()
    wait_snapshot_done(c)
    assert pfiles(s, ".mlog") == []
    c.set("after-snapshot", "x")
    s.kill()
    s.start("--appendonly", "no")
    c = s.client(decode_responses=True)
    assert c.dbsize() == 1100
    assert c.get("after-snapshot") is None
    # And on again, from snapshots only.
    assert c.config_set("appendonly", "yes")
    wait_log_on(c)
    c.set("logged", "y")
    s.kill()
    s.start()
    assert s.client().dbsize() == 1101
    s.stop()


def test_restart_switches_modes(workdir):
    # A directory written with the log, started snapshots only: all of it is loaded (the log
    # is replayed), nothing more is logged, and the next snapshot drops the log.
    s = PServer(workdir)
    s.start()
    c = s.client()
    fill(c, 300)
    s.kill()
    s.start("--appendonly", "no", "--save", "3600 1")
    c = s.client(decode_responses=True)
    assert c.dbsize() == 300
    assert c.info("persistence")["aof_enabled"] == 0
    assert c.save()
    assert pfiles(s, ".mlog") == []
    s.stop()
    # Snapshots only, started with the log: a log starts after the snapshot.
    s.start()
    c = s.client(decode_responses=True)
    assert c.dbsize() == 300
    c.set("x", "y")
    s.kill()
    s.start()
    assert s.client().dbsize() == 301
    s.stop()


def test_loading_replies_while_the_directory_loads(workdir):
    s = PServer(workdir)
    s.start()
    c = s.client()
    fill(c, 1000)
    assert c.save()
    fill(c, 200, prefix="logged")
    s.stop()
    # key-load-delay (testing only) makes each key take 4 ms: the load lasts seconds, and
    # listeners are up from the start.
    s.start("--key-load-delay", "4000", wait=False)
    c = s.client(decode_responses=True, socket_timeout=20)
    seen = None

    def loading_info():
        nonlocal seen
        try:
            seen = c.info("persistence")
            # The total is known once the manifest is read, a moment after the listeners.
            return seen["loading"] == 0 or seen["loading_total_bytes"] > 0
        except redis.ConnectionError:
            if s.proc.poll() is not None:
                raise AssertionError("server exited:\n" + s.read_log())
            return False
    wait_for(loading_info, "the listeners")
    assert seen["loading"] == 1, "the load was over before a client got in: %r" % seen
    assert seen["loading_total_bytes"] > 0
    assert "loading_loaded_perc" in seen and "loading_eta_seconds" in seen
    with pytest.raises(redis.BusyLoadingError, match="Redis is loading the dataset in memory"):
        c.get("k1")
    with pytest.raises(redis.BusyLoadingError):
        c.ping()  # as Redis: PING is not allowed while loading
    with pytest.raises(redis.BusyLoadingError):
        c.set("x", "y")
    with pytest.raises(redis.BusyLoadingError):
        c.execute_command("WATCH", "k1")  # allowed while loading in Redis; it names keys
    assert c.lastsave()  # allowed while loading (CMD_LOADING), as INFO, TIME, CONFIG GET
    assert c.time()
    assert c.config_get("appendonly") == {"appendonly": "yes"}
    wait_for(lambda: c.info("persistence")["loading"] == 0, "the end of the load", 300)
    assert c.dbsize() == 1200
    assert c.get("logged199") == "v199"
    assert c.info("persistence")["mnemo_loaded_keys"] == 1200
    s.stop()


def _unique_writer(port, wid, stop, out):
    """Writes unique keys one by one; records (sent_at, key) for every acknowledged one."""
    c = redis.Redis(port=port, socket_timeout=30)
    acked = []
    n = 0
    try:
        while not stop.is_set():
            key = "w%d:%d" % (wid, n)
            sent = time.monotonic()
            c.set(key, "x")
            acked.append((sent, key))
            n += 1
    except (redis.ConnectionError, redis.TimeoutError, ConnectionResetError):
        pass
    out[wid] = acked


@pytest.mark.parametrize("fsync", ["everysec", "always"])
def test_crash_during_switch_on_loses_nothing_acknowledged(workdir, fsync):
    # Writers run while appendonly is switched on and the server is killed at a random moment,
    # often while the base snapshot is still being written. Every write sent after CONFIG SET
    # returned and acknowledged must survive; earlier ones were made in memory-only mode.
    import random
    import threading
    rnd = random.Random(7)
    for rnd_round in range(3):
        s = PServer(workdir, "--appendonly", "no", "--appendfsync", fsync)
        s.start()
        fill(s.client(), 20000, prefix="base%d-" % rnd_round)
        stop = threading.Event()
        out = {}
        threads = [threading.Thread(target=_unique_writer, args=(s.port, w, stop, out))
                   for w in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        assert s.client().config_set("appendonly", "yes")
        switched = time.monotonic()
        time.sleep(rnd.uniform(0.0, 0.3))
        s.kill()
        stop.set()
        for t in threads:
            t.join(60)
        s.start("--appendonly", "yes")
        c = s.client()
        must = [k for acked in out.values() for (sent, k) in acked if sent > switched]
        if must:
            got = c.mget(must)
            missing = [k for k, v in zip(must, got) if v is None]
            assert not missing, "round %d: %d acknowledged writes lost, e.g. %r\n%s" % (
                rnd_round, len(missing), missing[:5], s.read_log()[-2000:])
        c.flushall()
        s.stop()
        shutil_rm(s.pdir())


def shutil_rm(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)
