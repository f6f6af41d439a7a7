#!/usr/bin/python3
"""The benchmark data set as a load stream for another server, written to stdout.

Generates exactly the bytes bench/engine_bench.c stores (keep the two in step):
    key i   = "key:%012u" % i                      (16 bytes), i in [0, N)
    value i = "%016x%016x" % (h, splitmix64(h))    (32 bytes), h = splitmix64(i)

Usage: dataset.py resp N        RESP SET commands, for `redis-cli --pipe`
       dataset.py memcache N    memcached text-protocol `set ... noreply` commands
       dataset.py load-memcache N HOST PORT
                                sends the memcache stream over one socket and waits until
                                the server has processed all of it (prints curr_items)
"""
import socket
import sys

M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def pairs(n):
    for i in range(n):
        h = splitmix64(i)
        yield b"key:%012d" % i, b"%016x%016x" % (h, splitmix64(h))


def chunks(n, fmt, size=10000):
    """Yields the stream in blocks of `size` commands."""
    buf = []
    for k, v in pairs(n):
        buf.append(fmt(k, v))
        if len(buf) == size:
            yield b"".join(buf)
            buf = []
    if buf:
        yield b"".join(buf)


def resp(k, v):
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)


def memcache(k, v):
    return b"set %s 0 0 %d noreply\r\n%s\r\n" % (k, len(v), v)


def read_until(sock, marker):
    data = b""
    while not data.endswith(marker):
        got = sock.recv(65536)
        if not got:
            raise RuntimeError("connection closed by the server")
        data += got
    return data


def load_memcache(n, host, port):
    with socket.create_connection((host, port)) as s:
        for block in chunks(n, memcache):
            s.sendall(block)
        # The server answers in order: once `stats` is answered, every set before it is done.
        s.sendall(b"stats\r\n")
        stats = read_until(s, b"END\r\n").decode()
        for line in stats.splitlines():
            if line.startswith("STAT curr_items "):
                print(line.split()[2])
                return
        raise RuntimeError("no curr_items in stats")


def main(argv):
    if len(argv) >= 3 and argv[1] in ("resp", "memcache"):
        fmt = resp if argv[1] == "resp" else memcache
        out = sys.stdout.buffer
        for block in chunks(int(argv[2]), fmt):
            out.write(block)
        out.flush()
        return 0
    if len(argv) == 5 and argv[1] == "load-memcache":
        load_memcache(int(argv[2]), argv[3], int(argv[4]))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
