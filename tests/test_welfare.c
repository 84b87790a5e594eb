/*
 * test_welfare.c — unit tests of the welfare layer (ledger/welfare.h).
 *
 * What it is for: every rule and every result code of welfare.h, each
 * checked through what a user of the API sees: the result code, and then
 * the money (wallets, funder funds, provider payables, the platform's
 * accounts, statements). Every refusal (and every EXISTS) is run through
 * EXPECT_REFUSED (welfare_fixture.h), which shows that nothing at all
 * changed: not the journal, not one welfare account, not one wallet.
 * Limits are tested at the bound and one past it. Every case ends with
 * ledger_verify() (Σ debits = Σ credits, hash chain, balances recomputed).
 *
 * The clock is the fixture's injected clock, set to 2026-03-01T00:00Z
 * (fiscal year 2026, fringe cap €1,000 / €2,000 with children); cases
 * that need time to pass move it forward explicitly.
 *
 * Ids: funders 1.., providers 11.., employees 21.., plans 31.. and 100..;
 * operation ids by kind: funds 1000.., grants 2000.., purchases 3000..,
 * captures 4000.., voids 5000.., refunds 6000.., reimbursements 7000..,
 * sweeps 8000.., offboardings 9000.., payouts 9500...
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "welfare_fixture.h"

/* ------------------------------------------------------------------------ */
/* The common world                                                         */

enum {
    F1 = 1, /* a company, funded with 1,000,000 cents */
    F2 = 2, /* a public funder, not funded */
    P1 = 11, /* fee 5%, sells 1..10 except summer camps (3) */
    P2 = 12, /* no fee, sells recreation (7) only */
    E1 = 21, /* employees of F1 */
    E2 = 22,
    E3 = 23, /* employee of F2 */
    E4 = 24, /* employees of F1 */
    E5 = 25,
    E6 = 26,
    E7 = 27,
    E8 = 28,
    PLAN_A = 31, /* F1, the whole of 2026, categories 1..10, back to funder */
    PLAN_F2 = 32, /* F2, the whole of 2026, categories 1..10, back to funder */
};

#define P1_FEE_BPS 500u
#define F1_FUNDED UINT64_C(1000000)
#define WF_CATS_P1 (WF_CATS_DEFAULT & ~CAT(CAT_SUMMER_CAMPS))

static wf_t *world_open(const char *prefix) {
    wf_t *w = wf_open(prefix);
    REQUIRE_OK(w_funder(w, F1, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_funder(w, F2, WELFARE_FUNDER_PUBLIC));
    REQUIRE_OK(w_provider(w, P1, P1_FEE_BPS, WF_CATS_P1));
    REQUIRE_OK(w_provider(w, P2, 0, CAT(CAT_RECREATION)));
    REQUIRE_OK(w_employee(w, E1, F1));
    REQUIRE_OK(w_employee(w, E2, F1));
    REQUIRE_OK(w_employee(w, E3, F2));
    REQUIRE_OK(w_employee(w, E4, F1));
    REQUIRE_OK(w_employee(w, E5, F1));
    REQUIRE_OK(w_employee(w, E6, F1));
    REQUIRE_OK(w_employee(w, E7, F1));
    REQUIRE_OK(w_employee(w, E8, F1));
    REQUIRE_OK(w_plan_2026(w, PLAN_A, F1, WELFARE_EXPIRY_BACK_TO_FUNDER, 0));
    REQUIRE_OK(w_plan_2026(w, PLAN_F2, F2, WELFARE_EXPIRY_BACK_TO_FUNDER, 0));
    REQUIRE_OK(w_fund(w, 1001, F1, F1_FUNDED));
    return w;
}

/* A plan of F1 for category mask `categories`, from T2026 to `until`. */
static uint32_t w_plan_until(wf_t *w, uint64_t id, uint64_t until,
                             uint64_t categories, uint32_t policy, uint32_t flags) {
    welfare_plan_t plan = plan_make(id, F1, WF_T2026, until, categories, policy, flags);
    return w_plan(w, &plan);
}

static uint32_t top32(ledger_u128_t id) { return (uint32_t)(id.hi >> 32); }

/* ------------------------------------------------------------------------ */
/* Platform, catalog, caps, names                                           */

static void check_default_category(const welfare_category_t *c, uint32_t id,
                                   uint32_t basis, bool reimbursable,
                                   const char *name) {
    TEST_CHECK_EQ(c->id, id);
    TEST_CHECK_EQ(c->fiscal_basis, basis);
    TEST_CHECK_EQ(c->reimbursable, reimbursable);
    if (strcmp(c->name, name) != 0) {
        printf("# category %u is named \"%.32s\", expected \"%s\"\n", id, c->name, name);
    }
    TEST_CHECK(strcmp(c->name, name) == 0);
}

static void case_platform_defaults(void) {
    wf_t *w = wf_open("welfare_platform");
    const welfare_platform_t p = w->platform;
    const ledger_u128_t ids[3] = {p.bank_account_id, p.fees_account_id,
                                  p.forfeited_account_id};
    const uint16_t codes[3] = {WELFARE_ACCOUNT_BANK, WELFARE_ACCOUNT_FEES,
                               WELFARE_ACCOUNT_FORFEITED};
    for (int i = 0; i < 3; i++) {
        TEST_CHECK_EQ(top32(ids[i]), WELFARE_ACCOUNT_ID_TAG);
        ledger_account_t a = wf_account(w, ids[i]);
        TEST_CHECK_EQ(a.ledger, WELFARE_LEDGER);
        TEST_CHECK_EQ(a.code, codes[i]);
        for (int j = 0; j < i; j++) TEST_CHECK(!ledger_u128_equal(ids[i], ids[j]));
    }
    /* The bank may go negative; fees and forfeited never (core flags). */
    ledger_account_t bank = wf_account(w, p.bank_account_id);
    TEST_CHECK((bank.flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) == 0);
    TEST_CHECK((bank.flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) == 0);
    TEST_CHECK(wf_account(w, p.fees_account_id).flags &
               LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    TEST_CHECK(wf_account(w, p.forfeited_account_id).flags &
               LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);

    /* A new data directory holds exactly the platform's accounts, one
     * journal record each. */
    ledger_stats_t before = fixture_stats(&w->f);
    TEST_CHECK_EQ(before.accounts_count, WELFARE_PLATFORM_ACCOUNTS);
    TEST_CHECK_EQ(before.journal_sequence, WELFARE_PLATFORM_ACCOUNTS);
    /* Ensuring again creates nothing. */
    TEST_CHECK_EQ(welfare_platform_ensure(w->f.ledger), 0);
    ledger_stats_t after = fixture_stats(&w->f);
    TEST_CHECK_EQ(after.journal_sequence, before.journal_sequence);
    TEST_CHECK_EQ(after.accounts_count, before.accounts_count);
    welfare_platform_t again;
    TEST_CHECK_EQ(welfare_platform(w->f.ledger, &again), 0);
    TEST_CHECK(ledger_u128_equal(again.bank_account_id, p.bank_account_id));
    TEST_CHECK(ledger_u128_equal(again.fees_account_id, p.fees_account_id));
    TEST_CHECK(ledger_u128_equal(again.forfeited_account_id, p.forfeited_account_id));

    /* The default catalog. */
    welfare_category_t categories[WELFARE_CATEGORY_ID_MAX + 1];
    memset(categories, 0, sizeof categories);
    uint32_t count = 0;
    TEST_CHECK_EQ(welfare_list_categories(w->f.ledger, categories, 64, &count), 0);
    TEST_CHECK_EQ(count, 10);
    if (count == 10) {
        check_default_category(&categories[0], 1, WELFARE_BASIS_F_BIS, true, "education");
        check_default_category(&categories[1], 2, WELFARE_BASIS_F_BIS, true,
                               "canteen-and-school");
        check_default_category(&categories[2], 3, WELFARE_BASIS_F_BIS, true, "summer-camps");
        check_default_category(&categories[3], 4, WELFARE_BASIS_F_TER, true, "elderly-care");
        check_default_category(&categories[4], 5, WELFARE_BASIS_F_QUATER, false,
                               "long-term-care-insurance");
        check_default_category(&categories[5], 6, WELFARE_BASIS_D_BIS, true,
                               "public-transport");
        check_default_category(&categories[6], 7, WELFARE_BASIS_F, false,
                               "recreation-and-culture");
        check_default_category(&categories[7], 8, WELFARE_BASIS_F, false,
                               "health-and-wellness");
        check_default_category(&categories[8], 9, WELFARE_BASIS_FRINGE, false,
                               "shopping-vouchers");
        check_default_category(&categories[9], 10, WELFARE_BASIS_FRINGE, true, "utilities");
    }
    /* A smaller capacity gives the first ones. */
    memset(categories, 0, sizeof categories);
    TEST_CHECK_EQ(welfare_list_categories(w->f.ledger, categories, 3, &count), 0);
    TEST_CHECK_EQ(count, 3);
    TEST_CHECK_EQ(categories[2].id, 3);
    TEST_CHECK_EQ(categories[3].id, 0); /* nothing written past capacity */

    /* The default fringe caps. */
    uint64_t cap = 0;
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 0, WELFARE_CAP_STANDARD, &cap), 0);
    TEST_CHECK_EQ(cap, 25823);
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 0, WELFARE_CAP_WITH_CHILDREN, &cap), 0);
    TEST_CHECK_EQ(cap, 25823);
    for (uint32_t year = 2024; year <= 2027; year++) {
        TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, year, WELFARE_CAP_STANDARD, &cap), 0);
        TEST_CHECK_EQ(cap, 100000);
        TEST_CHECK_EQ(
            welfare_fringe_cap_for(w->f.ledger, year, WELFARE_CAP_WITH_CHILDREN, &cap), 0);
        TEST_CHECK_EQ(cap, 200000);
    }
    const uint32_t years_without_row[] = {2000, 2023, 2028, 2199};
    for (int i = 0; i < 4; i++) {
        cap = 0;
        TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, years_without_row[i],
                                             WELFARE_CAP_WITH_CHILDREN, &cap), 0);
        TEST_CHECK_EQ(cap, 25823);
    }

    /* Fiscal year = UTC year of t + 1 hour. */
    TEST_CHECK_EQ(welfare_fiscal_year(WF_T2026 - WF_HOUR - 1), 2025);
    TEST_CHECK_EQ(welfare_fiscal_year(WF_T2026 - WF_HOUR), 2026);
    TEST_CHECK_EQ(welfare_fiscal_year(WF_NOW), 2026);
    TEST_CHECK_EQ(welfare_fiscal_year(WF_T2027 - WF_HOUR - 1), 2026);
    TEST_CHECK_EQ(welfare_fiscal_year(WF_T2027 - WF_HOUR), 2027);
    TEST_CHECK_EQ(welfare_fiscal_year(WF_T2029 - WF_HOUR - 1), 2028); /* leap year */
    TEST_CHECK_EQ(welfare_fiscal_year(0), 1970);

    /* Result names: all known, all different, "unknown" past the end. */
    for (uint32_t r = 0; r < WELFARE_RESULT_CODE_COUNT; r++) {
        const char *name = welfare_result_name(r);
        TEST_CHECK(name != NULL);
        if (name == NULL) continue;
        TEST_CHECK(strcmp(name, "unknown") != 0);
        for (uint32_t s = 0; s < r; s++) {
            const char *other = welfare_result_name(s);
            if (other != NULL && strcmp(name, other) == 0) {
                printf("# results %u and %u are both named %s\n", s, r, name);
                TEST_CHECK(false);
            }
        }
    }
    TEST_CHECK(strcmp(welfare_result_name(WELFARE_RESULT_OK), "ok") == 0);
    TEST_CHECK(strcmp(welfare_result_name(WELFARE_RESULT_FRINGE_CAP_EXCEEDED),
                      "fringe_cap_exceeded") == 0);
    TEST_CHECK(strcmp(welfare_result_name(WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS),
                      "exists_with_different_fields") == 0);
    TEST_CHECK(strcmp(welfare_result_name(WELFARE_RESULT_TOO_MANY_POTS_FOR_SPLIT),
                      "too_many_pots_for_split") == 0);
    TEST_CHECK(strcmp(welfare_result_name(WELFARE_RESULT_CODE_COUNT), "unknown") == 0);
    TEST_CHECK(strcmp(welfare_result_name(UINT32_MAX), "unknown") == 0);
    /* And the core's new codes have names. */
    TEST_CHECK(strcmp(ledger_result_name(LEDGER_RESULT_ID_RESERVED), "id_reserved") == 0);
    TEST_CHECK(strcmp(ledger_result_name(LEDGER_RESULT_WELFARE_CASH_OUT_FORBIDDEN),
                      "unknown") != 0);
    TEST_CHECK(strcmp(ledger_result_name(LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED),
                      "unknown") != 0);
    TEST_CHECK(strcmp(ledger_result_name(
                          LEDGER_RESULT_WELFARE_TRANSFER_BETWEEN_EMPLOYEES_FORBIDDEN),
                      "unknown") != 0);

    /* The platform survives a reopen with the same ids. */
    wf_reopen(w);
    TEST_CHECK_EQ(welfare_platform(w->f.ledger, &again), 0);
    TEST_CHECK(ledger_u128_equal(again.bank_account_id, p.bank_account_id));
    TEST_CHECK(ledger_u128_equal(again.fees_account_id, p.fees_account_id));
    TEST_CHECK(ledger_u128_equal(again.forfeited_account_id, p.forfeited_account_id));
    wf_close(w);
}

/* A welfare write on a ledger where nobody called welfare_platform_ensure
 * creates the platform first. */
static void case_platform_ensured_by_write(void) {
    wf_t *w = calloc(1, sizeof *w);
    TEST_REQUIRE(w != NULL);
    fixture_open(&w->f, "welfare_ensure_by_write");
    w->f.now_ns = WF_NOW;
    CHECK_RESULT(w_funder(w, F1, WELFARE_FUNDER_COMPANY), WELFARE_RESULT_OK);
    welfare_platform_t p;
    memset(&p, 0, sizeof p);
    TEST_CHECK_EQ(welfare_platform(w->f.ledger, &p), 0);
    ledger_account_t account;
    TEST_CHECK(fixture_account_find(&w->f, p.bank_account_id, &account));
    TEST_CHECK(fixture_account_find(&w->f, p.fees_account_id, &account));
    TEST_CHECK(fixture_account_find(&w->f, p.forfeited_account_id, &account));
    welfare_category_t categories[16];
    uint32_t count = 0;
    TEST_CHECK_EQ(welfare_list_categories(w->f.ledger, categories, 16, &count), 0);
    TEST_CHECK_EQ(count, 10);
    uint64_t cap = 0;
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2026, WELFARE_CAP_STANDARD, &cap), 0);
    TEST_CHECK_EQ(cap, 100000);
    wf_close(w);
}

static uint32_t w_category(wf_t *w, uint32_t id, uint32_t basis, bool reimbursable,
                           const char *name) {
    welfare_category_t c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.fiscal_basis = basis;
    c.reimbursable = reimbursable;
    memcpy(c.name, name, strlen(name) < sizeof c.name ? strlen(name) : sizeof c.name);
    uint32_t result = UINT32_MAX;
    int rc = welfare_set_category(w->f.ledger, &c, &result);
    return wf_result(rc, result, "welfare_set_category", w);
}

static uint32_t categories_count(wf_t *w) {
    welfare_category_t categories[WELFARE_CATEGORY_ID_MAX + 1];
    uint32_t count = 0;
    TEST_CHECK_EQ(welfare_list_categories(w->f.ledger, categories, 64, &count), 0);
    return count;
}

static welfare_category_t category_get(wf_t *w, uint32_t id) {
    welfare_category_t categories[WELFARE_CATEGORY_ID_MAX + 1];
    welfare_category_t none;
    memset(&none, 0, sizeof none);
    uint32_t count = 0;
    TEST_CHECK_EQ(welfare_list_categories(w->f.ledger, categories, 64, &count), 0);
    for (uint32_t i = 0; i < count; i++) {
        if (categories[i].id == id) return categories[i];
    }
    return none;
}

static void case_categories(void) {
    wf_t *w = wf_open("welfare_categories");
    CHECK_RESULT(w_category(w, 11, WELFARE_BASIS_F_BIS, true, "sport"), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(categories_count(w), 11);
    TEST_CHECK(strcmp(category_get(w, 11).name, "sport") == 0);
    /* Ids: 1..63. */
    EXPECT_REFUSED(w, w_category(w, 0, WELFARE_BASIS_F, false, "zero"),
                   WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_category(w, 64, WELFARE_BASIS_F, false, "sixty-four"),
                   WELFARE_RESULT_INVALID_FIELD);
    CHECK_RESULT(w_category(w, 63, WELFARE_BASIS_F, false, "last"), WELFARE_RESULT_OK);
    /* Basis: 1..6. */
    EXPECT_REFUSED(w, w_category(w, 12, 0, false, "no-basis"), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_category(w, 12, WELFARE_BASIS_COUNT, false, "basis-7"),
                   WELFARE_RESULT_INVALID_FIELD);
    CHECK_RESULT(w_category(w, 12, WELFARE_BASIS_FRINGE, true, "fuel"), WELFARE_RESULT_OK);
    /* Lett. f is in kind only: never reimbursable. */
    EXPECT_REFUSED(w, w_category(w, 13, WELFARE_BASIS_F, true, "gym"),
                   WELFARE_RESULT_INVALID_FIELD);
    CHECK_RESULT(w_category(w, 13, WELFARE_BASIS_F, false, "gym"), WELFARE_RESULT_OK);
    /* Names: 1..31 printable bytes, NUL-terminated. */
    EXPECT_REFUSED(w, w_category(w, 14, WELFARE_BASIS_F, false, ""),
                   WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_category(w, 14, WELFARE_BASIS_F, false, "bad\x01name"),
                   WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_category(w, 14, WELFARE_BASIS_F, false,
                                 "abcdefghijklmnopqrstuvwxyz012345"), /* 32: no NUL */
                   WELFARE_RESULT_INVALID_FIELD);
    CHECK_RESULT(w_category(w, 14, WELFARE_BASIS_F, false,
                            "abcdefghijklmnopqrstuvwxyz01234"), /* 31 */
                 WELFARE_RESULT_OK);
    TEST_CHECK_EQ(categories_count(w), 15);
    TEST_CHECK_EQ(category_get(w, 0).id, 0);
    TEST_CHECK_EQ(category_get(w, 64).id, 0);
    /* Replacing keeps the id, changes the rest. */
    CHECK_RESULT(w_category(w, 7, WELFARE_BASIS_F, false, "culture"), WELFARE_RESULT_OK);
    TEST_CHECK(strcmp(category_get(w, 7).name, "culture") == 0);
    TEST_CHECK_EQ(categories_count(w), 15);
    /* A provider may now sell the new categories; a plan may allow them. */
    CHECK_RESULT(w_funder(w, F1, WELFARE_FUNDER_COMPANY), WELFARE_RESULT_OK);
    CHECK_RESULT(w_provider(w, P1, 0, CAT(11) | CAT(63)), WELFARE_RESULT_OK);
    welfare_plan_t plan = plan_make(PLAN_A, F1, WF_T2026, WF_T2027, CAT(63),
                                    WELFARE_EXPIRY_FORFEIT, 0);
    CHECK_RESULT(w_plan(w, &plan), WELFARE_RESULT_OK);
    wf_close(w);
}

static void case_fringe_cap_table(void) {
    wf_t *w = wf_open("welfare_caps");
    uint64_t cap = 0;
    CHECK_RESULT(w_set_cap(w, 2030, 50000, 70000), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2030, WELFARE_CAP_STANDARD, &cap), 0);
    TEST_CHECK_EQ(cap, 50000);
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2030, WELFARE_CAP_WITH_CHILDREN, &cap), 0);
    TEST_CHECK_EQ(cap, 70000);
    /* Years: 0 or 2000..2199. */
    EXPECT_REFUSED(w, w_set_cap(w, 1999, 1, 1), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_set_cap(w, 2200, 1, 1), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_set_cap(w, 1, 1, 1), WELFARE_RESULT_INVALID_FIELD);
    CHECK_RESULT(w_set_cap(w, 2000, 1, 1), WELFARE_RESULT_OK);
    CHECK_RESULT(w_set_cap(w, 2199, 2, 3), WELFARE_RESULT_OK);
    /* with_children >= standard. */
    EXPECT_REFUSED(w, w_set_cap(w, 2031, 500, 499), WELFARE_RESULT_INVALID_FIELD);
    CHECK_RESULT(w_set_cap(w, 2031, 500, 500), WELFARE_RESULT_OK);
    /* The refused rows were not written. */
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2031, WELFARE_CAP_STANDARD, &cap), 0);
    TEST_CHECK_EQ(cap, 500);
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2033, WELFARE_CAP_STANDARD, &cap), 0);
    TEST_CHECK_EQ(cap, 25823);
    /* Replacing the default row changes every year without its own row. */
    CHECK_RESULT(w_set_cap(w, 0, 30000, 40000), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2040, WELFARE_CAP_WITH_CHILDREN, &cap), 0);
    TEST_CHECK_EQ(cap, 40000);
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2026, WELFARE_CAP_STANDARD, &cap), 0);
    TEST_CHECK_EQ(cap, 100000);
    /* Rows now: 0, 2024..2027, 2030, 2000, 2199, 2031 = 9. Fill to 128. */
    for (uint32_t year = 2032; year < 2032 + (WELFARE_FRINGE_CAP_ROWS_MAX - 9); year++) {
        CHECK_RESULT(w_set_cap(w, year, year, year), WELFARE_RESULT_OK);
    }
    uint32_t next_year = 2032 + (WELFARE_FRINGE_CAP_ROWS_MAX - 9);
    EXPECT_REFUSED(w, w_set_cap(w, next_year, 1, 1), WELFARE_RESULT_INVALID_FIELD);
    /* A full table still accepts replacements. */
    CHECK_RESULT(w_set_cap(w, 2050, 7, 8), WELFARE_RESULT_OK);
    CHECK_RESULT(w_set_cap(w, 0, 25823, 25823), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2050, WELFARE_CAP_WITH_CHILDREN, &cap), 0);
    TEST_CHECK_EQ(cap, 8);
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, next_year, WELFARE_CAP_STANDARD, &cap), 0);
    TEST_CHECK_EQ(cap, 25823);
    /* Persisted. */
    wf_reopen(w);
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2030, WELFARE_CAP_WITH_CHILDREN, &cap), 0);
    TEST_CHECK_EQ(cap, 70000);
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2050, WELFARE_CAP_STANDARD, &cap), 0);
    TEST_CHECK_EQ(cap, 7);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */

static void case_registry_funder(void) {
    wf_t *w = wf_open("welfare_funder");
    CHECK_RESULT(w_funder(w, F1, WELFARE_FUNDER_COMPANY), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_funder(w, F1, WELFARE_FUNDER_COMPANY), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_funder(w, F1, WELFARE_FUNDER_PUBLIC),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    /* account_id and number are filled by lookup and ignored on create. */
    welfare_funder_t same;
    memset(&same, 0, sizeof same);
    same.id = id128(F1);
    same.kind = WELFARE_FUNDER_COMPANY;
    same.account_id = id128(12345);
    same.number = 777;
    uint32_t result = UINT32_MAX;
    TEST_CHECK_EQ(welfare_create_funder(w->f.ledger, &same, &result), 0);
    CHECK_RESULT(result, WELFARE_RESULT_EXISTS);
    /* Ids and kinds. */
    EXPECT_REFUSED(w, w_funder(w, 0, WELFARE_FUNDER_COMPANY), WELFARE_RESULT_INVALID_FIELD);
    welfare_funder_t max;
    memset(&max, 0, sizeof max);
    max.id = id128_max();
    max.kind = WELFARE_FUNDER_COMPANY;
    EXPECT_REFUSED(w, w_funder_full(w, &max),
                   WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_funder(w, F2, 0), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_funder(w, F2, 3), WELFARE_RESULT_INVALID_FIELD);
    CHECK_RESULT(w_funder(w, F2, WELFARE_FUNDER_PUBLIC), WELFARE_RESULT_OK);
    /* Lookups. */
    welfare_funder_t f1 = wf_funder(w, F1);
    welfare_funder_t f2 = wf_funder(w, F2);
    TEST_CHECK_EQ(f1.kind, WELFARE_FUNDER_COMPANY);
    TEST_CHECK_EQ(f2.kind, WELFARE_FUNDER_PUBLIC);
    TEST_CHECK(ledger_u128_equal(f1.id, id128(F1)));
    TEST_CHECK(f1.number != 0);
    TEST_CHECK(f1.number != f2.number);
    TEST_CHECK(!ledger_u128_equal(f1.account_id, f2.account_id));
    TEST_CHECK_EQ(top32(f1.account_id), WELFARE_ACCOUNT_ID_TAG);
    ledger_account_t account = wf_account(w, f1.account_id);
    TEST_CHECK_EQ(account.code, WELFARE_ACCOUNT_FUNDER);
    TEST_CHECK_EQ(account.ledger, WELFARE_LEDGER);
    TEST_CHECK(account.flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    TEST_CHECK_EQ(account.credits_posted, 0);
    bool found = true;
    welfare_funder_t absent;
    TEST_CHECK_EQ(welfare_lookup_funder(w->f.ledger, id128(99), &absent, &found), 0);
    TEST_CHECK(!found);
    /* Refused ids were not created. */
    TEST_CHECK_EQ(welfare_lookup_funder(w->f.ledger, id128(0), &absent, &found), 0);
    TEST_CHECK(!found);
    wf_reopen(w);
    welfare_funder_t reopened = wf_funder(w, F2);
    TEST_CHECK_EQ(reopened.kind, WELFARE_FUNDER_PUBLIC);
    TEST_CHECK_EQ(reopened.number, f2.number);
    TEST_CHECK(ledger_u128_equal(reopened.account_id, f2.account_id));
    wf_close(w);
}

static void case_registry_provider(void) {
    wf_t *w = wf_open("welfare_provider");
    CHECK_RESULT(w_provider(w, P1, 500, WF_CATS_P1), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_provider(w, P1, 500, WF_CATS_P1), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_provider(w, P1, 501, WF_CATS_P1),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_provider(w, P1, 500, WF_CATS_DEFAULT),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    /* Fee: 0..10000 bps. */
    EXPECT_REFUSED(w, w_provider(w, P2, WELFARE_FEE_BPS_MAX + 1, CAT(7)),
                   WELFARE_RESULT_INVALID_FIELD);
    CHECK_RESULT(w_provider(w, P2, WELFARE_FEE_BPS_MAX, CAT(7)), WELFARE_RESULT_OK);
    CHECK_RESULT(w_provider(w, 13, 0, CAT(7)), WELFARE_RESULT_OK);
    /* Categories: not zero, 1..63, in the catalog. */
    EXPECT_REFUSED(w, w_provider(w, 14, 100, 0), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_provider(w, 14, 100, CAT(0) | CAT(7)), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_provider(w, 14, 100, CAT(20) | CAT(7)),
                   WELFARE_RESULT_CATEGORY_NOT_FOUND);
    EXPECT_REFUSED(w, w_provider(w, 14, 100, CAT(63)), WELFARE_RESULT_CATEGORY_NOT_FOUND);
    /* Ids. */
    EXPECT_REFUSED(w, w_provider(w, 0, 100, CAT(7)), WELFARE_RESULT_INVALID_FIELD);
    welfare_provider_t max;
    memset(&max, 0, sizeof max);
    max.id = id128_max();
    max.fee_bps = 100;
    max.categories = CAT(7);
    EXPECT_REFUSED(w, w_provider_full(w, &max),
                   WELFARE_RESULT_INVALID_FIELD);
    /* Lookups. */
    welfare_provider_t p1 = wf_provider(w, P1);
    welfare_provider_t p2 = wf_provider(w, P2);
    TEST_CHECK_EQ(p1.fee_bps, 500);
    TEST_CHECK_EQ(p1.categories, WF_CATS_P1);
    TEST_CHECK_EQ(p2.fee_bps, WELFARE_FEE_BPS_MAX);
    TEST_CHECK(p1.number != 0 && p1.number != p2.number);
    TEST_CHECK(!ledger_u128_equal(p1.account_id, p2.account_id));
    TEST_CHECK_EQ(top32(p1.account_id), WELFARE_ACCOUNT_ID_TAG);
    ledger_account_t account = wf_account(w, p1.account_id);
    TEST_CHECK_EQ(account.code, WELFARE_ACCOUNT_PROVIDER);
    TEST_CHECK_EQ(account.ledger, WELFARE_LEDGER);
    TEST_CHECK(account.flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    bool found = true;
    welfare_provider_t absent;
    TEST_CHECK_EQ(welfare_lookup_provider(w->f.ledger, id128(14), &absent, &found), 0);
    TEST_CHECK(!found);
    wf_close(w);
}

static void case_registry_employee(void) {
    wf_t *w = wf_open("welfare_employee");
    REQUIRE_OK(w_funder(w, F1, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_funder(w, F2, WELFARE_FUNDER_PUBLIC));
    CHECK_RESULT(w_employee(w, E1, F1), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_employee(w, E1, F1), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_employee(w, E1, F2), WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_employee(w, E2, 99), WELFARE_RESULT_FUNDER_NOT_FOUND);
    EXPECT_REFUSED(w, w_employee(w, 0, F1), WELFARE_RESULT_INVALID_FIELD);
    welfare_employee_t max;
    memset(&max, 0, sizeof max);
    max.id = id128_max();
    max.funder_id = id128(F1);
    EXPECT_REFUSED(w, w_employee_full(w, &max),
                   WELFARE_RESULT_INVALID_FIELD);
    /* A refused create is not remembered: the id works afterwards. */
    CHECK_RESULT(w_employee(w, E2, F2), WELFARE_RESULT_OK);
    welfare_employee_t e;
    bool found = false;
    TEST_CHECK_EQ(welfare_lookup_employee(w->f.ledger, id128(E2), &e, &found), 0);
    TEST_CHECK(found);
    TEST_CHECK(ledger_u128_equal(e.id, id128(E2)));
    TEST_CHECK(ledger_u128_equal(e.funder_id, id128(F2)));
    TEST_CHECK(!e.offboarded);
    TEST_CHECK_EQ(welfare_lookup_employee(w->f.ledger, id128(E3), &e, &found), 0);
    TEST_CHECK(!found);
    /* A new employee has an empty wallet. */
    welfare_wallet_t wallet = wf_wallet(w, E1);
    TEST_CHECK_EQ(wallet.pots_count, 0);
    TEST_CHECK(!wallet.offboarded);
    TEST_CHECK(ledger_u128_equal(wallet.employee_id, id128(E1)));
    TEST_CHECK(ledger_u128_equal(wallet.funder_id, id128(F1)));
    TEST_CHECK_EQ(welfare_wallet(w->f.ledger, id128(E3), &wallet, &found), 0);
    TEST_CHECK(!found);
    wf_close(w);
}

static bool plan_equal(const welfare_plan_t *a, const welfare_plan_t *b) {
    return ledger_u128_equal(a->id, b->id) && ledger_u128_equal(a->funder_id, b->funder_id) &&
           a->valid_from == b->valid_from && a->valid_until == b->valid_until &&
           a->categories == b->categories && a->expiry_policy == b->expiry_policy &&
           a->flags == b->flags && ledger_u128_equal(a->next_plan_id, b->next_plan_id) &&
           a->grant_limit_per_employee == b->grant_limit_per_employee;
}

static void case_registry_plan(void) {
    wf_t *w = wf_open("welfare_plan");
    REQUIRE_OK(w_funder(w, F1, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_funder(w, F2, WELFARE_FUNDER_PUBLIC));
    welfare_plan_t base = plan_make(PLAN_A, F1, WF_T2026, WF_T2027, WF_CATS_DEFAULT,
                                    WELFARE_EXPIRY_BACK_TO_FUNDER,
                                    WELFARE_PLAN_SPLIT_ALLOWED);
    base.grant_limit_per_employee = 50000;
    CHECK_RESULT(w_plan(w, &base), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_plan(w, &base), WELFARE_RESULT_EXISTS);
    welfare_plan_t changed;
    const uint32_t different = WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
    changed = base; changed.funder_id = id128(F2);
    EXPECT_REFUSED(w, w_plan(w, &changed), different);
    changed = base; changed.valid_from += 1;
    EXPECT_REFUSED(w, w_plan(w, &changed), different);
    changed = base; changed.valid_until += 1;
    EXPECT_REFUSED(w, w_plan(w, &changed), different);
    changed = base; changed.categories = CAT(7);
    EXPECT_REFUSED(w, w_plan(w, &changed), different);
    changed = base; changed.expiry_policy = WELFARE_EXPIRY_FORFEIT;
    EXPECT_REFUSED(w, w_plan(w, &changed), different);
    changed = base; changed.flags = 0;
    EXPECT_REFUSED(w, w_plan(w, &changed), different);
    changed = base; changed.grant_limit_per_employee = 0;
    EXPECT_REFUSED(w, w_plan(w, &changed), different);

    /* Fields. */
    const uint32_t invalid = WELFARE_RESULT_INVALID_FIELD;
    welfare_plan_t p = plan_make(32, F1, WF_T2026, WF_T2027, WF_CATS_DEFAULT,
                                 WELFARE_EXPIRY_FORFEIT, 0);
    changed = p; changed.id = id128(0);
    EXPECT_REFUSED(w, w_plan(w, &changed), invalid);
    changed = p; changed.id = id128_max();
    EXPECT_REFUSED(w, w_plan(w, &changed), invalid);
    changed = p; changed.valid_until = changed.valid_from; /* empty window */
    EXPECT_REFUSED(w, w_plan(w, &changed), invalid);
    changed = p; changed.valid_until = changed.valid_from - 1;
    EXPECT_REFUSED(w, w_plan(w, &changed), invalid);
    changed = p; changed.categories = 0;
    EXPECT_REFUSED(w, w_plan(w, &changed), invalid);
    changed = p; changed.categories = CAT(0) | CAT(7);
    EXPECT_REFUSED(w, w_plan(w, &changed), invalid);
    changed = p; changed.expiry_policy = 0;
    EXPECT_REFUSED(w, w_plan(w, &changed), invalid);
    changed = p; changed.expiry_policy = 4;
    EXPECT_REFUSED(w, w_plan(w, &changed), invalid);
    changed = p; changed.flags = 1u << 1;
    EXPECT_REFUSED(w, w_plan(w, &changed), invalid);
    changed = p; changed.next_plan_id = id128(PLAN_A); /* next plan without carry-over */
    EXPECT_REFUSED(w, w_plan(w, &changed), invalid);
    changed = p; changed.funder_id = id128(99);
    EXPECT_REFUSED(w, w_plan(w, &changed), WELFARE_RESULT_FUNDER_NOT_FOUND);
    changed = p; changed.categories = CAT(7) | CAT(20);
    EXPECT_REFUSED(w, w_plan(w, &changed), WELFARE_RESULT_CATEGORY_NOT_FOUND);
    /* Carry-over: the next plan exists, is of the same funder, is another. */
    changed = p; changed.expiry_policy = WELFARE_EXPIRY_CARRY_OVER;
    changed.next_plan_id = id128(99);
    EXPECT_REFUSED(w, w_plan(w, &changed), WELFARE_RESULT_NEXT_PLAN_INVALID);
    welfare_plan_t other = plan_make(40, F2, WF_T2027, WF_T2028, WF_CATS_DEFAULT,
                                     WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &other));
    changed.next_plan_id = id128(40);
    EXPECT_REFUSED(w, w_plan(w, &changed), WELFARE_RESULT_NEXT_PLAN_INVALID);
    changed.next_plan_id = changed.id; /* itself */
    EXPECT_REFUSED(w, w_plan(w, &changed), WELFARE_RESULT_NEXT_PLAN_INVALID);
    changed.next_plan_id = id128(PLAN_A);
    CHECK_RESULT(w_plan(w, &changed), WELFARE_RESULT_OK);
    /* The smallest window: one nanosecond. */
    welfare_plan_t tiny = plan_make(33, F1, WF_NOW, WF_NOW + 1, CAT(7),
                                    WELFARE_EXPIRY_FORFEIT, 0);
    CHECK_RESULT(w_plan(w, &tiny), WELFARE_RESULT_OK);
    /* Lookups give back every field. */
    welfare_plan_t read;
    bool found = false;
    TEST_CHECK_EQ(welfare_lookup_plan(w->f.ledger, id128(PLAN_A), &read, &found), 0);
    TEST_CHECK(found);
    TEST_CHECK(plan_equal(&read, &base));
    TEST_CHECK_EQ(welfare_lookup_plan(w->f.ledger, id128(32), &read, &found), 0);
    TEST_CHECK(found);
    TEST_CHECK(plan_equal(&read, &changed));
    TEST_CHECK_EQ(welfare_lookup_plan(w->f.ledger, id128(34), &read, &found), 0);
    TEST_CHECK(!found);
    wf_reopen(w);
    TEST_CHECK_EQ(welfare_lookup_plan(w->f.ledger, id128(33), &read, &found), 0);
    TEST_CHECK(found);
    TEST_CHECK(plan_equal(&read, &tiny));
    wf_close(w);
}

static void case_cap_class(void) {
    wf_t *w = world_open("welfare_cap_class");
    welfare_annual_statement_t a = wf_annual(w, E1, 2026);
    TEST_CHECK_EQ(a.year, 2026);
    TEST_CHECK_EQ(a.cap_class, WELFARE_CAP_STANDARD);
    TEST_CHECK_EQ(a.fringe_cap, 100000);
    CHECK_RESULT(w_cap_class(w, E1, 2026, WELFARE_CAP_WITH_CHILDREN), WELFARE_RESULT_OK);
    a = wf_annual(w, E1, 2026);
    TEST_CHECK_EQ(a.cap_class, WELFARE_CAP_WITH_CHILDREN);
    TEST_CHECK_EQ(a.fringe_cap, 200000);
    /* Per year: 2027 is still standard; 2028 has no row (the default). */
    TEST_CHECK_EQ(wf_annual(w, E1, 2027).fringe_cap, 100000);
    CHECK_RESULT(w_cap_class(w, E1, 2028, WELFARE_CAP_WITH_CHILDREN), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_annual(w, E1, 2028).fringe_cap, 25823);
    /* Per employee. */
    TEST_CHECK_EQ(wf_annual(w, E2, 2026).fringe_cap, 100000);
    /* A declaration may be changed. */
    CHECK_RESULT(w_cap_class(w, E1, 2026, WELFARE_CAP_STANDARD), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_annual(w, E1, 2026).fringe_cap, 100000);
    EXPECT_REFUSED(w, w_cap_class(w, E1, 2026, 2), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_cap_class(w, E1, 1999, WELFARE_CAP_STANDARD),
                   WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_cap_class(w, E1, 2200, WELFARE_CAP_STANDARD),
                   WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_cap_class(w, 99, 2026, WELFARE_CAP_STANDARD),
                   WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    TEST_CHECK_EQ(wf_annual(w, E1, 2026).cap_class, WELFARE_CAP_STANDARD);
    /* Annual statement arguments. */
    welfare_annual_statement_t s;
    TEST_CHECK_EQ(welfare_annual_statement(w->f.ledger, id128(E1), 1999, &s),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_annual_statement(w->f.ledger, id128(E1), 2200, &s),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_annual_statement(w->f.ledger, id128(99), 2026, &s),
                  LEDGER_ERR_ACCOUNT_NOT_FOUND);
    TEST_CHECK_EQ(welfare_annual_statement(w->f.ledger, id128(E1), 2000, &s), 0);
    TEST_CHECK_EQ(welfare_annual_statement(w->f.ledger, id128(E1), 2199, &s), 0);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Fund and grant                                                           */

static void case_fund(void) {
    wf_t *w = wf_open("welfare_fund");
    REQUIRE_OK(w_funder(w, F1, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_funder(w, F2, WELFARE_FUNDER_PUBLIC));
    CHECK_RESULT(w_fund(w, 1001, F1, 250000), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_funds(w, F1), 250000);
    TEST_CHECK_EQ(wf_bank(w), 250000);
    EXPECT_REFUSED(w, w_fund(w, 1001, F1, 250000), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_fund(w, 1001, F1, 250001), WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_fund(w, 1001, F2, 250000), WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_fund(w, 1002, F1, 0), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_fund(w, 0, F1, 1), WELFARE_RESULT_INVALID_FIELD);
    welfare_fund_t max;
    memset(&max, 0, sizeof max);
    max.id = id128_max();
    max.funder_id = id128(F1);
    max.amount = 1;
    EXPECT_REFUSED(w, w_fund_full(w, &max),
                   WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_fund(w, 1002, 99, 1), WELFARE_RESULT_FUNDER_NOT_FOUND);
    /* Refused ids are not remembered. */
    CHECK_RESULT(w_fund(w, 1002, F2, 1), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_funds(w, F2), 1);
    TEST_CHECK_EQ(wf_funds(w, F1), 250000);
    TEST_CHECK_EQ(wf_bank(w), 250001);
    /* The posting: bank -> funds, code FUND, user data as documented. */
    welfare_funder_t f2 = wf_funder(w, F2);
    ledger_history_filter_t filter;
    memset(&filter, 0, sizeof filter);
    filter.account_id = f2.account_id;
    filter.limit = 10;
    filter.flags = LEDGER_HISTORY_CREDITS | LEDGER_HISTORY_DEBITS;
    ledger_history_entry_t entries[10];
    uint32_t count = 0;
    TEST_CHECK_EQ(ledger_account_history(w->f.ledger, &filter, entries, &count), 0);
    TEST_CHECK_EQ(count, 1);
    if (count == 1) {
        const ledger_transfer_t *t = &entries[0].transfer;
        TEST_CHECK_EQ(t->code, WELFARE_POSTING_FUND);
        TEST_CHECK_EQ(t->ledger, WELFARE_LEDGER);
        TEST_CHECK_EQ(t->amount, 1);
        TEST_CHECK_EQ(top32(t->id), WELFARE_TRANSFER_ID_TAG);
        TEST_CHECK(ledger_u128_equal(t->debit_account_id, w->platform.bank_account_id));
        TEST_CHECK(ledger_u128_equal(t->credit_account_id, f2.account_id));
        TEST_CHECK(ledger_u128_equal(t->user_data_128, id128(1002)));
        TEST_CHECK_EQ(t->user_data_32, f2.number);
    }
    welfare_funder_statement_t s = wf_funder_statement(w, F1, 0, 0);
    TEST_CHECK_EQ(s.funded, 250000);
    TEST_CHECK_EQ(s.funds_balance, 250000);
    wf_close(w);
}

/* Totals that would pass 2^64 are refused with OVERFLOW, and change
 * nothing; a refund that would overflow the pot's credits too. */
static void case_overflow(void) {
    wf_t *w = wf_open("welfare_overflow");
    const uint64_t half = UINT64_C(1) << 63;
    REQUIRE_OK(w_funder(w, F1, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_funder(w, F2, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_provider(w, P2, 0, CAT(CAT_RECREATION)));
    REQUIRE_OK(w_employee(w, E1, F1));
    REQUIRE_OK(w_plan_2026(w, PLAN_A, F1, WELFARE_EXPIRY_BACK_TO_FUNDER, 0));
    CHECK_RESULT(w_fund(w, 1001, F1, half), WELFARE_RESULT_OK);
    CHECK_RESULT(w_grant(w, 2001, PLAN_A, E1, half), WELFARE_RESULT_OK);
    CHECK_RESULT(w_purchase(w, 3001, E1, P2, CAT_RECREATION, half), WELFARE_RESULT_OK);
    /* The pot's credits_posted would reach 2^64. */
    EXPECT_REFUSED(w, w_refund(w, 6001, 3001, half), WELFARE_RESULT_OVERFLOW);
    /* The bank's debits would reach 2^64; one less fits exactly. */
    EXPECT_REFUSED(w, w_fund(w, 1002, F2, half), WELFARE_RESULT_OVERFLOW);
    CHECK_RESULT(w_fund(w, 1002, F2, half - 1), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_fund(w, 1003, F1, 1), WELFARE_RESULT_OVERFLOW);
    EXPECT_REFUSED(w, w_fund(w, 1003, F2, 1), WELFARE_RESULT_OVERFLOW);
    TEST_CHECK_EQ(wf_funds(w, F2), (int64_t)(half - 1));
    wf_close(w);
}

static void case_grant(void) {
    wf_t *w = world_open("welfare_grant");
    CHECK_RESULT(w_grant(w, 2001, PLAN_A, E1, 1000), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_funds(w, F1), F1_FUNDED - 1000);
    welfare_wallet_t wallet = wf_wallet(w, E1);
    TEST_CHECK_EQ(wallet.pots_count, 1);
    welfare_pot_t pot = wallet.pots[0];
    TEST_CHECK(ledger_u128_equal(pot.plan_id, id128(PLAN_A)));
    TEST_CHECK_EQ(pot.available, 1000);
    TEST_CHECK_EQ(pot.held, 0);
    TEST_CHECK_EQ(pot.balance, 1000);
    TEST_CHECK_EQ(pot.granted, 1000);
    TEST_CHECK_EQ(pot.valid_from, WF_T2026);
    TEST_CHECK_EQ(pot.valid_until, WF_T2027);
    TEST_CHECK_EQ(pot.categories, WF_CATS_DEFAULT);
    TEST_CHECK(!pot.expired);
    TEST_CHECK(!pot.closed);
    TEST_CHECK_EQ(top32(pot.account_id), WELFARE_ACCOUNT_ID_TAG);
    ledger_account_t account = wf_account(w, pot.account_id);
    TEST_CHECK_EQ(account.code, WELFARE_ACCOUNT_POT);
    TEST_CHECK_EQ(account.ledger, WELFARE_LEDGER);
    TEST_CHECK(account.flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    TEST_CHECK_EQ(account.credits_posted, 1000);
    /* Idempotency per (grant id, employee). */
    welfare_plan_t plan_b = plan_make(33, F1, WF_T2026, WF_T2027, CAT(7),
                                      WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &plan_b));
    EXPECT_REFUSED(w, w_grant(w, 2001, PLAN_A, E1, 1000), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_grant(w, 2001, PLAN_A, E1, 999),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_grant(w, 2001, 33, E1, 1000),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    /* A second grant adds to the same pot. */
    CHECK_RESULT(w_grant(w, 2002, PLAN_A, E1, 500), WELFARE_RESULT_OK);
    wallet = wf_wallet(w, E1);
    TEST_CHECK_EQ(wallet.pots_count, 1);
    TEST_CHECK_EQ(wallet.pots[0].granted, 1500);
    TEST_CHECK_EQ(wallet.pots[0].balance, 1500);
    /* Fields and references. */
    EXPECT_REFUSED(w, w_grant(w, 0, PLAN_A, E1, 1), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_grant(w, 2003, PLAN_A, E1, 0), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_grant(w, 2003, 999, E1, 1), WELFARE_RESULT_PLAN_NOT_FOUND);
    EXPECT_REFUSED(w, w_grant(w, 2003, PLAN_A, 99, 1), WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    EXPECT_REFUSED(w, w_grant(w, 2003, PLAN_A, E3, 1),
                   WELFARE_RESULT_EMPLOYEE_OF_ANOTHER_FUNDER);
    /* A plan that has not started may be granted ahead... */
    welfare_plan_t future = plan_make(34, F1, WF_NOW + 10 * WF_DAY, WF_NOW + 40 * WF_DAY,
                                      CAT(7), WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &future));
    CHECK_RESULT(w_grant(w, 2004, 34, E2, 700), WELFARE_RESULT_OK);
    welfare_pot_t ahead = wf_pot(w, E2, 34);
    TEST_CHECK_EQ(ahead.balance, 700);
    TEST_CHECK_EQ(ahead.granted, 700);
    TEST_CHECK(!ahead.expired);
    /* ...but not one that has ended. */
    welfare_plan_t old = plan_make(35, F1, WF_T2025, WF_T2026, CAT(7),
                                   WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &old));
    EXPECT_REFUSED(w, w_grant(w, 2005, 35, E2, 1), WELFARE_RESULT_POT_EXPIRED);
    TEST_CHECK(!wf_has_pot(w, E2, 35));
    /* Arguments. */
    welfare_grant_entry_t entry = {id128(E1), 1};
    uint32_t result = UINT32_MAX;
    ledger_stats_t before = fixture_stats(&w->f);
    TEST_CHECK_EQ(welfare_grant(w->f.ledger, id128(2006), id128(PLAN_A), &entry, 0, &result),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_grant(w->f.ledger, id128(2006), id128(PLAN_A), NULL, 1, &result),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_grant(w->f.ledger, id128(2006), id128(PLAN_A), &entry, 1, NULL),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(fixture_stats(&w->f).journal_sequence, before.journal_sequence);
    wf_close(w);
}

/* Several entries: each its own chain and result; resubmitting the whole
 * grant gives EXISTS for the done ones and applies the others. */
static void case_grant_bulk(void) {
    wf_t *w = world_open("welfare_grant_bulk");
    welfare_grant_entry_t entries[4] = {
        {id128(E1), 100}, {id128(40), 200}, {id128(E2), 300}, {id128(E3), 400}};
    uint32_t results[4] = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX};
    TEST_CHECK_EQ(welfare_grant(w->f.ledger, id128(2001), id128(PLAN_A), entries, 4, results), 0);
    CHECK_RESULT(results[0], WELFARE_RESULT_OK);
    CHECK_RESULT(results[1], WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    CHECK_RESULT(results[2], WELFARE_RESULT_OK);
    CHECK_RESULT(results[3], WELFARE_RESULT_EMPLOYEE_OF_ANOTHER_FUNDER);
    TEST_CHECK_EQ(wf_funds(w, F1), F1_FUNDED - 400);
    REQUIRE_OK(w_employee(w, 40, F1));
    TEST_CHECK_EQ(welfare_grant(w->f.ledger, id128(2001), id128(PLAN_A), entries, 4, results), 0);
    CHECK_RESULT(results[0], WELFARE_RESULT_EXISTS);
    CHECK_RESULT(results[1], WELFARE_RESULT_OK);
    CHECK_RESULT(results[2], WELFARE_RESULT_EXISTS);
    CHECK_RESULT(results[3], WELFARE_RESULT_EMPLOYEE_OF_ANOTHER_FUNDER);
    TEST_CHECK_EQ(wf_funds(w, F1), F1_FUNDED - 600);
    CHECK_POT(w, E1, PLAN_A, 100, 0, 100);
    CHECK_POT(w, 40, PLAN_A, 200, 0, 200);
    CHECK_POT(w, E2, PLAN_A, 300, 0, 300);
    /* Insufficient funds: exact balance passes, then nothing more; in bulk
     * the entries after the money ran out are refused one by one. */
    REQUIRE_OK(w_fund(w, 1002, F2, 250));
    REQUIRE_OK(w_employee(w, 41, F2));
    REQUIRE_OK(w_employee(w, 42, F2));
    EXPECT_REFUSED(w, w_grant(w, 2002, PLAN_F2, E3, 251), WELFARE_RESULT_INSUFFICIENT_FUNDS);
    welfare_grant_entry_t f2_entries[3] = {{id128(E3), 100}, {id128(41), 150}, {id128(42), 1}};
    TEST_CHECK_EQ(
        welfare_grant(w->f.ledger, id128(2003), id128(PLAN_F2), f2_entries, 3, results), 0);
    CHECK_RESULT(results[0], WELFARE_RESULT_OK);
    CHECK_RESULT(results[1], WELFARE_RESULT_OK);
    CHECK_RESULT(results[2], WELFARE_RESULT_INSUFFICIENT_FUNDS);
    TEST_CHECK_EQ(wf_funds(w, F2), 0);
    TEST_CHECK(!wf_has_pot(w, 42, PLAN_F2));
    EXPECT_REFUSED(w, w_grant(w, 2004, PLAN_F2, E3, 1), WELFARE_RESULT_INSUFFICIENT_FUNDS);
    wf_close(w);
}

/* The per-employee limit of a plan, at the bound. */
static void case_grant_limit(void) {
    wf_t *w = world_open("welfare_grant_limit");
    welfare_plan_t limited = plan_make(33, F1, WF_T2026, WF_T2027, WF_CATS_DEFAULT,
                                       WELFARE_EXPIRY_FORFEIT, 0);
    limited.grant_limit_per_employee = 50000;
    REQUIRE_OK(w_plan(w, &limited));
    CHECK_RESULT(w_grant(w, 2001, 33, E1, 30000), WELFARE_RESULT_OK);
    CHECK_RESULT(w_grant(w, 2002, 33, E1, 20000), WELFARE_RESULT_OK); /* exactly the limit */
    EXPECT_REFUSED(w, w_grant(w, 2003, 33, E1, 1), WELFARE_RESULT_GRANT_LIMIT_EXCEEDED);
    EXPECT_REFUSED(w, w_grant(w, 2004, 33, E2, 50001), WELFARE_RESULT_GRANT_LIMIT_EXCEEDED);
    CHECK_RESULT(w_grant(w, 2004, 33, E2, 50000), WELFARE_RESULT_OK);
    /* The limit counts grants, not the balance: spending does not reopen it. */
    REQUIRE_OK(w_purchase(w, 3001, E1, P2, CAT_RECREATION, 10000));
    TEST_CHECK_EQ(wf_pot(w, E1, 33).balance, 40000);
    EXPECT_REFUSED(w, w_grant(w, 2005, 33, E1, 1), WELFARE_RESULT_GRANT_LIMIT_EXCEEDED);
    /* No limit on PLAN_A (0). */
    CHECK_RESULT(w_grant(w, 2006, PLAN_A, E1, 900000), WELFARE_RESULT_OK);
    wf_close(w);
}

/* An employee holds at most 16 pots; offboarded employees get POT_CLOSED. */
static void case_grant_pots_bound(void) {
    wf_t *w = world_open("welfare_grant_pots");
    for (uint32_t i = 0; i < WELFARE_POTS_PER_EMPLOYEE_MAX; i++) {
        welfare_plan_t plan = plan_make(100 + i, F1, WF_T2026, WF_T2027 + i, CAT(7),
                                        WELFARE_EXPIRY_FORFEIT, 0);
        REQUIRE_OK(w_plan(w, &plan));
        CHECK_RESULT(w_grant(w, 2001 + i, 100 + i, E1, 10), WELFARE_RESULT_OK);
    }
    welfare_plan_t extra = plan_make(100 + WELFARE_POTS_PER_EMPLOYEE_MAX, F1, WF_T2026,
                                     WF_T2028, CAT(7), WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &extra));
    EXPECT_REFUSED(w, w_grant(w, 2100, 100 + WELFARE_POTS_PER_EMPLOYEE_MAX, E1, 10),
                   WELFARE_RESULT_TOO_MANY_POTS);
    welfare_wallet_t wallet = wf_wallet(w, E1);
    TEST_CHECK_EQ(wallet.pots_count, WELFARE_POTS_PER_EMPLOYEE_MAX);
    /* Earliest expiry first. */
    for (uint32_t i = 1; i < wallet.pots_count && i < WELFARE_POTS_PER_EMPLOYEE_MAX; i++) {
        TEST_CHECK(wallet.pots[i - 1].valid_until < wallet.pots[i].valid_until);
    }
    /* Granting into an existing pot still works at the bound. */
    CHECK_RESULT(w_grant(w, 2101, 100, E1, 10), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_pot(w, E1, 100).balance, 20);
    /* Offboarded: POT_CLOSED for an existing pot and for a new plan. */
    REQUIRE_OK(w_grant(w, 2102, PLAN_A, E2, 10));
    welfare_sweep_report_t report;
    REQUIRE_OK(w_offboard(w, 9001, E2, &report));
    EXPECT_REFUSED(w, w_grant(w, 2103, PLAN_A, E2, 10), WELFARE_RESULT_POT_CLOSED);
    EXPECT_REFUSED(w, w_grant(w, 2104, 100, E2, 10), WELFARE_RESULT_POT_CLOSED);
    wf_close(w);
}

/* WELFARE_GRANT_EMPLOYEES_MAX entries in one grant; one more is refused. */
static void case_grant_bulk_bound(void) {
    wf_t *w = wf_open("welfare_grant_bound");
    const uint32_t max = WELFARE_GRANT_EMPLOYEES_MAX;
    REQUIRE_OK(w_funder(w, F1, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_plan_2026(w, PLAN_A, F1, WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_fund(w, 1001, F1, 10 * (uint64_t)max));
    welfare_grant_entry_t *entries = calloc(max + 1, sizeof *entries);
    uint32_t *results = calloc(max + 1, sizeof *results);
    TEST_REQUIRE(entries != NULL && results != NULL);
    TEST_REQUIRE(ledger_write_begin(w->f.ledger) == 0);
    for (uint32_t i = 0; i <= max; i++) {
        welfare_employee_t e;
        memset(&e, 0, sizeof e);
        e.id = id128(100000 + i);
        e.funder_id = id128(F1);
        uint32_t result = UINT32_MAX;
        TEST_REQUIRE(welfare_create_employee(w->f.ledger, &e, &result) == 0);
        TEST_REQUIRE(result == WELFARE_RESULT_OK);
        entries[i].employee_id = e.id;
        entries[i].amount = 1 + (i % 7);
    }
    TEST_REQUIRE(ledger_write_commit(w->f.ledger) == 0);
    ledger_stats_t before = fixture_stats(&w->f);
    TEST_CHECK_EQ(welfare_grant(w->f.ledger, id128(2001), id128(PLAN_A), entries, max + 1,
                                results),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(fixture_stats(&w->f).journal_sequence, before.journal_sequence);
    TEST_CHECK_EQ(wf_funds(w, F1), 10 * (int64_t)max);
    for (uint32_t i = 0; i <= max; i++) results[i] = UINT32_MAX;
    TEST_CHECK_EQ(welfare_grant(w->f.ledger, id128(2001), id128(PLAN_A), entries, max,
                                results),
                  0);
    uint64_t total = 0;
    uint32_t ok = 0;
    for (uint32_t i = 0; i < max; i++) {
        if (results[i] == WELFARE_RESULT_OK) ok++;
        total += entries[i].amount;
    }
    TEST_CHECK_EQ(ok, max);
    TEST_CHECK_EQ(results[max], UINT32_MAX); /* nothing written past count */
    TEST_CHECK_EQ(wf_funds(w, F1), 10 * (int64_t)max - (int64_t)total);
    CHECK_POT(w, 100000, PLAN_A, 1, 0, 1);
    CHECK_POT(w, 100000 + max - 1, PLAN_A, entries[max - 1].amount, 0,
              entries[max - 1].amount);
    TEST_CHECK(!wf_has_pot(w, 100000 + max, PLAN_A));
    welfare_funder_statement_t s = wf_funder_statement(w, F1, 0, 0);
    TEST_CHECK_EQ(s.granted, total);
    TEST_CHECK_EQ(s.pots_balance, total);
    free(entries);
    free(results);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Purchase                                                                 */

static void case_purchase_checks(void) {
    wf_t *w = world_open("welfare_purchase_checks");
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 50000));
    const uint32_t invalid = WELFARE_RESULT_INVALID_FIELD;
    welfare_purchase_t p = purchase_make(3001, E1, P1, CAT_RECREATION, 100, 0);
    welfare_purchase_t bad;
    bad = p; bad.id = id128(0);
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), invalid);
    bad = p; bad.id = id128_max();
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), invalid);
    bad = p; bad.amount = 0;
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), invalid);
    bad = p; bad.category = 0;
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), invalid);
    bad = p; bad.category = 64;
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), invalid);
    bad = p; bad.hold_timeout_s = WELFARE_HOLD_TIMEOUT_MAX_S + 1;
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), invalid);
    /* References, in the documented order. */
    bad = p; bad.employee_id = id128(99); bad.provider_id = id128(99);
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    bad = p; bad.provider_id = id128(99); bad.category = 20;
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), WELFARE_RESULT_PROVIDER_NOT_FOUND);
    bad = p; bad.category = 20; bad.provider_id = id128(P2);
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), WELFARE_RESULT_CATEGORY_NOT_FOUND);
    bad = p; bad.category = WELFARE_CATEGORY_ID_MAX; /* in range, not in the catalog */
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), WELFARE_RESULT_CATEGORY_NOT_FOUND);
    bad = p; bad.provider_id = id128(P2); bad.category = CAT_HEALTH;
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), WELFARE_RESULT_CATEGORY_NOT_SOLD_BY_PROVIDER);
    bad = p; bad.category = CAT_SUMMER_CAMPS;
    EXPECT_REFUSED(w, w_purchase_full(w, &bad), WELFARE_RESULT_CATEGORY_NOT_SOLD_BY_PROVIDER);
    /* Sold by the provider but allowed by none of the employee's plans. */
    welfare_plan_t only_7 = plan_make(33, F1, WF_T2026, WF_T2027, CAT(CAT_RECREATION),
                                      WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &only_7));
    REQUIRE_OK(w_grant(w, 2002, 33, E2, 5000));
    EXPECT_REFUSED(w, w_purchase_full(w, &(welfare_purchase_t){
                                             .id = id128(3002), .employee_id = id128(E2),
                                             .provider_id = id128(P1),
                                             .category = CAT_HEALTH, .amount = 1}),
                   WELFARE_RESULT_CATEGORY_NOT_ALLOWED_BY_PLAN);
    /* An employee without any pot. */
    EXPECT_REFUSED(w, w_purchase(w, 3002, E4, P1, CAT_HEALTH, 1),
                   WELFARE_RESULT_NO_ELIGIBLE_POT);
    /* Not started: the only pot allowing health starts in 10 days. */
    welfare_plan_t later = plan_make(34, F1, WF_NOW + 10 * WF_DAY, WF_NOW + 40 * WF_DAY,
                                     CAT(CAT_HEALTH), WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &later));
    REQUIRE_OK(w_grant(w, 2003, 34, E2, 5000));
    EXPECT_REFUSED(w, w_purchase(w, 3002, E2, P1, CAT_HEALTH, 1),
                   WELFARE_RESULT_PLAN_NOT_STARTED);
    /* Recreation is allowed by the running plan 33. */
    CHECK_RESULT(w_purchase(w, 3002, E2, P1, CAT_RECREATION, 1), WELFARE_RESULT_OK);
    /* Insufficient, at the bound. */
    EXPECT_REFUSED(w, w_purchase(w, 3003, E1, P1, CAT_RECREATION, 50001),
                   WELFARE_RESULT_INSUFFICIENT_POT_BALANCE);
    /* The cap comes before the balance (fringe, above both). */
    EXPECT_REFUSED(w, w_purchase(w, 3003, E1, P1, CAT_SHOPPING_VOUCHERS, 100001),
                   WELFARE_RESULT_FRINGE_CAP_EXCEEDED);
    CHECK_RESULT(w_purchase(w, 3003, E1, P1, CAT_RECREATION, 50000), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 0, 0, 0);
    /* The maximal hold timeout is accepted. */
    REQUIRE_OK(w_grant(w, 2004, PLAN_A, E1, 100));
    CHECK_RESULT(w_hold(w, 3004, E1, P1, CAT_RECREATION, 10, WELFARE_HOLD_TIMEOUT_MAX_S),
                 WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 90, 10, 100);
    /* Idempotency: the same purchase, or a different one under its id. */
    EXPECT_REFUSED(w, w_purchase(w, 3003, E1, P1, CAT_RECREATION, 50000),
                   WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_purchase(w, 3003, E1, P1, CAT_RECREATION, 49999),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_purchase(w, 3003, E1, P1, CAT_HEALTH, 50000),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_purchase(w, 3003, E2, P1, CAT_RECREATION, 50000),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    welfare_purchase_t again = purchase_make(3003, E1, P1, CAT_RECREATION, 50000, 0);
    again.reference = id128(77);
    EXPECT_REFUSED(w, w_purchase_full(w, &again), WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    again = purchase_make(3003, E1, P1, CAT_RECREATION, 50000, 60);
    EXPECT_REFUSED(w, w_purchase_full(w, &again), WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    /* An operation id is one id: a used fund id is not a new purchase. */
    EXPECT_REFUSED(w, w_purchase(w, 1001, E1, P1, CAT_RECREATION, 1),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    /* Offboarded: POT_CLOSED, before the provider is even looked at. */
    REQUIRE_OK(w_offboard(w, 9001, E5, NULL));
    EXPECT_REFUSED(w, w_purchase(w, 3005, E5, 99, CAT_RECREATION, 1),
                   WELFARE_RESULT_POT_CLOSED);
    wf_close(w);
}

/* The plan window, to the nanosecond: [valid_from, valid_until). Then the
 * pot of an ended plan, and a mix of ended and not started. */
static void case_purchase_window(void) {
    wf_t *w = world_open("welfare_purchase_window");
    const uint64_t from = WF_NOW + WF_HOUR;
    const uint64_t until = WF_NOW + 2 * WF_HOUR;
    welfare_plan_t window = plan_make(33, F1, from, until, CAT(CAT_TRANSPORT),
                                      WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &window));
    REQUIRE_OK(w_grant(w, 2001, 33, E1, 1000));
    /* A plan that started already and ends within the hour: health only. */
    welfare_plan_t ending = plan_make(34, F1, WF_T2026, WF_NOW + 30 * 60 * WF_NS_PER_S,
                                      CAT(CAT_HEALTH), WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &ending));
    REQUIRE_OK(w_grant(w, 2002, 34, E2, 1000));
    /* And health not started yet for E2. */
    welfare_plan_t future = plan_make(35, F1, WF_NOW + 5 * WF_DAY, WF_NOW + 9 * WF_DAY,
                                      CAT(CAT_HEALTH), WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &future));
    REQUIRE_OK(w_grant(w, 2003, 35, E2, 1000));

    w->f.now_ns = from - 1;
    EXPECT_REFUSED(w, w_purchase(w, 3001, E1, P1, CAT_TRANSPORT, 1),
                   WELFARE_RESULT_PLAN_NOT_STARTED);
    TEST_CHECK_EQ(wf_pot(w, E1, 33).available, 0);
    w->f.now_ns = from;
    CHECK_RESULT(w_purchase(w, 3001, E1, P1, CAT_TRANSPORT, 1), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_pot(w, E1, 33).available, 999);
    w->f.now_ns = until - 1;
    CHECK_RESULT(w_purchase(w, 3002, E1, P1, CAT_TRANSPORT, 1), WELFARE_RESULT_OK);
    w->f.now_ns = until;
    EXPECT_REFUSED(w, w_purchase(w, 3003, E1, P1, CAT_TRANSPORT, 1),
                   WELFARE_RESULT_POT_EXPIRED);
    welfare_pot_t pot = wf_pot(w, E1, 33);
    TEST_CHECK(pot.expired);
    TEST_CHECK_EQ(pot.available, 0);
    TEST_CHECK_EQ(pot.balance, 998);
    EXPECT_REFUSED(w, w_grant(w, 2004, 33, E1, 1), WELFARE_RESULT_POT_EXPIRED);
    w->f.now_ns = WF_NOW + 5 * WF_DAY;
    CHECK_RESULT(w_purchase(w, 3003, E2, P1, CAT_HEALTH, 1), WELFARE_RESULT_OK);
    CHECK_POT(w, E2, 35, 999, 0, 999);
    wf_close(w);
}

/* The fee: floor(amount × bps / 10000), from the payable to the fees. */
static void case_purchase_fee(void) {
    wf_t *w = world_open("welfare_purchase_fee");
    REQUIRE_OK(w_provider(w, 13, WELFARE_FEE_BPS_MAX, CAT(CAT_RECREATION)));
    REQUIRE_OK(w_provider(w, 14, 9999, CAT(CAT_RECREATION)));
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 100000));
    CHECK_RESULT(w_purchase(w, 3001, E1, P1, CAT_RECREATION, 10001), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_payable(w, P1), 10001 - 500); /* floor(500.05) */
    TEST_CHECK_EQ(wf_fees(w), 500);
    CHECK_POT(w, E1, PLAN_A, 89999, 0, 89999);
    CHECK_RESULT(w_purchase(w, 3002, E1, P1, CAT_RECREATION, 19), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_payable(w, P1), 9501 + 19); /* floor(0.95) = 0: no fee */
    TEST_CHECK_EQ(wf_fees(w), 500);
    CHECK_RESULT(w_purchase(w, 3003, E1, P1, CAT_RECREATION, 20), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_payable(w, P1), 9520 + 19);
    TEST_CHECK_EQ(wf_fees(w), 501);
    /* 100%: the provider gets nothing; 0%: everything. */
    CHECK_RESULT(w_purchase(w, 3004, E1, 13, CAT_RECREATION, 1234), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_payable(w, 13), 0);
    TEST_CHECK_EQ(wf_fees(w), 501 + 1234);
    CHECK_RESULT(w_purchase(w, 3005, E1, P2, CAT_RECREATION, 1234), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_payable(w, P2), 1234);
    TEST_CHECK_EQ(wf_fees(w), 501 + 1234);
    /* amount × bps does not fit 64 bits: 10^16 × 9999. */
    const uint64_t big = UINT64_C(10000000000000000);
    REQUIRE_OK(w_fund(w, 1002, F2, big));
    REQUIRE_OK(w_grant(w, 2002, PLAN_F2, E3, big));
    CHECK_RESULT(w_purchase(w, 3006, E3, 14, CAT_RECREATION, big), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_payable(w, 14), (int64_t)(big / 10000));
    TEST_CHECK_EQ(wf_fees(w), (int64_t)(501 + 1234 + big / 10000 * 9999));
    /* Provider statements agree. */
    welfare_provider_statement_t s = wf_provider_statement(w, P1, 0, 0);
    TEST_CHECK_EQ(s.sales, 10001 + 19 + 20);
    TEST_CHECK_EQ(s.fees, 501);
    TEST_CHECK_EQ(s.payable, 9539);
    TEST_CHECK_EQ(s.refunds, 0);
    TEST_CHECK_EQ(s.payouts, 0);
    welfare_funder_statement_t f = wf_funder_statement(w, F1, 0, 0);
    TEST_CHECK_EQ(f.spent, 10001 + 19 + 20 + 1234 + 1234);
    TEST_CHECK_EQ(f.spent_by_category[CAT_RECREATION], f.spent);
    TEST_CHECK_EQ(f.fees, 501 + 1234);
    TEST_CHECK_EQ(f.fees_returned, 0);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Pot selection                                                            */

static void case_pot_selection(void) {
    wf_t *w = world_open("welfare_pot_selection");
    const uint32_t split = WELFARE_PLAN_SPLIT_ALLOWED;
    const uint32_t forfeit = WELFARE_EXPIRY_FORFEIT;
    const uint64_t c7 = CAT(CAT_RECREATION);
    /* E1: A (split, earliest), B (no split), C (split, latest). */
    REQUIRE_OK(w_plan_until(w, 41, WF_NOW + 30 * WF_DAY, c7, forfeit, split));
    REQUIRE_OK(w_plan_until(w, 42, WF_NOW + 60 * WF_DAY, c7, forfeit, 0));
    REQUIRE_OK(w_plan_until(w, 43, WF_NOW + 90 * WF_DAY, c7, forfeit, split));
    REQUIRE_OK(w_grant(w, 2001, 43, E1, 3000));
    REQUIRE_OK(w_grant(w, 2001, 42, E2, 1)); /* another employee, same grant id */
    REQUIRE_OK(w_grant(w, 2002, 41, E1, 1000));
    REQUIRE_OK(w_grant(w, 2003, 42, E1, 5000));
    welfare_wallet_t wallet = wf_wallet(w, E1);
    TEST_CHECK_EQ(wallet.pots_count, 3);
    TEST_CHECK(ledger_u128_equal(wallet.pots[0].plan_id, id128(41)));
    TEST_CHECK(ledger_u128_equal(wallet.pots[1].plan_id, id128(42)));
    TEST_CHECK(ledger_u128_equal(wallet.pots[2].plan_id, id128(43)));
    /* The earliest pot covers: it alone. */
    CHECK_RESULT(w_purchase(w, 3001, E1, P2, CAT_RECREATION, 800), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, 41, 200, 0, 200);
    CHECK_POT(w, E1, 42, 5000, 0, 5000);
    CHECK_POT(w, E1, 43, 3000, 0, 3000);
    /* It does not; the split pots A + C cover together: split, earliest
     * first, even though B alone would cover. */
    CHECK_RESULT(w_purchase(w, 3002, E1, P2, CAT_RECREATION, 3100), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, 41, 0, 0, 0);
    CHECK_POT(w, E1, 42, 5000, 0, 5000);
    CHECK_POT(w, E1, 43, 100, 0, 100);
    /* Neither: the earliest pot covering alone (B). */
    CHECK_RESULT(w_purchase(w, 3003, E1, P2, CAT_RECREATION, 4000), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, 41, 0, 0, 0);
    CHECK_POT(w, E1, 42, 1000, 0, 1000);
    CHECK_POT(w, E1, 43, 100, 0, 100);
    /* 1100 is available in total, but B does not split. */
    EXPECT_REFUSED(w, w_purchase(w, 3004, E1, P2, CAT_RECREATION, 1100),
                   WELFARE_RESULT_INSUFFICIENT_POT_BALANCE);
    /* The earliest (A, empty) does not cover; the split pots do (C). */
    CHECK_RESULT(w_purchase(w, 3004, E1, P2, CAT_RECREATION, 100), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, 42, 1000, 0, 1000);
    CHECK_POT(w, E1, 43, 0, 0, 0);

    /* E2: ties on valid_until go by plan id; a pot of another category,
     * one not started and held credit are not spendable. */
    REQUIRE_OK(w_plan_until(w, 45, WF_NOW + 20 * WF_DAY, c7, forfeit, 0));
    REQUIRE_OK(w_plan_until(w, 44, WF_NOW + 20 * WF_DAY, c7, forfeit, 0));
    REQUIRE_OK(w_plan_until(w, 46, WF_NOW + 5 * WF_DAY, CAT(CAT_HEALTH), forfeit, 0));
    welfare_plan_t later = plan_make(47, F1, WF_NOW + WF_DAY, WF_NOW + 2 * WF_DAY, c7,
                                     forfeit, 0);
    REQUIRE_OK(w_plan(w, &later));
    REQUIRE_OK(w_grant(w, 2004, 45, E2, 500));
    REQUIRE_OK(w_grant(w, 2005, 44, E2, 500));
    REQUIRE_OK(w_grant(w, 2006, 46, E2, 1000));
    REQUIRE_OK(w_grant(w, 2007, 47, E2, 1000));
    wallet = wf_wallet(w, E2);
    TEST_CHECK_EQ(wallet.pots_count, 5);
    /* 47 (ends in 2 days), 46 (5 days), 44 and 45 (20 days), 42 (60 days). */
    TEST_CHECK(ledger_u128_equal(wallet.pots[0].plan_id, id128(47)));
    TEST_CHECK(ledger_u128_equal(wallet.pots[1].plan_id, id128(46)));
    TEST_CHECK(ledger_u128_equal(wallet.pots[2].plan_id, id128(44)));
    TEST_CHECK(ledger_u128_equal(wallet.pots[3].plan_id, id128(45)));
    TEST_CHECK(ledger_u128_equal(wallet.pots[4].plan_id, id128(42)));
    CHECK_RESULT(w_purchase(w, 3005, E2, P2, CAT_RECREATION, 100), WELFARE_RESULT_OK);
    CHECK_POT(w, E2, 44, 400, 0, 500 - 100);
    CHECK_POT(w, E2, 45, 500, 0, 500);
    CHECK_POT(w, E2, 46, 1000, 0, 1000);
    TEST_CHECK_EQ(wf_pot(w, E2, 47).balance, 1000);
    CHECK_RESULT(w_hold(w, 3006, E2, P2, CAT_RECREATION, 350, 3600), WELFARE_RESULT_OK);
    CHECK_POT(w, E2, 44, 50, 350, 400);
    /* 44 has 50 available: 45 covers alone. */
    CHECK_RESULT(w_purchase(w, 3007, E2, P2, CAT_RECREATION, 100), WELFARE_RESULT_OK);
    CHECK_POT(w, E2, 44, 50, 350, 400);
    CHECK_POT(w, E2, 45, 400, 0, 400);

    /* E4: the earliest pot does not split; the split ones after it do. */
    REQUIRE_OK(w_plan_until(w, 48, WF_NOW + 10 * WF_DAY, c7, forfeit, 0));
    REQUIRE_OK(w_plan_until(w, 49, WF_NOW + 21 * WF_DAY, c7, forfeit, split));
    REQUIRE_OK(w_plan_until(w, 50, WF_NOW + 31 * WF_DAY, c7, forfeit, split));
    REQUIRE_OK(w_grant(w, 2008, 48, E4, 100));
    REQUIRE_OK(w_grant(w, 2009, 49, E4, 300));
    REQUIRE_OK(w_grant(w, 2010, 50, E4, 300));
    CHECK_RESULT(w_purchase(w, 3008, E4, P2, CAT_RECREATION, 500), WELFARE_RESULT_OK);
    CHECK_POT(w, E4, 48, 100, 0, 100);
    CHECK_POT(w, E4, 49, 0, 0, 0);
    CHECK_POT(w, E4, 50, 100, 0, 100);
    /* The split purchase is one operation: a refund goes to the last pot
     * first. */
    CHECK_RESULT(w_refund(w, 6001, 3008, 250), WELFARE_RESULT_OK);
    CHECK_POT(w, E4, 49, 50, 0, 50);
    CHECK_POT(w, E4, 50, 300, 0, 300);
    CHECK_RESULT(w_refund(w, 6002, 3008, 250), WELFARE_RESULT_OK);
    CHECK_POT(w, E4, 49, 300, 0, 300);
    CHECK_POT(w, E4, 50, 300, 0, 300);
    CHECK_POT(w, E4, 48, 100, 0, 100);
    EXPECT_REFUSED(w, w_refund(w, 6003, 3008, 1), WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE);
    wf_close(w);
}

/* A split over WELFARE_PURCHASE_POTS_MAX pots is accepted, one more pot
 * is refused; a split hold captured in part posts the earliest pots first
 * and releases the rest. */
static void case_split_bound(void) {
    wf_t *w = world_open("welfare_split_bound");
    const uint32_t pots = WELFARE_PURCHASE_POTS_MAX + 1;
    for (uint32_t i = 0; i < pots; i++) {
        REQUIRE_OK(w_plan_until(w, 51 + i, WF_NOW + (10 + i) * WF_DAY,
                                CAT(CAT_RECREATION), WELFARE_EXPIRY_FORFEIT,
                                WELFARE_PLAN_SPLIT_ALLOWED));
        REQUIRE_OK(w_grant(w, 2001 + i, 51 + i, E1, 100));
        REQUIRE_OK(w_grant(w, 2001 + i, 51 + i, E2, 100));
    }
    /* 500 needs all five pots. */
    EXPECT_REFUSED(w, w_purchase(w, 3001, E1, P2, CAT_RECREATION, 500),
                   WELFARE_RESULT_TOO_MANY_POTS_FOR_SPLIT);
    /* 400 needs exactly four. */
    CHECK_RESULT(w_purchase(w, 3001, E1, P2, CAT_RECREATION, 400), WELFARE_RESULT_OK);
    for (uint32_t i = 0; i < WELFARE_PURCHASE_POTS_MAX; i++) {
        CHECK_POT(w, E1, 51 + i, 0, 0, 0);
    }
    CHECK_POT(w, E1, 51 + WELFARE_PURCHASE_POTS_MAX, 100, 0, 100);
    /* A split hold: 350 over four pots; capture 150 posts the first pot
     * and half of the second, and releases the rest. */
    CHECK_RESULT(w_hold(w, 3002, E2, P2, CAT_RECREATION, 350, 3600), WELFARE_RESULT_OK);
    CHECK_POT(w, E2, 51, 0, 100, 100);
    CHECK_POT(w, E2, 52, 0, 100, 100);
    CHECK_POT(w, E2, 53, 0, 100, 100);
    CHECK_POT(w, E2, 54, 50, 50, 100);
    CHECK_POT(w, E2, 55, 100, 0, 100);
    CHECK_RESULT(w_capture(w, 4001, 3002, 150), WELFARE_RESULT_OK);
    CHECK_POT(w, E2, 51, 0, 0, 0);
    CHECK_POT(w, E2, 52, 50, 0, 50);
    CHECK_POT(w, E2, 53, 100, 0, 100);
    CHECK_POT(w, E2, 54, 100, 0, 100);
    TEST_CHECK_EQ(wf_payable(w, P2), 400 + 150);
    /* Refund of the captured split: last pot first. */
    CHECK_RESULT(w_refund(w, 6001, 3002, 60), WELFARE_RESULT_OK);
    CHECK_POT(w, E2, 52, 100, 0, 100);
    CHECK_POT(w, E2, 51, 10, 0, 10);
    EXPECT_REFUSED(w, w_refund(w, 6002, 3002, 91), WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE);
    /* E4: the five split pots would cover 500 only all together; a later
     * pot that does not split covers it alone and is used. */
    for (uint32_t i = 0; i < pots; i++) REQUIRE_OK(w_grant(w, 2010 + i, 51 + i, E4, 100));
    REQUIRE_OK(w_plan_until(w, 56, WF_NOW + 60 * WF_DAY, CAT(CAT_RECREATION),
                            WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_grant(w, 2020, 56, E4, 1000));
    CHECK_RESULT(w_purchase(w, 3003, E4, P2, CAT_RECREATION, 500), WELFARE_RESULT_OK);
    for (uint32_t i = 0; i < pots; i++) CHECK_POT(w, E4, 51 + i, 100, 0, 100);
    CHECK_POT(w, E4, 56, 500, 0, 500);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Fringe cap                                                               */

static void case_fringe_cap(void) {
    wf_t *w = world_open("welfare_fringe_cap");
    REQUIRE_OK(w_fund(w, 1002, F1, F1_FUNDED));
    const uint64_t grantees[4] = {E1, E2, E4, E5};
    for (int i = 0; i < 4; i++) {
        REQUIRE_OK(w_grant(w, 2001 + i, PLAN_A, grantees[i], 200000));
    }
    const uint32_t vouchers = CAT_SHOPPING_VOUCHERS;
    const uint32_t exceeded = WELFARE_RESULT_FRINGE_CAP_EXCEEDED;
    /* E1: exactly at the cap, then one cent over. */
    CHECK_RESULT(w_purchase(w, 3001, E1, P1, vouchers, 60000), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3002, E1, P1, vouchers, 40001), exceeded);
    CHECK_RESULT(w_purchase(w, 3002, E1, P1, CAT_UTILITIES, 40000), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3003, E1, P1, vouchers, 1), exceeded);
    EXPECT_REFUSED(w, w_hold(w, 3003, E1, P1, vouchers, 1, 60), exceeded);
    /* Other categories do not count. */
    CHECK_RESULT(w_purchase(w, 3003, E1, P1, CAT_RECREATION, 50000), WELFARE_RESULT_OK);
    welfare_annual_statement_t a = wf_annual(w, E1, 2026);
    TEST_CHECK_EQ(a.fringe_cap, 100000);
    TEST_CHECK_EQ(a.fringe_used, 100000);
    TEST_CHECK_EQ(a.spent[WELFARE_BASIS_FRINGE], 100000);
    TEST_CHECK_EQ(a.spent[WELFARE_BASIS_F], 50000);

    /* E2: open holds count; voiding releases the cap; a partial capture
     * releases the rest. */
    CHECK_RESULT(w_hold(w, 3004, E2, P1, vouchers, 60000, 3600), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3005, E2, P1, vouchers, 40001), exceeded);
    TEST_CHECK_EQ(wf_annual(w, E2, 2026).fringe_used, 60000);
    CHECK_RESULT(w_void(w, 5001, 3004), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_annual(w, E2, 2026).fringe_used, 0);
    CHECK_RESULT(w_purchase(w, 3005, E2, P1, vouchers, 40001), WELFARE_RESULT_OK);
    CHECK_RESULT(w_hold(w, 3006, E2, P1, vouchers, 50000, 3600), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_annual(w, E2, 2026).fringe_used, 90001);
    CHECK_RESULT(w_capture(w, 4001, 3006, 30000), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_annual(w, E2, 2026).fringe_used, 70001);
    EXPECT_REFUSED(w, w_purchase(w, 3007, E2, P1, vouchers, 30000), exceeded);
    CHECK_RESULT(w_purchase(w, 3007, E2, P1, vouchers, 29999), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3008, E2, P1, vouchers, 1), exceeded);

    /* E4: a refund gives its amount back to the cap. */
    CHECK_RESULT(w_purchase(w, 3010, E4, P1, vouchers, 100000), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3011, E4, P1, vouchers, 1), exceeded);
    CHECK_RESULT(w_refund(w, 6001, 3010, 500), WELFARE_RESULT_OK);
    a = wf_annual(w, E4, 2026);
    TEST_CHECK_EQ(a.fringe_used, 99500);
    TEST_CHECK_EQ(a.spent[WELFARE_BASIS_FRINGE], 99500);
    EXPECT_REFUSED(w, w_purchase(w, 3011, E4, P1, vouchers, 501), exceeded);
    CHECK_RESULT(w_purchase(w, 3011, E4, P1, vouchers, 500), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3012, E4, P1, vouchers, 1), exceeded);

    /* E5: declared children: €2,000 in 2026. */
    CHECK_RESULT(w_cap_class(w, E5, 2026, WELFARE_CAP_WITH_CHILDREN), WELFARE_RESULT_OK);
    CHECK_RESULT(w_purchase(w, 3013, E5, P1, vouchers, 200000), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3014, E5, P1, vouchers, 1), exceeded);
    a = wf_annual(w, E5, 2026);
    TEST_CHECK_EQ(a.cap_class, WELFARE_CAP_WITH_CHILDREN);
    TEST_CHECK_EQ(a.fringe_cap, 200000);
    TEST_CHECK_EQ(a.fringe_used, 200000);
    /* Withdrawing the declaration: the purchases stand, nothing more. */
    CHECK_RESULT(w_cap_class(w, E5, 2026, WELFARE_CAP_STANDARD), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3014, E5, P1, vouchers, 1), exceeded);
    /* A lower cap for the year applies to later purchases only. */
    CHECK_RESULT(w_set_cap(w, 2026, 40000, 80000), WELFARE_RESULT_OK);
    REQUIRE_OK(w_grant(w, 2010, PLAN_A, E6, 100000));
    EXPECT_REFUSED(w, w_purchase(w, 3015, E6, P1, vouchers, 40001), exceeded);
    CHECK_RESULT(w_purchase(w, 3015, E6, P1, vouchers, 40000), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_annual(w, E1, 2026).fringe_used, 100000);

    /* A year without its own row: the default row, €258.23 for both. */
    welfare_plan_t plan_2028 = plan_make(33, F1, WF_T2028, WF_T2029, WF_CATS_DEFAULT,
                                         WELFARE_EXPIRY_BACK_TO_FUNDER, 0);
    REQUIRE_OK(w_plan(w, &plan_2028));
    REQUIRE_OK(w_grant(w, 2011, 33, E7, 100000));
    REQUIRE_OK(w_grant(w, 2011, 33, E8, 100000));
    CHECK_RESULT(w_cap_class(w, E8, 2028, WELFARE_CAP_WITH_CHILDREN), WELFARE_RESULT_OK);
    w->f.now_ns = WF_T2028 + 10 * WF_DAY;
    CHECK_RESULT(w_purchase(w, 3016, E7, P1, vouchers, 25823), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3017, E7, P1, vouchers, 1), exceeded);
    EXPECT_REFUSED(w, w_purchase(w, 3017, E8, P1, vouchers, 25824), exceeded);
    CHECK_RESULT(w_purchase(w, 3017, E8, P1, vouchers, 25823), WELFARE_RESULT_OK);
    a = wf_annual(w, E7, 2028);
    TEST_CHECK_EQ(a.fringe_cap, 25823);
    TEST_CHECK_EQ(a.fringe_used, 25823);
    TEST_CHECK_EQ(wf_annual(w, E8, 2028).fringe_cap, 25823);
    /* A row for 2028 raises it from now on. */
    CHECK_RESULT(w_set_cap(w, 2028, 30000, 40000), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3018, E7, P1, vouchers, 4178), exceeded);
    CHECK_RESULT(w_purchase(w, 3018, E7, P1, vouchers, 4177), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3019, E7, P1, vouchers, 1), exceeded);
    wf_close(w);
}

/* The fiscal year turns at 23:00 UTC on December 31st; a hold counts in
 * the year it was chosen, a refund gives back to the purchase's year. */
static void case_fringe_fiscal_year(void) {
    wf_t *w = world_open("welfare_fringe_year");
    welfare_plan_t long_plan = plan_make(33, F1, WF_T2026, WF_T2028, WF_CATS_DEFAULT,
                                         WELFARE_EXPIRY_BACK_TO_FUNDER, 0);
    REQUIRE_OK(w_plan(w, &long_plan));
    REQUIRE_OK(w_grant(w, 2001, 33, E1, 500000));
    const uint32_t vouchers = CAT_SHOPPING_VOUCHERS;
    const uint64_t turn = WF_T2027 - WF_HOUR;
    w->f.now_ns = turn - 1000 * WF_NS_PER_S;
    CHECK_RESULT(w_purchase(w, 3001, E1, P1, vouchers, 60000), WELFARE_RESULT_OK);
    CHECK_RESULT(w_hold(w, 3002, E1, P1, vouchers, 40000, 86400), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3003, E1, P1, vouchers, 1),
                   WELFARE_RESULT_FRINGE_CAP_EXCEEDED);
    w->f.now_ns = turn;
    CHECK_RESULT(w_purchase(w, 3003, E1, P1, vouchers, 100000), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_purchase(w, 3004, E1, P1, vouchers, 1),
                   WELFARE_RESULT_FRINGE_CAP_EXCEEDED);
    /* Capture in 2027 of the 2026 hold: 2026 is charged. */
    CHECK_RESULT(w_capture(w, 4001, 3002, 30000), WELFARE_RESULT_OK);
    welfare_annual_statement_t y2026 = wf_annual(w, E1, 2026);
    welfare_annual_statement_t y2027 = wf_annual(w, E1, 2027);
    TEST_CHECK_EQ(y2026.fringe_used, 90000);
    TEST_CHECK_EQ(y2026.spent[WELFARE_BASIS_FRINGE], 90000);
    TEST_CHECK_EQ(y2027.fringe_used, 100000);
    TEST_CHECK_EQ(y2027.spent[WELFARE_BASIS_FRINGE], 100000);
    /* Refund in 2027 of a 2026 purchase: 2026 gets the cap back. */
    CHECK_RESULT(w_refund(w, 6001, 3001, 10000), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_annual(w, E1, 2026).fringe_used, 80000);
    TEST_CHECK_EQ(wf_annual(w, E1, 2026).spent[WELFARE_BASIS_FRINGE], 80000);
    TEST_CHECK_EQ(wf_annual(w, E1, 2027).fringe_used, 100000);
    EXPECT_REFUSED(w, w_purchase(w, 3004, E1, P1, vouchers, 1),
                   WELFARE_RESULT_FRINGE_CAP_EXCEEDED);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Holds                                                                    */

static void case_holds(void) {
    wf_t *w = world_open("welfare_holds");
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 100000));
    welfare_provider_t p1 = wf_provider(w, P1);
    CHECK_RESULT(w_hold(w, 3001, E1, P1, CAT_RECREATION, 3000, 60), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 97000, 3000, 100000);
    ledger_account_t payable = wf_account(w, p1.account_id);
    TEST_CHECK_EQ(payable.credits_pending, 3000);
    TEST_CHECK_EQ(payable.credits_posted, 0);
    TEST_CHECK_EQ(wf_fees(w), 0); /* the fee is taken at capture */
    TEST_CHECK_EQ(wf_provider_statement(w, P1, 0, 0).held, 3000);
    TEST_CHECK_EQ(wf_funder_statement(w, F1, 0, 0).held, 3000);
    TEST_CHECK_EQ(wf_funder_statement(w, F1, 0, 0).spent, 0);
    /* Capture: at most the held amount. */
    EXPECT_REFUSED(w, w_capture(w, 4001, 3001, 3001), WELFARE_RESULT_CAPTURE_EXCEEDS_HOLD);
    CHECK_RESULT(w_capture(w, 4001, 3001, 2000), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 98000, 0, 98000);
    payable = wf_account(w, p1.account_id);
    TEST_CHECK_EQ(payable.credits_pending, 0);
    TEST_CHECK_EQ(wf_payable(w, P1), 2000 - 100);
    TEST_CHECK_EQ(wf_fees(w), 100);
    TEST_CHECK_EQ(wf_funder_statement(w, F1, 0, 0).spent, 2000);
    TEST_CHECK_EQ(wf_provider_statement(w, P1, 0, 0).sales, 2000);
    TEST_CHECK_EQ(wf_provider_statement(w, P1, 0, 0).held, 0);
    EXPECT_REFUSED(w, w_capture(w, 4001, 3001, 2000), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_capture(w, 4001, 3001, 1000),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_capture(w, 4002, 3001, 0), WELFARE_RESULT_HOLD_NOT_PENDING);
    EXPECT_REFUSED(w, w_void(w, 5001, 3001), WELFARE_RESULT_HOLD_NOT_PENDING);
    /* Capture of exactly the held amount, and of "all" (0). */
    CHECK_RESULT(w_hold(w, 3002, E1, P1, CAT_RECREATION, 1000, 60), WELFARE_RESULT_OK);
    CHECK_RESULT(w_capture(w, 4003, 3002, 1000), WELFARE_RESULT_OK);
    CHECK_RESULT(w_hold(w, 3003, E1, P1, CAT_RECREATION, 1500, 60), WELFARE_RESULT_OK);
    CHECK_RESULT(w_capture(w, 4004, 3003, 0), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 95500, 0, 95500);
    TEST_CHECK_EQ(wf_fees(w), 100 + 50 + 75);
    TEST_CHECK_EQ(wf_payable(w, P1), 4500 - 225);
    /* Not a hold. */
    CHECK_RESULT(w_purchase(w, 3004, E1, P1, CAT_RECREATION, 100), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_capture(w, 4005, 3004, 0), WELFARE_RESULT_HOLD_NOT_PENDING);
    EXPECT_REFUSED(w, w_void(w, 5001, 3004), WELFARE_RESULT_HOLD_NOT_PENDING);
    EXPECT_REFUSED(w, w_capture(w, 4005, 3999, 0), WELFARE_RESULT_PURCHASE_NOT_FOUND);
    EXPECT_REFUSED(w, w_void(w, 5001, 3999), WELFARE_RESULT_PURCHASE_NOT_FOUND);
    EXPECT_REFUSED(w, w_capture(w, 0, 3004, 0), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_void(w, 0, 3004), WELFARE_RESULT_INVALID_FIELD);
    /* Void. */
    CHECK_RESULT(w_hold(w, 3005, E1, P1, CAT_RECREATION, 1500, 60), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 93900, 1500, 95400);
    CHECK_RESULT(w_void(w, 5001, 3005), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 95400, 0, 95400);
    TEST_CHECK_EQ(wf_account(w, p1.account_id).credits_pending, 0);
    EXPECT_REFUSED(w, w_void(w, 5001, 3005), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_void(w, 5001, 3003), WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_void(w, 5002, 3005), WELFARE_RESULT_HOLD_NOT_PENDING);
    EXPECT_REFUSED(w, w_capture(w, 4006, 3005, 0), WELFARE_RESULT_HOLD_NOT_PENDING);
    /* A hold is refunded only once captured. */
    CHECK_RESULT(w_hold(w, 3006, E1, P1, CAT_RECREATION, 500, 60), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3006, 500), WELFARE_RESULT_PURCHASE_NOT_CAPTURED);
    CHECK_RESULT(w_void(w, 5003, 3006), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3006, 500), WELFARE_RESULT_PURCHASE_NOT_CAPTURED);
    /* Captured in part: refundable up to the captured amount. */
    CHECK_RESULT(w_hold(w, 3007, E1, P1, CAT_RECREATION, 2000, 60), WELFARE_RESULT_OK);
    CHECK_RESULT(w_capture(w, 4007, 3007, 1500), WELFARE_RESULT_OK);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3007, 1501), WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE);
    int64_t fees_before = wf_fees(w);
    CHECK_RESULT(w_refund(w, 6001, 3007, 1500), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_fees(w), fees_before - 75);
    CHECK_POT(w, E1, PLAN_A, 95400, 0, 95400);
    wf_close(w);
}

static void case_hold_expiry(void) {
    wf_t *w = world_open("welfare_hold_expiry");
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 10000));
    const uint64_t t0 = WF_NOW;
    CHECK_RESULT(w_hold(w, 3001, E1, P1, CAT_RECREATION, 800, 60), WELFARE_RESULT_OK);
    w->f.now_ns = t0 + 59 * WF_NS_PER_S;
    TEST_CHECK_EQ(w_expire(w), 0);
    CHECK_POT(w, E1, PLAN_A, 9200, 800, 10000);
    w->f.now_ns = t0 + 61 * WF_NS_PER_S;
    TEST_CHECK_EQ(w_expire(w), 1);
    CHECK_POT(w, E1, PLAN_A, 10000, 0, 10000);
    TEST_CHECK_EQ(w_expire(w), 0);
    EXPECT_REFUSED(w, w_capture(w, 4001, 3001, 0), WELFARE_RESULT_HOLD_NOT_PENDING);
    EXPECT_REFUSED(w, w_void(w, 5001, 3001), WELFARE_RESULT_HOLD_NOT_PENDING);
    TEST_CHECK_EQ(wf_account(w, wf_provider(w, P1).account_id).credits_pending, 0);
    /* Every write call expires due holds first: a capture after the
     * timeout finds the hold released. */
    const uint64_t t1 = w->f.now_ns;
    CHECK_RESULT(w_hold(w, 3002, E1, P1, CAT_RECREATION, 700, 60), WELFARE_RESULT_OK);
    w->f.now_ns = t1 + 61 * WF_NS_PER_S;
    CHECK_RESULT(w_capture(w, 4002, 3002, 0), WELFARE_RESULT_HOLD_NOT_PENDING);
    CHECK_POT(w, E1, PLAN_A, 10000, 0, 10000);
    TEST_CHECK_EQ(wf_payable(w, P1), 0);

    /* Expiry into a pot whose plan has ended follows the plan's policy:
     * back to the funder, or forfeited. */
    const uint64_t t2 = w->f.now_ns;
    REQUIRE_OK(w_plan_until(w, 33, t2 + WF_HOUR, WF_CATS_DEFAULT,
                            WELFARE_EXPIRY_BACK_TO_FUNDER, 0));
    REQUIRE_OK(w_plan_until(w, 34, t2 + WF_HOUR, WF_CATS_DEFAULT, WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_grant(w, 2002, 33, E2, 5000));
    REQUIRE_OK(w_grant(w, 2003, 34, E4, 4000));
    CHECK_RESULT(w_hold(w, 3003, E2, P2, CAT_RECREATION, 2000, 7200), WELFARE_RESULT_OK);
    CHECK_RESULT(w_hold(w, 3004, E4, P2, CAT_RECREATION, 1500, 7200), WELFARE_RESULT_OK);
    int64_t funds = wf_funds(w, F1);
    int64_t forfeited = wf_forfeited(w);
    w->f.now_ns = t2 + 2 * WF_HOUR + WF_NS_PER_S;
    TEST_CHECK_EQ(w_expire(w), 2);
    TEST_CHECK_EQ(wf_funds(w, F1), funds + 2000);
    TEST_CHECK_EQ(wf_forfeited(w), forfeited + 1500);
    welfare_pot_t pot = wf_pot(w, E2, 33);
    TEST_CHECK_EQ(pot.balance, 3000);
    TEST_CHECK_EQ(pot.held, 0);
    TEST_CHECK_EQ(pot.available, 0);
    TEST_CHECK(pot.expired);
    TEST_CHECK_EQ(wf_pot(w, E4, 34).balance, 2500);
    /* A hold may be captured after its plan ended (the choice was made
     * before). */
    const uint64_t t3 = w->f.now_ns;
    REQUIRE_OK(w_plan_until(w, 35, t3 + WF_HOUR, CAT(CAT_RECREATION), WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_grant(w, 2004, 35, E5, 1000));
    CHECK_RESULT(w_hold(w, 3005, E5, P2, CAT_RECREATION, 600, 7200), WELFARE_RESULT_OK);
    w->f.now_ns = t3 + WF_HOUR + WF_NS_PER_S;
    CHECK_RESULT(w_capture(w, 4005, 3005, 400), WELFARE_RESULT_OK);
    /* The 200 released into the ended pot is forfeited at once. */
    TEST_CHECK_EQ(wf_forfeited(w), forfeited + 1500 + 200);
    TEST_CHECK_EQ(wf_pot(w, E5, 35).balance, 400);
    TEST_CHECK_EQ(wf_pot(w, E5, 35).held, 0);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Refunds                                                                  */

static void case_refund(void) {
    wf_t *w = world_open("welfare_refund");
    REQUIRE_OK(w_provider(w, 13, 1000, CAT(CAT_RECREATION))); /* 10% */
    REQUIRE_OK(w_provider(w, 14, 333, CAT(CAT_RECREATION)));
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 100000));
    CHECK_RESULT(w_purchase(w, 3001, E1, 13, CAT_RECREATION, 10000), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_payable(w, 13), 9000);
    TEST_CHECK_EQ(wf_fees(w), 1000);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3001, 10001), WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3001, 0), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_refund(w, 0, 3001, 1), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3999, 1), WELFARE_RESULT_PURCHASE_NOT_FOUND);
    /* Partial: 30% back, with 30% of the fee. */
    CHECK_RESULT(w_refund(w, 6001, 3001, 3000), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 93000, 0, 93000);
    TEST_CHECK_EQ(wf_payable(w, 13), 9000 - 3000 + 300);
    TEST_CHECK_EQ(wf_fees(w), 700);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3001, 3000), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3001, 2000), WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    /* Never more than purchased minus refunded. */
    EXPECT_REFUSED(w, w_refund(w, 6002, 3001, 7001), WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE);
    CHECK_RESULT(w_refund(w, 6002, 3001, 7000), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 100000, 0, 100000);
    TEST_CHECK_EQ(wf_payable(w, 13), 0);
    TEST_CHECK_EQ(wf_fees(w), 0);
    EXPECT_REFUSED(w, w_refund(w, 6003, 3001, 1), WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE);
    welfare_provider_statement_t ps = wf_provider_statement(w, 13, 0, 0);
    TEST_CHECK_EQ(ps.sales, 10000);
    TEST_CHECK_EQ(ps.refunds, 10000);
    TEST_CHECK_EQ(ps.fees, 1000);
    TEST_CHECK_EQ(ps.fees_returned, 1000);
    TEST_CHECK_EQ(ps.payable, 0);
    welfare_funder_statement_t fs = wf_funder_statement(w, F1, 0, 0);
    TEST_CHECK_EQ(fs.spent, 10000);
    TEST_CHECK_EQ(fs.refunded, 10000);
    TEST_CHECK_EQ(fs.fees, 1000);
    TEST_CHECK_EQ(fs.fees_returned, 1000);

    /* A fee that does not divide: 33 on 999, refunded in three parts. The
     * share returned is proportional (within a cent), never more than the
     * fee, and the last part returns all of it. */
    CHECK_RESULT(w_purchase(w, 3002, E1, 14, CAT_RECREATION, 999), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_fees(w), 33);
    TEST_CHECK_EQ(wf_payable(w, 14), 966);
    CHECK_RESULT(w_refund(w, 6004, 3002, 500), WELFARE_RESULT_OK);
    int64_t fee_kept = wf_fees(w);
    TEST_CHECK(fee_kept == 33 - 16 || fee_kept == 33 - 17); /* 33 × 500 / 999 = 16.5 */
    TEST_CHECK_EQ(wf_payable(w, 14), 999 - 500 - fee_kept);
    TEST_CHECK_EQ(wf_provider_statement(w, 14, 0, 0).fees_returned, 33 - fee_kept);
    CHECK_RESULT(w_refund(w, 6005, 3002, 300), WELFARE_RESULT_OK);
    int64_t fee_kept_2 = wf_fees(w);
    TEST_CHECK(fee_kept_2 <= fee_kept);
    TEST_CHECK(fee_kept_2 == 33 - 26 || fee_kept_2 == 33 - 27); /* 33 × 800 / 999 = 26.4 */
    TEST_CHECK_EQ(wf_payable(w, 14), 999 - 800 - fee_kept_2);
    CHECK_RESULT(w_refund(w, 6006, 3002, 199), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_fees(w), 0);
    TEST_CHECK_EQ(wf_payable(w, 14), 0);
    TEST_CHECK_EQ(wf_provider_statement(w, 14, 0, 0).fees, 33);
    TEST_CHECK_EQ(wf_provider_statement(w, 14, 0, 0).fees_returned, 33);
    CHECK_POT(w, E1, PLAN_A, 100000, 0, 100000);
    wf_close(w);
}

/* A refund into a pot whose plan has ended follows the plan's policy, in
 * the same operation. */
static void case_refund_expired_pot(void) {
    wf_t *w = world_open("welfare_refund_expired");
    const uint64_t end = WF_NOW + 10 * WF_DAY;
    REQUIRE_OK(w_provider(w, 13, 0, CAT(CAT_TRANSPORT) | CAT(CAT_RECREATION) | CAT(CAT_HEALTH)));
    REQUIRE_OK(w_plan_until(w, 64, WF_T2028, WF_CATS_DEFAULT, WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_plan_until(w, 61, end, CAT(CAT_RECREATION), WELFARE_EXPIRY_BACK_TO_FUNDER, 0));
    REQUIRE_OK(w_plan_until(w, 62, end, CAT(CAT_HEALTH), WELFARE_EXPIRY_FORFEIT, 0));
    welfare_plan_t carry = plan_make(63, F1, WF_T2026, end, CAT(CAT_TRANSPORT),
                                     WELFARE_EXPIRY_CARRY_OVER, 0);
    carry.next_plan_id = id128(64);
    REQUIRE_OK(w_plan(w, &carry));
    for (uint64_t plan = 61; plan <= 63; plan++) REQUIRE_OK(w_grant(w, 2000 + plan, plan, E1, 1000));
    REQUIRE_OK(w_grant(w, 2002, 64, E1, 500));
    CHECK_RESULT(w_purchase(w, 3001, E1, 13, CAT_RECREATION, 400), WELFARE_RESULT_OK);
    CHECK_RESULT(w_purchase(w, 3002, E1, 13, CAT_HEALTH, 300), WELFARE_RESULT_OK);
    CHECK_RESULT(w_purchase(w, 3003, E1, 13, CAT_TRANSPORT, 200), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, 61, 600, 0, 600);
    CHECK_POT(w, E1, 62, 700, 0, 700);
    CHECK_POT(w, E1, 63, 800, 0, 800);
    CHECK_POT(w, E1, 64, 500, 0, 500);
    w->f.now_ns = end + WF_DAY;
    int64_t funds = wf_funds(w, F1);
    int64_t forfeited = wf_forfeited(w);
    /* Back to the funder: the refunded credit only; the rest waits for the
     * sweep. */
    CHECK_RESULT(w_refund(w, 6001, 3001, 400), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_funds(w, F1), funds + 400);
    TEST_CHECK_EQ(wf_pot(w, E1, 61).balance, 600);
    CHECK_RESULT(w_refund(w, 6002, 3002, 300), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_forfeited(w), forfeited + 300);
    TEST_CHECK_EQ(wf_pot(w, E1, 62).balance, 700);
    CHECK_RESULT(w_refund(w, 6003, 3003, 200), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_pot(w, E1, 63).balance, 800);
    CHECK_POT(w, E1, 64, 700, 0, 700);
    TEST_CHECK_EQ(wf_funds(w, F1), funds + 400);
    TEST_CHECK_EQ(wf_payable(w, 13), 0);
    welfare_funder_statement_t s = wf_funder_statement(w, F1, 0, 0);
    TEST_CHECK_EQ(s.refunded, 900);
    TEST_CHECK_EQ(s.expired_back, 400);
    TEST_CHECK_EQ(s.forfeited, 300);
    TEST_CHECK_EQ(s.carried_over, 200);
    wf_close(w);
}

/* The provider must cover a refund: after a payout it may not. */
static void case_refund_payable(void) {
    wf_t *w = world_open("welfare_refund_payable");
    REQUIRE_OK(w_provider(w, 13, 1000, CAT(CAT_RECREATION)));
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 100000));
    REQUIRE_OK(w_purchase(w, 3001, E1, 13, CAT_RECREATION, 10000));
    REQUIRE_OK(w_purchase(w, 3002, E1, 13, CAT_RECREATION, 10000));
    uint64_t paid = 0;
    CHECK_RESULT(w_payout(w, 9501, 13, 0, 1, &paid), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(paid, 18000);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3001, 1000), WELFARE_RESULT_PAYABLE_INSUFFICIENT);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3001, 1), WELFARE_RESULT_PAYABLE_INSUFFICIENT);
    /* New sales refill the payable to 1800: enough for a refund of 1000
     * (900 net of the fee returned), not for one of 2012 (1811 net). */
    REQUIRE_OK(w_purchase(w, 3003, E1, 13, CAT_RECREATION, 2000));
    TEST_CHECK_EQ(wf_payable(w, 13), 1800);
    EXPECT_REFUSED(w, w_refund(w, 6001, 3001, 2012), WELFARE_RESULT_PAYABLE_INSUFFICIENT);
    CHECK_RESULT(w_refund(w, 6001, 3001, 1000), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_payable(w, 13), 1800 - 1000 + 100);
    /* The payable (900) covers exactly a refund of 1000 net of its fee
     * (100 returned): the fee comes back in the same operation. */
    CHECK_RESULT(w_refund(w, 6002, 3001, 1000), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_payable(w, 13), 0);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Reimbursements                                                           */

static void case_reimburse(void) {
    wf_t *w = world_open("welfare_reimburse");
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 50000));
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E2, 50000));
    const int64_t bank = wf_bank(w);
    welfare_reimbursement_t r =
        reimbursement_make(7001, E1, CAT_EDUCATION, 20260215, 3000, 5000, 1);
    CHECK_RESULT(w_reimburse(w, &r), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 47000, 0, 47000);
    TEST_CHECK_EQ(wf_bank(w), bank - 3000); /* pot -> bank */
    TEST_CHECK_EQ(wf_funder_statement(w, F1, 0, 0).reimbursed, 3000);
    TEST_CHECK_EQ(wf_annual(w, E1, 2026).reimbursed[WELFARE_BASIS_F_BIS], 3000);
    TEST_CHECK_EQ(wf_annual(w, E1, 2026).spent[WELFARE_BASIS_F_BIS], 0);
    EXPECT_REFUSED(w, w_reimburse(w, &r), WELFARE_RESULT_EXISTS);
    welfare_reimbursement_t changed = r;
    changed.amount = 2999;
    EXPECT_REFUSED(w, w_reimburse(w, &changed), WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    /* The same receipt, ever, by anyone. */
    changed = r;
    changed.id = id128(7002);
    EXPECT_REFUSED(w, w_reimburse(w, &changed), WELFARE_RESULT_RECEIPT_ALREADY_REIMBURSED);
    changed.employee_id = id128(E2);
    EXPECT_REFUSED(w, w_reimburse(w, &changed), WELFARE_RESULT_RECEIPT_ALREADY_REIMBURSED);
    changed.amount = 1;
    changed.category = CAT_CANTEEN;
    EXPECT_REFUSED(w, w_reimburse(w, &changed), WELFARE_RESULT_RECEIPT_ALREADY_REIMBURSED);
    /* Lett. f and f-quater (in kind only) are not reimbursable; nor are
     * shopping vouchers. */
    welfare_reimbursement_t k;
    const uint32_t not_reimbursable = WELFARE_RESULT_CATEGORY_NOT_REIMBURSABLE;
    k = reimbursement_make(7003, E1, CAT_RECREATION, 20260215, 100, 100, 2);
    EXPECT_REFUSED(w, w_reimburse(w, &k), not_reimbursable);
    k.category = CAT_HEALTH;
    EXPECT_REFUSED(w, w_reimburse(w, &k), not_reimbursable);
    k.category = CAT_LTC_INSURANCE;
    EXPECT_REFUSED(w, w_reimburse(w, &k), not_reimbursable);
    k.category = CAT_SHOPPING_VOUCHERS;
    EXPECT_REFUSED(w, w_reimburse(w, &k), not_reimbursable);
    /* Receipt. */
    k = reimbursement_make(7003, E1, CAT_CANTEEN, 20260215, 100, 100, 0);
    EXPECT_REFUSED(w, w_reimburse(w, &k), WELFARE_RESULT_RECEIPT_REQUIRED);
    k = reimbursement_make(7003, E1, CAT_CANTEEN, 20260215, 5001, 5000, 2);
    EXPECT_REFUSED(w, w_reimburse(w, &k), WELFARE_RESULT_AMOUNT_EXCEEDS_RECEIPT);
    /* A refused reimbursement does not burn its receipt. */
    k.amount = 5000;
    CHECK_RESULT(w_reimburse(w, &k), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 42000, 0, 42000);
    /* Fields. */
    const uint32_t invalid = WELFARE_RESULT_INVALID_FIELD;
    welfare_reimbursement_t base =
        reimbursement_make(7004, E1, CAT_CANTEEN, 20260215, 100, 100, 3);
    k = base; k.id = id128(0);
    EXPECT_REFUSED(w, w_reimburse(w, &k), invalid);
    k = base; k.amount = 0;
    EXPECT_REFUSED(w, w_reimburse(w, &k), invalid);
    k = base; k.category = 0;
    EXPECT_REFUSED(w, w_reimburse(w, &k), invalid);
    k = base; k.category = 64;
    EXPECT_REFUSED(w, w_reimburse(w, &k), invalid);
    k = base; k.receipt_date = 0;
    EXPECT_REFUSED(w, w_reimburse(w, &k), invalid);
    k = base; k.receipt_date = 20261301;
    EXPECT_REFUSED(w, w_reimburse(w, &k), invalid);
    k = base; k.receipt_date = 20260132;
    EXPECT_REFUSED(w, w_reimburse(w, &k), invalid);
    k = base; k.employee_id = id128(99);
    EXPECT_REFUSED(w, w_reimburse(w, &k), WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    k = base; k.category = 20;
    EXPECT_REFUSED(w, w_reimburse(w, &k), WELFARE_RESULT_CATEGORY_NOT_FOUND);
    /* Pots: category, start, end, balance (one pot, no split). */
    REQUIRE_OK(w_plan_until(w, 33, WF_T2027, CAT(CAT_RECREATION), WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_grant(w, 2002, 33, E4, 1000));
    k = base; k.employee_id = id128(E4);
    EXPECT_REFUSED(w, w_reimburse(w, &k), WELFARE_RESULT_CATEGORY_NOT_ALLOWED_BY_PLAN);
    welfare_plan_t later = plan_make(34, F1, WF_NOW + WF_DAY, WF_T2027, CAT(CAT_CANTEEN),
                                     WELFARE_EXPIRY_FORFEIT, 0);
    REQUIRE_OK(w_plan(w, &later));
    REQUIRE_OK(w_grant(w, 2003, 34, E5, 1000));
    k = base; k.employee_id = id128(E5);
    EXPECT_REFUSED(w, w_reimburse(w, &k), WELFARE_RESULT_PLAN_NOT_STARTED);
    REQUIRE_OK(w_plan_until(w, 35, WF_NOW + WF_HOUR, CAT(CAT_CANTEEN), WELFARE_EXPIRY_FORFEIT,
                            WELFARE_PLAN_SPLIT_ALLOWED));
    REQUIRE_OK(w_plan_until(w, 36, WF_NOW + 2 * WF_HOUR, CAT(CAT_CANTEEN),
                            WELFARE_EXPIRY_FORFEIT, WELFARE_PLAN_SPLIT_ALLOWED));
    REQUIRE_OK(w_grant(w, 2004, 35, E6, 3000));
    REQUIRE_OK(w_grant(w, 2014, 36, E6, 3000));
    k = base; k.employee_id = id128(E6); k.amount = 5000; k.receipt_amount = 5000;
    EXPECT_REFUSED(w, w_reimburse(w, &k), WELFARE_RESULT_INSUFFICIENT_POT_BALANCE);
    k.amount = 3000;
    CHECK_RESULT(w_reimburse(w, &k), WELFARE_RESULT_OK);
    CHECK_POT(w, E6, 35, 0, 0, 0);
    CHECK_POT(w, E6, 36, 3000, 0, 3000);
    /* The receipt date decides the fiscal year. */
    k = reimbursement_make(7005, E1, CAT_CANTEEN, 20251215, 1000, 1000, 4);
    CHECK_RESULT(w_reimburse(w, &k), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_annual(w, E1, 2025).reimbursed[WELFARE_BASIS_F_BIS], 1000);
    TEST_CHECK_EQ(wf_annual(w, E1, 2026).reimbursed[WELFARE_BASIS_F_BIS], 8000);
    /* Elderly care (f-ter) and transport (d-bis) are reimbursable. */
    k = reimbursement_make(7006, E1, CAT_ELDERLY_CARE, 20260201, 700, 900, 5);
    CHECK_RESULT(w_reimburse(w, &k), WELFARE_RESULT_OK);
    k = reimbursement_make(7007, E1, CAT_TRANSPORT, 20260201, 300, 300, 6);
    CHECK_RESULT(w_reimburse(w, &k), WELFARE_RESULT_OK);
    welfare_annual_statement_t a = wf_annual(w, E1, 2026);
    TEST_CHECK_EQ(a.reimbursed[WELFARE_BASIS_F_TER], 700);
    TEST_CHECK_EQ(a.reimbursed[WELFARE_BASIS_D_BIS], 300);
    /* Utilities are fringe: under the cap of the receipt's year. */
    REQUIRE_OK(w_grant(w, 2005, PLAN_A, E7, 200000));
    REQUIRE_OK(w_purchase(w, 3001, E7, P1, CAT_SHOPPING_VOUCHERS, 90000));
    k = reimbursement_make(7008, E7, CAT_UTILITIES, 20260210, 10001, 20000, 7);
    EXPECT_REFUSED(w, w_reimburse(w, &k), WELFARE_RESULT_FRINGE_CAP_EXCEEDED);
    k.amount = 10000;
    CHECK_RESULT(w_reimburse(w, &k), WELFARE_RESULT_OK);
    a = wf_annual(w, E7, 2026);
    TEST_CHECK_EQ(a.reimbursed[WELFARE_BASIS_FRINGE], 10000);
    TEST_CHECK_EQ(a.fringe_used, 100000);
    EXPECT_REFUSED(w, w_purchase(w, 3002, E7, P1, CAT_SHOPPING_VOUCHERS, 1),
                   WELFARE_RESULT_FRINGE_CAP_EXCEEDED);
    k = reimbursement_make(7009, E7, CAT_UTILITIES, 20251201, 10000, 10000, 8);
    CHECK_RESULT(w_reimburse(w, &k), WELFARE_RESULT_OK); /* 2025's cap is untouched */
    TEST_CHECK_EQ(wf_annual(w, E7, 2025).reimbursed[WELFARE_BASIS_FRINGE], 10000);
    /* Ended pot; offboarded employee. */
    w->f.now_ns = WF_NOW + 3 * WF_HOUR;
    k = reimbursement_make(7010, E6, CAT_CANTEEN, 20260301, 1, 1, 9);
    EXPECT_REFUSED(w, w_reimburse(w, &k), WELFARE_RESULT_POT_EXPIRED);
    REQUIRE_OK(w_offboard(w, 9001, E2, NULL));
    k = reimbursement_make(7010, E2, CAT_CANTEEN, 20260301, 1, 1, 9);
    EXPECT_REFUSED(w, w_reimburse(w, &k), WELFARE_RESULT_POT_CLOSED);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Sweep and offboarding                                                    */

#define CHECK_REPORT(r, swept, voided, back, forfeit, carried)               \
    do {                                                                      \
        TEST_CHECK_EQ((r).pots_swept, (swept));                               \
        TEST_CHECK_EQ((r).holds_voided, (voided));                            \
        TEST_CHECK_EQ((r).expired_back, (back));                              \
        TEST_CHECK_EQ((r).forfeited, (forfeit));                              \
        TEST_CHECK_EQ((r).carried_over, (carried));                           \
    } while (0)

static void case_sweep(void) {
    wf_t *w = world_open("welfare_sweep");
    const uint64_t end = WF_NOW + 10 * WF_DAY;
    REQUIRE_OK(w_plan_until(w, 71, end, WF_CATS_DEFAULT, WELFARE_EXPIRY_BACK_TO_FUNDER, 0));
    REQUIRE_OK(w_grant(w, 2001, 71, E1, 5000));
    REQUIRE_OK(w_grant(w, 2001, 71, E2, 3000));
    REQUIRE_OK(w_grant(w, 2001, 71, E4, 2000));
    REQUIRE_OK(w_grant(w, 2001, 71, E5, 100));
    REQUIRE_OK(w_purchase(w, 3001, E1, P2, CAT_RECREATION, 1000));
    REQUIRE_OK(w_hold(w, 3002, E4, P2, CAT_RECREATION, 500, 30 * 86400));
    REQUIRE_OK(w_purchase(w, 3003, E5, P2, CAT_RECREATION, 100)); /* E5: empty */
    welfare_sweep_report_t report;
    EXPECT_REFUSED(w, w_sweep(w, 8001, 71, &report), WELFARE_RESULT_PLAN_NOT_ENDED);
    w->f.now_ns = end - 1;
    EXPECT_REFUSED(w, w_sweep(w, 8001, 71, &report), WELFARE_RESULT_PLAN_NOT_ENDED);
    EXPECT_REFUSED(w, w_sweep(w, 0, 71, &report), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_sweep(w, 8001, 999, &report), WELFARE_RESULT_PLAN_NOT_FOUND);
    w->f.now_ns = end;
    int64_t funds = wf_funds(w, F1);
    CHECK_RESULT(w_sweep(w, 8001, 71, &report), WELFARE_RESULT_OK);
    CHECK_REPORT(report, 3, 0, 4000 + 3000 + 1500, 0, 0);
    TEST_CHECK_EQ(wf_funds(w, F1), funds + 8500);
    CHECK_POT(w, E1, 71, 0, 0, 0);
    CHECK_POT(w, E2, 71, 0, 0, 0);
    CHECK_POT(w, E4, 71, 0, 500, 500); /* the open hold stays */
    EXPECT_REFUSED(w, w_sweep(w, 8001, 71, &report), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_sweep(w, 8001, PLAN_A, &report),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    /* Re-run with a new id: nothing to move. */
    CHECK_RESULT(w_sweep(w, 8002, 71, &report), WELFARE_RESULT_OK);
    CHECK_REPORT(report, 0, 0, 0, 0, 0);
    TEST_CHECK_EQ(wf_funds(w, F1), funds + 8500);
    /* The hold voided later follows the policy then. */
    CHECK_RESULT(w_void(w, 5001, 3002), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_funds(w, F1), funds + 9000);
    CHECK_POT(w, E4, 71, 0, 0, 0);
    CHECK_RESULT(w_sweep(w, 8003, 71, NULL), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_funds(w, F1), funds + 9000);
    welfare_funder_statement_t s = wf_funder_statement(w, F1, 0, 0);
    TEST_CHECK_EQ(s.expired_back, 9000);
    TEST_CHECK_EQ(s.held, 0);
    TEST_CHECK_EQ(s.pots_balance, 0);
    wf_close(w);
}

static void case_sweep_policies(void) {
    wf_t *w = world_open("welfare_sweep_policies");
    const uint64_t end = WF_NOW + 10 * WF_DAY;
    REQUIRE_OK(w_plan_until(w, 72, end, WF_CATS_DEFAULT, WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_plan_until(w, 74, WF_T2028, WF_CATS_DEFAULT, WELFARE_EXPIRY_FORFEIT, 0));
    welfare_plan_t carry = plan_make(73, F1, WF_T2026, end, WF_CATS_DEFAULT,
                                     WELFARE_EXPIRY_CARRY_OVER, 0);
    carry.next_plan_id = id128(74);
    REQUIRE_OK(w_plan(w, &carry));
    REQUIRE_OK(w_grant(w, 2001, 72, E1, 1000));
    REQUIRE_OK(w_grant(w, 2001, 72, E2, 250));
    REQUIRE_OK(w_grant(w, 2002, 73, E1, 600));
    REQUIRE_OK(w_grant(w, 2002, 73, E2, 400));
    REQUIRE_OK(w_grant(w, 2003, 74, E1, 100));
    w->f.now_ns = end;
    int64_t funds = wf_funds(w, F1);
    int64_t forfeited = wf_forfeited(w);
    welfare_sweep_report_t report;
    CHECK_RESULT(w_sweep(w, 8001, 72, &report), WELFARE_RESULT_OK);
    CHECK_REPORT(report, 2, 0, 0, 1250, 0);
    TEST_CHECK_EQ(wf_forfeited(w), forfeited + 1250);
    TEST_CHECK_EQ(wf_funds(w, F1), funds);
    CHECK_RESULT(w_sweep(w, 8002, 73, &report), WELFARE_RESULT_OK);
    CHECK_REPORT(report, 2, 0, 0, 0, 1000);
    TEST_CHECK_EQ(wf_funds(w, F1), funds);
    CHECK_POT(w, E1, 73, 0, 0, 0);
    CHECK_POT(w, E2, 73, 0, 0, 0);
    CHECK_POT(w, E1, 74, 700, 0, 700);
    CHECK_POT(w, E2, 74, 400, 0, 400); /* created by the carry-over */
    TEST_CHECK_EQ(wf_pot(w, E1, 74).granted, 100); /* carried is not granted */
    TEST_CHECK_EQ(wf_pot(w, E2, 74).granted, 0);
    welfare_funder_statement_t s = wf_funder_statement(w, F1, 0, 0);
    TEST_CHECK_EQ(s.forfeited, 1250);
    TEST_CHECK_EQ(s.carried_over, 1000);
    TEST_CHECK_EQ(s.expired_back, 0);
    TEST_CHECK_EQ(s.pots_balance, 1100);
    /* The carried credit is spendable under the next plan. */
    CHECK_RESULT(w_purchase(w, 3001, E2, P2, CAT_RECREATION, 400), WELFARE_RESULT_OK);
    wf_close(w);
}

static void case_offboard(void) {
    wf_t *w = world_open("welfare_offboard");
    REQUIRE_OK(w_provider(w, 13, 0,
                          CAT(CAT_EDUCATION) | CAT(CAT_TRANSPORT) | CAT(CAT_RECREATION) |
                              CAT(CAT_HEALTH)));
    REQUIRE_OK(w_plan_until(w, 81, WF_T2027, CAT(CAT_TRANSPORT) | CAT(CAT_RECREATION),
                            WELFARE_EXPIRY_BACK_TO_FUNDER, 0));
    REQUIRE_OK(w_plan_until(w, 82, WF_T2027, CAT(CAT_HEALTH), WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_plan_until(w, 84, WF_T2028, WF_CATS_DEFAULT, WELFARE_EXPIRY_BACK_TO_FUNDER, 0));
    welfare_plan_t carry = plan_make(83, F1, WF_T2026, WF_T2027, CAT(CAT_EDUCATION),
                                     WELFARE_EXPIRY_CARRY_OVER, 0);
    carry.next_plan_id = id128(84);
    REQUIRE_OK(w_plan(w, &carry));
    REQUIRE_OK(w_grant(w, 2001, 81, E1, 1000));
    REQUIRE_OK(w_grant(w, 2002, 82, E1, 2000));
    REQUIRE_OK(w_grant(w, 2003, 83, E1, 3000));
    REQUIRE_OK(w_grant(w, 2004, 84, E1, 400));
    REQUIRE_OK(w_hold(w, 3001, E1, 13, CAT_RECREATION, 700, 86400));
    REQUIRE_OK(w_purchase(w, 3002, E1, 13, CAT_RECREATION, 100));
    REQUIRE_OK(w_purchase(w, 3003, E1, 13, CAT_EDUCATION, 300));
    CHECK_POT(w, E1, 81, 200, 700, 900);
    CHECK_POT(w, E1, 83, 2700, 0, 2700);
    int64_t funds = wf_funds(w, F1);
    int64_t forfeited = wf_forfeited(w);
    welfare_sweep_report_t report;
    EXPECT_REFUSED(w, w_offboard(w, 0, E1, &report), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_offboard(w, 9001, 99, &report), WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    CHECK_RESULT(w_offboard(w, 9001, E1, &report), WELFARE_RESULT_OK);
    /* 81: 900 back (the hold released); 82: 2000 forfeited; 83: carry-over
     * becomes back-to-funder, 2700; 84: 400 back. */
    CHECK_REPORT(report, 4, 1, 900 + 2700 + 400, 2000, 0);
    TEST_CHECK_EQ(wf_funds(w, F1), funds + 4000);
    TEST_CHECK_EQ(wf_forfeited(w), forfeited + 2000);
    welfare_wallet_t wallet = wf_wallet(w, E1);
    TEST_CHECK(wallet.offboarded);
    TEST_CHECK_EQ(wallet.pots_count, 4);
    for (uint32_t i = 0; i < wallet.pots_count && i < WELFARE_POTS_PER_EMPLOYEE_MAX; i++) {
        TEST_CHECK(wallet.pots[i].closed);
        TEST_CHECK_EQ(wallet.pots[i].available, 0);
        TEST_CHECK_EQ(wallet.pots[i].held, 0);
        TEST_CHECK_EQ(wallet.pots[i].balance, 0);
    }
    welfare_employee_t e;
    bool found = false;
    TEST_CHECK_EQ(welfare_lookup_employee(w->f.ledger, id128(E1), &e, &found), 0);
    TEST_CHECK(found && e.offboarded);
    TEST_CHECK_EQ(wf_account(w, wf_provider(w, 13).account_id).credits_pending, 0);
    /* Afterwards. */
    EXPECT_REFUSED(w, w_offboard(w, 9001, E1, &report), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_offboard(w, 9001, E2, &report),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_offboard(w, 9002, E1, &report), WELFARE_RESULT_EMPLOYEE_OFFBOARDED);
    EXPECT_REFUSED(w, w_grant(w, 2005, 81, E1, 10), WELFARE_RESULT_POT_CLOSED);
    EXPECT_REFUSED(w, w_grant(w, 2005, PLAN_A, E1, 10), WELFARE_RESULT_POT_CLOSED);
    EXPECT_REFUSED(w, w_purchase(w, 3004, E1, 13, CAT_RECREATION, 1), WELFARE_RESULT_POT_CLOSED);
    EXPECT_REFUSED(w, w_capture(w, 4001, 3001, 0), WELFARE_RESULT_HOLD_NOT_PENDING);
    welfare_reimbursement_t r = reimbursement_make(7001, E1, CAT_EDUCATION, 20260201, 1, 1, 1);
    EXPECT_REFUSED(w, w_reimburse(w, &r), WELFARE_RESULT_POT_CLOSED);
    /* Refunds into closed pots follow the plan's policy; carry-over goes
     * back to the funder. */
    CHECK_RESULT(w_refund(w, 6001, 3002, 100), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_funds(w, F1), funds + 4100);
    CHECK_RESULT(w_refund(w, 6002, 3003, 300), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_funds(w, F1), funds + 4400);
    CHECK_POT(w, E1, 84, 0, 0, 0);
    CHECK_POT(w, E1, 83, 0, 0, 0);
    /* An employee without pots can be offboarded too. */
    CHECK_RESULT(w_offboard(w, 9003, E2, &report), WELFARE_RESULT_OK);
    CHECK_REPORT(report, 0, 0, 0, 0, 0);
    welfare_funder_statement_t s = wf_funder_statement(w, F1, 0, 0);
    TEST_CHECK_EQ(s.expired_back, 4400);
    TEST_CHECK_EQ(s.forfeited, 2000);
    TEST_CHECK_EQ(s.pots_balance, 0);
    TEST_CHECK_EQ(s.held, 0);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Payouts                                                                  */

static void case_payout(void) {
    wf_t *w = world_open("welfare_payout");
    REQUIRE_OK(w_provider(w, 13, 1000, CAT(CAT_RECREATION)));
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 100000));
    REQUIRE_OK(w_purchase(w, 3001, E1, 13, CAT_RECREATION, 10000));
    REQUIRE_OK(w_purchase(w, 3002, E1, P2, CAT_RECREATION, 5000));
    int64_t bank = wf_bank(w);
    uint64_t paid = 0;
    CHECK_RESULT(w_payout(w, 9501, 13, 0, 1, &paid), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(paid, 9000);
    TEST_CHECK_EQ(wf_payable(w, 13), 0);
    TEST_CHECK_EQ(wf_bank(w), bank - 9000);
    CHECK_RESULT(w_payout(w, 9502, 13, 0, 2, &paid), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(paid, 0);
    EXPECT_REFUSED(w, w_payout(w, 9503, 13, 1, 3, &paid), WELFARE_RESULT_PAYABLE_INSUFFICIENT);
    CHECK_RESULT(w_payout(w, 9504, P2, 2000, 4, &paid), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(paid, 2000);
    TEST_CHECK_EQ(wf_payable(w, P2), 3000);
    EXPECT_REFUSED(w, w_payout(w, 9505, P2, 3001, 5, &paid),
                   WELFARE_RESULT_PAYABLE_INSUFFICIENT);
    CHECK_RESULT(w_payout(w, 9505, P2, 3000, 5, &paid), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_payable(w, P2), 0);
    EXPECT_REFUSED(w, w_payout(w, 9504, P2, 2000, 4, &paid), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_payout(w, 9504, P2, 2000, 6, &paid),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_payout(w, 9504, P2, 1999, 4, &paid),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_payout(w, 9504, 13, 2000, 4, &paid),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    EXPECT_REFUSED(w, w_payout(w, 0, P2, 1, 7, &paid), WELFARE_RESULT_INVALID_FIELD);
    EXPECT_REFUSED(w, w_payout(w, 9506, 99, 1, 7, &paid), WELFARE_RESULT_PROVIDER_NOT_FOUND);
    welfare_provider_statement_t s = wf_provider_statement(w, P2, 0, 0);
    TEST_CHECK_EQ(s.sales, 5000);
    TEST_CHECK_EQ(s.payouts, 5000);
    TEST_CHECK_EQ(s.payable, 0);
    s = wf_provider_statement(w, 13, 0, 0);
    TEST_CHECK_EQ(s.sales, 10000);
    TEST_CHECK_EQ(s.fees, 1000);
    TEST_CHECK_EQ(s.payouts, 9000);
    TEST_CHECK_EQ(s.fees_returned, 0);
    TEST_CHECK_EQ(s.sales - s.refunds - (s.fees - s.fees_returned), s.payouts + s.payable);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Statements and movements                                                 */

/* The statements scenario: F1 funds 100000 at T; grants E1 30000, E2 20000
 * (E4 gets nothing); at T+1h purchases and a hold; at T+2h a refund and a
 * reimbursement; at T+3h a payout of everything; at T+4h 5000 more. */
static wf_t *statements_open(const char *prefix) {
    wf_t *w = wf_open(prefix);
    REQUIRE_OK(w_funder(w, F1, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_funder(w, F2, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_provider(w, 13, 1000,
                          CAT(CAT_EDUCATION) | CAT(CAT_RECREATION) | CAT(CAT_SHOPPING_VOUCHERS)));
    REQUIRE_OK(w_employee(w, E1, F1));
    REQUIRE_OK(w_employee(w, E2, F1));
    REQUIRE_OK(w_employee(w, E3, F2));
    REQUIRE_OK(w_employee(w, E4, F1));
    REQUIRE_OK(w_plan_2026(w, PLAN_A, F1, WELFARE_EXPIRY_BACK_TO_FUNDER, 0));
    REQUIRE_OK(w_fund(w, 1001, F1, 100000));
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 30000));
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E2, 20000));
    w->f.now_ns = WF_NOW + WF_HOUR;
    REQUIRE_OK(w_purchase(w, 3001, E1, 13, CAT_RECREATION, 10000));
    REQUIRE_OK(w_purchase(w, 3002, E2, 13, CAT_SHOPPING_VOUCHERS, 4000));
    REQUIRE_OK(w_hold(w, 3003, E1, 13, CAT_RECREATION, 2000, 86400));
    w->f.now_ns = WF_NOW + 2 * WF_HOUR;
    REQUIRE_OK(w_refund(w, 6001, 3001, 2500));
    welfare_reimbursement_t r = reimbursement_make(7001, E2, CAT_EDUCATION, 20260220, 1500,
                                                   1500, 1);
    REQUIRE_OK(w_reimburse(w, &r));
    w->f.now_ns = WF_NOW + 3 * WF_HOUR;
    uint64_t paid = 0;
    REQUIRE_OK(w_payout(w, 9501, 13, 0, 1, &paid));
    TEST_CHECK_EQ(paid, 14000 - 2500 - 1150);
    w->f.now_ns = WF_NOW + 4 * WF_HOUR;
    REQUIRE_OK(w_fund(w, 1002, F1, 5000));
    return w;
}

static void case_statements(void) {
    wf_t *w = statements_open("welfare_statements");
    welfare_funder_statement_t s;
    welfare_employee_balance_t rows[4];
    uint32_t count = 0;
    bool more = true;
    memset(rows, 0, sizeof rows);
    TEST_CHECK_EQ(welfare_funder_statement(w->f.ledger, id128(F1), 0, 0, &s, id128(0), rows,
                                           4, &count, &more),
                  0);
    TEST_CHECK_EQ(s.funded, 105000);
    TEST_CHECK_EQ(s.granted, 50000);
    TEST_CHECK_EQ(s.spent, 14000);
    TEST_CHECK_EQ(s.spent_by_category[CAT_RECREATION], 10000);
    TEST_CHECK_EQ(s.spent_by_category[CAT_SHOPPING_VOUCHERS], 4000);
    TEST_CHECK_EQ(s.spent_by_category[CAT_EDUCATION], 0);
    TEST_CHECK_EQ(s.refunded, 2500);
    TEST_CHECK_EQ(s.reimbursed, 1500);
    TEST_CHECK_EQ(s.expired_back, 0);
    TEST_CHECK_EQ(s.forfeited, 0);
    TEST_CHECK_EQ(s.carried_over, 0);
    TEST_CHECK_EQ(s.fees, 1000 + 400);
    TEST_CHECK_EQ(s.fees_returned, 250);
    TEST_CHECK_EQ(s.funds_balance, 55000);
    TEST_CHECK_EQ(s.pots_balance, 22500 + 14500);
    TEST_CHECK_EQ(s.held, 2000);
    /* The auditor's identity. */
    TEST_CHECK_EQ(s.funded, s.funds_balance + s.pots_balance + (s.spent - s.refunded) +
                                s.reimbursed + s.forfeited);
    /* Employee rows: the funder's employees in id order, E3 is F2's. */
    TEST_CHECK_EQ(count, 3);
    TEST_CHECK(!more);
    TEST_CHECK(ledger_u128_equal(rows[0].employee_id, id128(E1)));
    TEST_CHECK_EQ(rows[0].balance, 22500);
    TEST_CHECK_EQ(rows[0].held, 2000);
    TEST_CHECK(ledger_u128_equal(rows[1].employee_id, id128(E2)));
    TEST_CHECK_EQ(rows[1].balance, 14500);
    TEST_CHECK_EQ(rows[1].held, 0);
    TEST_CHECK(ledger_u128_equal(rows[2].employee_id, id128(E4)));
    TEST_CHECK_EQ(rows[2].balance, 0);
    /* Paging one row at a time. */
    ledger_u128_t after = id128(0);
    const uint64_t expected_rows[3] = {E1, E2, E4};
    for (int page = 0; page < 3; page++) {
        memset(rows, 0, sizeof rows);
        TEST_CHECK_EQ(welfare_funder_statement(w->f.ledger, id128(F1), 0, 0, &s, after, rows,
                                               1, &count, &more),
                      0);
        TEST_CHECK_EQ(count, 1);
        TEST_CHECK(ledger_u128_equal(rows[0].employee_id, id128(expected_rows[page])));
        TEST_CHECK_EQ(more, page < 2);
        after = rows[0].employee_id;
    }
    TEST_CHECK_EQ(welfare_funder_statement(w->f.ledger, id128(F1), 0, 0, &s, id128(0), rows, 0,
                                           &count, &more),
                  0);
    TEST_CHECK_EQ(count, 0);
    TEST_CHECK(more);
    TEST_CHECK_EQ(s.funded, 105000);
    welfare_employee_balance_t *big = calloc(WELFARE_STATEMENT_EMPLOYEES_MAX + 1, sizeof *big);
    TEST_REQUIRE(big != NULL);
    TEST_CHECK_EQ(welfare_funder_statement(w->f.ledger, id128(F1), 0, 0, &s, id128(0), big,
                                           WELFARE_STATEMENT_EMPLOYEES_MAX, &count, &more),
                  0);
    TEST_CHECK_EQ(count, 3);
    TEST_CHECK_EQ(welfare_funder_statement(w->f.ledger, id128(F1), 0, 0, &s, id128(0), big,
                                           WELFARE_STATEMENT_EMPLOYEES_MAX + 1, &count, &more),
                  LEDGER_ERR_INVALID_ARGUMENT);
    free(big);
    TEST_CHECK_EQ(welfare_funder_statement(w->f.ledger, id128(99), 0, 0, &s, id128(0), rows, 4,
                                           &count, &more),
                  LEDGER_ERR_ACCOUNT_NOT_FOUND);
    /* A period: up to just before the refund. Balances are at its end. */
    s = wf_funder_statement(w, F1, WF_NOW, WF_NOW + 2 * WF_HOUR - 1);
    TEST_CHECK_EQ(s.funded, 100000);
    TEST_CHECK_EQ(s.granted, 50000);
    TEST_CHECK_EQ(s.spent, 14000);
    TEST_CHECK_EQ(s.refunded, 0);
    TEST_CHECK_EQ(s.reimbursed, 0);
    TEST_CHECK_EQ(s.fees, 1400);
    TEST_CHECK_EQ(s.fees_returned, 0);
    TEST_CHECK_EQ(s.funds_balance, 50000);
    TEST_CHECK_EQ(s.pots_balance, 36000);
    TEST_CHECK_EQ(s.held, 2000);
    /* A period with only the last funding. */
    s = wf_funder_statement(w, F1, WF_NOW + 4 * WF_HOUR, 0);
    TEST_CHECK_EQ(s.funded, 5000);
    TEST_CHECK_EQ(s.granted, 0);
    TEST_CHECK_EQ(s.spent, 0);
    TEST_CHECK_EQ(s.refunded, 0);
    TEST_CHECK_EQ(s.funds_balance, 55000);
    TEST_CHECK_EQ(s.pots_balance, 37000);
    TEST_CHECK_EQ(s.held, 2000);
    /* F2 has nothing. */
    s = wf_funder_statement(w, F2, 0, 0);
    TEST_CHECK_EQ(s.funded, 0);
    TEST_CHECK_EQ(s.spent, 0);
    TEST_CHECK_EQ(s.pots_balance, 0);

    /* Provider: sales − refunds − (fees − fees returned) = payouts + payable. */
    welfare_provider_statement_t p = wf_provider_statement(w, 13, 0, 0);
    TEST_CHECK_EQ(p.sales, 14000);
    TEST_CHECK_EQ(p.refunds, 2500);
    TEST_CHECK_EQ(p.fees, 1400);
    TEST_CHECK_EQ(p.fees_returned, 250);
    TEST_CHECK_EQ(p.payouts, 10350);
    TEST_CHECK_EQ(p.payable, 0);
    TEST_CHECK_EQ(p.held, 2000);
    TEST_CHECK_EQ(p.sales - p.refunds - (p.fees - p.fees_returned), p.payouts + p.payable);
    p = wf_provider_statement(w, 13, WF_NOW, WF_NOW + 2 * WF_HOUR - 1);
    TEST_CHECK_EQ(p.sales, 14000);
    TEST_CHECK_EQ(p.refunds, 0);
    TEST_CHECK_EQ(p.fees, 1400);
    TEST_CHECK_EQ(p.fees_returned, 0);
    TEST_CHECK_EQ(p.payouts, 0);
    TEST_CHECK_EQ(p.payable, 12600);
    TEST_CHECK_EQ(p.held, 2000);
    /* Before the first purchase: nothing sold, nothing held yet. */
    p = wf_provider_statement(w, 13, WF_NOW, WF_NOW + WF_HOUR - 1);
    TEST_CHECK_EQ(p.sales, 0);
    TEST_CHECK_EQ(p.payable, 0);
    TEST_CHECK_EQ(p.held, 0);
    s = wf_funder_statement(w, F1, WF_NOW, WF_NOW + WF_HOUR - 1);
    TEST_CHECK_EQ(s.held, 0);
    TEST_CHECK_EQ(s.pots_balance, 50000);
    TEST_CHECK_EQ(s.funds_balance, 50000);
    welfare_provider_statement_t none;
    TEST_CHECK_EQ(welfare_provider_statement(w->f.ledger, id128(99), 0, 0, &none),
                  LEDGER_ERR_ACCOUNT_NOT_FOUND);

    /* Annual statements by fiscal basis. */
    welfare_annual_statement_t a = wf_annual(w, E1, 2026);
    TEST_CHECK_EQ(a.year, 2026);
    TEST_CHECK_EQ(a.cap_class, WELFARE_CAP_STANDARD);
    TEST_CHECK_EQ(a.fringe_cap, 100000);
    TEST_CHECK_EQ(a.fringe_used, 0);
    TEST_CHECK_EQ(a.spent[WELFARE_BASIS_F], 7500);
    for (uint32_t b = 0; b < WELFARE_BASIS_COUNT; b++) {
        if (b != WELFARE_BASIS_F) TEST_CHECK_EQ(a.spent[b], 0);
        TEST_CHECK_EQ(a.reimbursed[b], 0);
    }
    a = wf_annual(w, E2, 2026);
    TEST_CHECK_EQ(a.fringe_used, 4000);
    TEST_CHECK_EQ(a.spent[WELFARE_BASIS_FRINGE], 4000);
    TEST_CHECK_EQ(a.reimbursed[WELFARE_BASIS_F_BIS], 1500);
    TEST_CHECK_EQ(a.spent[WELFARE_BASIS_F_BIS], 0);
    a = wf_annual(w, E2, 2025);
    TEST_CHECK_EQ(a.year, 2025);
    TEST_CHECK_EQ(a.fringe_used, 0);
    TEST_CHECK_EQ(a.spent[WELFARE_BASIS_FRINGE], 0);
    TEST_CHECK_EQ(a.reimbursed[WELFARE_BASIS_F_BIS], 0);
    wf_close(w);
}

static void case_movements(void) {
    wf_t *w = statements_open("welfare_movements");
    welfare_movement_t m[WELFARE_MOVEMENTS_MAX + 1];
    memset(m, 0, sizeof m);
    uint32_t count = 0;
    bool more = false;
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), 0, 0, m, 16, &count, &more), 0);
    /* grant, purchase, hold, refund. */
    TEST_CHECK_EQ(count, 4);
    if (count >= 4) {
        TEST_CHECK_EQ(m[0].posting, WELFARE_POSTING_GRANT);
        TEST_CHECK_EQ(m[0].amount, 30000);
        TEST_CHECK_EQ(m[0].pot_balance_after, 30000);
        TEST_CHECK(!m[0].held);
        TEST_CHECK(ledger_u128_equal(m[0].operation_id, id128(2001)));
        TEST_CHECK(ledger_u128_equal(m[0].plan_id, id128(PLAN_A)));
        TEST_CHECK_EQ(m[0].category, 0);
        TEST_CHECK_EQ(m[1].posting, WELFARE_POSTING_PURCHASE);
        TEST_CHECK_EQ(m[1].amount, -10000);
        TEST_CHECK_EQ(m[1].category, CAT_RECREATION);
        TEST_CHECK_EQ(m[1].pot_balance_after, 20000);
        TEST_CHECK(!m[1].held);
        TEST_CHECK(ledger_u128_equal(m[1].operation_id, id128(3001)));
        TEST_CHECK_EQ(m[2].posting, WELFARE_POSTING_PURCHASE);
        TEST_CHECK_EQ(m[2].amount, -2000);
        TEST_CHECK(m[2].held);
        TEST_CHECK_EQ(m[2].pot_balance_after, 20000); /* held is not posted */
        TEST_CHECK(ledger_u128_equal(m[2].operation_id, id128(3003)));
        TEST_CHECK_EQ(m[3].posting, WELFARE_POSTING_REFUND);
        TEST_CHECK_EQ(m[3].amount, 2500);
        TEST_CHECK_EQ(m[3].pot_balance_after, 22500);
        TEST_CHECK(!m[3].held);
        TEST_CHECK(ledger_u128_equal(m[3].operation_id, id128(6001)));
        for (uint32_t i = 1; i < count; i++) TEST_CHECK(m[i - 1].timestamp < m[i].timestamp);
        TEST_CHECK(m[0].timestamp >= WF_NOW);
        TEST_CHECK(m[1].timestamp >= WF_NOW + WF_HOUR);
        TEST_CHECK(m[3].timestamp >= WF_NOW + 2 * WF_HOUR);
    }
    welfare_movement_t all[4];
    memcpy(all, m, sizeof all);
    /* Paging two at a time. */
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), 0, 0, m, 2, &count, &more), 0);
    TEST_CHECK_EQ(count, 2);
    TEST_CHECK_EQ(m[1].timestamp, all[1].timestamp);
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), m[1].timestamp + 1, 0, m, 2, &count, &more),
                  0);
    TEST_CHECK_EQ(count, 2);
    TEST_CHECK_EQ(m[0].timestamp, all[2].timestamp);
    TEST_CHECK_EQ(m[1].timestamp, all[3].timestamp);
    /* A window: the second hour only. */
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), WF_NOW + WF_HOUR,
                                    WF_NOW + 2 * WF_HOUR - 1, m, 16, &count, &more),
                  0);
    TEST_CHECK_EQ(count, 2);
    TEST_CHECK_EQ(m[0].amount, -10000);
    TEST_CHECK_EQ(m[1].amount, -2000);
    /* E2: grant, purchase, reimbursement. */
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E2), 0, 0, m, 16, &count, &more), 0);
    TEST_CHECK_EQ(count, 3);
    if (count == 3) {
        TEST_CHECK_EQ(m[2].posting, WELFARE_POSTING_REIMBURSEMENT);
        TEST_CHECK_EQ(m[2].amount, -1500);
        TEST_CHECK_EQ(m[2].category, CAT_EDUCATION);
        TEST_CHECK_EQ(m[2].pot_balance_after, 14500);
        TEST_CHECK(ledger_u128_equal(m[2].operation_id, id128(7001)));
    }
    /* The hold's release is a held movement back into the pot. */
    w->f.now_ns = WF_NOW + 5 * WF_HOUR;
    REQUIRE_OK(w_void(w, 5001, 3003));
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), WF_NOW + 5 * WF_HOUR, 0, m, 16,
                                    &count, &more),
                  0);
    TEST_CHECK_EQ(count, 1);
    TEST_CHECK(m[0].held);
    TEST_CHECK_EQ(m[0].amount, 2000);
    TEST_CHECK_EQ(m[0].pot_balance_after, 22500);
    TEST_CHECK(ledger_u128_equal(m[0].operation_id, id128(5001)));
    /* E4 has no movements; bad arguments. */
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E4), 0, 0, m, 16, &count, &more), 0);
    TEST_CHECK_EQ(count, 0);
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), 0, 0, m, 0, &count, &more),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), 0, 0, m, WELFARE_MOVEMENTS_MIN - 1,
                                    &count, &more),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), 0, 0, m, WELFARE_MOVEMENTS_MAX + 1,
                                    &count, &more),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), 0, 0, m, WELFARE_MOVEMENTS_MAX,
                                    &count, &more),
                  0);
    TEST_CHECK_EQ(count, 5);
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(99), 0, 0, m, 16, &count, &more),
                  LEDGER_ERR_ACCOUNT_NOT_FOUND);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Contract points the header states and the money operations must keep    */

/* A reference to another entity that does not exist, id 0 and 2^128-1
 * included, gets that entity's *_NOT_FOUND result (welfare.h, INVALID_FIELD
 * is for the request's own fields), and changes nothing. */
static void case_zero_references(void) {
    wf_t *w = world_open("welfare_zero_refs");
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 1000));
    REQUIRE_OK(w_purchase(w, 3001, E1, P1, CAT_RECREATION, 100));
    welfare_sweep_report_t report;
    uint64_t paid = 0;
    EXPECT_REFUSED(w, w_employee(w, 40, 0), WELFARE_RESULT_FUNDER_NOT_FOUND);
    welfare_plan_t plan = plan_make(40, 0, WF_T2026, WF_T2027, CAT(7), WELFARE_EXPIRY_FORFEIT, 0);
    EXPECT_REFUSED(w, w_plan(w, &plan), WELFARE_RESULT_FUNDER_NOT_FOUND);
    EXPECT_REFUSED(w, w_cap_class(w, 0, 2026, WELFARE_CAP_STANDARD), WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    EXPECT_REFUSED(w, w_fund(w, 1002, 0, 1), WELFARE_RESULT_FUNDER_NOT_FOUND);
    EXPECT_REFUSED(w, w_grant(w, 2002, 0, E1, 1), WELFARE_RESULT_PLAN_NOT_FOUND);
    EXPECT_REFUSED(w, w_grant(w, 2002, PLAN_A, 0, 1), WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    EXPECT_REFUSED(w, w_purchase(w, 3002, 0, P1, CAT_RECREATION, 1), WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    EXPECT_REFUSED(w, w_purchase(w, 3002, E1, 0, CAT_RECREATION, 1), WELFARE_RESULT_PROVIDER_NOT_FOUND);
    EXPECT_REFUSED(w, w_capture(w, 4001, 0, 0), WELFARE_RESULT_PURCHASE_NOT_FOUND);
    EXPECT_REFUSED(w, w_void(w, 5001, 0), WELFARE_RESULT_PURCHASE_NOT_FOUND);
    EXPECT_REFUSED(w, w_refund(w, 6001, 0, 1), WELFARE_RESULT_PURCHASE_NOT_FOUND);
    welfare_reimbursement_t r = reimbursement_make(7001, 0, CAT_EDUCATION, 20260201, 1, 1, 1);
    EXPECT_REFUSED(w, w_reimburse(w, &r), WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    EXPECT_REFUSED(w, w_sweep(w, 8001, 0, &report), WELFARE_RESULT_PLAN_NOT_FOUND);
    EXPECT_REFUSED(w, w_offboard(w, 9001, 0, &report), WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    EXPECT_REFUSED(w, w_payout(w, 9501, 0, 1, 1, &paid), WELFARE_RESULT_PROVIDER_NOT_FOUND);
    welfare_purchase_t p = purchase_make(3002, E1, P1, CAT_RECREATION, 1, 0);
    p.employee_id = id128_max();
    EXPECT_REFUSED(w, w_purchase_full(w, &p), WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    EXPECT_REFUSED(w, w_refund_u128(w, id128(6001), id128_max(), 1), WELFARE_RESULT_PURCHASE_NOT_FOUND);
    wf_close(w);
}

/* NO_ELIGIBLE_POT: the employee has no pot at all (was never granted
 * credit). It comes after the provider and category checks and before the
 * plan checks; an offboarded employee gets POT_CLOSED first. */
static void case_no_eligible_pot(void) {
    wf_t *w = world_open("welfare_no_eligible");
    const uint32_t none = WELFARE_RESULT_NO_ELIGIBLE_POT;
    EXPECT_REFUSED(w, w_purchase(w, 3001, E2, P1, CAT_HEALTH, 1), none);
    EXPECT_REFUSED(w, w_hold(w, 3001, E2, P1, CAT_HEALTH, 1, 60), none);
    EXPECT_REFUSED(w, w_purchase(w, 3001, E2, P2, CAT_HEALTH, 1),
                   WELFARE_RESULT_CATEGORY_NOT_SOLD_BY_PROVIDER);
    EXPECT_REFUSED(w, w_purchase(w, 3001, E2, P1, 20, 1), WELFARE_RESULT_CATEGORY_NOT_FOUND);
    welfare_reimbursement_t r = reimbursement_make(7001, E2, CAT_CANTEEN, 20260301, 1, 1, 1);
    EXPECT_REFUSED(w, w_reimburse(w, &r), none);
    r.category = CAT_RECREATION;
    EXPECT_REFUSED(w, w_reimburse(w, &r), WELFARE_RESULT_CATEGORY_NOT_REIMBURSABLE);
    /* With a pot, the plan checks decide. */
    REQUIRE_OK(w_plan_until(w, 34, WF_T2027, CAT(CAT_RECREATION), WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_grant(w, 2001, 34, E2, 1000));
    EXPECT_REFUSED(w, w_purchase(w, 3001, E2, P1, CAT_HEALTH, 1),
                   WELFARE_RESULT_CATEGORY_NOT_ALLOWED_BY_PLAN);
    r = reimbursement_make(7001, E2, CAT_CANTEEN, 20260301, 1, 1, 1);
    EXPECT_REFUSED(w, w_reimburse(w, &r), WELFARE_RESULT_CATEGORY_NOT_ALLOWED_BY_PLAN);
    /* Offboarded without ever having a pot. */
    REQUIRE_OK(w_offboard(w, 9001, E4, NULL));
    EXPECT_REFUSED(w, w_purchase(w, 3001, E4, P1, CAT_HEALTH, 1), WELFARE_RESULT_POT_CLOSED);
    wf_close(w);
}

/* TOO_MANY_POTS_FOR_SPLIT is "the split would need more than
 * WELFARE_PURCHASE_POTS_MAX pots": when the split pots could not cover the
 * amount even all together, the refusal is INSUFFICIENT_POT_BALANCE. */
static void case_split_cannot_cover(void) {
    wf_t *w = world_open("welfare_split_short");
    for (uint32_t i = 0; i < WELFARE_PURCHASE_POTS_MAX + 1; i++) {
        REQUIRE_OK(w_plan_until(w, 51 + i, WF_NOW + (10 + i) * WF_DAY, CAT(CAT_RECREATION),
                                WELFARE_EXPIRY_FORFEIT, WELFARE_PLAN_SPLIT_ALLOWED));
        REQUIRE_OK(w_grant(w, 2001 + i, 51 + i, E1, 100));
    }
    /* 5 × 100 = 500 in all: 501 cannot be covered by any split. */
    EXPECT_REFUSED(w, w_purchase(w, 3001, E1, P2, CAT_RECREATION, 501),
                   WELFARE_RESULT_INSUFFICIENT_POT_BALANCE);
    EXPECT_REFUSED(w, w_purchase(w, 3001, E1, P2, CAT_RECREATION, 500),
                   WELFARE_RESULT_TOO_MANY_POTS_FOR_SPLIT);
    wf_close(w);
}

/* A receipt date is a calendar date: YYYYMMDD that exists. */
static void case_receipt_date_calendar(void) {
    wf_t *w = world_open("welfare_receipt_date");
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 10000));
    welfare_reimbursement_t r = reimbursement_make(7001, E1, CAT_CANTEEN, 20260230, 1, 1, 1);
    EXPECT_REFUSED(w, w_reimburse(w, &r), WELFARE_RESULT_INVALID_FIELD); /* 30 February */
    r = reimbursement_make(7002, E1, CAT_CANTEEN, 20250229, 1, 1, 2); /* not a leap year */
    EXPECT_REFUSED(w, w_reimburse(w, &r), WELFARE_RESULT_INVALID_FIELD);
    r = reimbursement_make(7003, E1, CAT_CANTEEN, 20260431, 1, 1, 3); /* 31 April */
    EXPECT_REFUSED(w, w_reimburse(w, &r), WELFARE_RESULT_INVALID_FIELD);
    r = reimbursement_make(7004, E1, CAT_CANTEEN, 20240229, 1, 1, 4); /* a leap day */
    CHECK_RESULT(w_reimburse(w, &r), WELFARE_RESULT_OK);
    wf_close(w);
}

/* More due holds than one expiry pass may void (LEDGER_EXPIRE_BATCH_MAX):
 * welfare_expire_holds() voids them in batches; and a hold whose timeout
 * has passed cannot be captured even if the pass has not reached it yet
 * (as the core refuses to post an expired pending transfer). */
static void case_expire_bound(void) {
    wf_t *w = world_open("welfare_expire_bound");
    const uint32_t count = LEDGER_EXPIRE_BATCH_MAX + 1;
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 2 * (uint64_t)count));
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E2, 2 * (uint64_t)count));
    /* E2: the batch bound. */
    TEST_REQUIRE(ledger_write_begin(w->f.ledger) == 0);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t r = w_hold(w, 3000000 + i, E2, P2, CAT_RECREATION, 1, 60);
        if (r != WELFARE_RESULT_OK) CHECK_RESULT(r, WELFARE_RESULT_OK);
    }
    TEST_REQUIRE(ledger_write_commit(w->f.ledger) == 0);
    CHECK_POT(w, E2, PLAN_A, count, count, 2 * (uint64_t)count);
    w->f.now_ns += 120 * WF_NS_PER_S;
    TEST_CHECK_EQ(w_expire(w), LEDGER_EXPIRE_BATCH_MAX);
    TEST_CHECK_EQ(wf_pot(w, E2, PLAN_A).held, 1);
    TEST_CHECK_EQ(w_expire(w), 1);
    TEST_CHECK_EQ(w_expire(w), 0);
    CHECK_POT(w, E2, PLAN_A, 2 * (uint64_t)count, 0, 2 * (uint64_t)count);
    /* E1: the last hold expires a second after the others. */
    TEST_REQUIRE(ledger_write_begin(w->f.ledger) == 0);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t r = w_hold(w, 4000000 + i, E1, P2, CAT_RECREATION, 1, i + 1 == count ? 61 : 60);
        if (r != WELFARE_RESULT_OK) CHECK_RESULT(r, WELFARE_RESULT_OK);
    }
    TEST_REQUIRE(ledger_write_commit(w->f.ledger) == 0);
    w->f.now_ns += 120 * WF_NS_PER_S;
    CHECK_RESULT(w_capture(w, 4999, 4000000 + count - 1, 0), WELFARE_RESULT_HOLD_NOT_PENDING);
    while (w_expire(w) > 0) {
    }
    CHECK_POT(w, E1, PLAN_A, 2 * (uint64_t)count, 0, 2 * (uint64_t)count);
    TEST_CHECK_EQ(wf_payable(w, P2), 0);
    TEST_CHECK_EQ(fixture_stats(&w->f).pending_count, 0);
    wf_close(w);
}

/* Rules are data, and a certificate must be reproducible years later: a
 * purchase keeps the fiscal basis its category had when it was chosen.
 * Re-declaring the category afterwards changes neither the year's figures
 * nor their agreement with the fringe usage. */
static void case_annual_statement_stable(void) {
    wf_t *w = world_open("welfare_annual_stable");
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 10000));
    REQUIRE_OK(w_purchase(w, 3001, E1, P1, CAT_SHOPPING_VOUCHERS, 5000));
    REQUIRE_OK(w_purchase(w, 3002, E1, P1, CAT_RECREATION, 1000));
    welfare_annual_statement_t before = wf_annual(w, E1, 2026);
    TEST_CHECK_EQ(before.spent[WELFARE_BASIS_FRINGE], 5000);
    TEST_CHECK_EQ(before.spent[WELFARE_BASIS_F], 1000);
    TEST_CHECK_EQ(before.fringe_used, 5000);
    /* Next year's rules: shopping vouchers become lett. f. */
    CHECK_RESULT(w_category(w, CAT_SHOPPING_VOUCHERS, WELFARE_BASIS_F, false,
                            "shopping-vouchers"),
                 WELFARE_RESULT_OK);
    welfare_annual_statement_t after = wf_annual(w, E1, 2026);
    TEST_CHECK_EQ(after.fringe_used, 5000);
    TEST_CHECK_EQ(after.spent[WELFARE_BASIS_FRINGE], 5000);
    TEST_CHECK_EQ(after.spent[WELFARE_BASIS_F], 1000);
    wf_close(w);
}

/* A carry-over between two pots of the same employee is one transfer: two
 * movements with one timestamp. Paging one movement at a time with
 * timestamp_min = last timestamp + 1 (as welfare.h says) must still give
 * every movement. */
static void case_movements_paging(void) {
    wf_t *w = world_open("welfare_movements_paging");
    const uint64_t end = WF_NOW + 10 * WF_DAY;
    REQUIRE_OK(w_plan_until(w, 74, WF_T2028, WF_CATS_DEFAULT, WELFARE_EXPIRY_FORFEIT, 0));
    welfare_plan_t carry = plan_make(73, F1, WF_T2026, end, WF_CATS_DEFAULT,
                                     WELFARE_EXPIRY_CARRY_OVER, 0);
    carry.next_plan_id = id128(74);
    REQUIRE_OK(w_plan(w, &carry));
    REQUIRE_OK(w_grant(w, 2001, 73, E1, 600));
    REQUIRE_OK(w_grant(w, 2002, 74, E1, 100));
    w->f.now_ns = end;
    REQUIRE_OK(w_sweep(w, 8001, 73, NULL));
    REQUIRE_OK(w_purchase(w, 3001, E1, P2, CAT_RECREATION, 50));
    welfare_movement_t all[16];
    uint32_t count = 0;
    bool more = false;
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), 0, 0, all, 16, &count, &more), 0);
    TEST_CHECK(!more);
    /* grant 73, grant 74, carry out of 73, carry into 74, purchase. */
    TEST_CHECK_EQ(count, 5);
    int64_t carried_out = 0, carried_in = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (all[i].posting != WELFARE_POSTING_CARRY_OVER) continue;
        if (all[i].amount < 0) carried_out += all[i].amount;
        if (all[i].amount > 0) carried_in += all[i].amount;
    }
    TEST_CHECK_EQ(carried_out, -600);
    TEST_CHECK_EQ(carried_in, 600);
    /* Pages of the smallest size (2) never split the two movements of the
     * carry-over, which share a timestamp: every movement is seen once. */
    uint32_t paged = 0;
    uint64_t from = 0;
    welfare_movement_t two[2];
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), 0, 0, two, 1, &count, &more),
                  LEDGER_ERR_INVALID_ARGUMENT);
    for (int guard = 0; guard < 16; guard++) {
        uint32_t n = 0;
        TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), from, 0, two, 2, &n, &more), 0);
        for (uint32_t i = 0; i < n; i++) {
            TEST_CHECK_EQ(two[i].timestamp, all[paged + i].timestamp);
            TEST_CHECK_EQ(two[i].amount, all[paged + i].amount);
        }
        paged += n;
        if (!more) break;
        TEST_CHECK(n > 0);
        from = two[n - 1].timestamp + 1;
    }
    TEST_CHECK_EQ(paged, 5);
    wf_close(w);
}

/* Movements of several pots, interleaved in time: every page holds the
 * oldest movements after timestamp_min across all the pots. */
static void case_movements_pages_across_pots(void) {
    wf_t *w = world_open("welfare_movements_pots");
    REQUIRE_OK(w_plan_until(w, 41, WF_NOW + 30 * WF_DAY, CAT(CAT_RECREATION),
                            WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_plan_until(w, 42, WF_NOW + 60 * WF_DAY, CAT(CAT_HEALTH),
                            WELFARE_EXPIRY_FORFEIT, 0));
    /* 41, 42, 41, 42, 41, 42: each at its own hour. */
    for (uint64_t i = 0; i < 3; i++) {
        w->f.now_ns = WF_NOW + (2 * i) * WF_HOUR;
        REQUIRE_OK(w_grant(w, 2001 + i, 41, E1, 100 + i));
        w->f.now_ns = WF_NOW + (2 * i + 1) * WF_HOUR;
        REQUIRE_OK(w_grant(w, 2101 + i, 42, E1, 200 + i));
    }
    welfare_movement_t all[16];
    uint32_t count = 0;
    bool more = false;
    TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), 0, 0, all, 16, &count, &more), 0);
    TEST_CHECK_EQ(count, 6);
    TEST_CHECK(!more);
    for (uint32_t i = 1; i < count; i++) TEST_CHECK(all[i - 1].timestamp < all[i].timestamp);
    for (uint32_t i = 0; i < count && i < 6; i++) {
        TEST_CHECK_EQ(all[i].plan_id.lo, i % 2 == 0 ? 41 : 42);
        TEST_CHECK_EQ(all[i].amount, (int64_t)((i % 2 == 0 ? 100 : 200) + i / 2));
    }
    /* Two at a time. */
    welfare_movement_t page[2];
    uint64_t from = 0;
    for (uint32_t p = 0; p < 3; p++) {
        uint32_t n = 0;
        TEST_CHECK_EQ(welfare_movements(w->f.ledger, id128(E1), from, 0, page, 2, &n, &more), 0);
        TEST_CHECK_EQ(n, 2);
        if (n != 2) break;
        TEST_CHECK_EQ(page[0].timestamp, all[2 * p].timestamp);
        TEST_CHECK_EQ(page[1].timestamp, all[2 * p + 1].timestamp);
        from = page[1].timestamp + 1;
    }
    wf_close(w);
}

/* welfare_purchases is exactly N welfare_purchase calls in order: same
 * results (refusals in the middle, an id resent, an id reused with other
 * fields, a hold, the fringe cap reached inside the batch), same money. */
static void case_purchases_batch(void) {
    wf_t *batch = world_open("welfare_purchases_batch");
    wf_t *single = world_open("welfare_purchases_single");
    wf_t *worlds[2] = {batch, single};
    for (int k = 0; k < 2; k++) {
        REQUIRE_OK(w_grant(worlds[k], 2001, PLAN_A, E1, 150000));
        REQUIRE_OK(w_grant(worlds[k], 2002, PLAN_A, E2, 500));
    }
    welfare_purchase_t list[10] = {
        purchase_make(3001, E1, P1, CAT_SHOPPING_VOUCHERS, 60000, 0),
        purchase_make(3002, E2, P1, CAT_RECREATION, 600, 0),        /* insufficient */
        purchase_make(3003, E1, P1, CAT_SHOPPING_VOUCHERS, 40000, 0), /* cap: exactly 1000 */
        purchase_make(3004, E1, P1, CAT_SHOPPING_VOUCHERS, 1, 0),   /* one cent over */
        purchase_make(3001, E1, P1, CAT_SHOPPING_VOUCHERS, 60000, 0), /* resent: exists */
        purchase_make(3001, E1, P1, CAT_RECREATION, 60000, 0),      /* other fields */
        purchase_make(3005, E2, P1, CAT_RECREATION, 500, 3600),      /* a hold, all of it */
        purchase_make(3006, E2, P1, CAT_RECREATION, 1, 0),          /* held is not spendable */
        purchase_make(3007, E1, P2, CAT_RECREATION, 2500, 0),
        purchase_make(3008, 99, P1, CAT_RECREATION, 1, 0),          /* no such employee */
    };
    uint32_t batch_results[10];
    uint32_t single_results[10];
    TEST_CHECK_EQ(welfare_purchases(batch->f.ledger, list, 10, batch_results), 0);
    for (uint32_t i = 0; i < 10; i++) {
        single_results[i] = UINT32_MAX;
        TEST_CHECK_EQ(welfare_purchase(single->f.ledger, &list[i], &single_results[i]), 0);
        TEST_CHECK_EQ(batch_results[i], single_results[i]);
    }
    const uint32_t expected[10] = {
        WELFARE_RESULT_OK, WELFARE_RESULT_INSUFFICIENT_POT_BALANCE, WELFARE_RESULT_OK,
        WELFARE_RESULT_FRINGE_CAP_EXCEEDED, WELFARE_RESULT_EXISTS,
        WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS, WELFARE_RESULT_OK,
        WELFARE_RESULT_INSUFFICIENT_POT_BALANCE, WELFARE_RESULT_OK, WELFARE_RESULT_EMPLOYEE_NOT_FOUND};
    for (uint32_t i = 0; i < 10; i++) TEST_CHECK_EQ(batch_results[i], expected[i]);
    for (uint64_t e = E1; e <= E2; e++) {
        welfare_wallet_t a = wf_wallet(batch, e);
        welfare_wallet_t b = wf_wallet(single, e);
        TEST_CHECK(wf_wallet_equal(&a, &b));
    }
    welfare_provider_statement_t pa, pb;
    TEST_CHECK_EQ(welfare_provider_statement(batch->f.ledger, id128(P1), 0, 0, &pa), 0);
    TEST_CHECK_EQ(welfare_provider_statement(single->f.ledger, id128(P1), 0, 0, &pb), 0);
    TEST_CHECK(memcmp(&pa, &pb, sizeof pa) == 0);
    TEST_CHECK_EQ(pa.sales, 60000 + 40000);
    TEST_CHECK_EQ(pa.held, 500);
    /* The bounds: 1..LEDGER_BATCH_EVENTS_MAX purchases. */
    TEST_CHECK_EQ(welfare_purchases(batch->f.ledger, list, 0, batch_results), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_purchases(batch->f.ledger, list, LEDGER_BATCH_EVENTS_MAX + 1, batch_results),
                  LEDGER_ERR_INVALID_ARGUMENT);
    wf_close(single);
    wf_close(batch);
}

/* A bulk grant runs its entries in employee-id order when the funds cover
 * it, in request order when they may not: either way each entry gets the
 * result it gets alone, in request order (a resent employee, another
 * amount for the same employee, an employee of another funder, a missing
 * one), and when the funds run short the refused entries are the last of
 * the request. */
static void case_grant_order(void) {
    wf_t *bulk = world_open("welfare_grant_order_bulk");
    wf_t *single = world_open("welfare_grant_order_single");
    const uint64_t employees[] = {E8, E2, E5, E1, E2, E3, E7, 99, E4, E6, E2};
    const uint64_t amounts[] = {800, 200, 500, 100, 200, 300, 700, 1, 400, 600, 250};
    enum { ENTRIES = sizeof employees / sizeof employees[0] };
    welfare_grant_entry_t entries[ENTRIES];
    uint32_t results[ENTRIES];
    for (uint32_t i = 0; i < ENTRIES; i++) {
        entries[i] = (welfare_grant_entry_t){id128(employees[i]), amounts[i]};
    }
    TEST_CHECK_EQ(welfare_grant(bulk->f.ledger, id128(4001), id128(PLAN_A), entries, ENTRIES,
                                results), 0);
    const uint32_t expected[ENTRIES] = {
        WELFARE_RESULT_OK, WELFARE_RESULT_OK, WELFARE_RESULT_OK, WELFARE_RESULT_OK,
        WELFARE_RESULT_EXISTS, WELFARE_RESULT_EMPLOYEE_OF_ANOTHER_FUNDER, WELFARE_RESULT_OK,
        WELFARE_RESULT_EMPLOYEE_NOT_FOUND, WELFARE_RESULT_OK, WELFARE_RESULT_OK,
        WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS};
    for (uint32_t i = 0; i < ENTRIES; i++) {
        TEST_CHECK_EQ(results[i], expected[i]);
        TEST_CHECK_EQ(w_grant(single, 4001, PLAN_A, employees[i], amounts[i]), expected[i]);
    }
    for (uint64_t e = E1; e <= E8; e++) {
        welfare_wallet_t a = wf_wallet(bulk, e);
        welfare_wallet_t b = wf_wallet(single, e);
        TEST_CHECK_EQ(a.pots_count, b.pots_count);
        TEST_CHECK(a.pots_count == 0 || a.pots[0].balance == b.pots[0].balance);
    }
    TEST_CHECK_EQ(wf_funds(bulk, F1), (int64_t)(F1_FUNDED - 3300));
    /* The funds covered the grant: pots were made in employee-id order
     * (their numbers rise with the employee id), not in request order. */
    uint64_t previous = 0;
    for (uint64_t e = E1; e <= E8; e++) {
        welfare_wallet_t wallet = wf_wallet(bulk, e);
        if (wallet.pots_count == 0) continue;
        TEST_CHECK(wallet.pots[0].account_id.lo > previous);
        previous = wallet.pots[0].account_id.lo;
    }
    TEST_CHECK_EQ(wf_funds(bulk, F1), wf_funds(single, F1));
    /* Funds for the first two entries only, the request in descending
     * employee order: the third entry of the request is refused, not the
     * first in employee order. */
    uint64_t left = (uint64_t)wf_funds(bulk, F1);
    welfare_grant_entry_t short_entries[3] = {{id128(E7), left - 10}, {id128(E4), 10},
                                              {id128(E1), 1}};
    TEST_CHECK_EQ(welfare_grant(bulk->f.ledger, id128(4002), id128(PLAN_A), short_entries, 3,
                                results), 0);
    TEST_CHECK_EQ(results[0], WELFARE_RESULT_OK);
    TEST_CHECK_EQ(results[1], WELFARE_RESULT_OK);
    TEST_CHECK_EQ(results[2], WELFARE_RESULT_INSUFFICIENT_FUNDS);
    TEST_CHECK_EQ(wf_funds(bulk, F1), 0);
    wf_close(single);
    wf_close(bulk);
}

/* A bulk grant in requests whose employee ranges meet, touch and miss the
 * entries of the grant's earlier requests: an entry at either end of the
 * range is found (EXISTS, or with other fields), and a request between
 * earlier entries, which skips the lookup per entry, grants each once. */
static uint32_t grant_pair(wf_t *w, uint64_t grant_id, uint64_t e1, uint64_t a1, uint64_t e2,
                           uint64_t a2, uint32_t results[2]) {
    welfare_grant_entry_t entries[2] = {{id128(e1), a1}, {id128(e2), a2}};
    TEST_CHECK_EQ(welfare_grant(w->f.ledger, id128(grant_id), id128(PLAN_A), entries, 2, results),
                  0);
    return results[0];
}

static void case_grant_ranges(void) {
    wf_t *w = world_open("welfare_grant_ranges");
    int64_t funds = wf_funds(w, F1);
    uint32_t r[2];
    grant_pair(w, 4003, E6, 100, E2, 100, r);
    TEST_CHECK(r[0] == WELFARE_RESULT_OK && r[1] == WELFARE_RESULT_OK);
    /* E6 is the first employee of this request's range. */
    grant_pair(w, 4003, E7, 100, E6, 100, r);
    TEST_CHECK(r[0] == WELFARE_RESULT_OK && r[1] == WELFARE_RESULT_EXISTS);
    /* E2 is the last, asked with another amount. */
    grant_pair(w, 4003, E2, 200, E1, 100, r);
    TEST_CHECK(r[0] == WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS && r[1] == WELFARE_RESULT_OK);
    /* Between E2 and E6: no entry of the grant in the range. */
    grant_pair(w, 4003, E5, 100, E4, 100, r);
    TEST_CHECK(r[0] == WELFARE_RESULT_OK && r[1] == WELFARE_RESULT_OK);
    grant_pair(w, 4003, E5, 100, E4, 100, r);
    TEST_CHECK(r[0] == WELFARE_RESULT_EXISTS && r[1] == WELFARE_RESULT_EXISTS);
    /* Another grant id is its own range: the same employees again. */
    grant_pair(w, 4004, E4, 100, E5, 100, r);
    TEST_CHECK(r[0] == WELFARE_RESULT_OK && r[1] == WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_funds(w, F1), funds - 800);
    const uint64_t granted[] = {E1, E2, E4, E5, E6, E7};
    for (size_t i = 0; i < sizeof granted / sizeof granted[0]; i++) {
        welfare_wallet_t wallet = wf_wallet(w, granted[i]);
        TEST_CHECK_EQ(wallet.pots_count, 1u);
        uint64_t expected = granted[i] == E4 || granted[i] == E5 ? 200 : 100;
        TEST_CHECK(wallet.pots_count == 1 && wallet.pots[0].balance == expected);
    }
    wf_close(w);
}

/* One entry of a registry batch, and the same operation made alone. */
static welfare_register_entry_t reg_funder(uint64_t id, uint32_t kind) {
    welfare_register_entry_t e = {.kind = WELFARE_REGISTER_FUNDER};
    e.u.funder.id = id128(id);
    e.u.funder.kind = kind;
    return e;
}

static welfare_register_entry_t reg_employee(uint64_t id, uint64_t funder) {
    welfare_register_entry_t e = {.kind = WELFARE_REGISTER_EMPLOYEE};
    e.u.employee.id = id128(id);
    e.u.employee.funder_id = id128(funder);
    return e;
}

static welfare_register_entry_t reg_cap_class(uint64_t employee, uint32_t cap_class) {
    welfare_register_entry_t e = {.kind = WELFARE_REGISTER_CAP_CLASS};
    e.u.cap_class.employee_id = id128(employee);
    e.u.cap_class.year = 2026;
    e.u.cap_class.cap_class = cap_class;
    return e;
}

static welfare_register_entry_t reg_plan(uint64_t id, uint64_t funder, uint32_t policy,
                                         uint64_t next) {
    welfare_register_entry_t e = {.kind = WELFARE_REGISTER_PLAN};
    e.u.plan = plan_make(id, funder, WF_T2026, WF_T2027, WF_CATS_DEFAULT, policy, 0);
    e.u.plan.next_plan_id = next != 0 ? id128(next) : id128(0);
    return e;
}

static int reg_single(ledger_t *ledger, const welfare_register_entry_t *e, uint32_t *result) {
    switch (e->kind) {
    case WELFARE_REGISTER_FUNDER: return welfare_create_funder(ledger, &e->u.funder, result);
    case WELFARE_REGISTER_PROVIDER: return welfare_create_provider(ledger, &e->u.provider, result);
    case WELFARE_REGISTER_EMPLOYEE: return welfare_create_employee(ledger, &e->u.employee, result);
    case WELFARE_REGISTER_CAP_CLASS:
        return welfare_set_cap_class(ledger, e->u.cap_class.employee_id, e->u.cap_class.year,
                                     e->u.cap_class.cap_class, result);
    case WELFARE_REGISTER_PLAN: return welfare_create_plan(ledger, &e->u.plan, result);
    default: *result = WELFARE_RESULT_INVALID_FIELD; return 0;
    }
}

/* welfare_register is exactly its entries made one by one, in order: the
 * same results (an entry naming an entity created earlier in the batch,
 * refusals between acceptances, resends), the same registry and journal; a
 * batch of refusals changes nothing; the bounds. */
static void case_register_batch(void) {
    wf_t *batch = wf_open("welfare_register_batch");
    wf_t *single = wf_open("welfare_register_single");
    welfare_register_entry_t provider = {.kind = WELFARE_REGISTER_PROVIDER};
    provider.u.provider.id = id128(201);
    provider.u.provider.fee_bps = 250;
    provider.u.provider.categories = CAT(CAT_RECREATION);
    welfare_register_entry_t none = {.kind = 0};
    welfare_register_entry_t list[] = {
        reg_funder(101, WELFARE_FUNDER_COMPANY),
        reg_funder(102, WELFARE_FUNDER_PUBLIC),
        provider,
        reg_employee(301, 101),              /* its funder made two entries before */
        reg_employee(302, 999),              /* no such funder */
        reg_cap_class(301, WELFARE_CAP_WITH_CHILDREN),
        reg_cap_class(302, WELFARE_CAP_STANDARD), /* no such employee */
        reg_plan(401, 101, WELFARE_EXPIRY_BACK_TO_FUNDER, 0),
        reg_plan(402, 101, WELFARE_EXPIRY_CARRY_OVER, 401), /* next plan made just before */
        reg_plan(403, 102, WELFARE_EXPIRY_CARRY_OVER, 401), /* next plan of another funder */
        reg_employee(301, 101),              /* resent */
        reg_employee(301, 102),              /* other fields */
        reg_funder(101, WELFARE_FUNDER_PUBLIC),
        none,
        reg_employee(303, 102),
    };
    const uint32_t count = sizeof list / sizeof list[0];
    const uint32_t expected[] = {
        WELFARE_RESULT_OK, WELFARE_RESULT_OK, WELFARE_RESULT_OK, WELFARE_RESULT_OK,
        WELFARE_RESULT_FUNDER_NOT_FOUND, WELFARE_RESULT_OK, WELFARE_RESULT_EMPLOYEE_NOT_FOUND,
        WELFARE_RESULT_OK, WELFARE_RESULT_OK, WELFARE_RESULT_NEXT_PLAN_INVALID,
        WELFARE_RESULT_EXISTS, WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS,
        WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS, WELFARE_RESULT_INVALID_FIELD,
        WELFARE_RESULT_OK};
    _Static_assert(sizeof expected / sizeof expected[0] == sizeof list / sizeof list[0],
                   "one expected result per entry");
    uint32_t batch_results[sizeof list / sizeof list[0]];
    TEST_CHECK_EQ(welfare_register(batch->f.ledger, list, count, batch_results), 0);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t one = UINT32_MAX;
        TEST_CHECK_EQ(reg_single(single->f.ledger, &list[i], &one), 0);
        TEST_CHECK_EQ(batch_results[i], one);
        TEST_CHECK_EQ(batch_results[i], expected[i]);
    }
    TEST_CHECK(strstr(ledger_last_error_message(batch->f.ledger), "kind") != NULL);
    ledger_stats_t a = fixture_stats(&batch->f), b = fixture_stats(&single->f);
    TEST_CHECK_EQ(a.journal_sequence, b.journal_sequence);
    TEST_CHECK_EQ(a.accounts_count, b.accounts_count);
    welfare_funder_t fa, fb;
    bool found_a = false, found_b = false;
    TEST_CHECK_EQ(welfare_lookup_funder(batch->f.ledger, id128(102), &fa, &found_a), 0);
    TEST_CHECK_EQ(welfare_lookup_funder(single->f.ledger, id128(102), &fb, &found_b), 0);
    TEST_CHECK(found_a && found_b && fa.number == fb.number && fa.kind == WELFARE_FUNDER_PUBLIC);
    welfare_plan_t pa, pb;
    TEST_CHECK_EQ(welfare_lookup_plan(batch->f.ledger, id128(402), &pa, &found_a), 0);
    TEST_CHECK_EQ(welfare_lookup_plan(single->f.ledger, id128(402), &pb, &found_b), 0);
    TEST_CHECK(found_a && found_b && ledger_u128_equal(pa.next_plan_id, id128(401)));
    welfare_employee_t ea;
    TEST_CHECK_EQ(welfare_lookup_employee(batch->f.ledger, id128(302), &ea, &found_a), 0);
    TEST_CHECK(!found_a);
    /* Refusals only: nothing changes. */
    welfare_register_entry_t refused[] = {reg_employee(304, 999), reg_cap_class(305, 1), none,
                                          reg_plan(404, 101, WELFARE_EXPIRY_CARRY_OVER, 777)};
    uint32_t refused_results[4];
    wf_snapshot_t *before = wf_snapshot(batch);
    TEST_CHECK_EQ(welfare_register(batch->f.ledger, refused, 4, refused_results), 0);
    wf_unchanged(batch, before, __LINE__);
    TEST_CHECK_EQ(refused_results[0], WELFARE_RESULT_FUNDER_NOT_FOUND);
    TEST_CHECK_EQ(refused_results[1], WELFARE_RESULT_EMPLOYEE_NOT_FOUND);
    TEST_CHECK_EQ(refused_results[2], WELFARE_RESULT_INVALID_FIELD);
    TEST_CHECK_EQ(refused_results[3], WELFARE_RESULT_NEXT_PLAN_INVALID);
    /* The bounds: 1..LEDGER_BATCH_EVENTS_MAX entries. */
    TEST_CHECK_EQ(welfare_register(batch->f.ledger, list, 0, batch_results),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_register(batch->f.ledger, list, LEDGER_BATCH_EVENTS_MAX + 1,
                                   batch_results),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_register(batch->f.ledger, NULL, 1, batch_results),
                  LEDGER_ERR_INVALID_ARGUMENT);
    wf_close(single);
    wf_close(batch);
}

/* ------------------------------------------------------------------------ */
/* Persistence, groups, the core's refusals                                 */

static bool funder_statement_equal(const welfare_funder_statement_t *a,
                                   const welfare_funder_statement_t *b) {
    if (a->funded != b->funded || a->granted != b->granted || a->spent != b->spent ||
        a->refunded != b->refunded || a->reimbursed != b->reimbursed ||
        a->expired_back != b->expired_back || a->forfeited != b->forfeited ||
        a->carried_over != b->carried_over || a->fees != b->fees ||
        a->fees_returned != b->fees_returned ||
        a->funds_balance != b->funds_balance || a->pots_balance != b->pots_balance ||
        a->held != b->held) {
        return false;
    }
    for (int c = 0; c <= WELFARE_CATEGORY_ID_MAX; c++) {
        if (a->spent_by_category[c] != b->spent_by_category[c]) return false;
    }
    return true;
}

static void persistence_check(wf_t *w, const char *how) {
    wf_snapshot_t *before = wf_snapshot(w);
    welfare_funder_statement_t f_before = wf_funder_statement(w, F1, 0, 0);
    welfare_provider_statement_t p_before = wf_provider_statement(w, 13, 0, 0);
    welfare_annual_statement_t a_before = wf_annual(w, E2, 2026);
    if (strcmp(how, "checkpoint") == 0) {
        wf_reopen(w);
    } else {
        /* No checkpoint: balances come back from the journal replay. */
        ledger_close_without_checkpoint(w->f.ledger);
        w->f.ledger = NULL;
        fixture_reopen(&w->f);
    }
    wf_unchanged(w, before, __LINE__);
    welfare_funder_statement_t f_after = wf_funder_statement(w, F1, 0, 0);
    welfare_provider_statement_t p_after = wf_provider_statement(w, 13, 0, 0);
    welfare_annual_statement_t a_after = wf_annual(w, E2, 2026);
    TEST_CHECK(funder_statement_equal(&f_before, &f_after));
    TEST_CHECK(memcmp(&p_before, &p_after, sizeof p_before) == 0);
    TEST_CHECK_EQ(a_after.fringe_used, a_before.fringe_used);
    TEST_CHECK_EQ(a_after.fringe_cap, a_before.fringe_cap);
    TEST_CHECK_EQ(a_after.cap_class, a_before.cap_class);
    for (int b = 0; b < WELFARE_BASIS_COUNT; b++) {
        TEST_CHECK_EQ(a_after.spent[b], a_before.spent[b]);
        TEST_CHECK_EQ(a_after.reimbursed[b], a_before.reimbursed[b]);
    }
}

static void case_persistence(void) {
    wf_t *w = statements_open("welfare_persistence");
    REQUIRE_OK(w_cap_class(w, E2, 2026, WELFARE_CAP_WITH_CHILDREN));
    persistence_check(w, "checkpoint");
    /* Idempotency, receipts, holds and caps survive. */
    EXPECT_REFUSED(w, w_purchase(w, 3001, E1, 13, CAT_RECREATION, 10000), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_grant(w, 2001, PLAN_A, E2, 20000), WELFARE_RESULT_EXISTS);
    EXPECT_REFUSED(w, w_fund(w, 1002, F1, 5001), WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    welfare_reimbursement_t r = reimbursement_make(7002, E1, CAT_EDUCATION, 20260220, 1, 1, 1);
    EXPECT_REFUSED(w, w_reimburse(w, &r), WELFARE_RESULT_RECEIPT_ALREADY_REIMBURSED);
    EXPECT_REFUSED(w, w_funder(w, F1, WELFARE_FUNDER_PUBLIC),
                   WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS);
    TEST_CHECK_EQ(wf_annual(w, E2, 2026).fringe_cap, 200000);
    /* More activity, then a reopen without checkpoint. */
    w->f.now_ns = WF_NOW + 5 * WF_HOUR;
    REQUIRE_OK(w_hold(w, 3004, E2, 13, CAT_SHOPPING_VOUCHERS, 1000, 600));
    REQUIRE_OK(w_capture(w, 4001, 3003, 1500));
    REQUIRE_OK(w_refund(w, 6002, 3002, 1000));
    persistence_check(w, "replay");
    CHECK_POT(w, E2, PLAN_A, 14500 + 1000 - 1000, 1000, 15500);
    /* The hold opened before the reopen still expires. */
    w->f.now_ns = WF_NOW + 5 * WF_HOUR + 601 * WF_NS_PER_S;
    TEST_CHECK_EQ(w_expire(w), 1);
    CHECK_POT(w, E2, PLAN_A, 15500, 0, 15500);
    TEST_CHECK_EQ(wf_annual(w, E2, 2026).fringe_used, 3000);
    EXPECT_REFUSED(w, w_capture(w, 4002, 3004, 0), WELFARE_RESULT_HOLD_NOT_PENDING);
    persistence_check(w, "checkpoint");
    wf_close(w);
}

/* A group that is aborted leaves no welfare trace; one that commits keeps
 * everything, refusals inside it included as refusals. */
static void case_groups(void) {
    wf_t *w = wf_open("welfare_groups");
    ledger_stats_t before = fixture_stats(&w->f);
    ledger_account_t bank_before = wf_account(w, w->platform.bank_account_id);
    uint64_t cap_before = 0;
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2026, WELFARE_CAP_STANDARD, &cap_before), 0);
    TEST_REQUIRE(ledger_write_begin(w->f.ledger) == 0);
    uint32_t result = UINT32_MAX;
    welfare_funder_t funder = {.id = id128(F1), .kind = WELFARE_FUNDER_COMPANY};
    TEST_CHECK_EQ(welfare_create_funder(w->f.ledger, &funder, &result), 0);
    CHECK_RESULT(result, WELFARE_RESULT_OK);
    welfare_fund_t fund = {.id = id128(1001), .funder_id = id128(F1), .amount = 5000};
    TEST_CHECK_EQ(welfare_fund(w->f.ledger, &fund, &result), 0);
    CHECK_RESULT(result, WELFARE_RESULT_OK);
    welfare_provider_t provider = {.id = id128(P2), .fee_bps = 100, .categories = CAT(7)};
    TEST_CHECK_EQ(welfare_create_provider(w->f.ledger, &provider, &result), 0);
    CHECK_RESULT(result, WELFARE_RESULT_OK);
    welfare_employee_t employee = {.id = id128(E1), .funder_id = id128(F1)};
    TEST_CHECK_EQ(welfare_create_employee(w->f.ledger, &employee, &result), 0);
    CHECK_RESULT(result, WELFARE_RESULT_OK);
    welfare_plan_t plan = plan_make(PLAN_A, F1, WF_T2026, WF_T2027, WF_CATS_DEFAULT,
                                    WELFARE_EXPIRY_FORFEIT, 0);
    TEST_CHECK_EQ(welfare_create_plan(w->f.ledger, &plan, &result), 0);
    CHECK_RESULT(result, WELFARE_RESULT_OK);
    welfare_grant_entry_t entry = {id128(E1), 3000};
    TEST_CHECK_EQ(welfare_grant(w->f.ledger, id128(2001), id128(PLAN_A), &entry, 1, &result), 0);
    CHECK_RESULT(result, WELFARE_RESULT_OK);
    welfare_purchase_t purchase = purchase_make(3001, E1, P2, CAT_RECREATION, 1000, 0);
    TEST_CHECK_EQ(welfare_purchase(w->f.ledger, &purchase, &result), 0);
    CHECK_RESULT(result, WELFARE_RESULT_OK);
    welfare_reimbursement_t r = reimbursement_make(7001, E1, CAT_EDUCATION, 20260201, 10, 10, 1);
    TEST_CHECK_EQ(welfare_reimburse(w->f.ledger, &r, &result), 0);
    CHECK_RESULT(result, WELFARE_RESULT_OK);
    TEST_CHECK_EQ(welfare_set_cap_class(w->f.ledger, id128(E1), 2026, WELFARE_CAP_WITH_CHILDREN,
                                        &result),
                  0);
    welfare_fringe_cap_t cap = {2026, 1, 1};
    TEST_CHECK_EQ(welfare_set_fringe_cap(w->f.ledger, &cap, &result), 0);
    welfare_category_t category = {.id = 20, .fiscal_basis = WELFARE_BASIS_F, .name = "x"};
    TEST_CHECK_EQ(welfare_set_category(w->f.ledger, &category, &result), 0);
    ledger_write_abort(w->f.ledger);

    ledger_stats_t after = fixture_stats(&w->f);
    TEST_CHECK_EQ(after.journal_sequence, before.journal_sequence);
    TEST_CHECK_EQ(after.accounts_count, before.accounts_count);
    ledger_account_t bank_after = wf_account(w, w->platform.bank_account_id);
    TEST_CHECK(account_equal(&bank_before, &bank_after));
    bool found = true;
    welfare_funder_t f;
    TEST_CHECK_EQ(welfare_lookup_funder(w->f.ledger, id128(F1), &f, &found), 0);
    TEST_CHECK(!found);
    welfare_provider_t p;
    TEST_CHECK_EQ(welfare_lookup_provider(w->f.ledger, id128(P2), &p, &found), 0);
    TEST_CHECK(!found);
    welfare_employee_t e;
    TEST_CHECK_EQ(welfare_lookup_employee(w->f.ledger, id128(E1), &e, &found), 0);
    TEST_CHECK(!found);
    welfare_plan_t pl;
    TEST_CHECK_EQ(welfare_lookup_plan(w->f.ledger, id128(PLAN_A), &pl, &found), 0);
    TEST_CHECK(!found);
    uint64_t cap_after = 0;
    TEST_CHECK_EQ(welfare_fringe_cap_for(w->f.ledger, 2026, WELFARE_CAP_STANDARD, &cap_after), 0);
    TEST_CHECK_EQ(cap_after, cap_before);
    TEST_CHECK_EQ(categories_count(w), 10);

    /* Nothing was remembered: the same ids are new again. */
    CHECK_RESULT(w_funder(w, F1, WELFARE_FUNDER_COMPANY), WELFARE_RESULT_OK);
    CHECK_RESULT(w_fund(w, 1001, F1, 5000), WELFARE_RESULT_OK);
    CHECK_RESULT(w_provider(w, P2, 100, CAT(7)), WELFARE_RESULT_OK);
    CHECK_RESULT(w_employee(w, E1, F1), WELFARE_RESULT_OK);
    CHECK_RESULT(w_plan(w, &plan), WELFARE_RESULT_OK);
    CHECK_RESULT(w_grant(w, 2001, PLAN_A, E1, 3000), WELFARE_RESULT_OK);
    CHECK_RESULT(w_reimburse(w, &r), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(wf_annual(w, E1, 2026).cap_class, WELFARE_CAP_STANDARD);

    /* A committed group: a refusal inside is a result, not a failure. */
    TEST_REQUIRE(ledger_write_begin(w->f.ledger) == 0);
    CHECK_RESULT(w_purchase(w, 3001, E1, P2, CAT_RECREATION, 1000), WELFARE_RESULT_OK);
    CHECK_RESULT(w_purchase(w, 3002, E1, P2, CAT_RECREATION, 100000),
                 WELFARE_RESULT_INSUFFICIENT_POT_BALANCE);
    CHECK_RESULT(w_purchase(w, 3003, E1, P2, CAT_RECREATION, 1990), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(ledger_write_commit(w->f.ledger), 0);
    CHECK_POT(w, E1, PLAN_A, 0, 0, 0);
    TEST_CHECK_EQ(wf_payable(w, P2), 2990 - 10 - 19);
    EXPECT_REFUSED(w, w_purchase(w, 3003, E1, P2, CAT_RECREATION, 1990), WELFARE_RESULT_EXISTS);
    wf_close(w);
}

static uint32_t raw_transfer(wf_t *w, ledger_transfer_t t) {
    ledger_result_t result;
    memset(&result, 0, sizeof result);
    int rc = ledger_create_transfers(w->f.ledger, &t, 1, &result);
    TEST_CHECK_EQ(rc, 0);
    return rc == 0 ? result.result : UINT32_MAX;
}

static ledger_transfer_t raw_make(uint64_t id, ledger_u128_t debit, ledger_u128_t credit,
                                  uint64_t amount) {
    ledger_transfer_t t;
    memset(&t, 0, sizeof t);
    t.id = id128(id);
    t.debit_account_id = debit;
    t.credit_account_id = credit;
    t.amount = amount;
    t.ledger = WELFARE_LEDGER;
    t.code = 1;
    return t;
}

#define EXPECT_CORE_REFUSED(w, transfer, expected)                           \
    do {                                                                      \
        wf_snapshot_t *core_before_ = wf_snapshot(w);                         \
        uint32_t core_result_ = raw_transfer((w), (transfer));                \
        if (core_result_ != (uint32_t)(expected)) {                           \
            printf("# %s:%d: core gave %s, expected %s\n", __FILE__, __LINE__, \
                   ledger_result_name(core_result_),                          \
                   ledger_result_name(expected));                             \
        }                                                                     \
        TEST_CHECK_EQ(core_result_, (expected));                              \
        wf_unchanged((w), core_before_, __LINE__);                            \
    } while (0)

static void case_core_refusals(void) {
    wf_t *w = world_open("welfare_core");
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E1, 1000));
    REQUIRE_OK(w_grant(w, 2001, PLAN_A, E2, 1000));
    REQUIRE_OK(w_purchase(w, 3001, E1, P2, CAT_RECREATION, 100));
    REQUIRE_OK(w_hold(w, 3002, E1, P2, CAT_RECREATION, 200, 3600));
    /* Plain accounts on the same ledger, so only the welfare rules refuse. */
    ledger_account_t plain[2] = {account_make(500, WELFARE_LEDGER, 0),
                                 account_make(501, WELFARE_LEDGER, 0)};
    fixture_accounts_create(&w->f, plain, 2);
    const ledger_u128_t pot1 = wf_pot(w, E1, PLAN_A).account_id;
    const ledger_u128_t pot2 = wf_pot(w, E2, PLAN_A).account_id;
    const ledger_u128_t bank = w->platform.bank_account_id;
    const ledger_u128_t fees = w->platform.fees_account_id;
    const ledger_u128_t funds = wf_funder(w, F1).account_id;
    const ledger_u128_t payable = wf_provider(w, P2).account_id;
    const ledger_u128_t mine = id128(500);
    EXPECT_CORE_REFUSED(w, raw_make(10, pot1, bank, 1), LEDGER_RESULT_WELFARE_CASH_OUT_FORBIDDEN);
    EXPECT_CORE_REFUSED(w, raw_make(11, pot1, pot2, 1),
                        LEDGER_RESULT_WELFARE_TRANSFER_BETWEEN_EMPLOYEES_FORBIDDEN);
    EXPECT_CORE_REFUSED(w, raw_make(12, funds, pot1, 1), LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    EXPECT_CORE_REFUSED(w, raw_make(13, mine, funds, 1), LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    EXPECT_CORE_REFUSED(w, raw_make(14, bank, mine, 1), LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    EXPECT_CORE_REFUSED(w, raw_make(15, payable, bank, 1),
                        LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    EXPECT_CORE_REFUSED(w, raw_make(16, fees, mine, 1), LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    /* Pot to a plain account is a cash-out too, whatever its code: refused. */
    {
        wf_snapshot_t *s = wf_snapshot(w);
        uint32_t r = raw_transfer(w, raw_make(17, pot1, mine, 1));
        if (r == LEDGER_RESULT_OK) printf("# pot -> plain account accepted\n");
        TEST_CHECK(r != LEDGER_RESULT_OK);
        wf_unchanged(w, s, __LINE__);
    }
    ledger_transfer_t pending = raw_make(18, pot1, bank, 1);
    pending.flags = LEDGER_TRANSFER_PENDING;
    EXPECT_CORE_REFUSED(w, pending, LEDGER_RESULT_WELFARE_CASH_OUT_FORBIDDEN);
    /* The welfare hold's pending transfer cannot be posted or voided raw. */
    ledger_history_filter_t filter;
    memset(&filter, 0, sizeof filter);
    filter.account_id = pot1;
    filter.limit = 16;
    filter.flags = LEDGER_HISTORY_DEBITS;
    ledger_history_entry_t entries[16];
    uint32_t count = 0;
    TEST_CHECK_EQ(ledger_account_history(w->f.ledger, &filter, entries, &count), 0);
    ledger_u128_t hold_id = id128(0);
    for (uint32_t i = 0; i < count; i++) {
        if (entries[i].transfer.flags & LEDGER_TRANSFER_PENDING) hold_id = entries[i].transfer.id;
    }
    TEST_CHECK(!ledger_u128_is_zero(hold_id));
    TEST_CHECK_EQ(top32(hold_id), WELFARE_TRANSFER_ID_TAG);
    ledger_transfer_t post;
    memset(&post, 0, sizeof post);
    post.id = id128(19);
    post.pending_id = hold_id;
    post.flags = LEDGER_TRANSFER_POST_PENDING;
    EXPECT_CORE_REFUSED(w, post, LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    post.flags = LEDGER_TRANSFER_VOID_PENDING;
    EXPECT_CORE_REFUSED(w, post, LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    CHECK_POT(w, E1, PLAN_A, 700, 200, 900);
    /* In a linked chain the whole chain fails. */
    {
        wf_snapshot_t *s = wf_snapshot(w);
        ledger_transfer_t chain[2] = {raw_make(20, mine, id128(501), 5),
                                      raw_make(21, pot1, bank, 1)};
        chain[0].flags = LEDGER_TRANSFER_LINKED;
        ledger_result_t results[2];
        TEST_CHECK_EQ(ledger_create_transfers(w->f.ledger, chain, 2, results), 0);
        TEST_CHECK_EQ(results[0].result, LEDGER_RESULT_LINKED_EVENT_FAILED);
        TEST_CHECK_EQ(results[1].result, LEDGER_RESULT_WELFARE_CASH_OUT_FORBIDDEN);
        wf_unchanged(w, s, __LINE__);
    }
    /* Reserved ids: accounts 0xFFFFFFFD…, transfers 0xFFFFFFFE…. */
    const uint64_t account_tag = (uint64_t)WELFARE_ACCOUNT_ID_TAG << 32;
    const uint64_t transfer_tag = (uint64_t)WELFARE_TRANSFER_ID_TAG << 32;
    const ledger_u128_t reserved_accounts[3] = {
        u128_hi_lo(account_tag, 1), u128_hi_lo(account_tag | 0xFFFFFFFFu, 5), pot1};
    for (int i = 0; i < 3; i++) {
        wf_snapshot_t *s = wf_snapshot(w);
        ledger_account_t a = account_make(1, WELFARE_LEDGER, 0);
        a.id = reserved_accounts[i];
        ledger_result_t result;
        TEST_CHECK_EQ(ledger_create_accounts(w->f.ledger, &a, 1, &result), 0);
        TEST_CHECK_EQ(result.result, LEDGER_RESULT_ID_RESERVED);
        wf_unchanged(w, s, __LINE__);
    }
    /* Just outside the reserved account range, and a transfer-tagged
     * account id: accepted. */
    ledger_account_t edge[2] = {account_make(1, WELFARE_LEDGER, 0),
                                account_make(1, WELFARE_LEDGER, 0)};
    edge[0].id = u128_hi_lo(account_tag - 1, UINT64_MAX);
    edge[1].id = u128_hi_lo(transfer_tag, 1);
    fixture_accounts_create(&w->f, edge, 2);
    ledger_transfer_t tagged = raw_make(1, mine, id128(501), 5);
    tagged.id = u128_hi_lo(transfer_tag, 12345);
    EXPECT_CORE_REFUSED(w, tagged, LEDGER_RESULT_ID_RESERVED);
    tagged.id = u128_hi_lo(transfer_tag | 0xFFFFFFFFu, UINT64_MAX - 1);
    EXPECT_CORE_REFUSED(w, tagged, LEDGER_RESULT_ID_RESERVED);
    tagged.id = u128_hi_lo(account_tag, 7); /* only accounts use this tag */
    TEST_CHECK_EQ(raw_transfer(w, tagged), LEDGER_RESULT_OK);
    tagged.id = u128_hi_lo(transfer_tag - 1, UINT64_MAX);
    TEST_CHECK_EQ(raw_transfer(w, tagged), LEDGER_RESULT_OK);
    /* The welfare layer still works after all that. */
    CHECK_RESULT(w_capture(w, 4001, 3002, 0), WELFARE_RESULT_OK);
    CHECK_POT(w, E1, PLAN_A, 700, 0, 700);
    wf_close(w);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"platform_defaults", case_platform_defaults},
        {"platform_ensured_by_write", case_platform_ensured_by_write},
        {"categories", case_categories},
        {"fringe_cap_table", case_fringe_cap_table},
        {"registry_funder", case_registry_funder},
        {"registry_provider", case_registry_provider},
        {"registry_employee", case_registry_employee},
        {"registry_plan", case_registry_plan},
        {"cap_class", case_cap_class},
        {"fund", case_fund},
        {"overflow", case_overflow},
        {"grant", case_grant},
        {"grant_bulk", case_grant_bulk},
        {"grant_limit", case_grant_limit},
        {"grant_pots_bound", case_grant_pots_bound},
        {"grant_bulk_bound", case_grant_bulk_bound},
        {"purchase_checks", case_purchase_checks},
        {"purchase_window", case_purchase_window},
        {"purchase_fee", case_purchase_fee},
        {"pot_selection", case_pot_selection},
        {"split_bound", case_split_bound},
        {"fringe_cap", case_fringe_cap},
        {"fringe_fiscal_year", case_fringe_fiscal_year},
        {"holds", case_holds},
        {"hold_expiry", case_hold_expiry},
        {"refund", case_refund},
        {"refund_expired_pot", case_refund_expired_pot},
        {"refund_payable", case_refund_payable},
        {"reimburse", case_reimburse},
        {"sweep", case_sweep},
        {"sweep_policies", case_sweep_policies},
        {"offboard", case_offboard},
        {"payout", case_payout},
        {"statements", case_statements},
        {"movements", case_movements},
        {"persistence", case_persistence},
        {"groups", case_groups},
        {"core_refusals", case_core_refusals},
        {"zero_references", case_zero_references},
        {"no_eligible_pot", case_no_eligible_pot},
        {"split_cannot_cover", case_split_cannot_cover},
        {"receipt_date_calendar", case_receipt_date_calendar},
        {"expire_bound", case_expire_bound},
        {"annual_statement_stable", case_annual_statement_stable},
        {"movements_paging", case_movements_paging},
        {"movements_pages_across_pots", case_movements_pages_across_pots},
        {"purchases_batch", case_purchases_batch},
        {"register_batch", case_register_batch},
        {"grant_order", case_grant_order},
        {"grant_ranges", case_grant_ranges},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
