#!/usr/bin/env python3
"""End-to-end tests of `roost serve` start-up, flags and signals.

Usage: test_startup.py PATH/TO/roost
Every server listens on 127.0.0.1 on a port the kernel picked; every wait is bounded and
scaled by ROOST_TEST_TIME_SCALE (a float, default 1) for slow machines.
"""
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_serve import read_responses  # noqa: E402  (one response reader for both suites)

import e2e_support
from e2e_support import Server, scaled

# Sanitizer builds reserve terabytes of address space: an address-space limit cannot be used.
SANITIZED = os.environ.get("ROOST_SANITIZE", "") != ""


def run(*args, timeout=10, **kw):
    return subprocess.run([e2e_support.ROOST, *args], capture_output=True, text=True,
                          timeout=scaled(timeout), **kw)


def get(sock, path):
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())


def read_response(sock, deadline):
    """One response: (status, headers dict, body); raises if none arrives."""
    out, rest = read_responses(sock, 1, deadline)
    if not out:
        raise ConnectionError("closed before a response: %r" % rest)
    return out[0]


def answered(server, path="/plaintext"):
    s = server.raw()
    try:
        get(s, path)
        return read_response(s, scaled(10))[0]
    finally:
        s.close()


class FlagsTest(unittest.TestCase):
    """Every switch has a documented range that start-up enforces with a clear message."""

    def test_port_must_be_digits_only(self):
        for bad in (" 19180", "+19180", "19180 ", "0x4aec", "-1", "65536", ""):
            p = run("serve", "--port", bad)
            self.assertEqual(p.returncode, 2, (bad, p.stderr))
            self.assertIn("--port", p.stderr)
            self.assertIn("accepted: 0..65535", p.stderr)
            self.assertEqual(p.stdout, "")

    def test_stack_size_below_the_floor_is_refused(self):
        for bad in ("0", "1k", "4k", "8k", "16383"):
            p = run("serve", "--stack-size", bad)
            self.assertEqual(p.returncode, 2, (bad, p.stderr))
            self.assertIn("--stack-size '%s': out of range; accepted: 16k..1g bytes" % bad,
                          p.stderr)

    def test_smallest_stack_serves_every_endpoint(self):
        server = Server("--stack-size", "16k", reactors="1")
        try:
            for path in ("/", "/plaintext", "/json", "/delay/1", "/offload", "/metrics"):
                self.assertEqual(answered(server, path), 200, path)
            self.assertEqual(answered(server, "/nope"), 404)
            self.assertIsNone(server.proc.poll())
        finally:
            self.assertEqual(server.stop(), 0)

    def test_largest_sq_entries_serve(self):
        server = Server("--sq-entries", "32768", reactors="1")
        try:
            self.assertEqual(answered(server), 200)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_environment_variables_are_checked_too(self):
        env = dict(os.environ, ROOST_WAKE="sometimes")
        p = run("serve", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("ROOST_WAKE='sometimes'", p.stderr)
        self.assertIn("coalesced|per-item", p.stderr)
        env = dict(os.environ, ROOST_PORT="+1")
        p = run("serve", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("ROOST_PORT='+1'", p.stderr)

    def test_unknown_flag_is_refused(self):
        p = run("serve", "--no-such-flag", "1")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--no-such-flag", p.stderr)

    def test_help_lists_every_flag_with_default_and_range(self):
        p = run("serve", "--help")
        self.assertEqual(p.returncode, 0)
        for flag in ("--port N", "--reuse-port", "--grace-ms MS", "--stack-size BYTES",
                     "--sq-entries N", "--buf-count N"):
            self.assertIn(flag, p.stdout)
        self.assertIn("default 64k, accepted 16k..1g bytes", p.stdout)
        self.assertIn("default 8080, accepted 0..65535", p.stdout)

    def test_version(self):
        p = run("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^roost \d+\.\d+\.\d+\n$")

    @unittest.skipIf(SANITIZED, "an address-space limit cannot apply to a sanitizer build")
    def test_buffer_ring_out_of_memory_fails_start(self):
        # 32768 x 64k = 2 GiB of buffers per reactor under a 1 GiB address-space limit.
        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        p = run("serve", "--port", "0", "--reactors", "1", "--buf-count", "32768",
                "--buf-size", "64k", preexec_fn=limit, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot set up its provided buffer ring of 32768 x 65536 bytes", p.stderr)
        self.assertIn("Cannot allocate memory", p.stderr)
        self.assertNotIn("kernel", p.stderr)
        self.assertEqual(p.stdout, "")


class AddressInUseTest(unittest.TestCase):
    """A port another process listens on is refused unless both opted in to sharing."""

    def assert_refused(self, port, *flags):
        p = run("serve", "--port", str(port), "--reactors", "2", *flags, timeout=20)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("address already in use", p.stderr.lower())
        self.assertEqual(p.stdout, "")

    def test_second_roost_on_a_roost_port_exits_1(self):
        first = Server()
        try:
            self.assert_refused(first.port)
            self.assertEqual(answered(first), 200)  # the first one is untouched
        finally:
            self.assertEqual(first.stop(), 0)

    def test_roost_on_another_programs_port_exits_1(self):
        other = socket.socket()
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        try:
            port = other.getsockname()[1]
            self.assert_refused(port)
            self.assert_refused(port, "--reuse-port")  # the other program did not opt in
        finally:
            other.close()

    def test_sharing_a_port_is_refused_to_who_did_not_opt_in(self):
        first = Server("--reuse-port")
        try:
            self.assert_refused(first.port)
        finally:
            self.assertEqual(first.stop(), 0)

    def test_reuse_port_shares_on_purpose(self):
        first = Server("--reuse-port")
        second = None
        try:
            second = Server("--reuse-port", port=str(first.port))
            self.assertEqual(second.port, first.port)
            self.assertEqual(first.stop(), 0)
            # The port is still served, by the second process alone now.
            self.assertEqual(answered(second), 200)
        finally:
            first.stop()
            if second:
                self.assertEqual(second.stop(), 0)


class SignalTest(unittest.TestCase):
    def start_in_flight(self, server, count, delay_ms):
        """count connections, each known to be accepted and keep-alive, then each sends a
        request that takes delay_ms in its handler. Returns the sockets."""
        socks = []
        for _ in range(count):
            s = server.raw()
            get(s, "/plaintext")
            status, headers, _ = read_response(s, scaled(10))
            self.assertEqual(status, 200)
            self.assertNotEqual(headers.get("connection"), "close")
            socks.append(s)
        for s in socks:
            get(s, "/delay/%d" % delay_ms)
        return socks

    def test_in_flight_requests_at_sigterm_carry_connection_close(self):
        server = Server()
        socks = self.start_in_flight(server, 50, int(scaled(1500)))
        server.proc.send_signal(signal.SIGTERM)
        closes = 0
        for s in socks:
            status, headers, _ = read_response(s, scaled(20))
            self.assertEqual(status, 200)
            closes += headers.get("connection") == "close"
            s.close()
        self.assertEqual(closes, 50)
        self.assertEqual(server.proc.wait(timeout=scaled(30)), 0)
        server.stop()

    def test_sighup_stops_gracefully(self):
        server = Server()
        socks = self.start_in_flight(server, 5, int(scaled(1000)))
        server.proc.send_signal(signal.SIGHUP)
        for s in socks:
            status, headers, _ = read_response(s, scaled(20))
            self.assertEqual(status, 200)
            self.assertEqual(headers.get("connection"), "close")
            s.close()
        self.assertEqual(server.proc.wait(timeout=scaled(30)), 0)
        self.assertIsNotNone(server.wait_line(r"SIGHUP, shutting down"))
        server.stop()

    def test_grace_ms_is_the_whole_wait(self):
        # The handler sleeps far longer than the grace; the process must be gone at the
        # grace, not at the grace plus the runtime's own drain period (2 s).
        grace_ms = 3000
        server = Server("--grace-ms", str(grace_ms))
        socks = self.start_in_flight(server, 1, 60000)
        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        rc = server.proc.wait(timeout=scaled(30))
        elapsed = time.monotonic() - start
        self.assertEqual(rc, 0)  # requests were cut, as configured
        self.assertGreaterEqual(elapsed, grace_ms / 1000 - 0.05)
        self.assertLess(elapsed, grace_ms / 1000 + scaled(1.5))
        self.assertIn("after the 3000 ms grace", server.proc.stderr.read())
        for s in socks:
            s.close()
        server.stop()

    def test_second_signal_exits_at_once(self):
        for first, second in ((signal.SIGTERM, signal.SIGINT), (signal.SIGINT, signal.SIGINT)):
            server = Server("--grace-ms", "600000")
            socks = self.start_in_flight(server, 1, 60000)
            server.proc.send_signal(first)
            # The stop has begun once the server says so; then the second signal.
            self.assertIsNotNone(server.wait_line(r"shutting down"))
            start = time.monotonic()
            server.proc.send_signal(second)
            rc = server.proc.wait(timeout=scaled(20))
            self.assertEqual(rc, 1)
            self.assertLess(time.monotonic() - start, scaled(10))
            self.assertIn("second stop signal", server.proc.stderr.read())
            for s in socks:
                s.close()
            server.stop()


if __name__ == "__main__":
    e2e_support.ROOST = os.path.abspath(sys.argv.pop(1))
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
