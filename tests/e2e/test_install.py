"""Installing stormlight like a real tool (issue 16): `make install` into a DESTDIR and a
run of the installed binary away from the source tree, `make uninstall`, the man page
against --help, bash completion in a real bash, `stormlight new`, --version, and the
Debian package built, inspected, installed with dpkg, used and removed."""

import os
import re
import shutil
import subprocess
import tempfile

import harness
from harness import Target, check, check_eq

BUILD = os.path.dirname(os.path.abspath(harness.SL_BIN))


def help_flags():
    """The flags --help documents, read the way a person reads it: an indented line that
    starts with flags and upper-case value names ("  -f, --file FILE  text"). Prose that
    lists flags ("  -r, -t/--run-time, ...") stops on a comma."""
    out = subprocess.run([harness.SL_BIN, "--help"], capture_output=True, text=True).stdout
    flags = set()
    for line in out.splitlines():
        if not re.match(r"^ {2,6}-", line):
            continue
        spec = []
        for w in line.split():
            if not re.fullmatch(r"--?[A-Za-z0-9][A-Za-z0-9-]*,?|[A-Z][A-Z0-9_,.]*", w):
                break
            spec.append(w)
        if spec and not spec[-1].endswith(","):
            flags.update(w.rstrip(",") for w in spec if w.startswith("-"))
    return flags


def test_man_page_lists_the_flags_of_help():
    page = os.path.join(BUILD, "stormlight.1")
    check(os.path.exists(page), f"the build made {page}")
    with open(page) as f:
        text = f.read()
    man = set()
    for line in text.splitlines():
        if line.startswith("\\fB\\-"):
            man.update(f.replace("\\-", "-") for f in re.findall(r"\\fB(\\-[^\\ ]*(?:\\-[^\\ ]*)*)\\fR", line))
    want = help_flags()
    check(len(want) > 40, f"--help lists the flags: {sorted(want)}")
    check_eq(sorted(man - want), [], "flags in the man page but not in --help")
    check_eq(sorted(want - man), [], "flags in --help but not in the man page")
    r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                       env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"})
    check_eq(r.returncode, 0, f"man -l: {r.stderr!r}")
    check_eq(r.stderr.strip(), "", "man --warnings says nothing")
    check("stormlight new" in r.stdout and "EXIT STATUS" in r.stdout, "the hand-written part")


def complete(words, cwd=None):
    script = os.path.join(harness.REPO, "scripts", "stormlight.bash")
    arr = " ".join("'" + w + "'" for w in words)
    cmd = (f"source {script}; COMP_WORDS=({arr}); COMP_CWORD={len(words) - 1}; _stormlight; "
           "printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "--norc", "-c", cmd], capture_output=True, text=True, cwd=cwd,
                       env={**os.environ, "PATH": BUILD + ":" + os.environ.get("PATH", "")})
    check_eq(r.returncode, 0, f"bash completion ran: {r.stderr!r}")
    return [w for w in r.stdout.splitlines() if w]


def test_bash_completion():
    check_eq(complete(["stormlight", "--web-p"]), ["--web-port"], "a flag prefix")
    check_eq(sorted(set(complete(["stormlight", "--"]))),
             sorted(f for f in help_flags() if f.startswith("--")), "every long flag")
    d = tempfile.mkdtemp(prefix="sl-compl-")
    try:
        for name in ["a.lua", "b.txt"]:
            open(os.path.join(d, name), "w").close()
        os.mkdir(os.path.join(d, "sub"))
        check_eq(sorted(complete(["stormlight", "-f", ""], cwd=d)), ["a.lua", "sub"],
                 "-f completes scenario files and folders")
        check_eq(sorted(complete(["stormlight", "--json", ""], cwd=d)), ["a.lua", "b.txt", "sub"],
                 "--json completes any file")
        check_eq(complete(["stormlight", "ne"]), ["new"], "the new subcommand")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_version_names_the_revision():
    out = subprocess.run([harness.SL_BIN, "--version"], capture_output=True, text=True).stdout
    if os.path.exists(os.path.join(harness.REPO, ".git")):
        check(re.fullmatch(r"stormlight 0\.2\.0 \(git [0-9a-f]{7,40}(-dirty)?\)\n", out),
              f"--version in a checkout: {out!r}")
    else:
        check_eq(out, "stormlight 0.2.0\n", "--version outside a checkout")


def test_new_writes_a_starter_that_runs_and_never_overwrites():
    d = tempfile.mkdtemp(prefix="sl-new-")
    try:
        r = subprocess.run([harness.SL_BIN, "new"], cwd=d, capture_output=True, text=True)
        check_eq(r.returncode, 0, f"new: {r.stderr!r}")
        path = os.path.join(d, "stormlight_file.lua")
        with open(path) as f:
            text = f.read()
        check("User{" in text and "on_start" in text and "endpoints" in text and "--" in text,
              "a commented file with endpoints and a User{} class that logs in")
        with Target() as t:
            code, s, out, err = harness.run_stormlight(
                ["-H", t.url, "-u", "4", "-r", "20", "-t", "2s", "-q"], cwd=d)
        check_eq(code, 0, f"the starter runs as written: {harness.describe(code, s, out, err)}")
        rows = {(x["method"], x["name"]): x for x in s["stats"]}
        for key in [("GET", "/hello"), ("POST", "/login")]:
            check(key in rows and rows[key]["num_requests"] > 0, f"{key} ran: {sorted(rows)}")
        check_eq(s["total"]["num_failures"], 0, "no failures")
        check_eq(s["exceptions"], [], "no script errors")
        r = subprocess.run([harness.SL_BIN, "new"], cwd=d, capture_output=True, text=True)
        check_eq(r.returncode, 2, "new on an existing file")
        check("exists; not overwritten" in r.stderr, f"says why: {r.stderr!r}")
        with open(path) as f:
            check_eq(f.read(), text, "the file is unchanged")
        r = subprocess.run([harness.SL_BIN, "new", "other.lua", "more"], cwd=d,
                           capture_output=True, text=True)
        check_eq(r.returncode, 2, f"two names: {r.stderr!r}")
        check(not os.path.exists(os.path.join(d, "other.lua")), "nothing written")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_make_install_and_uninstall_into_a_destdir():
    dest = tempfile.mkdtemp(prefix="sl-destdir-")
    run_dir = tempfile.mkdtemp(prefix="sl-installed-")
    try:
        r = subprocess.run(["make", "-C", harness.REPO, "--no-print-directory", "install",
                            f"BUILD={BUILD}", "PREFIX=/opt/sl", f"DESTDIR={dest}"],
                           capture_output=True, text=True, timeout=600)
        check_eq(r.returncode, 0, f"make install: {r.stdout[-800:]} {r.stderr[-800:]}")
        root = dest + "/opt/sl"
        for rel in ["bin/stormlight", "share/man/man1/stormlight.1",
                    "share/bash-completion/completions/stormlight",
                    "share/doc/stormlight/README.md", "share/doc/stormlight/CHANGELOG.md",
                    "share/doc/stormlight/docs/scenario.md",
                    "share/doc/stormlight/examples/stormlight_file.lua"]:
            check(os.path.isfile(os.path.join(root, rel)), f"installed {rel}")
        # The installed binary needs nothing from the source tree: run an installed
        # example from an empty folder, with the web UI's assets compiled in.
        shutil.copy(os.path.join(root, "share/doc/stormlight/examples/stormlight_file.lua"),
                    run_dir)
        with Target() as t:
            p = subprocess.run([os.path.join(root, "bin/stormlight"), "-H", t.url, "-u", "2",
                                "-r", "50", "-t", "1s", "-q", "--json", "-"], cwd=run_dir,
                               capture_output=True, text=True, timeout=60)
        check_eq(p.returncode, 0, f"the installed binary runs: {p.stderr[-500:]}")
        check(harness.json_from_stdout(p.stdout)["total"]["num_requests"] > 0, "it sent requests")
        r = subprocess.run(["make", "-C", harness.REPO, "--no-print-directory", "uninstall",
                            f"BUILD={BUILD}", f"DESTDIR={dest}"], capture_output=True, text=True,
                           timeout=60)
        check_eq(r.returncode, 0, f"make uninstall: {r.stderr[-500:]}")
        left = [os.path.join(p, f) for p, _, fs in os.walk(dest) for f in fs]
        check_eq(left, [], "make uninstall removed every file")
    finally:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def test_debian_package():
    # The package is built from the release build: a sanitizer build links libasan or
    # libtsan, which no package should depend on.
    if harness.SANITIZED:
        print("skip: sanitizer build (the package is made from the normal build)")
        return
    if os.geteuid() != 0:
        print("skip: installing a package needs root")
        return
    if subprocess.run(["dpkg", "-s", "stormlight"], capture_output=True).returncode == 0:
        print("skip: a stormlight package is installed already; not touching it")
        return
    out = tempfile.mkdtemp(prefix="sl-deb-")
    installed = False
    try:
        r = subprocess.run([os.path.join(harness.REPO, "scripts", "make-deb.sh"), BUILD, out],
                           capture_output=True, text=True, timeout=300)
        check_eq(r.returncode, 0, f"make-deb: {r.stderr[-800:]}")
        deb = r.stdout.strip().splitlines()[-1]
        check(re.search(r"/stormlight_0\.2\.0_[a-z0-9]+\.deb$", deb), f"the name: {deb}")
        info = subprocess.run(["dpkg-deb", "--info", deb], capture_output=True, text=True).stdout
        for field in ["Package: stormlight", "Version: 0.2.0", "Architecture: "]:
            check(field in info, f"{field!r} in the control file: {info}")
        depends = re.search(r"Depends: (.*)", info).group(1)
        for lib in ["liblua5.4", "libssl3", "libmicrohttpd", "libc6"]:
            check(lib in depends, f"Depends names {lib}: {depends}")
        contents = subprocess.run(["dpkg-deb", "--contents", deb], capture_output=True,
                                  text=True).stdout
        for path in ["./usr/bin/stormlight", "./usr/share/man/man1/stormlight.1.gz",
                     "./usr/share/bash-completion/completions/stormlight",
                     "./usr/share/doc/stormlight/copyright",
                     "./usr/share/doc/stormlight/examples/stormlight_file.lua"]:
            check(path in contents, f"{path} in the package")
        r = subprocess.run(["dpkg", "-i", deb], capture_output=True, text=True, timeout=120)
        installed = True
        check_eq(r.returncode, 0, f"dpkg -i: {r.stderr[-800:]}")
        v = subprocess.run(["/usr/bin/stormlight", "--version"], capture_output=True, text=True)
        check(v.stdout.startswith("stormlight 0.2.0"), f"/usr/bin/stormlight --version: {v.stdout!r}")
        w = subprocess.run(["man", "-w", "stormlight"], capture_output=True, text=True)
        check_eq(w.stdout.strip(), "/usr/share/man/man1/stormlight.1.gz", "man -w stormlight")
    finally:
        if installed:
            r = subprocess.run(["dpkg", "-r", "stormlight"], capture_output=True, text=True,
                               timeout=120)
        shutil.rmtree(out, ignore_errors=True)
    check_eq(r.returncode, 0, f"dpkg -r: {r.stderr[-500:]}")
    check(not os.path.exists("/usr/bin/stormlight"), "removed")


if __name__ == "__main__":
    harness.main()
