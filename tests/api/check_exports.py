#!/usr/bin/env python3
"""The shared library exports exactly the public API: every function declared in include/
is exported by libroost.so, and every exported symbol is declared there.

    check_exports.py LIBROOST_SO INCLUDE_DIR

Declarations are read from the headers (comments and preprocessor lines removed; static
inline helpers and function-pointer typedefs are not exports). Exports come from
`nm -D --defined-only`. Exit 0 when the two sets match, 1 otherwise, 77 without nm.
"""
import pathlib
import re
import shutil
import subprocess
import sys


def declared(include_dir):
    names = set()
    for header in sorted(pathlib.Path(include_dir).rglob("*.h")):
        text = header.read_text()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        # Drop preprocessor lines, with their continuations (X-macro lists, guards).
        text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
        # Drop static inline functions, bodies included (none export a symbol).
        text = re.sub(r"static\s+inline[^{;]*\{(?:[^{}]|\{[^{}]*\})*\}", " ", text)
        # Declarations end with ';' at file scope: keep the ones that look like functions,
        # a name directly followed by its parameter list. typedef'd function pointers have
        # '(*name)' and are skipped by the lookbehind.
        for stmt in text.split(";"):
            if re.match(r"\s*typedef\b", stmt):
                continue
            m = re.search(r"(?<!\w)(?<!\(\*)(roost_\w+)\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*(?:__attribute__.*)?$",
                          stmt.strip(), flags=re.S)
            if m:
                names.add(m.group(1))
    return names


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TWDBRVi":
            names.add(parts[2])
    return names


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    if not shutil.which("nm"):
        print("nm not found: skipped")
        return 77
    lib, include_dir = sys.argv[1], sys.argv[2]
    decl, exp = declared(include_dir), exported(lib)
    print(f"{len(decl)} functions declared in include/, {len(exp)} symbols exported")
    ok = True
    for name in sorted(exp - decl):
        print(f"exported but not declared in include/: {name}")
        ok = False
    for name in sorted(decl - exp):
        print(f"declared in include/ but not exported: {name}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
