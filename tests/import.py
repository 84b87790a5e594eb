#!/usr/bin/python3
"""import.py - `borsellino import KIND FILE.csv` against a real borsellinod
(issue 9, point 5): each kind imported and the server's state checked by
lookups over the protocol (through interop_client.py, a client sharing
nothing with the C tool); per-line errors reported as FILE:LINE with
nothing applied from those lines; a bad header stopping everything before
anything is sent; resumability (a prefix then the whole file, and an
import killed midway then run again); RFC 4180 quoting (a quoted field
with a comma, doubled quotes, stray quotes); the line-length bound at
4096 and 4097 bytes; the --json summary. Output is TAP.
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import interop_client as ic  # noqa: E402

NS = 1000000000
DAY_NS = 86400 * NS
LINE_SIZE_MAX = 4096  # IMPORT_CSV_RECORD_SIZE_MAX in tools/import_csv.h
pb = None


class State:
    temp_path = None
    server = None
    connection = None
    borsellino = None


S = State()


def name_id(text):
    """cli_parse_named_id of a name: SHA-256, first 16 bytes big-endian."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


def write(name, text):
    path = os.path.join(S.temp_path, name)
    with open(path, "w", newline="") as f:
        f.write(text)
    return path


def run_import(kind, path, *extra):
    command = [S.borsellino, "import", kind, path, "--addr", S.server.address] + list(extra)
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def summary(kind, path, *extra):
    completed = run_import(kind, path, "--json", *extra)
    lines = completed.stdout.strip().splitlines()
    ic.check_eq(len(lines), 1, "one JSON line (stdout %r, stderr %r)" %
                (completed.stdout[:300], completed.stderr[:300]))
    return completed, json.loads(lines[0])


def counts(result):
    return (result["created"], result["exists"], result["refused"], result["invalid"])


def lookup(op, value):
    request = S.connection.new_request()
    getattr(request, op).id.CopyFrom(ic.u128(value))
    return S.connection.call_ok(request, op)


def accounts_found(ids):
    found = {}
    for start in range(0, len(ids), 8000):
        for account in S.connection.lookup_accounts(ids[start:start + 8000]):
            found[ic.u128_value(account.id)] = account
    return found


# --------------------------------------------------------------------------
# Cases

def case_start():
    ic.S.temp_path = None
    ic.case_generate_python_code()
    global pb
    pb = ic.pb
    S.temp_path = ic.S.temp_path
    binary = os.environ.get("BORSELLINOD", os.path.join(ic.SOURCE_ROOT, "build", "server", "borsellinod"))
    S.borsellino = os.environ.get("BORSELLINO", os.path.join(ic.SOURCE_ROOT, "build", "tools", "borsellino"))
    S.server = ic.Server(binary, os.path.join(S.temp_path, "data"))
    S.server.start()
    S.connection = ic.Connection(S.server.address)


def case_help_states_the_policy():
    completed = subprocess.run([S.borsellino, "import", "--help"], capture_output=True, text=True)
    ic.check_eq(completed.returncode, 0, "exit code of --help")
    for words in ("valid lines ARE applied", "Resumable", "already there", "4096 bytes"):
        ic.check(words in completed.stdout, "--help says %r" % words)


def case_accounts_with_errors_per_line():
    path = write("accounts.csv",
                 "code, id ,ledger,flags,user_data_64\n"           # columns in any order
                 "1,alice,978,,7\n"                                 # line 2
                 "2,bob,978,\"history,debits_must_not_exceed_credits\",\n"  # a quoted comma
                 "x,carol,978,,\n"                                  # line 4: bad code
                 "\n"                                               # blank: skipped
                 "1,\"dave \"\"the\"\" second\",978,history|credits_must_not_exceed_debits,\n"
                 "1,erin,978,no_such_flag,\n"                       # line 7: bad flag
                 "1,fred\",978,,\n"                                 # line 8: stray quote
                 "1,4242,978,,\n")                                  # line 9: a decimal id
    completed, result = summary("accounts", path)
    ic.check_eq(completed.returncode, 1, "exit code (invalid lines)")
    ic.check_eq(counts(result), (4, 0, 0, 3), "created, exists, refused, invalid")
    for where in ("accounts.csv:4: code", "accounts.csv:7: flags", "accounts.csv:8: a quote"):
        ic.check(where in completed.stderr, "stderr names %r: %r" % (where, completed.stderr))
    ids = [name_id("alice"), name_id("bob"), name_id('dave "the" second'), 4242,
           name_id("carol"), name_id("erin")]
    found = accounts_found(ids)
    ic.check_eq(sorted(found), sorted(ids[:4]), "the accounts of the valid lines, and only those")
    ic.check_eq(found[name_id("alice")].user_data_64, 7, "alice's user_data_64")
    ic.check_eq(found[name_id("alice")].code, 1, "alice's code")
    ic.check_eq(found[name_id("bob")].flags,
                pb.ACCOUNT_HISTORY | pb.ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS, "bob's flags")
    ic.check_eq(found[name_id('dave "the" second')].flags,
                pb.ACCOUNT_HISTORY | pb.ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS, "dave's flags")


def case_bad_header_sends_nothing():
    for name, text, words in (
            ("unknown.csv", "id,ledger,code,colour\nzed1,978,1,red\n", "unknown column \"colour\""),
            ("missing.csv", "id,ledger\nzed2,978\n", "no column \"code\""),
            ("repeated.csv", "id,ledger,code,id\nzed3,978,1,zed3\n", "repeated column \"id\"")):
        path = write(name, text)
        completed = run_import("accounts", path)
        ic.check_eq(completed.returncode, 1, "exit code of %s" % name)
        ic.check(name + ":1: " in completed.stderr and words in completed.stderr,
                 "%s: stderr %r" % (name, completed.stderr))
    found = accounts_found([name_id("zed1"), name_id("zed2"), name_id("zed3")])
    ic.check_eq(len(found), 0, "nothing from a file with a bad header")
    completed = run_import("accounts", write("empty.csv", ""))
    ic.check_eq(completed.returncode, 1, "exit code of an empty file")
    completed = run_import("things", write("x.csv", "id\n1\n"))
    ic.check_eq(completed.returncode, 2, "exit code of an unknown KIND")


def case_line_length_bound():
    prefix, suffix = '"', '",978,1'
    # A quoted name filling the line exactly to the bound, then one byte more.
    fill = LINE_SIZE_MAX - len(prefix) - len(suffix)
    at_bound = "a" * fill
    above = "b" * (fill + 1)
    text = "id,ledger,code\n" + prefix + at_bound + suffix + "\r\n" + \
        prefix + above + suffix + "\r\nafter_long,978,1\r\n"
    ic.check_eq(len((prefix + at_bound + suffix).encode()), LINE_SIZE_MAX, "the line at the bound")
    path = write("long.csv", text)
    completed, result = summary("accounts", path)
    ic.check_eq(counts(result), (2, 0, 0, 1), "created, exists, refused, invalid")
    ic.check("long.csv:3: the line is longer" in completed.stderr, "stderr %r" % completed.stderr)
    found = accounts_found([name_id(at_bound), name_id(above), name_id("after_long")])
    ic.check_eq(sorted(found), sorted([name_id(at_bound), name_id("after_long")]),
                "the line at the bound (its CRLF not counted) and the one after the long one")


def case_companies_employees_plans():
    path = write("companies.csv", "id,kind\nacme,company\ncomune,public\nglobex,\nbad,state\n")
    completed, result = summary("companies", path)
    ic.check_eq(counts(result), (3, 0, 0, 1), "companies: created, exists, refused, invalid")
    ic.check("companies.csv:5: kind" in completed.stderr, "stderr %r" % completed.stderr)
    kinds = {}
    for name in ("acme", "comune", "globex", "bad"):
        response = lookup("welfare_lookup_funder", name_id(name))
        kinds[name] = response.funder.kind if response.found else None
    ic.check_eq(kinds, {"acme": pb.WELFARE_FUNDER_COMPANY, "comune": pb.WELFARE_FUNDER_PUBLIC,
                        "globex": pb.WELFARE_FUNDER_COMPANY, "bad": None}, "funder kinds")
    year = time.gmtime().tm_year
    path = write("employees.csv", "funder,id,cap_class,year\n"
                 "acme,e1,,\nacme,e2,with-children,%d\nacme,e3,standard,\n"
                 "nobody,e4,,\ncomune,e5,,\n" % year)
    completed, result = summary("employees", path)
    ic.check_eq(counts(result), (3, 0, 1, 1), "employees: created, exists, refused, invalid")
    ic.check("employees.csv:4: cap_class and year" in completed.stderr, "stderr %r" % completed.stderr)
    ic.check("employees.csv:5: refused: funder_not_found" in completed.stderr,
             "stderr %r" % completed.stderr)
    for name, funder in (("e1", "acme"), ("e2", "acme"), ("e5", "comune"), ("e3", None), ("e4", None)):
        response = lookup("welfare_lookup_employee", name_id(name))
        ic.check_eq(response.found, funder is not None, "employee %s found" % name)
        if funder is not None:
            ic.check_eq(ic.u128_value(response.employee.funder_id), name_id(funder), "funder of " + name)
    request = S.connection.new_request()
    request.welfare_annual_statement.employee_id.CopyFrom(ic.u128(name_id("e2")))
    request.welfare_annual_statement.year = year
    annual = S.connection.call_ok(request, "welfare_annual_statement")
    ic.check_eq(annual.cap_class, pb.WELFARE_CAP_WITH_CHILDREN, "e2's cap class")
    now = time.time_ns()
    S.valid_from, S.valid_until = now - DAY_NS, now + 30 * DAY_NS
    path = write("plans.csv",
                 "id,funder,valid_from,valid_until,categories,expiry_policy,split,grant_limit\n"
                 "p1,acme,%d,%d,\"1,2,9\",back-to-funder,yes,500.50\n"
                 "p2,comune,%d,%d,1|3,forfeit,,\n"
                 "p3,acme,%d,%d,1,sometimes,,\n" % ((S.valid_from, S.valid_until) * 3))
    completed, result = summary("plans", path)
    ic.check_eq(counts(result), (2, 0, 0, 1), "plans: created, exists, refused, invalid")
    plan = lookup("welfare_lookup_plan", name_id("p1")).plan
    ic.check_eq((plan.valid_from, plan.valid_until, plan.categories, plan.grant_limit_per_employee,
                 plan.flags, plan.expiry_policy),
                (S.valid_from, S.valid_until, (1 << 1) | (1 << 2) | (1 << 9), 50050, 1,
                 pb.WELFARE_EXPIRY_BACK_TO_FUNDER), "plan p1")
    ic.check(not lookup("welfare_lookup_plan", name_id("p3")).found, "p3 not created")


def case_registry_batches():
    """Registry rows go in welfare_register batches: with --batch 2, results
    stay with their lines across batch boundaries (an employee with a cap
    class is two entries), and a plan may carry over into a plan of an
    earlier line of the same batch."""
    year = time.gmtime().tm_year
    path = write("batched-employees.csv", "id,funder,cap_class,year\n"
                 "b1,acme,with-children,%d\n"   # line 2: created with its cap class
                 "b2,nobody,,\n"                  # line 3: refused
                 "b3,acme,standard,1999\n"       # line 4: created, its cap class refused
                 "b1,acme,,\n"                    # line 5: already there
                 "b4,comune,standard,%d\n"       # line 6: created
                 "b1,comune,,\n" % (year, year))  # line 7: other fields
    completed, result = summary("employees", path, "--batch", "2")
    ic.check_eq(counts(result), (2, 1, 3, 0), "employees: created, exists, refused, invalid")
    for where in ("batched-employees.csv:3: refused: funder_not_found",
                  "batched-employees.csv:4: refused: invalid_field",
                  "batched-employees.csv:7: refused: exists_with_different_fields"):
        ic.check(where in completed.stderr, "stderr names %r: %r" % (where, completed.stderr))
    ic.check("batched-employees.csv:5" not in completed.stderr, "stderr %r" % completed.stderr)
    ic.check(lookup("welfare_lookup_employee", name_id("b3")).found, "b3 created")
    path = write("batched-plans.csv", "id,funder,valid_from,valid_until,categories,expiry_policy,"
                 "next_plan\n"
                 "q1,acme,%d,%d,1,back-to-funder,\n"
                 "q2,acme,%d,%d,1,carry-over,q1\n"
                 "q3,acme,%d,%d,1,carry-over,q9\n" % ((S.valid_from, S.valid_until) * 3))
    completed, result = summary("plans", path, "--batch", "2")
    ic.check_eq(counts(result), (2, 0, 1, 0), "plans: created, exists, refused, invalid")
    ic.check("batched-plans.csv:4: refused: next_plan_invalid" in completed.stderr,
             "stderr %r" % completed.stderr)
    plan = lookup("welfare_lookup_plan", name_id("q2")).plan
    ic.check_eq(ic.u128_value(plan.next_plan_id), name_id("q1"), "q2 carries over into q1")


def case_grants():
    fund = subprocess.run([S.borsellino, "welfare", "fund", "--funder", "acme", "--amount",
                           "100000", "--id", "fund-1", "--addr", S.server.address],
                          capture_output=True, text=True)
    ic.check_eq(fund.returncode, 0, "fund: %s" % fund.stderr)
    path = write("grants.csv", "grant_id,plan,employee,amount\n"
                 "g1,p1,e1,100\ng1,p1,e2,200.25\ng1,p1,e1,abc\ng1,p1,nobody,5\ng2,p1,e1,0.75\n")
    completed, result = summary("grants", path)
    ic.check_eq(counts(result), (3, 0, 1, 1), "grants: created, exists, refused, invalid")
    ic.check("grants.csv:4: amount" in completed.stderr, "stderr %r" % completed.stderr)
    ic.check("grants.csv:5: refused:" in completed.stderr, "stderr %r" % completed.stderr)
    for name, granted in (("e1", 10075), ("e2", 20025)):
        request = S.connection.new_request()
        request.welfare_wallet.employee_id.CopyFrom(ic.u128(name_id(name)))
        wallet = S.connection.call_ok(request, "welfare_wallet")
        ic.check_eq([(ic.u128_value(pot.plan_id), pot.granted) for pot in wallet.pots],
                    [(name_id("p1"), granted)], "the pot of " + name)
    completed, result = summary("grants", path)
    ic.check_eq(counts(result), (0, 3, 1, 1), "grants again: all there")


def case_grants_funds_short():
    """A grant's rows go in employee-id order; when the funds run short the
    refused rows are reported each on its line, in line order, and exactly
    the funds are granted."""
    run_import("companies", write("frugal.csv", "id\nfrugal\n"))
    run_import("employees", write("frugal-employees.csv", "id,funder\n" +
                                  "".join("f%d,frugal\n" % i for i in range(1, 7))))
    run_import("plans", write("frugal-plans.csv",
                              "id,funder,valid_from,valid_until,categories,expiry_policy\n"
                              "pf,frugal,%d,%d,1,back-to-funder\n" % (S.valid_from, S.valid_until)))
    fund = subprocess.run([S.borsellino, "welfare", "fund", "--funder", "frugal", "--amount",
                           "10", "--id", "fund-frugal", "--addr", S.server.address],
                          capture_output=True, text=True)
    ic.check_eq(fund.returncode, 0, "fund: %s" % fund.stderr)
    path = write("frugal-grants.csv", "grant_id,plan,employee,amount\n" +
                 "".join("g3,pf,f%d,3\n" % i for i in range(1, 7)))
    completed, result = summary("grants", path)
    ic.check_eq(counts(result), (3, 0, 3, 0), "grants: created, exists, refused, invalid")
    lines = [int(line.split(":")[1]) for line in completed.stderr.splitlines()
             if line.startswith(path + ":") and "refused: insufficient_funds" in line]
    ic.check_eq(len(lines), 3, "refused lines: %r" % completed.stderr)
    ic.check_eq(lines, sorted(lines), "refusals in line order")
    granted = 0
    for i in range(1, 7):
        request = S.connection.new_request()
        request.welfare_wallet.employee_id.CopyFrom(ic.u128(name_id("f%d" % i)))
        wallet = S.connection.call_ok(request, "welfare_wallet")
        granted += sum(pot.granted for pot in wallet.pots)
    ic.check_eq(granted, 900, "granted in total (cents)")


def case_resume_after_a_prefix():
    rows = ["%d,978,7" % (10 ** 6 + i) for i in range(3000)]
    whole = write("resume.csv", "id,ledger,code\n" + "\n".join(rows) + "\n")
    prefix = write("resume-prefix.csv", "id,ledger,code\n" + "\n".join(rows[:1234]) + "\n")
    completed, result = summary("accounts", prefix)
    ic.check_eq(counts(result), (1234, 0, 0, 0), "the prefix")
    completed, result = summary("accounts", whole, "--batch", "500")
    ic.check_eq(completed.returncode, 0, "exit code of the whole file")
    ic.check_eq(counts(result), (3000 - 1234, 1234, 0, 0), "the whole file after the prefix")


def case_resume_after_a_kill():
    count = 300000
    ids = [2 * 10 ** 6 + i for i in range(count)]
    path = write("killed.csv", "id,ledger,code\n" + "".join("%d,978,3\n" % i for i in ids))
    process = subprocess.Popen([S.borsellino, "import", "accounts", path, "--addr",
                                S.server.address, "--batch", "1000"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # kill once some, not all, are there
        if len(accounts_found(ids[:20000:1000])) > 0:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(0.2)
    # A client killed with answers in flight must not take the server down
    # (borsellinod ignores SIGPIPE).
    ic.check(S.server.process.poll() is None,
             "the server survives a client killed mid-import (exit %r)" % S.server.process.poll())
    before = len(accounts_found(ids))
    ic.diagnostic("killed after %d of %d accounts" % (before, count))
    completed, result = summary("accounts", path)
    ic.check_eq(completed.returncode, 0, "exit code of the run after the kill")
    ic.check_eq((result["created"] + result["exists"], result["refused"], result["invalid"]),
                (count, 0, 0), "every row created or already there")
    ic.check_eq(result["exists"], before, "already there: what the killed run did")
    ic.check_eq(len(accounts_found(ids)), count, "every account there")
    return None


def case_csv_syntax_errors_and_json():
    path = write("syntax.csv", "id,ledger,code\n"
                 "s1,978,1,extra\n"        # line 2: more fields than the header
                 "\"s2\" x,978,1\n"        # line 3: text after a closing quote
                 "s3,978,1\n"
                 "s5" + ",1" * 15 + "\n"  # line 5: 16 fields, the most a line may have
                 "s6" + ",1" * 16 + "\n"  # line 6: 17 fields
                 "\"s4,978,1\n")           # line 7: a quote never closed
    completed, result = summary("accounts", path)
    ic.check_eq(counts(result), (1, 0, 0, 5), "created, exists, refused, invalid")
    ic.check_eq(result["rows"], 6, "rows")
    ic.check_eq(result["kind"], "accounts", "kind")
    for where in ("syntax.csv:2: 4 fields", "syntax.csv:3: text after",
                  "syntax.csv:5: 16 fields where the header has 3",
                  "syntax.csv:6: more fields than the most a line may have (16)",
                  "syntax.csv:7: a quoted field is not closed"):
        ic.check(where in completed.stderr, "stderr names %r: %r" % (where, completed.stderr))


CASES = [
    ("start a server", case_start),
    ("--help states what is applied and that it resumes", case_help_states_the_policy),
    ("accounts: valid lines applied, invalid ones reported and not", case_accounts_with_errors_per_line),
    ("a bad header: nothing is sent", case_bad_header_sends_nothing),
    ("a line of 4096 bytes is read, one of 4097 is refused", case_line_length_bound),
    ("companies, employees (cap class), plans", case_companies_employees_plans),
    ("registry rows in batches: results per line, in file order", case_registry_batches),
    ("grants: entries per request, refused and invalid lines", case_grants),
    ("grants: funds running short, refusals reported per line", case_grants_funds_short),
    ("resumable: a prefix, then the whole file", case_resume_after_a_prefix),
    ("resumable: killed midway, then run again", case_resume_after_a_kill),
    ("CSV syntax errors per line; --json", case_csv_syntax_errors_and_json),
]


def main():
    # Every case needs the server the first one starts.
    return ic.run_cases(CASES, S, essential=lambda run: run is CASES[0][1])


if __name__ == "__main__":
    sys.exit(main())
