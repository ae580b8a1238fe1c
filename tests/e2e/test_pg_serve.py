#!/usr/bin/env python3
"""End-to-end tests of `roost serve --pg`: the database endpoints against a real PostgreSQL.

Usage: test_pg_serve.py PATH/TO/roost
scripts/pg-test-server.sh starts PostgreSQL in a temporary directory on a free loopback port
(skipped with 77 when PostgreSQL is not installed); results are checked against the database
with psql. Every endpoint runs under both clients (ring and offload). Waits scale with
ROOST_TEST_TIME_SCALE.
"""
import asyncio
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

import e2e_support
HERE = os.path.dirname(os.path.abspath(__file__))
PGSCRIPT = os.path.join(HERE, "..", "..", "scripts", "pg-test-server.sh")
SCALE = e2e_support.TIME_SCALE
DB = {}


def pg(cmd):
    r = subprocess.run([PGSCRIPT, cmd, DB["dir"]], capture_output=True, text=True, timeout=120 * SCALE)
    return r.returncode, r.stdout.strip()


def psql(sql):
    r = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\t", DB["url"], "-c", sql],
                       capture_output=True, text=True, timeout=60 * SCALE, check=True)
    return [line.split("\t") for line in r.stdout.splitlines() if line]


class Server(e2e_support.Server):
    """roost serve with --pg: the database URL the test started, or url."""

    def __init__(self, *flags, url=None):
        super().__init__("--pg", url or DB["url"], *flags)

    def get(self, path):
        c = self.conn(timeout=30)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read()
        finally:
            c.close()

    def stop(self):
        return super().stop(show_stderr_on_failure=True)


class Endpoints:
    """The endpoint checks; subclasses pick the client."""
    FLAGS = ()

    def setUp(self):
        self.srv = Server(*self.FLAGS)

    def tearDown(self):
        self.assertEqual(self.srv.stop(), 0)

    def world(self, wid):
        return int(psql("SELECT randomnumber FROM world WHERE id = %d" % wid)[0][0])

    def test_db_returns_a_world_row_as_json(self):
        st, ctype, body = self.srv.get("/db")
        self.assertEqual(st, 200)
        self.assertEqual(ctype, "application/json")
        w = json.loads(body)
        self.assertEqual(set(w), {"id", "randomNumber"})
        self.assertTrue(1 <= w["id"] <= 10000)
        self.assertEqual(w["randomNumber"], self.world(w["id"]))

    def test_queries_count_is_clamped_to_1_through_500(self):
        for arg, want in (("20", 20), ("0", 1), ("-3", 1), ("foo", 1), ("", 1), ("501", 500),
                          ("500", 500)):
            st, ctype, body = self.srv.get("/queries?queries=" + arg)
            self.assertEqual(st, 200)
            rows = json.loads(body)
            self.assertEqual(len(rows), want, arg)
        st, _, body = self.srv.get("/queries")
        self.assertEqual(len(json.loads(body)), 1)
        st, _, body = self.srv.get("/queries?queries=5")
        for w in json.loads(body):
            self.assertEqual(w["randomNumber"], self.world(w["id"]))

    def test_fortunes_are_escaped_sorted_with_the_extra_one(self):
        st, ctype, body = self.srv.get("/fortunes")
        self.assertEqual(st, 200)
        self.assertEqual(ctype, "text/html; charset=utf-8")
        text = body.decode("utf-8")
        self.assertTrue(text.startswith("<!DOCTYPE html><html><head><title>Fortunes</title>"))
        rows = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", text)
        want = [(int(i), m) for i, m in psql("SELECT id, message FROM fortune")]
        want.append((0, "Additional fortune added at request time."))
        want.sort(key=lambda f: f[1].encode("utf-8"))
        self.assertEqual([(int(i), html.unescape(m)) for i, m in rows], want)
        self.assertNotIn("<script>", text)
        self.assertIn("&lt;script&gt;", text)

    def test_updates_persist_the_new_numbers(self):
        st, ctype, body = self.srv.get("/updates?queries=10")
        self.assertEqual(st, 200)
        rows = json.loads(body)
        self.assertEqual(len(rows), 10)
        # The ids are drawn at random and may repeat within a request: the last update of an
        # id is the one the table keeps.
        last = {w["id"]: w["randomNumber"] for w in rows}
        for wid, number in last.items():
            self.assertEqual(number, self.world(wid))
        st, _, body = self.srv.get("/updates?queries=0")
        self.assertEqual(len(json.loads(body)), 1)

    def test_async_db_returns_the_price_range_with_nested_rating_and_count(self):
        st, ctype, body = self.srv.get("/async-db?min=10&max=30&limit=7")
        self.assertEqual(st, 200)
        self.assertEqual(ctype, "application/json")
        doc = json.loads(body)
        self.assertEqual(doc["count"], len(doc["items"]))
        self.assertEqual(doc["count"], 7)
        for it in doc["items"]:
            row = psql("SELECT name, category, price, quantity, active, rating_score, rating_count "
                       "FROM items WHERE id = %d" % it["id"])[0]
            self.assertTrue(10 <= it["price"] <= 30)
            self.assertEqual(it["name"], row[0])
            self.assertEqual(it["category"], row[1])
            self.assertEqual(it["price"], int(row[2]))
            self.assertEqual(it["quantity"], int(row[3]))
            self.assertEqual(it["active"], row[4] == "t")
            self.assertEqual(it["rating"], {"score": int(row[5]), "count": int(row[6])})
        st, _, body = self.srv.get("/async-db?min=5000&max=6000&limit=5")
        self.assertEqual(json.loads(body), {"items": [], "count": 0})


class RingEndpoints(Endpoints, unittest.TestCase):
    FLAGS = ("--pg-pool", "4")


class OffloadEndpoints(Endpoints, unittest.TestCase):
    FLAGS = ("--pg-client", "offload", "--pool-threads", "2")


async def one_db(port):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(b"GET /db HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        await w.drain()
        data = await r.read()
    finally:
        w.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b" ")[1] == b"200" and b"randomNumber" in body


async def many_db(port, n):
    return await asyncio.wait_for(asyncio.gather(*(one_db(port) for _ in range(n))),
                                  timeout=120 * SCALE)


class Load(unittest.TestCase):
    def test_thousand_concurrent_db_requests_over_a_pool_of_8_are_all_answered(self):
        srv = Server("--pg-pool", "8", url=DB["url"] + "?application_name=roost_load")
        try:
            oks = asyncio.run(many_db(srv.port, 1000))
            self.assertEqual(sum(oks), 1000)
            # The pool opens its 8 connections and no more; the requests may all have been
            # answered before the last connection was up, so wait (bounded) for it.
            sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'roost_load'"
            end = time.time() + 20 * SCALE
            while int(psql(sql)[0][0]) < 8 and time.time() < end:
                time.sleep(0.02)
            self.assertEqual(int(psql(sql)[0][0]), 8)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_database_restart_gives_errors_then_answers_again(self):
        srv = Server("--pg-pool", "2")
        try:
            self.assertEqual(srv.get("/db")[0], 200)
            pg("stop")
            st = srv.get("/db")[0]
            self.assertEqual(st, 500)
            rc, url = pg("start")
            self.assertEqual(rc, 0)
            end = time.time() + 60 * SCALE
            while time.time() < end and srv.get("/db")[0] != 200:
                time.sleep(0.1)
            self.assertEqual(srv.get("/db")[0], 200)
        finally:
            pg("start")
            self.assertEqual(srv.stop(), 0)


def main():
    e2e_support.ROOST = os.path.abspath(sys.argv.pop(1))
    DB["dir"] = os.path.join(tempfile.mkdtemp(prefix="roost-pg-e2e."), "db")
    rc, url = pg("start")
    if rc == 77:
        print("PostgreSQL is not installed: skipped")
        sys.exit(77)
    if rc != 0:
        print("cannot start PostgreSQL:", url)
        sys.exit(1)
    DB["url"] = url
    try:
        prog = unittest.main(exit=False, verbosity=2)
        ok = prog.result.wasSuccessful()
    finally:
        pg("kill")
        os.rmdir(os.path.dirname(DB["dir"]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
