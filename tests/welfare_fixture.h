/*
 * welfare_fixture.h — shared setup for the unit tests of the welfare layer
 * (test_welfare.c): a ledger_fixture.h ledger whose injected clock starts
 * on 2026-03-01, wrappers around every welfare call that return the
 * welfare result (and fail the case on a core error), builders for the
 * registry entities, and "nothing changed" snapshots.
 *
 * A snapshot records ledger_stats (journal sequence, accounts, pending
 * transfers), the balances of every welfare account the test knows (the
 * platform's three, every funder's funds and provider's payable the test
 * created through the wrappers) and the wallet of every employee it
 * created. EXPECT_REFUSED(w, call, result) takes one, runs the call, checks
 * its result and then that the snapshot is unchanged: that is how every
 * refusal (and every EXISTS) is shown to change nothing at all.
 *
 * Everything is `static inline` so that unused helpers cost no warning.
 */
#ifndef BORSELLINO_WELFARE_FIXTURE_H
#define BORSELLINO_WELFARE_FIXTURE_H

#include "ledger_fixture.h"
#include "welfare.h"

/* ------------------------------------------------------------------------ */
/* Time                                                                     */

#define WF_NS_PER_S UINT64_C(1000000000)
#define WF_HOUR (UINT64_C(3600) * WF_NS_PER_S)
#define WF_DAY (UINT64_C(86400) * WF_NS_PER_S)
/* Midnight UTC of January 1st of some years. */
#define WF_T2025 (UINT64_C(1735689600) * WF_NS_PER_S)
#define WF_T2026 (UINT64_C(1767225600) * WF_NS_PER_S)
#define WF_T2027 (UINT64_C(1798761600) * WF_NS_PER_S)
#define WF_T2028 (UINT64_C(1830297600) * WF_NS_PER_S)
#define WF_T2029 (UINT64_C(1861920000) * WF_NS_PER_S)
/* 2026-03-01T00:00:00Z: where the clock of every welfare case starts. */
#define WF_NOW (UINT64_C(1772323200) * WF_NS_PER_S)

/* A category bit mask. */
#define CAT(c) (UINT64_C(1) << (c))
/* Categories 1..10: the default catalog. */
#define WF_CATS_DEFAULT UINT64_C(0x7FE)

/* The default catalog (the facts the brief gives). */
enum {
    CAT_EDUCATION = 1,
    CAT_CANTEEN = 2,
    CAT_SUMMER_CAMPS = 3,
    CAT_ELDERLY_CARE = 4,
    CAT_LTC_INSURANCE = 5,
    CAT_TRANSPORT = 6,
    CAT_RECREATION = 7,
    CAT_HEALTH = 8,
    CAT_SHOPPING_VOUCHERS = 9,
    CAT_UTILITIES = 10,
};

enum {
    WF_TRACKED_MAX = 64,
    WF_SNAPSHOT_ACCOUNTS_MAX = 3 + 2 * WF_TRACKED_MAX,
};

typedef struct wf {
    fixture_t f; /* first: its clock context points at it */
    welfare_platform_t platform;
    /* Entities created through the wrappers (for snapshots). */
    uint32_t funders_count;
    ledger_u128_t funders[WF_TRACKED_MAX];
    uint32_t providers_count;
    ledger_u128_t providers[WF_TRACKED_MAX];
    uint32_t employees_count;
    ledger_u128_t employees[WF_TRACKED_MAX];
} wf_t;

static inline ledger_u128_t u128_hi_lo(uint64_t hi, uint64_t lo) {
    ledger_u128_t value = {hi, lo};
    return value;
}

/* Opens a fresh ledger with the clock on WF_NOW; the platform exists. */
static inline wf_t *wf_open(const char *prefix) {
    wf_t *w = calloc(1, sizeof *w);
    TEST_REQUIRE(w != NULL);
    fixture_open(&w->f, prefix);
    w->f.now_ns = WF_NOW;
    int rc = welfare_platform_ensure(w->f.ledger);
    if (rc != 0) printf("# welfare_platform_ensure: %d %s\n", rc, ledger_strerror(rc));
    TEST_REQUIRE(rc == 0);
    rc = welfare_platform(w->f.ledger, &w->platform);
    TEST_REQUIRE(rc == 0);
    return w;
}

static inline void wf_verify(wf_t *w) {
    ledger_verify_report_t report;
    memset(&report, 0, sizeof report);
    int rc = ledger_verify(w->f.ledger, &report, NULL, NULL);
    if (rc != 0) {
        printf("# ledger_verify: %d %s: sequence %" PRIu64 ": %s\n", rc,
               ledger_strerror(rc), report.first_bad_sequence, report.message);
    }
    TEST_CHECK_EQ(rc, 0);
}

/* Verifies the ledger, closes it and frees the fixture. */
static inline void wf_close(wf_t *w) {
    if (w->f.ledger != NULL) wf_verify(w);
    fixture_close(&w->f);
    free(w);
}

/* Closes and reopens the ledger (checkpoint, then load + replay). */
static inline void wf_reopen(wf_t *w) {
    fixture_shut(&w->f);
    fixture_reopen(&w->f);
}

/* ------------------------------------------------------------------------ */
/* Result checks                                                            */

/* Compares welfare results by name; prints the caller's line. */
#define CHECK_RESULT(actual, expected)                                        \
    do {                                                                      \
        uint32_t check_actual_ = (actual);                                    \
        uint32_t check_expected_ = (expected);                                \
        if (check_actual_ != check_expected_) {                               \
            test_failures_in_case++;                                          \
            printf("# %s:%d: %s gave %s (%u), expected %s (%u)\n", __FILE__,  \
                   __LINE__, #actual, welfare_result_name(check_actual_),     \
                   check_actual_, welfare_result_name(check_expected_),       \
                   check_expected_);                                          \
            fflush(stdout);                                                   \
        }                                                                     \
    } while (0)

/* A welfare call's return code must be 0; the result is returned (an
 * impossible value when the call failed). */
static inline uint32_t wf_result(int rc, uint32_t result, const char *what,
                                 wf_t *w) {
    if (rc != 0) {
        test_failures_in_case++;
        printf("# %s returned %d (%s): %s\n", what, rc, ledger_strerror(rc),
               ledger_last_error_message(w->f.ledger));
        return UINT32_MAX;
    }
    return result;
}

static inline void wf_track(ledger_u128_t *ids, uint32_t *count, ledger_u128_t id) {
    for (uint32_t i = 0; i < *count; i++) {
        if (ledger_u128_equal(ids[i], id)) return;
    }
    if (*count < WF_TRACKED_MAX) ids[(*count)++] = id;
}

/* ------------------------------------------------------------------------ */
/* Registry wrappers                                                        */

/* The *_full wrappers take the whole struct (for ids such as 2^128-1). */
static inline uint32_t w_funder_full(wf_t *w, const welfare_funder_t *funder) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_create_funder(w->f.ledger, funder, &result);
    return wf_result(rc, result, "welfare_create_funder", w);
}

static inline uint32_t w_provider_full(wf_t *w, const welfare_provider_t *provider) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_create_provider(w->f.ledger, provider, &result);
    return wf_result(rc, result, "welfare_create_provider", w);
}

static inline uint32_t w_employee_full(wf_t *w, const welfare_employee_t *employee) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_create_employee(w->f.ledger, employee, &result);
    return wf_result(rc, result, "welfare_create_employee", w);
}

static inline uint32_t w_fund_full(wf_t *w, const welfare_fund_t *fund) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_fund(w->f.ledger, fund, &result);
    return wf_result(rc, result, "welfare_fund", w);
}

static inline uint32_t w_funder(wf_t *w, uint64_t id, uint32_t kind) {
    welfare_funder_t funder;
    memset(&funder, 0, sizeof funder);
    funder.id = id128(id);
    funder.kind = kind;
    uint32_t result = UINT32_MAX;
    int rc = welfare_create_funder(w->f.ledger, &funder, &result);
    result = wf_result(rc, result, "welfare_create_funder", w);
    if (result == WELFARE_RESULT_OK) wf_track(w->funders, &w->funders_count, funder.id);
    return result;
}

static inline uint32_t w_provider(wf_t *w, uint64_t id, uint32_t fee_bps,
                                  uint64_t categories) {
    welfare_provider_t provider;
    memset(&provider, 0, sizeof provider);
    provider.id = id128(id);
    provider.fee_bps = fee_bps;
    provider.categories = categories;
    uint32_t result = UINT32_MAX;
    int rc = welfare_create_provider(w->f.ledger, &provider, &result);
    result = wf_result(rc, result, "welfare_create_provider", w);
    if (result == WELFARE_RESULT_OK) {
        wf_track(w->providers, &w->providers_count, provider.id);
    }
    return result;
}

static inline uint32_t w_employee(wf_t *w, uint64_t id, uint64_t funder_id) {
    welfare_employee_t employee;
    memset(&employee, 0, sizeof employee);
    employee.id = id128(id);
    employee.funder_id = id128(funder_id);
    uint32_t result = UINT32_MAX;
    int rc = welfare_create_employee(w->f.ledger, &employee, &result);
    result = wf_result(rc, result, "welfare_create_employee", w);
    if (result == WELFARE_RESULT_OK) {
        wf_track(w->employees, &w->employees_count, employee.id);
    }
    return result;
}

static inline welfare_plan_t plan_make(uint64_t id, uint64_t funder_id,
                                       uint64_t valid_from, uint64_t valid_until,
                                       uint64_t categories, uint32_t policy,
                                       uint32_t flags) {
    welfare_plan_t plan;
    memset(&plan, 0, sizeof plan);
    plan.id = id128(id);
    plan.funder_id = id128(funder_id);
    plan.valid_from = valid_from;
    plan.valid_until = valid_until;
    plan.categories = categories;
    plan.expiry_policy = policy;
    plan.flags = flags;
    return plan;
}

static inline uint32_t w_plan(wf_t *w, const welfare_plan_t *plan) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_create_plan(w->f.ledger, plan, &result);
    return wf_result(rc, result, "welfare_create_plan", w);
}

/* A plan of the whole of 2026 (running on WF_NOW), categories 1..10. */
static inline uint32_t w_plan_2026(wf_t *w, uint64_t id, uint64_t funder_id,
                                   uint32_t policy, uint32_t flags) {
    welfare_plan_t plan = plan_make(id, funder_id, WF_T2026, WF_T2027,
                                    WF_CATS_DEFAULT, policy, flags);
    return w_plan(w, &plan);
}

static inline uint32_t w_cap_class(wf_t *w, uint64_t employee_id, uint32_t year,
                                   uint32_t cap_class) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_set_cap_class(w->f.ledger, id128(employee_id), year,
                                   cap_class, &result);
    return wf_result(rc, result, "welfare_set_cap_class", w);
}

static inline uint32_t w_set_cap(wf_t *w, uint32_t year, uint64_t standard,
                                 uint64_t with_children) {
    welfare_fringe_cap_t cap = {year, standard, with_children};
    uint32_t result = UINT32_MAX;
    int rc = welfare_set_fringe_cap(w->f.ledger, &cap, &result);
    return wf_result(rc, result, "welfare_set_fringe_cap", w);
}

/* ------------------------------------------------------------------------ */
/* Money wrappers                                                           */

static inline uint32_t w_fund(wf_t *w, uint64_t id, uint64_t funder_id,
                              uint64_t amount) {
    welfare_fund_t fund;
    memset(&fund, 0, sizeof fund);
    fund.id = id128(id);
    fund.funder_id = id128(funder_id);
    fund.amount = amount;
    uint32_t result = UINT32_MAX;
    int rc = welfare_fund(w->f.ledger, &fund, &result);
    return wf_result(rc, result, "welfare_fund", w);
}

/* A grant with one entry. */
static inline uint32_t w_grant(wf_t *w, uint64_t grant_id, uint64_t plan_id,
                               uint64_t employee_id, uint64_t amount) {
    welfare_grant_entry_t entry;
    memset(&entry, 0, sizeof entry);
    entry.employee_id = id128(employee_id);
    entry.amount = amount;
    uint32_t result = UINT32_MAX;
    int rc = welfare_grant(w->f.ledger, id128(grant_id), id128(plan_id), &entry,
                           1, &result);
    return wf_result(rc, result, "welfare_grant", w);
}

static inline welfare_purchase_t purchase_make(uint64_t id, uint64_t employee_id,
                                               uint64_t provider_id,
                                               uint32_t category, uint64_t amount,
                                               uint32_t hold_timeout_s) {
    welfare_purchase_t purchase;
    memset(&purchase, 0, sizeof purchase);
    purchase.id = id128(id);
    purchase.employee_id = id128(employee_id);
    purchase.provider_id = id128(provider_id);
    purchase.category = category;
    purchase.amount = amount;
    purchase.hold_timeout_s = hold_timeout_s;
    return purchase;
}

static inline uint32_t w_purchase_full(wf_t *w, const welfare_purchase_t *purchase) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_purchase(w->f.ledger, purchase, &result);
    return wf_result(rc, result, "welfare_purchase", w);
}

static inline uint32_t w_purchase(wf_t *w, uint64_t id, uint64_t employee_id,
                                  uint64_t provider_id, uint32_t category,
                                  uint64_t amount) {
    welfare_purchase_t purchase =
        purchase_make(id, employee_id, provider_id, category, amount, 0);
    return w_purchase_full(w, &purchase);
}

static inline uint32_t w_hold(wf_t *w, uint64_t id, uint64_t employee_id,
                              uint64_t provider_id, uint32_t category,
                              uint64_t amount, uint32_t timeout_s) {
    welfare_purchase_t purchase =
        purchase_make(id, employee_id, provider_id, category, amount, timeout_s);
    return w_purchase_full(w, &purchase);
}

static inline uint32_t w_capture(wf_t *w, uint64_t id, uint64_t purchase_id,
                                 uint64_t amount) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_capture(w->f.ledger, id128(id), id128(purchase_id), amount,
                             &result);
    return wf_result(rc, result, "welfare_capture", w);
}

static inline uint32_t w_void(wf_t *w, uint64_t id, uint64_t purchase_id) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_void(w->f.ledger, id128(id), id128(purchase_id), &result);
    return wf_result(rc, result, "welfare_void", w);
}

static inline uint32_t w_refund_u128(wf_t *w, ledger_u128_t id, ledger_u128_t purchase_id,
                                     uint64_t amount) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_refund(w->f.ledger, id, purchase_id, amount, &result);
    return wf_result(rc, result, "welfare_refund", w);
}

static inline uint32_t w_refund(wf_t *w, uint64_t id, uint64_t purchase_id,
                                uint64_t amount) {
    return w_refund_u128(w, id128(id), id128(purchase_id), amount);
}

static inline welfare_reimbursement_t reimbursement_make(
    uint64_t id, uint64_t employee_id, uint32_t category, uint32_t receipt_date,
    uint64_t amount, uint64_t receipt_amount, uint8_t receipt_tag) {
    welfare_reimbursement_t r;
    memset(&r, 0, sizeof r);
    r.id = id128(id);
    r.employee_id = id128(employee_id);
    r.category = category;
    r.receipt_date = receipt_date;
    r.amount = amount;
    r.receipt_amount = receipt_amount;
    /* A recognisable, non-zero hash per tag (tag 0: no receipt). */
    if (receipt_tag != 0) {
        for (int i = 0; i < 32; i++) r.receipt_hash[i] = (uint8_t)(receipt_tag + i);
    }
    return r;
}

static inline uint32_t w_reimburse(wf_t *w, const welfare_reimbursement_t *r) {
    uint32_t result = UINT32_MAX;
    int rc = welfare_reimburse(w->f.ledger, r, &result);
    return wf_result(rc, result, "welfare_reimburse", w);
}

static inline uint32_t w_sweep(wf_t *w, uint64_t id, uint64_t plan_id,
                               welfare_sweep_report_t *report) {
    uint32_t result = UINT32_MAX;
    if (report != NULL) memset(report, 0xAB, sizeof *report);
    int rc = welfare_sweep(w->f.ledger, id128(id), id128(plan_id), &result, report);
    return wf_result(rc, result, "welfare_sweep", w);
}

static inline uint32_t w_offboard(wf_t *w, uint64_t id, uint64_t employee_id,
                                  welfare_sweep_report_t *report) {
    uint32_t result = UINT32_MAX;
    if (report != NULL) memset(report, 0xAB, sizeof *report);
    int rc = welfare_offboard(w->f.ledger, id128(id), id128(employee_id), &result,
                              report);
    return wf_result(rc, result, "welfare_offboard", w);
}

static inline uint32_t w_payout(wf_t *w, uint64_t id, uint64_t provider_id,
                                uint64_t amount, uint64_t reference,
                                uint64_t *paid_out) {
    uint32_t result = UINT32_MAX;
    if (paid_out != NULL) *paid_out = UINT64_MAX;
    int rc = welfare_payout(w->f.ledger, id128(id), id128(provider_id), amount,
                            id128(reference), &result, paid_out);
    return wf_result(rc, result, "welfare_payout", w);
}

static inline uint32_t w_expire(wf_t *w) {
    uint32_t count = UINT32_MAX;
    int rc = welfare_expire_holds(w->f.ledger, &count);
    TEST_CHECK_EQ(rc, 0);
    return count;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

static inline ledger_account_t wf_account(wf_t *w, ledger_u128_t id) {
    ledger_account_t account;
    bool found = fixture_account_find(&w->f, id, &account);
    if (!found) {
        printf("# account %016" PRIx64 ":%016" PRIx64 " not found\n", id.hi, id.lo);
    }
    TEST_CHECK(found);
    return account;
}

/* credits_posted - debits_posted of a credit-normal account. */
static inline int64_t wf_credit_balance(wf_t *w, ledger_u128_t id) {
    ledger_account_t a = wf_account(w, id);
    return (int64_t)(a.credits_posted - a.debits_posted);
}

static inline welfare_funder_t wf_funder(wf_t *w, uint64_t id) {
    welfare_funder_t funder;
    memset(&funder, 0, sizeof funder);
    bool found = false;
    TEST_CHECK_EQ(welfare_lookup_funder(w->f.ledger, id128(id), &funder, &found), 0);
    TEST_CHECK(found);
    return funder;
}

static inline welfare_provider_t wf_provider(wf_t *w, uint64_t id) {
    welfare_provider_t provider;
    memset(&provider, 0, sizeof provider);
    bool found = false;
    TEST_CHECK_EQ(welfare_lookup_provider(w->f.ledger, id128(id), &provider, &found),
                  0);
    TEST_CHECK(found);
    return provider;
}

/* The funder's budget not yet granted (its funds account). */
static inline int64_t wf_funds(wf_t *w, uint64_t funder_id) {
    return wf_credit_balance(w, wf_funder(w, funder_id).account_id);
}

/* What the platform owes the provider (its payable account). */
static inline int64_t wf_payable(wf_t *w, uint64_t provider_id) {
    return wf_credit_balance(w, wf_provider(w, provider_id).account_id);
}

static inline int64_t wf_fees(wf_t *w) {
    return wf_credit_balance(w, w->platform.fees_account_id);
}

static inline int64_t wf_forfeited(wf_t *w) {
    return wf_credit_balance(w, w->platform.forfeited_account_id);
}

/* debits - credits posted of the bank (debit-normal). */
static inline int64_t wf_bank(wf_t *w) {
    ledger_account_t a = wf_account(w, w->platform.bank_account_id);
    return (int64_t)(a.debits_posted - a.credits_posted);
}

static inline welfare_wallet_t wf_wallet(wf_t *w, uint64_t employee_id) {
    welfare_wallet_t wallet;
    memset(&wallet, 0, sizeof wallet);
    bool found = false;
    int rc = welfare_wallet(w->f.ledger, id128(employee_id), &wallet, &found);
    TEST_CHECK_EQ(rc, 0);
    if (!found) printf("# wallet of employee %" PRIu64 " not found\n", employee_id);
    TEST_CHECK(found);
    return wallet;
}

/* The employee's pot of `plan_id` (a zeroed pot when there is none). */
static inline welfare_pot_t wf_pot(wf_t *w, uint64_t employee_id, uint64_t plan_id) {
    welfare_wallet_t wallet = wf_wallet(w, employee_id);
    for (uint32_t i = 0; i < wallet.pots_count && i < WELFARE_POTS_PER_EMPLOYEE_MAX; i++) {
        if (ledger_u128_equal(wallet.pots[i].plan_id, id128(plan_id))) {
            return wallet.pots[i];
        }
    }
    welfare_pot_t none;
    memset(&none, 0, sizeof none);
    return none;
}

static inline bool wf_has_pot(wf_t *w, uint64_t employee_id, uint64_t plan_id) {
    return wf_pot(w, employee_id, plan_id).account_id.hi != 0;
}

/* Checks available, held and balance of one pot. */
#define CHECK_POT(w, employee, plan, available_, held_, balance_)             \
    do {                                                                      \
        welfare_pot_t check_pot_ = wf_pot((w), (employee), (plan));           \
        TEST_CHECK_EQ(check_pot_.available, (available_));                    \
        TEST_CHECK_EQ(check_pot_.held, (held_));                              \
        TEST_CHECK_EQ(check_pot_.balance, (balance_));                        \
    } while (0)

static inline welfare_funder_statement_t wf_funder_statement(wf_t *w, uint64_t funder,
                                                             uint64_t from, uint64_t to) {
    welfare_funder_statement_t statement;
    memset(&statement, 0, sizeof statement);
    uint32_t rows = 0;
    bool more = true;
    int rc = welfare_funder_statement(w->f.ledger, id128(funder), from, to, &statement,
                                      id128(0), NULL, 0, &rows, &more);
    TEST_CHECK_EQ(rc, 0);
    return statement;
}

static inline welfare_provider_statement_t wf_provider_statement(wf_t *w,
                                                                 uint64_t provider,
                                                                 uint64_t from,
                                                                 uint64_t to) {
    welfare_provider_statement_t statement;
    memset(&statement, 0, sizeof statement);
    int rc = welfare_provider_statement(w->f.ledger, id128(provider), from, to,
                                        &statement);
    TEST_CHECK_EQ(rc, 0);
    return statement;
}

static inline welfare_annual_statement_t wf_annual(wf_t *w, uint64_t employee,
                                                   uint32_t year) {
    welfare_annual_statement_t statement;
    memset(&statement, 0, sizeof statement);
    int rc = welfare_annual_statement(w->f.ledger, id128(employee), year, &statement);
    TEST_CHECK_EQ(rc, 0);
    return statement;
}

/* ------------------------------------------------------------------------ */
/* "Nothing changed" snapshots                                              */

typedef struct wf_snapshot {
    ledger_stats_t stats;
    uint32_t accounts_count;
    ledger_u128_t account_ids[WF_SNAPSHOT_ACCOUNTS_MAX];
    ledger_account_t accounts[WF_SNAPSHOT_ACCOUNTS_MAX];
    uint32_t wallets_count;
    bool wallet_found[WF_TRACKED_MAX];
    welfare_wallet_t wallets[WF_TRACKED_MAX];
} wf_snapshot_t;

static inline void wf_snapshot_fill(wf_t *w, wf_snapshot_t *s) {
    memset(s, 0, sizeof *s);
    TEST_CHECK_EQ(ledger_stats(w->f.ledger, &s->stats), 0);
    s->account_ids[s->accounts_count++] = w->platform.bank_account_id;
    s->account_ids[s->accounts_count++] = w->platform.fees_account_id;
    s->account_ids[s->accounts_count++] = w->platform.forfeited_account_id;
    for (uint32_t i = 0; i < w->funders_count; i++) {
        welfare_funder_t funder;
        bool found = false;
        TEST_CHECK_EQ(welfare_lookup_funder(w->f.ledger, w->funders[i], &funder, &found), 0);
        if (found) s->account_ids[s->accounts_count++] = funder.account_id;
    }
    for (uint32_t i = 0; i < w->providers_count; i++) {
        welfare_provider_t provider;
        bool found = false;
        TEST_CHECK_EQ(
            welfare_lookup_provider(w->f.ledger, w->providers[i], &provider, &found), 0);
        if (found) s->account_ids[s->accounts_count++] = provider.account_id;
    }
    for (uint32_t i = 0; i < s->accounts_count; i++) {
        ledger_account_t account;
        memset(&account, 0, sizeof account);
        uint32_t found = 0;
        TEST_CHECK_EQ(
            ledger_lookup_accounts(w->f.ledger, &s->account_ids[i], 1, &account, &found), 0);
        s->accounts[i] = account;
    }
    s->wallets_count = w->employees_count;
    for (uint32_t i = 0; i < w->employees_count; i++) {
        TEST_CHECK_EQ(welfare_wallet(w->f.ledger, w->employees[i], &s->wallets[i],
                                     &s->wallet_found[i]),
                      0);
    }
}

static inline wf_snapshot_t *wf_snapshot(wf_t *w) {
    wf_snapshot_t *s = calloc(1, sizeof *s);
    TEST_REQUIRE(s != NULL);
    wf_snapshot_fill(w, s);
    return s;
}

static inline bool wf_pot_equal(const welfare_pot_t *a, const welfare_pot_t *b) {
    return ledger_u128_equal(a->plan_id, b->plan_id) &&
           ledger_u128_equal(a->account_id, b->account_id) &&
           a->available == b->available && a->held == b->held &&
           a->balance == b->balance && a->granted == b->granted &&
           a->valid_from == b->valid_from && a->valid_until == b->valid_until &&
           a->categories == b->categories && a->expired == b->expired &&
           a->closed == b->closed;
}

static inline bool wf_wallet_equal(const welfare_wallet_t *a, const welfare_wallet_t *b) {
    if (!ledger_u128_equal(a->employee_id, b->employee_id)) return false;
    if (!ledger_u128_equal(a->funder_id, b->funder_id)) return false;
    if (a->offboarded != b->offboarded || a->pots_count != b->pots_count) return false;
    for (uint32_t i = 0; i < a->pots_count && i < WELFARE_POTS_PER_EMPLOYEE_MAX; i++) {
        if (!wf_pot_equal(&a->pots[i], &b->pots[i])) return false;
    }
    return true;
}

/* Compares a fresh snapshot with `before` (and frees it); `line` is the
 * caller's. */
static inline void wf_unchanged(wf_t *w, wf_snapshot_t *before, int line) {
    wf_snapshot_t *after = wf_snapshot(w);
    if (after->stats.journal_sequence != before->stats.journal_sequence ||
        after->stats.accounts_count != before->stats.accounts_count ||
        after->stats.pending_count != before->stats.pending_count) {
        test_failures_in_case++;
        printf("# line %d: journal/accounts/pending changed: %" PRIu64 "/%" PRIu64
               "/%" PRIu64 " -> %" PRIu64 "/%" PRIu64 "/%" PRIu64 "\n",
               line, before->stats.journal_sequence, before->stats.accounts_count,
               before->stats.pending_count, after->stats.journal_sequence,
               after->stats.accounts_count, after->stats.pending_count);
    }
    for (uint32_t i = 0; i < before->accounts_count; i++) {
        if (!account_equal(&before->accounts[i], &after->accounts[i])) {
            test_failures_in_case++;
            printf("# line %d: account %u changed\n", line, i);
        }
    }
    for (uint32_t i = 0; i < before->wallets_count; i++) {
        if (before->wallet_found[i] != after->wallet_found[i] ||
            !wf_wallet_equal(&before->wallets[i], &after->wallets[i])) {
            test_failures_in_case++;
            printf("# line %d: wallet of employee %" PRIu64 " changed\n", line,
                   w->employees[i].lo);
        }
    }
    fflush(stdout);
    free(before);
    free(after);
}

/* Runs `call` (an expression giving a welfare result), checks it gave
 * `expected` and that nothing at all changed. */
#define EXPECT_REFUSED(w, call, expected)                                     \
    do {                                                                      \
        wf_snapshot_t *expect_before_ = wf_snapshot(w);                       \
        CHECK_RESULT((call), (expected));                                     \
        wf_unchanged((w), expect_before_, __LINE__);                          \
    } while (0)

/* Setup that must work. */
#define REQUIRE_OK(call)                                                      \
    do {                                                                      \
        uint32_t require_result_ = (call);                                    \
        if (require_result_ != WELFARE_RESULT_OK) {                           \
            printf("# %s:%d: setup %s gave %s\n", __FILE__, __LINE__, #call,  \
                   welfare_result_name(require_result_));                     \
        }                                                                     \
        TEST_CHECK_EQ(require_result_, WELFARE_RESULT_OK);                    \
    } while (0)

#endif /* BORSELLINO_WELFARE_FIXTURE_H */
