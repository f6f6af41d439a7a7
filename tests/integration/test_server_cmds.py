"""Server commands: INFO, CONFIG, TIME, DEBUG, COMMAND, SHUTDOWN."""
import time

import pytest
import redis

from conftest import Err


def test_time(raw):
    secs, usecs = raw.call("TIME")
    assert abs(int(secs) - time.time()) < 5
    assert 0 <= int(usecs) < 1000000
    assert raw.call("TIME", "x") == "ERR wrong number of arguments for 'time' command"


def test_info_sections(r, raw):
    info = r.info()
    for field in ("redis_version", "process_id", "tcp_port", "uptime_in_seconds",
                  "connected_clients", "maxclients", "used_memory", "used_memory_human",
                  "total_connections_received", "total_commands_processed",
                  "keyspace_hits", "keyspace_misses", "expired_keys"):
        assert field in info, field
    r.set("a", 1)
    r.set("b", 2, ex=100)
    ks = r.info("keyspace")
    assert ks["db0"]["keys"] == 2
    assert ks["db0"]["expires"] == 1
    assert 90000 < ks["db0"]["avg_ttl"] <= 100000
    r.execute_command("SELECT", 3)
    r.set("c", 3, px=50000)
    r.set("d", 4)
    ks = r.info("keyspace")
    assert ks["db3"]["keys"] == 2 and ks["db3"]["expires"] == 1
    assert 40000 < ks["db3"]["avg_ttl"] <= 50000
    assert ks["db0"]["expires"] == 1
    r.flushdb()
    r.execute_command("SELECT", 0)
    assert set(r.info("clients")) >= {"connected_clients", "maxclients", "blocked_clients"}
    assert "used_memory" not in r.info("clients")
    text = raw.call("INFO", "server", "stats")
    assert b"# Server" in text and b"# Stats" in text and b"# Memory" not in text
    assert raw.call("INFO", "nosuchsection") == b""
    r.get("a")
    r.get("nokey")
    st = r.info("stats")
    assert st["keyspace_hits"] >= 1 and st["keyspace_misses"] >= 1


def test_config_get_set(r, raw):
    assert r.config_get("maxclients") == {"maxclients": "10000"}
    assert r.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": "536870912"}
    assert r.config_get("client-query-buffer-limit") == {"client-query-buffer-limit": "1073741824"}
    allcfg = r.config_get("*")
    for name in ("port", "bind", "unixsocket", "threads", "databases", "maxclients", "timeout",
                 "proto-max-bulk-len", "client-query-buffer-limit",
                 "client-output-buffer-limit", "loglevel", "logfile", "save", "appendonly"):
        assert name in allcfg, name
    assert allcfg["databases"] == "16"
    assert r.config_get("maxc*") == {"maxclients": "10000"}
    assert r.config_set("timeout", "300")
    assert r.config_get("timeout") == {"timeout": "300"}
    assert r.config_set("timeout", "0")
    assert raw.call("CONFIG", "SET", "proto-max-bulk-len", "2mb") == "OK"
    assert raw.call("CONFIG", "GET", "proto-max-bulk-len") == [b"proto-max-bulk-len", b"2097152"]
    assert raw.call("CONFIG", "SET", "proto-max-bulk-len", "512mb") == "OK"
    assert raw.call("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0") == "OK"
    assert raw.call("CONFIG", "SET", "foo", "bar") == \
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    assert raw.call("CONFIG", "SET", "maxclients", "abc") == (
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument "
        "couldn't be parsed into an integer")
    assert raw.call("CONFIG", "SET", "port", "1234") == (
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable "
        "config")
    assert raw.call("CONFIG", "SET", "maxclients", "100", "timeout") == "ERR syntax error"
    # all pairs are validated before any is applied
    assert raw.call("CONFIG", "SET", "maxclients", "50", "timeout", "abc").startswith(
        "ERR CONFIG SET failed (possibly related to argument 'timeout')")
    assert raw.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"10000"]
    assert raw.call("CONFIG", "SET", "maxclients", "5000", "timeout", "0") == "OK"
    assert raw.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"5000"]
    assert raw.call("CONFIG", "SET", "maxclients", "10000") == "OK"
    assert raw.call("CONFIG", "SET", "loglevel", "verbose") == "OK"
    assert raw.call("CONFIG", "SET", "loglevel", "notice") == "OK"
    assert raw.call("CONFIG", "SET", "loglevel", "loud").startswith(
        "ERR CONFIG SET failed (possibly related to argument 'loglevel')")
    assert raw.call("CONFIG", "GET") == "ERR wrong number of arguments for 'config|get' command"
    assert raw.call("CONFIG", "FOO") == "ERR unknown subcommand 'FOO'. Try CONFIG HELP."


def test_config_resetstat(r):
    r.get("nokey")
    assert r.config_resetstat()
    st = r.info("stats")
    assert st["keyspace_misses"] == 0
    assert st["total_commands_processed"] <= 2


def test_debug_sleep(raw):
    assert raw.call("DEBUG", "SLEEP", "0") == "OK"
    assert raw.call("DEBUG", "SLEEP", "0.01") == "OK"
    assert raw.call("DEBUG", "FOO") == "ERR unknown subcommand 'FOO'. Try DEBUG HELP."


def test_command_count_info_docs(r, raw):
    n = raw.call("COMMAND", "COUNT")
    assert n >= 60
    everything = raw.call("COMMAND")
    assert len(everything) == n
    names = {e[0] for e in everything}
    for name in (b"get", b"set", b"mget", b"multi", b"exec", b"mn.cas", b"client", b"config"):
        assert name in names
    get, missing = raw.call("COMMAND", "INFO", "get", "nosuch")
    assert missing is None
    assert get[:7] == [b"get", 2, ["readonly", "fast"], 1, 1, 1, ["@read", "@string", "@fast"]]
    mset = raw.call("COMMAND", "INFO", "mset")[0]
    assert mset[1:2] == [-3] and mset[3:6] == [1, -1, 2]
    client = raw.call("COMMAND", "INFO", "client")[0]
    assert b"client|setname" in [s[0] for s in client[9]]
    docs = raw.call("COMMAND", "DOCS", "set")
    assert docs[0] == b"set"
    d = dict(zip(docs[1][::2], docs[1][1::2]))
    assert d[b"group"] == b"string" and b"summary" in d
    args = [dict(zip(a[::2], a[1::2])) for a in d[b"arguments"]]
    assert args[0][b"name"] == b"key" and args[0][b"type"] == b"key"
    assert any(a[b"type"] == b"oneof" for a in args)
    assert raw.call("COMMAND", "FOO") == "ERR unknown subcommand 'FOO'. Try COMMAND HELP."
    assert b"mn.getver" in raw.call("COMMAND", "LIST")


def test_command_lookup_every_name(raw):
    """The name lookup (cmd_lookup) for every command: found in any letter case, and not
    found once any one byte differs, a byte is dropped or one is added. The lookup reads a
    name differently by length (1-3, 4-7, 8, 9-15, 16 and more bytes); command names are 3-12
    bytes long, so names of 13 bytes and more are checked as ones that must not be found."""
    names = [n.decode() for n in raw.call("COMMAND", "LIST")]
    assert {len(n) for n in names} >= {3, 4, 7, 8, 9, 12}
    valid = set(names)
    variants, expect = [], []
    for n in names:
        for v in (n, n.upper(), n.swapcase(), n[:1].upper() + n[1:]):
            variants.append(v)
            expect.append(n)
        wrong = [n[:-1], n + "x", "x" + n, n + n, (n * 3)[:16]]
        wrong += [n[:i] + "#" + n[i + 1:] for i in range(len(n))]
        for v in wrong:
            if v and v.lower() not in valid:
                variants.append(v)
                expect.append(None)
    for i in range(0, len(variants), 200):
        got = raw.call("COMMAND", "INFO", *variants[i:i + 200])
        for v, want, info in zip(variants[i:i + 200], expect[i:i + 200], got):
            assert (info[0].decode() if info else None) == want, v
    # The empty name (the lookup's shortest case) is no command either.
    assert raw.call("COMMAND", "INFO", "") == [None]
    assert raw.call("").startswith("ERR unknown command ''")
    # Through dispatch too: three commands sent at once, parsed ahead in one pass.
    raw.send(raw.encode("InCr", "lookup:k") + raw.encode("iNcRbY", "lookup:k", "2") +
             raw.encode("INCRBYX", "lookup:k"))
    assert raw.read() == 1
    assert raw.read() == 3
    assert raw.read().startswith("ERR unknown command 'INCRBYX'")


def test_shutdown(make_server):
    s = make_server()
    c = s.raw()
    c.call("SET", "k", "v")
    assert c.call("SHUTDOWN", "FOO") == "ERR syntax error"
    c.send(c.encode("SHUTDOWN", "NOSAVE"))
    assert c.read_all_until_close() == b""
    assert s.proc.wait(10) == 0


def test_command_getkeys(raw):
    assert raw.call("COMMAND", "GETKEYS", "GET", "k") == [b"k"]
    assert raw.call("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]
    assert raw.call("COMMAND", "GETKEYS", "RENAME", "a", "b") == [b"a", b"b"]
    assert raw.call("COMMAND", "GETKEYS", "MEMORY", "USAGE", "k") == [b"k"]
    assert raw.call("COMMAND", "GETKEYS", "ECHO", "x") == "ERR The command has no key arguments"
    assert raw.call("COMMAND", "GETKEYS", "NOSUCH", "a") == "ERR Invalid command specified"
    assert raw.call("COMMAND", "GETKEYS", "GET", "a", "b") == \
        "ERR Invalid number of arguments specified for command"
    assert raw.call("COMMAND", "GETKEYS", "GET") == \
        "ERR wrong number of arguments for 'command|getkeys' command"
