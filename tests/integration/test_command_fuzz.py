"""Random command sequences against a real server.

Every command of the command table, with arguments drawn from pools of keys, numbers at and
beyond the limits of their parsers, option words, patterns and values of every size, in
pipelined batches on one connection. Argument counts follow COMMAND INFO's arity (mostly) and
keys go where its key positions say, so that most commands get past their arity checks. Each
batch ends with RESET and an ECHO of a token, so that whatever state a batch left (MULTI,
subscribed, RESP3, CLIENT REPLY OFF, another database) is undone and the replies can be read
up to the token, every one of them parsed.

The server must answer every batch, stay up, never reply "internal error", and exit with
status 0 and no sanitizer report. With the log on, a clean stop and a start on the same
directory must bring back every key byte-exact, version and deadline included.
`scripts/test.sh asan` runs this file (and the rest of the suite) against the ASan+UBSan build
of the server, so that the command handlers run under the sanitizers, not only the library.
It found a use after free in SET ... GET of large compressible values and a signed overflow in
EXPIRETIME.

Deterministic: MNEMO_CMD_FUZZ_SEED (default 1) and MNEMO_CMD_FUZZ_N (commands per test)
reproduce a run; a failure names the seed and the batch.
"""
import os
import random
import socket
import threading
import time

import pytest

from conftest import Err, RawClient, Server, stop_and_check
from test_persistence import PServer, state

SEED = int(os.environ.get("MNEMO_CMD_FUZZ_SEED", "1"))
N = int(os.environ.get("MNEMO_CMD_FUZZ_N", "60000"))
BATCH = 40

KEYS = [b"k0", b"k1", b"k2", b"k3", b"{k}4", b"", b"k\x00\xff", b"key:000000000001",
        b"counter:1", b"x" * 70, b"x" * 300]
NUMBERS = [b"0", b"1", b"-1", b"2", b"3", b"10", b"100", b"1000", b"100000",
           b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
           b"-9223372036854775809", b"18446744073709551615", b"4294967296", b"2147483648",
           b"-2147483649", b"536870912", b"1.5", b"-0.0", b"1e3", b"1e400", b"inf", b"-inf",
           b"+inf", b"nan", b"+1", b" 1", b"1 ", b"0x1f", b"", b"00", b"-", b"0.1e-320",
           b"17976931348623157e292", b"1" * 40]
WORDS = [b"EX", b"PX", b"EXAT", b"PXAT", b"NX", b"XX", b"GT", b"LT", b"KEEPTTL", b"GET",
         b"PERSIST", b"MATCH", b"COUNT", b"TYPE", b"ASYNC", b"SYNC", b"REPLACE", b"DB",
         b"SETNAME", b"AUTH", b"ID", b"ON", b"OFF", b"SKIP", b"YES", b"NO", b"string",
         b"none", b"SCHEDULE", b"SAMPLES", b"WITHSCORES", b"NOSAVE", b"SAVE", b"ABORT",
         b"default", b"ADDR", b"LADDR", b"USER", b"SKIPME", b"normal", b"pubsub", b"master"]
PATTERNS = [b"*", b"k?", b"k[0-2]", b"[a-", b"\\", b"[^k]*", b"****", b"k*\\", b"*[",
            b"?" * 40, b"*a*a*a*a*a*a*a*a*b", b"[\\]", b"[z-a]*"]
SUBCOMMANDS = {
    b"CLIENT": [b"ID", b"SETNAME", b"GETNAME", b"LIST", b"INFO", b"KILL", b"NO-EVICT",
                b"REPLY", b"HELP", b"NOPE"],
    b"CONFIG": [b"GET", b"SET", b"RESETSTAT", b"HELP", b"NOPE"],
    b"OBJECT": [b"ENCODING", b"FREQ", b"IDLETIME", b"REFCOUNT", b"HELP", b"NOPE"],
    b"MEMORY": [b"USAGE", b"STATS", b"DOCTOR", b"HELP", b"NOPE"],
    b"SLOWLOG": [b"GET", b"LEN", b"RESET", b"HELP", b"NOPE"],
    b"LATENCY": [b"LATEST", b"HISTORY", b"RESET", b"HELP", b"NOPE"],
    b"PUBSUB": [b"CHANNELS", b"NUMSUB", b"NUMPAT", b"HELP", b"NOPE"],
    b"COMMAND": [b"COUNT", b"INFO", b"DOCS", b"LIST", b"GETKEYS", b"HELP", b"NOPE"],
    b"DEBUG": [b"OBJECT"],
}
# Settings CONFIG SET may change here: none that locks the test out (requirepass, bind,
# port, maxclients), moves files (dir, appendonly, save, logfile) or waits (hz is bounded).
CONFIG_SET = {
    b"maxmemory": [b"0", b"1mb", b"64mb", b"100", b"-1", b"1gb", b"x"],
    b"maxmemory-policy": [b"allkeys-s3fifo", b"allkeys-lru", b"noeviction",
                          b"volatile-ttl", b"bogus"],
    b"compression": [b"yes", b"no", b"maybe"],
    b"compression-threshold": [b"0", b"16", b"64", b"-5", b"99999999999"],
    b"notify-keyspace-events": [b"", b"KEA", b"Kx", b"zzz", b"g$"],
    b"slowlog-log-slower-than": [b"0", b"-1", b"10000", b"x"],
    b"slowlog-max-len": [b"0", b"1", b"128", b"-3"],
    b"latency-monitor-threshold": [b"0", b"1", b"100"],
    b"hz": [b"1", b"10", b"500", b"0"],
}
# Not sent: SHUTDOWN (ends the server), QUIT (ends the connection; RESET covers its state),
# DEBUG subcommands other than OBJECT (SLEEP waits), SAVE and BGSAVE are rare (they write the
# whole store to disk).
SKIP = {b"SHUTDOWN", b"QUIT"}
RARE = {b"SAVE", b"BGSAVE", b"BGREWRITEAOF", b"FLUSHALL", b"FLUSHDB", b"SWAPDB"}
SUBSCRIBING = {b"SUBSCRIBE", b"PSUBSCRIBE"}


def command_table(raw):
    """{NAME: (arity, first key, last key, step)} from COMMAND INFO."""
    names = raw.call("COMMAND", "LIST")
    assert isinstance(names, list) and len(names) > 50, names
    table = {}
    for info in raw.call("COMMAND", "INFO", *names):
        name = info[0].upper()
        if name not in SKIP:
            table[name] = (info[1], info[3], info[4], info[5])
    return table


def value(rng):
    r = rng.random()
    if r < 0.45:
        return rng.choice(NUMBERS)
    if r < 0.75:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 24)))
    if r < 0.97:
        return b"v" * rng.randrange(0, 2000)
    return bytes([rng.randrange(256)]) * rng.randrange(50000, 300000)


def arg(rng):
    r = rng.random()
    if r < 0.35:
        return rng.choice(KEYS)
    if r < 0.55:
        return rng.choice(NUMBERS)
    if r < 0.75:
        return rng.choice(WORDS)
    if r < 0.82:
        return rng.choice(PATTERNS)
    return value(rng)


def command(rng, table, names):
    name = rng.choice(names)
    if name in RARE and rng.random() < 0.9:
        name = b"GET"
    if name in SUBSCRIBING and rng.random() < 0.8:
        name = b"PUBLISH"  # a subscribed connection refuses most commands until the RESET
    args = [name]
    if name in SUBCOMMANDS:
        sub = rng.choice(SUBCOMMANDS[name])
        args.append(sub)
        if name == b"CONFIG" and sub == b"SET":
            setting = rng.choice(list(CONFIG_SET))
            return args + [setting, rng.choice(CONFIG_SET[setting])]
        if name == b"CONFIG" and sub == b"GET":
            return args + [rng.choice([b"*", b"max*", b"hz", b"nope", b"[", b"appendfsync"])]
    elif name == b"SELECT":
        return args + [rng.choice([b"0", b"1", b"15", b"16", b"-1", b"x"])]
    elif name in (b"SUBSCRIBE", b"PSUBSCRIBE", b"UNSUBSCRIBE", b"PUNSUBSCRIBE"):
        return args + [rng.choice(KEYS + PATTERNS) for _ in range(rng.randrange(0, 4))]
    elif name == b"HELLO":
        out = args + [rng.choice([b"2", b"3", b"1", b"4", b"x"])]
        if rng.random() < 0.5:
            out += [rng.choice([b"SETNAME", b"AUTH"]), rng.choice(KEYS), rng.choice(KEYS)]
        return out
    elif name == b"SETRANGE":
        # An offset the server accepts is allocated: stay far below proto-max-bulk-len's
        # 512 MB, or at or past it (refused), never in between.
        off = rng.choice([b"0", b"1", b"100", b"65535", b"1048576", b"-1", b"536870912",
                          b"9223372036854775807", b"x"])
        return args + [rng.choice(KEYS), off, value(rng)]
    if len(args) > 1:  # NAME SUBCOMMAND: often a key next (OBJECT ENCODING key, ...)
        head = rng.choice(KEYS) if rng.random() < 0.6 else arg(rng)
        return args + [head] + [arg(rng) for _ in range(rng.randrange(0, 3))]
    arity, first, last, step = table[name]
    # Mostly the right number of arguments (arity counts the name; negative: at least), and
    # keys where the table says keys go, so that the commands get past their arity checks.
    want = abs(arity) - 1
    if arity < 0:
        want += rng.randrange(0, 6)
    if rng.random() < 0.1:
        want = rng.randrange(0, 7)
    out = [arg(rng) for _ in range(want)]
    for i in range(len(out) - 1):  # an option word mostly followed by its number
        if out[i] in WORDS and rng.random() < 0.6:
            out[i + 1] = rng.choice(NUMBERS)
    if first > 0 and rng.random() < 0.9:
        end = len(out) if last < 0 else min(last, len(out))
        for i in range(first, end + 1, step or 1):
            out[i - 1] = rng.choice(KEYS)
    return args + out


def replies_until(raw, token):
    """Reads and parses replies up to the ECHO of `token`; returns them."""
    got = []
    while True:
        v = raw.read()
        if v == token:
            return got
        got.append(v)


def check_replies(replies, where):
    for v in replies:
        if isinstance(v, Err):
            assert "internal error" not in v, "%s: %r" % (where, v)


def run_fuzz(port, alive, read_log, seed, n, only=None, others=False):
    """n random commands (of `only`, if given) on one connection to the server on `port`;
    alive() and read_log() tell on the process when the connection is lost. With `others`,
    other connections run commands too, and their CLIENT KILL may close this one."""
    rng = random.Random(seed)
    raw = RawClient(port, timeout=30)
    table = command_table(raw)
    names = sorted(n for n in table if only is None or n in only)
    sent = 0
    batch_no = 0
    while sent < n:
        batch_no += 1
        cmds = [command(rng, table, names) for _ in range(BATCH)]
        token = b"fuzz-token-%d-%d" % (seed, batch_no)
        where = "seed %d batch %d" % (seed, batch_no)
        payload = b"".join(RawClient.encode(*c) for c in cmds)
        payload += RawClient.encode("RESET") + RawClient.encode("ECHO", token)
        try:
            raw.send(payload)
            check_replies(replies_until(raw, token), where)
        except (ConnectionError, socket.timeout, OSError) as e:
            # CLIENT KILL may close this connection (its own id or address); anything else
            # closing it, or the server going away, is a failure.
            assert alive(), "%s: server died (%s):\n%s" % (where, e, read_log()[-6000:])
            killed = others or any(c[0] == b"CLIENT" and len(c) > 1 and c[1] == b"KILL"
                                   for c in cmds)
            assert killed, "%s: connection lost without CLIENT KILL: %s\n%r" % (where, e, cmds)
            raw.close()
            raw = RawClient(port, timeout=30)
        sent += BATCH
    assert raw.call("PING") == "PONG"
    raw.close()


@pytest.mark.parametrize("seed_offset,engine", [(0, "uring"), (1, "epoll")])
def test_random_commands_keep_the_server_up(seed_offset, engine):
    """One connection; two seeds, one on each I/O engine (uring falls back to epoll where the
    kernel refuses it)."""
    s = Server("--io-engine", engine)
    try:
        run_fuzz(s.port, s.alive, s.read_log, SEED * 1000 + seed_offset, N)
        c = s.client()
        assert c.ping()
        info = c.info()
        assert info["connected_clients"] >= 1
        c.close()
    finally:
        stop_and_check(s)


def test_random_commands_from_several_connections():
    """Four connections at once (spread over the workers), each with its own seed: the same
    checks, with transactions, WATCH, pub/sub, CLIENT KILL and key moves of one connection
    meeting another's. Under `scripts/test.sh asan` this runs against the sanitized server;
    against the TSan build (MNEMO_SERVER=build-tsan/mnemo-server) it looks for races."""
    s = Server()
    errors = []

    def one(seed):
        try:
            run_fuzz(s.port, s.alive, s.read_log, seed, N // 4, others=True)
        except BaseException as e:  # reported by the main thread
            errors.append("seed %d: %s" % (seed, e))

    try:
        threads = [threading.Thread(target=one, args=(SEED * 1000 + 20 + i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not any(t.is_alive() for t in threads), "a connection's fuzz did not finish"
        assert not errors, errors
        c = s.client()
        assert c.ping()
        c.close()
    finally:
        stop_and_check(s)


# Commands that write without removing keys wholesale: the second phase of the restart test,
# so that the state compared is not empty.
WRITES = {b"SET", b"SETNX", b"SETEX", b"PSETEX", b"MSET", b"MSETNX", b"GETSET", b"APPEND",
          b"SETRANGE", b"INCR", b"INCRBY", b"DECR", b"DECRBY", b"INCRBYFLOAT", b"COPY",
          b"MOVE", b"RENAME", b"RENAMENX", b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT",
          b"PERSIST", b"GETEX", b"SELECT", b"MN.CAS", b"SWAPDB", b"MULTI", b"EXEC"}


def lasting(st, now_ms, margin_ms=600_000):
    """The keys of a state() whose deadline, if any, is not within margin_ms of now."""
    return {k: v for k, v in st.items() if v[2] < 0 or v[2] > now_ms + margin_ms}


def same_lasting_keys(before, after, now_ms, what):
    b, a = lasting(before, now_ms), lasting(after, now_ms)
    assert len(b) > 0
    missing = set(b) - set(a)
    extra = set(a) - set(b)
    changed = [k for k in set(a) & set(b) if a[k] != b[k]]
    assert not (missing or extra or changed), (
        "after %s: %d missing, %d extra, %d changed, e.g. %r" %
        (what, len(missing), len(extra), len(changed),
         [(k, b.get(k), a.get(k)) for k in list(missing | extra)[:3] + changed[:3]]))


def test_random_commands_survive_a_restart(workdir):
    """The same commands with the log on (everysec; SAVE, BGSAVE and BGREWRITEAOF among
    them). After a clean stop and a start on the same directory, and again after more commands
    and a SIGKILL (everysec loses nothing acknowledged when only the process dies), every key
    of every database is back with its value, version and deadline (keys expiring within 10
    minutes aside)."""
    s = PServer(workdir, "--appendfsync", "everysec")
    s.start()
    alive = lambda: s.proc.poll() is None  # noqa: E731
    try:
        for rnd, end in enumerate(("a clean restart", "a SIGKILL and restart")):
            run_fuzz(s.port, alive, s.read_log, SEED * 1000 + 7 + 2 * rnd, N // 4)
            c = s.client()
            c.config_set("maxmemory", "0")  # the fuzz may have set a ceiling that evicts all
            run_fuzz(s.port, alive, s.read_log, SEED * 1000 + 8 + 2 * rnd, 4000, only=WRITES)
            before = state(c)
            now_ms = int(time.time() * 1000)
            c.close()
            log = s.read_log()
            assert "Sanitizer" not in log, log[-3000:]
            if rnd == 0:
                s.stop()
            else:
                s.kill()
            s.start()
            c = s.client()
            after = state(c)
            c.close()
            same_lasting_keys(before, after, now_ms, end)
    finally:
        s.stop()
