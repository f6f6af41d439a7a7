"""Persistence: the log, snapshots, recovery, crash safety (SIGKILL rounds), mnemo-check."""
import os
import random
import signal
import subprocess
import threading
import time

import pytest
import redis

from conftest import IO_ENGINE, ROOT, SERVER_BIN, STARTED_PROCS, free_port

CHECK_BIN = os.path.join(os.path.dirname(SERVER_BIN), "mnemo-check")


class PServer:
    """A mnemo-server on a persistence directory that outlives the process (restarts)."""

    def __init__(self, workdir, *args, env=None):
        self.workdir = workdir
        self.args = [str(a) for a in args]
        self.env = dict(os.environ, **env) if env else None
        self.port = free_port()
        self.proc = None
        self.logs = []

    def start(self, *extra, expect_fail=False, wait=True):
        log_path = os.path.join(self.workdir, "server-%d.log" % len(self.logs))
        self.logs.append(log_path)
        self.log = open(log_path, "wb")
        cmd = [SERVER_BIN, "--port", str(self.port), "--bind", "127.0.0.1",
               "--dir", self.workdir, "--appendonly", "yes", "--io-engine", IO_ENGINE]
        cmd += self.args + [str(a) for a in extra]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env)
        STARTED_PROCS.append(self.proc)  # killed after the test if still running
        if not wait:  # the caller polls (e.g. to see the load in progress)
            return None
        if expect_fail:
            code = self.proc.wait(30)
            self.log.close()
            return code
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                c = redis.Redis(port=self.port, socket_timeout=1)
                c.ping()
                c.close()
                return None
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(0.05)
        raise RuntimeError("server did not start:\n" + self.read_log())

    def client(self, **kw):
        kw.setdefault("socket_timeout", 20)
        return redis.Redis(port=self.port, **kw)

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.logs[-1], "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(20)
            self.log.close()
            assert code == 0, self.read_log()[-3000:]
        elif self.proc and not self.log.closed:
            self.log.close()

    def pdir(self):
        return os.path.join(self.workdir, "appendonlydir")

    def segments(self):
        return sorted(f for f in os.listdir(self.pdir()) if f.endswith(".mlog"))


def state(c, dbs=range(16)):
    """Every key of every database: value, version and absolute expiry, byte-exact."""
    out = {}
    for db in dbs:
        c.execute_command("SELECT", db)
        for k in c.keys("*"):
            at = c.pexpiretime(k)
            got = c.execute_command("MN.GETVER", k)
            if got is None:  # expired since KEYS listed it: only a key with a deadline may
                assert at != -1, (db, k)
                continue
            out[(db, k)] = (got[0], got[1], at)
    c.execute_command("SELECT", 0)
    return out


def test_round_trip_every_change(workdir):
    s = PServer(workdir, "--appendfsync", "always")
    s.start()
    c = s.client()
    big = bytes(range(256)) * 2000
    c.set(b"bin\x00key", b"\x00\x01\r\n")
    c.set("", "empty key")
    c.set("big", big)
    c.set("ttl", "x", px=3600000)
    c.set("pexat", "y")
    c.pexpireat("pexat", int(time.time() * 1000) + 7200000)
    c.set("persisted", "z", ex=100)
    c.persist("persisted")
    c.incrby("counter", 41)
    c.incr("counter")
    c.incrbyfloat("float", "1.5")
    c.append("app", "abc")
    c.setrange("app", 10, "z")
    c.mset({"m1": "1", "m2": "2"})
    c.set("gone", "1")
    c.delete("gone")
    c.set("src", "moved", ex=500)
    c.rename("src", "dst")
    c.move("dst", 3)
    c.execute_command("COPY", "m1", "m1copy", "DB", "4")
    c.execute_command("SELECT", 5)
    c.set("in5", "x")
    c.execute_command("SWAPDB", 5, 6)
    c.execute_command("SELECT", 7)
    c.set("flushed", "x")
    c.execute_command("FLUSHDB")
    c.execute_command("SELECT", 0)
    p = c.pipeline(transaction=True)
    p.set("t1", "a").set("t2", "b").incr("t3")
    p.execute()
    c.getdel("m2")
    c.getex("m1", px=900000)
    before = state(c)
    assert len(before) >= 15
    s.stop()
    s.start()
    assert state(s.client()) == before
    # Through a snapshot as well.
    c = s.client()
    assert c.save()
    c.set("after", "snap")
    before = state(c)
    s.stop()
    s.start()
    assert state(s.client()) == before
    s.stop()


def run_writer(port, cid, stop, result):
    """A client with its own keys; records its acknowledged history and the op in flight."""
    rnd = random.Random(cid * 7919 + int(time.time()))
    c = redis.Redis(port=port, socket_timeout=20)
    model = {}
    keys = ["c%d:k%d" % (cid, i) for i in range(5)]
    seq = 0
    inflight = None
    try:
        while not stop.is_set():
            seq += 1
            kind = rnd.choice(["set", "set", "incr", "del", "expire", "multi"])
            k = rnd.choice(keys)
            if kind == "set":
                op = [("set", k, "v%d-%d" % (cid, seq))]
            elif kind == "incr":
                op = [("incr", "c%d:n" % cid)]
            elif kind == "del":
                op = [("del", k)]
            elif kind == "expire":
                op = [("expire", k)]
            else:
                tag = "tx%d-%d" % (cid, seq)
                op = [("set", "c%d:a" % cid, tag), ("set", "c%d:b" % cid, tag),
                      ("incr", "c%d:n" % cid)]
            inflight = op
            if kind == "multi":
                p = c.pipeline(transaction=True)
                for o in op:
                    if o[0] == "set":
                        p.set(o[1], o[2])
                    else:
                        p.incr(o[1])
                p.execute()
            elif kind == "set":
                c.set(k, op[0][2])
            elif kind == "incr":
                c.incr(op[0][1])
            elif kind == "del":
                c.delete(k)
            else:
                c.expire(k, 100000)
            apply_ops(model, op)
            inflight = None
    except (redis.ConnectionError, redis.TimeoutError, ConnectionResetError):
        pass
    result[cid] = (model, inflight)


def apply_ops(model, ops):
    for o in ops:
        if o[0] == "set":
            model[o[1]] = (o[2], False)
        elif o[0] == "incr":
            v = int(model.get(o[1], ("0", False))[0]) + 1
            model[o[1]] = (str(v), model.get(o[1], ("0", False))[1])
        elif o[0] == "del":
            model.pop(o[1], None)
        elif o[0] == "expire":
            if o[1] in model:
                model[o[1]] = (model[o[1]][0], True)


def observed(c, cid):
    keys = ["c%d:k%d" % (cid, i) for i in range(5)] + ["c%d:%s" % (cid, x) for x in "abn"]
    out = {}
    for k in keys:
        v = c.get(k)
        if v is not None:
            out[k] = (v.decode(), c.ttl(k) > 0)
    return out


def crash_rounds(workdir, fsync, rounds, writers=4):
    s = PServer(workdir, "--appendfsync", fsync, "--auto-aof-rewrite-min-size", "64kb")
    rnd = random.Random(12345)
    s.start()
    models = {}
    for r in range(rounds):
        if r == rounds // 2:
            try:
                s.client().bgsave()  # a snapshot in the middle of the history
            except redis.ResponseError as e:
                # An automatic log rewrite (the same operation) may be running already.
                assert "already in progress" in str(e), e
        stop = threading.Event()
        result = {}
        threads = [threading.Thread(target=run_writer, args=(s.port, cid, stop, result))
                   for cid in range(writers)]
        for t in threads:
            t.start()
        time.sleep(rnd.uniform(0.1, 0.6))
        s.kill()  # SIGKILL at a random moment, writers mid-flight
        stop.set()
        for t in threads:
            t.join(30)
        s.start()
        c = s.client()
        for cid in range(writers):
            model, inflight = result[cid]
            got = observed(c, cid)
            with_inflight = dict(model)
            if inflight:
                apply_ops(with_inflight, inflight)
            # Every acknowledged write is there; the one in flight is all there or not at all.
            assert got in (model, with_inflight), (
                "round %d client %d\nexpected %r\nor       %r\ngot      %r\n%s" %
                (r, cid, model, with_inflight, got, s.read_log()[-2000:]))
        # Next round starts from a clean slate for the model.
        c.flushall()
    s.stop()
    return s


def test_crash_always_keeps_every_acknowledged_write(workdir):
    s = crash_rounds(workdir, "always", 12)
    assert "Persistence: loaded" in s.read_log()


def test_crash_everysec_process_crash_loses_nothing(workdir):
    # A crash of the process (not of the machine): with everysec the log is in the kernel
    # before any reply leaves, so the state is the whole acknowledged history (a prefix of it
    # plus possibly the operation in flight).
    crash_rounds(workdir, "everysec", 8)


def test_torn_tail_truncated_with_warning(workdir):
    s = PServer(workdir)
    s.start()
    c = s.client()
    for i in range(100):
        c.set("k%d" % i, "v%d" % i)
    s.kill()
    seg = os.path.join(s.pdir(), s.segments()[-1])
    with open(seg, "rb") as f:
        data = f.read()
    # Killed, the server leaves the preallocated rest of the mapped segment: zeros.
    end = len(data.rstrip(b"\0"))
    assert end < len(data)
    with open(seg, "r+b") as f:
        f.truncate(end - 5)
    s.start()
    assert "torn record" in s.read_log()
    c = s.client()
    assert c.dbsize() == 99
    assert c.get("k98") == b"v98" and c.get("k99") is None
    s.stop()


def test_corruption_refused_then_repaired_with_mnemo_check(workdir):
    s = PServer(workdir)
    s.start()
    c = s.client()
    for i in range(300):
        c.set("k%d" % i, "v%d" % i)
    s.stop()
    seg = os.path.join(s.pdir(), s.segments()[-1])
    with open(seg, "r+b") as f:
        f.seek(os.path.getsize(seg) // 3)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x04]))
    assert s.start(expect_fail=True) == 1
    log = s.read_log()
    assert "appendonly.aof.1.incr.mlog is corrupt at offset" in log, log
    p = subprocess.run([CHECK_BIN, s.pdir()], capture_output=True, text=True)
    assert p.returncode == 2 and "CORRUPT at offset" in p.stderr, (p.stdout, p.stderr)
    p = subprocess.run([CHECK_BIN, "--fix", s.pdir()], capture_output=True, text=True)
    assert p.returncode == 0, (p.stdout, p.stderr)
    s.start()
    n = s.client().dbsize()
    assert 50 < n < 300
    s.stop()


def test_snapshot_commands_and_info(workdir):
    s = PServer(workdir, "--save", "3600 1 300 100")
    s.start()
    c = s.client(decode_responses=True)
    assert c.config_get("appendonly") == {"appendonly": "yes"}
    assert c.config_get("save") == {"save": "3600 1 300 100"}
    assert c.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert c.config_set("appendfsync", "always")
    assert c.config_get("appendfsync") == {"appendfsync": "always"}
    with pytest.raises(redis.ResponseError):
        c.config_set("appendfsync", "sometimes")
    with pytest.raises(redis.ResponseError):
        c.config_set("save", "10")
    for i in range(1000):
        c.set("k%d" % i, i)
    info = c.info("persistence")
    assert info["aof_enabled"] == 1
    assert info["rdb_changes_since_last_save"] == 1000
    assert info["aof_last_write_status"] == "ok"
    last = c.lastsave()
    time.sleep(1.1)
    assert c.bgsave()
    deadline = time.time() + 20
    while c.info("persistence")["rdb_bgsave_in_progress"] and time.time() < deadline:
        time.sleep(0.05)
    info = c.info("persistence")
    assert info["rdb_last_bgsave_status"] == "ok"
    assert info["rdb_changes_since_last_save"] == 0
    assert info["aof_base_size"] > 0
    assert c.lastsave() > last
    snaps = [f for f in os.listdir(s.pdir()) if f.endswith(".msnap")]
    assert len(snaps) == 1
    assert len(s.segments()) == 1  # the log before the snapshot is gone
    c.set("after", "1")
    c.shutdown(save=True)
    s.proc.wait(20)
    s.log.close()
    assert "Saving the final snapshot" in s.read_log()
    s.start()
    c = s.client(decode_responses=True)
    assert c.dbsize() == 1001
    assert c.info("persistence")["aof_enabled"] == 1
    s.stop()


def test_save_schedule_takes_snapshots(workdir):
    s = PServer(workdir, "--save", "1 5")
    s.start()
    c = s.client()
    for i in range(10):
        c.set("k%d" % i, i)
    deadline = time.time() + 20
    while time.time() < deadline:
        if c.info("persistence")["rdb_saves"] >= 1:
            break
        time.sleep(0.1)
    assert c.info("persistence")["rdb_saves"] >= 1
    s.stop()


def test_automatic_log_rewrite(workdir):
    s = PServer(workdir, "--auto-aof-rewrite-min-size", "100kb",
                "--auto-aof-rewrite-percentage", "100")
    s.start()
    c = s.client()
    p = c.pipeline(transaction=False)
    for i in range(20000):
        p.set("same-key", "x" * 20)
    p.execute()
    # A rewrite may start while the pipeline still writes (the log passes 100kb early): its
    # new log then holds the rest, and a later rewrite compacts that. Poll for the result.
    deadline = time.time() + 60
    while time.time() < deadline:
        info = c.info("persistence")
        if info["aof_rewrites"] >= 1 and info["aof_current_size"] < 100 * 1024:
            break
        time.sleep(0.1)
    info = c.info("persistence")
    assert info["aof_rewrites"] >= 1
    assert info["aof_current_size"] < 100 * 1024
    s.stop()
    s.start()
    assert s.client().get("same-key") == b"x" * 20
    s.stop()


def test_persistence_off_by_default(server):
    c = server.client(decode_responses=True)
    assert c.config_get("appendonly") == {"appendonly": "no"}
    assert c.info("persistence")["aof_enabled"] == 0
    with pytest.raises(redis.ResponseError, match="persistence is off"):
        c.bgsave()
    assert not os.path.exists(os.path.join(server.dir, "appendonlydir"))


def test_always_replies_only_after_fsync(workdir):
    # One client, nothing else writing: when a write's reply arrives, its record must already
    # be durable, which the next command (INFO, formatted when it runs) can see.
    s = PServer(workdir, "--appendfsync", "always")
    s.start()
    c = s.client(decode_responses=True)
    for i in range(200):
        c.set("k%d" % i, i)
        info = c.info("persistence")
        assert info["mnemo_log_durable_lsn"] >= info["mnemo_log_appended_lsn"] == i + 1, info
    s.stop()


def test_compressed_values_survive_log_and_snapshot(workdir):
    """Values the store keeps LZ4-compressed are logged and snapshotted as written: byte-exact
    after a restart from the log, and after one from a snapshot, with compression on or off."""
    s = PServer(workdir, "--appendfsync", "always")
    s.start()
    c = s.client()
    doc = b'{"user": %d, "name": "someone", "tags": ["a", "b", "c"], "text": "' + b"lorem " * 60
    vals = {b"doc:%d" % i: (doc % i) + b'"}' for i in range(200)}
    for k, v in vals.items():
        c.set(k, v)
    c.append(b"doc:0", b" appended")
    vals[b"doc:0"] += b" appended"
    c.setrange(b"doc:1", 10, b"XYZ")
    vals[b"doc:1"] = vals[b"doc:1"][:10] + b"XYZ" + vals[b"doc:1"][13:]
    assert int(c.info("memory")["compressed_values"]) >= 200
    before = state(c, dbs=[0])
    s.stop()
    s.start()  # from the log
    c = s.client()
    assert state(c, dbs=[0]) == before
    assert all(c.get(k) == v for k, v in vals.items())
    c.bgsave()
    deadline = time.time() + 30
    while c.info("persistence")["rdb_bgsave_in_progress"] and time.time() < deadline:
        time.sleep(0.05)
    s.stop()
    s.start("--compression", "no")  # from the snapshot, stored plain this time
    c = s.client()
    assert state(c, dbs=[0]) == before
    assert int(c.info("memory")["compressed_values"]) == 0
    s.stop()
