#!/usr/bin/env python3
"""Builds the man page stormlight(1) from its hand-written part and the binary's --help.

Usage: scripts/gen-man.py STORMLIGHT_BINARY docs/stormlight.1.in OUT

docs/stormlight.1.in is roff with one line "@OPTIONS@", which becomes the option sections
of `stormlight --help` (every flag, with its text), so the man page cannot drift from
--help; tests/e2e/test_install.py compares the flags the two list. Python 3's standard
library only.
"""

import re
import subprocess
import sys

FLAG = re.compile(r"--?[A-Za-z0-9][A-Za-z0-9-]*")
METAVAR = re.compile(r"[A-Z][A-Z0-9_,.]*")


def option_spec(line):
    """(spec, text) of a --help line that documents an option ("  -f, --file FILE  text",
    "      --insecure           text"), else None. The spec is flags and upper-case value
    names; prose that starts with a flag ("  -r, -t/--run-time, ...") is not an option."""
    m = re.match(r"^ {2,6}(-\S.*)$", line)
    if not m:
        return None
    body = m.group(1)
    gap = re.search(r"\s{2,}", body)
    words = (body[: gap.start()] if gap else body).split()
    i, want_flag, spec = 0, True, []
    while i < len(words):
        w = words[i]
        if want_flag:
            if not FLAG.fullmatch(w.rstrip(",")):
                return None
            want_flag = w.endswith(",")
        elif METAVAR.fullmatch(w):
            want_flag = w.endswith(",")
        else:
            break
        spec.append(w)
        i += 1
    if want_flag or (gap and i < len(words)):
        return None
    text = " ".join(words[i:] + ([body[gap.end():]] if gap else []))
    return " ".join(spec), text.strip()


def spec_flags(spec):
    return [w.rstrip(",") for w in spec.split() if w.startswith("-")]


def esc(text):
    """Text safe in roff: backslashes, leading dots and quotes, hyphens in flags."""
    text = text.replace("\\", "\\e")
    if text[:1] in (".", "'"):
        text = "\\&" + text
    return text


def flag_words(spec):
    """'-f, --file FILE' -> bold flags, italic values."""
    out = []
    for part in spec.split(", "):
        words = part.split(" ")
        bits = ["\\fB" + words[0].replace("-", "\\-") + "\\fR"]
        bits += ["\\fI" + esc(w) + "\\fR" for w in words[1:]]
        out.append(" ".join(bits))
    return ", ".join(out)


def options_section(help_text):
    lines = help_text.splitlines()
    # Skip the usage line and the description: they are in the hand-written part.
    start = next(i for i, l in enumerate(lines) if l == "Options:")
    out = []
    pre = False
    for line in lines[start:]:
        if re.match(r"^[A-Z][^:]*:$", line) or re.match(r"^[A-Z][^:]*:\s*$", line):
            if pre:
                out.append(".fi")
                pre = False
            out.append(".SS " + esc(line.rstrip(":")))
            continue
        if not line.strip():
            if pre:
                out.append(".fi")
                pre = False
            continue
        opt = option_spec(line)
        if opt and not pre:
            spec, text = opt
            out.append(".TP")
            out.append(flag_words(spec))
            if text:
                out.append(esc(text))
            continue
        if line.startswith(" " * 27) and out and not pre:
            out.append(esc(line.strip()))  # a flag's text, continued
            continue
        if not pre:
            out.append(".nf")
            pre = True
        out.append(esc(line))
    if pre:
        out.append(".fi")
    return "\n".join(out)


def main():
    binary, template, dest = sys.argv[1:4]
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True,
                               check=True).stdout
    with open(template) as f:
        page = f.read()
    if "@OPTIONS@\n" not in page:
        sys.exit(f"{template}: no @OPTIONS@ line")
    page = page.replace("@OPTIONS@\n", options_section(help_text) + "\n")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[1]
    page = page.replace("@VERSION@", version)
    with open(dest, "w") as f:
        f.write(page)


if __name__ == "__main__":
    main()
