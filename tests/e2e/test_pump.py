#!/usr/bin/env python3
"""End-to-end tests of `roost pump` and `roost produce` against a real redis-server.

Usage: test_pump.py PATH/TO/roost
Each test starts its own redis-server (loopback, a free port, a temporary directory) and
its own consumers as separate processes. Every wait is bounded and scaled by
ROOST_TEST_TIME_SCALE. Exit 77 (skipped) when redis-server is not installed.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import e2e_support
from e2e_support import free_port

ROOST = None
SCALE = e2e_support.TIME_SCALE


def wait_for(pred, seconds, what):
    end = time.time() + seconds * SCALE
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Redis:
    def __init__(self, aof=False):
        self.dir = tempfile.mkdtemp(prefix="roost-pump-e2e-")
        self.aof = aof
        self.proc = None
        for _ in range(10):
            self.port = free_port()
            if self.spawn():
                return
        raise RuntimeError("redis-server did not start")

    def spawn(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "yes" if self.aof else "no", "--appendfsync", "always",
             "--logfile", "redis.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + 10 * SCALE
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            try:
                if self.cli("PING") == "PONG":
                    return True
            except subprocess.SubprocessError:
                pass
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        return False

    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                             text=True, timeout=10 * SCALE)
        return out.stdout.strip()

    def pending(self, stream, group="roost"):
        first = self.cli("XPENDING", stream, group).splitlines()
        return int(first[0]) if first and first[0].lstrip("-").isdigit() else -1

    def blocked_readers(self):
        """Connections blocked in XREADGROUP (a consumer is listed only once it got one)."""
        lines = self.cli("CLIENT", "LIST").splitlines()
        return sum(1 for line in lines if "flags=b" in line and "cmd=xreadgroup" in line)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30 * SCALE)

    def restart(self):
        self.stop()
        for _ in range(50):
            if self.spawn():
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not restart")

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Pump:
    def __init__(self, redis, log, *flags):
        self.log = log
        self.proc = subprocess.Popen(
            [ROOST, "pump", "--redis", redis.url(), "--reactors", "2", "--quiet", "--log", log,
             *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def lines(self, column=0):
        """The bodies (column 0) or entry ids (column 1) of the messages handled so far."""
        try:
            with open(self.log) as f:
                return [line.split()[column] for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60 * SCALE)
        return self.proc.returncode, out, err

    def kill(self):
        self.proc.kill()
        self.proc.communicate(timeout=60 * SCALE)


def produce(redis, stream, count, *flags):
    out = subprocess.run([ROOST, "produce", "--redis", redis.url(), "--stream", stream,
                          "--count", str(count), "--reactors", "2", *flags],
                         capture_output=True, text=True, timeout=120 * SCALE)
    assert out.returncode == 0, out.stdout + out.stderr


class PumpTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="roost-pump-logs-")
        self.redis = None
        self.pumps = []

    def tearDown(self):
        for p in self.pumps:
            if p.proc.poll() is None:
                p.kill()
        if self.redis:
            self.redis.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def pump(self, *flags):
        p = Pump(self.redis, os.path.join(self.tmp, "log%d" % len(self.pumps)), *flags)
        self.pumps.append(p)
        return p

    def test_competing_consumers_two_processes_each_message_once(self):
        self.redis = Redis()
        n = 10000
        a = self.pump("--stream", "jobs", "--performers", "2")
        b = self.pump("--stream", "jobs", "--performers", "2", "--type", "reactor")
        # Both processes' four consumers are reading before anything is published.
        wait_for(lambda: self.redis.blocked_readers() == 4, 30, "4 consumers reading")
        produce(self.redis, "jobs", n)
        wait_for(lambda: len(a.lines()) + len(b.lines()) >= n, 120, "all messages handled")
        wait_for(lambda: self.redis.pending("jobs") == 0, 30, "nothing pending")
        for p in (a, b):
            rc, out, err = p.stop()
            self.assertEqual(rc, 0, err)
            self.assertIn("dead 0", out)
        la, lb = a.lines(), b.lines()
        self.assertGreater(len(la), 0, "process a got none")
        self.assertGreater(len(lb), 0, "process b got none")
        together = la + lb
        self.assertEqual(len(together), n, "a message was handled twice")
        self.assertEqual(sorted(map(int, together)), list(range(n)))

    def test_sigkilled_consumer_loses_nothing(self):
        self.redis = Redis()
        n = 2000
        produce(self.redis, "crash", n)
        # A slow consumer holding 50 messages at a time: killed in the middle of a batch.
        a = self.pump("--stream", "crash", "--sleep-ms", "20", "--in-flight", "50")
        wait_for(lambda: len(a.lines()) >= 60, 60, "the first consumer to get going")
        a.kill()
        held = self.redis.cli("XPENDING", "crash", "roost", "-", "+", "1000").splitlines()[0::4]
        self.assertGreater(len(held), 0, "the killed consumer left nothing pending")
        b = self.pump("--stream", "crash", "--claim-idle-ms", "300")
        seen = lambda: set(a.lines()) | set(b.lines())
        wait_for(lambda: len(seen()) >= n, 120, "every message handled")
        wait_for(lambda: self.redis.pending("crash") == 0, 30, "nothing pending")
        rc, out, err = b.stop()
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(map(int, seen())), list(range(n)))
        # The second consumer claimed and handled every entry the first held when it died.
        self.assertEqual(set(held) - set(b.lines(1)), set())

    def test_redis_restart_mid_run_loses_nothing(self):
        self.redis = Redis(aof=True)
        n = 3000
        produce(self.redis, "restart", n)
        a = self.pump("--stream", "restart", "--performers", "2", "--sleep-ms", "1",
                      "--claim-idle-ms", "1000")
        wait_for(lambda: len(a.lines()) >= 300, 60, "the pump to get going")
        self.redis.restart()
        wait_for(lambda: len(set(a.lines())) >= n, 180, "every message handled")
        wait_for(lambda: self.redis.pending("restart") == 0, 60, "nothing pending")
        rc, out, err = a.stop()
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(map(int, set(a.lines()))), list(range(n)))

    def test_poison_message_goes_to_the_dead_letter_stream(self):
        self.redis = Redis()
        produce(self.redis, "poison", 10)
        a = self.pump("--stream", "poison", "--fail-body", "3", "--max-deliveries", "4",
                      "--count", "10")
        rc, out, err = a.proc.wait(timeout=60 * SCALE), *a.proc.communicate()
        self.assertEqual(rc, 0, err)
        self.assertIn("acked 9", out)
        self.assertIn("dead 1", out)
        self.assertEqual(self.redis.cli("XLEN", "poison:dead"), "1")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_pump.py PATH/TO/roost")
    ROOST = sys.argv.pop(1)
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        print("redis-server not installed: skipped")
        sys.exit(77)
    unittest.main(verbosity=2)
