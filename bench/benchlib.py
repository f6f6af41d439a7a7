"""benchlib.py — what the side-by-side benchmark scripts share: free loopback ports, a PING
probe, and a server process that is started on a port, waited for, measured and stopped (and
that dies with the script, even if the script is killed).

Imported by bench/server_bench.py, bench/hitratio.py and bench/persist_bench.py (Python puts
the script's own directory on sys.path, so a plain `import benchlib` finds it).
"""
import ctypes
import os
import signal
import socket
import subprocess
import time

HOST = "127.0.0.1"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def die_with_parent():
    """preexec_fn: the child gets SIGTERM if this script dies (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except OSError:
        pass


def ping(port, timeout=0.5):
    """True if a Redis-protocol server answers PING on HOST:port."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class StartError(RuntimeError):
    """A server exited at startup or never answered PING."""


class Server:
    """One server process: argv, its port, its log file in logdir."""

    def __init__(self, name, argv, port, logdir):
        self.name, self.argv, self.port = name, argv, port
        self.log_path = os.path.join(logdir, "%s-%d.log" % (name, port))
        self.proc = None

    def start(self, timeout=10):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         cwd=os.path.dirname(self.log_path),
                                         start_new_session=True, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError("%s exited at startup (status %s); log %s: %s" % (
                    self.name, self.proc.returncode, self.log_path, self.log_tail(3)))
            if ping(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise StartError("%s does not answer PING on %s:%d; log %s: %s" % (
            self.name, HOST, self.port, self.log_path, self.log_tail(3)))

    def log_tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                return " | ".join(l.decode(errors="replace").strip()
                                  for l in f.read().splitlines()[-n:])
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_ticks(self):
        """utime+stime of the whole process (all threads, live and exited), in clock ticks."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is field 3 (state); utime and stime are fields 14 and 15
        return int(fields[11]) + int(fields[12])

    def status_kb(self, field):
        """A /proc/PID/status field in kB (VmRSS, VmHWM, ...), 0 if absent."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self, timeout=10):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, "?" if there is none."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def mem_total_gib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1048576
    return 0.0


def git_commit(repo):
    """The short commit of repo's HEAD, "+ local changes" if the tree differs; "?" without git."""
    try:
        commit = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        if subprocess.run(["git", "--no-optional-locks", "-C", repo, "status", "--porcelain"],
                          capture_output=True, text=True, timeout=10).stdout.strip():
            commit += " (+ local changes)"
        return commit or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"
