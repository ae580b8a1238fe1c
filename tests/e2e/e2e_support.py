"""What every end-to-end script shares: the time scale, free ports, and a `roost serve` child.

Each script sets e2e_support.ROOST (the binary under test, its first argument) before it
starts a Server. Every wait is bounded and stretched by ROOST_TEST_TIME_SCALE.
"""
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time

ROOST = None

# ROOST_TEST_TIME_SCALE: the one multiplier (a float, default 1) for every timeout and
# deadline of the tests, for slow or crowded machines.
TIME_SCALE = float(os.environ.get("ROOST_TEST_TIME_SCALE", "1") or 1)
if TIME_SCALE <= 0:
    TIME_SCALE = 1.0


def scaled(seconds):
    return seconds * TIME_SCALE


def free_port():
    """A port nobody listens on right now (it may be taken before it is bound: retry then)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout):
    """True once something accepts on 127.0.0.1:port, false after timeout seconds."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """`roost serve` on 127.0.0.1 (an ephemeral port unless port is given), started with flags.

    The server prints its URL as its first line; that line gives the port.
    """

    def __init__(self, *flags, reactors="2", port="0", env=None):
        self.proc = subprocess.Popen(
            [ROOST, "serve", "--port", str(port), "--reactors", str(reactors), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("roost serve did not start: %r %r" % (line, self.proc.stderr.read()))
        self.port = int(m.group(1))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout))

    def raw(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=scaled(10))

    def wait_line(self, pattern):
        """Reads stdout lines until one matches pattern (the server prints as it goes)."""
        while True:
            line = self.proc.stdout.readline()
            if not line:
                return None
            if re.search(pattern, line):
                return line

    def stop(self, show_stderr_on_failure=False):
        """SIGTERM (a graceful stop), bounded; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=scaled(30))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if show_stderr_on_failure and self.proc.returncode != 0:
            sys.stderr.write(self.proc.stderr.read())
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode
