/*
 * bench.h — what the two halves of `borsellino bench` share: bench.c (the
 * command: options, accounts, threads, verification, report) and
 * bench_worker.c (one connection's load loop).
 *
 * Invariants:
 *  - each worker thread owns one client_t and at most in_flight requests
 *    on it; nothing else touches that connection while the run lasts;
 *  - a transfer counts in the expected balances only once the server
 *    answered OK for it, and a pending transfer is posted only after its
 *    creation was answered OK, by the worker that created it; so when
 *    every worker has drained its connection, the expected balances are
 *    exactly what the server must hold for the benchmark's accounts;
 *  - expected balances are shared across workers as atomic counters
 *    (relaxed: they are only read after every worker thread was joined).
 */
#ifndef BORSELLINO_TOOLS_BENCH_H
#define BORSELLINO_TOOLS_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

enum {
    BENCH_CONNECTIONS_MAX = 1024,
    BENCH_IDLE_CONNECTIONS_MAX = 10000,
    BENCH_IN_FLIGHT_MAX = 64,
    BENCH_ACCOUNTS_MAX = 10000000,
    /* Amounts are drawn from 1..BENCH_AMOUNT_MAX minor units. */
    BENCH_AMOUNT_MAX = 1000,
    BENCH_CODE = 1,
    BENCH_MESSAGE_SIZE = 256,
};

typedef struct bench_config {
    cli_net_options_t net;
    uint32_t connections;
    uint32_t batch;     /* transfers per request */
    uint32_t in_flight; /* requests in flight per connection */
    uint64_t accounts;
    uint64_t transfers;    /* total to send; 0 when running for a duration */
    double duration_s;     /* 0 when sending a number of transfers */
    double hot_share;      /* share of transfers touching account 0 */
    double pending_share;  /* share of new transfers created pending */
    bool random_ids;
    uint32_t ledger;
    uint64_t seed;
    bool verify;
    uint32_t idle_connections; /* held open, silent, during the run */
    uint64_t rate_per_second;  /* transfers/s over all connections; 0 = as fast as possible */
} bench_config_t;

/* Expected balances of one account: what the server acknowledged. */
typedef struct bench_expected {
    _Atomic uint64_t debits_pending;
    _Atomic uint64_t debits_posted;
    _Atomic uint64_t credits_pending;
    _Atomic uint64_t credits_posted;
} bench_expected_t;

typedef struct bench_shared {
    const bench_config_t *config;
    const ledger_u128_t *account_ids; /* [config->accounts] */
    bench_expected_t *expected;       /* [config->accounts] */
    atomic_bool stop;                 /* set by the main thread (--duration) */
    _Atomic uint64_t transfers_done;  /* answered, for the progress line */
    _Atomic uint64_t errors;
} bench_shared_t;

typedef struct bench_worker {
    bench_shared_t *shared;
    client_t *client;
    uint32_t index;
    uint64_t transfers_target; /* 0 = until shared->stop */
    uint64_t random_state;
    /* Results, read by the main thread after join. */
    uint64_t transfers_sent;
    uint64_t transfers_answered;
    uint64_t requests;
    uint64_t *latencies_ns; /* one per request, malloc'd */
    uint64_t latencies_count;
    uint64_t latencies_capacity;
    uint64_t finished_ns; /* bench_now_ns() when its last answer came */
    int error; /* 0, or a CLIENT_ERR_* / status that stopped the worker */
    char message[BENCH_MESSAGE_SIZE];
} bench_worker_t;

/* The worker thread's body: sends transfers on worker->client until its
 * target or shared->stop, then drains what is in flight. */
void *bench_worker_run(void *worker);

/* xorshift64*: fast, deterministic, good enough to pick accounts. */
uint64_t bench_random(uint64_t *state);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

#endif
