"""bench/hitratio (the hit-ratio driver of `make bench`) against a real mnemo-server.

Short runs whose outcome is known exactly: without eviction every key misses once (plus the
repeat misses of a pipelined window, which the driver counts), a 1-key trace hits after its
first miss, and a small uniform key space is fully cached after the warm-up. The driver is
built next to the server (build/hitratio).
"""
import csv
import os
import subprocess

import pytest

from conftest import SERVER_BIN

DRIVER = os.environ.get("MNEMO_HITRATIO",
                        os.path.join(os.path.dirname(SERVER_BIN), "hitratio"))


def hitratio(*args):
    p = subprocess.run([DRIVER, *[str(a) for a in args], "--csv"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(p.stdout.splitlines()))
    assert len(rows) == 1, p.stdout
    row = rows[0]
    for k, v in row.items():
        if k != "maxmemory_policy":
            row[k] = float(v) if "." in v else int(v)
    return row


@pytest.fixture
def run(make_server):
    """Runs the driver against a private server (so that its INFO stats are the run's own)."""
    assert os.access(DRIVER, os.X_OK), "%s is not built (make build)" % DRIVER
    server = make_server()

    def go(*args):
        return hitratio("-p", server.port, "--flushall", *args)
    return go


def test_hitratio_small_keyspace_is_fully_cached_after_warmup(run):
    # 100 keys drawn uniformly: all of them are requested within the first 5,000 requests.
    row = run("-n", 10000, "-k", 100, "-s", 0)
    assert row["steady_hit_ratio"] == 1.0
    assert row["steady_requests"] == 5000
    assert row["dbsize"] == 100
    assert row["misses"] == 100 + row["repeat_misses"]
    assert row["keyspace_hits"] == row["hits"]      # the server counted what the driver saw


def test_hitratio_one_key_hits_after_first_miss(run):
    row = run("-n", 1000, "-k", 1, "-w", 1)
    assert (row["hits"], row["misses"], row["sets"], row["dbsize"]) == (999, 1, 1, 1)
    # pipelined: the whole first window misses, one SET follows, then everything hits
    row = run("-n", 1000, "-k", 1, "-w", 64)
    assert (row["hits"], row["misses"], row["repeat_misses"], row["sets"]) == (936, 64, 63, 1)


def test_hitratio_windows_only_add_counted_repeat_misses(run):
    # Zipf over 10,000 keys, no eviction: each distinct key misses once when requests are
    # sequential; pipelined windows add exactly the repeat misses they report.
    seq = run("-n", 3000, "-k", 10000, "-w", 1, "--seed", 7)
    win = run("-n", 3000, "-k", 10000, "-w", 64, "--seed", 7)
    assert seq["repeat_misses"] == 0
    assert seq["misses"] == seq["sets"] == seq["dbsize"]
    assert win["misses"] - win["repeat_misses"] == seq["misses"]
    assert win["dbsize"] == seq["dbsize"]
    # and the driver's own "cache that never evicts" is exactly what the server did
    assert seq["hit_ratio"] == seq["ceiling_hit_ratio"]
    assert round(win["ceiling_hit_ratio"] * 3000) == win["hits"] + win["repeat_misses"]
    assert 0.2 < seq["hit_ratio"] < 0.9, seq


def test_hitratio_zipf_sampler_matches_exact_probabilities():
    p = subprocess.run([DRIVER, "--zipf-check", "1000000", "-k", "100000", "--seed", "3"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    zs = [float(line.split()[-1]) for line in p.stdout.splitlines()
          if line.strip().startswith(("=", "<="))]
    assert len(zs) == 14, p.stdout  # ranks 1..10, then <= 10, 100, 1000, 10000
    assert max(abs(z) for z in zs) < 4.5, p.stdout


def exact_lfu(*args):
    p = subprocess.run([DRIVER, "--exact-lfu", *[str(a) for a in args]], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    words = p.stdout.split()
    return float(words[words.index("steady") - 1]), float(words[words.index("whole") - 1])


def test_hitratio_exact_lfu_bound(run):
    # Holding every key, the exact LFU cache is the cache that never evicts: its figures are
    # what a server without eviction gets on the same sequential trace.
    seq = run("-n", 3000, "-k", 10000, "-w", 1, "--seed", 7)
    steady, whole = exact_lfu(10000, "-n", 3000, "-k", 10000, "--seed", 7)
    assert whole == round(seq["hit_ratio"], 4)
    assert steady == round(seq["steady_hit_ratio"], 4)
    # one key: every request but the first hits, whatever the cache holds
    assert exact_lfu(1, "-n", 1000, "-k", 1, "--warmup", 0) == (0.999, 0.999)
    # fewer keys never hit more, and a cache of a tenth of a Zipf key space still hits most
    small, _ = exact_lfu(1000, "-n", 50000, "-k", 10000, "--seed", 7)
    big, _ = exact_lfu(3000, "-n", 50000, "-k", 10000, "--seed", 7)
    assert 0.3 < small < big <= 1.0, (small, big)
