/*
 * bench.c — `borsellino bench`: the load generator over the protocol.
 *
 * A run: (1) create --accounts accounts (pipelined batches on one
 * connection); (2) open --connections connections and start one worker
 * thread on each (bench_worker.c), each keeping at most --in-flight
 * requests of --batch transfers on the wire, until --transfers are sent or
 * --duration has passed; (3) look up every account and compare its four
 * balances with the sums of what the server acknowledged (bench.h);
 * (4) report transfers/s and the latency of a request (send to answer)
 * at p50/p99/p999/max, as a table or one JSON object.
 *
 * The throughput clock runs from the start of the workers to the last
 * answer: account creation and verification are outside it. Exit 0 only
 * when no transfer failed and the balances match.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "convert.h"
#include "frame.h"

enum {
    /* Requests in flight while creating and verifying accounts. */
    BENCH_SETUP_IN_FLIGHT = 4,
    /* Progress line refresh, and the main thread's polling period. */
    BENCH_TICK_MS = 250,
    /* Mismatched accounts printed in detail before summarising. */
    BENCH_MISMATCHES_SHOWN = 5,
};

static const char bench_usage[] =
    "usage: borsellino bench [OPTIONS]\n"
    "\n"
    "Load generator over the protocol: creates accounts, sends transfers on\n"
    "several connections, then checks that the server's balances equal the sum\n"
    "of what it acknowledged. Prints transfers/s and the latency of a request\n"
    "(from sending it to its answer: p50, p99, p999, max). A progress line is\n"
    "shown on stderr when it is a terminal. Exit 1 when a transfer failed or a\n"
    "balance differs.\n"
    "\n"
    "  --connections N    connections, one thread each (default 4, max 1024)\n"
    "  --batch N          transfers per request (default 8000, max 8190)\n"
    "  --in-flight N      requests in flight per connection (default 4; 1 when\n"
    "                     --batch 1 --connections 1: the latency figure, one\n"
    "                     request at a time; max 64)\n"
    "  --accounts N       accounts to create and spread transfers over\n"
    "                     (default 100000, min 2)\n"
    "  --transfers N      transfers to send (default 1M; k and M suffixes)\n"
    "  --duration S       instead, send for S seconds\n"
    "  --rate N           send at most N transfers/s over all connections (k and\n"
    "                     M suffixes): each connection paces itself to N/connections\n"
    "                     on a fixed schedule (it catches up after a slow answer);\n"
    "                     default: as fast as the server answers\n"
    "  --hot-share F      share of transfers touching one hot account (0..1,\n"
    "                     default 0)\n"
    "  --pending-share F  share of new transfers created pending; each is posted\n"
    "                     by a later request (posts count as transfers; default 0)\n"
    "  --ids time|random  time-ordered (default) or random 128-bit ids\n"
    "  --ledger N         ledger of the accounts and transfers (default 978)\n"
    "  --seed N           seed of the random choices (default: from the clock)\n"
    "  --no-verify        skip the balance check\n"
    "  --idle-connections N  hold N more connections open, silent, during the\n"
    "                     run (the server's --connections-max must allow them)\n"
    "  --addr HOST:PORT   the server (default " CLIENT_ADDRESS_DEFAULT ")\n"
    "  --timeout-ms N     give up on an answer after N ms (default 60000)\n"
    "  --tls-cert FILE, --tls-key FILE, --tls-ca FILE  connect with TLS 1.3 and\n"
    "                     this client certificate (defaults: $BORSELLINO_TLS_CERT,\n"
    "                     $BORSELLINO_TLS_KEY, $BORSELLINO_TLS_CA; tools/dev bench-tls)\n"
    "  --json             print one JSON object: transfers_per_second,\n"
    "                     latency_ms_p50, latency_ms_p99, latency_ms_p999,\n"
    "                     latency_ms_max, transfers, errors, verified, ...\n"
    "\n"
    "Accounts and transfers get fresh ids on every run, so runs can repeat\n"
    "against the same server.\n";

/* ---- options ---- */

static bool bench_parse_share(const char *text, double *share_out) {
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= 0 && value <= 1)) return false;
    *share_out = value;
    return true;
}

/* Parses an option that takes a value; false on a bad value or option. */
static bool bench_option(bench_config_t *config, const char *option, const char *value,
                         bool *in_flight_given) {
    uint64_t number = 0;
    if (strcmp(option, "--hot-share") == 0) return bench_parse_share(value, &config->hot_share);
    if (strcmp(option, "--pending-share") == 0) return bench_parse_share(value, &config->pending_share);
    if (strcmp(option, "--ids") == 0) {
        config->random_ids = strcmp(value, "random") == 0;
        return config->random_ids || strcmp(value, "time") == 0;
    }
    if (strcmp(option, "--duration") == 0) {
        char *end = NULL;
        config->duration_s = strtod(value, &end);
        config->transfers = 0;
        return end != value && *end == '\0' && config->duration_s > 0;
    }
    if (strcmp(option, "--seed") == 0) return cli_parse_u64(value, UINT64_MAX, &config->seed);
    if (strcmp(option, "--idle-connections") == 0) {
        bool ok = cli_parse_count(value, &number) && number <= BENCH_IDLE_CONNECTIONS_MAX;
        config->idle_connections = (uint32_t)number;
        return ok;
    }
    if (!cli_parse_count(value, &number) || number == 0) return false;
    if (strcmp(option, "--rate") == 0) {
        config->rate_per_second = number;
        return true;
    }
    if (strcmp(option, "--connections") == 0 && number <= BENCH_CONNECTIONS_MAX) config->connections = (uint32_t)number;
    else if (strcmp(option, "--batch") == 0 && number <= LEDGER_BATCH_EVENTS_MAX) config->batch = (uint32_t)number;
    else if (strcmp(option, "--in-flight") == 0 && number <= BENCH_IN_FLIGHT_MAX) {
        config->in_flight = (uint32_t)number;
        *in_flight_given = true;
    } else if (strcmp(option, "--accounts") == 0 && number >= 2 && number <= BENCH_ACCOUNTS_MAX) {
        config->accounts = number;
    } else if (strcmp(option, "--transfers") == 0) {
        config->transfers = number;
        config->duration_s = 0;
    } else if (strcmp(option, "--ledger") == 0 && number <= UINT32_MAX) config->ledger = (uint32_t)number;

    else return false;
    return true;
}

static int bench_parse(int argc, char **argv, bench_config_t *config) {
    const char *command = "bench";
    *config = (bench_config_t){.connections = 4, .batch = 8000, .in_flight = 4,
                               .accounts = 100000, .transfers = 1000000, .ledger = 978,
                               .verify = true};
    cli_net_options_init(&config->net);
    config->net.timeout_ms = 60000;
    config->seed = bench_now_ns() ^ ((uint64_t)getpid() << 32);
    bool in_flight_given = false;
    for (int i = 1; i < argc; i++) {
        int common = cli_net_option(argc, argv, &i, command, &config->net);
        if (common < 0) return CLI_EXIT_USAGE;
        if (common > 0) continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(bench_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--no-verify") == 0) { config->verify = false; continue; }
        if (i + 1 >= argc) return cli_usage_error(command, "unknown option or missing value: %s", argv[i]);
        if (!bench_option(config, argv[i], argv[i + 1], &in_flight_given)) {
            return cli_usage_error(command, "bad option or value: %s %s", argv[i], argv[i + 1]);
        }
        i++;
    }
    if (!in_flight_given && config->batch == 1 && config->connections == 1) config->in_flight = 1;
    if (config->seed == 0) config->seed = 1; /* xorshift must not start at 0 */
    return -1;
}

/* ---- pipelined setup requests (accounts, verification) ---- */

typedef struct bench_pipeline {
    client_t *client;
    uint64_t total;
    uint32_t chunk;
    void *context;
    /* Builds the request for items [start, start+count) into `request`. */
    void (*build)(void *context, uint64_t start, uint32_t count,
                  Borsellino__V1__Request *request);
    /* Checks the answer; returns 0 or CLI_EXIT_FAILURE (message printed). */
    int (*check)(void *context, uint64_t start, uint32_t count,
                 const Borsellino__V1__Response *response);
} bench_pipeline_t;

static int bench_pipeline_run(const bench_pipeline_t *pipeline) {
    uint64_t starts[BENCH_SETUP_IN_FLIGHT];
    uint32_t head = 0, used = 0;
    uint64_t next = 0;
    int exit_code = 0;
    while (exit_code == 0 && (next < pipeline->total || used > 0)) {
        if (next < pipeline->total && used < BENCH_SETUP_IN_FLIGHT) {
            uint32_t count = (uint32_t)(pipeline->total - next < pipeline->chunk
                                            ? pipeline->total - next : pipeline->chunk);
            Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
            pipeline->build(pipeline->context, next, count, &request);
            int error = client_send(pipeline->client, &request);
            if (error != CLIENT_OK) return -1;
            starts[(head + used++) % BENCH_SETUP_IN_FLIGHT] = next;
            next += count;
            continue;
        }
        Borsellino__V1__Response *response = NULL;
        if (client_receive(pipeline->client, &response) != CLIENT_OK) return -1;
        uint64_t start = starts[head];
        head = (head + 1) % BENCH_SETUP_IN_FLIGHT;
        used--;
        uint64_t left = pipeline->total - start;
        exit_code = pipeline->check(pipeline->context, start,
                                    (uint32_t)(left < pipeline->chunk ? left : pipeline->chunk),
                                    response);
        frame_response_free(response);
    }
    return exit_code;
}

/* Shared storage of the setup requests (one request is built at a time:
 * client_send encodes it before returning). */
typedef struct bench_setup {
    const bench_config_t *config;
    const ledger_u128_t *ids;
    bench_expected_t *expected;
    Borsellino__V1__Account accounts[LEDGER_BATCH_EVENTS_MAX];
    Borsellino__V1__Account *account_pointers[LEDGER_BATCH_EVENTS_MAX];
    Borsellino__V1__U128 u128s[LEDGER_BATCH_EVENTS_MAX];
    Borsellino__V1__U128 *u128_pointers[LEDGER_BATCH_EVENTS_MAX];
    Borsellino__V1__CreateAccountsRequest create;
    Borsellino__V1__LookupAccountsRequest lookup;
    uint64_t mismatched;
} bench_setup_t;

static void bench_accounts_build(void *context, uint64_t start, uint32_t count,
                                 Borsellino__V1__Request *request) {
    bench_setup_t *setup = context;
    for (uint32_t i = 0; i < count; i++) {
        Borsellino__V1__Account *account = &setup->accounts[i];
        borsellino__v1__account__init(account);
        borsellino__v1__u128__init(&setup->u128s[i]);
        setup->u128s[i].hi = setup->ids[start + i].hi;
        setup->u128s[i].lo = setup->ids[start + i].lo;
        account->id = &setup->u128s[i];
        account->ledger = setup->config->ledger;
        account->code = BENCH_CODE;
        setup->account_pointers[i] = account;
    }
    borsellino__v1__create_accounts_request__init(&setup->create);
    setup->create.n_accounts = count;
    setup->create.accounts = setup->account_pointers;
    request->op_case = BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS;
    request->create_accounts = &setup->create;
}

static int bench_accounts_check(void *context, uint64_t start, uint32_t count,
                                const Borsellino__V1__Response *response) {
    bench_setup_t *setup = context;
    if (response->status != BORSELLINO__V1__STATUS__STATUS_OK ||
        response->create_accounts->n_results != count) {
        return cli_fail(&setup->config->net, "bench", client_status_name(response->status),
                        "creating accounts: %s %s", client_status_message(response->status),
                        response->message);
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t result = response->create_accounts->results[i]->result;
        if (result != LEDGER_RESULT_OK) {
            return cli_fail(&setup->config->net, "bench", ledger_result_name(result),
                            "creating account %llu: %s", (unsigned long long)(start + i),
                            cli_result_message(result));
        }
    }
    return 0;
}

/* ---- verification ---- */

static void bench_lookup_build(void *context, uint64_t start, uint32_t count,
                               Borsellino__V1__Request *request) {
    bench_setup_t *setup = context;
    for (uint32_t i = 0; i < count; i++) {
        borsellino__v1__u128__init(&setup->u128s[i]);
        setup->u128s[i].hi = setup->ids[start + i].hi;
        setup->u128s[i].lo = setup->ids[start + i].lo;
        setup->u128_pointers[i] = &setup->u128s[i];
    }
    borsellino__v1__lookup_accounts_request__init(&setup->lookup);
    setup->lookup.n_ids = count;
    setup->lookup.ids = setup->u128_pointers;
    request->op_case = BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS;
    request->lookup_accounts = &setup->lookup;
}

/* Compares one looked-up account with what was acknowledged. */
static void bench_compare(bench_setup_t *setup, uint64_t index, const Borsellino__V1__Account *found) {
    const bench_expected_t *expected = &setup->expected[index];
    uint64_t want[4] = {atomic_load(&expected->debits_pending), atomic_load(&expected->debits_posted),
                        atomic_load(&expected->credits_pending), atomic_load(&expected->credits_posted)};
    uint64_t have[4] = {0, 0, 0, 0};
    if (found != NULL) {
        have[0] = found->debits_pending, have[1] = found->debits_posted;
        have[2] = found->credits_pending, have[3] = found->credits_posted;
    }
    if (found != NULL && memcmp(want, have, sizeof want) == 0) return;
    if (setup->mismatched++ < BENCH_MISMATCHES_SHOWN) {
        fprintf(stderr,
                "borsellino bench: account %llu %s: expected debits %llu/%llu credits %llu/%llu "
                "(pending/posted), server has %llu/%llu and %llu/%llu\n",
                (unsigned long long)index, found ? "differs" : "is missing",
                (unsigned long long)want[0], (unsigned long long)want[1],
                (unsigned long long)want[2], (unsigned long long)want[3],
                (unsigned long long)have[0], (unsigned long long)have[1],
                (unsigned long long)have[2], (unsigned long long)have[3]);
    }
}

static int bench_lookup_check(void *context, uint64_t start, uint32_t count,
                              const Borsellino__V1__Response *response) {
    bench_setup_t *setup = context;
    if (response->status != BORSELLINO__V1__STATUS__STATUS_OK) {
        return cli_fail(&setup->config->net, "bench", client_status_name(response->status),
                        "looking up accounts: %s", client_status_message(response->status));
    }
    const Borsellino__V1__LookupAccountsResponse *lookup = response->lookup_accounts;
    size_t next_found = 0;
    for (uint32_t i = 0; i < count; i++) {
        const Borsellino__V1__Account *found = NULL;
        if (next_found < lookup->n_accounts && lookup->accounts[next_found]->id != NULL &&
            ledger_u128_equal(convert_u128_from_proto(lookup->accounts[next_found]->id),
                              setup->ids[start + i])) {
            found = lookup->accounts[next_found++];
        }
        bench_compare(setup, start + i, found);
    }
    return 0;
}

/* Runs a setup pipeline on a new connection; prints connection errors. */
static int bench_setup_run(bench_setup_t *setup, bool verify) {
    client_t *client = NULL;
    int exit_code = cli_connect(&setup->config->net, "bench", &client);
    if (exit_code != 0) return exit_code;
    bench_pipeline_t pipeline = {
        .client = client, .total = setup->config->accounts, .chunk = LEDGER_BATCH_EVENTS_MAX,
        .context = setup, .build = verify ? bench_lookup_build : bench_accounts_build,
        .check = verify ? bench_lookup_check : bench_accounts_check,
    };
    exit_code = bench_pipeline_run(&pipeline);
    if (exit_code < 0) {
        exit_code = cli_fail(&setup->config->net, "bench", "client_error", "%s",
                             client_last_error_message(client));
    }
    client_close(client);
    return exit_code;
}

/* ---- the load ---- */

typedef struct bench_outcome {
    double accounts_seconds;
    double elapsed_seconds;
    uint64_t transfers;
    uint64_t requests;
    uint64_t errors;
    double latency_ms[4]; /* p50, p99, p999, max */
    bool failed;          /* a connection failed: the run is incomplete */
    char message[BENCH_MESSAGE_SIZE];
} bench_outcome_t;

static void bench_progress(const bench_shared_t *shared, uint64_t start_ns, bool last) {
    if (!isatty(STDERR_FILENO)) return;
    if (last) {
        fputs("\r\033[K", stderr);
        return;
    }
    double seconds = (double)(bench_now_ns() - start_ns) / 1e9;
    uint64_t done = atomic_load(&shared->transfers_done);
    fprintf(stderr, "\rbench: %llu transfers in %.1f s, %.0f/s, %llu errors\033[K",
            (unsigned long long)done, seconds, seconds > 0 ? (double)done / seconds : 0.0,
            (unsigned long long)atomic_load(&shared->errors));
}

/* Waits for the workers, stopping them at the deadline; shows progress. */
static void bench_wait(bench_shared_t *shared, uint64_t start_ns) {
    const bench_config_t *config = shared->config;
    uint64_t deadline_ns = start_ns + (uint64_t)(config->duration_s * 1e9);
    for (;;) {
        struct timespec tick = {0, BENCH_TICK_MS * 1000000L};
        nanosleep(&tick, NULL);
        bench_progress(shared, start_ns, false);
        if (config->duration_s > 0 && bench_now_ns() >= deadline_ns) atomic_store(&shared->stop, true);
        bool all_done = config->transfers > 0 &&
                        atomic_load(&shared->transfers_done) >= config->transfers;
        if (all_done || atomic_load(&shared->stop)) break;
    }
    bench_progress(shared, start_ns, true);
}

static int bench_compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Merges the workers' latencies and fills p50/p99/p999/max. */
static void bench_latencies(const bench_worker_t *workers, uint32_t count, bench_outcome_t *outcome) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) total += workers[i].latencies_count;
    if (total == 0) return;
    uint64_t *all = malloc(total * sizeof *all);
    if (all == NULL) return;
    uint64_t used = 0;
    for (uint32_t i = 0; i < count; i++) {
        memcpy(all + used, workers[i].latencies_ns, workers[i].latencies_count * sizeof *all);
        used += workers[i].latencies_count;
    }
    qsort(all, total, sizeof *all, bench_compare_u64);
    const double quantiles[3] = {0.50, 0.99, 0.999};
    for (int q = 0; q < 3; q++) {
        uint64_t rank = (uint64_t)ceil(quantiles[q] * (double)total);
        outcome->latency_ms[q] = (double)all[rank > 0 ? rank - 1 : 0] / 1e6;
    }
    outcome->latency_ms[3] = (double)all[total - 1] / 1e6;
    free(all);
}

/* Connects every worker, runs them, and fills the outcome. */
static int bench_load(bench_shared_t *shared, bench_worker_t *workers, bench_outcome_t *outcome) {
    const bench_config_t *config = shared->config;
    pthread_t threads[BENCH_CONNECTIONS_MAX];
    uint32_t started = 0;
    for (uint32_t i = 0; i < config->connections; i++) {
        bench_worker_t *worker = &workers[i];
        worker->shared = shared;
        worker->index = i;
        worker->random_state = config->seed + 0x9E3779B97F4A7C15ull * (i + 1);
        if (config->transfers > 0) {
            worker->transfers_target = config->transfers / config->connections +
                                       (i < config->transfers % config->connections);
            if (worker->transfers_target == 0) continue;
        }
        int exit_code = cli_connect(&config->net, "bench", &worker->client);
        if (exit_code != 0) return exit_code;
    }
    uint64_t start_ns = bench_now_ns();
    for (uint32_t i = 0; i < config->connections; i++) {
        if (workers[i].client == NULL) continue;
        if (pthread_create(&threads[started], NULL, bench_worker_run, &workers[i]) != 0) break;
        started++;
    }
    if (started < config->connections) atomic_store(&shared->stop, true);
    bench_wait(shared, start_ns);
    for (uint32_t i = 0; i < started; i++) pthread_join(threads[i], NULL);
    /* The clock stops at the last answer, not when this thread noticed. */
    uint64_t end_ns = start_ns;
    for (uint32_t i = 0; i < config->connections; i++) {
        if (workers[i].finished_ns > end_ns) end_ns = workers[i].finished_ns;
    }
    outcome->elapsed_seconds = (double)(end_ns - start_ns) / 1e9;
    for (uint32_t i = 0; i < config->connections; i++) {
        outcome->transfers += workers[i].transfers_answered;
        outcome->requests += workers[i].requests;
        if (workers[i].message[0] && outcome->message[0] == '\0') {
            snprintf(outcome->message, sizeof outcome->message, "%s", workers[i].message);
        }
        if (workers[i].error != 0) outcome->failed = true;
    }
    outcome->errors = atomic_load(&shared->errors);
    bench_latencies(workers, config->connections, outcome);
    return 0;
}

/* ---- report ---- */

static void bench_report_json(const bench_config_t *config, const bench_outcome_t *outcome,
                              bool verified, uint64_t mismatched) {
    double per_second = outcome->elapsed_seconds > 0
                            ? (double)outcome->transfers / outcome->elapsed_seconds : 0;
    printf("{\"transfers_per_second\":%.0f,\"latency_ms_p50\":%.3f,\"latency_ms_p99\":%.3f,"
           "\"latency_ms_p999\":%.3f,\"latency_ms_max\":%.3f,\"transfers\":%llu,"
           "\"errors\":%llu,\"requests\":%llu,\"seconds\":%.3f,\"accounts\":%llu,"
           "\"accounts_seconds\":%.3f,\"connections\":%u,\"batch\":%u,\"in_flight\":%u,"
           "\"ids\":\"%s\",\"hot_share\":%g,\"pending_share\":%g,\"verified\":%s,"
           "\"accounts_mismatched\":%llu,\"complete\":%s,\"idle_connections\":%u",
           per_second, outcome->latency_ms[0], outcome->latency_ms[1], outcome->latency_ms[2],
           outcome->latency_ms[3], (unsigned long long)outcome->transfers,
           (unsigned long long)outcome->errors, (unsigned long long)outcome->requests,
           outcome->elapsed_seconds, (unsigned long long)config->accounts,
           outcome->accounts_seconds, config->connections, config->batch, config->in_flight,
           config->random_ids ? "random" : "time", config->hot_share, config->pending_share,
           verified ? "true" : "false", (unsigned long long)mismatched,
           outcome->failed ? "false" : "true", config->idle_connections);
    if (outcome->message[0]) {
        fputs(",\"first_error\":", stdout);
        cli_json_string(stdout, outcome->message);
    }
    fputs("}\n", stdout);
}

static void bench_report_human(const bench_config_t *config, const bench_outcome_t *outcome,
                               bool verified, uint64_t mismatched) {
    double per_second = outcome->elapsed_seconds > 0
                            ? (double)outcome->transfers / outcome->elapsed_seconds : 0;
    printf("bench: %u connections, batches of %u, %u in flight each, %llu accounts, %s ids, "
           "hot share %g, pending share %g, %u idle connections\n",
           config->connections, config->batch, config->in_flight,
           (unsigned long long)config->accounts, config->random_ids ? "random" : "time-ordered",
           config->hot_share, config->pending_share, config->idle_connections);
    printf("accounts     %12llu created in %.2f s\n", (unsigned long long)config->accounts,
           outcome->accounts_seconds);
    printf("transfers    %12llu in %.2f s (%llu requests), %llu errors\n",
           (unsigned long long)outcome->transfers, outcome->elapsed_seconds,
           (unsigned long long)outcome->requests, (unsigned long long)outcome->errors);
    printf("throughput   %12.0f transfers/s\n", per_second);
    printf("latency ms   p50 %.3f  p99 %.3f  p999 %.3f  max %.3f (per request)\n",
           outcome->latency_ms[0], outcome->latency_ms[1], outcome->latency_ms[2],
           outcome->latency_ms[3]);
    if (!config->verify) printf("verification skipped (--no-verify)\n");
    else if (outcome->failed) printf("verification not run: the run stopped early\n");
    else if (verified) printf("verification passed: the balances of all %llu accounts match what was acknowledged\n",
                              (unsigned long long)config->accounts);
    else printf("verification FAILED: %llu accounts differ\n", (unsigned long long)mismatched);
    if (outcome->message[0]) printf("first error: %s\n", outcome->message);
}

/* Generates the run's account ids. */
static ledger_u128_t *bench_account_ids(const bench_config_t *config) {
    ledger_u128_t *ids = malloc(config->accounts * sizeof *ids);
    uint64_t state = config->seed ^ 0xA5A5A5A5A5A5A5A5ull;
    for (uint64_t i = 0; ids != NULL && i < config->accounts; i++) {
        if (!config->random_ids) {
            ids[i] = ledger_id_time_ordered();
            continue;
        }
        ids[i] = (ledger_u128_t){bench_random(&state), bench_random(&state)};
        if (ledger_u128_is_zero(ids[i]) || ledger_u128_is_max(ids[i])) ids[i].lo = i + 1;
    }
    return ids;
}

/* Opens the idle connections (each answers one status request first, so
 * it is known to be accepted). Returns 0 or an exit code. */
static int bench_idle_open(const bench_config_t *config, client_t **idle) {
    for (uint32_t i = 0; i < config->idle_connections; i++) {
        int exit_code = cli_connect(&config->net, "bench", &idle[i]);
        if (exit_code != 0) return exit_code;
        Borsellino__V1__StatusRequest status = BORSELLINO__V1__STATUS_REQUEST__INIT;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
        request.status = &status;
        Borsellino__V1__Response *response = NULL;
        exit_code = cli_call(idle[i], &config->net, "bench", &request,
                             BORSELLINO__V1__RESPONSE__RESULT_STATUS_RESULT, &response);
        frame_response_free(response);
        if (exit_code != 0) {
            fprintf(stderr, "borsellino bench: idle connection %u of %u was not served\n", i + 1,
                    config->idle_connections);
            return exit_code;
        }
    }
    return 0;
}

/* Creates the accounts, runs the load and verifies; fills the outcome. */
static int bench_execute(const bench_config_t *config, bench_shared_t *shared, bench_setup_t *setup,
                         bench_worker_t *workers, bench_outcome_t *outcome) {
    client_t **idle = calloc(config->idle_connections + 1, sizeof *idle);
    if (idle == NULL) return cli_fail(&config->net, "bench", "no_memory", "out of memory");
    int exit_code = bench_idle_open(config, idle);
    uint64_t accounts_start_ns = bench_now_ns();
    if (exit_code == 0) exit_code = bench_setup_run(setup, false);
    outcome->accounts_seconds = (double)(bench_now_ns() - accounts_start_ns) / 1e9;
    if (exit_code == 0) exit_code = bench_load(shared, workers, outcome);
    if (exit_code == 0 && config->verify && !outcome->failed) exit_code = bench_setup_run(setup, true);
    for (uint32_t i = 0; i < config->idle_connections; i++) client_close(idle[i]);
    free(idle);
    return exit_code;
}

int cli_bench(int argc, char **argv) {
    bench_config_t config;
    int exit_code = bench_parse(argc, argv, &config);
    if (exit_code >= 0) return exit_code;
    bench_shared_t shared = {.config = &config};
    bench_setup_t *setup = calloc(1, sizeof *setup);
    bench_worker_t *workers = calloc(config.connections, sizeof *workers);
    ledger_u128_t *ids = bench_account_ids(&config);
    shared.expected = calloc(config.accounts, sizeof *shared.expected);
    shared.account_ids = ids;
    if (setup == NULL || workers == NULL || ids == NULL || shared.expected == NULL) {
        exit_code = cli_fail(&config.net, "bench", "no_memory", "out of memory");
    } else {
        *setup = (bench_setup_t){.config = &config, .ids = ids, .expected = shared.expected};
        bench_outcome_t outcome = {0};
        exit_code = bench_execute(&config, &shared, setup, workers, &outcome);
        bool verified = config.verify && !outcome.failed && setup->mismatched == 0;
        if (exit_code == 0 && config.net.json) bench_report_json(&config, &outcome, verified, setup->mismatched);
        else if (exit_code == 0) bench_report_human(&config, &outcome, verified, setup->mismatched);
        if (exit_code == 0 && outcome.failed) {
            fprintf(stderr, "borsellino bench: the run stopped early: %s\n", outcome.message);
        }
        bool good = outcome.errors == 0 && !outcome.failed && (verified || !config.verify);
        if (exit_code == 0 && !good) exit_code = CLI_EXIT_FAILURE;
    }
    for (uint32_t i = 0; workers != NULL && i < config.connections; i++) {
        client_close(workers[i].client);
        free(workers[i].latencies_ns);
    }
    free(workers);
    free(setup);
    free(ids);
    free(shared.expected);
    return exit_code;
}
