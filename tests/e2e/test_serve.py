#!/usr/bin/env python3
"""End-to-end tests of `roost serve` with real clients: curl, python's http.client, node.

Usage: test_serve.py PATH/TO/roost
Each test starts its own server on 127.0.0.1 with an ephemeral port; every wait is bounded.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import e2e_support
from e2e_support import Server, scaled


def read_responses(sock, count, deadline=10.0):
    """Reads count HTTP responses with Content-Length bodies from sock; returns (status, headers, body) tuples."""
    buf = b""
    out = []
    end = time.time() + scaled(deadline)
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            if time.time() > end:
                raise TimeoutError("responses did not arrive")
            chunk = sock.recv(65536)
            if not chunk:
                return out, buf
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        out.append((status, headers, rest[:n]))
        buf = rest[n:]
    return out, buf


def closed_by_peer(sock, timeout):
    sock.settimeout(scaled(timeout))
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


class ServeTest(unittest.TestCase):
    def setUp(self):
        self.server = Server()

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0)

    def test_plaintext_and_json_follow_the_rules(self):
        c = self.server.conn()
        c.request("GET", "/plaintext")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.read(), b"Hello, World!")
        self.assertEqual(r.getheader("Server"), "roost")
        self.assertEqual(r.getheader("Content-Type"), "text/plain")
        self.assertEqual(r.getheader("Content-Length"), "13")
        self.assertRegex(r.getheader("Date"), r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$")
        c.request("GET", "/json")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.read(), b'{"message":"Hello, World!"}')
        self.assertEqual(r.getheader("Content-Type"), "application/json")

    def test_head_404_405_and_index(self):
        c = self.server.conn()
        c.request("HEAD", "/plaintext")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Length"), "13")
        self.assertEqual(r.read(), b"")
        c.request("GET", "/nope")
        r = c.getresponse()
        r.read()
        self.assertEqual(r.status, 404)
        c.request("POST", "/plaintext", body=b"x")
        r = c.getresponse()
        r.read()
        self.assertEqual(r.status, 405)
        c.request("GET", "/")
        r = c.getresponse()
        self.assertIn(b"/delay/:ms", r.read())

    def test_curl_reuses_the_connection(self):
        if not shutil.which("curl"):
            self.skipTest("curl not installed")
        url = "http://127.0.0.1:%d" % self.server.port
        p = subprocess.run(["curl", "-sv", url + "/plaintext", url + "/json"],
                           capture_output=True, text=True, timeout=scaled(20))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, 'Hello, World!{"message":"Hello, World!"}')
        self.assertRegex(p.stderr, r"Re-using existing connection|Reusing existing connection")

    def test_node_http_client(self):
        if not shutil.which("node"):
            self.skipTest("node not installed")
        script = """
const http = require('http');
const agent = new http.Agent({keepAlive: true, maxSockets: 1});
function get(path) { return new Promise((ok, bad) => {
  http.get({host: '127.0.0.1', port: %d, path, agent}, (res) => {
    const port = res.socket.localPort; let body = ''; res.on('data', (d) => body += d);
    res.on('end', () => ok([res.statusCode, res.headers['content-type'], body, port]));
  }).on('error', bad); }); }
(async () => {
  const a = await get('/json'); const b = await get('/plaintext');
  console.log(JSON.stringify([a, b])); agent.destroy();
})().catch((e) => { console.error(e); process.exit(1); });
""" % self.server.port
        p = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=scaled(20))
        self.assertEqual(p.returncode, 0, p.stderr)
        import json
        a, b = json.loads(p.stdout)
        self.assertEqual(a[:3], [200, "application/json", '{"message":"Hello, World!"}'])
        self.assertEqual(b[:3], [200, "text/plain", "Hello, World!"])
        self.assertEqual(a[3], b[3])  # the same socket: keep-alive

    def test_sixteen_pipelined_requests_answered_in_order(self):
        s = self.server.raw()
        paths = ["/plaintext" if i % 2 == 0 else "/json" for i in range(16)]
        s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths))
        out, rest = read_responses(s, 16)
        self.assertEqual(len(out), 16)
        for p, (status, headers, body) in zip(paths, out):
            self.assertEqual(status, 200)
            self.assertEqual(body, b"Hello, World!" if p == "/plaintext" else b'{"message":"Hello, World!"}')
        s.close()

    def test_bad_input_is_answered_400_and_closed(self):
        vectors = [
            b"POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            b"GET /plaintext HTTP/1.1\r\nHost: x\r\n folded: yes\r\n\r\n",
            b"GET /plaintext HTTP/1.1\r\n\r\n",
            b"GET /plaintext HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            b"GET /plaintext HTTP/1.1\r\nHost : x\r\n\r\n",
            b"GET /plaintext HTTP/1.1\r\nHost: x\rY: z\r\n\r\n",
            b"POST /plaintext HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\nA\r\n0\r\n\r\n",
        ]
        for v in vectors:
            s = self.server.raw()
            s.sendall(v)
            out, _ = read_responses(s, 1)
            self.assertEqual(len(out), 1, v)
            self.assertEqual(out[0][0], 400, v)
            self.assertEqual(out[0][1].get("connection"), "close", v)
            self.assertTrue(closed_by_peer(s, 5), v)
            s.close()

    def test_limits_431_and_413(self):
        s = self.server.raw()
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
        out, _ = read_responses(s, 1)
        self.assertEqual(out[0][0], 431)
        s.close()
        s = self.server.raw()
        s.sendall(b"POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
        out, _ = read_responses(s, 1)
        self.assertEqual(out[0][0], 413)
        s.close()

    def test_request_split_byte_by_byte_is_waited_for(self):
        s = self.server.raw()
        for b in b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n":
            s.sendall(bytes([b]))
            time.sleep(0.002)
        out, _ = read_responses(s, 1)
        self.assertEqual(out[0][0], 200)
        s.close()

    def test_expect_continue_and_chunked_body(self):
        s = self.server.raw()
        s.sendall(b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        s.settimeout(scaled(5))
        interim = s.recv(4096)
        self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim)
        s.sendall(b"hello")
        out, _ = read_responses(s, 1)
        self.assertEqual(out[0][0], 404)
        s.sendall(b"POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                  b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        out, _ = read_responses(s, 2)
        self.assertEqual([o[0] for o in out], [404, 200])
        s.close()

    def test_http10_closes_unless_keep_alive(self):
        s = self.server.raw()
        s.sendall(b"GET /plaintext HTTP/1.0\r\n\r\n")
        out, _ = read_responses(s, 1)
        self.assertEqual(out[0][0], 200)
        self.assertTrue(closed_by_peer(s, 5))
        s.close()
        s = self.server.raw()
        s.sendall(b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        out, _ = read_responses(s, 1)
        self.assertEqual(out[0][1].get("connection"), "keep-alive")
        s.sendall(b"GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        out, _ = read_responses(s, 1)
        self.assertEqual(out[0][0], 200)
        s.close()

    def test_half_close_after_request_still_answered(self):
        s = self.server.raw()
        s.sendall(b"GET /delay/20 HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        out, _ = read_responses(s, 1)
        self.assertEqual(out[0][0], 200)
        s.close()

    def test_affinity_header_names_the_same_reactor(self):
        c = self.server.conn()
        seen = []
        for path in ["/delay/1", "/offload", "/delay/5", "/offload", "/delay/0"]:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            seen.append(r.getheader("X-Roost-Reactor"))
        self.assertIsNotNone(seen[0])
        self.assertEqual(len(set(seen)), 1, seen)

    def test_metrics_in_prometheus_text(self):
        c = self.server.conn()
        c.request("GET", "/plaintext")
        c.getresponse().read()
        c.request("GET", "/metrics")
        r = c.getresponse()
        body = r.read().decode()
        self.assertEqual(r.status, 200)
        self.assertIn("# TYPE roost_ticks_total counter", body)
        self.assertRegex(body, r'roost_cqes_reaped_total\{reactor="0"\} \d+')
        self.assertRegex(body, r'roost_enters_total\{reactor="1"\} \d+')
        self.assertRegex(body, r'roost_build_info\{version="[0-9.]+"\} 1')
        self.assertRegex(body, r'roost_http_requests_total\{class="2xx"\} [1-9]\d*')
        self.assertIn("roost_http_connections_open 1\n", body)
        # Prometheus naming: HELP then TYPE for every family, counters end in _total, every
        # sample under the family declared before it (histograms: _bucket, _sum, _count).
        lines = body.strip().split("\n")
        families = {}
        current = None
        for i, l in enumerate(lines):
            if l.startswith("# HELP "):
                name = l.split()[2]
                self.assertTrue(lines[i + 1].startswith("# TYPE %s " % name), l)
                families[name] = lines[i + 1].split()[3]
                current = name
                if families[name] == "counter":
                    self.assertTrue(name.endswith("_total"), name)
            elif not l.startswith("#"):
                self.assertRegex(l, r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$')
                name = re.match(r"[a-z_]+", l).group(0)
                if families[current] == "histogram":
                    self.assertIn(name, [current + s for s in ("_bucket", "_sum", "_count")])
                else:
                    self.assertEqual(name, current)
        self.assertEqual(families["roost_http_request_duration_seconds"], "histogram")
        self.assertEqual(families["roost_http_connections_open"], "gauge")
        self.assertGreaterEqual(len(families), 19 + 8)
        self.assertEqual(body[-1], "\n")


class SendBehindTest(unittest.TestCase):
    def answers_and_sends_behind(self, server):
        """20 keep-alive requests, then 16 pipelined ones; the sends behind /metrics counts."""
        c = server.conn()
        for _ in range(20):
            c.request("GET", "/plaintext")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b"Hello, World!"))
        s = socket.create_connection(("127.0.0.1", server.port), timeout=scaled(10))
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n" * 16)
        out, _ = read_responses(s, 16)
        s.close()
        self.assertEqual([(st, body) for st, _, body in out], [(200, b"Hello, World!")] * 16)
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
        c.close()
        counts = re.findall(r'roost_sends_behind_total\{reactor="\d+"\} (\d+)', body)
        self.assertTrue(counts, "no roost_sends_behind_total in /metrics")
        return sum(int(n) for n in counts)

    def test_on_by_default_and_off_by_its_switch(self):
        on = Server()
        try:
            behind_on = self.answers_and_sends_behind(on)
        finally:
            self.assertEqual(on.stop(), 0)
        off = Server("--send-behind", "off")
        try:
            behind_off = self.answers_and_sends_behind(off)
        finally:
            self.assertEqual(off.stop(), 0)
        self.assertGreaterEqual(behind_on, 21)  # every keep-alive batch, and the pipelined one
        self.assertEqual(behind_off, 0)


class TimeoutTest(unittest.TestCase):
    def test_slow_header_client_is_closed_others_served(self):
        server = Server("--header-timeout-ms", "1500")
        try:
            slow = server.raw()
            result = {}

            def dribble():
                start = time.time()
                try:
                    for b in b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                        slow.sendall(bytes([b]))
                        time.sleep(0.2)
                        if time.time() - start > scaled(8):
                            break
                except (BrokenPipeError, ConnectionResetError):
                    pass
                result["elapsed"] = time.time() - start

            t = threading.Thread(target=dribble)
            t.start()
            # Meanwhile other clients are served.
            for _ in range(5):
                c = server.conn()
                c.request("GET", "/plaintext")
                self.assertEqual(c.getresponse().status, 200)
                c.close()
                time.sleep(0.1)
            self.assertTrue(closed_by_peer(slow, 6))
            t.join(timeout=scaled(15))
            slow.close()
        finally:
            self.assertEqual(server.stop(), 0)


def wait_accepted(server, n):
    """Waits until the server has accepted n connections besides the /metrics ones this makes.

    A connection still in the listen backlog when SIGTERM stops the listener is reset; one
    accepted has its request answered. A fixed sleep before the signal was not enough on a
    slow machine (ThreadSanitizer)."""
    deadline = time.time() + scaled(10)
    polls = 0
    while time.time() < deadline:
        c = server.conn()
        polls += 1
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
        c.close()
        m = re.search(r"^roost_http_connections_accepted_total (\d+)$", body, re.M)
        if m and int(m.group(1)) >= n + polls:
            return True
        time.sleep(0.01)
    return False


class ShutdownTest(unittest.TestCase):
    def test_sigterm_finishes_in_flight_requests(self):
        server = Server()
        socks = []
        # long enough to be in flight still after wait_accepted, on a slow machine too
        req = b"GET /delay/%d HTTP/1.1\r\nHost: x\r\n\r\n" % int(scaled(1) * 1000)
        for _ in range(100):
            s = server.raw()
            s.sendall(req)
            socks.append(s)
        idle = server.raw()  # an idle keep-alive connection is closed, not waited for
        self.assertTrue(wait_accepted(server, 101))
        server.proc.send_signal(signal.SIGTERM)
        statuses = []
        for s in socks:
            out, _ = read_responses(s, 1)
            # answered after the stop began (so in flight at SIGTERM): Connection: close
            statuses.append((out[0][0], out[0][1].get("connection")) if out else None)
            s.close()
        self.assertEqual(statuses, [(200, "close")] * 100)
        self.assertTrue(closed_by_peer(idle, 10))
        idle.close()
        self.assertEqual(server.proc.wait(timeout=scaled(30)), 0)
        server.stop()


class LogTest(unittest.TestCase):
    def test_access_log_off_by_default_and_json_to_stdout(self):
        quiet = Server()
        c = quiet.conn()
        c.request("GET", "/plaintext")
        c.getresponse().read()
        quiet.proc.send_signal(signal.SIGTERM)
        out, err = quiet.proc.communicate(timeout=30)
        self.assertEqual(quiet.proc.returncode, 0)
        self.assertNotIn("/plaintext", out + err)
        server = Server("--access-log", "-", "--access-log-format", "json", "--log-level", "info")
        c = server.conn()
        c.request("GET", "/plaintext?a=1")
        c.getresponse().read()
        c.request("DELETE", "/plaintext")
        c.getresponse().read()
        server.proc.send_signal(signal.SIGTERM)
        out, _ = server.proc.communicate(timeout=30)
        self.assertEqual(server.proc.returncode, 0)
        lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        self.assertEqual([(l["method"], l["target"], l["status"]) for l in lines],
                         [("GET", "/plaintext?a=1", 200), ("DELETE", "/plaintext", 405)])
        self.assertEqual(lines[0]["bytes"], 13)
        self.assertEqual(lines[0]["remote"], "127.0.0.1")

    def test_bad_log_flags_are_refused(self):
        for flags in (["--log-level", "loud"], ["--access-log-format", "xml"]):
            p = subprocess.run([e2e_support.ROOST, "serve", "--port", "0", *flags], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(p.returncode, 2, flags)
            self.assertIn("%s '%s'" % (flags[0], flags[1]), p.stderr)
            self.assertIn("accepted:", p.stderr)


if __name__ == "__main__":
    e2e_support.ROOST = os.path.abspath(sys.argv.pop(1))
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
