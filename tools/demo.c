/*
 * demo.c — `borsellino demo`: seeds a small, Cremona-like welfare platform
 * into a data directory, in-process, and shows what it looks like: two
 * companies and the municipality's family voucher programme, four local
 * providers (social cooperatives, a sports club, a shop), ten
 * beneficiaries. It funds, grants, and makes purchases (one held then
 * captured, one refunded, one refused at the fringe cap), a receipt-backed
 * reimbursement and a payout; then prints wallets and statements and
 * verifies the books from scratch.
 *
 * Every id is a name (the CLI's rule: first 16 bytes of its SHA-256), so
 * the same names work with `borsellino welfare …` against a server on the
 * same directory. Every operation has a fixed id: running the demo again
 * changes nothing (each step answers `exists`).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ledger.h"
#include "welfare.h"

#define NS_PER_S UINT64_C(1000000000)

typedef struct demo {
    ledger_t *ledger;
    uint32_t done;     /* operations applied by this run */
    uint32_t existing; /* operations already there */
    int error;
    FILE *out;         /* the narrative: stdout, or /dev/null with --json */
    bool json;
    uint64_t records;  /* journal records verified */
} demo_t;

static ledger_u128_t named(const char *name) {
    ledger_u128_t id = {0, 0};
    bool ok = cli_parse_named_id(name, &id);
    (void)ok; /* names are fixed, non-empty strings */
    return id;
}

static uint64_t cat(uint32_t id) { return UINT64_C(1) << id; }

/* Counts an outcome; a refusal the demo did not expect is an error. */
/* `result` is read here, after the call that wrote it (passing it by value
 * next to the call would read it before). */
static void demo_outcome(demo_t *demo, const char *what, int error, const uint32_t *result_in,
                         uint32_t expected) {
    if (demo->error) return;
    uint32_t result = *result_in;
    if (error) {
        fprintf(stderr, "borsellino demo: %s: %s (%s)\n", what, ledger_strerror(error),
                ledger_last_error_message(demo->ledger));
        demo->error = error;
    } else if (result == WELFARE_RESULT_EXISTS) {
        demo->existing++;
    } else if (result != expected) {
        fprintf(stderr, "borsellino demo: %s: %s\n", what, welfare_result_name(result));
        demo->error = LEDGER_ERR_INVALID_ARGUMENT;
    } else {
        demo->done++;
    }
}

/* The current fiscal year's window in Italian time (the year turns at
 * 23:00 UTC on 31 December). */
static void fiscal_window(uint64_t now, uint64_t *from_out, uint64_t *until_out) {
    uint32_t year = welfare_fiscal_year(now);
    struct tm start = {.tm_year = (int)year - 1900 - 1, .tm_mon = 11, .tm_mday = 31, .tm_hour = 23};
    struct tm end = start;
    end.tm_year += 1;
    *from_out = (uint64_t)timegm(&start) * NS_PER_S;
    *until_out = (uint64_t)timegm(&end) * NS_PER_S;
}

static void demo_registry(demo_t *demo) {
    uint32_t result = 0;
    const struct { const char *name; uint32_t kind; } funders[] = {
        {"latteria-padana", WELFARE_FUNDER_COMPANY},
        {"liuteria-cremonese", WELFARE_FUNDER_COMPANY},
        {"comune-di-cremona", WELFARE_FUNDER_PUBLIC},
    };
    for (size_t i = 0; i < 3; i++) {
        welfare_funder_t funder = {.id = named(funders[i].name), .kind = funders[i].kind};
        demo_outcome(demo, funders[i].name, welfare_create_funder(demo->ledger, &funder, &result),
                     &result, WELFARE_RESULT_OK);
    }
    const struct { const char *name; uint32_t fee_bps; uint64_t categories; } providers[] = {
        {"coop-il-torrazzo", 500, cat(1) | cat(3) | cat(7)},
        {"coop-po-assistenza", 300, cat(4)},
        {"asd-canottieri", 400, cat(7) | cat(8)},
        {"bottega-del-torrone", 200, cat(9)},
    };
    for (size_t i = 0; i < 4; i++) {
        welfare_provider_t provider = {.id = named(providers[i].name), .fee_bps = providers[i].fee_bps,
                                       .categories = providers[i].categories};
        demo_outcome(demo, providers[i].name, welfare_create_provider(demo->ledger, &provider, &result),
                     &result, WELFARE_RESULT_OK);
    }
}

static const char *const demo_employees[][2] = {
    {"latteria-emp-01", "latteria-padana"},   {"latteria-emp-02", "latteria-padana"},
    {"latteria-emp-03", "latteria-padana"},   {"latteria-emp-04", "latteria-padana"},
    {"liuteria-emp-01", "liuteria-cremonese"}, {"liuteria-emp-02", "liuteria-cremonese"},
    {"liuteria-emp-03", "liuteria-cremonese"}, {"cremona-family-01", "comune-di-cremona"},
    {"cremona-family-02", "comune-di-cremona"}, {"cremona-family-03", "comune-di-cremona"},
};
enum { DEMO_EMPLOYEES = sizeof(demo_employees) / sizeof(demo_employees[0]) };

static void demo_plans(demo_t *demo, uint64_t from, uint64_t until) {
    uint32_t result = 0;
    const struct { const char *plan; const char *funder; uint64_t categories; uint32_t policy;
                   uint32_t flags; uint64_t fund; uint64_t grant; } plans[] = {
        {"latteria-welfare", "latteria-padana", cat(1) | cat(3) | cat(7) | cat(8) | cat(9),
         WELFARE_EXPIRY_BACK_TO_FUNDER, WELFARE_PLAN_SPLIT_ALLOWED, 2000000, 150000},
        {"liuteria-welfare", "liuteria-cremonese", cat(1) | cat(3) | cat(4) | cat(7) | cat(9),
         WELFARE_EXPIRY_FORFEIT, 0, 900000, 80000},
        {"dote-famiglia", "comune-di-cremona", cat(1) | cat(3) | cat(7),
         WELFARE_EXPIRY_BACK_TO_FUNDER, 0, 600000, 50000},
    };
    for (size_t p = 0; p < 3; p++) {
        welfare_plan_t plan = {.id = named(plans[p].plan), .funder_id = named(plans[p].funder),
                               .valid_from = from, .valid_until = until,
                               .categories = plans[p].categories,
                               .expiry_policy = plans[p].policy, .flags = plans[p].flags};
        demo_outcome(demo, plans[p].plan, welfare_create_plan(demo->ledger, &plan, &result),
                     &result, WELFARE_RESULT_OK);
        char fund_id[64];
        snprintf(fund_id, sizeof(fund_id), "fund-%s", plans[p].funder);
        welfare_fund_t fund = {named(fund_id), plan.funder_id, plans[p].fund};
        demo_outcome(demo, fund_id, welfare_fund(demo->ledger, &fund, &result), &result,
                     WELFARE_RESULT_OK);
        welfare_grant_entry_t entries[DEMO_EMPLOYEES];
        uint32_t results[DEMO_EMPLOYEES];
        uint32_t count = 0;
        for (size_t e = 0; e < DEMO_EMPLOYEES; e++) {
            if (strcmp(demo_employees[e][1], plans[p].funder) != 0) continue;
            entries[count++] = (welfare_grant_entry_t){named(demo_employees[e][0]), plans[p].grant};
        }
        char grant_id[64];
        snprintf(grant_id, sizeof(grant_id), "grant-%s", plans[p].plan);
        int error = welfare_grant(demo->ledger, named(grant_id), plan.id, entries, count, results);
        for (uint32_t i = 0; i < count; i++) {
            demo_outcome(demo, grant_id, error, &results[i], WELFARE_RESULT_OK);
        }
    }
}

static void demo_people(demo_t *demo) {
    uint32_t result = 0;
    for (size_t e = 0; e < DEMO_EMPLOYEES; e++) {
        welfare_employee_t employee = {.id = named(demo_employees[e][0]),
                                       .funder_id = named(demo_employees[e][1])};
        demo_outcome(demo, demo_employees[e][0],
                     welfare_create_employee(demo->ledger, &employee, &result), &result,
                     WELFARE_RESULT_OK);
    }
}

/* A purchase (hold_s > 0: a hold) expecting `expected`. */
static void demo_buy(demo_t *demo, const char *id, const char *employee, const char *provider,
                     uint32_t category, uint64_t amount, uint32_t hold_s, uint32_t expected) {
    welfare_purchase_t purchase = {.id = named(id), .employee_id = named(employee),
                                   .provider_id = named(provider), .category = category,
                                   .hold_timeout_s = hold_s, .amount = amount};
    uint32_t result = 0;
    int error = welfare_purchase(demo->ledger, &purchase, &result);
    if (!error && expected != WELFARE_RESULT_OK && result == expected) {
        fprintf(demo->out, "  refused as expected: %s %s (%s)\n", employee, id,
                welfare_result_name(result));
        return;
    }
    demo_outcome(demo, id, error, &result, expected);
}

static void demo_spending(demo_t *demo) {
    uint32_t result = 0;
    demo_buy(demo, "order-0001", "latteria-emp-01", "coop-il-torrazzo", 3, 42000, 0, 0);
    demo_buy(demo, "order-0002", "latteria-emp-01", "bottega-del-torrone", 9, 25000, 0, 0);
    demo_buy(demo, "order-0003", "latteria-emp-02", "asd-canottieri", 8, 36000, 0, 0);
    demo_buy(demo, "order-0004", "latteria-emp-03", "bottega-del-torrone", 9, 100001, 0,
             WELFARE_RESULT_FRINGE_CAP_EXCEEDED);
    demo_buy(demo, "order-0005", "liuteria-emp-01", "coop-il-torrazzo", 1, 30000, 0, 0);
    demo_buy(demo, "order-0006", "cremona-family-01", "coop-il-torrazzo", 3, 28000, 0, 0);
    demo_buy(demo, "order-0007", "cremona-family-02", "coop-il-torrazzo", 7, 20000, 7 * 86400, 0);
    demo_outcome(demo, "capture-0007",
                 welfare_capture(demo->ledger, named("capture-0007"), named("order-0007"), 18000, &result),
                 &result, WELFARE_RESULT_OK);
    demo_outcome(demo, "refund-0001",
                 welfare_refund(demo->ledger, named("refund-0001"), named("order-0001"), 12000, &result),
                 &result, WELFARE_RESULT_OK);
    welfare_reimbursement_t reimbursement = {.id = named("reimb-0001"),
                                             .employee_id = named("liuteria-emp-02"),
                                             .category = 4, .receipt_date = 0,
                                             .amount = 35000, .receipt_amount = 41000};
    uint64_t now = (uint64_t)time(NULL) * NS_PER_S;
    reimbursement.receipt_date = welfare_fiscal_year(now) * 10000 + 115;
    ledger_u128_t hash_hi = named("receipt: casa di riposo, gennaio, liuteria-emp-02");
    memcpy(reimbursement.receipt_hash, &hash_hi, sizeof(hash_hi));
    memcpy(reimbursement.receipt_hash + 16, &hash_hi, sizeof(hash_hi));
    demo_outcome(demo, "reimb-0001", welfare_reimburse(demo->ledger, &reimbursement, &result),
                 &result, WELFARE_RESULT_OK);
    uint64_t paid = 0;
    demo_outcome(demo, "payout-torrazzo-1",
                 welfare_payout(demo->ledger, named("payout-torrazzo-1"), named("coop-il-torrazzo"),
                                0, named("bonifico-0001"), &result, &paid),
                 &result, WELFARE_RESULT_OK);
}

static void print_wallet(demo_t *demo, const char *employee) {
    welfare_wallet_t wallet;
    bool found = false;
    if (demo->error || welfare_wallet(demo->ledger, named(employee), &wallet, &found) || !found) return;
    for (uint32_t i = 0; i < wallet.pots_count; i++) {
        char balance[CLI_EUROS_TEXT_SIZE], held[CLI_EUROS_TEXT_SIZE], granted[CLI_EUROS_TEXT_SIZE];
        cli_format_euros(wallet.pots[i].balance, balance);
        cli_format_euros(wallet.pots[i].held, held);
        cli_format_euros(wallet.pots[i].granted, granted);
        fprintf(demo->out, "  %-18s granted %9s  balance %9s  held %8s%s\n", employee, granted,
                balance, held, wallet.pots[i].expired ? "  (expired)" : "");
    }
}

/* The funder's and the provider's figures: sentences, or with --json the
 * object's "funder" and "provider" members. */
static void print_statements(demo_t *demo) {
    welfare_funder_statement_t s;
    uint32_t rows = 0;
    bool more = false;
    ledger_u128_t zero = {0, 0};
    if (demo->error) return;
    demo->error = welfare_funder_statement(demo->ledger, named("latteria-padana"), 0, 0, &s, zero,
                                           NULL, 0, &rows, &more);
    welfare_provider_statement_t p;
    if (!demo->error) {
        demo->error = welfare_provider_statement(demo->ledger, named("coop-il-torrazzo"), 0, 0, &p);
    }
    if (demo->error) return;
    if (demo->json) {
        printf("\"funder\": {\"id\": \"latteria-padana\", \"funded\": %" PRIu64
               ", \"granted\": %" PRIu64 ", \"spent\": %" PRIu64 ", \"refunded\": %" PRIu64
               ", \"funds_balance\": %" PRIu64 ", \"pots_balance\": %" PRIu64 ", \"fees\": %" PRIu64
               "}, \"provider\": {\"id\": \"coop-il-torrazzo\", \"sales\": %" PRIu64
               ", \"refunds\": %" PRIu64 ", \"fees\": %" PRIu64 ", \"payouts\": %" PRIu64
               ", \"payable\": %" PRIu64 "}, ",
               s.funded, s.granted, s.spent, s.refunded, s.funds_balance, s.pots_balance,
               s.fees - s.fees_returned, p.sales, p.refunds, p.fees - p.fees_returned, p.payouts,
               p.payable);
        return;
    }
    char a[CLI_EUROS_TEXT_SIZE], b[CLI_EUROS_TEXT_SIZE], c[CLI_EUROS_TEXT_SIZE], d[CLI_EUROS_TEXT_SIZE];
    cli_format_euros(s.funded, a);
    cli_format_euros(s.granted, b);
    cli_format_euros(s.spent, c);
    cli_format_euros(s.refunded, d);
    printf("\nlatteria-padana: funded %s, granted %s, spent %s, refunded %s\n", a, b, c, d);
    cli_format_euros(s.funds_balance, a);
    cli_format_euros(s.pots_balance, b);
    cli_format_euros(s.fees - s.fees_returned, c);
    printf("  budget left %s, in employees' pots %s, platform fees on its purchases %s\n", a, b, c);
    cli_format_euros(p.sales, a);
    cli_format_euros(p.refunds, b);
    cli_format_euros(p.fees - p.fees_returned, c);
    cli_format_euros(p.payouts, d);
    printf("coop-il-torrazzo: sales %s, refunds %s, fees %s, paid out %s\n", a, b, c, d);
}

static int demo_verify(demo_t *demo) {
    ledger_verify_report_t report;
    int error = ledger_verify(demo->ledger, &report, NULL, NULL);
    if (error) {
        fprintf(stderr, "borsellino demo: verification failed: %s\n", report.message);
        return error;
    }
    demo->records = report.records_checked;
    fprintf(demo->out, "\nverified: %" PRIu64 " journal records, hash chain intact, debits = credits\n",
            report.records_checked);
    return 0;
}

static const char demo_help[] =
    "usage: borsellino demo [--data DIR] [--json]\n"
    "\n"
    "Seeds a Cremona-like welfare platform into a data directory, in process\n"
    "(no server): companies and a municipality, providers, employees, plans,\n"
    "funding, grants, purchases, a refund, a reimbursement and a payout; then\n"
    "prints three wallets and the statements, and verifies the books. Running\n"
    "it again changes nothing (every operation has a fixed id: it answers\n"
    "\"already there\"). The directory must not be served by a borsellinod.\n"
    "\n"
    "  --data DIR   data directory (default: ./" CLI_DATA_PATH_DEFAULT "; created and\n"
    "               formatted if it does not exist)\n"
    "  --json       one JSON object instead of the narrative: {\"data\": DIR,\n"
    "               \"applied\": N, \"existing\": N, \"funder\": {...}, \"provider\":\n"
    "               {...}, \"records\": N, \"verified\": true} (amounts in cents)\n"
    "\n"
    "Exit codes: 0 done and verified; 1 an operation or the verification\n"
    "failed (the message says which); 2 bad usage.\n";

static int demo_parse(int argc, char **argv, const char **data_path, bool *json) {
    *data_path = CLI_DATA_PATH_DEFAULT;
    *json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(demo_help, stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            *data_path = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            *json = true;
        } else {
            return cli_usage_error("demo", "unknown option %s (see --help)", argv[i]);
        }
    }
    return -1;
}

int cli_demo(int argc, char **argv) {
    const char *data_path = NULL;
    demo_t demo = {NULL, 0, 0, 0, stdout, false, 0};
    int status = demo_parse(argc, argv, &data_path, &demo.json);
    if (status >= 0) return status;
    if (demo.json) demo.out = fopen("/dev/null", "w");
    if (demo.out == NULL) return CLI_EXIT_FAILURE;
    int error = ledger_open(data_path, NULL, &demo.ledger);
    if (error) {
        fprintf(stderr, "borsellino demo: %s\n", ledger_last_error_message(NULL));
        if (demo.json) fclose(demo.out);
        return CLI_EXIT_FAILURE;
    }
    uint64_t from = 0, until = 0;
    fiscal_window((uint64_t)time(NULL) * NS_PER_S, &from, &until);
    fprintf(demo.out, "a Cremona-like welfare platform in %s\n", data_path);
    demo_registry(&demo);
    demo_people(&demo);
    demo_plans(&demo, from, until);
    demo_spending(&demo);
    if (!demo.error) {
        fprintf(demo.out, "  %u operations applied, %u already there\n\nwallets:\n", demo.done,
                demo.existing);
    }
    print_wallet(&demo, "latteria-emp-01");
    print_wallet(&demo, "liuteria-emp-02");
    print_wallet(&demo, "cremona-family-02");
    if (demo.json && !demo.error) {
        printf("{\"data\": ");
        cli_json_string(stdout, data_path);
        printf(", \"applied\": %u, \"existing\": %u, ", demo.done, demo.existing);
    }
    print_statements(&demo);
    if (!demo.error) demo.error = demo_verify(&demo);
    if (demo.json && !demo.error) {
        printf("\"records\": %" PRIu64 ", \"verified\": true}\n", demo.records);
    } else if (!demo.error) {
        printf("\nnext: `tools/dev serve` serves this directory; then try\n"
               "  borsellino welfare wallet --employee latteria-emp-01 --movements\n"
               "  borsellino welfare statement funder --funder latteria-padana\n"
               "  borsellino welfare statement provider --provider coop-il-torrazzo\n");
    }
    if (demo.json) fclose(demo.out);
    int close_error = ledger_close(demo.ledger);
    return demo.error || close_error ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}
