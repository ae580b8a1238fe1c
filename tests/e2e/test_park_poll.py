#!/usr/bin/env python3
"""Offload-heavy load against `roost serve` with the reactor's park poll: no wake is lost.

Usage: test_park_poll.py PATH/TO/roost

Each server runs one reactor and one pool worker on one CPU (as `roost bench` runs them),
so the reactor and the worker take turns: the reactor polls its inbox before parking while
offloads or pool-run tasks are away, and parks when its short budget runs out. `roost
load` sends a fixed number of /offload0 requests over 16 connections; a completion left in
the inbox of a parked reactor would stall its connection until the load's timeout: every
request must be answered 2xx with no error. The server's counters must show that the poll
ran and found work, and that the per-item row (c) never polls.
"""
import json
import os
import subprocess
import sys
import unittest
import urllib.request

import e2e_support
from e2e_support import Server

REQUESTS = 20000


def metrics(server):
    with urllib.request.urlopen(server.url("/metrics"), timeout=e2e_support.scaled(10)) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        name = name.split("{", 1)[0]
        if name.startswith("roost_"):
            name = name[len("roost_"):]
        if name.endswith("_total"):
            name = name[: -len("_total")]
        out[name] = out.get(name, 0) + float(value)
    return out


def pinned_server(*flags):
    """One reactor and one worker, both on this process's first allowed CPU."""
    cpu = min(os.sched_getaffinity(0))
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})  # the server inherits it
    try:
        return Server("--pool-threads", "1", *flags, reactors="1")
    finally:
        os.sched_setaffinity(0, saved)


class ParkPollTest(unittest.TestCase):
    def load(self, server):
        timeout_ms = str(int(e2e_support.scaled(10) * 1000))
        out = subprocess.run([e2e_support.ROOST, "load", "--json", "-t", "1", "-c", "16",
                              "-n", str(REQUESTS), "--timeout", timeout_ms,
                              server.url("/offload0")],
                             capture_output=True, text=True, timeout=e2e_support.scaled(300))
        self.assertEqual(out.returncode, 0, out.stderr)
        report = json.loads(out.stdout)
        self.assertEqual(report["status"]["2xx"], REQUESTS, report)
        self.assertEqual(sum(report["errors"].values()), 0, report)

    def run_row(self, *flags):
        server = pinned_server(*flags)
        try:
            before = metrics(server)
            self.load(server)
            after = metrics(server)
        finally:
            server.stop()
        return {k: after.get(k, 0) - before.get(k, 0) for k in after}

    def test_pool_row_loses_no_wake_and_polls(self):
        d = self.run_row("--run-on", "pool", "--wake", "coalesced")
        print(f"# (d): {d['park_polls']:.0f} polls, {d['park_poll_hits']:.0f} found work, "
              f"{d['wakes_written']:.0f} eventfd writes for {REQUESTS} requests")
        self.assertGreater(d["park_poll_hits"], 0)

    def test_offloading_reactor_loses_no_wake_and_polls(self):
        d = self.run_row("--resume", "inline")
        self.assertGreater(d["park_poll_hits"], 0)

    def test_per_item_row_never_polls(self):
        d = self.run_row("--run-on", "pool", "--wake", "per-item")
        self.assertEqual(d["park_polls"], 0)
        self.assertGreaterEqual(d["wakes_written"], REQUESTS)  # at least one per request


if __name__ == "__main__":
    e2e_support.ROOST = os.path.abspath(sys.argv.pop(1))
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
