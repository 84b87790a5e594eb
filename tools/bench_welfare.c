/*
 * bench_welfare.c — `borsellino bench-welfare`: the in-process benchmark of
 * the welfare layer (a program, not a test), in a fresh data directory:
 *  1. setup: one company, 20 providers, N employees, one plan;
 *  2. bulk grant: N employees granted credit, in requests of 10,000
 *     (the first request's time is the "bulk grant" figure);
 *  3. purchases: M purchases by uniformly chosen employees at uniformly
 *     chosen providers, each with its fee split (and, one in five, the
 *     fringe-cap check), grouped G per durable commit as the server's
 *     writer groups them;
 *  4. expiry sweep: the clock (injected) moves past the plan's end and the
 *     plan's N pots are swept back to the company in one operation;
 *  5. checks: ledger_verify and the company's reconciliation identity.
 * Every figure is printed with what it measured.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_welfare.h"
#include "cli.h"
#include "ledger.h"
#include "welfare.h"

enum { BENCH_PROVIDERS = 20, BENCH_GRANT_CHUNK = 10000 };

typedef struct welfare_bench {
    welfare_bench_options_t options;
    uint64_t skew_ns; /* the injected clock is real time plus this */
    ledger_t *ledger;
} welfare_bench_t;

static uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static uint64_t bench_clock(void *context) {
    const welfare_bench_t *bench = context;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec + bench->skew_ns;
}

static uint64_t bench_random(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

static ledger_u128_t bench_id(uint64_t kind, uint64_t number) {
    ledger_u128_t id = {kind, number};
    return id;
}

static int bench_fail(const welfare_bench_t *bench, const char *what, int error, uint32_t result) {
    if (error) {
        fprintf(stderr, "borsellino bench-welfare: %s: %s (%s)\n", what, ledger_strerror(error),
                ledger_last_error_message(bench->ledger));
    } else {
        fprintf(stderr, "borsellino bench-welfare: %s: %s\n", what, welfare_result_name(result));
    }
    return CLI_EXIT_FAILURE;
}

static int bench_usage(void) {
    printf("usage: borsellino bench-welfare [OPTIONS]\n\n"
           "  --dir DIR        where to create the data directory (default: .)\n"
           "  --employees N    employees, each with one pot (default 100k; k, M suffixes)\n"
           "  --purchases N    purchases to make (default 1M)\n"
           "  --group N        purchases per welfare_purchases call and durable commit\n"
           "                   (default 8000, at most 8190)\n"
           "  --keep           keep the data directory afterwards\n"
           "  --json           one JSON object per line and stage instead of sentences:\n"
           "                   {\"stage\": \"grant\"|\"purchases\"|\"sweep\"|\"check\"|\"setup\", ...}\n"
           "\nOver the protocol, against a running borsellinod (setup, bulk grant,\n"
           "purchases; no sweep, which needs the plan to end):\n"
           "  --addr HOST:PORT the server (tools/dev bench-welfare starts one and runs this)\n"
           "  --connections N  connections, one thread each (default 4)\n"
           "  --in-flight N    requests in flight per connection (default 4)\n"
           "  --batch N        purchases per request (default 1000; 1 sends single\n"
           "                   WelfarePurchase requests, more a WelfarePurchases batch)\n"
           "  --refund-permille N  refunds per 1,000 purchases (0..1000, default 0): right\n"
           "                   after each request, the whole of that many of its purchases\n"
           "                   is refunded, one WelfareRefund request each (the welfare\n"
           "                   mix: purchases with an occasional refund)\n");
    return CLI_EXIT_OK;
}

static int bench_parse(int argc, char **argv, welfare_bench_t *bench) {
    for (int i = 1; i < argc; i++) {
        const char *option = argv[i];
        if (strcmp(option, "--help") == 0 || strcmp(option, "-h") == 0) return -1;
        if (strcmp(option, "--keep") == 0) {
            bench->options.keep = true;
            continue;
        }
        if (strcmp(option, "--json") == 0) {
            bench->options.json = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "borsellino bench-welfare: %s needs a value (see --help)\n", option);
            return CLI_EXIT_USAGE;
        }
        const char *value = argv[++i];
        uint64_t number = 0;
        bool is_number = cli_parse_count(value, &number);
        if (strcmp(option, "--dir") == 0) {
            bench->options.directory = value;
        } else if (strcmp(option, "--addr") == 0) {
            bench->options.address = value;
        } else if (strcmp(option, "--connections") == 0 && is_number && number > 0 && number <= 256) {
            bench->options.connections = (uint32_t)number;
        } else if (strcmp(option, "--in-flight") == 0 && is_number && number > 0 && number <= 4096) {
            bench->options.in_flight = (uint32_t)number;
        } else if (strcmp(option, "--batch") == 0 && is_number && number > 0 &&
                   number <= LEDGER_BATCH_EVENTS_MAX) {
            bench->options.batch = (uint32_t)number;
        } else if (strcmp(option, "--refund-permille") == 0 && is_number && number <= 1000) {
            bench->options.refund_permille = (uint32_t)number;
        } else if (strcmp(option, "--employees") == 0 && is_number && number > 0) {
            bench->options.employees = number;
        } else if (strcmp(option, "--purchases") == 0 && is_number && number > 0) {
            bench->options.purchases = number;
        } else if (strcmp(option, "--group") == 0 && is_number && number > 0 &&
                   number <= LEDGER_BATCH_EVENTS_MAX) {
            bench->options.group = (uint32_t)number;
        } else {
            fprintf(stderr, "borsellino bench-welfare: bad option %s %s (see --help)\n", option, value);
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

/* Company, providers, plan (ending in one hour), employees, funds. */
static int bench_setup(welfare_bench_t *bench) {
    ledger_t *ledger = bench->ledger;
    uint32_t result = 0;
    welfare_funder_t funder = {.id = bench_id(1, 1), .kind = WELFARE_FUNDER_COMPANY};
    int error = welfare_create_funder(ledger, &funder, &result);
    if (error || result) return bench_fail(bench, "create company", error, result);
    for (uint64_t p = 1; p <= BENCH_PROVIDERS; p++) {
        welfare_provider_t provider = {.id = bench_id(2, p), .fee_bps = 300,
                                       .categories = (UINT64_C(1) << 7) | (UINT64_C(1) << 9)};
        error = welfare_create_provider(ledger, &provider, &result);
        if (error || result) return bench_fail(bench, "create provider", error, result);
    }
    uint64_t now = bench_clock(bench);
    welfare_plan_t plan = {.id = bench_id(3, 1), .funder_id = funder.id, .valid_from = now - 1,
                           .valid_until = now + 3600ull * 1000000000ull,
                           .categories = (UINT64_C(1) << 7) | (UINT64_C(1) << 9),
                           .expiry_policy = WELFARE_EXPIRY_BACK_TO_FUNDER};
    error = welfare_create_plan(ledger, &plan, &result);
    if (error || result) return bench_fail(bench, "create plan", error, result);
    welfare_fund_t fund = {bench_id(4, 1), funder.id, bench->options.employees * 100000};
    error = welfare_fund(ledger, &fund, &result);
    if (error || result) return bench_fail(bench, "fund", error, result);
    for (uint64_t e = 1; e <= bench->options.employees && !error;) {
        error = ledger_write_begin(ledger);
        for (uint64_t n = 0; n < 8000 && e <= bench->options.employees && !error; n++, e++) {
            welfare_employee_t employee = {.id = bench_id(5, e), .funder_id = funder.id};
            error = welfare_create_employee(ledger, &employee, &result);
            if (!error && result) return bench_fail(bench, "create employee", 0, result);
        }
        error = error ? (ledger_write_abort(ledger), error) : ledger_write_commit(ledger);
    }
    return error ? bench_fail(bench, "create employees", error, 0) : 0;
}

/* Grants 1,000 EUR to every employee, 10,000 per request. */
static int bench_grant(welfare_bench_t *bench) {
    welfare_grant_entry_t *entries = calloc(BENCH_GRANT_CHUNK, sizeof(*entries));
    uint32_t *results = calloc(BENCH_GRANT_CHUNK, sizeof(*results));
    if (entries == NULL || results == NULL) return bench_fail(bench, "grant", LEDGER_ERR_NO_MEMORY, 0);
    uint64_t first_ns = 0;
    uint64_t started = monotonic_ns();
    uint32_t refusal = WELFARE_RESULT_OK;
    int error = 0;
    for (uint64_t e = 1, chunk = 1; e <= bench->options.employees && !error; chunk++) {
        uint32_t count = 0;
        for (; count < BENCH_GRANT_CHUNK && e <= bench->options.employees; count++, e++) {
            entries[count] = (welfare_grant_entry_t){bench_id(5, e), 100000};
        }
        uint64_t chunk_started = monotonic_ns();
        error = welfare_grant(bench->ledger, bench_id(6, chunk), bench_id(3, 1), entries, count, results);
        if (chunk == 1) first_ns = monotonic_ns() - chunk_started;
        for (uint32_t i = 0; i < count; i++) {
            if (results[i] != WELFARE_RESULT_OK) refusal = results[i];
        }
    }
    free(entries);
    free(results);
    if (error || refusal) return bench_fail(bench, "grant", error, refusal);
    double total_s = (double)(monotonic_ns() - started) / 1e9;
    unsigned first_count = bench->options.employees < BENCH_GRANT_CHUNK
                               ? (unsigned)bench->options.employees : BENCH_GRANT_CHUNK;
    if (bench->options.json) {
        printf("{\"stage\": \"grant\", \"first_request_employees\": %u, "
               "\"first_request_seconds\": %.3f, \"employees\": %" PRIu64 ", \"seconds\": %.3f}\n",
               first_count, (double)first_ns / 1e9, bench->options.employees, total_s);
        return 0;
    }
    printf("bulk grant: first request of %u employees in %.3f s; %" PRIu64 " employees in %.2f s\n",
           first_count, (double)first_ns / 1e9, bench->options.employees, total_s);
    return 0;
}

static int bench_purchases(welfare_bench_t *bench) {
    uint64_t state = 0x9E3779B97F4A7C15ull;
    uint64_t refused = 0;
    uint32_t group = bench->options.group; /* 1..LEDGER_BATCH_EVENTS_MAX (bench_parse) */
    welfare_purchase_t *purchases = calloc(group, sizeof(*purchases));
    uint32_t *results = calloc(group, sizeof(*results));
    if (purchases == NULL || results == NULL) return bench_fail(bench, "purchases", LEDGER_ERR_NO_MEMORY, 0);
    uint64_t started = monotonic_ns();
    int error = 0;
    /* One welfare_purchases call (one durable commit) per group. */
    for (uint64_t done = 0; done < bench->options.purchases && !error;) {
        uint32_t count = 0;
        for (; count < group && done < bench->options.purchases; count++, done++) {
            uint64_t random = bench_random(&state);
            purchases[count] = (welfare_purchase_t){
                .id = bench_id(7, done + 1),
                .employee_id = bench_id(5, 1 + random % bench->options.employees),
                .provider_id = bench_id(2, 1 + (random >> 32) % BENCH_PROVIDERS),
                .category = (random >> 40) % 5 == 0 ? 9 : 7,
                .amount = 1 + (random >> 48) % 100,
            };
        }
        error = welfare_purchases(bench->ledger, purchases, count, results);
        for (uint32_t i = 0; i < count && !error; i++) refused += results[i] != WELFARE_RESULT_OK;
    }
    free(purchases);
    free(results);
    if (error) return bench_fail(bench, "purchases", error, 0);
    double seconds = (double)(monotonic_ns() - started) / 1e9;
    if (bench->options.json) {
        printf("{\"stage\": \"purchases\", \"purchases\": %" PRIu64 ", \"seconds\": %.3f, "
               "\"per_second\": %.0f, \"group\": %u, \"refused\": %" PRIu64 "}\n",
               bench->options.purchases, seconds, (double)bench->options.purchases / seconds,
               group, refused);
        return 0;
    }
    printf("purchases: %" PRIu64 " in %.2f s = %.0f purchases/s durable (welfare_purchases of %u, "
           "one commit each; %" PRIu64 " refused)\n", bench->options.purchases, seconds,
           (double)bench->options.purchases / seconds, group, refused);
    return 0;
}

static int bench_sweep(welfare_bench_t *bench) {
    bench->skew_ns = 2 * 3600ull * 1000000000ull; /* two hours later: the plan has ended */
    uint32_t result = 0;
    welfare_sweep_report_t report;
    uint64_t started = monotonic_ns();
    int error = welfare_sweep(bench->ledger, bench_id(8, 1), bench_id(3, 1), &result, &report);
    double seconds = (double)(monotonic_ns() - started) / 1e9;
    if (error || result) return bench_fail(bench, "sweep", error, result);
    if (bench->options.json) {
        printf("{\"stage\": \"sweep\", \"pots\": %u, \"expired_back_cents\": %" PRIu64
               ", \"seconds\": %.3f}\n", report.pots_swept, report.expired_back, seconds);
        return 0;
    }
    printf("expiry sweep: %u pots (%.2f EUR back to the company) in %.2f s, one durable commit\n",
           report.pots_swept, (double)report.expired_back / 100.0, seconds);
    return 0;
}

/* ledger_verify and funded = funds + pots + held + spent - refunded + reimbursed + forfeited. */
static int bench_check(welfare_bench_t *bench) {
    ledger_verify_report_t report;
    int error = ledger_verify(bench->ledger, &report, NULL, NULL);
    if (error) {
        fprintf(stderr, "borsellino bench-welfare: verify: %s\n", report.message);
        return CLI_EXIT_FAILURE;
    }
    welfare_funder_statement_t statement;
    uint32_t rows = 0;
    bool more = false;
    ledger_u128_t zero = {0, 0};
    error = welfare_funder_statement(bench->ledger, bench_id(1, 1), 0, 0, &statement, zero,
                                     NULL, 0, &rows, &more);
    if (error) return bench_fail(bench, "statement", error, 0);
    uint64_t accounted = statement.funds_balance + statement.pots_balance + statement.spent -
                         statement.refunded + statement.reimbursed + statement.forfeited;
    bool balanced = accounted == statement.funded;
    if (bench->options.json) {
        printf("{\"stage\": \"check\", \"records\": %" PRIu64 ", \"funded_cents\": %" PRIu64
               ", \"accounted_cents\": %" PRIu64 ", \"balanced\": %s}\n", report.records_checked,
               statement.funded, accounted, balanced ? "true" : "false");
    } else {
        printf("checks: ledger_verify ok (%" PRIu64 " records); company funded %.2f EUR, "
               "accounted %.2f EUR: %s\n", report.records_checked, (double)statement.funded / 100.0,
               (double)accounted / 100.0, balanced ? "balanced" : "NOT BALANCED");
    }
    return balanced ? 0 : CLI_EXIT_FAILURE;
}

int cli_bench_welfare(int argc, char **argv) {
    welfare_bench_t bench = {{".", NULL, 100000, 1000000, 8000, 4, 4, 1000, 0, false, false}, 0, NULL};
    int parsed = bench_parse(argc, argv, &bench);
    if (parsed < 0) return bench_usage();
    if (parsed) return parsed;
    if (bench.options.refund_permille != 0 && bench.options.address == NULL) {
        fprintf(stderr, "borsellino bench-welfare: --refund-permille needs --addr (refunds are "
                        "measured over the protocol)\n");
        return CLI_EXIT_USAGE;
    }
    if (bench.options.address != NULL) return bench_welfare_net(&bench.options);
    char path[4096];
    snprintf(path, sizeof(path), "%s/bench-welfare.%d", bench.options.directory, (int)getpid());
    ledger_options_t options = {0};
    options.clock = bench_clock;
    options.clock_context = &bench;
    int error = ledger_open(path, &options, &bench.ledger);
    if (error) {
        fprintf(stderr, "borsellino bench-welfare: %s: %s\n", path, ledger_last_error_message(NULL));
        return CLI_EXIT_FAILURE;
    }
    if (!bench.options.json) {
        printf("bench-welfare: %" PRIu64 " employees, %" PRIu64 " purchases, groups of %u, in %s\n",
               bench.options.employees, bench.options.purchases, bench.options.group, path);
    }
    int status = bench_setup(&bench);
    if (!status) status = bench_grant(&bench);
    if (!status) status = bench_purchases(&bench);
    if (!status) status = bench_sweep(&bench);
    if (!status) status = bench_check(&bench);
    ledger_close(bench.ledger);
    if (!bench.options.keep) {
        char command[4200];
        snprintf(command, sizeof(command), "rm -rf '%s'", path);
        if (system(command) != 0) fprintf(stderr, "borsellino bench-welfare: could not remove %s\n", path);
    }
    return status;
}
