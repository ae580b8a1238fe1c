#!/usr/bin/env python3
"""Figures for docs/hostile-clients.md: what hostile clients cost `roost serve`.

Usage: bench/hostile_figures.py PATH/TO/roost [p99] [mem] [mem2] [cpu]
  p99   a normal client's latency beside each hostile client (--reactors 1);
        N=count in the environment sets the number of requests (400)
  mem   RSS per non-reading /metrics pipeliner, 200 connections, 1 reactor
  mem2  the same with 2 reactors
  cpu   server CPU for 100k pipelined requests at --buf-size 4096 and 1m
Run it against two builds (before and after a change) to compare them side by side.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import test_hostile as th  # noqa: E402
import test_serve  # noqa: E402

test_serve.ROOST = os.path.abspath(sys.argv[1])
what = sys.argv[2:] or ["p99", "mem", "cpu"]


def server(*flags):
    return test_serve.Server("--reactors", "1", "--grace-ms", "1000", *flags)


if "p99" in what:
    n = int(os.environ.get("N", "400"))
    delay = b"GET /delay/20000 HTTP/1.1\r\nHost: x\r\n\r\n"
    for name, data in [("delay/20000 + 16 MiB pipelined",
                         delay + th.PLAIN * (16 * 1024 * 1024 // len(th.PLAIN))),
                        ("150,000 pipelined /metrics", th.METRICS * 150000)]:
        srv = server()
        h = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        f = th.Flooder(h, data)
        f.start()
        f.stalled.wait(60)
        lat = th.latencies(srv.port, n, 2.0)
        ok = sorted(v for v in lat if v is not None)
        p99 = "%.2f ms" % (th.p99(lat) * 1000) if len(ok) == n else "inf"
        print("p99 beside %s: %d/%d answered, p99 %s" % (name, len(ok), n, p99), flush=True)
        h.close()
        srv.stop()

for key in ("mem", "mem2"):
    if key not in what:
        continue
    n = 200
    srv = server() if key == "mem" else test_serve.Server("--grace-ms", "1000")
    time.sleep(0.3)
    base = th.proc_status(srv.proc.pid, "VmRSS")
    socks, floods = [], []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        f = th.Flooder(s, th.METRICS * 20000)
        f.start()
        socks.append(s)
        floods.append(f)
    for f in floods:
        f.stalled.wait(120)
    time.sleep(0.5)
    rss = th.proc_status(srv.proc.pid, "VmRSS") - base
    print("%s: %d non-reading connections: RSS +%.1f MiB, %.0f KiB per connection"
          % (key, n, rss / 1048576, rss / n / 1024), flush=True)
    for s in socks:
        s.close()
    srv.stop()

if "cpu" in what:
    class Probe(th.HostileTest):
        def runTest(self):
            pass

    t = Probe()
    for size in ("4096", "1m"):
        print("cpu: 100k pipelined at --buf-size %s: %.2f s of server CPU"
              % (size, t.pipelined_cpu(size, 100000)), flush=True)
