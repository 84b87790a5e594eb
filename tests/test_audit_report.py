#!/usr/bin/python3
"""test_audit_report.py - `borsellino audit report` (issue 5, point 6), end
to end: the HTML report of a data directory with real activity, opened in
headless Chromium, whose figures must be exactly the ones the CLI prints.

The data directory: `borsellino demo` (three funders, four providers, ten
beneficiaries: funding, grants, purchases, a captured hold, a refund, a
reimbursement, a payout), then more through a scratch borsellinod and the
CLI: a hold left open, a hold voided, a refund of a captured hold,
offboardings under a back-to-funder plan and a forfeit plan (so money
expires both ways), a payout, and a second ledger (840) with a posted and
an open pending transfer.

The page is rendered by Chromium (--headless --dump-dom) and the dumped DOM
parsed with html.parser; every element with data-figure is a figure (see
tools/audit_report.c, and `borsellino audit report --help`). Checked:
  - the file loads nothing (no URL, no src/href, no script);
  - each figure name once; each amount's text is its data-cents in euros;
  - chain and signatures = `audit verify --json`;
  - the trial balance = `audit trial-balance --json`, row by row;
  - per funder and provider = `audit reconcile --json`, field by field;
  - the months: Σ months = the totals = Σ of the funder statements, and
    each month = this script's own classification of `audit export
    journal` bucketed by Python's zoneinfo Europe/Rome;
  - the same with --at (a time between the demo and the server's events);
  - --pubkey with the directory's key, and with a foreign key (exit 1, the
    report written and red);
  - usage errors (exit 2), a missing directory (exit 1, nothing written).

Chromium is required: when it is missing the test FAILS (tools/dev setup
installs the Debian package `chromium`).

Output is TAP. Environment (tests/meson.build): BORSELLINO, BORSELLINOD,
BORSELLINO_TEST_TMP.
"""
import datetime
import html.parser
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import interop_client as ic  # noqa: E402  (the server process helper only)

SOURCE_ROOT = os.path.dirname(HERE)
BORSELLINO = os.environ.get("BORSELLINO", os.path.join(SOURCE_ROOT, "build", "tools", "borsellino"))
BORSELLINOD = os.environ.get("BORSELLINOD", os.path.join(SOURCE_ROOT, "build", "server", "borsellinod"))
COMMAND_TIMEOUT_S = 300
CHROMIUM_TIMEOUT_S = 120

WELFARE_LEDGER = 978
WELFARE_TRANSFER_ID_TAG = 0xFFFFFFFE
POSTING_FUND, POSTING_PURCHASE, POSTING_REFUND = 1, 3, 5
POSTING_EXPIRE_BACK, POSTING_FORFEIT = 8, 9
TRANSFER_PENDING, TRANSFER_VOID_PENDING = 1 << 1, 1 << 3
MONTH_FIGURES = ["funded", "spent", "refunded", "expired_back", "forfeited", "expired"]
FUNDER_FIELDS = ["funded", "funds_balance", "pots_balance", "spent", "refunded", "reimbursed",
                 "forfeited", "expired_back", "carried_over", "fees", "fees_returned", "held"]
PROVIDER_FIELDS = ["sales", "refunds", "payouts", "payable", "fees", "fees_returned", "held"]
SUMS = ["debits_pending", "debits_posted", "credits_pending", "credits_posted"]


class State:
    temp_path = None
    data = None
    report = None
    figures = None
    dom = None
    at = 0
    server = None
    chromium = None


S = State()


# --------------------------------------------------------------------------
# Helpers

def run(args, expected_code=0, what=None):
    """Runs borsellino ARGS; checks its exit code; returns the process."""
    process = subprocess.run([BORSELLINO] + args, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=COMMAND_TIMEOUT_S)
    if expected_code is not None and process.returncode != expected_code:
        raise ic.Failure("%s: exit %d, expected %d\nstdout: %s\nstderr: %s" % (
            what or " ".join(args), process.returncode, expected_code, process.stdout[-2000:],
            process.stderr[-2000:]))
    return process


def run_json(args, expected_code=0):
    process = run(args + ["--json"], expected_code)
    try:
        return json.loads(process.stdout)
    except ValueError:
        raise ic.Failure("%s --json: not one JSON object: %r" % (" ".join(args), process.stdout))


def euros(cents):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return "%s%d.%02d" % (sign, cents // 100, cents % 100)


class FigureParser(html.parser.HTMLParser):
    """Collects every element carrying data-figure: name -> (attrs, text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.figures = {}
        self.duplicates = []
        self.current = None  # (tag, name, attrs, [text])
        self.tags = {}

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        attrs = dict(attrs)
        if "data-figure" in attrs:
            if self.current is not None:
                raise ic.Failure("figure %s inside figure %s" % (attrs["data-figure"], self.current[1]))
            self.current = (tag, attrs["data-figure"], attrs, [])

    def handle_endtag(self, tag):
        if self.current is not None and tag == self.current[0]:
            _, name, attrs, text = self.current
            if name in self.figures:
                self.duplicates.append(name)
            self.figures[name] = (attrs, "".join(text).strip())
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current[3].append(data)


def render(path):
    """The DOM Chromium builds from the file, and its figures."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=S.temp_path)
    process = subprocess.run(
        [S.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--user-data-dir=" + profile, "--dump-dom", "file://" + os.path.abspath(path)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S)
    shutil.rmtree(profile, ignore_errors=True)
    ic.check(process.returncode == 0 and "data-figure" in process.stdout,
             "chromium --dump-dom %s: exit %d, stderr tail: %s" % (path, process.returncode,
                                                                   process.stderr[-1500:]))
    parser = FigureParser()
    parser.feed(process.stdout)
    parser.close()
    ic.check(not parser.duplicates, "figure names appear more than once: %s" % parser.duplicates[:5])
    return process.stdout, parser.figures, parser.tags


def cents(figures, name):
    ic.check(name in figures, "the page has no figure %s" % name)
    attrs = figures[name][0]
    ic.check("data-cents" in attrs, "figure %s has no data-cents" % name)
    return int(attrs["data-cents"])


def value(figures, name):
    ic.check(name in figures, "the page has no figure %s" % name)
    attrs = figures[name][0]
    ic.check("data-value" in attrs, "figure %s has no data-value" % name)
    return attrs["data-value"]


def flag(figures, name):
    text = value(figures, name)
    ic.check(text in ("true", "false"), "figure %s is not a flag: %r" % (name, text))
    return text == "true"


def rome_month(timestamp_ns):
    from zoneinfo import ZoneInfo
    moment = datetime.datetime.fromtimestamp(timestamp_ns // 10**9, ZoneInfo("Europe/Rome"))
    return moment.strftime("%Y-%m")


def months_from_journal(data, at=0):
    """This script's own monthly figures, from `audit export journal`."""
    process = run(["audit", "export", "journal", "--format", "jsonl", "--data", data])
    months = {}
    for line in process.stdout.splitlines():
        record = json.loads(line)
        if at and record["timestamp"] > at:
            break
        if record["kind"] != "transfer" or record["ledger"] != WELFARE_LEDGER:
            continue
        if int(record["id"]) >> 96 != WELFARE_TRANSFER_ID_TAG:
            continue
        code, flags, amount = record["code"], record["flags"], record["amount"]
        figure = None
        if code == POSTING_FUND:
            figure = "funded"
        elif code == POSTING_PURCHASE and not flags & (TRANSFER_PENDING | TRANSFER_VOID_PENDING):
            figure = "spent"
        elif code == POSTING_REFUND:
            figure = "refunded"
        elif code == POSTING_EXPIRE_BACK:
            figure = "expired_back"
        elif code == POSTING_FORFEIT:
            figure = "forfeited"
        if figure is None:
            continue
        month = months.setdefault(rome_month(record["timestamp"]), dict.fromkeys(MONTH_FIGURES, 0))
        month[figure] += amount
        if figure in ("expired_back", "forfeited"):
            month["expired"] += amount
    return months


# --------------------------------------------------------------------------
# Comparisons of a rendered report with the CLI

def check_amount_texts(figures):
    """Every amount shows its cents: euros, or minor units off ledger 978."""
    checked = 0
    for name, (attrs, text) in figures.items():
        if "data-cents" not in attrs:
            continue
        amount = int(attrs["data-cents"])
        other_ledger = re.match(r"trial\.(\d+)\.", name) and not name.startswith("trial.978.")
        expected = str(amount) if other_ledger else euros(amount)
        ic.check_eq(text, expected, "text of %s" % name)
        checked += 1
    ic.check(checked > 50, "amounts on the page: %d" % checked)


def check_trial(figures, data, at_args):
    tb = run_json(["audit", "trial-balance", "--data", data] + at_args)
    ic.check_eq(int(value(figures, "trial.sequence")), tb["sequence"], "trial.sequence")
    ic.check_eq(int(value(figures, "trial.timestamp")), tb["timestamp"], "trial.timestamp")
    ic.check_eq(value(figures, "trial.digest"), tb["digest"], "trial.digest")
    ic.check_eq(int(value(figures, "trial.rows")), len(tb["rows"]), "trial.rows")
    for row in tb["rows"]:
        prefix = "trial.%d.%d." % (row["ledger"], row["code"])
        ic.check_eq(int(value(figures, prefix + "accounts")), row["accounts"], prefix + "accounts")
        for key in SUMS:
            ic.check_eq(cents(figures, prefix + key), int(row[key]), prefix + key)
    for total in tb["ledgers"]:
        prefix = "trial.%d.total." % total["ledger"]
        ic.check_eq(int(value(figures, prefix + "accounts")), total["accounts"], prefix + "accounts")
        for key in SUMS:
            ic.check_eq(cents(figures, prefix + key), int(total[key]), prefix + key)
        ic.check_eq(flag(figures, "trial.%d.balanced" % total["ledger"]), total["balanced"],
                    "ledger %d balanced" % total["ledger"])
    ic.check_eq(flag(figures, "trial.ok"), tb["balanced"], "trial.ok")
    rows = [name for name in figures if re.match(r"trial\.\d+\.\d+\.accounts$", name)]
    ic.check_eq(len(rows), len(tb["rows"]), "trial rows on the page")
    return tb


def check_entities(figures, reconcile):
    for funder in reconcile["funders"]:
        prefix = "funder.%s." % funder["id"]
        for key in FUNDER_FIELDS + ["left", "right"]:
            ic.check_eq(cents(figures, prefix + key), funder[key], prefix + key)
        ic.check_eq(value(figures, prefix + "kind"), funder["funder_kind"], prefix + "kind")
        ic.check_eq(flag(figures, prefix + "holds"), funder["holds"], prefix + "holds")
    for provider in reconcile["providers"]:
        prefix = "provider.%s." % provider["id"]
        for key in PROVIDER_FIELDS + ["left", "right"]:
            ic.check_eq(cents(figures, prefix + key), provider[key], prefix + key)
        ic.check_eq(flag(figures, prefix + "holds"), provider["holds"], prefix + "holds")
    ic.check_eq(int(value(figures, "funders.count")), len(reconcile["funders"]), "funders.count")
    ic.check_eq(int(value(figures, "providers.count")), len(reconcile["providers"]),
                "providers.count")
    on_page = [n for n in figures if re.match(r"(funder|provider)\.\d+\.holds$", n)]
    ic.check_eq(len(on_page), len(reconcile["funders"]) + len(reconcile["providers"]),
                "funders and providers on the page")
    ic.check_eq(flag(figures, "identities.ok"), reconcile["balanced"], "identities.ok")


def check_months(figures, reconcile, journal_months):
    page = {}
    for name in figures:
        match = re.match(r"month\.(\d{4}-\d{2})\.(\w+)$", name)
        if match:
            page.setdefault(match.group(1), {})[match.group(2)] = cents(figures, name)
    labels = sorted(page)
    ic.check(labels, "no month on the page")
    for label in labels:
        ic.check_eq(sorted(page[label]), sorted(MONTH_FIGURES), "figures of month %s" % label)
    # Contiguous from the first month with a posting to the last.
    first, last = labels[0], labels[-1]
    ic.check_eq(first, min(journal_months), "first month")
    ic.check_eq(last, max(journal_months), "last month")
    for label in labels:
        expected = journal_months.get(label, dict.fromkeys(MONTH_FIGURES, 0))
        ic.check_eq(page[label], expected, "month %s against the journal in Rome time" % label)
    statement_keys = {"funded": ["funded"], "spent": ["spent"], "refunded": ["refunded"],
                      "expired_back": ["expired_back"], "forfeited": ["forfeited"],
                      "expired": ["expired_back", "forfeited"]}
    for figure in MONTH_FIGURES:
        over_months = sum(page[label][figure] for label in labels)
        total = cents(figures, "months.total." + figure)
        statements = sum(f[key] for f in reconcile["funders"] for key in statement_keys[figure])
        ic.check_eq(over_months, total, "Σ months of %s = its total" % figure)
        ic.check_eq(total, statements, "total %s = Σ funder statements" % figure)
    ic.check_eq(flag(figures, "months.matches_statements"), True, "months.matches_statements")
    return {figure: cents(figures, "months.total." + figure) for figure in MONTH_FIGURES}


# --------------------------------------------------------------------------
# Cases

def case_chromium():
    S.chromium = shutil.which("chromium")
    ic.check(S.chromium is not None,
             "chromium is not installed: install the Debian package `chromium` "
             "(tools/dev setup does; CI runs it)")
    process = subprocess.run([S.chromium, "--version"], capture_output=True, text=True,
                             timeout=CHROMIUM_TIMEOUT_S)
    ic.check(process.returncode == 0, "chromium --version: %s" % process.stderr[-500:])
    ic.diagnostic(process.stdout.strip())


def case_demo():
    base = os.environ.get("BORSELLINO_TEST_TMP")
    if base:
        os.makedirs(base, exist_ok=True)
    S.temp_path = tempfile.mkdtemp(prefix="audit-report-", dir=base)
    S.data = os.path.join(S.temp_path, "data")
    run(["demo", "--data", S.data])
    S.at = time.time_ns()
    time.sleep(0.05)  # the server's events come strictly after S.at


def welfare(*args, expected_code=0):
    run(["welfare"] + list(args) + ["--addr", S.server.address], expected_code)


def case_server_activity():
    S.server = ic.Server(BORSELLINOD, S.data)
    S.server.start()
    # A hold left open: not spent. A hold voided: never spent.
    welfare("purchase", "--id", "order-open-hold", "--employee", "cremona-family-03",
            "--provider", "coop-il-torrazzo", "--category", "1", "--amount", "12.34",
            "--hold", "86400")
    welfare("purchase", "--id", "order-voided", "--employee", "latteria-emp-02",
            "--provider", "coop-il-torrazzo", "--category", "3", "--amount", "20.00",
            "--hold", "86400")
    welfare("void", "--id", "void-voided", "--purchase", "order-voided")
    # A hold captured in part, then refunded in part.
    welfare("purchase", "--id", "order-captured", "--employee", "latteria-emp-03",
            "--provider", "asd-canottieri", "--category", "8", "--amount", "70.00",
            "--hold", "86400")
    welfare("capture", "--id", "capture-captured", "--purchase", "order-captured",
            "--amount", "55.55")
    welfare("refund", "--id", "refund-captured", "--purchase", "order-captured",
            "--amount", "5.05")
    # Money expires both ways: a back-to-funder plan and a forfeit plan.
    welfare("offboard", "--id", "offboard-latteria-04", "--employee", "latteria-emp-04")
    welfare("offboard", "--id", "offboard-liuteria-03", "--employee", "liuteria-emp-03")
    welfare("payout", "--id", "payout-canottieri-1", "--provider", "asd-canottieri",
            "--reference", "bonifico-0002")
    # Another ledger, in minor units: a posted and an open pending transfer.
    for account in ("9001", "9002"):
        run(["account", "create", "--id", account, "--ledger", "840", "--code", "7",
             "--addr", S.server.address])
    run(["transfer", "create", "--id", "9101", "--debit", "9001", "--credit", "9002",
         "--amount", "4321", "--ledger", "840", "--code", "1", "--addr", S.server.address])
    run(["transfer", "create", "--id", "9102", "--debit", "9002", "--credit", "9001",
         "--amount", "77", "--ledger", "840", "--code", "1", "--pending",
         "--addr", S.server.address])


def case_report_while_serving():
    out = os.path.join(S.temp_path, "serving.html")
    summary = run_json(["audit", "report", "--data", S.data, "--out", out])
    ic.check_eq(summary["ok"], True, "report while the server runs: ok")
    ic.check(os.path.exists(out), "report written while the server runs")
    code = S.server.terminate()
    ic.check_eq(code, 0, "borsellinod exit code after SIGTERM")
    S.server = None


def case_report_written():
    S.report = os.path.join(S.temp_path, "report.html")
    summary = run_json(["audit", "report", "--data", S.data, "--out", S.report])
    for key in ("ok", "verified", "reconciled", "trial_balanced", "identities_hold", "months_match"):
        ic.check_eq(summary[key], True, "--json %s" % key)
    ic.check_eq(summary["out"], S.report, "--json out")
    ic.check_eq(summary["funders"], 3, "--json funders")
    ic.check_eq(summary["providers"], 4, "--json providers")
    mode = stat.S_IMODE(os.stat(S.report).st_mode)
    ic.check_eq(oct(mode), oct(0o600), "report file mode")
    leftovers = [n for n in os.listdir(S.temp_path) if ".tmp-" in n]
    ic.check_eq(leftovers, [], "temporary files left")


def case_self_contained():
    text = open(S.report, encoding="utf-8").read()
    lowered = text.lower()
    for needle in ("http:", "https:", "ftp:", "file:", "//", "src=", "href=", "<script", "<link",
                   "<img", "<iframe", "<object", "<embed", "url(", "@import"):
        if needle == "//":
            # No protocol-relative URL anywhere (an attribute or CSS value).
            ic.check(re.search(r"[\"'(=]\s*//", text) is None, "a protocol-relative URL")
            continue
        ic.check(needle not in lowered, "the report contains %r" % needle)
    ic.check("Content-Security-Policy" in text and "default-src 'none'" in text,
             "the page forbids loading anything")
    ic.check("<svg" in text and "<rect" in text, "an inline SVG chart")


def case_rendered():
    S.dom, S.figures, tags = render(S.report)
    ic.check(tags.get("svg", 0) == 1 and tags.get("rect", 0) >= 3, "Chromium sees the chart")
    ic.check(tags.get("table", 0) >= 5, "Chromium sees the tables")
    ic.check_eq(flag(S.figures, "report.ok"), True, "report.ok")
    ic.check_eq(value(S.figures, "report.at"), "0", "report.at (now)")
    check_amount_texts(S.figures)


def case_chain():
    verify = run_json(["audit", "verify", "--data", S.data])
    ic.check_eq(verify["ok"], True, "audit verify ok")
    f = S.figures
    ic.check_eq(flag(f, "verify.ok"), True, "verify.ok")
    for key, name in (("records", "verify.records"), ("accounts", "verify.accounts"),
                      ("ledgers", "verify.ledgers"), ("journal_sequence", "verify.journal_sequence"),
                      ("signatures_checked", "verify.signatures_checked"),
                      ("last_signed_sequence", "verify.last_signed_sequence")):
        ic.check_eq(int(value(f, name)), verify[key], name)
    ic.check_eq(value(f, "verify.chain_head"), verify["chain_head"], "verify.chain_head")
    ic.check_eq(value(f, "verify.key"), verify["key"], "verify.key")
    ic.check_eq(int(value(f, "verify.unsigned_tail")),
                verify["journal_sequence"] - verify["last_signed_sequence"], "verify.unsigned_tail")
    ic.check("verify.first_bad_sequence" not in f, "no first bad sequence when it verifies")
    ic.check_eq(flag(f, "reconcile.ok"), True, "reconcile.ok")
    ic.check_eq(int(value(f, "reconcile.funders_checked")), verify["welfare_funders"],
                "reconcile.funders_checked")
    ic.check_eq(int(value(f, "reconcile.providers_checked")), verify["welfare_providers"],
                "reconcile.providers_checked")


def case_trial_balance():
    tb = check_trial(S.figures, S.data, [])
    ledgers = sorted(total["ledger"] for total in tb["ledgers"])
    ic.check_eq(ledgers, [840, 978], "ledgers in the trial balance")
    ic.check_eq(cents(S.figures, "trial.840.7.debits_pending"), 77, "the open pending on 840")


def case_reconcile():
    reconcile = run_json(["audit", "reconcile", "--data", S.data])
    ic.check_eq(reconcile["balanced"], True, "audit reconcile balanced")
    check_entities(S.figures, reconcile)


def case_months():
    reconcile = run_json(["audit", "reconcile", "--data", S.data])
    totals = check_months(S.figures, reconcile, months_from_journal(S.data))
    for figure in ("funded", "spent", "refunded", "expired_back", "forfeited"):
        ic.check(totals[figure] > 0, "some money %s" % figure)


def case_at():
    at = str(S.at)
    out = os.path.join(S.temp_path, "at.html")
    summary = run_json(["audit", "report", "--data", S.data, "--out", out, "--at", at])
    ic.check_eq(summary["ok"], True, "--at report ok")
    _, figures, _ = render(out)
    ic.check_eq(value(figures, "report.at"), at, "report.at")
    check_amount_texts(figures)
    tb = check_trial(figures, S.data, ["--at", at])
    ic.check("trial.840.total.accounts" not in figures, "ledger 840 did not exist yet")
    ic.check(tb["sequence"] < int(value(S.figures, "trial.sequence")), "an earlier trial balance")
    reconcile = run_json(["audit", "reconcile", "--data", S.data, "--at", at])
    check_entities(figures, reconcile)
    totals = check_months(figures, reconcile, months_from_journal(S.data, S.at))
    ic.check_eq(totals["expired"], 0, "nothing expired before the server's offboardings")
    ic.check(totals["spent"] < cents(S.figures, "months.total.spent"), "less spent then")


def case_pubkey():
    key = os.path.join(S.temp_path, "key.pem")
    run(["audit", "pubkey", "--data", S.data, "--out", key])
    out = os.path.join(S.temp_path, "given.html")
    summary = run_json(["audit", "report", "--data", S.data, "--out", out, "--pubkey", key])
    ic.check_eq(summary["ok"], True, "report with the directory's key")
    _, figures, _ = render(out)
    ic.check_eq(value(figures, "verify.key"), "given", "verify.key")
    ic.check_eq(flag(figures, "verify.ok"), True, "verify.ok with the right key")


def case_foreign_key():
    other = os.path.join(S.temp_path, "other")
    run(["demo", "--data", other])
    key = os.path.join(S.temp_path, "foreign.pem")
    run(["audit", "pubkey", "--data", other, "--out", key])
    out = os.path.join(S.temp_path, "foreign.html")
    process = run(["audit", "report", "--data", S.data, "--out", out, "--pubkey", key, "--json"],
                  expected_code=1)
    summary = json.loads(process.stdout)
    ic.check_eq((summary["ok"], summary["verified"]), (False, False), "--json after a foreign key")
    ic.check("verification failed" in process.stderr, "stderr says so: %r" % process.stderr)
    ic.check(os.path.exists(out), "the failed report is still written")
    dom, figures, _ = render(out)
    ic.check_eq(flag(figures, "report.ok"), False, "report.ok")
    ic.check_eq(flag(figures, "verify.ok"), False, "verify.ok")
    ic.check(value(figures, "verify.message") != "", "the failure's message is on the page")
    ic.check("verify.first_bad_sequence" in figures, "first bad sequence on the page")
    ic.check(re.search(r'class="banner bad"', dom) is not None, "a red banner")
    ic.check(re.search(r'class="bad"[^>]*data-figure="verify.ok"', dom) is not None,
             "verify.ok in red")


def case_usage_and_errors():
    out = os.path.join(S.temp_path, "never.html")
    run(["audit", "report", "--data", S.data], expected_code=2, what="no --out")
    run(["audit", "report", "--data", S.data, "--out", out, "--bogus"], expected_code=2)
    run(["audit", "report", "--data", S.data, "--out", out, "--at", "yesterday"], expected_code=2)
    run(["audit", "report", "--data", S.data, "--out"], expected_code=2, what="--out without value")
    missing = os.path.join(S.temp_path, "missing")
    process = run(["audit", "report", "--data", missing, "--out", out, "--json"], expected_code=1)
    ic.check_eq(json.loads(process.stdout)["ok"], False, "--json of a missing directory")
    ic.check(not os.path.exists(missing), "a read-only report creates no directory")
    bad_out = os.path.join(S.temp_path, "no-such-folder", "r.html")
    run(["audit", "report", "--data", S.data, "--out", bad_out], expected_code=1)
    ic.check(not os.path.exists(out), "nothing written on errors")
    help_text = run(["audit", "report", "--help"]).stdout
    for needle in ("--out FILE", "--at TIME", "--pubkey FILE", "--json", "data-figure",
                   "data-cents", "month.YYYY-MM", "Europe/Rome", "Exit codes"):
        ic.check(needle in help_text, "--help mentions %s" % needle)


CASES = [
    ("chromium is installed", case_chromium),
    ("borsellino demo seeds a data directory", case_demo),
    ("a scratch server adds holds, voids, refunds, offboardings, a payout, ledger 840",
     case_server_activity),
    ("audit report runs while the server runs; the server stops cleanly",
     case_report_while_serving),
    ("audit report --out writes the file (mode 0600, --json summary)", case_report_written),
    ("the file is self-contained: no URL, no src/href, no script", case_self_contained),
    ("Chromium renders it; every figure unique; amounts shown = their cents",
     case_rendered),
    ("chain and signatures = audit verify --json", case_chain),
    ("trial balance = audit trial-balance --json", case_trial_balance),
    ("funders and providers = audit reconcile --json", case_reconcile),
    ("months: Σ = totals = Σ funder statements = the journal in Rome time", case_months),
    ("--at: trial balance, statements and months as of a past time", case_at),
    ("--pubkey with the directory's key", case_pubkey),
    ("--pubkey with a foreign key: exit 1, report written, in red", case_foreign_key),
    ("usage errors exit 2; errors exit 1 writing nothing; --help", case_usage_and_errors),
]


def main():
    # The later cases build on the earlier ones.
    return ic.run_cases(CASES, S)


if __name__ == "__main__":
    sys.exit(main())
