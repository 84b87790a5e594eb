#!/usr/bin/env python3
"""dist/man.py — builds a man page from a binary's own --help, so the two
can never drift.

Run by dist/meson.build at build time:

    man.py TEMPLATE OUTPUT BINARY [--commands]

TEMPLATE (docs/man/*.in) holds the prose a --help cannot say (NAME, EXIT
STATUS, FILES, SEE ALSO) and a line `@HELP@`, replaced by the roff form of
`BINARY --help`. With --commands, every command the help lists is found
the same way (a help whose usage line reads "BINARY [WORDS] COMMAND" lists
commands, two spaces in, one per line: "  account ...", "  category set")
and each adds a subsection made of `BINARY COMMAND --help`, so a new
command appears in the page without anyone listing it here. `@VERSION@` becomes
the project version given in $BORSELLINO_VERSION.

The conversion keeps the help's words exactly: blocks of options (lines
"  --name ARG  text") become .TP entries, other indented blocks stay
preformatted, plain paragraphs are filled. Every output is the same for
the same input (no dates), so builds are reproducible.
"""
import os
import re
import subprocess
import sys

# An option entry: two or more spaces, an option, then two or more spaces
# (or the end of the line) before its description.
OPTION_LINE = re.compile(r"^ {2,}(-{1,2}[A-Za-z0-9].*?)(?: {2,}(.*))?$")


def escape(text):
    """Escapes text for roff: backslashes, dashes (so options render as
    ASCII and can be copied), and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def run_help(binary, words):
    result = subprocess.run([binary, *words, "--help"], capture_output=True,
                            text=True, timeout=30, check=False)
    if result.returncode != 0 or not result.stdout.strip():
        sys.exit(f"man.py: {binary} {' '.join(words)} --help failed "
                 f"(exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout


def blocks(text):
    """Splits help text into blocks of lines separated by blank lines."""
    block = []
    for line in text.rstrip("\n").split("\n"):
        if line.strip():
            block.append(line.rstrip())
        elif block:
            yield block
            block = []
    if block:
        yield block


def option_block(block):
    """roff for a block whose first line is an option entry: one .TP per
    option, its continuation lines filled into its description."""
    out = []
    for line in block:
        match = OPTION_LINE.match(line)
        indent = len(line) - len(line.lstrip())
        if match and indent <= 4 and line.lstrip().startswith("-"):
            out.append(".TP")
            out.append("\\fB" + escape(match.group(1).strip()) + "\\fR")
            if match.group(2):
                out.append(escape(match.group(2).strip()))
        else:
            out.append(escape(line.strip()))
    return out


def help_to_roff(text):
    out = []
    for block in blocks(text):
        first = block[0]
        if first.startswith("usage:"):
            out += [".PP", ".nf"] + [escape(line) for line in block] + [".fi"]
        elif OPTION_LINE.match(first) and first.lstrip().startswith("-"):
            out += option_block(block)
        elif any(line.startswith(" ") for line in block):
            # Tables and examples: kept as they are.
            out += [".PP", ".nf"] + [escape(line) for line in block] + [".fi"]
        else:
            out += [".PP"] + [escape(line.strip()) for line in block]
    return out


# A listed command: two spaces, one or two lowercase words, then two or
# more spaces or the end of the line.
# A single word may be followed by its description after one space
# ("  bench-welfare measure ...", "  account create|lookup": the first
# word only, its alternatives are in `account --help`).
COMMAND_LINE = re.compile(r"^  ([a-z][a-z-]*(?: [a-z][a-z-]*)?)(?: {2,}|$)")
COMMAND_WORD_LINE = re.compile(r"^  ([a-z][a-z-]*)(?:[ |]|$)")
# Bound on the depth of nested command lists (borsellino has two).
DISCOVER_DEPTH_MAX = 4


def discover(binary, words, depth=0):
    """Every command path below words whose help lists commands, in the
    order of the help."""
    assert depth <= DISCOVER_DEPTH_MAX, "command lists nested too deep"
    text = run_help(binary, words)
    usage = text.split("\n", 1)[0].split()
    if usage[2 + len(words):3 + len(words)] != ["COMMAND"]:
        return []
    found = []
    for line in text.split("\n"):
        match = COMMAND_LINE.match(line) or COMMAND_WORD_LINE.match(line)
        if not match or line.startswith("   "):
            continue
        child = words + match.group(1).split()
        found.append(child)
        found += discover(binary, child, depth + 1)
    return found


def main(argv):
    if len(argv) < 4 or argv[4:] not in ([], ["--commands"]):
        sys.exit("usage: man.py TEMPLATE OUTPUT BINARY [--commands]")
    template_path, output_path, binary = argv[1:4]
    commands = [" ".join(words) for words in discover(binary, [])] if argv[4:] else []
    name = os.path.basename(binary)
    roff = help_to_roff(run_help(binary, []))
    for command in commands:
        words = command.split()
        roff += [".SS \"" + escape(name + " " + command) + "\""]
        roff += help_to_roff(run_help(binary, words))
    with open(template_path, encoding="utf-8") as template:
        page = template.read()
    if "@HELP@" not in page:
        sys.exit(f"man.py: {template_path} has no @HELP@ line")
    page = page.replace("@HELP@", "\n".join(roff))
    page = page.replace("@VERSION@", os.environ.get("BORSELLINO_VERSION", ""))
    with open(output_path + ".tmp", "w", encoding="utf-8") as output:
        output.write(page)
    os.replace(output_path + ".tmp", output_path)


if __name__ == "__main__":
    main(sys.argv)
