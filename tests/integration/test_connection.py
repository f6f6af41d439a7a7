"""Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT, CLIENT."""
import time

import pytest
import redis

from conftest import Err


def test_ping_echo(raw):
    assert raw.call("PING") == "PONG"
    assert raw.call("PING", "hi") == b"hi"
    assert raw.call("PING", "a", "b") == "ERR wrong number of arguments for 'ping' command"
    assert raw.call("ECHO", "x\r\ny") == b"x\r\ny"
    assert raw.call("ECHO") == "ERR wrong number of arguments for 'echo' command"


def test_unknown_command_text(raw):
    assert raw.call("FOO", "bar", "baz") == \
        "ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' "
    assert raw.call("nosuch") == "ERR unknown command 'nosuch', with args beginning with: "


def test_commands_are_case_insensitive(raw):
    assert raw.call("pInG") == "PONG"
    assert raw.call("set", "k", "v") == "OK"
    assert raw.call("GeT", "k") == b"v"


def test_quit_closes_after_ok(raw):
    raw.send(raw.encode("QUIT") + raw.encode("PING"))
    assert raw.read_all_until_close() == b"+OK\r\n"


def test_reset(raw):
    raw.call("SELECT", "3")
    raw.call("CLIENT", "SETNAME", "x")
    raw.call("MULTI")
    assert raw.call("RESET") == "RESET"
    assert raw.call("CLIENT", "GETNAME") is None
    raw.call("SET", "k", "in0")
    raw.call("SELECT", "0")
    assert raw.call("GET", "k") == b"in0"


def test_hello_resp3_map(raw):
    reply = raw.call("HELLO", "3")
    assert reply[b"server"] == b"redis"
    assert reply[b"proto"] == 3
    assert reply[b"mode"] == b"standalone"
    assert reply[b"role"] == b"master"
    assert reply[b"modules"] == []
    assert isinstance(reply[b"id"], int)
    assert set(reply) == {b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"}
    # RESP3 types on the wire
    raw.send(raw.encode("GET", "nokey"))
    assert raw.sock.recv(100) == b"_\r\n"
    raw.send(raw.encode("CONFIG", "GET", "maxclients"))
    time.sleep(0.1)
    assert raw.sock.recv(100) == b"%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    reply = raw.call("HELLO", "2")
    assert isinstance(reply, list) and reply[reply.index(b"proto") + 1] == 2
    raw.send(raw.encode("GET", "nokey"))
    assert raw.sock.recv(100) == b"$-1\r\n"


def test_hello_errors(raw):
    assert raw.call("HELLO", "4") == "NOPROTO unsupported protocol version"
    assert raw.call("HELLO", "x") == "ERR Protocol version is not an integer or out of range"
    assert raw.call("HELLO", "3", "FOO") == "ERR Syntax error in HELLO option 'FOO'"
    assert raw.call("HELLO", "2", "SETNAME", "a b") == \
        "ERR Client names cannot contain spaces, newlines or special characters."
    reply = raw.call("HELLO", "2", "SETNAME", "myname")
    assert raw.call("CLIENT", "GETNAME") == b"myname"


def test_resp3_replies(raw):
    raw.call("HELLO", "3")
    raw.call("SET", "k", "v")
    assert raw.call("MGET", "k", "nokey") == [b"v", None]
    assert raw.call("MN.GETVER", "nokey") is None
    info = raw.call("INFO", "server")  # a verbatim string in RESP3
    assert b"redis_version:" in info
    assert raw.call("EXEC") == "ERR EXEC without MULTI"


def test_auth_without_password(raw):
    assert raw.call("AUTH", "x") == ("ERR AUTH <password> called without any password "
                                     "configured for the default user. Are you sure your "
                                     "configuration is correct?")
    assert raw.call("AUTH", "default", "anything") == "OK"
    assert raw.call("AUTH", "a", "b", "c") == "ERR syntax error"


def test_requirepass(make_server):
    s = make_server("--requirepass", "s3cret")
    c = s.raw()
    assert c.call("GET", "k") == "NOAUTH Authentication required."
    assert c.call("PING") == "NOAUTH Authentication required."
    assert c.call("HELLO", "3") == (
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time")
    assert c.call("AUTH", "wrong") == \
        "WRONGPASS invalid username-password pair or user is disabled."
    assert c.call("AUTH", "other", "s3cret") == \
        "WRONGPASS invalid username-password pair or user is disabled."
    assert c.call("AUTH", "s3cret") == "OK"
    assert c.call("PING") == "PONG"
    c2 = s.raw()
    reply = c2.call("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "n")
    assert reply[b"proto"] == 3
    assert c2.call("CLIENT", "GETNAME") == b"n"
    assert c2.call("RESET") == "RESET"
    assert c2.call("GET", "k") == "NOAUTH Authentication required."
    # unauthenticated clients get Redis's small limits: a big multibulk is refused
    c3 = s.raw()
    c3.send(b"*100\r\n")
    assert c3.read_all_until_close() == b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    # Limits change inside a pipeline: commands after AUTH run, and after RESET the next
    # command is held to the unauthenticated limits again (11 arguments), as in Redis.
    c4 = s.raw()
    c4.send(c4.encode("AUTH", "s3cret") + c4.encode("SET", "a", "1") + c4.encode("GET", "a"))
    assert [c4.read() for _ in range(3)] == ["OK", "OK", b"1"]
    c4.send(c4.encode("RESET") + c4.encode("MSET", *["x"] * 10))
    assert c4.read() == "RESET"
    assert c4.read_all_until_close() == b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    assert s.client(password="s3cret").ping()
    for x in (c, c2):
        x.close()


def test_client_id_name(raw):
    cid = raw.call("CLIENT", "ID")
    assert isinstance(cid, int) and cid > 0
    assert raw.call("CLIENT", "GETNAME") is None
    assert raw.call("CLIENT", "SETNAME", "worker-1") == "OK"
    assert raw.call("CLIENT", "GETNAME") == b"worker-1"
    assert raw.call("CLIENT", "SETNAME", "bad name") == \
        "ERR Client names cannot contain spaces, newlines or special characters."
    assert raw.call("CLIENT", "SETNAME", "") == "OK"
    assert raw.call("CLIENT", "GETNAME") is None
    assert raw.call("CLIENT", "FOO") == "ERR unknown subcommand 'FOO'. Try CLIENT HELP."
    assert raw.call("CLIENT") == "ERR wrong number of arguments for 'client' command"
    assert raw.call("CLIENT", "SETNAME") == \
        "ERR wrong number of arguments for 'client|setname' command"


def test_client_list_info(server, raw):
    raw.call("CLIENT", "SETNAME", "lister")
    cid = raw.call("CLIENT", "ID")
    info = raw.call("CLIENT", "INFO").decode()
    assert info.startswith("id=%d addr=127.0.0.1:" % cid)
    assert " name=lister " in info and info.endswith("\n")
    assert " cmd=client|info " in info
    other = server.client()
    other.ping()
    lst = raw.call("CLIENT", "LIST").decode()
    assert len(lst.strip().split("\n")) >= 2
    assert "name=lister" in lst
    only = raw.call("CLIENT", "LIST", "ID", str(cid)).decode()
    assert only.count("\n") == 1 and only.startswith("id=%d " % cid)
    assert raw.call("CLIENT", "LIST", "TYPE", "foo") == "ERR Unknown client type 'foo'"
    other.close()


def test_client_kill(server, raw):
    victim = server.raw()
    vid = victim.call("CLIENT", "ID")
    assert raw.call("CLIENT", "KILL", "ID", str(vid)) == 1
    assert victim.read_all_until_close() == b""
    assert raw.call("CLIENT", "KILL", "ID", str(vid)) == 0
    assert raw.call("CLIENT", "KILL", "1.2.3.4:5") == "ERR No such client"
    assert raw.call("CLIENT", "KILL", "ID", "x") == "ERR client-id should be greater than 0"
    v2 = server.raw()
    info = v2.call("CLIENT", "INFO").decode()
    addr = info.split(" addr=")[1].split(" ")[0]
    assert raw.call("CLIENT", "KILL", addr) == "OK"
    assert v2.read_all_until_close() == b""
    # skipme defaults to yes in the new form
    myid = raw.call("CLIENT", "ID")
    assert raw.call("CLIENT", "KILL", "ID", str(myid)) == 0
    assert raw.call("PING") == "PONG"
    assert raw.call("CLIENT", "KILL", "ID", str(myid), "SKIPME", "no") == 1
    assert raw.read_all_until_close() == b""


def test_client_reply(raw):
    raw.send(raw.encode("CLIENT", "REPLY", "OFF") + raw.encode("SET", "a", "1") +
             raw.encode("CLIENT", "REPLY", "ON"))
    assert raw.read() == "OK"
    raw.send(raw.encode("CLIENT", "REPLY", "SKIP") + raw.encode("SET", "b", "2") +
             raw.encode("GET", "b"))
    assert raw.read() == b"2"
    assert raw.call("GET", "a") == b"1"
    assert raw.call("CLIENT", "REPLY", "FOO") == "ERR syntax error"


def _redis_py_has_resp3():
    try:
        return int(redis.__version__.split(".")[0]) >= 5
    except ValueError:
        return False


@pytest.mark.skipif(not _redis_py_has_resp3(),
                    reason="installed redis-py (%s) has no protocol=3; RESP3 is covered by the "
                           "raw-socket tests above and by redis-cli -3" % redis.__version__)
def test_redis_py_resp3(server):
    c = server.client(protocol=3, decode_responses=True)
    c.set("k", "v")
    assert c.get("k") == "v"
    assert c.get("nokey") is None
    assert c.config_get("maxclients") == {"maxclients": "10000"}
    with c.pipeline() as p:
        p.set("a", 1).incr("a").get("a")
        assert p.execute() == [True, 2, "2"]
    c.close()


def test_client_setinfo(raw):
    assert raw.call("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == "OK"
    assert raw.call("CLIENT", "SETINFO", "lib-ver", "5.0.0") == "OK"
    assert raw.call("CLIENT", "SETINFO", "FOO", "x") == "ERR Unrecognized option 'FOO'"


def test_requirepass_set_at_runtime(make_server):
    s = make_server()
    admin = s.raw()
    assert admin.call("CONFIG", "SET", "requirepass", "rt") == "OK"
    assert admin.call("PING") == "PONG"  # already connected: stays authenticated
    newcomer = s.raw()
    assert newcomer.call("GET", "k") == "NOAUTH Authentication required."
    assert newcomer.call("AUTH", "rt") == "OK"
    assert admin.call("CONFIG", "SET", "requirepass", "") == "OK"
    assert s.raw().call("PING") == "PONG"


def test_hello_without_arguments_keeps_protocol(raw):
    reply = raw.call("HELLO")
    assert isinstance(reply, list) and reply[reply.index(b"proto") + 1] == 2
    raw.call("HELLO", "3")
    assert raw.call("HELLO")[b"proto"] == 3
