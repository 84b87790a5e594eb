#!/usr/bin/python3
"""test_walkthrough.py - runs every command of docs/walkthrough.md, in
order, and checks the output the page shows.

What counts as a command: in a fenced block opened with ```console, every
line starting with "$ " (a line ending with a backslash continues on the
next line). The lines after it, up to the next "$ " or the end of the
block, are the output the reader should see. Blocks of any other kind
(```sh for the installation steps) are not run.

How the output is matched (both sides: trailing blanks dropped, runs of
blanks collapsed to one space, blank lines ignored):
  - each line shown must match one line of the actual output (stdout and
    stderr together), in the same order;
  - "…" within a line matches anything within that line (generated ids,
    timestamps, hashes, timings);
  - a line that is only "…" stands for any number of lines left out;
    without one, the output must have exactly the lines shown (so a
    command shown without output must print nothing);
  - "[exit status N]" as the last line says the command exits with N;
    otherwise it must exit 0.

How it is run: one bash process, in a scratch directory holding a copy of
data/welfare-rules.csv (what the page takes from the clone), with the
build's tools/ and server/ directories first on PATH; each command is
sourced by that shell, so variables and `cd` carry over as in a terminal.
Two lines are changed before running, and each must occur exactly once:
  - `export ADDR=127.0.0.1:7450` gets a free loopback port instead;
  - the plan's length, `+10 minutes` (time for a person typing), becomes
    PLAN_SECONDS, so the year-end comes within this test's time.
After a command ending with "&" (the server started in the background),
the test waits until $ADDR accepts connections. At the end, or on any
failure, the shell's process group (the shell and that server) is ended.

Output is TAP: one point per command. Environment: BORSELLINO and
BORSELLINOD (the binaries), BORSELLINO_TEST_TMP (scratch space),
BORSELLINO_WELFARE_RULES (the rules file), WALKTHROUGH_DOC (the page;
default docs/walkthrough.md of this source tree).
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
DOC = os.environ.get("WALKTHROUGH_DOC", os.path.join(SOURCE_ROOT, "docs", "walkthrough.md"))
PLAN_SECONDS = 15
COMMAND_TIMEOUT_SECONDS = 120
SERVER_START_SECONDS = 20
ELLIPSIS = "\u2026"
EXIT_LINE = re.compile(r"^\[exit status (\d+)\]$")
RC_MARK = "__walkthrough_rc__"


class Command:
    def __init__(self, text, line_number):
        self.text = text
        self.line_number = line_number
        self.expected = []
        self.exit_status = 0


def parse(path):
    """Returns the commands of the ```console blocks of path, in order."""
    commands = []
    in_console = False
    in_other = False
    current = None
    pending_continuation = False
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    for number, line in enumerate(lines, 1):
        fence = line.strip().startswith("```")
        if fence and not in_console and not in_other:
            in_console = line.strip() == "```console"
            in_other = not in_console
            current = None
            continue
        if fence:
            in_console = in_other = False
            current = None
            continue
        if not in_console:
            continue
        if pending_continuation:
            current.text += "\n" + line
            pending_continuation = line.endswith("\\")
            continue
        if line.startswith("$ "):
            current = Command(line[2:], number)
            commands.append(current)
            pending_continuation = line.endswith("\\")
            continue
        if current is None:
            raise ValueError("%s:%d: output before any command" % (path, number))
        match = EXIT_LINE.match(line.strip())
        if match:
            current.exit_status = int(match.group(1))
            continue
        current.expected.append(line)
    return commands


def normalize(line):
    return " ".join(line.split())


def line_pattern(line):
    parts = [re.escape(part) for part in normalize(line).split(ELLIPSIS)]
    return re.compile("^" + ".*".join(parts) + "$")


def output_matches(expected, actual):
    """Glob-like matching of lines: None when they match, else a reason."""
    wanted = [normalize(line) for line in expected if normalize(line) != ""]
    got = [normalize(line) for line in actual if normalize(line) != ""]
    patterns = [None if line == ELLIPSIS else line_pattern(line) for line in wanted]
    # reachable[j]: the first i patterns can match the first j lines.
    reachable = [True] + [False] * len(got)
    for pattern in patterns:
        step = [False] * (len(got) + 1)
        for j in range(len(got) + 1):
            if pattern is None:
                step[j] = reachable[j] or (j > 0 and step[j - 1])
            elif j > 0 and reachable[j - 1] and pattern.match(got[j - 1]):
                step[j] = True
        reachable = step
    if reachable[len(got)]:
        return None
    for line in wanted:
        if line != ELLIPSIS and not any(line_pattern(line).match(g) for g in got):
            return "no output line matches: %s" % line
    return "the lines do not match in order or there are lines not shown (add a line '%s')" % ELLIPSIS


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def substitute(commands, port):
    replacements = [
        ("export ADDR=127.0.0.1:7450", "export ADDR=127.0.0.1:%d" % port),
        ("+10 minutes", "+%d seconds" % PLAN_SECONDS),
    ]
    for old, new in replacements:
        hits = [command for command in commands if old in command.text]
        if len(hits) != 1:
            raise ValueError("'%s' must occur in exactly one command, found %d" % (old, len(hits)))
        hits[0].text = hits[0].text.replace(old, new)


class Shell:
    """One bash, fed one sourced command file at a time."""

    def __init__(self, directory, env):
        self.directory = directory
        self.commands_dir = os.path.join(directory, ".walkthrough")
        os.makedirs(self.commands_dir)
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=directory, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.buffer = b""

    def run(self, index, text):
        script = os.path.join(self.commands_dir, "%03d.sh" % index)
        output = os.path.join(self.commands_dir, "%03d.out" % index)
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        line = 'source %s > %s 2>&1 < /dev/null; echo "%s $?"\n' % (script, output, RC_MARK)
        self.process.stdin.write(line.encode())
        self.process.stdin.flush()
        status = self.read_status(COMMAND_TIMEOUT_SECONDS)
        with open(output, encoding="utf-8", errors="replace") as handle:
            return status, handle.read()

    def read_status(self, seconds):
        deadline = time.monotonic() + seconds
        descriptor = self.process.stdout.fileno()
        while True:
            match = re.search(rb"%s (\d+)\n" % RC_MARK.encode(), self.buffer)
            if match:
                self.buffer = self.buffer[match.end():]
                return int(match.group(1))
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer within %d s" % seconds)
            ready, _, _ = select.select([descriptor], [], [], left)
            if ready:
                chunk = os.read(descriptor, 65536)
                if not chunk:
                    raise EOFError("the shell exited")
                self.buffer += chunk

    def close(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def scratch_directory():
    base = os.environ.get("BORSELLINO_TEST_TMP") or "/tmp"
    path = os.path.join(base, "walkthrough-%d" % os.getpid())
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.join(path, "data"))
    rules = os.environ.get("BORSELLINO_WELFARE_RULES",
                           os.path.join(SOURCE_ROOT, "data", "welfare-rules.csv"))
    shutil.copy(rules, os.path.join(path, "data", "welfare-rules.csv"))
    return path


def shell_environment():
    env = dict(os.environ)
    tools = os.path.dirname(os.path.abspath(os.environ.get(
        "BORSELLINO", os.path.join(SOURCE_ROOT, "build", "tools", "borsellino"))))
    server = os.path.dirname(os.path.abspath(os.environ.get(
        "BORSELLINOD", os.path.join(SOURCE_ROOT, "build", "server", "borsellinod"))))
    env["PATH"] = tools + os.pathsep + server + os.pathsep + env.get("PATH", "")
    env["LC_ALL"] = "C.UTF-8"
    env.pop("ADDR", None)
    for name in ("BORSELLINO_TLS_CERT", "BORSELLINO_TLS_KEY", "BORSELLINO_TLS_CA"):
        env.pop(name, None)
    return env


def first_line(text):
    return text.split("\n")[0]


def main():
    commands = parse(DOC)
    port = free_port()
    substitute(commands, port)
    print("1..%d" % (len(commands) + 1))
    print("ok 1 - %s: %d commands" % (os.path.relpath(DOC, SOURCE_ROOT), len(commands)))
    directory = scratch_directory()
    shell = Shell(directory, shell_environment())
    failed = 0
    started = time.monotonic()
    try:
        for index, command in enumerate(commands, 2):
            title = "line %d: $ %s" % (command.line_number, first_line(command.text))
            if failed:
                print("ok %d - %s # SKIP an earlier command failed" % (index, title))
                continue
            status, output = shell.run(index, command.text)
            problem = None
            if status != command.exit_status:
                problem = "exit status %d, the page says %d" % (status, command.exit_status)
            elif command.text.rstrip().endswith("&") and not wait_for_port(port, SERVER_START_SECONDS):
                problem = "nothing listens on port %d after %d s" % (port, SERVER_START_SECONDS)
            else:
                problem = output_matches(command.expected, output.split("\n"))
            if problem is None:
                print("ok %d - %s" % (index, title))
                continue
            failed += 1
            print("not ok %d - %s" % (index, title))
            report = ["%s: %s" % (title, problem), "the command ran as:"]
            report += ["  " + line for line in command.text.split("\n")]
            report.append("its output:")
            report += ["  " + line for line in output.rstrip("\n").split("\n")]
            # On stdout (TAP) and on stderr, which the CI log shows.
            for stream in (sys.stdout, sys.stderr):
                for line in report:
                    print("# " + line, file=stream)
    finally:
        shell.close()
    print("# %d commands in %.1f s (plans last %d s here)" %
          (len(commands), time.monotonic() - started, PLAN_SECONDS))
    if not failed:
        shutil.rmtree(directory, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
