#!/usr/bin/env python3
"""End-to-end tests of `roost bench`: that it runs honestly, not what its figures are.

Usage: test_bench.py PATH/TO/roost
The benchmark starts its own servers on ephemeral ports and pins them to CPU 0 and the load
to CPU 1 (on a one-CPU machine both share CPU 0). Waits scale with ROOST_TEST_TIME_SCALE.
"""
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

ROOST = None
SCALE = float(os.environ.get("ROOST_TEST_TIME_SCALE", "1") or "1")
ROWS = "abcd"
HANDLERS = ["plaintext", "offload0"]


def cpus():
    n = os.cpu_count() or 1
    return ["--server-cpu", "0", "--load-cpu", "1" if n > 1 else "0"]


def bench(out, *flags, env=None):
    """Runs roost bench; returns (exit code, stdout, stderr)."""
    p = subprocess.run([ROOST, "bench", "--out", out, *cpus(), *flags],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=300 * SCALE, env=env)
    return p.returncode, p.stdout, p.stderr


class Routes(unittest.TestCase):
    """The two routes roost bench added to roost serve answer in every decomposition mode."""

    def test_yield_and_offload0_answer_in_every_row(self):
        modes = [[], ["--resume", "posted"], ["--run-on", "pool", "--wake", "per-item"],
                 ["--run-on", "pool"], ["--affinity", "off"]]
        for mode in modes:
            proc = subprocess.Popen([ROOST, "serve", "--port", "0", "--reactors", "1", *mode],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                m = re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stdout.readline())
                self.assertIsNotNone(m, "server did not start with %s" % mode)
                for path, body in (("/yield", b"yielded\n"), ("/offload0", b"offloaded\n")):
                    with urllib.request.urlopen("http://127.0.0.1:%s%s" % (m.group(1), path),
                                                timeout=10 * SCALE) as r:
                        self.assertEqual(r.status, 200, (mode, path))
                        self.assertEqual(r.read(), body, (mode, path))
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30 * SCALE)
                proc.stdout.close()


class Quick(unittest.TestCase):
    """One `roost bench --quick` run on a small matrix, shared by the checks below."""

    @classmethod
    def setUpClass(cls):
        cls.out = tempfile.mkdtemp(prefix="roost-bench-test.")
        t = time.monotonic()
        cls.rc, cls.stdout, cls.stderr = bench(
            cls.out, "--quick", "--rows", ROWS, "--handlers", ",".join(HANDLERS),
            "--gate-rounds", "2", "--connections", "16", "--peers", "none")
        cls.elapsed = time.monotonic() - t
        with open(os.path.join(cls.out, "bench.json")) as f:
            cls.report = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.out, ignore_errors=True)

    def test_exit_code_is_done_or_the_gate_with_its_message(self):
        # The gate compares two figures on a shared machine: it may fail or be inconclusive
        # here, but then it must say so, with its own exit code.
        self.assertIn(self.rc, (0, 3, 5), self.stderr)
        gate = self.report["gate"]
        self.assertEqual(gate["pairs"], 2)
        self.assertLessEqual(gate["interval_lo_pct"], gate["diff_pct"])
        self.assertLessEqual(gate["diff_pct"], gate["interval_hi_pct"])
        self.assertAlmostEqual(gate["spread_pct"],
                               (gate["interval_hi_pct"] - gate["interval_lo_pct"]) / 2, places=3)
        if self.rc == 3:
            self.assertIn("GATE FAILED", self.stderr)
            self.assertIn("GATE FAILED", self.stdout)
            self.assertEqual(gate["verdict"], "failed")
        elif self.rc == 5:
            self.assertIn("gate inconclusive (noisy machine)", self.stderr)
            self.assertIn("Gate inconclusive (noisy machine)", self.stdout)
            self.assertEqual(gate["verdict"], "inconclusive")
            self.assertGreater(gate["spread_pct"], gate["limit_pct"])
        else:
            self.assertIn("The gate holds", self.stdout)
            self.assertEqual(self.report["gate"]["verdict"], "held")

    def test_table_has_a_row_per_mode_affinity_and_handler(self):
        lines = [l for l in self.stdout.splitlines() if l.startswith("| /")]
        for h in HANDLERS:
            for aff in ("on", "off"):
                for row in ROWS:
                    pat = r"^\| /%s \| 16 \| %s \| \(%s\) " % (h, aff, row)
                    hits = [l for l in lines if re.match(pat, l)]
                    self.assertEqual(len(hits), 1, "%s %s %s" % (h, aff, row))
                    # 14 columns, every figure filled in (the cells are valid).
                    cols = [c.strip() for c in hits[0].strip("|").split("|")]
                    self.assertEqual(len(cols), 14, hits[0])
                    self.assertNotIn("-", cols[4:13], hits[0])
                    self.assertEqual(cols[13], "1/1", hits[0])
        for section in ("## Decomposition", "What the gaps mean", "## Perf gate",
                        "## Targets (issue 14)", "## Cells"):
            self.assertIn(section, self.stdout)
        self.assertRegex(self.stdout, r"\(a\)-\(b\) queue discipline")
        self.assertRegex(self.stdout, r"\(b\)-\(d\) migration and pool hop")
        self.assertRegex(self.stdout, r"\(c\)-\(d\) the eventfd storm")

    def test_csv_json_and_png_files_exist(self):
        for name in ("decomposition.png", "peers.png"):
            with open(os.path.join(self.out, name), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", name)
        with open(os.path.join(self.out, "cells.csv")) as f:
            rows = list(csv.DictReader(f))
        want = len(ROWS) * 2 * len(HANDLERS) + 2 * 2  # the matrix, then the gate's 2 rounds
        self.assertEqual(len(rows), want)
        self.assertEqual(len(self.report["cells"]), want)
        with open(os.path.join(self.out, "summary.csv")) as f:
            self.assertGreaterEqual(len(list(csv.DictReader(f))), len(ROWS) * 2 * len(HANDLERS))

    def test_every_cell_counted_only_2xx_responses(self):
        for c in self.report["cells"]:
            where = "%s %s %s /%s" % (c["section"], c["row"], c["affinity"], c["handler"])
            self.assertTrue(c["valid"], "%s: %s" % (where, c["note"]))
            self.assertGreater(c["responses"], 0, where)
            self.assertEqual(c["ok_2xx"], c["responses"], where)
            self.assertEqual(c["non_2xx"], 0, where)
            self.assertEqual(c["errors"], 0, where)
            self.assertIsNotNone(c["cpu_us_per_req"], where)
            self.assertIsNotNone(c["enters_per_req"], where)
        self.assertIn("0 invalid", self.stdout)

    def test_quick_stays_well_under_two_minutes(self):
        # The matrix here is smaller than --quick's default; the bound is generous.
        self.assertLess(self.elapsed, 120 * SCALE)


FAKE_WRK = """#!/bin/sh
# Stands in for wrk: every run "counts" 1000 responses, 7 of them with a status above 399.
echo "RESULT requests=1000 duration_us=1000000 connect=0 read=0 write=0 status=7 timeout=0"
"""


class Honesty(unittest.TestCase):
    def test_a_cell_with_non_2xx_responses_is_reported_invalid(self):
        out = tempfile.mkdtemp(prefix="roost-bench-test.")
        try:
            fake = os.path.join(out, "bin")
            os.mkdir(fake)
            with open(os.path.join(fake, "wrk"), "w") as f:
                f.write(FAKE_WRK)
            os.chmod(os.path.join(fake, "wrk"), 0o755)
            env = dict(os.environ, PATH=fake + os.pathsep + os.environ.get("PATH", ""))
            rc, stdout, stderr = bench(out, "--quick", "--load", "wrk", "--rows", "a",
                                       "--affinities", "on", "--handlers", "plaintext",
                                       "--gate-rounds", "1", "--peers", "none", env=env)
            with open(os.path.join(out, "bench.json")) as f:
                cells = json.load(f)["cells"]
            self.assertEqual(len(cells), 3)
            for c in cells:
                self.assertFalse(c["valid"])
                self.assertEqual(c["non_2xx"], 7)
                self.assertIn("7 non-2xx responses", c["note"])
            self.assertIn("3 invalid", stdout)
            self.assertIn("INVALID", stdout)
            # No valid cell on either side: the gate cannot decide, and says so.
            self.assertEqual(rc, 4, stderr)
            self.assertIn("gate undecided", stderr)
        finally:
            shutil.rmtree(out, ignore_errors=True)


    def test_a_server_that_does_not_start_leaves_invalid_cells_and_the_run_goes_on(self):
        # No machine has CPU 1000: each roost serve fails to be pinned there.
        out = tempfile.mkdtemp(prefix="roost-bench-test.")
        try:
            p = subprocess.run([ROOST, "bench", "--out", out, "--quick", "--server-cpu", "1000",
                                "--load-cpu", "0", "--rows", "ab", "--affinities", "on",
                                "--handlers", "plaintext", "--gate-rounds", "1", "--peers",
                                "none"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=120 * SCALE)
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("could not be pinned", p.stderr)
            with open(os.path.join(out, "bench.json")) as f:
                cells = json.load(f)["cells"]
            self.assertEqual([(c["section"], c["row"], c["valid"]) for c in cells],
                             [("decomposition", "a", False), ("decomposition", "b", False),
                              ("gate", "a", False), ("gate", "a", False)])
            self.assertIn("4 invalid", p.stdout)
            self.assertIn("roost serve did not start", p.stdout)
            for name in ("decomposition.png", "peers.png"):
                with open(os.path.join(out, name), "rb") as f:
                    self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", name)
        finally:
            shutil.rmtree(out, ignore_errors=True)


def main():
    global ROOST
    if len(sys.argv) < 2:
        print("usage: test_bench.py PATH/TO/roost", file=sys.stderr)
        return 2
    ROOST = os.path.abspath(sys.argv.pop(1))
    if shutil.which("wrk") is None:
        print("test_bench: wrk is not installed (scripts/install-deps.sh installs it); skipped")
        return 77
    if shutil.which("gnuplot") is None:
        print("test_bench: gnuplot is not installed (scripts/install-deps.sh installs it); "
              "skipped")
        return 77
    result = unittest.main(exit=False, verbosity=2).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
