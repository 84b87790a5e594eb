/*
 * test_welfare_doc.c — replays the worked example of docs/welfare.md and
 * checks every figure the page states. The figures are read from the page
 * itself (the ```welfare-example block, one "name value" per line), so the
 * documentation cannot drift from what the engine does: change a number in
 * the page and this test fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "ledger_fixture.h"
#include "test.h"
#include "welfare.h"

enum { FIGURES_MAX = 64, NAME_SIZE = 64 };

/* 2026-03-01T09:00:00Z, and the plan's window in Italian time. */
#define T_2026_03_01 (UINT64_C(1772355600) * FIXTURE_NS_PER_S)
#define T_2026_START (UINT64_C(1767222000) * FIXTURE_NS_PER_S) /* 2025-12-31T23:00Z */
#define T_2027_START (UINT64_C(1798758000) * FIXTURE_NS_PER_S) /* 2026-12-31T23:00Z */

typedef struct figure {
    char name[NAME_SIZE];
    uint64_t cents;
    bool checked;
} figure_t;

typedef struct figures {
    figure_t items[FIGURES_MAX];
    uint32_t count;
} figures_t;

/* "1234.56" -> 123456; false if malformed. */
static bool parse_euros(const char *text, uint64_t *cents_out) {
    uint64_t units = 0;
    const char *at = text;
    if (*at < '0' || *at > '9') return false;
    while (*at >= '0' && *at <= '9') units = units * 10 + (uint64_t)(*at++ - '0');
    if (at[0] != '.' || at[1] < '0' || at[1] > '9' || at[2] < '0' || at[2] > '9' || at[3] != '\0') {
        return false;
    }
    *cents_out = units * 100 + (uint64_t)(at[1] - '0') * 10 + (uint64_t)(at[2] - '0');
    return true;
}

/* Reads the example block from the page; false (and a diagnostic) if absent. */
static bool figures_read(figures_t *figures) {
    const char *path = getenv("BORSELLINO_WELFARE_DOC");
    FILE *file = path != NULL ? fopen(path, "r") : NULL;
    if (file == NULL) {
        printf("# cannot open docs/welfare.md ($BORSELLINO_WELFARE_DOC=%s)\n", path ? path : "");
        return false;
    }
    char line[256];
    bool inside = false;
    figures->count = 0;
    while (fgets(line, sizeof(line), file) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (!inside) {
            inside = strcmp(line, "```welfare-example") == 0;
            continue;
        }
        if (strcmp(line, "```") == 0) break;
        char name[NAME_SIZE];
        char value[32];
        TEST_REQUIRE(figures->count < FIGURES_MAX);
        figure_t *figure = &figures->items[figures->count];
        if (sscanf(line, "%63s %31s", name, value) != 2 || !parse_euros(value, &figure->cents)) {
            printf("# malformed example line: %s\n", line);
            test_failures_in_case++;
            continue;
        }
        memcpy(figure->name, name, sizeof(name));
        figure->checked = false;
        figures->count++;
    }
    fclose(file);
    return figures->count > 0;
}

/* Checks one computed figure against the page (if the page states it). */
static void figure_check(figures_t *figures, const char *name, uint64_t cents) {
    for (uint32_t i = 0; i < figures->count; i++) {
        figure_t *figure = &figures->items[i];
        if (strcmp(figure->name, name) != 0) continue;
        figure->checked = true;
        if (figure->cents != cents) {
            printf("# docs/welfare.md says %s %.2f, the engine %.2f\n", name,
                   (double)figure->cents / 100.0, (double)cents / 100.0);
            test_failures_in_case++;
        }
    }
}

/* A welfare call that must succeed: no error and result OK (`result` is
 * the variable the call writes). */
#define EXPECT_WELFARE_OK(call)                                               \
    do {                                                                      \
        result = 99;                                                          \
        TEST_CHECK_EQ((call), 0);                                             \
        TEST_CHECK_EQ(result, WELFARE_RESULT_OK);                             \
    } while (0)

/* The example's parties and plan. */
static void example_setup(fixture_t *f) {
    uint32_t result = 0;
    welfare_funder_t company = {.id = id128(1), .kind = WELFARE_FUNDER_COMPANY};
    EXPECT_WELFARE_OK(welfare_create_funder(f->ledger, &company, &result));
    welfare_provider_t torrazzo = {.id = id128(11), .fee_bps = 500,
                                   .categories = (1u << 1) | (1u << 3) | (1u << 7)};
    welfare_provider_t bottega = {.id = id128(12), .fee_bps = 200, .categories = 1u << 9};
    EXPECT_WELFARE_OK(welfare_create_provider(f->ledger, &torrazzo, &result));
    EXPECT_WELFARE_OK(welfare_create_provider(f->ledger, &bottega, &result));
    welfare_plan_t plan = {.id = id128(100), .funder_id = id128(1), .valid_from = T_2026_START,
                           .valid_until = T_2027_START,
                           .categories = (1u << 1) | (1u << 7) | (1u << 9),
                           .expiry_policy = WELFARE_EXPIRY_BACK_TO_FUNDER};
    EXPECT_WELFARE_OK(welfare_create_plan(f->ledger, &plan, &result));
    for (uint64_t employee = 21; employee <= 22; employee++) {
        welfare_employee_t record = {.id = id128(employee), .funder_id = id128(1)};
        EXPECT_WELFARE_OK(welfare_create_employee(f->ledger, &record, &result));
    }
    welfare_fund_t fund = {id128(1000), id128(1), 500000};
    EXPECT_WELFARE_OK(welfare_fund(f->ledger, &fund, &result));
    welfare_grant_entry_t grants[2] = {{id128(21), 120000}, {id128(22), 80000}};
    uint32_t results[2] = {99, 99};
    TEST_CHECK_EQ(welfare_grant(f->ledger, id128(1001), id128(100), grants, 2, results), 0);
    TEST_CHECK_EQ(results[0], WELFARE_RESULT_OK);
    TEST_CHECK_EQ(results[1], WELFARE_RESULT_OK);
}

static uint32_t purchase(fixture_t *f, uint64_t id, uint64_t employee, uint64_t provider,
                         uint32_t category, uint64_t amount, uint32_t hold_s) {
    welfare_purchase_t request = {.id = id128(id), .employee_id = id128(employee),
                                  .provider_id = id128(provider), .category = category,
                                  .hold_timeout_s = hold_s, .amount = amount};
    uint32_t result = 99;
    TEST_CHECK_EQ(welfare_purchase(f->ledger, &request, &result), 0);
    return result;
}

/* Steps 1-7 of the page. */
static void example_steps(fixture_t *f) {
    uint32_t result = 99;
    TEST_CHECK_EQ(purchase(f, 2001, 21, 11, 1, 45000, 0), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(purchase(f, 2002, 22, 12, 9, 30000, 0), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(purchase(f, 2003, 22, 12, 9, 75000, 0), WELFARE_RESULT_FRINGE_CAP_EXCEEDED);
    TEST_CHECK_EQ(purchase(f, 2004, 21, 11, 7, 20000, 3600), WELFARE_RESULT_OK);
    EXPECT_WELFARE_OK(welfare_capture(f->ledger, id128(2005), id128(2004), 18000, &result));
    EXPECT_WELFARE_OK(welfare_refund(f->ledger, id128(2006), id128(2001), 15000, &result));
    uint64_t paid = 0;
    ledger_u128_t reference = id128(77);
    EXPECT_WELFARE_OK(welfare_payout(f->ledger, id128(2007), id128(11), 0, reference, &result, &paid));
    TEST_CHECK_EQ(paid, 45600);
    f->now_ns = T_2027_START + 24 * 3600 * FIXTURE_NS_PER_S;
    welfare_sweep_report_t report;
    EXPECT_WELFARE_OK(welfare_sweep(f->ledger, id128(2008), id128(100), &result, &report));
    TEST_CHECK_EQ(report.pots_swept, 2);
    TEST_CHECK_EQ(report.expired_back, 122000);
}

static void check_company(fixture_t *f, figures_t *figures) {
    welfare_funder_statement_t s;
    uint32_t rows = 0;
    bool more = false;
    TEST_CHECK_EQ(welfare_funder_statement(f->ledger, id128(1), 0, 0, &s, id128(0), NULL, 0,
                                           &rows, &more), 0);
    figure_check(figures, "company.funded", s.funded);
    figure_check(figures, "company.granted", s.granted);
    figure_check(figures, "company.spent", s.spent);
    char name[NAME_SIZE];
    for (uint32_t c = 1; c <= WELFARE_CATEGORY_ID_MAX; c++) {
        snprintf(name, sizeof(name), "company.spent.category.%u", c);
        if (s.spent_by_category[c] != 0) figure_check(figures, name, s.spent_by_category[c]);
    }
    figure_check(figures, "company.refunded", s.refunded);
    figure_check(figures, "company.fees", s.fees);
    figure_check(figures, "company.fees_returned", s.fees_returned);
    figure_check(figures, "company.expired_back", s.expired_back);
    figure_check(figures, "company.funds_balance", s.funds_balance);
    figure_check(figures, "company.pots_balance", s.pots_balance);
    /* The identity the page states. */
    TEST_CHECK_EQ(s.funds_balance + s.pots_balance + s.spent - s.refunded + s.reimbursed + s.forfeited,
                  s.funded);
}

static void check_provider(fixture_t *f, figures_t *figures, uint64_t id, const char *who) {
    welfare_provider_statement_t s;
    TEST_CHECK_EQ(welfare_provider_statement(f->ledger, id128(id), 0, 0, &s), 0);
    const struct { const char *field; uint64_t value; } values[] = {
        {"sales", s.sales}, {"refunds", s.refunds}, {"fees", s.fees},
        {"fees_returned", s.fees_returned}, {"payouts", s.payouts}, {"payable", s.payable},
    };
    char name[NAME_SIZE];
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(name, sizeof(name), "%s.%s", who, values[i].field);
        figure_check(figures, name, values[i].value);
    }
    TEST_CHECK_EQ(s.sales - s.refunds - (s.fees - s.fees_returned), s.payouts + s.payable);
}

static void check_annual(fixture_t *f, figures_t *figures, uint64_t id, const char *who) {
    static const char *const basis_names[WELFARE_BASIS_COUNT] = {
        "none", "f", "f-bis", "f-ter", "f-quater", "d-bis", "fringe"};
    welfare_annual_statement_t s;
    TEST_CHECK_EQ(welfare_annual_statement(f->ledger, id128(id), 2026, &s), 0);
    char name[NAME_SIZE];
    for (uint32_t b = 1; b < WELFARE_BASIS_COUNT; b++) {
        snprintf(name, sizeof(name), "%s.2026.spent.%s", who, basis_names[b]);
        figure_check(figures, name, s.spent[b]);
    }
    snprintf(name, sizeof(name), "%s.2026.fringe_cap", who);
    figure_check(figures, name, s.fringe_cap);
    snprintf(name, sizeof(name), "%s.2026.fringe_used", who);
    figure_check(figures, name, s.fringe_used);
}

/* Every cent is traceable to its operation: each welfare posting in the
 * books carries the id of one of the example's operations, and the
 * postings of each operation add up to what the operation moved. */
typedef struct trace {
    uint64_t operation; /* user_data_128.lo of the postings */
    uint64_t cents;     /* Σ of their amounts */
} trace_t;

static void trace_add(trace_t *traces, uint32_t count, const ledger_transfer_t *transfer,
                      ledger_u128_t *seen, uint32_t *seen_count) {
    for (uint32_t i = 0; i < *seen_count; i++) {
        if (ledger_u128_equal(seen[i], transfer->id)) return; /* both sides of one posting */
    }
    TEST_REQUIRE(*seen_count < 256);
    seen[(*seen_count)++] = transfer->id;
    for (uint32_t i = 0; i < count; i++) {
        if (transfer->user_data_128.hi == 0 && transfer->user_data_128.lo == traces[i].operation) {
            traces[i].cents += transfer->amount;
            return;
        }
    }
    printf("# a posting of %llu cents carries no operation of the example\n",
           (unsigned long long)transfer->amount);
    test_failures_in_case++;
}

static void check_traceable(fixture_t *f) {
    /* Postings per operation: fund; grants; purchase + fee; voucher + fee;
     * hold (pending 200); capture (post 180 + fee 9); refund 150 + fee
     * back 7.50; payout; sweep of both pots. */
    trace_t traces[] = {{1000, 0}, {1001, 0}, {2001, 0}, {2002, 0}, {2004, 0},
                        {2005, 0}, {2006, 0}, {2007, 0}, {2008, 0}};
    const uint64_t expected[] = {500000, 200000, 47250, 30600, 20000, 18900, 15750, 45600, 122000};
    uint32_t count = sizeof(traces) / sizeof(traces[0]);
    welfare_platform_t platform;
    TEST_CHECK_EQ(welfare_platform(f->ledger, &platform), 0);
    ledger_u128_t accounts[12] = {platform.bank_account_id, platform.fees_account_id,
                                  platform.forfeited_account_id};
    uint32_t accounts_count = 3;
    welfare_funder_t funder;
    welfare_provider_t provider;
    bool found = false;
    TEST_CHECK_EQ(welfare_lookup_funder(f->ledger, id128(1), &funder, &found), 0);
    accounts[accounts_count++] = funder.account_id;
    for (uint64_t p = 11; p <= 12; p++) {
        TEST_CHECK_EQ(welfare_lookup_provider(f->ledger, id128(p), &provider, &found), 0);
        accounts[accounts_count++] = provider.account_id;
    }
    for (uint64_t e = 21; e <= 22; e++) {
        welfare_wallet_t wallet;
        TEST_CHECK_EQ(welfare_wallet(f->ledger, id128(e), &wallet, &found), 0);
        for (uint32_t i = 0; i < wallet.pots_count; i++) accounts[accounts_count++] = wallet.pots[i].account_id;
    }
    static ledger_history_entry_t entries[256];
    ledger_u128_t seen[256];
    uint32_t seen_count = 0;
    for (uint32_t a = 0; a < accounts_count; a++) {
        ledger_history_filter_t filter = {accounts[a], 0, 0, 256,
                                          LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS};
        uint32_t entries_count = 0;
        TEST_CHECK_EQ(ledger_account_history(f->ledger, &filter, entries, &entries_count), 0);
        for (uint32_t i = 0; i < entries_count; i++) {
            if (entries[i].kind != LEDGER_EVENT_TRANSFER) continue;
            trace_add(traces, count, &entries[i].transfer, seen, &seen_count);
        }
    }
    /* The capture's partial post released the other 20.00 of the hold
     * without a posting of its own (docs/ledger.md, partial post). */
    for (uint32_t i = 0; i < count; i++) {
        if (traces[i].cents != expected[i]) {
            printf("# operation %llu: postings add up to %llu cents, expected %llu\n",
                   (unsigned long long)traces[i].operation, (unsigned long long)traces[i].cents,
                   (unsigned long long)expected[i]);
            test_failures_in_case++;
        }
    }
}

static void test_worked_example(void) {
    figures_t figures;
    TEST_REQUIRE(figures_read(&figures));
    fixture_t f;
    fixture_open(&f, "welfare_doc");
    f.now_ns = T_2026_03_01;
    example_setup(&f);
    example_steps(&f);
    check_company(&f, &figures);
    check_provider(&f, &figures, 11, "torrazzo");
    check_provider(&f, &figures, 12, "bottega");
    check_annual(&f, &figures, 21, "anna");
    check_annual(&f, &figures, 22, "marco");
    welfare_platform_t platform;
    TEST_CHECK_EQ(welfare_platform(f.ledger, &platform), 0);
    ledger_account_t fees;
    uint32_t found = 0;
    TEST_CHECK_EQ(ledger_lookup_accounts(f.ledger, &platform.fees_account_id, 1, &fees, &found), 0);
    TEST_REQUIRE(found == 1);
    figure_check(&figures, "platform.fees", fees.credits_posted - fees.debits_posted);
    for (uint32_t i = 0; i < figures.count; i++) {
        if (!figures.items[i].checked) {
            printf("# docs/welfare.md states %s, which the test does not know\n", figures.items[i].name);
            test_failures_in_case++;
        }
    }
    check_traceable(&f);
    welfare_reconcile_report_t reconcile;
    TEST_CHECK_EQ(welfare_reconcile(f.ledger, &reconcile), 0);
    TEST_CHECK(reconcile.balanced);
    TEST_CHECK_EQ(reconcile.funders_checked, 1);
    TEST_CHECK_EQ(reconcile.providers_checked, 2);
    ledger_verify_report_t report;
    TEST_CHECK_EQ(ledger_verify(f.ledger, &report, NULL, NULL), 0);
    fixture_close(&f);
}

/* welfare_reconcile: the example reconciles; then an employee record is
 * rewritten on disk to name another funder, and the identities name the
 * funder whose money no longer adds up. */
static void test_reconcile_detects_a_moved_pot(void) {
    fixture_t f;
    fixture_open(&f, "welfare_reconcile");
    f.now_ns = T_2026_03_01;
    uint32_t result = 0;
    welfare_funder_t a = {.id = id128(1), .kind = WELFARE_FUNDER_COMPANY};
    welfare_funder_t b = {.id = id128(2), .kind = WELFARE_FUNDER_PUBLIC};
    EXPECT_WELFARE_OK(welfare_create_funder(f.ledger, &a, &result));
    EXPECT_WELFARE_OK(welfare_create_funder(f.ledger, &b, &result));
    welfare_employee_t employee = {.id = id128(21), .funder_id = id128(1)};
    EXPECT_WELFARE_OK(welfare_create_employee(f.ledger, &employee, &result));
    welfare_plan_t plan = {.id = id128(100), .funder_id = id128(1), .valid_from = T_2026_START,
                           .valid_until = T_2027_START, .categories = 1u << 7,
                           .expiry_policy = WELFARE_EXPIRY_FORFEIT};
    EXPECT_WELFARE_OK(welfare_create_plan(f.ledger, &plan, &result));
    welfare_fund_t fund = {id128(1000), id128(1), 100000};
    EXPECT_WELFARE_OK(welfare_fund(f.ledger, &fund, &result));
    welfare_grant_entry_t grant = {id128(21), 30000};
    uint32_t results[1];
    TEST_CHECK_EQ(welfare_grant(f.ledger, id128(1001), id128(100), &grant, 1, results), 0);
    welfare_reconcile_report_t report;
    TEST_CHECK_EQ(welfare_reconcile(f.ledger, &report), 0);
    TEST_CHECK(report.balanced);
    TEST_CHECK_EQ(report.funders_checked, 2);
    fixture_shut(&f);

    /* The employee record ('E' + id, big-endian) holds, after its version
     * byte and funder id, the funder number (u32 little-endian). */
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    TEST_REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 16);
    TEST_REQUIRE(mdb_env_open(env, f.path, 0, 0600) == 0);
    TEST_REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    TEST_REQUIRE(mdb_dbi_open(txn, "welfare", 0, &dbi) == 0);
    uint8_t key_bytes[17] = {'E'};
    key_bytes[16] = 21;
    MDB_val key = {sizeof key_bytes, key_bytes};
    MDB_val data;
    TEST_REQUIRE(mdb_get(txn, dbi, &key, &data) == 0);
    uint8_t value[512];
    TEST_REQUIRE(data.mv_size <= sizeof value && data.mv_size > 21);
    memcpy(value, data.mv_data, data.mv_size);
    TEST_CHECK_EQ(value[17], 1); /* funder number 1 */
    value[17] = 2;
    MDB_val changed = {data.mv_size, value};
    TEST_REQUIRE(mdb_put(txn, dbi, &key, &changed, 0) == 0);
    TEST_REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);

    fixture_reopen(&f);
    TEST_CHECK_EQ(welfare_reconcile(f.ledger, &report), 0);
    TEST_CHECK(!report.balanced);
    TEST_CHECK(strstr(report.message, "funder number 1: funded 100000 cents, accounted for 70000") != NULL);
    printf("# %s\n", report.message);
    fixture_close(&f);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"worked_example", test_worked_example},
        {"reconcile_detects_a_moved_pot", test_reconcile_detects_a_moved_pot},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
