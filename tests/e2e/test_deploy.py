#!/usr/bin/env python3
"""End-to-end: nginx in front of two `roost serve` backends (examples/deploy/nginx.conf, the
configuration docs/deploy.md describes), and a graceful restart of each backend in turn under
load with no failed request.

Usage: test_deploy.py PATH/TO/roost
Exit 77 (skipped) without nginx. Every wait is bounded and scaled by ROOST_TEST_TIME_SCALE.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOST = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(HERE, "..", "..", "examples", "deploy", "nginx.conf")
SCALE = float(os.environ.get("ROOST_TEST_TIME_SCALE", "1") or 1)
CLIENTS = 4
MAX_REQUESTS = 200000  # per client: a bound on the load loop besides time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_backend(port):
    p = subprocess.Popen([ROOST, "serve", "--port", str(port), "--reactors", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if "listening on" not in line:
        p.kill()
        raise RuntimeError("backend did not start: %r %r" % (line, p.stderr.read()))
    return p


def stop_backend(p):
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=60 * SCALE)
    p.stdout.close()
    p.stderr.close()
    return rc


def requests_served(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SCALE)
    c.request("GET", "/metrics")
    body = c.getresponse().read().decode()
    c.close()
    return int(re.search(r'roost_http_requests_total\{class="2xx"\} (\d+)', body).group(1))


class Load:
    """CLIENTS threads sending keep-alive GETs through nginx until stopped."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.ok = 0
        self.failures = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def run(self):
        c = None
        for _ in range(MAX_REQUESTS):
            if self.stop.is_set():
                break
            try:
                if c is None:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30 * SCALE)
                c.request("GET", "/plaintext")
                r = c.getresponse()
                body = r.read()
                with self.lock:
                    if r.status == 200 and body == b"Hello, World!":
                        self.ok += 1
                    else:
                        self.failures.append((r.status, body[:80]))
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.failures.append(repr(e))
                c = None
        if c is not None:
            c.close()

    def wait_for(self, n):
        end = time.time() + 60 * SCALE
        while time.time() < end:
            with self.lock:
                if self.ok >= n:
                    return True
            time.sleep(0.01)
        return False

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60 * SCALE)


def main():
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not nginx:
        print("nginx not installed: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="roost-deploy-")
    a_port, b_port, front = free_port(), free_port(), free_port()
    conf = open(CONF).read()
    for old, new in (("127.0.0.1:8080", "127.0.0.1:%d" % front),
                     ("127.0.0.1:8081", "127.0.0.1:%d" % a_port),
                     ("127.0.0.1:8082", "127.0.0.1:%d" % b_port)):
        assert old in conf, old
        conf = conf.replace(old, new)
    # Run unprivileged-style paths inside the temporary prefix.
    conf = conf.replace("http {", "http {\n    client_body_temp_path %s/body;\n"
                        "    proxy_temp_path %s/proxy;\n" % (tmp, tmp), 1)
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(conf)
    os.makedirs(os.path.join(tmp, "logs"))
    backends = {a_port: start_backend(a_port), b_port: start_backend(b_port)}
    ngx = subprocess.Popen([nginx, "-p", tmp, "-c", os.path.join(tmp, "nginx.conf"), "-g",
                            "daemon off; pid %s/nginx.pid; error_log %s/error.log;" % (tmp, tmp)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    load = None
    status = 1
    try:
        end = time.time() + 30 * SCALE
        while True:
            try:
                socket.create_connection(("127.0.0.1", front), timeout=1).close()
                break
            except OSError:
                if time.time() > end or ngx.poll() is not None:
                    raise RuntimeError("nginx did not start: %s" % ngx.stderr.read())
                time.sleep(0.05)
        load = Load(front)
        assert load.wait_for(500), "no traffic through nginx"
        restarted = []
        for port in (a_port, b_port):
            # Graceful restart under load: SIGTERM (stop accepting, finish in-flight requests,
            # close idle keep-alive connections, exit 0), then start again on the same port.
            before = load.ok
            rc = stop_backend(backends[port])
            assert rc == 0, "backend exited %d" % rc
            assert load.wait_for(before + 500), "no traffic while one backend was down"
            backends[port] = start_backend(port)
            before = load.ok
            assert load.wait_for(before + 1000), "no traffic after the restart"
            restarted.append(port)
        load.finish()
        served = {p: requests_served(p) for p in restarted}
        print("requests through nginx: %d ok, %d failed; served since restart: %s"
              % (load.ok, len(load.failures), served))
        assert not load.failures, "failed requests: %s" % load.failures[:5]
        # nginx spread the load over both restarted backends (each answered more than the
        # one /metrics request this test made)
        assert all(n > 1 for n in served.values()), served
        status = 0
    finally:
        if load:
            load.finish()
        ngx.send_signal(signal.SIGQUIT)
        try:
            ngx.wait(timeout=30 * SCALE)
        except subprocess.TimeoutExpired:
            ngx.kill()
            ngx.wait()
        for p in backends.values():
            if p.poll() is None:
                stop_backend(p)
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
