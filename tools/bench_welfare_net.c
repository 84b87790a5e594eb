/*
 * bench_welfare_net.c — `borsellino bench-welfare --addr HOST:PORT`: the
 * welfare benchmark over the protocol, against a running borsellinod
 * (normally on a fresh data directory: tools/dev bench-welfare-net).
 *
 *  1. setup: a company, 20 providers, N employees and a plan, sent as
 *     pipelined single requests;
 *  2. bulk grant: every employee granted credit in requests of 10,000
 *     employees; the first request's round trip is the figure;
 *  3. purchases: M purchases spread over C connections, each keeping F
 *     requests in flight, in batches of B purchases per request, each with
 *     its fee split and (one in five, a fringe category) its cap check;
 *     with --refund-permille R, after each batch R in 1,000 of its
 *     purchases are refunded whole, one WelfareRefund request each (sent
 *     on the same connection, so each after its purchase). Durable: the
 *     server answers once the group holding it is committed.
 * Employee, provider and purchase ids are (kind, number) u128 values
 * with a per-run prefix, so runs against the same server do not collide.
 * Over TLS when BORSELLINO_TLS_CERT, _KEY and _CA are set (cli.h).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_welfare.h"
#include "cli.h"
#include "client.h"
#include "convert.h"
#include "frame.h"
#include "welfare.h"

enum { NET_PROVIDERS = 20, NET_GRANT_CHUNK = 10000, NET_CONNECT_TIMEOUT_MS = 5000 };

typedef struct net_bench {
    const welfare_bench_options_t *options;
    uint64_t run;      /* id prefix of this run */
    uint64_t failures; /* responses that were not OK */
} net_bench_t;

/* Connects, over TLS when the environment names the files. */
static int net_connect(const welfare_bench_options_t *options, client_t **client_out) {
    client_tls_t tls;
    cli_net_tls_from_env(&tls);
    return client_connect_tls(options->address, NET_CONNECT_TIMEOUT_MS,
                              cli_net_tls_wanted(&tls) ? &tls : NULL, client_out);
}

static uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static ledger_u128_t net_id(const net_bench_t *bench, uint64_t kind, uint64_t number) {
    ledger_u128_t id = {(bench->run << 16) | kind, number};
    return id;
}

/* Sends `request` pipelined (at most `in_flight` waiting) and counts the
 * refused answers; returns a client error or 0. */
typedef struct pipeline {
    client_t *client;
    uint32_t in_flight_max;
    uint64_t refused;
    uint32_t last_result;
} pipeline_t;

static int pipeline_receive_one(pipeline_t *pipeline) {
    Borsellino__V1__Response *response = NULL;
    int error = client_receive(pipeline->client, &response);
    if (error) return error;
    uint32_t result = 0;
    if (response->status != BORSELLINO__V1__STATUS__STATUS_OK) {
        result = UINT32_MAX;
    } else if (response->result_case == BORSELLINO__V1__RESPONSE__RESULT_WELFARE_PURCHASE) {
        result = response->welfare_purchase->result;
    } else if (response->result_case == BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_EMPLOYEE) {
        result = response->welfare_create_employee->result;
    } else if (response->result_case == BORSELLINO__V1__RESPONSE__RESULT_WELFARE_REFUND) {
        result = response->welfare_refund->result;
    } else if (response->result_case == BORSELLINO__V1__RESPONSE__RESULT_WELFARE_PURCHASES) {
        for (size_t i = 0; i < response->welfare_purchases->n_results; i++) {
            uint32_t one = (uint32_t)response->welfare_purchases->results[i];
            if (one != WELFARE_RESULT_OK && one != WELFARE_RESULT_EXISTS) {
                pipeline->refused++;
                pipeline->last_result = one;
            }
        }
    }
    if (result != WELFARE_RESULT_OK && result != WELFARE_RESULT_EXISTS) {
        pipeline->refused++;
        pipeline->last_result = result;
    }
    frame_response_free(response);
    return 0;
}

static int pipeline_send(pipeline_t *pipeline, Borsellino__V1__Request *request) {
    while (client_in_flight(pipeline->client) >= pipeline->in_flight_max) {
        int error = pipeline_receive_one(pipeline);
        if (error) return error;
    }
    return client_send(pipeline->client, request);
}

static int pipeline_drain(pipeline_t *pipeline) {
    while (client_in_flight(pipeline->client) > 0) {
        int error = pipeline_receive_one(pipeline);
        if (error) return error;
    }
    return 0;
}

/* One request/response for setup steps; returns the welfare result or
 * UINT32_MAX for a transport or status failure. */
static uint32_t net_call(client_t *client, Borsellino__V1__Request *request) {
    Borsellino__V1__Response *response = NULL;
    if (client_call(client, request, &response) != 0) return UINT32_MAX;
    uint32_t result = UINT32_MAX;
    if (response->status == BORSELLINO__V1__STATUS__STATUS_OK) {
        switch (response->result_case) {
        case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_FUNDER:
            result = response->welfare_create_funder->result;
            break;
        case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_PROVIDER:
            result = response->welfare_create_provider->result;
            break;
        case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_PLAN:
            result = response->welfare_create_plan->result;
            break;
        case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_FUND:
            result = response->welfare_fund->result;
            break;
        case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_GRANT:
            result = WELFARE_RESULT_OK;
            for (size_t i = 0; i < response->welfare_grant->n_results; i++) {
                if ((uint32_t)response->welfare_grant->results[i] != WELFARE_RESULT_OK) {
                    result = (uint32_t)response->welfare_grant->results[i];
                }
            }
            break;
        default:
            break;
        }
    }
    frame_response_free(response);
    return result;
}

static int net_fail(const char *what, uint32_t result) {
    fprintf(stderr, "borsellino bench-welfare: %s: %s\n", what,
            result == UINT32_MAX ? "request failed (see the server's log)" : welfare_result_name(result));
    return 1;
}

/* Company, providers, plan, funds. */
static int net_setup_registry(net_bench_t *bench, client_t *client) {
    Borsellino__V1__U128 id_value, other_value;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    Borsellino__V1__WelfareFunder funder = BORSELLINO__V1__WELFARE_FUNDER__INIT;
    Borsellino__V1__WelfareCreateFunderRequest create_funder =
        BORSELLINO__V1__WELFARE_CREATE_FUNDER_REQUEST__INIT;
    borsellino__v1__u128__init(&id_value);
    borsellino__v1__u128__init(&other_value);
    convert_u128_to_proto(net_id(bench, 1, 1), &id_value);
    funder.id = &id_value;
    funder.kind = BORSELLINO__V1__WELFARE_FUNDER_KIND__WELFARE_FUNDER_COMPANY;
    create_funder.funder = &funder;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_FUNDER;
    request.welfare_create_funder = &create_funder;
    uint32_t result = net_call(client, &request);
    if (result != WELFARE_RESULT_OK) return net_fail("create company", result);
    for (uint64_t p = 1; p <= NET_PROVIDERS; p++) {
        Borsellino__V1__WelfareProvider provider = BORSELLINO__V1__WELFARE_PROVIDER__INIT;
        Borsellino__V1__WelfareCreateProviderRequest create =
            BORSELLINO__V1__WELFARE_CREATE_PROVIDER_REQUEST__INIT;
        convert_u128_to_proto(net_id(bench, 2, p), &id_value);
        provider.id = &id_value;
        provider.fee_bps = 300;
        provider.categories = (UINT64_C(1) << 7) | (UINT64_C(1) << 9);
        create.provider = &provider;
        Borsellino__V1__Request provider_request = BORSELLINO__V1__REQUEST__INIT;
        provider_request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_PROVIDER;
        provider_request.welfare_create_provider = &create;
        result = net_call(client, &provider_request);
        if (result != WELFARE_RESULT_OK) return net_fail("create provider", result);
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    Borsellino__V1__WelfarePlan plan = BORSELLINO__V1__WELFARE_PLAN__INIT;
    Borsellino__V1__WelfareCreatePlanRequest create_plan =
        BORSELLINO__V1__WELFARE_CREATE_PLAN_REQUEST__INIT;
    convert_u128_to_proto(net_id(bench, 3, 1), &id_value);
    convert_u128_to_proto(net_id(bench, 1, 1), &other_value);
    plan.id = &id_value;
    plan.funder_id = &other_value;
    plan.valid_from = now_ns - 1000000000ull;
    plan.valid_until = now_ns + 30ull * 86400 * 1000000000ull;
    plan.categories = (UINT64_C(1) << 7) | (UINT64_C(1) << 9);
    plan.expiry_policy = BORSELLINO__V1__WELFARE_EXPIRY_POLICY__WELFARE_EXPIRY_BACK_TO_FUNDER;
    create_plan.plan = &plan;
    Borsellino__V1__Request plan_request = BORSELLINO__V1__REQUEST__INIT;
    plan_request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_PLAN;
    plan_request.welfare_create_plan = &create_plan;
    result = net_call(client, &plan_request);
    if (result != WELFARE_RESULT_OK) return net_fail("create plan", result);
    Borsellino__V1__WelfareFundRequest fund = BORSELLINO__V1__WELFARE_FUND_REQUEST__INIT;
    convert_u128_to_proto(net_id(bench, 4, 1), &id_value);
    fund.id = &id_value;
    fund.funder_id = &other_value;
    fund.amount = bench->options->employees * 100000;
    Borsellino__V1__Request fund_request = BORSELLINO__V1__REQUEST__INIT;
    fund_request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_FUND;
    fund_request.welfare_fund = &fund;
    result = net_call(client, &fund_request);
    return result == WELFARE_RESULT_OK ? 0 : net_fail("fund", result);
}

static int net_setup_employees(net_bench_t *bench, client_t *client) {
    pipeline_t pipeline = {client, 256, 0, 0};
    Borsellino__V1__U128 id_value, funder_value;
    borsellino__v1__u128__init(&id_value);
    borsellino__v1__u128__init(&funder_value);
    convert_u128_to_proto(net_id(bench, 1, 1), &funder_value);
    int error = 0;
    for (uint64_t e = 1; e <= bench->options->employees && !error; e++) {
        Borsellino__V1__WelfareEmployee employee = BORSELLINO__V1__WELFARE_EMPLOYEE__INIT;
        Borsellino__V1__WelfareCreateEmployeeRequest create =
            BORSELLINO__V1__WELFARE_CREATE_EMPLOYEE_REQUEST__INIT;
        convert_u128_to_proto(net_id(bench, 5, e), &id_value);
        employee.id = &id_value;
        employee.funder_id = &funder_value;
        create.employee = &employee;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_EMPLOYEE;
        request.welfare_create_employee = &create;
        error = pipeline_send(&pipeline, &request);
    }
    if (!error) error = pipeline_drain(&pipeline);
    if (error || pipeline.refused) return net_fail("create employees", pipeline.last_result);
    return 0;
}

/* Grants 1,000 EUR each, 10,000 employees per request. */
static int net_grant(net_bench_t *bench, client_t *client) {
    uint32_t chunk_max = NET_GRANT_CHUNK;
    Borsellino__V1__WelfareGrantEntry *entries = calloc(chunk_max, sizeof(*entries));
    Borsellino__V1__WelfareGrantEntry **pointers = calloc(chunk_max, sizeof(*pointers));
    Borsellino__V1__U128 *ids = calloc(chunk_max, sizeof(*ids));
    if (entries == NULL || pointers == NULL || ids == NULL) return net_fail("grant: out of memory", UINT32_MAX);
    Borsellino__V1__U128 grant_value, plan_value;
    borsellino__v1__u128__init(&grant_value);
    borsellino__v1__u128__init(&plan_value);
    convert_u128_to_proto(net_id(bench, 3, 1), &plan_value);
    uint64_t first_ns = 0;
    uint32_t result = WELFARE_RESULT_OK;
    for (uint64_t e = 1, chunk = 1; e <= bench->options->employees && result == WELFARE_RESULT_OK; chunk++) {
        uint32_t count = 0;
        for (; count < chunk_max && e <= bench->options->employees; count++, e++) {
            borsellino__v1__welfare_grant_entry__init(&entries[count]);
            borsellino__v1__u128__init(&ids[count]);
            convert_u128_to_proto(net_id(bench, 5, e), &ids[count]);
            entries[count].employee_id = &ids[count];
            entries[count].amount = 100000;
            pointers[count] = &entries[count];
        }
        Borsellino__V1__WelfareGrantRequest grant = BORSELLINO__V1__WELFARE_GRANT_REQUEST__INIT;
        convert_u128_to_proto(net_id(bench, 6, chunk), &grant_value);
        grant.id = &grant_value;
        grant.plan_id = &plan_value;
        grant.n_entries = count;
        grant.entries = pointers;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_GRANT;
        request.welfare_grant = &grant;
        uint64_t started = monotonic_ns();
        result = net_call(client, &request);
        if (chunk == 1) first_ns = monotonic_ns() - started;
    }
    free(entries);
    free(pointers);
    free(ids);
    if (result != WELFARE_RESULT_OK) return net_fail("grant", result);
    unsigned first_count = bench->options->employees < chunk_max
                               ? (unsigned)bench->options->employees : chunk_max;
    if (bench->options->json) {
        printf("{\"stage\": \"grant\", \"first_request_employees\": %u, "
               "\"first_request_seconds\": %.3f}\n", first_count, (double)first_ns / 1e9);
    } else {
        printf("bulk grant over the protocol: first request of %u employees answered in %.3f s\n",
               first_count, (double)first_ns / 1e9);
    }
    return 0;
}

typedef struct purchase_worker {
    net_bench_t *bench;
    uint32_t index;
    uint64_t first;
    uint64_t count;
    int error;
    uint64_t refused;
    uint64_t refunds;       /* refund requests sent */
    uint32_t refund_credit; /* permille carried to the next purchase */
} purchase_worker_t;

/* Refunds whole refund_permille in 1,000 of the `count` purchases just
 * sent (evenly spaced, carrying the fraction over to the next batch). */
static int purchase_worker_refunds(purchase_worker_t *worker, pipeline_t *pipeline,
                                   const Borsellino__V1__WelfarePurchaseRequest *purchases,
                                   uint32_t count) {
    uint32_t permille = worker->bench->options->refund_permille;
    for (uint32_t i = 0; i < count && permille > 0; i++) {
        worker->refund_credit += permille;
        if (worker->refund_credit < 1000) continue;
        worker->refund_credit -= 1000;
        Borsellino__V1__U128 id;
        convert_u128_to_proto(net_id(worker->bench, 8, worker->first + ++worker->refunds), &id);
        Borsellino__V1__WelfareRefundRequest refund = BORSELLINO__V1__WELFARE_REFUND_REQUEST__INIT;
        refund.id = &id;
        refund.purchase_id = purchases[i].id;
        refund.amount = purchases[i].amount;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_REFUND;
        request.welfare_refund = &refund;
        int error = pipeline_send(pipeline, &request);
        if (error) return error;
    }
    return 0;
}

static void *purchase_worker_run(void *argument) {
    purchase_worker_t *worker = argument;
    const welfare_bench_options_t *options = worker->bench->options;
    client_t *client = NULL;
    worker->error = net_connect(options, &client);
    if (worker->error) return NULL;
    /* A batch and the refunds that follow it count as one request of the
     * window, so refunds do not starve the purchases. */
    uint32_t refunds_per_batch =
        (uint32_t)(((uint64_t)options->batch * options->refund_permille + 999) / 1000);
    pipeline_t pipeline = {client, options->in_flight * (1 + refunds_per_batch), 0, 0};
    uint64_t state = 0x9E3779B97F4A7C15ull ^ (worker->index * 0xD1B54A32D192ED03ull);
    uint32_t batch = options->batch;
    Borsellino__V1__WelfarePurchaseRequest *purchases = calloc(batch, sizeof(*purchases));
    Borsellino__V1__WelfarePurchaseRequest **pointers = calloc(batch, sizeof(*pointers));
    Borsellino__V1__U128 *ids = calloc(3 * (size_t)batch, sizeof(*ids));
    if (purchases == NULL || pointers == NULL || ids == NULL) worker->error = CLIENT_ERR_NO_MEMORY;
    for (uint64_t n = 0; n < worker->count && !worker->error;) {
        uint32_t count = 0;
        for (; count < batch && n < worker->count; count++, n++) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            uint64_t random = state * 2685821657736338717ull;
            Borsellino__V1__WelfarePurchaseRequest *purchase = &purchases[count];
            Borsellino__V1__U128 *id = &ids[3 * count];
            borsellino__v1__welfare_purchase_request__init(purchase);
            for (int k = 0; k < 3; k++) borsellino__v1__u128__init(&id[k]);
            convert_u128_to_proto(net_id(worker->bench, 7, worker->first + n + 1), &id[0]);
            convert_u128_to_proto(net_id(worker->bench, 5, 1 + random % options->employees), &id[1]);
            convert_u128_to_proto(net_id(worker->bench, 2, 1 + (random >> 32) % NET_PROVIDERS), &id[2]);
            purchase->id = &id[0];
            purchase->employee_id = &id[1];
            purchase->provider_id = &id[2];
            purchase->category = (random >> 40) % 5 == 0 ? 9 : 7;
            purchase->amount = 1 + (random >> 48) % 100;
            pointers[count] = purchase;
        }
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        Borsellino__V1__WelfarePurchasesRequest many = BORSELLINO__V1__WELFARE_PURCHASES_REQUEST__INIT;
        if (batch == 1) {
            request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_PURCHASE;
            request.welfare_purchase = &purchases[0];
        } else {
            many.n_purchases = count;
            many.purchases = pointers;
            request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_PURCHASES;
            request.welfare_purchases = &many;
        }
        worker->error = pipeline_send(&pipeline, &request);
        if (!worker->error) worker->error = purchase_worker_refunds(worker, &pipeline, purchases, count);
    }
    free(purchases);
    free(pointers);
    free(ids);
    if (!worker->error) worker->error = pipeline_drain(&pipeline);
    worker->refused = pipeline.refused;
    client_close(client);
    return NULL;
}

static int net_purchases(net_bench_t *bench) {
    const welfare_bench_options_t *options = bench->options;
    uint32_t connections = options->connections;
    purchase_worker_t *workers = calloc(connections, sizeof(*workers));
    pthread_t *threads = calloc(connections, sizeof(*threads));
    if (workers == NULL || threads == NULL) return net_fail("out of memory", UINT32_MAX);
    uint64_t started = monotonic_ns();
    for (uint32_t i = 0; i < connections; i++) {
        uint64_t share = options->purchases / connections + (i < options->purchases % connections ? 1 : 0);
        workers[i] = (purchase_worker_t){bench, i, 0, share, 0, 0, 0, 0};
        workers[i].first = i == 0 ? 0 : workers[i - 1].first + workers[i - 1].count;
        pthread_create(&threads[i], NULL, purchase_worker_run, &workers[i]);
    }
    uint64_t refused = 0;
    uint64_t refunds = 0;
    int error = 0;
    for (uint32_t i = 0; i < connections; i++) {
        pthread_join(threads[i], NULL);
        refused += workers[i].refused;
        refunds += workers[i].refunds;
        if (workers[i].error) error = workers[i].error;
    }
    double seconds = (double)(monotonic_ns() - started) / 1e9;
    free(workers);
    free(threads);
    if (error) {
        fprintf(stderr, "borsellino bench-welfare: purchases: %s\n", client_strerror(error));
        return 1;
    }
    if (options->json) {
        printf("{\"stage\": \"purchases\", \"purchases\": %" PRIu64 ", \"refunds\": %" PRIu64
               ", \"seconds\": %.3f, \"per_second\": %.0f, \"connections\": %u, "
               "\"in_flight\": %u, \"batch\": %u, \"refused\": %" PRIu64 "}\n",
               options->purchases, refunds, seconds, (double)options->purchases / seconds,
               connections, options->in_flight, options->batch, refused);
    } else {
        printf("purchases over the protocol: %" PRIu64 " in %.2f s = %.0f purchases/s durable "
               "(%u connections, %u requests in flight each, %u purchases per request; %" PRIu64
               " refunds; %" PRIu64 " refused)\n", options->purchases, seconds,
               (double)options->purchases / seconds, connections, options->in_flight,
               options->batch, refunds, refused);
    }
    return refused == 0 ? 0 : 1;
}

int bench_welfare_net(const welfare_bench_options_t *options) {
    net_bench_t bench = {options, (uint64_t)time(NULL) & 0xFFFFFFFFFFFFull, 0};
    client_t *client = NULL;
    int error = net_connect(options, &client);
    if (error) {
        fprintf(stderr, "borsellino bench-welfare: %s\n", client_last_error_message(NULL));
        return 1;
    }
    if (!options->json) {
        printf("bench-welfare over the protocol at %s: %" PRIu64 " employees, %" PRIu64
               " purchases\n", options->address, options->employees, options->purchases);
    }
    uint64_t started = monotonic_ns();
    int status = net_setup_registry(&bench, client);
    if (!status) status = net_setup_employees(&bench, client);
    double setup_s = (double)(monotonic_ns() - started) / 1e9;
    if (!status && options->json) {
        printf("{\"stage\": \"setup\", \"providers\": %d, \"employees\": %" PRIu64
               ", \"seconds\": %.3f}\n", NET_PROVIDERS, options->employees, setup_s);
    } else if (!status) {
        printf("setup: company, %d providers, %" PRIu64 " employees, plan in %.1f s\n",
               NET_PROVIDERS, options->employees, setup_s);
    }
    if (!status) status = net_grant(&bench, client);
    client_close(client);
    if (!status) status = net_purchases(&bench);
    return status;
}
