#!/usr/bin/env python3
"""End-to-end tests of the HTTP client through `roost serve --upstream` and `roost load`,
against a real nginx started here (loopback, a config written by the test, its own access
log) and against `roost serve`.

Usage: test_client.py PATH/TO/roost
Every server gets an ephemeral port; every wait is bounded, scaled by ROOST_TEST_TIME_SCALE.
Exit 77 (skipped) when nginx is not installed.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.request

import e2e_support
from e2e_support import Server, free_port, wait_port

SCALE = e2e_support.TIME_SCALE
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

CHUNKY = "Hello, World! " * 300  # served by nginx through sub_filter: chunked, ~4 KB

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
lock_file {dir}/nginx.lock;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format counted '$connection $request_uri $status $request_method $http_x_load';
    access_log {dir}/access.log counted;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
        location = /plain {{
            default_type text/plain;
            add_header X-Peer nginx;
            return 200 "plain body";
        }}
        location = /chunky.txt {{
            sub_filter_types text/plain;
            sub_filter 'World' 'roost';
            sub_filter_once off;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="roost-client-nginx-")
        os.makedirs(self.dir + "/www")
        os.chmod(self.dir, 0o755)
        with open(self.dir + "/www/chunky.txt", "w") as f:
            f.write(CHUNKY)
        os.chmod(self.dir + "/www", 0o755)
        os.chmod(self.dir + "/www/chunky.txt", 0o644)
        for _ in range(3):  # the port may be taken between probe and bind: try another
            self.port = free_port()
            with open(self.dir + "/nginx.conf", "w") as f:
                f.write(NGINX_CONF.format(dir=self.dir, port=self.port))
            self.proc = subprocess.Popen(
                [NGINX, "-p", self.dir + "/", "-c", self.dir + "/nginx.conf", "-e",
                 self.dir + "/error.log"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if wait_port(self.port, 10 * SCALE):
                return
            self.stop()
        raise RuntimeError("nginx did not start: " + open(self.dir + "/error.log").read())

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def log_lines(self):
        """The access log's lines ('$connection $uri $status $method $x_load'), split."""
        with open(self.dir + "/access.log") as f:
            return [l.split() for l in f.read().splitlines() if l]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finishes and flushes the log
            try:
                self.proc.wait(timeout=20 * SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def get(url):
    with urllib.request.urlopen(url, timeout=10 * SCALE) as r:
        return r.status, dict(r.headers), r.read()


def load(*args):
    out = subprocess.run([e2e_support.ROOST, "load", "--json", *args], capture_output=True, text=True,
                         timeout=120 * SCALE)
    if out.returncode != 0:
        raise AssertionError("roost load failed: %s %s" % (out.stdout, out.stderr))
    return json.loads(out.stdout)


class UpstreamAgainstNginx(unittest.TestCase):
    def setUp(self):
        self.nginx = Nginx()

    def tearDown(self):
        self.nginx.cleanup()

    def test_body_and_status_come_through(self):
        s = Server("--upstream", self.nginx.url("/plain"))
        try:
            status, headers, body = get(s.url("/upstream"))
        finally:
            self.assertEqual(s.stop(), 0)
        self.assertEqual(status, 200)
        self.assertEqual(body, b"plain body")
        self.assertEqual(headers.get("Content-Type"), "text/plain")

    def test_a_chunked_response_is_decoded(self):
        # nginx's sub_filter drops the length: the answer comes chunked
        s = Server("--upstream", self.nginx.url("/chunky.txt"))
        raw = subprocess.run(["curl", "-s", "--raw", "-D", "-", self.nginx.url("/chunky.txt")],
                             capture_output=True, timeout=10 * SCALE).stdout
        self.assertIn(b"transfer-encoding: chunked", raw.lower())
        try:
            status, _, body = get(s.url("/upstream"))
        finally:
            self.assertEqual(s.stop(), 0)
        self.assertEqual(status, 200)
        self.assertEqual(body.decode(), CHUNKY.replace("World", "roost"))

    def test_connections_are_reused(self):
        s = Server("--upstream", self.nginx.url("/plain"))
        try:
            for _ in range(20):
                self.assertEqual(get(s.url("/upstream"))[2], b"plain body")
        finally:
            self.assertEqual(s.stop(), 0)
        self.nginx.stop()
        conns = {l[0] for l in self.nginx.log_lines() if l[1] == "/plain"}
        requests = [l for l in self.nginx.log_lines() if l[1] == "/plain"]
        self.assertEqual(len(requests), 20)
        # One keep-alive pool per reactor: at most one connection each (two reactors).
        self.assertLessEqual(len(conns), 2)

    def test_a_404_is_a_response_not_an_error(self):
        s = Server("--upstream", self.nginx.url("/missing"))
        try:
            with self.assertRaises(urllib.error.HTTPError) as e:
                get(s.url("/upstream"))
            self.assertEqual(e.exception.code, 404)
        finally:
            self.assertEqual(s.stop(), 0)


class UpstreamAgainstRoost(unittest.TestCase):
    def test_roost_serve_as_upstream(self):
        up = Server()
        front = Server("--upstream", up.url("/json"))
        try:
            status, headers, body = get(front.url("/upstream"))
            self.assertEqual(status, 200)
            self.assertEqual(body, b'{"message":"Hello, World!"}')
            self.assertEqual(headers.get("Content-Type"), "application/json")
            self.assertIn(headers.get("X-Roost-Reactor"), ("0", "1"))
        finally:
            self.assertEqual(front.stop(), 0)
            self.assertEqual(up.stop(), 0)

    def test_a_refused_upstream_is_502(self):
        front = Server("--upstream", "http://127.0.0.1:%d/" % free_port())
        try:
            with self.assertRaises(urllib.error.HTTPError) as e:
                get(front.url("/upstream"))
            self.assertEqual(e.exception.code, 502)
            self.assertIn(b"refused", e.exception.read())
        finally:
            self.assertEqual(front.stop(), 0)

    def test_only_the_configured_url_is_fetched(self):
        front = Server("--upstream", "http://127.0.0.1:%d/" % free_port())
        try:
            for path in ("/upstream/other", "/upstream?url=http://x/"):
                try:
                    status = get(front.url(path))[0]
                except urllib.error.HTTPError as e:
                    status = e.code
                self.assertIn(status, (404, 502))  # never a fetch of something else
        finally:
            self.assertEqual(front.stop(), 0)


class LoadAgainstNginx(unittest.TestCase):
    def setUp(self):
        self.nginx = Nginx()

    def tearDown(self):
        self.nginx.cleanup()

    def logged(self, uri):
        return sum(1 for l in self.nginx.log_lines() if l[1] == uri and l[2] == "200")

    def test_count_matches_the_access_log(self):
        r = load("-n", "3000", "-c", "8", "-t", "2", "-p", "4", self.nginx.url("/plain"))
        self.nginx.stop()
        self.assertEqual(r["requests"], 3000)
        self.assertEqual(r["status"]["2xx"], 3000)
        self.assertEqual(sum(r["errors"].values()), 0)
        self.assertEqual(self.logged("/plain"), 3000)

    def test_a_timed_run_matches_within_the_requests_in_flight(self):
        c, p = 8, 4
        r = load("-d", "1s", "-c", str(c), "-t", "2", "-p", str(p), self.nginx.url("/plain"))
        self.nginx.stop()
        logged = self.logged("/plain")
        self.assertGreater(r["requests"], 0)
        self.assertLessEqual(r["requests"], logged)
        self.assertLessEqual(logged - r["requests"], c * p)

    def test_chunked_responses_and_url_rotation(self):
        r = load("-n", "400", "-c", "4", "-p", "2", self.nginx.url("/plain"),
                 self.nginx.url("/chunky.txt"))
        self.nginx.stop()
        self.assertEqual(r["requests"], 400)
        self.assertEqual(sum(r["errors"].values()), 0)
        self.assertEqual(self.logged("/plain") + self.logged("/chunky.txt"), 400)
        # each connection alternates the two URLs: an odd count leaves one more of either
        self.assertLessEqual(abs(self.logged("/chunky.txt") - 200), 4)

    def short_lived(self, flag):
        r = load("-n", "200", "-c", "4", flag, "10", self.nginx.url("/plain"))
        self.nginx.stop()
        self.assertEqual(r["requests"], 200)
        per_conn = {}
        for l in self.nginx.log_lines():
            per_conn[l[0]] = per_conn.get(l[0], 0) + 1
        self.assertEqual(sum(per_conn.values()), 200)
        self.assertLessEqual(max(per_conn.values()), 10)  # then it reconnects
        self.assertGreaterEqual(len(per_conn), 20)

    def test_short_lived_connections(self):
        self.short_lived("-r")

    def test_short_lived_connections_long_flag(self):
        self.short_lived("--conn-requests")

    def test_headers_and_raw_request_files(self):
        r = load("-n", "50", "-c", "2", "-H", "X-Load: yes", self.nginx.url("/plain"))
        self.assertEqual(r["requests"], 50)
        raw = [os.path.join(self.nginx.dir, n) for n in ("get.http", "head.http")]
        with open(raw[0], "wb") as f:
            f.write(b"GET /plain HTTP/1.1\r\nHost: x\r\nX-Load: raw\r\n\r\n")
        with open(raw[1], "wb") as f:
            f.write(b"HEAD /chunky.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r = load("-n", "40", "-c", "1", "--raw", ",".join(raw), self.nginx.url("/"))
        self.nginx.stop()
        self.assertEqual(r["requests"], 40)
        self.assertEqual(sum(r["errors"].values()), 0)
        lines = self.nginx.log_lines()
        self.assertEqual(sum(1 for l in lines if l[3:] == ["GET", "yes"]), 50)
        self.assertEqual(sum(1 for l in lines if l[3:] == ["GET", "raw"]), 20)
        self.assertEqual(sum(1 for l in lines if l[1] == "/chunky.txt" and l[3] == "HEAD"), 20)

    def test_a_failing_server_ends_an_n_run(self):
        out = subprocess.run([e2e_support.ROOST, "load", "--json", "-n", "3", "-c", "4",
                              "http://127.0.0.1:%d/" % free_port()], capture_output=True,
                             text=True, timeout=60 * SCALE)
        self.assertEqual(out.returncode, 1)
        r = json.loads(out.stdout)
        self.assertEqual(r["requests"], 0)
        self.assertEqual(r["errors"]["connect"], 3)

    def test_localhost_is_resolved(self):
        r = load("-n", "100", "-c", "2", "http://localhost:%d/plain" % self.nginx.port)
        self.assertEqual(r["requests"], 100)
        self.assertEqual(sum(r["errors"].values()), 0)


class LoadAgainstRoost(unittest.TestCase):
    def test_pipelined_load_is_answered(self):
        s = Server()
        try:
            r = load("-n", "5000", "-c", "16", "-t", "2", "-p", "16", s.url("/plaintext"))
        finally:
            self.assertEqual(s.stop(), 0)
        self.assertEqual(r["requests"], 5000)
        self.assertEqual(r["status"]["2xx"], 5000)
        self.assertEqual(sum(r["errors"].values()), 0)

    def test_method_and_body_are_sent(self):
        s = Server()
        try:
            r = load("-n", "20", "-c", "2", "-m", "POST", "-b", "hello", s.url("/plaintext"))
        finally:
            self.assertEqual(s.stop(), 0)
        self.assertEqual(r["status"]["4xx"], 20)  # /plaintext is GET only: 405, framed
        self.assertEqual(sum(r["errors"].values()), 0)

    def test_a_malformed_server_is_counted_as_parse_errors(self):
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        port = ls.getsockname()[1]
        import threading

        def serve():
            ls.settimeout(10 * SCALE)
            try:
                for _ in range(3):
                    c, _ = ls.accept()
                    c.recv(4096)
                    c.sendall(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")
                    c.close()
            except OSError:
                pass

        t = threading.Thread(target=serve)
        t.start()
        out = subprocess.run([e2e_support.ROOST, "load", "--json", "-n", "3", "-c", "1", "-t", "1",
                              "http://127.0.0.1:%d/" % port], capture_output=True, text=True,
                             timeout=60 * SCALE)
        t.join()
        ls.close()
        r = json.loads(out.stdout)
        self.assertEqual(r["requests"], 0)  # never a success
        self.assertGreaterEqual(r["errors"]["parse"], 1)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    e2e_support.ROOST = os.path.abspath(sys.argv.pop(1))
    if not NGINX:
        print("nginx not installed: skipped")
        sys.exit(77)
    unittest.main(verbosity=2)
