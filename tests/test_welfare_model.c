/*
 * test_welfare_model.c — the model-based randomized test of the welfare
 * layer (ledger/welfare.h).
 *
 * What it is for: a second, deliberately naive implementation of the
 * welfare rules (the "model": funders, providers, employees, plans, pots
 * per employee × plan, fringe caps per fiscal year, holds with expiry,
 * refunds, reimbursements with receipts, sweeps, offboarding, payouts) is
 * fed the same seeded random stream of operations as the engine, while the
 * injected clock moves forward at random so that plans start and end,
 * holds expire and fiscal years turn. A small fringe-cap table makes the
 * cap bite often.
 *
 * After every operation: each result code (each entry of a bulk grant)
 * must be the model's prediction; every wallet (each pot: plan, available,
 * held, balance, granted, window, expired, closed) must equal the model's;
 * every funder's funds, provider's payable and the platform's fees and
 * forfeited accounts must equal the model's; no pot account may have
 * debits above credits; and for every funder
 *     funded = funds + Σ its pots (posted, which includes held)
 *              + (spent − refunded) + reimbursed + forfeited
 * (carry-over moves credit between the funder's own pots: it adds
 * nothing). About 120 times a run (every SAMPLE_STEPS steps or more) the
 * statements are compared too
 * (welfare_funder_statement over all time with its employee rows,
 * welfare_provider_statement, welfare_annual_statement for every employee
 * and year, including fringe used ≤ cap; each employee's movements, paged
 * in pages of random size, add up to their pots' balances), and every
 * VERIFY_STEPS steps
 * ledger_verify() runs (Σ debits = Σ credits, hash chain). Some operations
 * run inside write groups, some of which are aborted (the model restores
 * its copy); the ledger is closed and reopened now and then.
 *
 * A difference in a result code or in money desynchronises the model and
 * stops the run; a difference in a statement does not, so it is reported
 * once per kind and the run goes on (the case fails at the end), and so
 * does a refusal the engine gives where welfare.h gives another one. Every
 * report carries the seed and the step: `test_welfare_model --seed N`
 * replays the run, `--ops N` sets its length.
 *
 * Independence: only ledger.h and welfare.h are included, for the API
 * types. The model shares no code with ledger/: its rules are written
 * again from welfare.h, in plain arrays, with linear scans.
 *
 * Where welfare.h leaves a choice open, the model follows the choice the
 * implementation documents or makes (and the unit tests state):
 * grant entries check POT_CLOSED before POT_EXPIRED; a split that would
 * need more than WELFARE_PURCHASE_POTS_MAX pots falls back to a single pot
 * covering the amount; a carry-over into an employee who already holds
 * WELFARE_POTS_PER_EMPLOYEE_MAX pots goes back to the funder; a split hold
 * captured in part takes its earliest pots first; refunds return
 * floor(fee × refunded / captured) of the fee in total; offboarding voids
 * the holds first (their credit follows the policy of a plan that has
 * ended, carry-over included) and then empties the pots. Carry-over
 * targets never end within a run (their plans end in 2035). Cap tables and
 * cap classes only ever go up, so fringe used ≤ cap is an invariant. A
 * purchase whose allowed pots have all either ended or not started, some
 * of each, gets POT_EXPIRED (welfare.h says nothing of that mix). Where
 * welfare.h is explicit and the engine gives another refusal
 * (TOO_MANY_POTS_FOR_SPLIT when the split pots could not cover the amount
 * at all: see known_divergence), the model keeps welfare.h's answer; both
 * sides refused, so the run goes on and the divergence is reported.
 *
 * Workload: OPS_DEFAULT operations (8,000) on 3 funders, 4 providers, 14
 * employees and up to 120 plans, over about RUN_SPAN_NS (1,000 days) of
 * clock whatever the length; ~5 s, ~35 s under ASan + UBSan.
 */
#include "ledger.h"
#include "test.h"
#include "welfare.h"

#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Limits and constants                                                     */

#define NS_PER_S UINT64_C(1000000000)
#define NS_PER_HOUR (UINT64_C(3600) * NS_PER_S)
#define NS_PER_DAY (UINT64_C(86400) * NS_PER_S)
/* 2025-12-01T00:00:00Z: the run crosses the 2025/2026 turn early. */
#define CLOCK_START_NS (UINT64_C(1764547200) * NS_PER_S)
/* 2035-01-01T00:00:00Z: the end of the carry-over target plans. */
#define EVERGREEN_UNTIL_NS (UINT64_C(2051222400) * NS_PER_S)
/* Keep the clock this far from any boundary (plan window, hold expiry,
 * fiscal year turn), so that a few ns of timestamp bumping never matter. */
#define BOUNDARY_MARGIN_NS (UINT64_C(50) * UINT64_C(1000000))
#define OPS_DEFAULT UINT64_C(8000)
/* The clock covers about this much whatever the number of operations. */
#define RUN_SPAN_NS (UINT64_C(1000) * NS_PER_DAY)

enum {
    FUNDERS = 3,
    PROVIDERS = 4,
    EMPLOYEES = 14,
    PLANS_PER_FUNDER_MAX = 40,
    PLANS_MAX = FUNDERS * PLANS_PER_FUNDER_MAX,
    CATEGORIES = 10, /* the default catalog: 1..10 */
    YEAR_FIRST = 2024,
    YEARS = 10, /* 2024..2033 */
    RECEIPTS = 4096,
    GRANT_ENTRIES_MAX = 4,
    DONE_MAX = 512,      /* remembered successful operations (for resubmits) */
    OFFBOARDED_MAX = EMPLOYEES / 3,
    SAMPLE_STEPS = 25,   /* statements */
    VERIFY_STEPS = 500,  /* ledger_verify */
    REOPEN_STEPS_MIN = 300,
    REOPEN_STEPS_MAX = 700,
    GROUP_OPS_MAX = 6,
};

/* Ids of the entities and the first operation id. */
#define FUNDER_ID(f) (UINT64_C(1) + (f))
#define PROVIDER_ID(p) (UINT64_C(11) + (p))
#define EMPLOYEE_ID(e) (UINT64_C(21) + (e))
#define PLAN_ID(k) (UINT64_C(101) + (k))
#define OPERATION_ID_FIRST UINT64_C(1000000)

static const uint32_t category_basis[CATEGORIES + 1] = {
    0, WELFARE_BASIS_F_BIS, WELFARE_BASIS_F_BIS, WELFARE_BASIS_F_BIS, WELFARE_BASIS_F_TER,
    WELFARE_BASIS_F_QUATER, WELFARE_BASIS_D_BIS, WELFARE_BASIS_F, WELFARE_BASIS_F,
    WELFARE_BASIS_FRINGE, WELFARE_BASIS_FRINGE};
static const bool category_reimbursable[CATEGORIES + 1] = {
    false, true, true, true, true, false, true, false, false, false, true};
static const uint32_t fee_choices[] = {0, 250, 333, 1000, 10000};

/* ------------------------------------------------------------------------ */
/* Random numbers (xoshiro256**: the same stream everywhere)                */

typedef struct rng {
    uint64_t state[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *rng, uint64_t seed) {
    for (int i = 0; i < 4; i++) rng->state[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng_t *rng) {
    uint64_t *s = rng->state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static uint64_t rng_below(rng_t *rng, uint64_t bound) {
    TEST_REQUIRE(bound > 0);
    return rng_next(rng) % bound;
}

static uint64_t rng_range(rng_t *rng, uint64_t low, uint64_t high) {
    TEST_REQUIRE(low <= high);
    return low + rng_below(rng, high - low + 1);
}

static bool rng_chance(rng_t *rng, uint32_t per_mille) {
    return rng_below(rng, 1000) < per_mille;
}

static ledger_u128_t id128_of(uint64_t lo) {
    ledger_u128_t id = {0, lo};
    return id;
}

/* ------------------------------------------------------------------------ */
/* Calendar (written out; no libc time zone business)                      */

static bool leap_year(uint64_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* The UTC civil date of an instant, by counting days from 1970. */
static void civil_date(uint64_t timestamp_ns, uint32_t *year_out, uint32_t *month_out,
                       uint32_t *day_out) {
    static const uint32_t month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    uint64_t days = timestamp_ns / NS_PER_DAY;
    uint64_t year = 1970;
    for (;;) {
        uint64_t in_year = leap_year(year) ? 366 : 365;
        if (days < in_year) break;
        days -= in_year;
        year++;
    }
    uint32_t month = 0;
    for (;;) {
        uint64_t in_month = month_days[month] + (month == 1 && leap_year(year) ? 1 : 0);
        if (days < in_month) break;
        days -= in_month;
        month++;
    }
    *year_out = (uint32_t)year;
    *month_out = month + 1;
    *day_out = (uint32_t)days + 1;
}

/* Italian fiscal year: the UTC year of t + 1 hour. */
static uint32_t model_fiscal_year(uint64_t timestamp_ns) {
    uint32_t year, month, day;
    civil_date(timestamp_ns + NS_PER_HOUR, &year, &month, &day);
    return year;
}

/* The instant the fiscal year `year` starts (Dec 31 of year-1, 23:00 UTC). */
static uint64_t fiscal_year_start(uint32_t year) {
    uint64_t days = 0;
    for (uint64_t y = 1970; y < year; y++) days += leap_year(y) ? 366 : 365;
    return days * NS_PER_DAY - NS_PER_HOUR;
}

/* ------------------------------------------------------------------------ */
/* The model                                                                */

typedef struct model_funder {
    bool exists;
    uint32_t kind;
    uint64_t funds;
    uint64_t funded, granted, spent, refunded, reimbursed;
    uint64_t expired_back, forfeited, carried_over, fees, fees_returned;
    uint64_t spent_by_category[WELFARE_CATEGORY_ID_MAX + 1];
} model_funder_t;

typedef struct model_provider {
    bool exists;
    uint32_t fee_bps;
    uint64_t categories;
    uint64_t payable, held;
    uint64_t sales, refunds, fees, fees_returned, payouts;
} model_provider_t;

typedef struct model_plan {
    bool exists;
    uint32_t funder;
    uint64_t valid_from, valid_until, categories;
    uint32_t policy, flags;
    int32_t next; /* plan index, or -1 */
    uint64_t limit;
} model_plan_t;

typedef struct model_pot {
    bool exists;
    bool closed;
    uint64_t balance; /* credits - debits posted */
    uint64_t held;
    uint64_t granted;
} model_pot_t;

typedef struct model_employee {
    bool exists;
    bool offboarded;
    uint32_t funder;
    uint32_t cap_class[YEARS];
    uint64_t fringe_used[YEARS];
    int64_t spent[YEARS][WELFARE_BASIS_COUNT];
    uint64_t reimbursed[YEARS][WELFARE_BASIS_COUNT];
} model_employee_t;

enum { PURCHASE_HELD = 1, PURCHASE_CAPTURED = 2, PURCHASE_VOIDED = 3 };

typedef struct model_part {
    uint32_t plan;
    uint64_t amount;   /* held or taken from this pot */
    uint64_t captured; /* posted from this pot */
    uint64_t refunded;
} model_part_t;

typedef struct model_purchase {
    uint64_t id;
    uint32_t employee, provider, category;
    uint64_t amount;
    uint32_t state;
    uint32_t year;
    uint64_t expires_at;
    uint32_t parts_count;
    model_part_t parts[WELFARE_PURCHASE_POTS_MAX];
    uint64_t captured, refunded, fee, fee_refunded;
} model_purchase_t;

typedef struct model_cap_row {
    bool exists;
    uint64_t standard, with_children;
} model_cap_row_t;

typedef struct model {
    model_funder_t funders[FUNDERS];
    model_provider_t providers[PROVIDERS];
    model_employee_t employees[EMPLOYEES];
    model_plan_t plans[PLANS_MAX];
    uint32_t plans_count;
    model_pot_t pots[EMPLOYEES][PLANS_MAX];
    model_cap_row_t cap_default;
    model_cap_row_t caps[YEARS];
    bool receipt_used[RECEIPTS];
    uint64_t fees, forfeited; /* the platform's accounts */
    model_purchase_t *purchases;
    uint32_t purchases_count, purchases_capacity;
} model_t;

static model_cap_row_t model_cap_row(const model_t *m, uint32_t year) {
    if (year >= YEAR_FIRST && year < YEAR_FIRST + YEARS && m->caps[year - YEAR_FIRST].exists) {
        return m->caps[year - YEAR_FIRST];
    }
    return m->cap_default;
}

static uint64_t model_cap(const model_t *m, uint32_t employee, uint32_t year) {
    model_cap_row_t row = model_cap_row(m, year);
    uint32_t cap_class = m->employees[employee].cap_class[year - YEAR_FIRST];
    return cap_class == WELFARE_CAP_WITH_CHILDREN ? row.with_children : row.standard;
}

static bool plan_running(const model_plan_t *plan, uint64_t now) {
    return plan->valid_from <= now && now < plan->valid_until;
}

static bool plan_ended(const model_plan_t *plan, uint64_t now) {
    return now >= plan->valid_until;
}

static uint64_t pot_available(const model_pot_t *pot) {
    return pot->balance - pot->held;
}

static model_purchase_t *model_purchase_find(model_t *m, uint64_t id) {
    for (uint32_t i = 0; i < m->purchases_count; i++) {
        if (m->purchases[i].id == id) return &m->purchases[i];
    }
    return NULL;
}

static void model_purchase_add(model_t *m, const model_purchase_t *purchase) {
    if (m->purchases_count == m->purchases_capacity) {
        uint32_t capacity = m->purchases_capacity == 0 ? 256 : 2 * m->purchases_capacity;
        model_purchase_t *grown = realloc(m->purchases, capacity * sizeof *grown);
        TEST_REQUIRE(grown != NULL);
        m->purchases = grown;
        m->purchases_capacity = capacity;
    }
    m->purchases[m->purchases_count++] = *purchase;
}

/* A deep copy (for write groups that are aborted). */
static void model_copy(model_t *to, const model_t *from) {
    model_purchase_t *purchases = to->purchases;
    uint32_t capacity = to->purchases_capacity;
    *to = *from;
    to->purchases = purchases;
    to->purchases_capacity = capacity;
    if (capacity < from->purchases_count) {
        to->purchases = realloc(purchases, from->purchases_count * sizeof *purchases + 1);
        TEST_REQUIRE(to->purchases != NULL);
        to->purchases_capacity = from->purchases_count;
    }
    if (from->purchases_count > 0) {
        memcpy(to->purchases, from->purchases, from->purchases_count * sizeof *purchases);
    }
}

/* What a sweep or an offboarding moved (the model's report). */
typedef struct model_report {
    uint32_t pots_swept, holds_voided;
    uint64_t expired_back, forfeited, carried_over;
} model_report_t;

static uint32_t pots_count(const model_t *m, uint32_t employee) {
    uint32_t count = 0;
    for (uint32_t k = 0; k < m->plans_count; k++) count += m->pots[employee][k].exists;
    return count;
}

/* A carry-over lands in the next plan's pot: there is one already, or the
 * employee may hold one more. */
static bool carry_lands(const model_t *m, uint32_t employee, int32_t next) {
    if (next < 0) return false;
    return m->pots[employee][next].exists ||
           pots_count(m, employee) < WELFARE_POTS_PER_EMPLOYEE_MAX;
}

/*
 * Credit that a pot cannot keep (its plan ended, or it is closed) follows
 * the plan's policy: back to the funder, forfeited, or carried over into
 * the employee's pot of the next plan (created when missing). A closed pot
 * and offboarding send carry-over back to the funder.
 */
static void model_settle(model_t *m, uint32_t employee, uint32_t plan, uint64_t amount,
                         bool offboarding, model_report_t *report) {
    if (amount == 0) return;
    model_pot_t *pot = &m->pots[employee][plan];
    const model_plan_t *p = &m->plans[plan];
    model_funder_t *funder = &m->funders[p->funder];
    uint32_t policy = p->policy;
    if (policy == WELFARE_EXPIRY_CARRY_OVER && (offboarding || pot->closed)) {
        policy = WELFARE_EXPIRY_BACK_TO_FUNDER;
    }
    TEST_REQUIRE(pot->balance - pot->held >= amount);
    pot->balance -= amount;
    if (policy == WELFARE_EXPIRY_FORFEIT) {
        m->forfeited += amount;
        funder->forfeited += amount;
        if (report != NULL) report->forfeited += amount;
    } else if (policy == WELFARE_EXPIRY_CARRY_OVER && !carry_lands(m, employee, p->next)) {
        /* The employee holds the maximum of pots: back to the funder. */
        funder->funds += amount;
        funder->expired_back += amount;
        if (report != NULL) report->expired_back += amount;
    } else if (policy == WELFARE_EXPIRY_CARRY_OVER) {
        TEST_REQUIRE(p->next >= 0);
        model_pot_t *next = &m->pots[employee][p->next];
        next->exists = true;
        next->balance += amount;
        funder->carried_over += amount;
        if (report != NULL) report->carried_over += amount;
    } else {
        funder->funds += amount;
        funder->expired_back += amount;
        if (report != NULL) report->expired_back += amount;
    }
}

/* Credit returned into a pot: kept if it can be, else settled now. */
static void model_pot_returned(model_t *m, uint32_t employee, uint32_t plan, uint64_t amount,
                               uint64_t now) {
    const model_pot_t *pot = &m->pots[employee][plan];
    if (!pot->closed && !plan_ended(&m->plans[plan], now)) return;
    model_settle(m, employee, plan, amount, false, NULL);
}

static void fringe_add(model_t *m, uint32_t employee, uint32_t year, int64_t delta) {
    uint64_t *used = &m->employees[employee].fringe_used[year - YEAR_FIRST];
    if (delta < 0) {
        TEST_REQUIRE(*used >= (uint64_t)-delta);
    }
    *used += (uint64_t)delta;
}

/* Releases a hold (void or expiry): the held credit goes back to its pots. */
static void model_hold_release(model_t *m, model_purchase_t *purchase, uint64_t now) {
    TEST_REQUIRE(purchase->state == PURCHASE_HELD);
    for (uint32_t i = 0; i < purchase->parts_count; i++) {
        model_part_t *part = &purchase->parts[i];
        m->pots[purchase->employee][part->plan].held -= part->amount;
    }
    purchase->state = PURCHASE_VOIDED;
    m->providers[purchase->provider].held -= purchase->amount;
    if (category_basis[purchase->category] == WELFARE_BASIS_FRINGE) {
        fringe_add(m, purchase->employee, purchase->year, -(int64_t)purchase->amount);
    }
    for (uint32_t i = 0; i < purchase->parts_count; i++) {
        model_part_t *part = &purchase->parts[i];
        model_pot_returned(m, purchase->employee, part->plan, part->amount, now);
    }
}

/* Voids holds whose timeout has passed, earliest first. Returns how many. */
static uint32_t model_expire_due(model_t *m, uint64_t now) {
    uint32_t count = 0;
    for (;;) {
        model_purchase_t *earliest = NULL;
        for (uint32_t i = 0; i < m->purchases_count; i++) {
            model_purchase_t *p = &m->purchases[i];
            if (p->state != PURCHASE_HELD || p->expires_at > now) continue;
            if (earliest == NULL || p->expires_at < earliest->expires_at) earliest = p;
        }
        if (earliest == NULL) return count;
        model_hold_release(m, earliest, now);
        count++;
    }
}

/* ------------------------------------------------------------------------ */
/* Pot selection, written from welfare.h                                    */

typedef struct selection {
    uint32_t count;
    uint32_t plans[WELFARE_PURCHASE_POTS_MAX];
    uint64_t amounts[WELFARE_PURCHASE_POTS_MAX];
} selection_t;

/* The employee's open pots whose plan allows `category`, running now,
 * earliest valid_until first (ties by plan id). Returns the result of the
 * category/window checks. */
static uint32_t model_eligible(const model_t *m, uint32_t employee, uint32_t category,
                               uint64_t now, uint32_t *eligible, uint32_t *count_out) {
    bool allowed = false;
    bool ended = false;
    bool not_started = false;
    uint32_t count = 0;
    for (uint32_t k = 0; k < m->plans_count; k++) {
        const model_pot_t *pot = &m->pots[employee][k];
        const model_plan_t *plan = &m->plans[k];
        if (!pot->exists || pot->closed) continue;
        if (!(plan->categories & (UINT64_C(1) << category))) continue;
        allowed = true;
        if (plan_ended(plan, now)) {
            ended = true;
        } else if (plan_running(plan, now)) {
            eligible[count++] = k;
        } else {
            not_started = true;
        }
    }
    /* Insertion sort by (valid_until, plan id). */
    for (uint32_t i = 1; i < count; i++) {
        uint32_t k = eligible[i];
        uint32_t j = i;
        while (j > 0) {
            const model_plan_t *a = &m->plans[eligible[j - 1]];
            const model_plan_t *b = &m->plans[k];
            bool after = a->valid_until > b->valid_until ||
                         (a->valid_until == b->valid_until && eligible[j - 1] > k);
            if (!after) break;
            eligible[j] = eligible[j - 1];
            j--;
        }
        eligible[j] = k;
    }
    *count_out = count;
    if (count > 0) return WELFARE_RESULT_OK;
    if (pots_count(m, employee) == 0) return WELFARE_RESULT_NO_ELIGIBLE_POT;
    if (!allowed) return WELFARE_RESULT_CATEGORY_NOT_ALLOWED_BY_PLAN;
    /* welfare.h: no pot at all → NO_ELIGIBLE_POT; none allowing the
     * category → CATEGORY_NOT_ALLOWED_BY_PLAN; all of those not started →
     * PLAN_NOT_STARTED; all of those ended → POT_EXPIRED. When some have
     * ended and the others not started, welfare.h is silent: like the
     * engine, POT_EXPIRED. */
    (void)not_started;
    return ended ? WELFARE_RESULT_POT_EXPIRED : WELFARE_RESULT_PLAN_NOT_STARTED;
}

static uint32_t model_select(const model_t *m, uint32_t employee, const uint32_t *eligible,
                             uint32_t count, uint64_t amount, bool split_wanted,
                             selection_t *out) {
    memset(out, 0, sizeof *out);
    const model_pot_t *pots = m->pots[employee];
    if (pot_available(&pots[eligible[0]]) >= amount) {
        out->count = 1;
        out->plans[0] = eligible[0];
        out->amounts[0] = amount;
        return WELFARE_RESULT_OK;
    }
    bool too_many = false;
    if (split_wanted) {
        /* welfare.h: TOO_MANY_POTS_FOR_SPLIT is a split that would cover the
         * amount but needs more pots than allowed. */
        uint64_t split_total = 0;
        for (uint32_t i = 0; i < count; i++) {
            if (m->plans[eligible[i]].flags & WELFARE_PLAN_SPLIT_ALLOWED) {
                split_total += pot_available(&pots[eligible[i]]);
            }
        }
        uint64_t remaining = amount;
        for (uint32_t i = 0; i < count && remaining > 0; i++) {
            uint32_t k = eligible[i];
            uint64_t available = pot_available(&pots[k]);
            if (!(m->plans[k].flags & WELFARE_PLAN_SPLIT_ALLOWED) || available == 0) continue;
            if (out->count == WELFARE_PURCHASE_POTS_MAX) {
                too_many = split_total >= amount;
                break;
            }
            uint64_t take = available < remaining ? available : remaining;
            out->plans[out->count] = k;
            out->amounts[out->count] = take;
            out->count++;
            remaining -= take;
        }
        if (remaining == 0) return WELFARE_RESULT_OK;
        memset(out, 0, sizeof *out);
    }
    for (uint32_t i = 0; i < count; i++) {
        if (pot_available(&pots[eligible[i]]) >= amount) {
            out->count = 1;
            out->plans[0] = eligible[i];
            out->amounts[0] = amount;
            return WELFARE_RESULT_OK;
        }
    }
    return too_many ? WELFARE_RESULT_TOO_MANY_POTS_FOR_SPLIT
                    : WELFARE_RESULT_INSUFFICIENT_POT_BALANCE;
}

__extension__ typedef unsigned __int128 wide_t;

static uint64_t fee_of(uint64_t amount, uint32_t bps) {
    return (uint64_t)(((wide_t)amount * bps) / 10000u);
}

/* floor(a × b / c) without overflow (the result fits: b <= c). */
static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c) {
    return (uint64_t)(((wide_t)a * b) / c);
}

/* ------------------------------------------------------------------------ */
/* The harness                                                              */

enum op_kind {
    OP_FUND, OP_GRANT, OP_PURCHASE, OP_CAPTURE, OP_VOID, OP_REFUND, OP_REIMBURSE,
    OP_SWEEP, OP_OFFBOARD, OP_PAYOUT, OP_KINDS
};

static const char *const op_names[] = {
    "fund", "grant", "purchase", "capture", "void", "refund", "reimburse",
    "sweep", "offboard", "payout", "create_funder", "create_provider",
    "create_employee", "create_plan", "set_cap_class", "set_fringe_cap",
    "expire_holds", "resubmit",
};
enum { OP_CREATE_FUNDER = OP_KINDS, OP_CREATE_PROVIDER, OP_CREATE_EMPLOYEE, OP_CREATE_PLAN,
       OP_SET_CAP_CLASS, OP_SET_FRINGE_CAP, OP_EXPIRE, OP_RESUBMIT, OP_ALL };

/* A successful money operation, kept to be submitted again. */
typedef struct done_op {
    uint32_t kind;
    uint64_t id;
    uint64_t subject;   /* funder, plan, purchase, employee or provider id */
    uint64_t amount;
    uint64_t reference; /* payouts */
    welfare_purchase_t purchase;
    welfare_reimbursement_t reimbursement;
} done_op_t;

/* A grant entry that was applied: (grant id, employee) -> plan, amount. */
typedef struct done_grant {
    uint64_t grant_id;
    uint32_t employee;
    int32_t plan;
    uint64_t amount;
} done_grant_t;

typedef struct harness {
    uint64_t seed;
    rng_t rng;
    uint64_t now;
    char directory[PATH_MAX];
    ledger_options_t options;
    ledger_t *ledger;
    model_t model;
    model_t saved; /* the model at the start of an open write group */
    bool in_group;
    bool group_aborts; /* the open group will be aborted */
    uint64_t step;
    uint64_t next_id;
    uint64_t last_refused_id;
    bool stopped;
    uint32_t soft_mismatches;
    char reported[64][64];
    uint32_t reported_count;
    uint32_t done_count;
    done_op_t done[DONE_MAX];
    done_grant_t *grants;
    uint32_t grants_count, grants_capacity;
    uint32_t receipts_next;
    uint64_t steps_until_reopen;
    uint64_t results_seen[OP_ALL][WELFARE_RESULT_CODE_COUNT];
    uint64_t groups_committed, groups_aborted, reopens, holds_expired, splits;
    uint64_t sample_steps;
    uint64_t clock_scale_per_mille;
} harness_t;

static uint64_t harness_clock(void *context) { return *(const uint64_t *)context; }

static uint64_t base_seed(void) {
    static uint64_t seed;
    if (seed != 0) return seed;
    seed = test_seed;
    if (seed == 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        uint64_t mix = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^
                       (uint64_t)getpid();
        seed = splitmix64(&mix) % UINT64_C(1000000000000) + 1;
    }
    return seed;
}

/* A difference that desynchronises model and engine: stop the run. */
__attribute__((format(printf, 2, 3)))
static void mismatch(harness_t *h, const char *format, ...) {
    va_list args;
    va_start(args, format);
    char text[512];
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    printf("# MISMATCH seed=%" PRIu64 " step=%" PRIu64 ": %s\n", h->seed, h->step, text);
    fflush(stdout);
    test_failures_in_case++;
    h->stopped = true;
}

/* A difference that leaves model and engine in step (a statement figure,
 * or a known refusal-for-refusal divergence): reported once per key, the
 * run goes on, the case fails at the end. */
__attribute__((format(printf, 3, 4)))
static void soft_mismatch(harness_t *h, const char *key, const char *format, ...) {
    h->soft_mismatches++;
    for (uint32_t i = 0; i < h->reported_count; i++) {
        if (strcmp(h->reported[i], key) == 0) return;
    }
    if (h->reported_count < 64) {
        snprintf(h->reported[h->reported_count++], sizeof h->reported[0], "%s", key);
    }
    va_list args;
    va_start(args, format);
    char text[512];
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    printf("# DIVERGENCE seed=%" PRIu64 " step=%" PRIu64 " (%s): %s "
           "(reported once per kind; the run goes on)\n",
           h->seed, h->step, key, text);
    fflush(stdout);
}

static void call_ok(harness_t *h, int rc, const char *what) {
    if (rc == 0) return;
    mismatch(h, "%s returned %d (%s): %s", what, rc, ledger_strerror(rc),
             ledger_last_error_message(h->ledger));
}

/* Compares a result with the model's prediction. */
/* A refusal where the engine departs from welfare.h in a way a unit test
 * reports (case split_cannot_cover): nothing changed either way, so the
 * run can go on; the case still fails. */
static const char *known_divergence(uint32_t actual, uint32_t expected) {
    if (expected == WELFARE_RESULT_INSUFFICIENT_POT_BALANCE &&
        actual == WELFARE_RESULT_TOO_MANY_POTS_FOR_SPLIT) {
        return "result.too_many_pots_for_split";
    }
    return NULL;
}

static bool result_check(harness_t *h, uint32_t op, uint32_t actual, uint32_t expected,
                         const char *detail) {
    if (actual < WELFARE_RESULT_CODE_COUNT) h->results_seen[op][actual]++;
    if (actual == expected) return true;
    const char *known = known_divergence(actual, expected);
    if (known != NULL) {
        soft_mismatch(h, known, "%s (%s): engine %s, model (welfare.h) %s", op_names[op], detail,
                      welfare_result_name(actual), welfare_result_name(expected));
        return false;
    }
    mismatch(h, "%s (%s): engine %s (%u), model %s (%u)", op_names[op], detail,
             welfare_result_name(actual), actual, welfare_result_name(expected), expected);
    return false;
}

static uint64_t new_id(harness_t *h) {
    /* Now and then the id of a refused operation: it is not remembered. */
    if (h->last_refused_id != 0 && rng_chance(&h->rng, 100)) {
        uint64_t id = h->last_refused_id;
        h->last_refused_id = 0;
        return id;
    }
    return h->next_id++;
}

/* What an aborted group did is forgotten by the engine: the harness does
 * not remember it either. */
static bool recording(const harness_t *h) { return !(h->in_group && h->group_aborts); }

static void remember(harness_t *h, const done_op_t *op) {
    if (!recording(h)) return;
    uint32_t slot = h->done_count < DONE_MAX ? h->done_count++
                                             : (uint32_t)rng_below(&h->rng, DONE_MAX);
    h->done[slot] = *op;
}

static void grants_add(harness_t *h, const done_grant_t *grant) {
    if (!recording(h)) return;
    if (h->grants_count == h->grants_capacity) {
        uint32_t capacity = h->grants_capacity == 0 ? 256 : 2 * h->grants_capacity;
        done_grant_t *grown = realloc(h->grants, capacity * sizeof *grown);
        TEST_REQUIRE(grown != NULL);
        h->grants = grown;
        h->grants_capacity = capacity;
    }
    h->grants[h->grants_count++] = *grant;
}

static const done_grant_t *grants_find(const harness_t *h, uint64_t grant_id,
                                       uint32_t employee) {
    for (uint32_t i = 0; i < h->grants_count; i++) {
        if (h->grants[i].grant_id == grant_id && h->grants[i].employee == employee) {
            return &h->grants[i];
        }
    }
    return NULL;
}

/* Every write call voids due holds first: so does the model. */
static void before_write(harness_t *h) {
    h->holds_expired += model_expire_due(&h->model, h->now);
}

static void harness_open(harness_t *h) {
    h->options.clock = harness_clock;
    h->options.clock_context = &h->now;
    h->options.checkpoint_events = 2000;
    int rc = ledger_open(h->directory, &h->options, &h->ledger);
    if (rc != 0) {
        printf("# ledger_open: %d %s: %s\n", rc, ledger_strerror(rc),
               ledger_last_error_message(NULL));
    }
    TEST_REQUIRE(rc == 0);
}

static void make_directories(const char *path) {
    char buffer[PATH_MAX];
    snprintf(buffer, sizeof buffer, "%s", path);
    for (char *p = buffer + 1; *p != '\0'; p++) {
        if (*p != '/') continue;
        *p = '\0';
        (void)mkdir(buffer, 0700);
        *p = '/';
    }
    (void)mkdir(buffer, 0700);
}

static int remove_entry(const char *path, const struct stat *info, int type,
                        struct FTW *walk) {
    (void)info;
    (void)type;
    (void)walk;
    return remove(path);
}

/* ------------------------------------------------------------------------ */
/* Picking                                                                  */

static uint32_t funders_existing(const model_t *m, uint32_t *out) {
    uint32_t count = 0;
    for (uint32_t f = 0; f < FUNDERS; f++) {
        if (m->funders[f].exists) out[count++] = f;
    }
    return count;
}

static uint32_t pick_funder(harness_t *h) {
    uint32_t existing[FUNDERS];
    uint32_t count = funders_existing(&h->model, existing);
    if (count > 0 && rng_chance(&h->rng, 920)) return existing[rng_below(&h->rng, count)];
    return (uint32_t)rng_below(&h->rng, FUNDERS);
}

static uint32_t pick_employee(harness_t *h) {
    for (int attempt = 0; attempt < 4; attempt++) {
        uint32_t e = (uint32_t)rng_below(&h->rng, EMPLOYEES);
        if (h->model.employees[e].exists && !h->model.employees[e].offboarded) return e;
    }
    return (uint32_t)rng_below(&h->rng, EMPLOYEES);
}

/* A plan index, or -1 for a plan that does not exist. */
static int32_t pick_plan(harness_t *h) {
    if (h->model.plans_count == 0 || rng_chance(&h->rng, 40)) return -1;
    /* Favour recent plans: they are more often running. */
    uint32_t count = h->model.plans_count;
    if (rng_chance(&h->rng, 600) && count > 6) {
        return (int32_t)(count - 1 - rng_below(&h->rng, 6));
    }
    return (int32_t)rng_below(&h->rng, count);
}

static uint64_t plan_id_of(int32_t plan) {
    return plan < 0 ? PLAN_ID(PLANS_MAX + 7) : PLAN_ID((uint64_t)plan);
}

/* A purchase of the model: held ones `held_per_mille` of the time. */
static model_purchase_t *pick_purchase(harness_t *h, uint32_t wanted_state,
                                       uint32_t wanted_per_mille) {
    model_t *m = &h->model;
    if (m->purchases_count == 0) return NULL;
    if (rng_chance(&h->rng, wanted_per_mille)) {
        for (int attempt = 0; attempt < 16; attempt++) {
            /* Recent purchases first. */
            uint32_t window = m->purchases_count < 64 ? m->purchases_count : 64;
            uint32_t i = m->purchases_count - 1 - (uint32_t)rng_below(&h->rng, window);
            if (attempt >= 8) i = (uint32_t)rng_below(&h->rng, m->purchases_count);
            if (m->purchases[i].state == wanted_state) return &m->purchases[i];
        }
    }
    return &m->purchases[rng_below(&h->rng, m->purchases_count)];
}

/* ------------------------------------------------------------------------ */
/* Comparing the engine with the model                                      */

static bool account_get(harness_t *h, ledger_u128_t id, ledger_account_t *out) {
    uint32_t found = 0;
    memset(out, 0, sizeof *out);
    int rc = ledger_lookup_accounts(h->ledger, &id, 1, out, &found);
    call_ok(h, rc, "ledger_lookup_accounts");
    if (rc == 0 && found != 1) mismatch(h, "welfare account %016" PRIx64 ":%" PRIu64 " missing",
                                        id.hi, id.lo);
    return rc == 0 && found == 1;
}

static void check_wallet(harness_t *h, uint32_t e, uint64_t *pots_balance_out) {
    const model_t *m = &h->model;
    const model_employee_t *me = &m->employees[e];
    welfare_wallet_t wallet;
    bool found = false;
    call_ok(h, welfare_wallet(h->ledger, id128_of(EMPLOYEE_ID(e)), &wallet, &found),
            "welfare_wallet");
    if (h->stopped) return;
    if (found != me->exists) {
        mismatch(h, "employee %u: wallet found %d, model %d", e, found, me->exists);
        return;
    }
    if (!found) return;
    if (wallet.offboarded != me->offboarded) {
        mismatch(h, "employee %u: offboarded %d, model %d", e, wallet.offboarded, me->offboarded);
    }
    /* The model's pots in wallet order: valid_until, then plan id. */
    uint32_t order[PLANS_MAX];
    uint32_t count = 0;
    for (uint32_t k = 0; k < m->plans_count; k++) {
        if (!m->pots[e][k].exists) continue;
        uint32_t j = count++;
        while (j > 0 && (m->plans[order[j - 1]].valid_until > m->plans[k].valid_until ||
                         (m->plans[order[j - 1]].valid_until == m->plans[k].valid_until &&
                          order[j - 1] > k))) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    if (wallet.pots_count != count) {
        mismatch(h, "employee %u: %u pots, model %u", e, wallet.pots_count, count);
        return;
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < count && !h->stopped; i++) {
        const welfare_pot_t *pot = &wallet.pots[i];
        uint32_t k = order[i];
        const model_pot_t *mp = &m->pots[e][k];
        const model_plan_t *plan = &m->plans[k];
        bool spendable = !mp->closed && plan_running(plan, h->now);
        uint64_t available = spendable ? pot_available(mp) : 0;
        bool ok = ledger_u128_equal(pot->plan_id, id128_of(PLAN_ID(k))) &&
                  pot->balance == mp->balance && pot->held == mp->held &&
                  pot->available == available && pot->granted == mp->granted &&
                  pot->valid_from == plan->valid_from && pot->valid_until == plan->valid_until &&
                  pot->categories == plan->categories &&
                  pot->expired == plan_ended(plan, h->now) && pot->closed == mp->closed;
        if (!ok) {
            mismatch(h,
                     "employee %u pot %u (plan %" PRIu64 "): engine plan %" PRIu64
                     " balance %" PRIu64 " held %" PRIu64 " available %" PRIu64
                     " granted %" PRIu64 " expired %d closed %d; model balance %" PRIu64
                     " held %" PRIu64 " available %" PRIu64 " granted %" PRIu64
                     " expired %d closed %d",
                     e, i, PLAN_ID(k), pot->plan_id.lo, pot->balance, pot->held,
                     pot->available, pot->granted, pot->expired, pot->closed, mp->balance,
                     mp->held, available, mp->granted, plan_ended(plan, h->now), mp->closed);
            return;
        }
        /* A pot never goes negative, held credit included. */
        ledger_account_t account;
        if (!account_get(h, pot->account_id, &account)) return;
        if (account.debits_posted + account.debits_pending > account.credits_posted) {
            mismatch(h, "employee %u pot %u: debits %" PRIu64 " + %" PRIu64
                        " above credits %" PRIu64,
                     e, i, account.debits_posted, account.debits_pending, account.credits_posted);
        }
        if (account.credits_posted - account.debits_posted != pot->balance ||
            account.debits_pending != pot->held) {
            mismatch(h, "employee %u pot %u: account and wallet disagree", e, i);
        }
        total += pot->balance;
    }
    *pots_balance_out = total;
}

static int64_t credit_balance(const ledger_account_t *a) {
    return (int64_t)(a->credits_posted - a->debits_posted);
}

/* Money: every wallet, funds, payables, platform accounts, identities. */
static void check_money(harness_t *h) {
    const model_t *m = &h->model;
    uint64_t pots_by_funder[FUNDERS] = {0};
    for (uint32_t e = 0; e < EMPLOYEES && !h->stopped; e++) {
        uint64_t total = 0;
        check_wallet(h, e, &total);
        if (m->employees[e].exists) pots_by_funder[m->employees[e].funder] += total;
    }
    for (uint32_t f = 0; f < FUNDERS && !h->stopped; f++) {
        const model_funder_t *mf = &m->funders[f];
        welfare_funder_t funder;
        bool found = false;
        call_ok(h, welfare_lookup_funder(h->ledger, id128_of(FUNDER_ID(f)), &funder, &found),
                "welfare_lookup_funder");
        if (found != mf->exists) mismatch(h, "funder %u: found %d, model %d", f, found, mf->exists);
        if (!found || h->stopped) continue;
        ledger_account_t account;
        if (!account_get(h, funder.account_id, &account)) return;
        if (credit_balance(&account) != (int64_t)mf->funds) {
            mismatch(h, "funder %u: funds %" PRId64 ", model %" PRIu64, f,
                     credit_balance(&account), mf->funds);
        }
        /* funded = funds + Σ pots + (spent - refunded) + reimbursed + forfeited,
         * with the engine's funds and pots and the model's flows. */
        uint64_t right = (uint64_t)credit_balance(&account) + pots_by_funder[f] +
                         (mf->spent - mf->refunded) + mf->reimbursed + mf->forfeited;
        if (right != mf->funded) {
            mismatch(h, "funder %u: funded %" PRIu64 " but funds + pots + spent - refunded + "
                        "reimbursed + forfeited = %" PRIu64,
                     f, mf->funded, right);
        }
    }
    for (uint32_t p = 0; p < PROVIDERS && !h->stopped; p++) {
        const model_provider_t *mp = &m->providers[p];
        welfare_provider_t provider;
        bool found = false;
        call_ok(h, welfare_lookup_provider(h->ledger, id128_of(PROVIDER_ID(p)), &provider, &found),
                "welfare_lookup_provider");
        if (found != mp->exists) mismatch(h, "provider %u: found %d", p, found);
        if (!found || h->stopped) continue;
        ledger_account_t account;
        if (!account_get(h, provider.account_id, &account)) return;
        if (credit_balance(&account) != (int64_t)mp->payable || account.credits_pending != mp->held) {
            mismatch(h, "provider %u: payable %" PRId64 " held %" PRIu64 ", model %" PRIu64
                        " held %" PRIu64,
                     p, credit_balance(&account), account.credits_pending, mp->payable, mp->held);
        }
    }
    if (h->stopped) return;
    welfare_platform_t platform;
    call_ok(h, welfare_platform(h->ledger, &platform), "welfare_platform");
    ledger_account_t fees, forfeited;
    if (!account_get(h, platform.fees_account_id, &fees)) return;
    if (!account_get(h, platform.forfeited_account_id, &forfeited)) return;
    if (credit_balance(&fees) != (int64_t)m->fees) {
        mismatch(h, "platform fees %" PRId64 ", model %" PRIu64, credit_balance(&fees), m->fees);
    }
    if (credit_balance(&forfeited) != (int64_t)m->forfeited) {
        mismatch(h, "platform forfeited %" PRId64 ", model %" PRIu64, credit_balance(&forfeited),
                 m->forfeited);
    }
}

#define SOFT_FIELD(h, key, who, field, engine, model)                         \
    do {                                                                      \
        if ((uint64_t)(engine) != (uint64_t)(model)) {                        \
            soft_mismatch((h), key "." field,                                 \
                          "%s: " field " %" PRIu64 ", model %" PRIu64, (who), \
                          (uint64_t)(engine), (uint64_t)(model));             \
        }                                                                     \
    } while (0)

static void check_funder_statement(harness_t *h, uint32_t f) {
    const model_t *m = &h->model;
    const model_funder_t *mf = &m->funders[f];
    welfare_funder_statement_t s;
    welfare_employee_balance_t rows[EMPLOYEES + 1];
    uint32_t count = 0;
    bool more = true;
    call_ok(h, welfare_funder_statement(h->ledger, id128_of(FUNDER_ID(f)), 0, 0, &s,
                                        id128_of(0), rows, EMPLOYEES + 1, &count, &more),
            "welfare_funder_statement");
    if (h->stopped) return;
    char who[32];
    snprintf(who, sizeof who, "funder %u", f);
    SOFT_FIELD(h, "funder", who, "funded", s.funded, mf->funded);
    SOFT_FIELD(h, "funder", who, "granted", s.granted, mf->granted);
    SOFT_FIELD(h, "funder", who, "spent", s.spent, mf->spent);
    SOFT_FIELD(h, "funder", who, "refunded", s.refunded, mf->refunded);
    SOFT_FIELD(h, "funder", who, "reimbursed", s.reimbursed, mf->reimbursed);
    SOFT_FIELD(h, "funder", who, "expired_back", s.expired_back, mf->expired_back);
    SOFT_FIELD(h, "funder", who, "forfeited", s.forfeited, mf->forfeited);
    SOFT_FIELD(h, "funder", who, "carried_over", s.carried_over, mf->carried_over);
    SOFT_FIELD(h, "funder", who, "fees", s.fees, mf->fees);
    SOFT_FIELD(h, "funder", who, "fees_returned", s.fees_returned, mf->fees_returned);
    SOFT_FIELD(h, "funder", who, "funds_balance", s.funds_balance, mf->funds);
    for (uint32_t c = 0; c <= WELFARE_CATEGORY_ID_MAX; c++) {
        SOFT_FIELD(h, "funder", who, "spent_by_category", s.spent_by_category[c],
                   mf->spent_by_category[c]);
    }
    uint64_t pots = 0, held = 0;
    uint32_t expected_rows = 0;
    for (uint32_t e = 0; e < EMPLOYEES; e++) {
        const model_employee_t *me = &m->employees[e];
        if (!me->exists || me->funder != f) continue;
        uint64_t balance = 0, employee_held = 0;
        for (uint32_t k = 0; k < m->plans_count; k++) {
            balance += m->pots[e][k].balance;
            employee_held += m->pots[e][k].held;
        }
        pots += balance;
        held += employee_held;
        if (expected_rows < count) {
            const welfare_employee_balance_t *row = &rows[expected_rows];
            if (!ledger_u128_equal(row->employee_id, id128_of(EMPLOYEE_ID(e))) ||
                row->balance != balance || row->held != employee_held) {
                soft_mismatch(h, "funder.rows", "%s row %u: employee %" PRIu64 " balance %" PRIu64
                              " held %" PRIu64 ", model employee %" PRIu64 " %" PRIu64 " %" PRIu64,
                              who, expected_rows, row->employee_id.lo, row->balance, row->held,
                              EMPLOYEE_ID(e), balance, employee_held);
            }
        }
        expected_rows++;
    }
    SOFT_FIELD(h, "funder", who, "pots_balance", s.pots_balance, pots);
    SOFT_FIELD(h, "funder", who, "held", s.held, held);
    SOFT_FIELD(h, "funder", who, "rows", count, expected_rows);
    if (more) soft_mismatch(h, "funder.more", "%s: more rows announced", who);
    /* The auditor's identity, on the engine's own figures. */
    if (s.funded != s.funds_balance + s.pots_balance + (s.spent - s.refunded) + s.reimbursed +
                        s.forfeited) {
        soft_mismatch(h, "funder.identity",
                      "%s: funded %" PRIu64 " != funds %" PRIu64 " + pots %" PRIu64
                      " + spent %" PRIu64 " - refunded %" PRIu64 " + reimbursed %" PRIu64
                      " + forfeited %" PRIu64,
                      who, s.funded, s.funds_balance, s.pots_balance, s.spent, s.refunded,
                      s.reimbursed, s.forfeited);
    }
}

static void check_provider_statement(harness_t *h, uint32_t p) {
    const model_provider_t *mp = &h->model.providers[p];
    welfare_provider_statement_t s;
    call_ok(h, welfare_provider_statement(h->ledger, id128_of(PROVIDER_ID(p)), 0, 0, &s),
            "welfare_provider_statement");
    if (h->stopped) return;
    char who[32];
    snprintf(who, sizeof who, "provider %u", p);
    SOFT_FIELD(h, "provider", who, "sales", s.sales, mp->sales);
    SOFT_FIELD(h, "provider", who, "refunds", s.refunds, mp->refunds);
    SOFT_FIELD(h, "provider", who, "fees", s.fees, mp->fees);
    SOFT_FIELD(h, "provider", who, "fees_returned", s.fees_returned, mp->fees_returned);
    SOFT_FIELD(h, "provider", who, "payouts", s.payouts, mp->payouts);
    SOFT_FIELD(h, "provider", who, "payable", s.payable, mp->payable);
    SOFT_FIELD(h, "provider", who, "held", s.held, mp->held);
    if (s.sales - s.refunds - (s.fees - s.fees_returned) != s.payouts + s.payable) {
        soft_mismatch(h, "provider.identity",
                      "%s: sales %" PRIu64 " - refunds %" PRIu64 " - (fees %" PRIu64
                      " - returned %" PRIu64 ") != payouts %" PRIu64 " + payable %" PRIu64,
                      who, s.sales, s.refunds, s.fees, s.fees_returned, s.payouts, s.payable);
    }
}

static void check_annual(harness_t *h, uint32_t e, uint32_t year) {
    const model_t *m = &h->model;
    const model_employee_t *me = &m->employees[e];
    welfare_annual_statement_t s;
    call_ok(h, welfare_annual_statement(h->ledger, id128_of(EMPLOYEE_ID(e)), year, &s),
            "welfare_annual_statement");
    if (h->stopped) return;
    uint32_t y = year - YEAR_FIRST;
    char who[48];
    snprintf(who, sizeof who, "employee %u year %u", e, year);
    SOFT_FIELD(h, "annual", who, "year", s.year, year);
    SOFT_FIELD(h, "annual", who, "cap_class", s.cap_class, me->cap_class[y]);
    SOFT_FIELD(h, "annual", who, "fringe_cap", s.fringe_cap, model_cap(m, e, year));
    SOFT_FIELD(h, "annual", who, "fringe_used", s.fringe_used, me->fringe_used[y]);
    for (uint32_t b = 1; b < WELFARE_BASIS_COUNT; b++) {
        SOFT_FIELD(h, "annual", who, "spent", s.spent[b], me->spent[y][b]);
        SOFT_FIELD(h, "annual", who, "reimbursed", s.reimbursed[b], me->reimbursed[y][b]);
    }
    /* Caps only go up in this run: usage never exceeds the cap. */
    if (s.fringe_used > s.fringe_cap) {
        soft_mismatch(h, "annual.over_cap", "%s: fringe used %" PRIu64 " above cap %" PRIu64, who,
                      s.fringe_used, s.fringe_cap);
    }
    if (me->fringe_used[y] > model_cap(m, e, year)) {
        mismatch(h, "model: %s fringe used above cap (model bug)", who);
    }
}

/* The employee's movements, paged from the start in small pages (as
 * welfare.h says: timestamp_min = last timestamp + 1): per pot, the posted
 * amounts add up to its balance and the last one shows that balance;
 * timestamps never go back. */
static void check_movements(harness_t *h, uint32_t e) {
    const model_t *m = &h->model;
    static welfare_movement_t page[WELFARE_MOVEMENTS_MAX];
    int64_t sums[PLANS_MAX];
    uint64_t last_after[PLANS_MAX];
    bool seen[PLANS_MAX];
    memset(sums, 0, sizeof sums);
    memset(seen, 0, sizeof seen);
    uint64_t from = 0, previous = 0;
    uint32_t capacity = rng_chance(&h->rng, 500) ? WELFARE_MOVEMENTS_MAX
                                                 : (uint32_t)rng_range(&h->rng, WELFARE_MOVEMENTS_MIN, 7);
    for (;;) {
        uint32_t count = 0;
        bool more = false;
        call_ok(h, welfare_movements(h->ledger, id128_of(EMPLOYEE_ID(e)), from, 0, page,
                                     capacity, &count, &more),
                "welfare_movements");
        if (h->stopped) return;
        for (uint32_t i = 0; i < count; i++) {
            const welfare_movement_t *mv = &page[i];
            uint64_t k = mv->plan_id.lo - PLAN_ID(0);
            if (mv->plan_id.hi != 0 || k >= m->plans_count) {
                soft_mismatch(h, "movements.plan", "employee %u: movement of unknown plan %" PRIu64,
                              e, mv->plan_id.lo);
                continue;
            }
            if (mv->timestamp < previous) {
                soft_mismatch(h, "movements.order", "employee %u: timestamps going back", e);
            }
            previous = mv->timestamp;
            if (!mv->held) sums[k] += mv->amount;
            last_after[k] = mv->pot_balance_after;
            seen[k] = true;
        }
        if (!more) break;
        if (count == 0) {
            soft_mismatch(h, "movements.progress", "employee %u: an empty page with more", e);
            break;
        }
        from = page[count - 1].timestamp + 1;
    }
    for (uint32_t k = 0; k < m->plans_count; k++) {
        const model_pot_t *pot = &m->pots[e][k];
        if (!pot->exists) continue;
        if (sums[k] != (int64_t)pot->balance || (seen[k] && last_after[k] != pot->balance)) {
            soft_mismatch(h, "movements.balance",
                          "employee %u plan %" PRIu64 ": movements add up to %" PRId64
                          " (last balance_after %" PRIu64 "), pot balance %" PRIu64,
                          e, PLAN_ID(k), sums[k], seen[k] ? last_after[k] : 0, pot->balance);
        }
    }
}

static void check_statements(harness_t *h) {
    const model_t *m = &h->model;
    for (uint32_t f = 0; f < FUNDERS && !h->stopped; f++) {
        if (m->funders[f].exists) check_funder_statement(h, f);
    }
    for (uint32_t p = 0; p < PROVIDERS && !h->stopped; p++) {
        if (m->providers[p].exists) check_provider_statement(h, p);
    }
    uint32_t year_now = model_fiscal_year(h->now);
    for (uint32_t e = 0; e < EMPLOYEES && !h->stopped; e++) {
        if (!m->employees[e].exists) continue;
        check_movements(h, e);
        for (uint32_t year = 2025; year <= year_now + 1 && !h->stopped; year++) {
            check_annual(h, e, year);
        }
    }
}

static void verify(harness_t *h) {
    ledger_verify_report_t report;
    memset(&report, 0, sizeof report);
    int rc = ledger_verify(h->ledger, &report, NULL, NULL);
    if (rc != 0) {
        mismatch(h, "ledger_verify: %d %s: sequence %" PRIu64 ": %s", rc, ledger_strerror(rc),
                 report.first_bad_sequence, report.message);
    }
}

/* ------------------------------------------------------------------------ */
/* Registry and rules operations                                            */

static void op_create_funder(harness_t *h) {
    model_t *m = &h->model;
    uint32_t f = (uint32_t)rng_below(&h->rng, FUNDERS);
    welfare_funder_t funder;
    memset(&funder, 0, sizeof funder);
    funder.id = id128_of(FUNDER_ID(f));
    funder.kind = (uint32_t)rng_range(&h->rng, 1, 2);
    if (m->funders[f].exists && rng_chance(&h->rng, 700)) funder.kind = m->funders[f].kind;
    before_write(h);
    uint32_t expected = WELFARE_RESULT_OK;
    if (m->funders[f].exists) {
        expected = funder.kind == m->funders[f].kind ? WELFARE_RESULT_EXISTS
                                                     : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
    }
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_create_funder(h->ledger, &funder, &result), "welfare_create_funder");
    if (h->stopped || !result_check(h, OP_CREATE_FUNDER, result, expected, "")) return;
    if (expected == WELFARE_RESULT_OK) {
        m->funders[f].exists = true;
        m->funders[f].kind = funder.kind;
    }
}

static uint64_t random_categories(harness_t *h) {
    uint64_t categories = 0;
    while (categories == 0) {
        for (uint32_t c = 1; c <= CATEGORIES; c++) {
            if (rng_chance(&h->rng, 550)) categories |= UINT64_C(1) << c;
        }
    }
    return categories;
}

static void op_create_provider(harness_t *h) {
    model_t *m = &h->model;
    uint32_t p = (uint32_t)rng_below(&h->rng, PROVIDERS);
    model_provider_t *mp = &m->providers[p];
    welfare_provider_t provider;
    memset(&provider, 0, sizeof provider);
    provider.id = id128_of(PROVIDER_ID(p));
    provider.fee_bps = fee_choices[rng_below(&h->rng, sizeof fee_choices / sizeof fee_choices[0])];
    provider.categories = random_categories(h);
    bool same = mp->exists && rng_chance(&h->rng, 600);
    if (same) {
        provider.fee_bps = mp->fee_bps;
        provider.categories = mp->categories;
    }
    bool unknown_category = !mp->exists && rng_chance(&h->rng, 50);
    if (unknown_category) provider.categories |= UINT64_C(1) << 40;
    before_write(h);
    uint32_t expected = WELFARE_RESULT_OK;
    if (mp->exists) {
        bool identical = provider.fee_bps == mp->fee_bps && provider.categories == mp->categories;
        expected = identical ? WELFARE_RESULT_EXISTS : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
    } else if (unknown_category) {
        expected = WELFARE_RESULT_CATEGORY_NOT_FOUND;
    }
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_create_provider(h->ledger, &provider, &result), "welfare_create_provider");
    if (h->stopped || !result_check(h, OP_CREATE_PROVIDER, result, expected, "")) return;
    if (expected == WELFARE_RESULT_OK) {
        mp->exists = true;
        mp->fee_bps = provider.fee_bps;
        mp->categories = provider.categories;
    }
}

static void op_create_employee(harness_t *h) {
    model_t *m = &h->model;
    uint32_t e = (uint32_t)rng_below(&h->rng, EMPLOYEES);
    uint32_t f = pick_funder(h);
    model_employee_t *me = &m->employees[e];
    if (me->exists && rng_chance(&h->rng, 700)) f = me->funder;
    welfare_employee_t employee;
    memset(&employee, 0, sizeof employee);
    employee.id = id128_of(EMPLOYEE_ID(e));
    employee.funder_id = id128_of(FUNDER_ID(f));
    before_write(h);
    uint32_t expected = WELFARE_RESULT_OK;
    if (me->exists) {
        expected = me->funder == f ? WELFARE_RESULT_EXISTS
                                   : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
    } else if (!m->funders[f].exists) {
        expected = WELFARE_RESULT_FUNDER_NOT_FOUND;
    }
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_create_employee(h->ledger, &employee, &result), "welfare_create_employee");
    if (h->stopped || !result_check(h, OP_CREATE_EMPLOYEE, result, expected, "")) return;
    if (expected == WELFARE_RESULT_OK) {
        me->exists = true;
        me->funder = f;
    }
}

static uint32_t plans_of_funder(const model_t *m, uint32_t f, int32_t *evergreen_out) {
    uint32_t count = 0;
    *evergreen_out = -1;
    for (uint32_t k = 0; k < m->plans_count; k++) {
        if (m->plans[k].funder != f) continue;
        count++;
        if (m->plans[k].valid_until == EVERGREEN_UNTIL_NS && *evergreen_out < 0) {
            *evergreen_out = (int32_t)k;
        }
    }
    return count;
}

static welfare_plan_t plan_request(const model_plan_t *plan, uint64_t id) {
    welfare_plan_t request;
    memset(&request, 0, sizeof request);
    request.id = id128_of(id);
    request.funder_id = id128_of(FUNDER_ID(plan->funder));
    request.valid_from = plan->valid_from;
    request.valid_until = plan->valid_until;
    request.categories = plan->categories;
    request.expiry_policy = plan->policy;
    request.flags = plan->flags;
    request.next_plan_id = plan->next >= 0 ? id128_of(PLAN_ID((uint64_t)plan->next)) : id128_of(0);
    request.grant_limit_per_employee = plan->limit;
    return request;
}

/* Resubmits an existing plan, identical or with one field changed. */
static void op_plan_again(harness_t *h) {
    model_t *m = &h->model;
    uint32_t k = (uint32_t)rng_below(&h->rng, m->plans_count);
    welfare_plan_t request = plan_request(&m->plans[k], PLAN_ID(k));
    uint32_t expected = WELFARE_RESULT_EXISTS;
    if (rng_chance(&h->rng, 500)) {
        expected = WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
        switch (rng_below(&h->rng, 4)) {
        case 0: request.valid_until += NS_PER_S; break;
        case 1: request.categories ^= UINT64_C(1) << rng_range(&h->rng, 1, CATEGORIES);
                if (request.categories == 0) request.categories = UINT64_C(1) << 7;
                break;
        case 2: request.flags ^= WELFARE_PLAN_SPLIT_ALLOWED; break;
        default: request.grant_limit_per_employee += 1; break;
        }
    }
    before_write(h);
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_create_plan(h->ledger, &request, &result), "welfare_create_plan");
    if (!h->stopped) result_check(h, OP_CREATE_PLAN, result, expected, "again");
}

static void op_create_plan(harness_t *h) {
    model_t *m = &h->model;
    if (m->plans_count > 0 && rng_chance(&h->rng, 200)) {
        op_plan_again(h);
        return;
    }
    uint32_t f = pick_funder(h);
    int32_t evergreen = -1;
    uint32_t count = plans_of_funder(m, f, &evergreen);
    if (count >= PLANS_PER_FUNDER_MAX || m->plans_count >= PLANS_MAX) return;
    model_plan_t plan;
    memset(&plan, 0, sizeof plan);
    plan.funder = f;
    plan.next = -1;
    if (evergreen < 0) {
        /* The funder's carry-over target: every category, until 2035. */
        plan.valid_from = h->now;
        plan.valid_until = EVERGREEN_UNTIL_NS;
        plan.categories = ((UINT64_C(1) << (CATEGORIES + 1)) - 1) & ~UINT64_C(1);
        plan.policy = WELFARE_EXPIRY_FORFEIT;
        plan.flags = WELFARE_PLAN_SPLIT_ALLOWED;
    } else {
        uint64_t offset = rng_below(&h->rng, 50 * NS_PER_DAY);
        plan.valid_from = h->now - 20 * NS_PER_DAY + offset + rng_below(&h->rng, NS_PER_HOUR);
        plan.valid_until = plan.valid_from + rng_range(&h->rng, 10, 150) * NS_PER_DAY +
                           rng_below(&h->rng, NS_PER_DAY);
        plan.categories = random_categories(h);
        plan.policy = (uint32_t)rng_range(&h->rng, 1, 3);
        plan.flags = rng_chance(&h->rng, 500) ? WELFARE_PLAN_SPLIT_ALLOWED : 0;
        if (plan.policy == WELFARE_EXPIRY_CARRY_OVER) plan.next = evergreen;
        plan.limit = rng_chance(&h->rng, 400) ? rng_range(&h->rng, 5000, 30000) : 0;
    }
    uint32_t k = m->plans_count;
    welfare_plan_t request = plan_request(&plan, PLAN_ID(k));
    uint32_t expected = WELFARE_RESULT_OK;
    uint32_t fault = evergreen >= 0 ? (uint32_t)rng_below(&h->rng, 40) : 99;
    if (fault == 0) {
        request.valid_until = request.valid_from; /* empty window */
        expected = WELFARE_RESULT_INVALID_FIELD;
    } else if (fault == 1) {
        request.categories |= UINT64_C(1) << 30;
        expected = WELFARE_RESULT_CATEGORY_NOT_FOUND;
    } else if (fault == 2 && plan.policy == WELFARE_EXPIRY_CARRY_OVER) {
        request.next_plan_id = id128_of(PLAN_ID(PLANS_MAX + 3));
        expected = WELFARE_RESULT_NEXT_PLAN_INVALID;
    }
    if (!m->funders[f].exists && expected == WELFARE_RESULT_OK) {
        expected = WELFARE_RESULT_FUNDER_NOT_FOUND;
    }
    before_write(h);
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_create_plan(h->ledger, &request, &result), "welfare_create_plan");
    if (h->stopped || !result_check(h, OP_CREATE_PLAN, result, expected, "")) return;
    if (expected == WELFARE_RESULT_OK) {
        plan.exists = true;
        m->plans[k] = plan;
        m->plans_count++;
    }
}

static void op_set_cap_class(harness_t *h) {
    model_t *m = &h->model;
    uint32_t e = pick_employee(h);
    uint32_t year = model_fiscal_year(h->now) + (uint32_t)rng_below(&h->rng, 2);
    uint32_t expected = m->employees[e].exists ? WELFARE_RESULT_OK
                                               : WELFARE_RESULT_EMPLOYEE_NOT_FOUND;
    if (m->employees[e].exists && rng_chance(&h->rng, 60)) {
        year = 1999;
        expected = WELFARE_RESULT_INVALID_FIELD;
    }
    before_write(h);
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_set_cap_class(h->ledger, id128_of(EMPLOYEE_ID(e)), year,
                                     WELFARE_CAP_WITH_CHILDREN, &result),
            "welfare_set_cap_class");
    if (h->stopped || !result_check(h, OP_SET_CAP_CLASS, result, expected, "")) return;
    if (expected == WELFARE_RESULT_OK) {
        m->employees[e].cap_class[year - YEAR_FIRST] = WELFARE_CAP_WITH_CHILDREN;
    }
}

/* Raises one row of the cap table (caps never go down in a run). */
static void op_set_fringe_cap(harness_t *h) {
    model_t *m = &h->model;
    static const uint32_t years[] = {0, 2026, 2027, 2028};
    uint32_t year = years[rng_below(&h->rng, 4)];
    model_cap_row_t row = year == 0 ? m->cap_default : model_cap_row(m, year);
    welfare_fringe_cap_t cap = {year, row.standard + rng_below(&h->rng, 1500),
                                row.with_children + rng_below(&h->rng, 1500)};
    if (cap.with_children < cap.standard) cap.with_children = cap.standard;
    before_write(h);
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_set_fringe_cap(h->ledger, &cap, &result), "welfare_set_fringe_cap");
    if (h->stopped || !result_check(h, OP_SET_FRINGE_CAP, result, WELFARE_RESULT_OK, "")) return;
    model_cap_row_t *target = year == 0 ? &m->cap_default : &m->caps[year - YEAR_FIRST];
    target->exists = true;
    target->standard = cap.standard;
    target->with_children = cap.with_children;
}

/* ------------------------------------------------------------------------ */
/* Money operations                                                         */

static void op_fund(harness_t *h) {
    model_t *m = &h->model;
    uint32_t f = pick_funder(h);
    welfare_fund_t fund;
    memset(&fund, 0, sizeof fund);
    fund.id = id128_of(new_id(h));
    fund.funder_id = id128_of(FUNDER_ID(f));
    fund.amount = rng_range(&h->rng, 20000, 200000);
    uint32_t expected = m->funders[f].exists ? WELFARE_RESULT_OK : WELFARE_RESULT_FUNDER_NOT_FOUND;
    if (rng_chance(&h->rng, 30)) {
        fund.amount = 0;
        expected = WELFARE_RESULT_INVALID_FIELD;
    }
    before_write(h);
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_fund(h->ledger, &fund, &result), "welfare_fund");
    if (h->stopped || !result_check(h, OP_FUND, result, expected, "")) return;
    if (expected != WELFARE_RESULT_OK) {
        h->last_refused_id = fund.id.lo;
        return;
    }
    m->funders[f].funds += fund.amount;
    m->funders[f].funded += fund.amount;
    done_op_t done = {.kind = OP_FUND, .id = fund.id.lo, .subject = f, .amount = fund.amount};
    remember(h, &done);
}

static uint32_t grant_predict(harness_t *h, uint64_t grant_id, int32_t plan, uint32_t e,
                              uint64_t amount) {
    const model_t *m = &h->model;
    if (amount == 0) return WELFARE_RESULT_INVALID_FIELD;
    const done_grant_t *done = grants_find(h, grant_id, e);
    if (done != NULL) {
        return done->plan == plan && done->amount == amount
                   ? WELFARE_RESULT_EXISTS
                   : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
    }
    if (plan < 0) return WELFARE_RESULT_PLAN_NOT_FOUND;
    const model_plan_t *p = &m->plans[plan];
    const model_employee_t *me = &m->employees[e];
    if (!me->exists) return WELFARE_RESULT_EMPLOYEE_NOT_FOUND;
    if (me->funder != p->funder) return WELFARE_RESULT_EMPLOYEE_OF_ANOTHER_FUNDER;
    if (me->offboarded) return WELFARE_RESULT_POT_CLOSED;
    if (plan_ended(p, h->now)) return WELFARE_RESULT_POT_EXPIRED;
    const model_pot_t *pot = &m->pots[e][plan];
    if (!pot->exists && pots_count(m, e) >= WELFARE_POTS_PER_EMPLOYEE_MAX) {
        return WELFARE_RESULT_TOO_MANY_POTS;
    }
    if (p->limit != 0 && pot->granted + amount > p->limit) {
        return WELFARE_RESULT_GRANT_LIMIT_EXCEEDED;
    }
    if (m->funders[p->funder].funds < amount) return WELFARE_RESULT_INSUFFICIENT_FUNDS;
    return WELFARE_RESULT_OK;
}

static void op_grant(harness_t *h) {
    model_t *m = &h->model;
    int32_t plan = pick_plan(h);
    uint64_t grant_id = new_id(h);
    /* Now and then a grant id used before (same plan): idempotent per
     * employee. */
    if (h->grants_count > 0 && rng_chance(&h->rng, 120)) {
        const done_grant_t *old = &h->grants[rng_below(&h->rng, h->grants_count)];
        grant_id = old->grant_id;
        plan = rng_chance(&h->rng, 900) ? old->plan : plan;
    }
    uint32_t count = (uint32_t)rng_range(&h->rng, 1, GRANT_ENTRIES_MAX);
    welfare_grant_entry_t entries[GRANT_ENTRIES_MAX];
    uint32_t employees[GRANT_ENTRIES_MAX];
    for (uint32_t i = 0; i < count; i++) {
        uint32_t e;
        bool duplicate;
        do {
            e = pick_employee(h);
            /* Mostly employees of the plan's funder. */
            if (plan >= 0 && rng_chance(&h->rng, 700)) {
                for (int attempt = 0; attempt < 8; attempt++) {
                    uint32_t c = (uint32_t)rng_below(&h->rng, EMPLOYEES);
                    if (m->employees[c].exists && m->employees[c].funder == m->plans[plan].funder &&
                        (!m->employees[c].offboarded || rng_chance(&h->rng, 100))) {
                        e = c;
                        break;
                    }
                }
            }
            duplicate = false;
            for (uint32_t j = 0; j < i; j++) duplicate |= employees[j] == e;
        } while (duplicate);
        employees[i] = e;
        entries[i].employee_id = id128_of(EMPLOYEE_ID(e));
        entries[i].amount = rng_chance(&h->rng, 20) ? 0 : rng_range(&h->rng, 500, 15000);
        const done_grant_t *done = grants_find(h, grant_id, e);
        if (done != NULL && rng_chance(&h->rng, 700)) entries[i].amount = done->amount;
    }
    before_write(h);
    uint32_t results[GRANT_ENTRIES_MAX];
    for (uint32_t i = 0; i < count; i++) results[i] = UINT32_MAX;
    call_ok(h, welfare_grant(h->ledger, id128_of(grant_id), id128_of(plan_id_of(plan)), entries,
                             count, results),
            "welfare_grant");
    /* Entries run in order, each on the state the earlier ones left. */
    for (uint32_t i = 0; i < count && !h->stopped; i++) {
        uint32_t e = employees[i];
        uint64_t amount = entries[i].amount;
        uint32_t expected = grant_predict(h, grant_id, plan, e, amount);
        char detail[64];
        snprintf(detail, sizeof detail, "entry %u employee %u amount %" PRIu64, i, e, amount);
        if (!result_check(h, OP_GRANT, results[i], expected, detail)) return;
        if (expected != WELFARE_RESULT_OK) continue;
        model_pot_t *pot = &m->pots[e][plan];
        pot->exists = true;
        pot->balance += amount;
        pot->granted += amount;
        m->funders[m->plans[plan].funder].funds -= amount;
        m->funders[m->plans[plan].funder].granted += amount;
        done_grant_t done = {grant_id, e, plan, amount};
        grants_add(h, &done);
    }
}

static uint32_t purchase_predict(harness_t *h, const welfare_purchase_t *request, uint32_t e,
                                 uint32_t p, selection_t *selection) {
    const model_t *m = &h->model;
    if (request->amount == 0 || request->category == 0 ||
        request->category > WELFARE_CATEGORY_ID_MAX ||
        request->hold_timeout_s > WELFARE_HOLD_TIMEOUT_MAX_S) {
        return WELFARE_RESULT_INVALID_FIELD;
    }
    const model_employee_t *me = &m->employees[e];
    if (!me->exists) return WELFARE_RESULT_EMPLOYEE_NOT_FOUND;
    if (me->offboarded) return WELFARE_RESULT_POT_CLOSED;
    if (!m->providers[p].exists) return WELFARE_RESULT_PROVIDER_NOT_FOUND;
    uint32_t c = request->category;
    if (c > CATEGORIES) return WELFARE_RESULT_CATEGORY_NOT_FOUND;
    if (!(m->providers[p].categories & (UINT64_C(1) << c))) {
        return WELFARE_RESULT_CATEGORY_NOT_SOLD_BY_PROVIDER;
    }
    uint32_t eligible[PLANS_MAX];
    uint32_t count = 0;
    uint32_t result = model_eligible(m, e, c, h->now, eligible, &count);
    if (result != WELFARE_RESULT_OK) return result;
    if (category_basis[c] == WELFARE_BASIS_FRINGE) {
        uint32_t year = model_fiscal_year(h->now);
        if (me->fringe_used[year - YEAR_FIRST] + request->amount > model_cap(m, e, year)) {
            return WELFARE_RESULT_FRINGE_CAP_EXCEEDED;
        }
    }
    return model_select(m, e, eligible, count, request->amount, true, selection);
}

static void purchase_apply(harness_t *h, const welfare_purchase_t *request, uint32_t e,
                           uint32_t p, const selection_t *selection) {
    model_t *m = &h->model;
    model_purchase_t purchase;
    memset(&purchase, 0, sizeof purchase);
    purchase.id = request->id.lo;
    purchase.employee = e;
    purchase.provider = p;
    purchase.category = request->category;
    purchase.amount = request->amount;
    purchase.year = model_fiscal_year(h->now);
    purchase.parts_count = selection->count;
    bool hold = request->hold_timeout_s != 0;
    for (uint32_t i = 0; i < selection->count; i++) {
        model_part_t *part = &purchase.parts[i];
        part->plan = selection->plans[i];
        part->amount = selection->amounts[i];
        model_pot_t *pot = &m->pots[e][part->plan];
        if (hold) {
            pot->held += part->amount;
        } else {
            pot->balance -= part->amount;
            part->captured = part->amount;
        }
    }
    uint32_t c = request->category;
    uint32_t y = purchase.year - YEAR_FIRST;
    if (category_basis[c] == WELFARE_BASIS_FRINGE) fringe_add(m, e, purchase.year, (int64_t)request->amount);
    model_provider_t *provider = &m->providers[p];
    if (hold) {
        purchase.state = PURCHASE_HELD;
        purchase.expires_at = h->now + (uint64_t)request->hold_timeout_s * NS_PER_S;
        provider->held += request->amount;
    } else {
        model_funder_t *funder = &m->funders[m->employees[e].funder];
        purchase.state = PURCHASE_CAPTURED;
        purchase.captured = request->amount;
        purchase.fee = fee_of(request->amount, provider->fee_bps);
        provider->payable += request->amount - purchase.fee;
        provider->sales += request->amount;
        provider->fees += purchase.fee;
        m->fees += purchase.fee;
        funder->spent += request->amount;
        funder->spent_by_category[c] += request->amount;
        funder->fees += purchase.fee;
        m->employees[e].spent[y][category_basis[c]] += (int64_t)request->amount;
    }
    model_purchase_add(m, &purchase);
}

static void op_purchase(harness_t *h) {
    uint32_t e = pick_employee(h);
    uint32_t p = (uint32_t)rng_below(&h->rng, PROVIDERS);
    welfare_purchase_t request;
    memset(&request, 0, sizeof request);
    request.id = id128_of(new_id(h));
    request.employee_id = id128_of(EMPLOYEE_ID(e));
    request.provider_id = id128_of(PROVIDER_ID(p));
    request.category = (uint32_t)rng_range(&h->rng, 1, CATEGORIES);
    if (rng_chance(&h->rng, 30)) request.category = CATEGORIES + 1; /* not in the catalog */
    if (rng_chance(&h->rng, 10)) request.category = 0;
    request.amount = rng_chance(&h->rng, 850) ? rng_range(&h->rng, 1, 3000)
                                              : rng_range(&h->rng, 3000, 25000);
    if (rng_chance(&h->rng, 10)) request.amount = 0;
    if (rng_chance(&h->rng, 300)) {
        request.hold_timeout_s = (uint32_t)rng_range(&h->rng, 600, 20 * 86400);
        if (rng_chance(&h->rng, 10)) request.hold_timeout_s = WELFARE_HOLD_TIMEOUT_MAX_S + 1;
    }
    request.reference = id128_of(rng_below(&h->rng, 1000));
    /* Mostly a provider that sells the category. */
    for (int attempt = 0; attempt < 8 && rng_chance(&h->rng, 900); attempt++) {
        const model_provider_t *candidate = &h->model.providers[p];
        if (candidate->exists && request.category <= CATEGORIES &&
            (candidate->categories & (UINT64_C(1) << request.category))) {
            break;
        }
        p = (uint32_t)rng_below(&h->rng, PROVIDERS);
        request.provider_id = id128_of(PROVIDER_ID(p));
    }
    before_write(h);
    selection_t selection;
    memset(&selection, 0, sizeof selection);
    uint32_t expected = purchase_predict(h, &request, e, p, &selection);
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_purchase(h->ledger, &request, &result), "welfare_purchase");
    char detail[96];
    snprintf(detail, sizeof detail, "employee %u provider %u category %u amount %" PRIu64 "%s", e,
             p, request.category, request.amount, request.hold_timeout_s ? " hold" : "");
    if (h->stopped || !result_check(h, OP_PURCHASE, result, expected, detail)) return;
    if (expected != WELFARE_RESULT_OK) {
        h->last_refused_id = request.id.lo;
        return;
    }
    purchase_apply(h, &request, e, p, &selection);
    if (selection.count > 1) h->splits++;
    done_op_t done = {.kind = OP_PURCHASE, .id = request.id.lo, .purchase = request};
    remember(h, &done);
}

/* Posts `amount` (0: all) of a hold, earliest parts first; the rest is
 * released into its pots. */
static void capture_apply(harness_t *h, model_purchase_t *purchase, uint64_t amount) {
    model_t *m = &h->model;
    uint64_t take = amount == 0 ? purchase->amount : amount;
    uint64_t remaining = take;
    uint32_t e = purchase->employee;
    model_provider_t *provider = &m->providers[purchase->provider];
    for (uint32_t i = 0; i < purchase->parts_count; i++) {
        model_part_t *part = &purchase->parts[i];
        model_pot_t *pot = &m->pots[e][part->plan];
        part->captured = part->amount < remaining ? part->amount : remaining;
        remaining -= part->captured;
        pot->held -= part->amount;
        pot->balance -= part->captured;
    }
    for (uint32_t i = 0; i < purchase->parts_count; i++) {
        model_part_t *part = &purchase->parts[i];
        model_pot_returned(m, e, part->plan, part->amount - part->captured, h->now);
    }
    uint32_t c = purchase->category;
    model_funder_t *funder = &m->funders[m->employees[e].funder];
    purchase->state = PURCHASE_CAPTURED;
    purchase->captured = take;
    purchase->fee = fee_of(take, provider->fee_bps);
    provider->held -= purchase->amount;
    provider->payable += take - purchase->fee;
    provider->sales += take;
    provider->fees += purchase->fee;
    m->fees += purchase->fee;
    funder->spent += take;
    funder->spent_by_category[c] += take;
    funder->fees += purchase->fee;
    m->employees[e].spent[purchase->year - YEAR_FIRST][category_basis[c]] += (int64_t)take;
    if (category_basis[c] == WELFARE_BASIS_FRINGE) {
        fringe_add(m, e, purchase->year, -(int64_t)(purchase->amount - take));
    }
}

static void op_capture(harness_t *h) {
    model_purchase_t *purchase = pick_purchase(h, PURCHASE_HELD, 800);
    uint64_t purchase_id = purchase != NULL && rng_chance(&h->rng, 960) ? purchase->id : 999;
    uint64_t amount = 0;
    if (purchase != NULL && rng_chance(&h->rng, 600)) {
        amount = rng_range(&h->rng, 1, purchase->amount + 50);
    }
    uint64_t id = new_id(h);
    before_write(h);
    /* The expiry pass may have moved purchases: look it up again. */
    purchase = model_purchase_find(&h->model, purchase_id);
    uint32_t expected = WELFARE_RESULT_OK;
    if (purchase == NULL) {
        expected = WELFARE_RESULT_PURCHASE_NOT_FOUND;
    } else if (purchase->state != PURCHASE_HELD) {
        expected = WELFARE_RESULT_HOLD_NOT_PENDING;
    } else if (amount > purchase->amount) {
        expected = WELFARE_RESULT_CAPTURE_EXCEEDS_HOLD;
    }
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_capture(h->ledger, id128_of(id), id128_of(purchase_id), amount, &result),
            "welfare_capture");
    if (h->stopped || !result_check(h, OP_CAPTURE, result, expected, "")) return;
    if (expected != WELFARE_RESULT_OK) {
        h->last_refused_id = id;
        return;
    }
    capture_apply(h, purchase, amount);
    done_op_t done = {.kind = OP_CAPTURE, .id = id, .subject = purchase_id, .amount = amount};
    remember(h, &done);
}

static void op_void(harness_t *h) {
    model_purchase_t *purchase = pick_purchase(h, PURCHASE_HELD, 800);
    uint64_t purchase_id = purchase != NULL && rng_chance(&h->rng, 960) ? purchase->id : 999;
    uint64_t id = new_id(h);
    before_write(h);
    purchase = model_purchase_find(&h->model, purchase_id);
    uint32_t expected = WELFARE_RESULT_OK;
    if (purchase == NULL) {
        expected = WELFARE_RESULT_PURCHASE_NOT_FOUND;
    } else if (purchase->state != PURCHASE_HELD) {
        expected = WELFARE_RESULT_HOLD_NOT_PENDING;
    }
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_void(h->ledger, id128_of(id), id128_of(purchase_id), &result),
            "welfare_void");
    if (h->stopped || !result_check(h, OP_VOID, result, expected, "")) return;
    if (expected != WELFARE_RESULT_OK) {
        h->last_refused_id = id;
        return;
    }
    model_hold_release(&h->model, purchase, h->now);
    done_op_t done = {.kind = OP_VOID, .id = id, .subject = purchase_id};
    remember(h, &done);
}

static void refund_apply(harness_t *h, model_purchase_t *purchase, uint64_t amount,
                         uint64_t fee_back) {
    model_t *m = &h->model;
    uint32_t e = purchase->employee;
    model_provider_t *provider = &m->providers[purchase->provider];
    model_funder_t *funder = &m->funders[m->employees[e].funder];
    m->fees -= fee_back;
    provider->payable += fee_back;
    provider->fees_returned += fee_back;
    funder->fees_returned += fee_back;
    purchase->fee_refunded += fee_back;
    uint64_t remaining = amount;
    for (uint32_t i = purchase->parts_count; i > 0 && remaining > 0; i--) {
        model_part_t *part = &purchase->parts[i - 1];
        uint64_t room = part->captured - part->refunded;
        uint64_t give = room < remaining ? room : remaining;
        if (give == 0) continue;
        m->pots[e][part->plan].balance += give;
        provider->payable -= give;
        part->refunded += give;
        remaining -= give;
        model_pot_returned(m, e, part->plan, give, h->now);
    }
    TEST_REQUIRE(remaining == 0);
    uint32_t c = purchase->category;
    purchase->refunded += amount;
    provider->refunds += amount;
    funder->refunded += amount;
    m->employees[e].spent[purchase->year - YEAR_FIRST][category_basis[c]] -= (int64_t)amount;
    if (category_basis[c] == WELFARE_BASIS_FRINGE) {
        fringe_add(m, e, purchase->year, -(int64_t)amount);
    }
}

static void op_refund(harness_t *h) {
    model_purchase_t *purchase = pick_purchase(h, PURCHASE_CAPTURED, 850);
    uint64_t purchase_id = purchase != NULL && rng_chance(&h->rng, 970) ? purchase->id : 999;
    uint64_t amount = 1;
    if (purchase != NULL) {
        uint64_t left = purchase->captured - purchase->refunded;
        amount = rng_chance(&h->rng, 400) && left > 0 ? left : rng_range(&h->rng, 1, left + 50);
    }
    if (rng_chance(&h->rng, 15)) amount = 0;
    uint64_t id = new_id(h);
    before_write(h);
    purchase = model_purchase_find(&h->model, purchase_id);
    uint32_t expected = WELFARE_RESULT_OK;
    uint64_t fee_back = 0;
    if (amount == 0) {
        expected = WELFARE_RESULT_INVALID_FIELD;
    } else if (purchase == NULL) {
        expected = WELFARE_RESULT_PURCHASE_NOT_FOUND;
    } else if (purchase->state != PURCHASE_CAPTURED) {
        expected = WELFARE_RESULT_PURCHASE_NOT_CAPTURED;
    } else if (amount > purchase->captured - purchase->refunded) {
        expected = WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE;
    } else {
        fee_back = mul_div(purchase->fee, purchase->refunded + amount, purchase->captured) -
                   purchase->fee_refunded;
        if (h->model.providers[purchase->provider].payable + fee_back < amount) {
            expected = WELFARE_RESULT_PAYABLE_INSUFFICIENT;
        }
    }
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_refund(h->ledger, id128_of(id), id128_of(purchase_id), amount, &result),
            "welfare_refund");
    if (h->stopped || !result_check(h, OP_REFUND, result, expected, "")) return;
    if (expected != WELFARE_RESULT_OK) {
        h->last_refused_id = id;
        return;
    }
    refund_apply(h, purchase, amount, fee_back);
    done_op_t done = {.kind = OP_REFUND, .id = id, .subject = purchase_id, .amount = amount};
    remember(h, &done);
}

static void receipt_hash(uint32_t receipt, uint8_t hash[32]) {
    memset(hash, 0, 32);
    if (receipt == 0) return;
    uint64_t x = receipt;
    for (int i = 0; i < 4; i++) {
        uint64_t word = splitmix64(&x);
        memcpy(hash + 8 * i, &word, 8);
    }
}

/* A receipt date must be a real calendar day from 2000 on, and not after
 * today in Italian time (UTC+1 is exact at every year end; a day off in
 * summer time only matters within an hour of midnight, which the model's
 * clock never produces at the date boundary it tests). */
static bool model_receipt_date_ok(uint32_t date, uint64_t now_ns) {
    uint32_t year = date / 10000, month = date / 100 % 100, day = date % 100;
    if (year < 2000 || year > 2199 || month < 1 || month > 12 || day < 1) return false;
    static const uint32_t month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days[month - 1] + (month == 2 && leap ? 1u : 0u)) return false;
    time_t seconds = (time_t)(now_ns / 1000000000ull) + 3600;
    struct tm today;
    gmtime_r(&seconds, &today);
    uint32_t today_date = (uint32_t)(today.tm_year + 1900) * 10000 +
                          (uint32_t)(today.tm_mon + 1) * 100 + (uint32_t)today.tm_mday;
    return date <= today_date;
}

static uint32_t reimburse_predict(harness_t *h, const welfare_reimbursement_t *r, uint32_t e,
                                  uint32_t receipt, uint32_t *plan_out) {
    const model_t *m = &h->model;
    if (r->amount == 0 || r->category == 0 || r->category > WELFARE_CATEGORY_ID_MAX ||
        !model_receipt_date_ok(r->receipt_date, h->now)) {
        return WELFARE_RESULT_INVALID_FIELD;
    }
    const model_employee_t *me = &m->employees[e];
    if (!me->exists) return WELFARE_RESULT_EMPLOYEE_NOT_FOUND;
    if (me->offboarded) return WELFARE_RESULT_POT_CLOSED;
    uint32_t c = r->category;
    if (c > CATEGORIES) return WELFARE_RESULT_CATEGORY_NOT_FOUND;
    if (!category_reimbursable[c]) return WELFARE_RESULT_CATEGORY_NOT_REIMBURSABLE;
    if (receipt == 0) return WELFARE_RESULT_RECEIPT_REQUIRED;
    if (r->amount > r->receipt_amount) return WELFARE_RESULT_AMOUNT_EXCEEDS_RECEIPT;
    if (m->receipt_used[receipt]) return WELFARE_RESULT_RECEIPT_ALREADY_REIMBURSED;
    uint32_t eligible[PLANS_MAX];
    uint32_t count = 0;
    uint32_t result = model_eligible(m, e, c, h->now, eligible, &count);
    if (result != WELFARE_RESULT_OK) return result;
    uint32_t year = r->receipt_date / 10000;
    if (category_basis[c] == WELFARE_BASIS_FRINGE &&
        me->fringe_used[year - YEAR_FIRST] + r->amount > model_cap(m, e, year)) {
        return WELFARE_RESULT_FRINGE_CAP_EXCEEDED;
    }
    selection_t selection;
    result = model_select(m, e, eligible, count, r->amount, false, &selection);
    *plan_out = selection.plans[0];
    return result;
}

static void op_reimburse(harness_t *h) {
    model_t *m = &h->model;
    uint32_t e = pick_employee(h);
    uint32_t year_now = model_fiscal_year(h->now);
    uint32_t year = rng_chance(&h->rng, 800) ? year_now : year_now - 1;
    welfare_reimbursement_t r;
    memset(&r, 0, sizeof r);
    r.id = id128_of(new_id(h));
    r.employee_id = id128_of(EMPLOYEE_ID(e));
    r.category = (uint32_t)rng_range(&h->rng, 1, CATEGORIES);
    if (rng_chance(&h->rng, 20)) r.category = CATEGORIES + 1;
    r.receipt_date = year * 10000 + (uint32_t)rng_range(&h->rng, 1, 12) * 100 +
                     (uint32_t)rng_range(&h->rng, 1, 28);
    if (rng_chance(&h->rng, 15)) r.receipt_date = year * 10000 + 1300 + 1; /* month 13 */
    r.amount = rng_range(&h->rng, 1, 2500);
    r.receipt_amount = r.amount + rng_below(&h->rng, 300);
    if (rng_chance(&h->rng, 40) && r.amount > 1) r.receipt_amount = r.amount - 1;
    uint32_t receipt = h->receipts_next < RECEIPTS - 1 ? h->receipts_next + 1 : 0;
    if (receipt != 0 && h->receipts_next > 0 && rng_chance(&h->rng, 100)) {
        receipt = (uint32_t)rng_range(&h->rng, 1, h->receipts_next); /* maybe used */
    }
    if (rng_chance(&h->rng, 25)) receipt = 0;
    receipt_hash(receipt, r.receipt_hash);
    before_write(h);
    uint32_t plan = 0;
    uint32_t expected = reimburse_predict(h, &r, e, receipt, &plan);
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_reimburse(h->ledger, &r, &result), "welfare_reimburse");
    char detail[96];
    snprintf(detail, sizeof detail, "employee %u category %u amount %" PRIu64 " receipt %u", e,
             r.category, r.amount, receipt);
    if (h->stopped || !result_check(h, OP_REIMBURSE, result, expected, detail)) return;
    if (expected != WELFARE_RESULT_OK) {
        h->last_refused_id = r.id.lo;
        return;
    }
    if (receipt == h->receipts_next + 1) h->receipts_next++;
    uint32_t ryear = r.receipt_date / 10000;
    uint32_t c = r.category;
    m->pots[e][plan].balance -= r.amount;
    m->funders[m->employees[e].funder].reimbursed += r.amount;
    m->employees[e].reimbursed[ryear - YEAR_FIRST][category_basis[c]] += r.amount;
    if (category_basis[c] == WELFARE_BASIS_FRINGE) fringe_add(m, e, ryear, (int64_t)r.amount);
    m->receipt_used[receipt] = true;
    done_op_t done = {.kind = OP_REIMBURSE, .id = r.id.lo, .reimbursement = r};
    remember(h, &done);
}

static bool report_check(harness_t *h, uint32_t op, const welfare_sweep_report_t *actual,
                         const model_report_t *expected) {
    if (actual->pots_swept == expected->pots_swept &&
        actual->holds_voided == expected->holds_voided &&
        actual->expired_back == expected->expired_back &&
        actual->forfeited == expected->forfeited &&
        actual->carried_over == expected->carried_over) {
        return true;
    }
    mismatch(h, "%s report: engine swept %u voided %u back %" PRIu64 " forfeited %" PRIu64
                " carried %" PRIu64 "; model %u %u %" PRIu64 " %" PRIu64 " %" PRIu64,
             op_names[op], actual->pots_swept, actual->holds_voided, actual->expired_back,
             actual->forfeited, actual->carried_over, expected->pots_swept,
             expected->holds_voided, expected->expired_back, expected->forfeited,
             expected->carried_over);
    return false;
}

static void op_sweep(harness_t *h) {
    model_t *m = &h->model;
    int32_t plan = pick_plan(h);
    uint64_t id = new_id(h);
    before_write(h);
    uint32_t expected = WELFARE_RESULT_OK;
    if (plan < 0) {
        expected = WELFARE_RESULT_PLAN_NOT_FOUND;
    } else if (!plan_ended(&m->plans[plan], h->now)) {
        expected = WELFARE_RESULT_PLAN_NOT_ENDED;
    }
    welfare_sweep_report_t report;
    memset(&report, 0xAB, sizeof report);
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_sweep(h->ledger, id128_of(id), id128_of(plan_id_of(plan)), &result, &report),
            "welfare_sweep");
    if (h->stopped || !result_check(h, OP_SWEEP, result, expected, "")) return;
    if (expected != WELFARE_RESULT_OK) {
        h->last_refused_id = id;
        return;
    }
    model_report_t model_report;
    memset(&model_report, 0, sizeof model_report);
    for (uint32_t e = 0; e < EMPLOYEES; e++) {
        model_pot_t *pot = &m->pots[e][plan];
        if (!pot->exists || pot->closed) continue;
        uint64_t available = pot_available(pot);
        if (available == 0) continue;
        model_settle(m, e, (uint32_t)plan, available, false, &model_report);
        model_report.pots_swept++;
    }
    report_check(h, OP_SWEEP, &report, &model_report);
    done_op_t done = {.kind = OP_SWEEP, .id = id, .subject = (uint64_t)plan};
    remember(h, &done);
}

static void op_offboard(harness_t *h) {
    model_t *m = &h->model;
    uint32_t offboarded = 0;
    for (uint32_t e = 0; e < EMPLOYEES; e++) offboarded += m->employees[e].offboarded;
    uint32_t e = (uint32_t)rng_below(&h->rng, EMPLOYEES);
    if (offboarded >= OFFBOARDED_MAX && !m->employees[e].offboarded) return;
    uint64_t id = new_id(h);
    before_write(h);
    uint32_t expected = WELFARE_RESULT_OK;
    if (!m->employees[e].exists) {
        expected = WELFARE_RESULT_EMPLOYEE_NOT_FOUND;
    } else if (m->employees[e].offboarded) {
        expected = WELFARE_RESULT_EMPLOYEE_OFFBOARDED;
    }
    welfare_sweep_report_t report;
    memset(&report, 0xAB, sizeof report);
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_offboard(h->ledger, id128_of(id), id128_of(EMPLOYEE_ID(e)), &result, &report),
            "welfare_offboard");
    if (h->stopped || !result_check(h, OP_OFFBOARD, result, expected, "")) return;
    if (expected != WELFARE_RESULT_OK) {
        h->last_refused_id = id;
        return;
    }
    model_report_t model_report;
    memset(&model_report, 0, sizeof model_report);
    /* First the holds (their credit follows the policy of an ended plan),
     * then every pot, carry-over sent back to the funder. */
    for (uint32_t i = 0; i < m->purchases_count; i++) {
        model_purchase_t *purchase = &m->purchases[i];
        if (purchase->employee != e || purchase->state != PURCHASE_HELD) continue;
        model_hold_release(m, purchase, h->now);
        model_report.holds_voided++;
    }
    for (uint32_t k = 0; k < m->plans_count; k++) {
        model_pot_t *pot = &m->pots[e][k];
        if (!pot->exists) continue;
        uint64_t available = pot_available(pot);
        if (available > 0) {
            model_settle(m, e, k, available, true, &model_report);
            model_report.pots_swept++;
        }
        pot->closed = true;
    }
    m->employees[e].offboarded = true;
    report_check(h, OP_OFFBOARD, &report, &model_report);
    done_op_t done = {.kind = OP_OFFBOARD, .id = id, .subject = e};
    remember(h, &done);
}

static void op_payout(harness_t *h) {
    model_t *m = &h->model;
    uint32_t p = (uint32_t)rng_below(&h->rng, PROVIDERS);
    uint64_t amount = 0;
    if (rng_chance(&h->rng, 500)) amount = rng_range(&h->rng, 1, m->providers[p].payable + 100);
    uint64_t reference = rng_range(&h->rng, 1, 1000000);
    uint64_t id = new_id(h);
    before_write(h);
    uint32_t expected = WELFARE_RESULT_OK;
    if (!m->providers[p].exists) {
        expected = WELFARE_RESULT_PROVIDER_NOT_FOUND;
    } else if (amount > m->providers[p].payable) {
        expected = WELFARE_RESULT_PAYABLE_INSUFFICIENT;
    }
    uint64_t paid = UINT64_MAX;
    uint32_t result = UINT32_MAX;
    call_ok(h, welfare_payout(h->ledger, id128_of(id), id128_of(PROVIDER_ID(p)), amount,
                              id128_of(reference), &result, &paid),
            "welfare_payout");
    if (h->stopped || !result_check(h, OP_PAYOUT, result, expected, "")) return;
    if (expected != WELFARE_RESULT_OK) {
        h->last_refused_id = id;
        return;
    }
    uint64_t expected_paid = amount == 0 ? m->providers[p].payable : amount;
    if (paid != expected_paid) {
        mismatch(h, "payout paid %" PRIu64 ", model %" PRIu64, paid, expected_paid);
        return;
    }
    m->providers[p].payable -= expected_paid;
    m->providers[p].payouts += expected_paid;
    done_op_t done = {.kind = OP_PAYOUT, .id = id, .subject = p, .amount = amount,
                      .reference = reference};
    remember(h, &done);
}

static void op_expire(harness_t *h) {
    uint32_t expected = model_expire_due(&h->model, h->now);
    h->holds_expired += expected;
    uint32_t count = UINT32_MAX;
    call_ok(h, welfare_expire_holds(h->ledger, &count), "welfare_expire_holds");
    if (!h->stopped && count != expected) {
        mismatch(h, "expire_holds voided %u, model %u", count, expected);
    }
    if (!h->stopped) h->results_seen[OP_EXPIRE][WELFARE_RESULT_OK]++;
}

/* Submits a successful operation again: identical (EXISTS, nothing
 * changes) or with one field changed (EXISTS_WITH_DIFFERENT_FIELDS). */
static void op_resubmit(harness_t *h) {
    if (h->done_count == 0) return;
    done_op_t op = h->done[rng_below(&h->rng, h->done_count)];
    bool change = rng_chance(&h->rng, 400);
    uint32_t expected = change ? WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS
                               : WELFARE_RESULT_EXISTS;
    uint64_t delta = change ? 1 : 0;
    before_write(h);
    uint32_t result = UINT32_MAX;
    int rc = 0;
    ledger_u128_t id = id128_of(op.id);
    welfare_sweep_report_t report;
    switch (op.kind) {
    case OP_FUND: {
        welfare_fund_t fund = {id, id128_of(FUNDER_ID(op.subject)), op.amount + delta};
        rc = welfare_fund(h->ledger, &fund, &result);
        break;
    }
    case OP_PURCHASE: {
        welfare_purchase_t purchase = op.purchase;
        purchase.amount += delta;
        rc = welfare_purchase(h->ledger, &purchase, &result);
        break;
    }
    case OP_CAPTURE:
        rc = welfare_capture(h->ledger, id, id128_of(op.subject), op.amount + delta, &result);
        break;
    case OP_VOID:
        rc = welfare_void(h->ledger, id, id128_of(op.subject + delta), &result);
        break;
    case OP_REFUND:
        rc = welfare_refund(h->ledger, id, id128_of(op.subject), op.amount + delta, &result);
        break;
    case OP_REIMBURSE: {
        welfare_reimbursement_t r = op.reimbursement;
        r.receipt_amount += delta;
        rc = welfare_reimburse(h->ledger, &r, &result);
        break;
    }
    case OP_SWEEP:
        rc = welfare_sweep(h->ledger, id, id128_of(plan_id_of((int32_t)op.subject) + delta),
                           &result, &report);
        break;
    case OP_OFFBOARD:
        rc = welfare_offboard(h->ledger, id, id128_of(EMPLOYEE_ID(op.subject) + delta), &result,
                              &report);
        break;
    case OP_PAYOUT: {
        uint64_t paid = 0;
        rc = welfare_payout(h->ledger, id, id128_of(PROVIDER_ID(op.subject)), op.amount,
                            id128_of(op.reference + delta), &result, &paid);
        break;
    }
    default:
        return;
    }
    call_ok(h, rc, "resubmit");
    char detail[32];
    snprintf(detail, sizeof detail, "%s id %" PRIu64, op_names[op.kind], op.id);
    if (!h->stopped) result_check(h, OP_RESUBMIT, result, expected, detail);
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */

/* Moves the clock forward, then away from any boundary the engine and the
 * model compare the clock with. */
static void clock_advance(harness_t *h) {
    uint64_t delta;
    uint64_t pick = rng_below(&h->rng, 100);
    if (pick < 55) {
        delta = rng_range(&h->rng, NS_PER_S, NS_PER_HOUR);
    } else if (pick < 93) {
        delta = rng_range(&h->rng, NS_PER_HOUR, 12 * NS_PER_HOUR);
    } else {
        delta = rng_range(&h->rng, NS_PER_DAY, 6 * NS_PER_DAY);
    }
    h->now += delta / 1000 * h->clock_scale_per_mille;
    const model_t *m = &h->model;
    for (int pass = 0; pass < 64; pass++) {
        bool moved = false;
        uint64_t year_start = fiscal_year_start(model_fiscal_year(h->now));
        uint64_t next_year_start = fiscal_year_start(model_fiscal_year(h->now) + 1);
        uint64_t boundaries_fixed[2] = {year_start, next_year_start};
        for (int i = 0; i < 2 && !moved; i++) {
            uint64_t b = boundaries_fixed[i];
            if (h->now + BOUNDARY_MARGIN_NS > b && h->now < b + BOUNDARY_MARGIN_NS) {
                h->now = b + BOUNDARY_MARGIN_NS;
                moved = true;
            }
        }
        for (uint32_t k = 0; k < m->plans_count && !moved; k++) {
            const uint64_t b[2] = {m->plans[k].valid_from, m->plans[k].valid_until};
            for (int i = 0; i < 2 && !moved; i++) {
                if (h->now + BOUNDARY_MARGIN_NS > b[i] && h->now < b[i] + BOUNDARY_MARGIN_NS) {
                    h->now = b[i] + BOUNDARY_MARGIN_NS;
                    moved = true;
                }
            }
        }
        for (uint32_t i = 0; i < m->purchases_count && !moved; i++) {
            const model_purchase_t *p = &m->purchases[i];
            if (p->state != PURCHASE_HELD) continue;
            if (h->now + BOUNDARY_MARGIN_NS > p->expires_at &&
                h->now < p->expires_at + BOUNDARY_MARGIN_NS) {
                h->now = p->expires_at + BOUNDARY_MARGIN_NS;
                moved = true;
            }
        }
        if (!moved) return;
    }
}

static void run_operation(harness_t *h) {
    static const uint32_t weights[OP_ALL] = {
        [OP_FUND] = 40, [OP_GRANT] = 90, [OP_PURCHASE] = 220, [OP_CAPTURE] = 50,
        [OP_VOID] = 25, [OP_REFUND] = 60, [OP_REIMBURSE] = 60, [OP_SWEEP] = 30,
        [OP_OFFBOARD] = 5, [OP_PAYOUT] = 30, [OP_CREATE_FUNDER] = 6,
        [OP_CREATE_PROVIDER] = 8, [OP_CREATE_EMPLOYEE] = 20, [OP_CREATE_PLAN] = 16,
        [OP_SET_CAP_CLASS] = 8, [OP_SET_FRINGE_CAP] = 3, [OP_EXPIRE] = 15,
        [OP_RESUBMIT] = 40,
    };
    uint64_t total = 0;
    for (uint32_t i = 0; i < OP_ALL; i++) total += weights[i];
    uint64_t pick = rng_below(&h->rng, total);
    uint32_t op = 0;
    while (pick >= weights[op]) pick -= weights[op++];
    switch (op) {
    case OP_FUND: op_fund(h); break;
    case OP_GRANT: op_grant(h); break;
    case OP_PURCHASE: op_purchase(h); break;
    case OP_CAPTURE: op_capture(h); break;
    case OP_VOID: op_void(h); break;
    case OP_REFUND: op_refund(h); break;
    case OP_REIMBURSE: op_reimburse(h); break;
    case OP_SWEEP: op_sweep(h); break;
    case OP_OFFBOARD: op_offboard(h); break;
    case OP_PAYOUT: op_payout(h); break;
    case OP_CREATE_FUNDER: op_create_funder(h); break;
    case OP_CREATE_PROVIDER: op_create_provider(h); break;
    case OP_CREATE_EMPLOYEE: op_create_employee(h); break;
    case OP_CREATE_PLAN: op_create_plan(h); break;
    case OP_SET_CAP_CLASS: op_set_cap_class(h); break;
    case OP_SET_FRINGE_CAP: op_set_fringe_cap(h); break;
    case OP_EXPIRE: op_expire(h); break;
    default: op_resubmit(h); break;
    }
}

static void harness_reopen(harness_t *h) {
    int rc = ledger_close(h->ledger);
    h->ledger = NULL;
    call_ok(h, rc, "ledger_close");
    harness_open(h);
    h->reopens++;
}

/* A scripted start: the small cap table, two funders with money and
 * evergreen plans, three providers, eight employees; the random stream
 * creates the rest. Every call goes through the same comparisons. */
static void harness_setup(harness_t *h) {
    model_t *m = &h->model;
    /* The default table (what welfare_platform_ensure creates), then ours. */
    m->cap_default = (model_cap_row_t){true, 25823, 25823};
    for (uint32_t year = 2024; year <= 2027; year++) {
        m->caps[year - YEAR_FIRST] = (model_cap_row_t){true, 100000, 200000};
    }
    const welfare_fringe_cap_t table[] = {
        {0, 3000, 5000}, {2025, 4000, 6000}, {2026, 6000, 9000}, {2027, 5000, 7000}};
    for (uint32_t i = 0; i < 4 && !h->stopped; i++) {
        uint32_t result = UINT32_MAX;
        call_ok(h, welfare_set_fringe_cap(h->ledger, &table[i], &result), "set_fringe_cap");
        result_check(h, OP_SET_FRINGE_CAP, result, WELFARE_RESULT_OK, "setup");
        model_cap_row_t *row = table[i].year == 0 ? &m->cap_default
                                                  : &m->caps[table[i].year - YEAR_FIRST];
        *row = (model_cap_row_t){true, table[i].standard, table[i].with_children};
    }
    for (uint32_t f = 0; f < 2 && !h->stopped; f++) {
        while (!m->funders[f].exists && !h->stopped) op_create_funder(h);
    }
    for (uint32_t p = 0; p < 3 && !h->stopped; p++) {
        while (!m->providers[p].exists && !h->stopped) op_create_provider(h);
    }
    for (uint32_t e = 0; e < 8 && !h->stopped; e++) {
        while (!m->employees[e].exists && !h->stopped) op_create_employee(h);
    }
    for (int i = 0; i < 12 && !h->stopped; i++) op_create_plan(h);
    for (int i = 0; i < 6 && !h->stopped; i++) op_fund(h);
    if (!h->stopped) check_money(h);
}

static void harness_summary(const harness_t *h) {
    printf("# splits=%" PRIu64 " carried over=%" PRIu64 "+%" PRIu64 "+%" PRIu64 " clock at %" PRIu64
           " s\n", h->splits, h->model.funders[0].carried_over, h->model.funders[1].carried_over,
           h->model.funders[2].carried_over, h->now / NS_PER_S);
    printf("# seed=%" PRIu64 " steps=%" PRIu64 " purchases=%u plans=%u groups committed=%" PRIu64
           " aborted=%" PRIu64 " reopens=%" PRIu64 " holds expired=%" PRIu64
           " divergences=%u\n",
           h->seed, h->step, h->model.purchases_count, h->model.plans_count,
           h->groups_committed, h->groups_aborted, h->reopens, h->holds_expired,
           h->soft_mismatches);
    for (uint32_t op = 0; op < OP_ALL; op++) {
        char line[1024];
        int at = snprintf(line, sizeof line, "#   %-16s", op_names[op]);
        for (uint32_t r = 0; r < WELFARE_RESULT_CODE_COUNT; r++) {
            if (h->results_seen[op][r] == 0 || at >= (int)sizeof line) continue;
            at += snprintf(line + at, sizeof line - (size_t)at, " %s=%" PRIu64,
                           welfare_result_name(r), h->results_seen[op][r]);
        }
        printf("%s\n", line);
    }
    fflush(stdout);
}

static void case_random(void) {
    harness_t *h = calloc(1, sizeof *h);
    TEST_REQUIRE(h != NULL);
    h->seed = base_seed();
    rng_seed(&h->rng, h->seed);
    h->now = CLOCK_START_NS + rng_below(&h->rng, NS_PER_HOUR);
    h->next_id = OPERATION_ID_FIRST;
    const char *base = getenv("BORSELLINO_TEST_TMP");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    make_directories(base);
    snprintf(h->directory, sizeof h->directory, "%s/test_welfare_model.XXXXXX", base);
    TEST_REQUIRE(mkdtemp(h->directory) != NULL);
    printf("# seed=%" PRIu64 " dir=%s\n", h->seed, h->directory);
    fflush(stdout);
    harness_open(h);
    harness_setup(h);
    uint64_t ops = test_ops != 0 ? test_ops : OPS_DEFAULT;
    /* About RUN_SPAN_NS of clock in all (the mean step is ~8.6 hours), and
     * about 120 statement samples, whatever the length. */
    h->clock_scale_per_mille = RUN_SPAN_NS / ops / (UINT64_C(31) * NS_PER_S);
    if (h->clock_scale_per_mille == 0) h->clock_scale_per_mille = 1;
    h->sample_steps = ops / 120 > SAMPLE_STEPS ? ops / 120 : SAMPLE_STEPS;
    h->steps_until_reopen = rng_range(&h->rng, REOPEN_STEPS_MIN, REOPEN_STEPS_MAX);
    uint32_t group_left = 0;
    while (h->step < ops && !h->stopped) {
        if (group_left == 0 && rng_chance(&h->rng, 60)) {
            call_ok(h, ledger_write_begin(h->ledger), "ledger_write_begin");
            model_copy(&h->saved, &h->model);
            h->in_group = true;
            group_left = (uint32_t)rng_range(&h->rng, 1, GROUP_OPS_MAX);
            h->group_aborts = rng_chance(&h->rng, 300);
        }
        h->step++;
        clock_advance(h);
        run_operation(h);
        if (!h->stopped) check_money(h);
        if (h->in_group && --group_left == 0 && !h->stopped) {
            if (h->group_aborts) {
                ledger_write_abort(h->ledger);
                model_copy(&h->model, &h->saved);
                h->groups_aborted++;
            } else {
                call_ok(h, ledger_write_commit(h->ledger), "ledger_write_commit");
                h->groups_committed++;
            }
            h->in_group = false;
            if (!h->stopped) check_money(h);
        }
        if (h->in_group || h->stopped) continue;
        if (h->step % h->sample_steps == 0) check_statements(h);
        if (h->step % VERIFY_STEPS == 0 && !h->stopped) verify(h);
        if (--h->steps_until_reopen == 0 && !h->stopped) {
            harness_reopen(h);
            check_money(h);
            h->steps_until_reopen = rng_range(&h->rng, REOPEN_STEPS_MIN, REOPEN_STEPS_MAX);
        }
    }
    if (h->in_group) ledger_write_abort(h->ledger);
    if (!h->stopped && h->in_group) {
        model_copy(&h->model, &h->saved);
        h->in_group = false;
    }
    if (!h->stopped) {
        check_money(h);
        check_statements(h);
        verify(h);
        harness_reopen(h);
        check_money(h);
        check_statements(h);
        verify(h);
    }
    harness_summary(h);
    if (h->soft_mismatches > 0) {
        printf("# %u divergences (the first of each kind printed above)\n",
               h->soft_mismatches);
        test_failures_in_case++;
    }
    int rc = ledger_close(h->ledger);
    if (rc != 0) test_failures_in_case++;
    if (test_failures_in_case == 0) {
        nftw(h->directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else {
        printf("# data kept in %s; replay with --seed %" PRIu64 "\n", h->directory, h->seed);
    }
    free(h->model.purchases);
    free(h->saved.purchases);
    free(h->grants);
    free(h);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"random", case_random},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
    printf("# seed=%" PRIu64 "\n", base_seed());
    return rc;
}
