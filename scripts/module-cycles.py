#!/usr/bin/env python3
"""Prints the import cycles between the modules of aad-auth/src (exit 1 if there is one).

    python3 scripts/module-cycles.py                 # every cycle in the crate
    python3 scripts/module-cycles.py --only testing  # only cycles among crate::testing::*
    python3 scripts/module-cycles.py --edges         # also print the graph

The graph is file-level: `a/b.rs` and `a/b/mod.rs` are the module `a::b`, `lib.rs` is the
crate root, and an inline `mod x { ... }` belongs to its file. An edge A -> B is a `use` line
or a qualified path in code (`crate::...`, `super::...`, `self::...`, or a child module's
name) in A's file that names B or an item B defines. Names re-exported with `pub use` are
followed to the module that defines them, so `use crate::AadAuth` is an edge to `aad`.

Not edges:
  * a module naming itself or one of its own descendants (a parent owns its children: `mod x;`
    and `pub use x::Item` are not a dependency that can make a cycle worth reporting), whereas
    a child naming its parent (`use super::Shared` in a `mod.rs` child) is one;
  * test code: `#[cfg(test)]` modules, files declared with `#[cfg(test)] mod x;`, and
    `tests.rs` files (their `use super::*` would otherwise tie every tested module to its
    parent). `--with-tests` includes them.

A cycle is a strongly connected component of more than one module; each is printed with the
edges inside it and where each edge first appears. Python 3, no dependencies.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "aad-auth", "src")

Module = tuple  # ("testing", "oauth"); () is the crate root


def display(module: Module) -> str:
    return "::".join(module) if module else "crate"


# ---------------------------------------------------------------------------------------------
# Lexing: comments and literals blanked out (newlines kept, for line numbers), then tokens.


def sanitize(text: str) -> str:
    out = []
    i, n = 0, len(text)

    def blank(segment: str) -> str:
        return "".join("\n" if c == "\n" else " " for c in segment)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif (m := re.compile(r'b?r(#*)"').match(text, i)) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find('"' + m.group(1), m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
            out.append('"' + blank(text[i + 1 : j - 1]) + '"')
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('"' + blank(text[i + 1 : j]) + '"')
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if i + 1 < n and text[i + 1] == "\\":
                j = text.find("'", i + 2)
                j = n if j < 0 else j
                out.append(" " + blank(text[i + 1 : j]) + " ")
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                out.append("   ")
                i += 3
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


TOKEN = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*|::|\S")


def tokens(text: str):
    line = 1
    pos = 0
    for m in TOKEN.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        yield m.group(0), line


# ---------------------------------------------------------------------------------------------
# Parsing: `mod` declarations, `use` trees and qualified paths, per file.


class Use:
    def __init__(self, scope, segments, line, glob=False, alias=None, public=False):
        self.scope = scope  # the (possibly inline) module the line is in
        self.segments = segments  # as written, `crate`/`super`/`self` included
        self.line = line
        self.glob = glob
        self.alias = alias
        self.public = public


def parse_use_tree(toks, i, prefix, out):
    """Parses one use tree at toks[i]; appends (segments, glob, alias); returns the next index."""
    segments = list(prefix)
    if i < len(toks) and toks[i] == "::":
        i += 1
    while i < len(toks):
        tok = toks[i]
        if tok == "{":
            i += 1
            while i < len(toks) and toks[i] != "}":
                i = parse_use_tree(toks, i, segments, out)
                if i < len(toks) and toks[i] == ",":
                    i += 1
            return i + 1
        if tok == "*":
            out.append((segments, True, None))
            return i + 1
        if re.match(r"[A-Za-z_$]", tok):
            if tok == "self" and segments:
                pass  # `a::{self, ...}` names `a`
            else:
                segments = segments + [tok]
            i += 1
            if i < len(toks) and toks[i] == "::":
                i += 1
                continue
            alias = None
            if i + 1 < len(toks) and toks[i] == "as":
                alias = toks[i + 1]
                i += 2
            out.append((segments, False, alias))
            return i
        return i + 1
    return i


def is_test_cfg(attr):
    return attr[:1] == ["cfg"] and "test" in attr and "not" not in attr


def parse_file(path, module, with_tests):
    """Returns (uses, test_children, path_children) of one file."""
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    toks = list(tokens(sanitize(raw)))
    words = [t for t, _ in toks]
    uses = []
    test_children = set()
    path_children = {}
    for m in re.finditer(r'#\[path\s*=\s*"([^"]+)"\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;', raw):
        path_children[m.group(2)] = m.group(1)

    stack = []  # per open brace: (inline module name or None, is test)
    pending_test = False
    file_test = False
    i = 0
    n = len(toks)

    def scope():
        return tuple(module) + tuple(name for name, _ in stack if name)

    def in_test():
        return file_test or any(test for _, test in stack)

    while i < n:
        tok, line = toks[i]
        if tok == "#" and i + 1 < n and words[i + 1] in ("[", "!"):
            inner = words[i + 1] == "!"
            j = i + (3 if inner else 2)
            depth, attr = 1, []
            while j < n and depth:
                if words[j] == "[":
                    depth += 1
                elif words[j] == "]":
                    depth -= 1
                if depth:
                    attr.append(words[j])
                j += 1
            if is_test_cfg(attr):
                if inner and not stack:
                    file_test = True
                else:
                    pending_test = True
            i = j
            continue
        if tok == "mod" and i + 2 < n and re.match(r"[A-Za-z_]", words[i + 1]):
            name = words[i + 1]
            if words[i + 2] == ";":
                if pending_test:
                    test_children.add(name)
                pending_test = False
                i += 3
                continue
            if words[i + 2] == "{":
                stack.append((name, pending_test))
                pending_test = False
                i += 3
                continue
        if tok == "use" and (i == 0 or words[i - 1] != "::"):
            j = i + 1
            while j < n and words[j] != ";":
                j += 1
            public = i > 0 and (words[i - 1] == "pub" or (words[i - 1] == ")" and "pub" in words[max(0, i - 6) : i]))
            trees = []
            parse_use_tree(words[i + 1 : j], 0, [], trees)
            if with_tests or not (in_test() or pending_test):
                for segments, glob, alias in trees:
                    uses.append(Use(scope(), segments, line, glob, alias, public))
            pending_test = False
            i = j + 1
            continue
        if tok in ("crate", "$crate", "super", "self") and i + 1 < n and words[i + 1] == "::" and (i == 0 or words[i - 1] != "::"):
            segments = []
            j = i
            while j < n and re.match(r"[A-Za-z_$]", words[j]):
                segments.append(words[j].lstrip("$"))
                if j + 1 < n and words[j + 1] == "::":
                    j += 2
                else:
                    j += 1
                    break
            if with_tests or not in_test():
                uses.append(Use(scope(), segments, line))
            i = j
            continue
        if tok == "{":
            stack.append((None, pending_test))
            pending_test = False
        elif tok == "}":
            if stack:
                stack.pop()
        elif tok == ";":
            pending_test = False
        i += 1
    return uses, test_children, path_children, file_test


# ---------------------------------------------------------------------------------------------
# The crate: which file is which module, and the edges.


def crate_files(root):
    """Maps each module to its file, following `mod` declarations from lib.rs (so that files
    that are not compiled, and `#[path]` modules, are handled like the compiler does)."""
    files = {}
    test_modules = set()
    todo = [((), os.path.join(root, "lib.rs"), False)]
    while todo:
        module, path, test = todo.pop()
        if module in files or not os.path.exists(path):
            continue
        files[module] = path
        if test or os.path.basename(path) == "tests.rs":
            test_modules.add(module)
        with open(path, encoding="utf-8") as f:
            raw = f.read()
        sanitized = sanitize(raw)
        is_mod_rs = os.path.basename(path) in ("lib.rs", "mod.rs")
        here = os.path.dirname(path) if is_mod_rs else os.path.splitext(path)[0]
        _, test_children, path_children, file_test = parse_file(path, module, True)
        if file_test:
            test_modules.add(module)
        # Only file modules at the top level of the file (inline modules with file children are
        # not used in this crate).
        depth = 0
        toks = list(tokens(sanitized))
        for k, (tok, _) in enumerate(toks):
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
            elif tok == "mod" and depth == 0 and k + 2 < len(toks) and toks[k + 2][0] == ";":
                name = toks[k + 1][0]
                if name in path_children:
                    child = os.path.join(os.path.dirname(path), path_children[name])
                else:
                    child = os.path.join(here, name + ".rs")
                    if not os.path.exists(child):
                        child = os.path.join(here, name, "mod.rs")
                todo.append((module + (name,), child, test or module in test_modules or name in test_children))
    return files, test_modules


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", action="append", default=[], metavar="MODULE",
                        help="check only the modules under MODULE (e.g. testing); repeatable")
    parser.add_argument("--with-tests", action="store_true", help="count imports in test code too")
    parser.add_argument("--edges", action="store_true", help="print every edge of the checked graph")
    parser.add_argument("--root", default=ROOT, help="the crate's src directory")
    args = parser.parse_args()

    files, test_modules = crate_files(args.root)
    modules = set(files)

    def file_module(scope):
        while scope not in modules:
            scope = scope[:-1]
        return scope

    parsed = {}
    for module, path in files.items():
        if module in test_modules and not args.with_tests:
            continue
        parsed[module] = parse_file(path, module, args.with_tests)[0]

    def absolute(use):
        """The written path as segments from the crate root, or None (another crate)."""
        segs = list(use.segments)
        scope = list(use.scope)
        if not segs:
            return None
        if segs[0] in ("crate",):
            base, segs = [], segs[1:]
        elif segs[0] in ("super", "self"):
            base = scope
            while segs and segs[0] in ("super", "self"):
                if segs[0] == "super":
                    base = base[:-1]
                segs = segs[1:]
        elif tuple(file_module(tuple(scope))) + (segs[0],) in modules:
            base = list(file_module(tuple(scope)))  # a child module named without `self::`
        else:
            return None
        return base + segs

    # Re-exports: (module, name) -> absolute path of what `pub use` names there. (A glob
    # re-export is not followed; the crate has none.)
    reexports = {}
    for module, uses in parsed.items():
        for use in uses:
            target = absolute(use) if use.public and not use.glob else None
            if target:
                reexports[(module, use.alias or target[-1])] = target

    def resolve(path, seen=()):
        """The module that defines what `path` names."""
        k = len(path)
        while tuple(path[:k]) not in modules:
            k -= 1
        module = tuple(path[:k])
        rest = path[k:]
        key = (module, rest[0]) if rest else None
        if key in reexports and key not in seen:
            return resolve(reexports[key], seen + (key,))
        return module

    edges = {}  # (from, to) -> first "file:line"
    for module, uses in parsed.items():
        for use in uses:
            target = absolute(use)
            if target is None:
                continue
            to = resolve(target)
            if to == module or to[: len(module)] == module:
                continue  # itself, or one of its descendants
            key = (module, to)
            where = f"{os.path.relpath(files[module], os.path.join(args.root, '..', '..'))}:{use.line}"
            if key not in edges:
                edges[key] = (where, "::".join(use.segments))

    def checked(module):
        if not args.only:
            return True
        return any(module[: len(o)] == o for o in (tuple(x.split("::")) for x in args.only))

    nodes = sorted(m for m in modules if checked(m) and (m in parsed))
    graph = defaultdict(set)
    for (a, b) in edges:
        if checked(a) and checked(b):
            graph[a].add(b)

    # Tarjan's strongly connected components.
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            sccs.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in nodes:
        if v not in index:
            visit(v)
    cycles = sorted((c for c in sccs if len(c) > 1), key=lambda c: [display(m) for m in c])

    scope_text = ", ".join(args.only) if args.only else "aad-auth/src"
    edge_count = sum(len(graph[v]) for v in nodes)
    if args.edges:
        for a in nodes:
            for b in sorted(graph[a]):
                where, written = edges[(a, b)]
                print(f"{display(a)} -> {display(b)}    {where} {written}")
        print()
    if not cycles:
        print(f"no import cycle among the {len(nodes)} modules of {scope_text} ({edge_count} edges)")
        return 0
    print(f"{len(cycles)} import cycle(s) among the {len(nodes)} modules of {scope_text} ({edge_count} edges):")
    for number, component in enumerate(cycles, 1):
        members = set(component)
        print(f"\ncycle {number}: {', '.join(display(m) for m in component)}")
        for a in component:
            for b in sorted(graph[a]):
                if b in members:
                    where, written = edges[(a, b)]
                    print(f"  {display(a)} -> {display(b)}    {where} {written}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
