"""Redis's own tools against mnemo-server: redis-cli and redis-benchmark."""
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(not shutil.which("redis-cli"), reason="redis-tools not installed")


def cli(server, *args, stdin=None):
    p = subprocess.run(["redis-cli", "-p", str(server.port), *args], input=stdin,
                       capture_output=True, text=True, timeout=30)
    return p.stdout


def test_redis_cli_smoke(server, r):
    assert cli(server, "PING") == "PONG\n"
    assert cli(server, "SET", "name", "mnemo") == "OK\n"
    assert cli(server, "GET", "name") == "mnemo\n"
    assert cli(server, "INCR", "n") == "1\n"
    assert cli(server, "MGET", "name", "nokey") == "mnemo\n\n"
    assert cli(server, "GET", "nokey") == "\n"
    assert cli(server, "NOSUCH") .startswith("ERR unknown command 'NOSUCH'")
    assert cli(server, "DBSIZE") == "2\n"
    assert cli(server, "-n", "3", "SET", "in3", "x") == "OK\n"
    assert cli(server, "-n", "3", "DBSIZE") == "1\n"
    assert cli(server, "-3", "HELLO", "3").count("proto") == 1
    assert "redis_version" in cli(server, "INFO", "server")
    out = cli(server, stdin="SET a 1\nGET a\nEXISTS a nokey\n")
    assert out == "OK\n1\n1\n"


def test_redis_cli_pipe_mode(server, r):
    cmds = "".join("SET key:%d %d\r\n" % (i, i) for i in range(1000))
    p = subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], input=cmds,
                       capture_output=True, text=True, timeout=60)
    assert "errors: 0, replies: 1000" in p.stdout
    assert r.dbsize() == 1000


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark not installed")
def test_redis_benchmark(server, r):
    p = subprocess.run(["redis-benchmark", "-p", str(server.port), "-q", "-n", "20000",
                        "-t", "set,get,incr,mset", "-P", "16"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    for t in ("SET", "GET", "INCR", "MSET"):
        assert t in out
    assert "error" not in out.lower()
    assert "WARNING" not in out
    assert r.get("key:__rand_int__") is not None


def test_redis_cli_scan_bigkeys_memkeys(server, r):
    r.mset({"a": "1", "bb": "22", "ccc": "333"})
    assert sorted(cli(server, "--scan", "--pattern", "*").split()) == ["a", "bb", "ccc"]
    assert sorted(cli(server, "--scan", "--pattern", "b*").split()) == ["bb"]
    big = cli(server, "--bigkeys")
    assert "Biggest string found '\"ccc\"' has 3 bytes" in big
    assert "3 strings with 6 bytes" in big
    assert "3 strings with" in cli(server, "--memkeys")
