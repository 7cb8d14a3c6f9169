#!/usr/bin/env python3
"""tests/contract/docs_check.py - README.md and docs/*.md say what the tree does.

Usage: docs_check.py CHECK SOURCE_DIR BIN_DIR [CC INCLUDE_DIR...]
CHECK is one of (each a ctest entry, label "contract"):
  links        every relative link and #anchor in the pages resolves (GitHub's heading anchors),
               and every docs/*.md page is linked from README.md;
  options      every --option named in the pages exists in some program's --help, or is one of
               the few options of other tools listed in FOREIGN_OPTIONS (checked against their
               source where it is in the tree); on a command line (a code block's line or an
               inline code span that runs cs-PROG), every option belongs to cs-PROG's own --help;
               every CS_* name exists in a --help or somewhere in the tree; and every option of
               the shipped programs (SHIPPED) appears in docs/operations.md;
  libcore-map  the table between the "libcore map" markers of docs/runtime.md lists every file
               under libcore/src, libcore/include/cs and libcore/gen, once, and nothing else;
  examples     every fenced sh, json, sql or c block is marked on the line before it with
               <!-- check: KIND --> or <!-- unchecked: why -->; checked blocks: "sh" runs with
               bash -e in a scratch directory where build/bin is the build's bin directory; "c"
               compiles against the public headers (CC and the include dirs), warnings as errors;
               "event" (json) passes cs-produce --dry-run line by line; "config PROGRAM" (json) is
               accepted by PROGRAM --config FILE --help;
  examples-db  needs CS_PG_DSN (a superuser DSN, as scripts/test sets it): for each page, in
               order, "db" blocks (sh, with CS_PG_DSN set to a fresh database of the page's own;
               migrated by cs-migrate first when the page has no "db" block to do it) and "sql"
               blocks (psql, ON_ERROR_STOP) run against that database, and a
               <!-- check: output --> text block right after a sql block is its exact output
               (psql -AtX: one row a line, columns joined by |).
Exit status 0 when every check passes, 1 otherwise; each failure names the page and the line.
Python 3 standard library only (scripts/bootstrap installs python3).
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
import urllib.parse

# Shipped programs whose every option docs/operations.md must document ("cs-audit verify" is the
# subcommand). Test and benchmark helpers (cs-testworker, cs-bench-*) are documented where used.
SHIPPED_BASE = ["cs-audit", "cs-progress", "cs-produce", "cs-loadgen", "cs-migrate", "cs-seed", "cs-lag",
                "cs-readiness", "cs-matcher", "cs-replay"]

# The workers: each has the runtime's `replay` (run by cs-replay WORKER) and `redrive` modes.
WORKERS = ["cs-audit", "cs-progress", "cs-readiness", "cs-matcher"]

# Subcommands with options of their own: "PROGRAM WORD --help" is their help.
SUBCOMMANDS = [("cs-audit", "verify")] + [(w, m) for w in WORKERS for m in ("replay", "redrive")]
SHIPPED = SHIPPED_BASE + [f"{p} {w}" for p, w in SUBCOMMANDS]

# Options of other tools that the pages name, and where each is defined: a path in the tree (the
# option must appear in that file) or None for a tool outside the tree.
FOREIGN_OPTIONS = {
    "--brokers": "scripts/kafka",                # scripts/kafka start --brokers N
    "--publish-linger-ms": "bench/pipeline.sh",  # the pipeline benchmark's own option
    "--million": "bench/readiness.sh",           # bench/readiness.sh --million (the 1,000,000-event stream)
    "--kcat": "bench/latency.sh",                # bench/latency.sh --kcat (Kafka's own delivery as the floor)
    "--configs": "bench/pipeline.sh",            # bench/pipeline.sh --configs "all all all"
    "--latency-events": "bench/pipeline.sh",     # bench/pipeline.sh --latency-events 0 (no latency run)
    "--warm-broker": "bench/pipeline.sh",        # bench/pipeline.sh --warm-broker (the JIT compiled first)
    "--warm-drain": "bench/pipeline.sh",         # bench/pipeline.sh --warm-drain (an untimed drain first)
    "--runs": "bench/readiness.sh",              # bench/readiness.sh --million --runs 3
    "--keep-db": "bench/readiness.sh",           # bench/readiness.sh --keep-db NAME (the database kept)
    "--hold-relay": "bench/readiness.sh",        # bench/readiness.sh --hold-relay (the relay held)
    "--as-role": "bench/readiness.sh",           # bench/readiness.sh --as-role (the worker role)
    "--compare": "bench/readiness.sh",           # bench/readiness.sh --compare DIR (a "before" build)
    "--compare-sql": "bench/readiness.sh",       # bench/readiness.sh --compare-sql FILE (its schema)
    "--bin": "bench/readiness.sh",               # bench/*.sh --bin DIR (built programs)
    "--tls": "scripts/kafka",                    # scripts/kafka start --tls
    "--sasl": "scripts/kafka",                   # scripts/kafka start --sasl
    "--ssl": "scripts/devdb",                    # scripts/devdb start --ssl
    "--build": None,                             # cmake --build
    "--test-dir": None,                          # ctest --test-dir
    "--output-on-failure": None,                 # ctest
    "--describe": None,                          # Kafka's kafka-consumer-groups.sh
    "--members": None,                           # Kafka's kafka-consumer-groups.sh
    "--tool": None,                              # valgrind --tool=callgrind
    "--option": None,                            # the placeholder in "--option=value"
}

failures = []


def fail(where, msg):
    failures.append(f"{where}: {msg}")


def pages(src):
    docs = os.path.join(src, "docs")
    out = [os.path.join(src, "README.md")]
    if os.path.isdir(docs):
        out += sorted(os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))
    return out


def rel(src, path):
    return os.path.relpath(path, src)


FENCE = re.compile(r"^(```+|~~~+)\s*([A-Za-z0-9_+-]*)\s*$")


def blocks(lines):
    """Fenced blocks: (start line index of the fence, language, body lines, marker or None)."""
    out = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2)
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence[:3]):
            j += 1
        k = i - 1
        while k >= 0 and lines[k].strip() == "":
            k -= 1
        marker = None
        if k >= 0:
            mm = re.match(r"^<!--\s*(check|unchecked):\s*(.*?)\s*-->\s*$", lines[k])
            if mm:
                marker = (mm.group(1), mm.group(2))
        out.append((i, lang, lines[i + 1:j], marker))
        i = j + 1
    return out


def prose_lines(lines):
    """(index, line) of the lines outside fenced blocks."""
    inside = None
    for i, line in enumerate(lines):
        m = FENCE.match(line)
        if inside is None and m:
            inside = m.group(1)[:3]
            continue
        if inside is not None:
            if line.startswith(inside):
                inside = None
            continue
        yield i, line


def slug(heading):
    h = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    h = h.strip().lower().replace("`", "")
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


_anchor_cache = {}


def anchors(path):
    if path in _anchor_cache:
        return _anchor_cache[path]
    seen = {}
    out = set()
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for _, line in prose_lines(lines):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            s = slug(m.group(1))
            if s in seen:
                seen[s] += 1
                out.add(f"{s}-{seen[s]}")
            else:
                seen[s] = 0
                out.add(s)
        for a in re.findall(r'<a\s+(?:id|name)="([^"]+)"', line):
            out.add(a)
    _anchor_cache[path] = out
    return out


def strip_code_spans(line):
    return re.sub(r"`+[^`]*`+", "", line)


def check_links(src, bindir, extra):
    linked = set()
    readme = os.path.join(src, "README.md")
    for page in pages(src):
        with open(page, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for i, line in prose_lines(lines):
            text = strip_code_spans(line)
            targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
            targets += re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", text)
            for t in targets:
                where = f"{rel(src, page)}:{i + 1}"
                if re.match(r"^[a-z][a-z0-9+.-]*:", t):
                    continue  # http(s), mailto: not followed (no network in tests)
                path, _, frag = t.partition("#")
                path = urllib.parse.unquote(path)
                target = page if path == "" else os.path.normpath(os.path.join(os.path.dirname(page), path))
                if not os.path.exists(target):
                    fail(where, f"link to '{t}': {rel(src, target)} does not exist")
                    continue
                if page == readme:
                    linked.add(target)
                if frag:
                    if not target.endswith(".md"):
                        fail(where, f"link to '{t}': an anchor into a file that is not markdown")
                    elif frag not in anchors(target):
                        fail(where, f"link to '{t}': {rel(src, target)} has no heading with anchor #{frag}")
    for page in pages(src):
        if page != readme and page not in linked:
            fail(rel(src, page), "not linked from README.md")


def helps(bindir):
    """{program: help text} for every cs-* program, and the SUBCOMMANDS ('cs-audit verify')."""
    out = {}
    for name in sorted(os.listdir(bindir)):
        path = os.path.join(bindir, name)
        if not name.startswith("cs-") or not os.access(path, os.X_OK) or not os.path.isfile(path):
            continue
        r = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        out[name] = r.stdout + r.stderr
    for prog, sub in SUBCOMMANDS:
        if prog in out:
            r = subprocess.run([os.path.join(bindir, prog), sub, "--help"], capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
            out[f"{prog} {sub}"] = r.stdout + r.stderr
    return out


OPT = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
STOP = {"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>&1", "#"}


def command_lines(lines):
    """(index, text) of what may be a command line: code block lines and inline code spans."""
    for start, lang, body, _ in blocks(lines):
        if lang in ("sh", "bash", "console", "shell", ""):
            for k, b in enumerate(body):
                yield start + 1 + k, b
    for i, line in prose_lines(lines):
        for span in re.findall(r"`([^`]+)`", line):
            yield i, span


def check_options(src, bindir, extra):
    h = helps(bindir)
    if not h:
        fail(bindir, "no cs-* program found: wrong build directory?")
        return
    known = {}
    for prog, text in h.items():
        known[prog] = set("--" + o for o in OPT.findall(text))
    every = set().union(*known.values())
    variables = set(re.findall(r"\bCS_[A-Z0-9_]+\b", "\n".join(h.values())))
    for opt, home in FOREIGN_OPTIONS.items():
        if home is not None:
            with open(os.path.join(src, home), encoding="utf-8", errors="replace") as f:
                if opt not in f.read():
                    fail(home, f"FOREIGN_OPTIONS says {opt} is defined here, and it is not")
    tree_text = None
    for page in pages(src):
        with open(page, encoding="utf-8") as f:
            text = f.read()
        lines = text.split("\n")
        for i, line in enumerate(lines):
            for o in OPT.findall(line):
                o = "--" + o
                if o not in every and o not in FOREIGN_OPTIONS:
                    fail(f"{rel(src, page)}:{i + 1}", f"{o} is not an option of any program (--help)")
            for v in re.findall(r"\bCS_[A-Z0-9_]+\b", line):
                if v in variables:
                    continue
                if tree_text is None:
                    tree_text = tree_words(src)
                if v not in tree_text:
                    fail(f"{rel(src, page)}:{i + 1}", f"{v} is named nowhere in the tree or in a --help")
        for i, cmd in command_lines(lines):
            try:
                words = shlex.split(cmd, comments=False, posix=True)
            except ValueError:
                words = cmd.split()
            prog = None
            for w in words:
                if w in STOP or w.startswith("#"):
                    prog = None
                    continue
                base = os.path.basename(w)
                if prog is None and re.fullmatch(r"cs-[a-z-]+", base) and base in h:
                    prog = base
                    continue
                if prog is not None and (prog, w) in SUBCOMMANDS:
                    prog = f"{prog} {w}"
                    continue
                if prog == "cs-replay" and w == "--dead-letters":
                    prog = "cs-replay --dead-letters"
                    continue
                if prog == "cs-replay --dead-letters":
                    # cs-replay --dead-letters WORKER runs cs-WORKER redrive; without a worker,
                    # every worker's: the options are the re-drive's (cs-progress redrive's).
                    if "cs-" + w + " redrive" in h:
                        prog = "cs-" + w + " redrive"
                        continue
                    prog = "cs-progress redrive"
                if prog == "cs-replay" and "cs-" + w + " replay" in h:
                    prog = "cs-" + w + " replay"  # cs-replay WORKER runs cs-WORKER replay
                    continue
                if prog is not None:
                    m = re.match(r"^--([a-z][a-z0-9-]*)", w)
                    if m and "--" + m.group(1) not in known[prog]:
                        fail(f"{rel(src, page)}:{i + 1}",
                             f"{prog} has no option --{m.group(1)} (in: {cmd.strip()})")
    ops_path = os.path.join(src, "docs", "operations.md")
    with open(ops_path, encoding="utf-8") as f:
        ops = f.read()
    for prog in SHIPPED:
        if prog not in known:
            fail(bindir, f"{prog} is missing from the build")
            continue
        for o in sorted(known[prog]):
            if not re.search(r"`" + re.escape(o) + r"(?![a-z0-9-])", ops):
                fail("docs/operations.md", f"{prog}'s option {o} is not documented (as `{o}`)")


def tree_words(src):
    words = set()
    for top in ("libcore", "workers", "tools", "scripts", "tests", "bench", "CMakeLists.txt", "sql"):
        base = os.path.join(src, top)
        paths = [base] if os.path.isfile(base) else [
            os.path.join(d, f) for d, _, fs in os.walk(base) for f in fs]
        for p in paths:
            try:
                with open(p, encoding="utf-8", errors="replace") as f:
                    words.update(re.findall(r"\bCS_[A-Z0-9_]+\b", f.read()))
            except OSError:
                pass
    return words


def check_libcore_map(src, bindir, extra):
    path = os.path.join(src, "docs", "runtime.md")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    try:
        a = lines.index("<!-- BEGIN libcore map -->")
        b = lines.index("<!-- END libcore map -->")
    except ValueError:
        fail("docs/runtime.md", "no <!-- BEGIN libcore map --> ... <!-- END libcore map --> markers")
        return
    listed = {}
    for i in range(a + 1, b):
        m = re.match(r"^\|\s*`(libcore/[^`]+)`\s*\|\s*(.*?)\s*\|\s*$", lines[i])
        if not m:
            if lines[i].startswith("|") and not re.match(r"^\|\s*(file|-+)\s*\|", lines[i]):
                fail(f"docs/runtime.md:{i + 1}", "a row of the map that is not | `libcore/PATH` | what it is |")
            continue
        f, what = m.group(1), m.group(2)
        if f in listed:
            fail(f"docs/runtime.md:{i + 1}", f"{f} is listed twice (first on line {listed[f] + 1})")
        listed[f] = i
        if not what:
            fail(f"docs/runtime.md:{i + 1}", f"{f} has no description")
        if not os.path.isfile(os.path.join(src, f)):
            fail(f"docs/runtime.md:{i + 1}", f"{f} is in the map but not in the tree")
    tree = set()
    for top in ("libcore/src", "libcore/include/cs", "libcore/gen"):
        for d, _, fs in os.walk(os.path.join(src, top)):
            for name in fs:
                tree.add(os.path.relpath(os.path.join(d, name), src))
    for f in sorted(tree - set(listed)):
        fail("docs/runtime.md", f"{f} is in the tree but not in the map of libcore")
    if not failures:
        print(f"libcore map: {len(listed)} files, every one in the tree and every file of the tree in it")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


def scratch(bindir):
    d = tempfile.mkdtemp(prefix="cs-docs-")
    os.makedirs(os.path.join(d, "build"))
    os.symlink(bindir, os.path.join(d, "build", "bin"))
    return d


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CS_")}
    env.update(extra)
    return env


def check_examples(src, bindir, extra):
    cc, incs = (extra[0], extra[1:]) if extra else (None, [])
    n = 0
    for page in pages(src):
        with open(page, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for start, lang, body, marker in blocks(lines):
            where = f"{rel(src, page)}:{start + 1}"
            if lang not in ("sh", "bash", "json", "sql", "c"):
                continue
            if marker is None:
                fail(where, f"a ```{lang} block without <!-- check: KIND --> or <!-- unchecked: why --> before it")
                continue
            kind, arg = marker
            if kind == "unchecked":
                if not arg:
                    fail(where, "<!-- unchecked: --> must say why")
                continue
            words = arg.split()
            what = words[0] if words else ""
            code = "\n".join(body) + "\n"
            if what in ("db", "sql"):
                continue  # examples-db
            n += 1
            if what == "sh" and lang in ("sh", "bash"):
                d = scratch(bindir)
                r = run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=d, env=clean_env())
                if r.returncode != 0:
                    fail(where, f"the shell example exited {r.returncode}:\n{r.stdout}{r.stderr}")
            elif what == "c" and lang == "c":
                if not cc:
                    fail(where, "a C example, and no compiler given to the check")
                    continue
                d = tempfile.mkdtemp(prefix="cs-docs-")
                p = os.path.join(d, "example.c")
                with open(p, "w") as f:
                    f.write(code)
                r = run([cc, "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror",
                         "-fsyntax-only"] + ["-I" + i for i in incs] + [p])
                if r.returncode != 0:
                    fail(where, f"the C example does not compile:\n{r.stderr}")
            elif what == "event" and lang == "json":
                d = tempfile.mkdtemp(prefix="cs-docs-")
                p = os.path.join(d, "events.jsonl")
                with open(p, "w") as f:
                    f.write("\n".join(b for b in body if b.strip()) + "\n")
                r = run([os.path.join(bindir, "cs-produce"), "--dry-run", "--allow-derived", p], env=clean_env())
                if r.returncode != 0:
                    fail(where, f"cs-produce --dry-run refuses the example:\n{r.stderr}")
            elif what == "config" and lang == "json" and len(words) == 2:
                d = tempfile.mkdtemp(prefix="cs-docs-")
                p = os.path.join(d, "config.json")
                with open(p, "w") as f:
                    f.write(code)
                prog = os.path.join(bindir, words[1])
                r = run([prog, "--config", p, "--help"], env=clean_env())
                if r.returncode != 0:
                    fail(where, f"{words[1]} refuses the config file (exit {r.returncode}):\n{r.stderr}")
            else:
                fail(where, f"<!-- check: {arg} --> does not fit a ```{lang} block "
                            "(sh: sh; c: c; json: event, config PROGRAM; sh: db; sql: sql)")
    if not failures:
        print(f"examples: {n} checked blocks pass")


def check_examples_db(src, bindir, extra):
    admin = os.environ.get("CS_PG_DSN")
    if not admin:
        fail("examples-db", "CS_PG_DSN is not set (scripts/test sets it)")
        return
    base, q, query = admin.partition("?")
    n = 0
    made = []
    try:
        for page in pages(src):
            with open(page, encoding="utf-8") as f:
                lines = f.read().split("\n")
            bl = blocks(lines)
            if not any(m and m[0] == "check" and m[1].split()[:1] in (["db"], ["sql"]) for _, _, _, m in bl):
                continue
            db = "t_docs_%d_%s" % (os.getpid(), re.sub(r"\W", "_", os.path.basename(page)[:-3].lower()))
            r = run(["psql", admin, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", f'DROP DATABASE IF EXISTS "{db}"',
                     "-c", f'CREATE DATABASE "{db}" TEMPLATE template0'])
            if r.returncode != 0:
                fail(rel(src, page), f"cannot create a database: {r.stderr}")
                continue
            made.append(db)
            dsn = base.rsplit("/", 1)[0] + "/" + db + (q + query if q else "")
            if not any(m and m[0] == "check" and m[1].split()[:1] == ["db"] for _, _, _, m in bl):
                # A page with SQL examples only: they run against the migrated schema.
                r = run([os.path.join(bindir, "cs-migrate"), "--log-level", "warn"],
                        env=clean_env(CS_PG_DSN=dsn), timeout=300)
                if r.returncode != 0:
                    fail(rel(src, page), f"cs-migrate failed on the page's database:\n{r.stderr}")
                    continue
            last_out = None
            for idx, (start, lang, body, marker) in enumerate(bl):
                where = f"{rel(src, page)}:{start + 1}"
                if not marker or marker[0] != "check":
                    continue
                what = marker[1].split()[0] if marker[1] else ""
                code = "\n".join(body) + "\n"
                if what == "db" and lang in ("sh", "bash"):
                    n += 1
                    d = scratch(bindir)
                    r = run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=d,
                            env=clean_env(CS_PG_DSN=dsn, PGOPTIONS="-c client_min_messages=warning"), timeout=300)
                    if r.returncode != 0:
                        fail(where, f"the shell example exited {r.returncode}:\n{r.stdout}{r.stderr}")
                elif what == "sql" and lang == "sql":
                    n += 1
                    r = run(["psql", dsn, "-qAtX", "-v", "ON_ERROR_STOP=1", "-f", "-"], input=code,
                            env=clean_env(PGOPTIONS="-c client_min_messages=warning"))
                    if r.returncode != 0:
                        fail(where, f"the SQL example fails:\n{r.stderr}")
                    last_out = (idx, r.stdout)
                elif what == "output" and lang == "text":
                    n += 1
                    if last_out is None or last_out[0] != idx - 1:
                        fail(where, "<!-- check: output --> must follow a checked sql block")
                        continue
                    want = "\n".join(body).strip("\n")
                    got = last_out[1].strip("\n")
                    if want != got:
                        fail(where, f"the SQL example's output differs:\n--- documented\n{want}\n--- actual\n{got}")
    finally:
        for db in made:
            run(["psql", admin, "-qAtX", "-c", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'])
    if n == 0:
        fail("examples-db", "no checked db, sql or output block found")
    elif not failures:
        print(f"examples-db: {n} checked blocks pass")


CHECKS = {
    "links": check_links,
    "options": check_options,
    "libcore-map": check_libcore_map,
    "examples": check_examples,
    "examples-db": check_examples_db,
}


def main(argv):
    if len(argv) < 4 or argv[1] not in CHECKS:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        print("usage: docs_check.py {%s} SOURCE_DIR BIN_DIR [CC INCLUDE_DIR...]" % "|".join(CHECKS), file=sys.stderr)
        return 2
    src, bindir = os.path.abspath(argv[2]), os.path.abspath(argv[3])
    CHECKS[argv[1]](src, bindir, argv[4:])
    for f in failures:
        print("docs_check %s: %s" % (argv[1], f), file=sys.stderr)
    if failures:
        print("docs_check %s: %d problem(s)" % (argv[1], len(failures)), file=sys.stderr)
        return 1
    print("docs_check %s: ok" % argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
