#!/usr/bin/env python3
"""Checks that stormlight's modules form a one-way graph.

Usage: scripts/check-layers.py [SRC_DIR]        (default: src/ beside this script)

Reads every .c and .h file under SRC_DIR and builds two graphs:

  file graph    one node per module: x.c and x.h are the module x ("report/html").
                An edge a -> b when a file of a includes a header of b (#include "..."),
                or when a .c file of a uses a function or variable that a .c file of b
                defines (external sl_* names, found by a light scan of the sources), so a
                cycle hidden behind one shared header still shows.
  folder graph  the same edges between folders (src/report/, src/stats/, ...).

and fails (exit 1, listing the offending edges) when

  - a file lies in a folder that LAYERS below does not name;
  - an edge points to a folder of the same or a higher layer (folders of one layer are
    peers and do not depend on each other);
  - the folder graph or the file graph has a cycle (KNOWN_CYCLES aside);
  - an #include "..." names no file under SRC_DIR.

Python 3 and its standard library only, so anyone can run it; ctest runs it as
lint.layers. The layer order and why is in ARCHITECTURE.md ("Module graph").
"""

import os
import re
import sys

# The layer order, bottom first. A folder may use folders of lower layers only. The
# top-level files count as folders of their own: sl.c/sl.h are the base, main.c is main.
LAYERS = [
    # errors, clocks, durations, URLs, the failure vocabulary, number formatting
    ["base"],
    # the mechanisms: event loop and timers, transports, statistics and snapshots
    ["loop", "net", "stats"],
    # the HTTP/1.1 response reader (and the session seam over net/ and loop/);
    # thresholds, evaluated on a snapshot by whoever owns the run
    ["http", "threshold"],
    # the scenario file: Lua loader, Task{}/User{}, the plan, stages and shapes
    ["scenario"],
    # runner, workers, scripted users
    ["engine"],
    # every view of a snapshot: live, summary, JSON, CSV, HTML, HDR log
    ["report"],
    # the run controller: start, change, stages, shapes, thresholds, stop, state
    ["control"],
    # ways in beside the terminal: the web UI and API (web/) and the distributed
    # master and worker (dist/); both drive the controller and read its snapshots
    ["web", "dist"],
    # options, config file, environment, live keys: they set up and wire the layers below
    ["cli"],
    # wiring and exit codes
    ["main"],
]

# Top-level files under SRC_DIR and the folder they count as.
TOP_LEVEL = {"sl": "base", "main": "main"}

# File cycles that are known and owned by a piece of work in progress: (a, b) sorted.
# Each is reported as a note, not a failure; remove the entry when the cycle is gone.
KNOWN_CYCLES = {}

# Headers the build generates (in the build folder, not under SRC_DIR): the git revision
# for --version (cmake/revision.cmake). They depend on nothing.
GENERATED = {"sl_revision.h"}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
IDENT_RE = re.compile(r"\b(sl_[A-Za-z0-9_]*)\b")
# A file-scope definition of an external name: a line that starts in column 0 with a type
# (not static, typedef, extern, a preprocessor line or a brace) and names sl_something.
DEF_START_RE = re.compile(r"^(?!static\b|typedef\b|extern\b|struct\s+\w+\s*\{|enum\b|union\b)"
                          r"[A-Za-z_][^;(]*?\b(sl_[A-Za-z0-9_]*)\s*(\(|\[|=)")


def rank_of():
    ranks = {}
    for i, layer in enumerate(LAYERS):
        for folder in layer:
            ranks[folder] = i
    return ranks


def strip_comments_and_strings(text):
    """Blanks out comments and string and character literals, keeping line breaks."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (min(j, n) - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_of(rel):
    """'report/html.c' -> ('report/html', 'report'); 'sl.h' -> ('sl', 'base')."""
    stem = os.path.splitext(rel)[0]
    parts = stem.split("/")
    if len(parts) == 1:
        return stem, TOP_LEVEL.get(stem, stem)
    return stem, parts[0]


def find_cycles(nodes, edges):
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                scc = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    scc.append(w)
                    if w == v:
                        break
                if len(scc) > 1:
                    sccs.append(sorted(scc))
    return sccs


def main(argv):
    src = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
    src = os.path.normpath(src)
    ranks = rank_of()
    files = {}
    for dirpath, _, names in os.walk(src):
        for name in names:
            if name.endswith((".c", ".h")):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, src).replace(os.sep, "/")
                with open(path, encoding="utf-8", errors="replace") as f:
                    files[rel] = f.read()
    if not files:
        print(f"check-layers: no .c or .h files under {src}", file=sys.stderr)
        return 2

    problems = []
    module_folder = {}
    for rel in files:
        mod, folder = module_of(rel)
        module_folder[mod] = folder
        if folder not in ranks:
            problems.append(f"{rel}: folder '{folder}' is not in the layer table (LAYERS)")

    # edges[a][b] = list of reasons ("report/html.c includes cli/duration.h")
    edges = {}

    def add_edge(a, b, why):
        if a != b:
            edges.setdefault(a, {}).setdefault(b, []).append(why)

    for rel, text in sorted(files.items()):
        mod = module_of(rel)[0]
        for inc in INCLUDE_RE.findall(text):
            here = os.path.normpath(os.path.join(os.path.dirname(rel), inc)).replace(os.sep, "/")
            target = inc if inc in files else here if here in files else None
            if target is None and inc in GENERATED:
                continue
            if target is None:
                problems.append(f"{rel}: #include \"{inc}\" names no file under {src}")
                continue
            add_edge(mod, module_of(target)[0], f"{rel} includes {target}")

    # External definitions in .c files, then their uses in other modules' .c files.
    defined_in = {}
    stripped = {rel: strip_comments_and_strings(t) for rel, t in files.items()}
    for rel, text in stripped.items():
        if not rel.endswith(".c"):
            continue
        lines = text.split("\n")
        for i, line in enumerate(lines):
            m = DEF_START_RE.match(line)
            if not m:
                continue
            # A definition, not a declaration: the statement does not end in ';' before
            # its body or initialiser starts.
            tail = "\n".join(lines[i:i + 12])
            if m.group(2) == "(":
                body = re.search(r"[;{]", tail[m.end(1):])
                if not body or body.group(0) != "{":
                    continue
            defined_in.setdefault(m.group(1), module_of(rel)[0])
    for rel, text in sorted(stripped.items()):
        if not rel.endswith(".c"):
            continue
        mod = module_of(rel)[0]
        seen = set()
        for name in IDENT_RE.findall(text):
            owner = defined_in.get(name)
            if owner and owner != mod and name not in seen:
                seen.add(name)
                add_edge(mod, owner, f"{rel} uses {name} ({owner}.c)")

    # Layer order: every edge between folders must go down.
    folder_edges = {}
    for a, targets in sorted(edges.items()):
        fa = module_folder[a]
        for b, why in sorted(targets.items()):
            fb = module_folder[b]
            if fa == fb:
                continue
            folder_edges.setdefault(fa, {}).setdefault(fb, []).extend(why)
            if fa in ranks and fb in ranks and ranks[fb] >= ranks[fa]:
                kind = "upward" if ranks[fb] > ranks[fa] else "sideways (same layer)"
                problems.append(f"{kind}: {fa}/ -> {fb}/: {why[0]}"
                                + (f" (and {len(why) - 1} more)" if len(why) > 1 else ""))

    for scc in find_cycles(set(module_folder.values()), folder_edges):
        inner = [f"{a}/ -> {b}/ ({folder_edges[a][b][0]})"
                 for a in scc for b in scc if b in folder_edges.get(a, {})]
        problems.append("folder cycle: " + ", ".join(s + "/" for s in scc) + "\n    "
                        + "\n    ".join(inner))

    notes = []
    cycles = find_cycles(set(module_folder), edges)
    for key in sorted(set(KNOWN_CYCLES) - {tuple(c) for c in cycles}):
        notes.append("known file cycle " + " <-> ".join(key) + " is gone: remove it from "
                     "KNOWN_CYCLES")
    for scc in cycles:
        inner = [f"{a} -> {b} ({edges[a][b][0]})"
                 for a in scc for b in scc if b in edges.get(a, {})]
        key = tuple(scc)
        text = "file cycle: " + ", ".join(scc) + "\n    " + "\n    ".join(inner)
        if key in KNOWN_CYCLES:
            notes.append(text + f"\n    known: {KNOWN_CYCLES[key]}")
        else:
            problems.append(text)

    for note in notes:
        print(f"note: {note}")
    nedges = sum(len(t) for t in edges.values())
    if problems:
        for p in problems:
            print(f"error: {p}")
        print(f"check-layers: {len(problems)} problem(s) in {len(files)} files, "
              f"{len(module_folder)} modules, {nedges} module edges")
        return 1
    print(f"check-layers: ok: {len(files)} files, {len(module_folder)} modules, {nedges} "
          f"module edges, {len(set(module_folder.values()))} folders in "
          f"{len(LAYERS)} layers; no upward edge, no cycle"
          + (f" besides {len(notes)} noted above" if notes else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
