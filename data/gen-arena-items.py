#!/usr/bin/env python3
"""Writes data/arena-items.json: the 50 items `roost serve` answers GET /json/{count} from.

One object per line, keys in this order: src/cli/serve_arena.c reads exactly this shape.
Deterministic (no randomness), so the file in the repository is reproducible.
"""
import json
import sys

CATEGORIES = ["electronics", "books", "garden", "toys", "kitchen"]
TAGS = ["new", "sale", "popular", "eco", "gift", "limited"]

lines = []
for i in range(1, 51):
    item = {
        "id": i,
        "name": "Item %d" % i,
        "category": CATEGORIES[i % len(CATEGORIES)],
        "price": 100 + (i * 37) % 900,
        "quantity": 1 + (i * 7) % 20,
        "active": i % 3 != 0,
        "tags": [TAGS[i % len(TAGS)], TAGS[(i * 5 + 1) % len(TAGS)]],
        "rating": {"score": 1 + i % 5, "count": (i * 13) % 500},
    }
    lines.append(json.dumps(item, separators=(",", ":")))
out = sys.argv[1] if len(sys.argv) > 1 else "data/arena-items.json"
with open(out, "w") as f:
    f.write("[\n" + ",\n".join(lines) + "\n]\n")
