#!/usr/bin/env python3
"""Fails if an actor exposes more than a mailbox.

Actors share nothing: every actor is reached only through its typed mailbox.
So the public part of each actor class in src/actors/ (the classes named
*_actor, plus disk_monitor and ticker) may hold only:
  - its constructors and destructor (copy/move may be deleted),
  - tell(<message>), the one way in,
  - start() and stop(),
  - static constants.
Any other public member function or data member would let another actor
reach into it, so it is reported, with file and line.

Usage: check_actor_api.py [DIR]      (default: src/actors next to this repo)
       check_actor_api.py --selftest  (plants a violation in a copy: it must be caught)
"""
import os
import re
import shutil
import sys
import tempfile

ALLOWED = {"tell", "start", "stop"}
EXTRA_ACTORS = {"disk_monitor", "ticker"}


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def actor_classes(text):
    """Yields (name, body_start, body_end) for each actor class in `text`."""
    for m in re.finditer(r"\bclass\s+(\w+)\s*(?:final\s*)?(?::[^{;]*)?\{", text):
        name = m.group(1)
        if not (name.endswith("_actor") or name in EXTRA_ACTORS):
            continue
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        yield name, m.end(), i - 1


def public_declarations(text, start, end):
    """(offset, declaration) of each member declared at class depth in a public section."""
    access = "private"  # class default
    depth, paren, decl_start, i = 0, 0, start, start
    out = []
    while i < end:
        c = text[i]
        if depth == 0 and paren == 0:
            m = re.match(r"\s*(public|private|protected)\s*:(?!:)", text[i:end])
            if m and text[decl_start:i].strip() == "":
                access = m.group(1)
                i += m.end()
                decl_start = i
                continue
        if c == "(":
            paren += 1
        elif c == ")":
            paren -= 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0 and paren == 0:
                decl = text[decl_start:i + 1].strip()
                # A function body ends the declaration (no ';' after it),
                # unless a brace initializer of a data member follows.
                nxt = text[i + 1:end].lstrip()
                if not nxt.startswith(";") and not nxt.startswith(","):
                    if access == "public" and decl:
                        out.append((decl_start, decl))
                    decl_start = i + 1
        elif c == ";" and depth == 0 and paren == 0:
            decl = text[decl_start:i].strip()
            if access == "public" and decl:
                out.append((decl_start, decl))
            decl_start = i + 1
        i += 1
    return out


def verdict(cls, decl):
    """None if `decl` may be public in actor `cls`, else why not."""
    d = " ".join(decl.split())
    if d.startswith(("using ", "typedef ", "friend ", "static_assert")):
        return None
    if re.match(r"(static\s+constexpr|static\s+inline\s+constexpr|constexpr\s+static)\b", d):
        return None
    if re.match(r"(struct|class|enum)\b", d):
        return None
    m = re.match(r"(?:explicit\s+)?(~?\w+)\s*\(", d)
    if m and m.group(1) in (cls, "~" + cls):
        return None
    m = re.search(r"(\w+|operator\s*=)\s*\(", d)
    if m:
        name = m.group(1)
        if name.startswith("operator") and re.search(r"=\s*delete\s*$", d):
            return None
        if name in ALLOWED:
            return None
        return f"public member function '{name}'"
    return "public data member"


def check_dir(directory):
    problems = []
    for fn in sorted(os.listdir(directory)):
        if not fn.endswith(".h"):
            continue
        path = os.path.join(directory, fn)
        text = strip_comments(open(path, encoding="utf-8").read())
        for cls, start, end in actor_classes(text):
            for off, decl in public_declarations(text, start, end):
                why = verdict(cls, decl)
                if why:
                    line = text.count("\n", 0, off + len(decl) - len(decl.lstrip())) + 1
                    first = " ".join(decl.split())[:90]
                    problems.append(f"{path}:{line}: {cls}: {why}: {first}")
    return problems


def selftest(directory):
    with tempfile.TemporaryDirectory() as tmp:
        for fn in os.listdir(directory):
            if fn.endswith(".h"):
                shutil.copy(os.path.join(directory, fn), tmp)
        target = os.path.join(tmp, "consensus_actor.h")
        text = open(target, encoding="utf-8").read()
        planted = text.replace("  void start();", "  void start();\n  const raft_view& view() const { return view_; }", 1)
        if planted == text:
            print("selftest: cannot plant the violation (consensus_actor.h has no 'void start();')")
            return 1
        open(target, "w", encoding="utf-8").write(planted)
        problems = check_dir(tmp)
        if not any("consensus_actor: public member function 'view'" in p for p in problems):
            print("selftest: the planted consensus_actor::view() was NOT caught")
            return 1
        print("selftest: the planted violation is caught:",
              next(p for p in problems if "'view'" in p))
    return 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    args = sys.argv[1:]
    default = os.path.join(here, "..", "..", "src", "actors")
    if args and args[0] == "--selftest":
        return selftest(args[1] if len(args) > 1 else default)
    directory = args[0] if args else default
    problems = check_dir(directory)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} public member(s) besides constructor, tell(), start(), stop(): "
              "actors must be reached only through their mailboxes")
        return 1
    print("actor API check: every actor exposes only its constructor, tell(), start() and stop()")
    return 0


if __name__ == "__main__":
    sys.exit(main())
