#!/usr/bin/python3
"""welfare_year.py - one year of a small welfare platform, end to end
through a real borsellinod, checked against figures this script computes
on its own.

The platform: 3 companies, 20 providers, 200 employees (public funders
work the same way; test_welfare and the demo use one). Each company has a
plan for "the year" with a different expiry policy (back to the funder,
forfeited, carried over into a next plan). The year is compressed into
YEAR_SECONDS of real time, because the server keeps its own clock: the
plans start a day ago and end YEAR_SECONDS after the test starts.

During the year: funding, bulk grants, cap-class declarations, random
purchases (immediate and held; captured, voided), refunds, receipt-backed
reimbursements (one receipt reused, refused), payouts and offboardings.
This script keeps its own model (plain dicts, sharing nothing with the
engine): it predicts every operation's result, and after the year-end
sweeps it checks every funder statement (with its per-employee rows,
paged), every provider statement, annual statements by fiscal basis and
the reconciliation identities.

It reuses only the framing and the server process helpers of
interop_client.py (the project's other independent Python client).
Output is TAP. Environment: as interop_client.py.
"""
import hashlib
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import interop_client as ic  # noqa: E402

YEAR_SECONDS = 40
EVENTS_MAX = 1500
MARGIN_SECONDS = 6  # stop the year's events this long before the plans end
FUNDERS = 3
PROVIDERS = 20
EMPLOYEES = 200
NS = 1000000000
DAY_NS = 86400 * NS
REIMBURSABLE = {1, 2, 3, 4, 6, 10}
FRINGE = {9, 10}
BASIS = {1: 2, 2: 2, 3: 2, 4: 3, 5: 4, 6: 5, 7: 1, 8: 1, 9: 6, 10: 6}
CAPS = {2024: (100000, 200000), 2025: (100000, 200000), 2026: (100000, 200000),
        2027: (100000, 200000)}
DEFAULT_CAP = (25823, 25823)

pb = None
rng = random.Random(int(os.environ.get("WELFARE_YEAR_SEED", "20261126")))


def fiscal_year(ns):
    return time.gmtime(ns // NS + 3600).tm_year


def name_id(text):
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:16], "big")


def result_name(value):
    return pb.WelfareResult.Name(value)


class Model:
    """What the platform should hold, computed independently."""

    def __init__(self):
        self.funders = {}    # id -> dict(policy, plan, next_plan, figures...)
        self.providers = {}  # id -> dict(fee_bps, categories, payable, figures)
        self.employees = {}  # id -> dict(funder, pot, next_pot, offboarded, cap_class, fringe)
        self.purchases = {}  # id -> dict(...)
        self.receipts = set()
        self.annual = {}     # (employee, year) -> dict(spent{basis}, reimbursed{basis})

    def funder_figures(self, funder):
        return self.funders[funder]["figures"]

    def cap(self, employee, year):
        caps = CAPS.get(year, DEFAULT_CAP)
        return caps[self.employees[employee]["cap_class"].get(year, 0)]

    def annual_of(self, employee, year):
        return self.annual.setdefault((employee, year), {"spent": [0] * 7, "reimbursed": [0] * 7})


class Year:
    def __init__(self):
        self.server = None
        self.connection = None
        self.temp_path = None
        self.model = Model()
        self.counter = 0
        self.start_ns = 0
        self.end_ns = 0
        self.year = 0
        self.results = {}

    def next_id(self, kind):
        self.counter += 1
        return name_id("%s-%d" % (kind, self.counter))

    # -- protocol --

    def call(self, field, fill):
        request = self.connection.new_request()
        fill(getattr(request, field))
        getattr(request, field).SetInParent()
        response = self.connection.call(request)
        ic.check_eq(pb.Status.Name(response.status), "STATUS_OK",
                    "%s status (%s)" % (field, response.message))
        ic.check_eq(response.WhichOneof("result"), field, "result kind")
        return getattr(response, field)

    def expect(self, field, fill, expected, what):
        answer = self.call(field, fill)
        got = result_name(answer.result)
        self.results[got] = self.results.get(got, 0) + 1
        ic.check_eq(got, expected, "%s (%s)" % (what, answer.message))
        return answer


Y = Year()


def u128(value):
    return ic.u128(value)


# --------------------------------------------------------------------------
# Setup

def case_start():
    base = os.environ.get("BORSELLINO_TEST_TMP")
    ic.S.temp_path = None
    ic.case_generate_python_code()
    global pb
    pb = ic.pb
    Y.temp_path = ic.S.temp_path
    binary = os.environ.get("BORSELLINOD", os.path.join(ic.SOURCE_ROOT, "build", "server", "borsellinod"))
    Y.server = ic.Server(binary, os.path.join(Y.temp_path, "data"))
    Y.server.start()
    Y.connection = ic.Connection(Y.server.address)
    Y.start_ns = time.time_ns()
    Y.end_ns = Y.start_ns + YEAR_SECONDS * NS
    Y.year = fiscal_year(Y.start_ns)
    del base


def case_registry():
    m = Y.model
    policies = [pb.WELFARE_EXPIRY_BACK_TO_FUNDER, pb.WELFARE_EXPIRY_FORFEIT, pb.WELFARE_EXPIRY_CARRY_OVER]
    plan_categories = [{1, 3, 7, 9, 10}, {1, 2, 4, 6, 8, 9}, {1, 2, 3, 10}]
    for f in range(FUNDERS):
        funder = name_id("funder-%d" % f)
        kind = pb.WELFARE_FUNDER_COMPANY  # public funders: test_welfare, the demo

        def fill(r, funder=funder, kind=kind):
            r.funder.id.CopyFrom(u128(funder))
            r.funder.kind = kind
        Y.expect("welfare_create_funder", fill, "WELFARE_RESULT_OK", "create funder")
        plan = name_id("plan-%d" % f)
        next_plan = name_id("next-plan-%d" % f) if policies[f] == pb.WELFARE_EXPIRY_CARRY_OVER else 0
        mask = sum(1 << c for c in plan_categories[f])
        if next_plan:
            def fill_next(r, funder=funder, mask=mask):
                r.plan.id.CopyFrom(u128(name_id("next-plan-%d" % f)))
                r.plan.funder_id.CopyFrom(u128(funder))
                r.plan.valid_from = Y.start_ns - DAY_NS
                r.plan.valid_until = Y.start_ns + 365 * DAY_NS
                r.plan.categories = mask
                r.plan.expiry_policy = pb.WELFARE_EXPIRY_BACK_TO_FUNDER
            Y.expect("welfare_create_plan", fill_next, "WELFARE_RESULT_OK", "create next plan")

        def fill_plan(r, funder=funder, plan=plan, mask=mask, policy=policies[f], next_plan=next_plan):
            r.plan.id.CopyFrom(u128(plan))
            r.plan.funder_id.CopyFrom(u128(funder))
            r.plan.valid_from = Y.start_ns - DAY_NS
            r.plan.valid_until = Y.end_ns
            r.plan.categories = mask
            r.plan.expiry_policy = policy
            if next_plan:
                r.plan.next_plan_id.CopyFrom(u128(next_plan))
        Y.expect("welfare_create_plan", fill_plan, "WELFARE_RESULT_OK", "create plan")
        m.funders[funder] = {
            "policy": policies[f], "plan": plan, "next_plan": next_plan,
            "categories": plan_categories[f],
            "figures": {k: 0 for k in ("funded", "granted", "spent", "refunded", "reimbursed",
                                       "expired_back", "forfeited", "carried_over", "fees",
                                       "fees_returned")},
            "by_category": [0] * 64, "funds": 0,
        }
    for p in range(PROVIDERS):
        provider = name_id("provider-%d" % p)
        categories = set(rng.sample(range(1, 11), rng.randint(2, 4)))
        fee_bps = rng.choice([0, 150, 300, 500, 800])

        def fill(r, provider=provider, categories=categories, fee_bps=fee_bps):
            r.provider.id.CopyFrom(u128(provider))
            r.provider.fee_bps = fee_bps
            r.provider.categories = sum(1 << c for c in categories)
        Y.expect("welfare_create_provider", fill, "WELFARE_RESULT_OK", "create provider")
        m.providers[provider] = {"fee_bps": fee_bps, "categories": categories, "payable": 0,
                                 "sales": 0, "refunds": 0, "fees": 0, "fees_returned": 0,
                                 "payouts": 0}
    funders = list(m.funders)
    for e in range(EMPLOYEES):
        employee = name_id("employee-%d" % e)
        funder = funders[e % FUNDERS]

        def fill(r, employee=employee, funder=funder):
            r.employee.id.CopyFrom(u128(employee))
            r.employee.funder_id.CopyFrom(u128(funder))
        Y.expect("welfare_create_employee", fill, "WELFARE_RESULT_OK", "create employee")
        m.employees[employee] = {"funder": funder, "pot": 0, "held": 0, "next_pot": 0,
                                 "offboarded": False, "cap_class": {}, "fringe": {}}
        if e % 5 == 0:
            def fill_class(r, employee=employee):
                r.employee_id.CopyFrom(u128(employee))
                r.year = Y.year
                r.cap_class = pb.WELFARE_CAP_WITH_CHILDREN
            Y.expect("welfare_set_cap_class", fill_class, "WELFARE_RESULT_OK", "cap class")
            m.employees[employee]["cap_class"][Y.year] = 1


def case_empty_purchase_batch():
    request = Y.connection.new_request()
    request.welfare_purchases.SetInParent()
    response = Y.connection.call(request)
    ic.check_eq(pb.Status.Name(response.status), "STATUS_BATCH_EMPTY", "an empty batch of purchases")


def case_fund_and_grant():
    m = Y.model
    for index, (funder, state) in enumerate(m.funders.items()):
        amount = [30000000, 20000000, 15000000][index]

        def fill(r, funder=funder, amount=amount):
            r.id.CopyFrom(u128(Y.next_id("fund")))
            r.funder_id.CopyFrom(u128(funder))
            r.amount = amount
        Y.expect("welfare_fund", fill, "WELFARE_RESULT_OK", "fund")
        state["figures"]["funded"] += amount
        state["funds"] += amount
        members = [e for e, s in m.employees.items() if s["funder"] == funder]
        amounts = {e: rng.randint(300, 1500) * 100 for e in members}
        grant_id = Y.next_id("grant")

        def fill_grant(r, plan=state["plan"], amounts=amounts, grant_id=grant_id):
            r.id.CopyFrom(u128(grant_id))
            r.plan_id.CopyFrom(u128(plan))
            for e, a in amounts.items():
                entry = r.entries.add()
                entry.employee_id.CopyFrom(u128(e))
                entry.amount = a
        answer = Y.call("welfare_grant", fill_grant)
        ic.check_eq([result_name(x) for x in answer.results], ["WELFARE_RESULT_OK"] * len(members),
                    "grant results")
        # The same grant again grants nobody twice.
        answer = Y.call("welfare_grant", fill_grant)
        ic.check_eq(set(result_name(x) for x in answer.results), {"WELFARE_RESULT_EXISTS"},
                    "grant resent")
        for e, a in amounts.items():
            m.employees[e]["pot"] += a
        total = sum(amounts.values())
        state["figures"]["granted"] += total
        state["funds"] -= total


# --------------------------------------------------------------------------
# The year

def predict_spend(e, category, amount, fringe_year):
    m = Y.model
    state = m.employees[e]
    if state["offboarded"]:
        return "WELFARE_RESULT_POT_CLOSED"
    if category not in m.funders[state["funder"]]["categories"]:
        return "WELFARE_RESULT_CATEGORY_NOT_ALLOWED_BY_PLAN"
    if category in FRINGE and state["fringe"].get(fringe_year, 0) + amount > m.cap(e, fringe_year):
        return "WELFARE_RESULT_FRINGE_CAP_EXCEEDED"
    if amount > state["pot"]:
        return "WELFARE_RESULT_INSUFFICIENT_POT_BALANCE"
    return "WELFARE_RESULT_OK"


def purchase_draw():
    """A random purchase: (id, employee, provider, category, amount)."""
    m = Y.model
    e = rng.choice(list(m.employees))
    allowed = m.funders[m.employees[e]["funder"]]["categories"]
    provider = rng.choice(list(m.providers))
    if rng.random() < 0.8:  # mostly what the plan allows, from a provider selling it
        sellers = [p for p, s in m.providers.items() if s["categories"] & allowed]
        provider = rng.choice(sellers)
        category = rng.choice(sorted(m.providers[provider]["categories"] & allowed))
    else:
        category = rng.choice(sorted(m.providers[provider]["categories"]))
    amount = rng.randint(500, 90000 if category in FRINGE else 40000)
    return Y.next_id("purchase"), e, provider, category, amount


def purchase_apply(pid, e, provider, category, amount, hold):
    """The model's effects of an accepted purchase."""
    m = Y.model
    state = m.employees[e]
    state["pot"] -= amount
    if category in FRINGE:
        state["fringe"][Y.year] = state["fringe"].get(Y.year, 0) + amount
    m.purchases[pid] = {"employee": e, "provider": provider, "category": category,
                        "amount": amount, "refunded": 0, "fee": 0, "fee_refunded": 0,
                        "held": amount if hold else 0, "open": hold}
    if hold:
        state["held"] += amount
    else:
        capture_effects(pid, amount)


def do_purchase_batch():
    """Several purchases in one welfare_purchases request: each predicted in
    order, as if sent one by one."""
    drawn = [purchase_draw() for _ in range(rng.randint(2, 8))]
    expected = []
    for pid, e, provider, category, amount in drawn:
        result = predict_spend(e, category, amount, Y.year)
        expected.append(result)
        if result == "WELFARE_RESULT_OK":
            purchase_apply(pid, e, provider, category, amount, False)

    def fill(r):
        for pid, e, provider, category, amount in drawn:
            one = r.purchases.add()
            one.id.CopyFrom(u128(pid))
            one.employee_id.CopyFrom(u128(e))
            one.provider_id.CopyFrom(u128(provider))
            one.category = category
            one.amount = amount
    answer = Y.call("welfare_purchases", fill)
    got = [result_name(x) for x in answer.results]
    for name in got:
        Y.results[name] = Y.results.get(name, 0) + 1
    ic.check_eq(got, expected, "batch of purchases")


def do_purchase(hold):
    pid, e, provider, category, amount = purchase_draw()
    expected = predict_spend(e, category, amount, Y.year)

    def fill(r):
        r.id.CopyFrom(u128(pid))
        r.employee_id.CopyFrom(u128(e))
        r.provider_id.CopyFrom(u128(provider))
        r.category = category
        r.amount = amount
        r.hold_timeout_s = 3600 if hold else 0
    Y.expect("welfare_purchase", fill, expected, "purchase")
    if expected == "WELFARE_RESULT_OK":
        purchase_apply(pid, e, provider, category, amount, hold)


def capture_effects(pid, amount):
    m = Y.model
    p = m.purchases[pid]
    provider = m.providers[p["provider"]]
    fee = amount * provider["fee_bps"] // 10000
    p["amount"] = amount
    p["fee"] = fee
    provider["sales"] += amount
    provider["fees"] += fee
    provider["payable"] += amount - fee
    funder = m.funders[m.employees[p["employee"]]["funder"]]
    funder["figures"]["spent"] += amount
    funder["figures"]["fees"] += fee
    funder["by_category"][p["category"]] += amount
    m.annual_of(p["employee"], Y.year)["spent"][BASIS[p["category"]]] += amount


def do_resolve_hold(capture):
    m = Y.model
    open_holds = [pid for pid, p in m.purchases.items() if p["open"]]
    if not open_holds:
        return
    pid = rng.choice(open_holds)
    p = m.purchases[pid]
    state = m.employees[p["employee"]]
    held = p["held"]
    captured = rng.choice([0, rng.randint(1, held)]) if capture else 0
    if capture:
        def fill(r):
            r.id.CopyFrom(u128(Y.next_id("capture")))
            r.purchase_id.CopyFrom(u128(pid))
            r.amount = captured
        Y.expect("welfare_capture", fill, "WELFARE_RESULT_OK", "capture")
        taken = held if captured == 0 else captured
    else:
        def fill(r):
            r.id.CopyFrom(u128(Y.next_id("void")))
            r.purchase_id.CopyFrom(u128(pid))
        Y.expect("welfare_void", fill, "WELFARE_RESULT_OK", "void")
        taken = 0
    released = held - taken
    p["open"] = False
    p["held"] = 0
    state["held"] -= held
    state["pot"] += released
    if p["category"] in FRINGE:
        state["fringe"][Y.year] -= released
    if capture:
        capture_effects(pid, taken)
    else:
        p["amount"] = 0


def do_refund():
    m = Y.model
    candidates = [pid for pid, p in m.purchases.items() if not p["open"] and p["amount"] > p["refunded"]]
    if not candidates:
        return
    pid = rng.choice(candidates)
    p = m.purchases[pid]
    remaining = p["amount"] - p["refunded"]
    amount = rng.choice([remaining, rng.randint(1, remaining)])
    if rng.random() < 0.1:
        amount = remaining + 1  # more than purchased: refused
    provider = m.providers[p["provider"]]
    fee_total = p["fee"] * (p["refunded"] + amount) // p["amount"] if amount <= remaining else 0
    fee_back = fee_total - p["fee_refunded"]
    state = m.employees[p["employee"]]
    if amount > remaining:
        expected = "WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE"
    elif provider["payable"] + fee_back < amount:
        expected = "WELFARE_RESULT_PAYABLE_INSUFFICIENT"
    else:
        expected = "WELFARE_RESULT_OK"

    def fill(r):
        r.id.CopyFrom(u128(Y.next_id("refund")))
        r.purchase_id.CopyFrom(u128(pid))
        r.amount = amount
    Y.expect("welfare_refund", fill, expected, "refund")
    if expected != "WELFARE_RESULT_OK":
        return
    p["refunded"] += amount
    p["fee_refunded"] = fee_total
    provider["refunds"] += amount
    provider["fees_returned"] += fee_back
    provider["payable"] += fee_back - amount
    funder = m.funders[state["funder"]]
    funder["figures"]["refunded"] += amount
    funder["figures"]["fees_returned"] += fee_back
    m.annual_of(p["employee"], Y.year)["spent"][BASIS[p["category"]]] -= amount
    if p["category"] in FRINGE:
        state["fringe"][Y.year] -= amount
    if state["offboarded"]:
        settle(p["employee"], amount, offboarding=True)
    else:
        state["pot"] += amount


def settle(e, amount, offboarding):
    """Credit that cannot stay in a pot, per the plan's policy."""
    m = Y.model
    funder = m.funders[m.employees[e]["funder"]]
    policy = funder["policy"]
    if policy == pb.WELFARE_EXPIRY_CARRY_OVER and offboarding:
        policy = pb.WELFARE_EXPIRY_BACK_TO_FUNDER
    if policy == pb.WELFARE_EXPIRY_BACK_TO_FUNDER:
        funder["figures"]["expired_back"] += amount
        funder["funds"] += amount
    elif policy == pb.WELFARE_EXPIRY_FORFEIT:
        funder["figures"]["forfeited"] += amount
    else:
        funder["figures"]["carried_over"] += amount
        m.employees[e]["next_pot"] += amount


def do_reimbursement():
    m = Y.model
    e = rng.choice(list(m.employees))
    state = m.employees[e]
    category = rng.choice(sorted(REIMBURSABLE))
    amount = rng.randint(1000, 20000)
    receipt_amount = amount + rng.choice([0, 0, rng.randint(1, 5000)])
    reuse = m.receipts and rng.random() < 0.15
    digest = rng.choice(sorted(m.receipts)) if reuse else hashlib.sha256(
        ("receipt-%d" % Y.next_id("r")).encode()).digest()
    date = int(time.strftime("%Y%m%d", time.gmtime(time.time() + 3600)))
    if state["offboarded"]:
        expected = "WELFARE_RESULT_POT_CLOSED"
    elif reuse:
        expected = "WELFARE_RESULT_RECEIPT_ALREADY_REIMBURSED"
    else:
        expected = predict_spend(e, category, amount, date // 10000)

    def fill(r):
        r.id.CopyFrom(u128(Y.next_id("reimb")))
        r.employee_id.CopyFrom(u128(e))
        r.category = category
        r.receipt_date = date
        r.amount = amount
        r.receipt_amount = receipt_amount
        r.receipt_hash = digest
    Y.expect("welfare_reimburse", fill, expected, "reimbursement")
    if expected != "WELFARE_RESULT_OK":
        return
    m.receipts.add(digest)
    state["pot"] -= amount
    year = date // 10000
    if category in FRINGE:
        state["fringe"][year] = state["fringe"].get(year, 0) + amount
    m.funders[state["funder"]]["figures"]["reimbursed"] += amount
    m.annual_of(e, year)["reimbursed"][BASIS[category]] += amount


def do_payout():
    m = Y.model
    provider = rng.choice(list(m.providers))
    state = m.providers[provider]

    def fill(r):
        r.id.CopyFrom(u128(Y.next_id("payout")))
        r.provider_id.CopyFrom(u128(provider))
        r.amount = 0
        r.reference.CopyFrom(u128(Y.next_id("bank")))
    answer = Y.expect("welfare_payout", fill, "WELFARE_RESULT_OK", "payout")
    ic.check_eq(answer.paid, state["payable"], "paid out")
    state["payouts"] += state["payable"]
    state["payable"] = 0


def do_offboard():
    m = Y.model
    active = [e for e, s in m.employees.items() if not s["offboarded"] and s["held"] == 0]
    if not active:
        return
    e = rng.choice(active)
    state = m.employees[e]

    def fill(r):
        r.id.CopyFrom(u128(Y.next_id("offboard")))
        r.employee_id.CopyFrom(u128(e))
    answer = Y.expect("welfare_offboard", fill, "WELFARE_RESULT_OK", "offboard")
    ic.check_eq(answer.report.holds_voided, 0, "holds voided")
    if state["pot"] > 0:
        settle(e, state["pot"], offboarding=True)
    state["pot"] = 0
    state["offboarded"] = True


def case_the_year():
    actions = [(do_purchase, (False,), 50), (do_purchase_batch, (), 5), (do_purchase, (True,), 10),
               (do_resolve_hold, (True,), 8), (do_resolve_hold, (False,), 4),
               (do_refund, (), 12), (do_reimbursement, (), 6), (do_payout, (), 3),
               (do_offboard, (), 1)]
    weights = [a[2] for a in actions]
    deadline_ns = Y.end_ns - MARGIN_SECONDS * NS
    events = 0
    while events < EVENTS_MAX and time.time_ns() < deadline_ns:
        action, args, _ = rng.choices(actions, weights)[0]
        action(*args)
        events += 1
    # Every hold is resolved before the year ends (half captured).
    while any(p["open"] for p in Y.model.purchases.values()):
        do_resolve_hold(rng.random() < 0.5)
    ic.diagnostic("%d events in the year; results: %s" % (events, sorted(Y.results.items())))
    ic.check(events >= 300, "at least 300 events before the year ended (got %d)" % events)
    for kind in ("WELFARE_RESULT_FRINGE_CAP_EXCEEDED", "WELFARE_RESULT_CATEGORY_NOT_ALLOWED_BY_PLAN",
                 "WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE", "WELFARE_RESULT_RECEIPT_ALREADY_REIMBURSED"):
        ic.check(Y.results.get(kind, 0) > 0, "the year provoked %s" % kind)


# --------------------------------------------------------------------------
# Year end

def case_year_end_sweeps():
    m = Y.model
    wait_s = (Y.end_ns - time.time_ns()) / NS + 0.5
    if wait_s > 0:
        time.sleep(wait_s)
    # Spending from an expired pot is refused.
    e = next(e for e, s in m.employees.items() if not s["offboarded"] and
             m.funders[s["funder"]]["policy"] != pb.WELFARE_EXPIRY_CARRY_OVER)
    provider = next(p for p, s in m.providers.items()
                    if s["categories"] & m.funders[m.employees[e]["funder"]]["categories"])
    category = sorted(m.providers[provider]["categories"] & m.funders[m.employees[e]["funder"]]["categories"])[0]

    def fill(r):
        r.id.CopyFrom(u128(Y.next_id("late")))
        r.employee_id.CopyFrom(u128(e))
        r.provider_id.CopyFrom(u128(provider))
        r.category = category
        r.amount = 1
    Y.expect("welfare_purchase", fill, "WELFARE_RESULT_POT_EXPIRED", "purchase after the year")
    for funder, state in m.funders.items():
        members = [e for e, s in m.employees.items() if s["funder"] == funder]
        leftover = sum(m.employees[e]["pot"] for e in members)
        with_credit = sum(1 for e in members if m.employees[e]["pot"] > 0)
        sweep_id = Y.next_id("sweep")

        def fill_sweep(r, plan=state["plan"], sweep_id=sweep_id):
            r.id.CopyFrom(u128(sweep_id))
            r.plan_id.CopyFrom(u128(plan))
        answer = Y.expect("welfare_sweep", fill_sweep, "WELFARE_RESULT_OK", "sweep")
        ic.check_eq(answer.report.pots_swept, with_credit, "pots swept")
        moved = answer.report.expired_back + answer.report.forfeited + answer.report.carried_over
        ic.check_eq(moved, leftover, "swept amount")
        for e in members:
            if m.employees[e]["pot"] > 0:
                settle(e, m.employees[e]["pot"], offboarding=False)
                m.employees[e]["pot"] = 0
        Y.expect("welfare_sweep", fill_sweep, "WELFARE_RESULT_EXISTS", "same sweep again")

        def fill_again(r, plan=state["plan"]):
            r.id.CopyFrom(u128(Y.next_id("sweep")))
            r.plan_id.CopyFrom(u128(plan))
        answer = Y.expect("welfare_sweep", fill_again, "WELFARE_RESULT_OK", "second sweep")
        ic.check_eq(answer.report.pots_swept, 0, "a second sweep moves nothing")
    for provider in m.providers:
        if m.providers[provider]["payable"] > 0:
            def fill_payout(r, provider=provider):
                r.id.CopyFrom(u128(Y.next_id("payout")))
                r.provider_id.CopyFrom(u128(provider))
            answer = Y.expect("welfare_payout", fill_payout, "WELFARE_RESULT_OK", "final payout")
            ic.check_eq(answer.paid, m.providers[provider]["payable"], "final payout amount")
            m.providers[provider]["payouts"] += answer.paid
            m.providers[provider]["payable"] = 0


# --------------------------------------------------------------------------
# Statements

def case_funder_statements():
    m = Y.model
    for funder, state in m.funders.items():
        rows = {}
        after = 0
        while True:
            def fill(r, after=after):
                r.funder_id.CopyFrom(u128(funder))
                if after:
                    r.employees_after.CopyFrom(u128(after))
                r.employees_limit = 25
            s = Y.call("welfare_funder_statement", fill)
            for row in s.employees:
                rows[ic.u128_value(row.employee_id)] = (row.balance, row.held)
            if not s.more:
                break
            after = ic.u128_value(s.employees[-1].employee_id)
        figures = state["figures"]
        for field, value in figures.items():
            ic.check_eq(getattr(s, field), value, "funder %x %s" % (funder, field))
        ic.check_eq(list(s.spent_by_category), state["by_category"], "spent by category")
        ic.check_eq(s.funds_balance, state["funds"], "funds balance")
        members = {e: st for e, st in m.employees.items() if st["funder"] == funder}
        ic.check_eq(s.pots_balance, sum(st["next_pot"] for st in members.values()), "pots balance")
        ic.check_eq(s.held, 0, "held")
        ic.check_eq(sorted(rows), sorted(members), "one row per employee, paged")
        for e, st in members.items():
            ic.check_eq(rows[e], (st["next_pot"], 0), "remaining credit of an employee")
        # The auditors' identity.
        ic.check_eq(s.funds_balance + s.pots_balance + s.spent - s.refunded +
                    s.reimbursed + s.forfeited, s.funded, "funded = where it went")


def case_provider_statements():
    m = Y.model
    for provider, state in m.providers.items():
        def fill(r, provider=provider):
            r.provider_id.CopyFrom(u128(provider))
        s = Y.call("welfare_provider_statement", fill)
        for field in ("sales", "refunds", "fees", "fees_returned", "payouts", "payable"):
            ic.check_eq(getattr(s, field), state[field], "provider %s" % field)
        ic.check_eq(s.sales - s.refunds - (s.fees - s.fees_returned), s.payouts + s.payable,
                    "sales - refunds - fees = payouts + payable")


def case_annual_statements():
    m = Y.model
    checked = 0
    for (e, year), figures in sorted(m.annual.items())[:40]:
        def fill(r, e=e, year=year):
            r.employee_id.CopyFrom(u128(e))
            r.year = year
        s = Y.call("welfare_annual_statement", fill)
        ic.check_eq(list(s.spent), figures["spent"], "annual spent by basis")
        ic.check_eq(list(s.reimbursed), figures["reimbursed"], "annual reimbursed by basis")
        ic.check_eq(s.fringe_used, m.employees[e]["fringe"].get(year, 0), "fringe used")
        ic.check_eq(s.fringe_cap, m.cap(e, year), "fringe cap")
        checked += 1
    ic.check(checked > 0, "annual statements checked")


def case_stop():
    Y.connection.close()
    code = Y.server.terminate()
    ic.check_eq(code, 0, "borsellinod exit code after SIGTERM")


CASES = [
    ("start a server", case_start),
    ("registry: 3 companies, 20 providers, 200 employees, plans", case_registry),
    ("fund and bulk grants (resent: nobody granted twice)", case_fund_and_grant),
    ("an empty batch of purchases is refused", case_empty_purchase_batch),
    ("the year: purchases, holds, refunds, reimbursements, payouts, offboardings", case_the_year),
    ("year end: expired pots refused, sweeps per policy, final payouts", case_year_end_sweeps),
    ("funder statements match, employee rows paged, identity holds", case_funder_statements),
    ("provider statements match, identity holds", case_provider_statements),
    ("annual statements by fiscal basis match", case_annual_statements),
    ("SIGTERM stops the server cleanly", case_stop),
]


def main():
    return ic.run_cases(CASES, Y)


if __name__ == "__main__":
    sys.exit(main())
