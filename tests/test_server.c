/*
 * test_server.c — borsellinod under good and hostile clients.
 *
 * Every case starts its own borsellinod (the path comes from $BORSELLINOD,
 * set by meson) on an ephemeral loopback port with its own data directory,
 * talks to it over TCP through the independent client of server_fixture.h,
 * and ends it with SIGTERM, asserting exit status 0 (SIGKILL only where a
 * case simulates a crash).
 *
 * Cases:
 *   operations            every operation, every value of the answers checked;
 *   pipelining*           1,000 requests sent before any response is read;
 *                         then 4 clients with 3 in flight and a queue of 2;
 *   concurrent_clients    16 threads, each with its own accounts;
 *   restart_after_*       SIGKILL / SIGTERM in the middle of a client session:
 *                         acknowledged batches survive, a resent batch
 *                         answers `exists`, nothing moves twice;
 *   hostile_*             one attack each (truncated frames, oversized length,
 *                         garbage, no operation, batch limits, bad values,
 *                         connection flood, idle connections, abandoned
 *                         requests, a client that never reads), while a
 *                         "watcher" thread keeps a well-behaved session
 *                         going: it must get correct answers before, during
 *                         and after the attack, each within its bound;
 *   limits_at_bounds      8,190 events / ids / history entries accepted,
 *                         one more refused, responses above 1 MiB;
 *   sigterm_*             SIGTERM with requests in flight (every answered
 *                         write durable, every other one absent), and with a
 *                         client that does not read (the stop must end).
 *
 * Bounds: every wait has a deadline and every loop a count, so a hung server
 * fails a case instead of hanging the program. The whole program takes a
 * few seconds in an optimized build, and --seed N only changes the random
 * garbage bodies.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <stdatomic.h>

#include "welfare.h"
#include "server_fixture.h"

/* The well-behaved client that runs during every attack. */
enum {
    /* The bound on every one of its requests' latency. */
    WATCHER_LATENCY_MAX_MS = 1000,
    /* Requests it must complete before an attack, during the moments the
     * attack holds hostile state open, and after it. */
    WATCHER_PROGRESS_REQUESTS = 10,
    /* Hard bounds on its loop, whatever the main thread does. */
    WATCHER_REQUESTS_MAX = 1000000,
    WATCHER_DURATION_MAX_MS = 120000,
    /* Every fourth request is a lookup checking the balance. */
    WATCHER_LOOKUP_EVERY = 4,
};

/* The watcher's accounts and transfers live far above every case's ids. */
#define WATCHER_ID_BASE (UINT64_C(1) << 40)

/* ------------------------------------------------------------------------ */
/* The watcher: a well-behaved client running during attacks                */

typedef struct watcher {
    uint16_t port;
    failures_t failures;
    atomic_bool stop;
    _Atomic uint64_t requests; /* answered correctly so far */
    uint64_t latency_bound_us; /* each request must be answered within it */
    uint64_t latency_max_us;   /* read by the main thread after the join */
    pthread_t thread;
} watcher_t;

/* One single-phase transfer of 1 between its two accounts. */
static bool watcher_transfer(watcher_t *watcher, conn_t *conn, uint64_t number) {
    ledger_transfer_t transfer = transfer_make(
        WATCHER_ID_BASE + number, WATCHER_ID_BASE + 1, WATCHER_ID_BASE + 2, 1);
    return create_transfers_ok(conn, &transfer, 1, NULL, &watcher->failures);
}

/* Its debit account must show exactly `posted` transfers. */
static bool watcher_lookup(watcher_t *watcher, conn_t *conn, uint64_t posted) {
    ledger_balance_t balance;
    if (!account_balance(conn, WATCHER_ID_BASE + 1, &balance, &watcher->failures)) {
        return false;
    }
    ledger_balance_t expected = {0, posted, 0, 0};
    return balance_check("watcher account", balance, expected, &watcher->failures);
}

static void *watcher_run(void *argument) {
    watcher_t *watcher = argument;
    conn_t conn;
    if (!conn_open(&conn, watcher->port, &watcher->failures)) return NULL;
    bool ok = create_accounts_range(&conn, WATCHER_ID_BASE + 1, 2,
                                    &watcher->failures);
    uint64_t posted = 0;
    uint64_t deadline = now_us() + WATCHER_DURATION_MAX_MS * UINT64_C(1000);
    for (uint64_t i = 1; ok && i <= WATCHER_REQUESTS_MAX; i++) {
        if (atomic_load(&watcher->stop) || now_us() >= deadline) break;
        uint64_t start = now_us();
        if (i % WATCHER_LOOKUP_EVERY == 0) {
            ok = watcher_lookup(watcher, &conn, posted);
        } else {
            ok = watcher_transfer(watcher, &conn, 1000 + i);
            posted += ok ? 1 : 0;
        }
        uint64_t latency = now_us() - start;
        if (latency > watcher->latency_max_us) watcher->latency_max_us = latency;
        if (latency > watcher->latency_bound_us) {
            FAIL(&watcher->failures, "request %" PRIu64 " took %" PRIu64 " ms", i,
                 latency / 1000);
        }
        if (ok) atomic_fetch_add(&watcher->requests, 1);
    }
    if (ok) watcher_lookup(watcher, &conn, posted);
    conn_close(&conn);
    return NULL;
}

static void watcher_start(watcher_t *watcher, uint16_t port,
                          uint32_t latency_bound_ms) {
    memset(watcher, 0, sizeof *watcher);
    watcher->port = port;
    watcher->latency_bound_us = latency_bound_ms * UINT64_C(1000);
    watcher->failures.who = "watcher";
    atomic_init(&watcher->stop, false);
    atomic_init(&watcher->requests, 0);
    TEST_REQUIRE(pthread_create(&watcher->thread, NULL, watcher_run, watcher) == 0);
}

/* Waits until the watcher has completed `count` more requests. */
static bool watcher_progress(watcher_t *watcher, uint64_t count) {
    uint64_t target = atomic_load(&watcher->requests) + count;
    uint64_t deadline = now_us() + RESPONSE_TIMEOUT_MS * UINT64_C(1000);
    while (atomic_load(&watcher->requests) < target && now_us() < deadline &&
           atomic_load(&watcher->failures.count) == 0) {
        sleep_ms(1);
    }
    bool progressed = atomic_load(&watcher->requests) >= target;
    if (!progressed) printf("# the watcher was not served\n");
    TEST_CHECK(progressed);
    return progressed;
}

static void watcher_finish(watcher_t *watcher) {
    atomic_store(&watcher->stop, true);
    TEST_CHECK_EQ(pthread_join(watcher->thread, NULL), 0);
    printf("# watcher: %" PRIu64 " requests, max latency %.1f ms\n",
           atomic_load(&watcher->requests), watcher->latency_max_us / 1000.0);
    TEST_CHECK(watcher->latency_max_us <= watcher->latency_bound_us);
    failures_collect(&watcher->failures);
}

/*
 * Runs one attack against a fresh server (started with `extra_args`) while
 * the watcher keeps being served: it must make progress before, during
 * (the attack calls watcher_progress while it holds hostile state open)
 * and after the attack, and the server must still stop cleanly.
 */
static void hostile_run_bounded(const char *prefix, const char *const *extra_args,
                                void (*attack)(server_t *, watcher_t *),
                                uint32_t latency_bound_ms) {
    server_t server;
    server_init(&server, prefix, extra_args);
    if (server_start(&server)) {
        watcher_t watcher;
        watcher_start(&watcher, server.port, latency_bound_ms);
        watcher_progress(&watcher, WATCHER_PROGRESS_REQUESTS);
        attack(&server, &watcher);
        watcher_progress(&watcher, WATCHER_PROGRESS_REQUESTS);
        watcher_finish(&watcher);
        server_stop(&server);
    }
    server_destroy(&server);
}

static void hostile_run(const char *prefix, const char *const *extra_args,
                        void (*attack)(server_t *, watcher_t *)) {
    hostile_run_bounded(prefix, extra_args, attack, WATCHER_LATENCY_MAX_MS);
}

/* ------------------------------------------------------------------------ */
/* Case: every operation through the protocol                               */

/* Ids of the operations case: accounts {7, n}, transfers {9, n}. */
static ledger_u128_t ops_account(uint64_t n) {
    ledger_u128_t id = {7, n};
    return id;
}

static ledger_u128_t ops_transfer(uint64_t n) {
    ledger_u128_t id = {9, n};
    return id;
}

static ledger_transfer_t ops_transfer_make(uint64_t n, uint64_t debit,
                                           uint64_t credit, uint64_t amount,
                                           uint16_t flags) {
    ledger_transfer_t transfer = transfer_make(0, 0, 0, amount);
    transfer.id = ops_transfer(n);
    transfer.debit_account_id = ops_account(debit);
    transfer.credit_account_id = ops_account(credit);
    transfer.flags = flags;
    return transfer;
}

/* A: linked to B, history flag, every user data; B plain; C with
 * debits_must_not_exceed_credits; D invalid (ledger 0). */
static void ops_accounts(conn_t *conn, uint64_t *timestamps) {
    ledger_account_t accounts[4];
    for (uint64_t i = 0; i < 4; i++) {
        accounts[i] = account_make(0, LEDGER_ID, 0);
        accounts[i].id = ops_account(i + 1);
        accounts[i].code = (uint16_t)(10 + i);
    }
    accounts[0].flags = LEDGER_ACCOUNT_LINKED | LEDGER_ACCOUNT_HISTORY;
    accounts[0].user_data_128 = (ledger_u128_t){1, 2};
    accounts[0].user_data_64 = 3;
    accounts[0].user_data_32 = 4;
    accounts[2].flags = LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
    accounts[3].ledger = 0;
    uint32_t codes[4];
    TEST_REQUIRE(create_accounts_call(conn, accounts, 4, codes, timestamps,
                                      &case_failures));
    TEST_CHECK_EQ(codes[0], LEDGER_RESULT_OK);
    TEST_CHECK_EQ(codes[1], LEDGER_RESULT_OK);
    TEST_CHECK_EQ(codes[2], LEDGER_RESULT_OK);
    TEST_CHECK_EQ(codes[3], LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO);
    TEST_CHECK(timestamps[0] > 0 && timestamps[1] > timestamps[0]);
    TEST_CHECK(timestamps[2] > timestamps[1]);
    TEST_CHECK_EQ(timestamps[3], 0);
    /* The same account again: exists, with the stored timestamp. */
    uint64_t again = 0;
    TEST_CHECK(create_accounts_call(conn, &accounts[1], 1, codes, &again,
                                    &case_failures));
    TEST_CHECK_EQ(codes[0], LEDGER_RESULT_EXISTS);
    TEST_CHECK_EQ(again, timestamps[1]);
    /* Lookup: found ones in request order, missing ids skipped, the
     * linked flag not stored. */
    ledger_u128_t ids[3] = {ops_account(1), ops_account(4), ops_account(2)};
    ledger_account_t found[3];
    uint32_t found_count = 0;
    TEST_CHECK(lookup_accounts_call(conn, ids, 3, found, &found_count,
                                    &case_failures));
    TEST_CHECK_EQ(found_count, 2);
    accounts[0].flags = LEDGER_ACCOUNT_HISTORY;
    accounts[0].timestamp = timestamps[0];
    accounts[1].timestamp = timestamps[1];
    account_check("A", &found[0], &accounts[0], &case_failures);
    account_check("B", &found[1], &accounts[1], &case_failures);
}

/* Transfer results the operations case expects from its two batches. */
static const uint32_t ops_batch1_codes[8] = {
    LEDGER_RESULT_OK, LEDGER_RESULT_OK, LEDGER_RESULT_OK, LEDGER_RESULT_OK,
    LEDGER_RESULT_LINKED_EVENT_FAILED, LEDGER_RESULT_EXCEEDS_CREDITS,
    LEDGER_RESULT_OK, LEDGER_RESULT_OK};
static const uint32_t ops_batch2_codes[3] = {
    LEDGER_RESULT_OK, LEDGER_RESULT_OK,
    LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED};

/*
 * Batch 1: t1 A→B 100 with user data; t2..t4 a linked chain (A→B 10,
 * B→A 5, A→B 1); t5..t6 a chain failing on t6 (C may not go negative);
 * t7 pending A→B 50 (timeout 1 h), t8 pending A→B 30.
 * Batch 2: t9 posts 20 of t7, t10 voids t8, t11 posts t7 again.
 * timestamps[n] gets t<n>'s timestamp.
 */
static void ops_transfers(conn_t *conn, ledger_transfer_t *t, uint64_t *timestamps) {
    t[1] = ops_transfer_make(1, 1, 2, 100, 0);
    t[1].user_data_128 = (ledger_u128_t){5, 6};
    t[1].user_data_64 = 7;
    t[1].user_data_32 = 8;
    t[1].code = 20;
    t[2] = ops_transfer_make(2, 1, 2, 10, LEDGER_TRANSFER_LINKED);
    t[3] = ops_transfer_make(3, 2, 1, 5, LEDGER_TRANSFER_LINKED);
    t[4] = ops_transfer_make(4, 1, 2, 1, 0);
    t[5] = ops_transfer_make(5, 1, 2, 7, LEDGER_TRANSFER_LINKED);
    t[6] = ops_transfer_make(6, 3, 1, 1, 0);
    t[7] = ops_transfer_make(7, 1, 2, 50, LEDGER_TRANSFER_PENDING);
    t[7].timeout = 3600;
    t[8] = ops_transfer_make(8, 1, 2, 30, LEDGER_TRANSFER_PENDING);
    uint32_t codes[8];
    TEST_REQUIRE(create_transfers_call(conn, &t[1], 8, codes, &timestamps[1],
                                       &case_failures));
    for (int i = 0; i < 8; i++) TEST_CHECK_EQ(codes[i], ops_batch1_codes[i]);
    t[9] = post_make(0, 0, 20);
    t[9].id = ops_transfer(9);
    t[9].pending_id = ops_transfer(7);
    t[10] = void_make(0, 0);
    t[10].id = ops_transfer(10);
    t[10].pending_id = ops_transfer(8);
    t[11] = t[9];
    t[11].id = ops_transfer(11);
    TEST_REQUIRE(create_transfers_call(conn, &t[9], 3, codes, &timestamps[9],
                                       &case_failures));
    for (int i = 0; i < 3; i++) TEST_CHECK_EQ(codes[i], ops_batch2_codes[i]);
    for (int n = 2; n <= 10; n++) {
        if (n == 5 || n == 6) continue;
        TEST_CHECK(timestamps[n] > timestamps[n == 7 ? 4 : n - 1]);
    }
    /* Resubmitted: exists with the stored timestamp; changed: refused. */
    uint64_t again = 0;
    TEST_CHECK(create_transfers_call(conn, &t[1], 1, codes, &again, &case_failures));
    TEST_CHECK_EQ(codes[0], LEDGER_RESULT_EXISTS);
    TEST_CHECK_EQ(again, timestamps[1]);
    ledger_transfer_t changed = t[1];
    changed.amount = 101;
    TEST_CHECK(create_transfers_call(conn, &changed, 1, codes, &again, &case_failures));
    TEST_CHECK_EQ(codes[0], LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT);
}

/* Lookups of transfers: stored values, post/void as the engine stores them. */
static void ops_lookup_transfers(conn_t *conn, const ledger_transfer_t *t,
                                 const uint64_t *timestamps) {
    ledger_u128_t ids[5] = {ops_transfer(1), ops_transfer(5), ops_transfer(9),
                            ops_transfer(10), ops_transfer(7)};
    ledger_transfer_t found[5];
    uint32_t count = 0;
    TEST_CHECK(lookup_transfers_call(conn, ids, 5, found, &count, &case_failures));
    TEST_REQUIRE(count == 4);
    ledger_transfer_t expected = t[1];
    expected.timestamp = timestamps[1];
    transfer_check("t1", &found[0], &expected, &case_failures);
    /* The post takes accounts, ledger and code from t7; carries 20. */
    expected = t[7];
    expected.id = ops_transfer(9);
    expected.pending_id = ops_transfer(7);
    expected.amount = 20;
    expected.flags = LEDGER_TRANSFER_POST_PENDING;
    expected.timeout = 0;
    expected.timestamp = timestamps[9];
    transfer_check("t9", &found[1], &expected, &case_failures);
    /* The void carries the amount it released. */
    expected = t[8];
    expected.id = ops_transfer(10);
    expected.pending_id = ops_transfer(8);
    expected.flags = LEDGER_TRANSFER_VOID_PENDING;
    expected.timestamp = timestamps[10];
    transfer_check("t10", &found[2], &expected, &case_failures);
    expected = t[7];
    expected.timestamp = timestamps[7];
    transfer_check("t7", &found[3], &expected, &case_failures);
}

/* A after everything: debits 100+10+1+20 posted, credits 5. */
static const ledger_balance_t ops_balance_a = {0, 131, 0, 5};
static const ledger_balance_t ops_balance_b = {0, 5, 0, 131};

static void ops_lookup_accounts(conn_t *conn) {
    ledger_u128_t ids[3] = {ops_account(1), ops_account(2), ops_account(3)};
    ledger_account_t found[3];
    uint32_t count = 0;
    TEST_CHECK(lookup_accounts_call(conn, ids, 3, found, &count, &case_failures));
    TEST_REQUIRE(count == 3);
    balance_check("A", balance_of_account(&found[0]), ops_balance_a, &case_failures);
    balance_check("B", balance_of_account(&found[1]), ops_balance_b, &case_failures);
    ledger_balance_t zero = {0, 0, 0, 0};
    balance_check("C", balance_of_account(&found[2]), zero, &case_failures);
}

/* History of A within [timestamp_min, timestamp_max]: the response when
 * `status` is OK and came, else NULL. */
static response_t *ops_history_range(conn_t *conn, uint32_t flags, uint32_t limit,
                                     uint64_t timestamp_min, uint64_t timestamp_max,
                                     Borsellino__V1__Status status) {
    ledger_history_filter_t filter = {ops_account(1), timestamp_min, timestamp_max,
                                      limit, flags};
    uint64_t request_id = ++conn->request_id_last;
    response_t *response =
        exchange(conn, request_id, request_history(request_id, &filter),
                 &case_failures);
    if (!response_expect(response, status,
                         BORSELLINO__V1__RESPONSE__RESULT_ACCOUNT_HISTORY,
                         &case_failures) ||
        status != BORSELLINO__V1__STATUS__STATUS_OK) {
        if (response != NULL) frame_response_free(response);
        return NULL;
    }
    return response;
}

static response_t *ops_history(conn_t *conn, uint32_t flags, uint32_t limit,
                               Borsellino__V1__Status status) {
    return ops_history_range(conn, flags, limit, 0, 0, status);
}

/* Paging as docs/protocol.md describes it: after t4, then before t9. */
static void ops_history_paging(conn_t *conn, const uint64_t *timestamps) {
    response_t *response = ops_history_range(conn, 3, 100, timestamps[4] + 1, 0,
                                             BORSELLINO__V1__STATUS__STATUS_OK);
    if (response != NULL) {
        TEST_CHECK_EQ(response->account_history->n_entries, 4);
        if (response->account_history->n_entries == 4) {
            TEST_CHECK_EQ(response->account_history->entries[0]->transfer->timestamp,
                          timestamps[7]);
        }
        frame_response_free(response);
    }
    response = ops_history_range(conn, 3 | 4, 100, timestamps[2], timestamps[9] - 1,
                                 BORSELLINO__V1__STATUS__STATUS_OK);
    if (response != NULL) {
        TEST_CHECK_EQ(response->account_history->n_entries, 5); /* t8..t2 */
        if (response->account_history->n_entries == 5) {
            TEST_CHECK_EQ(response->account_history->entries[0]->transfer->timestamp,
                          timestamps[8]);
        }
        frame_response_free(response);
    }
    ops_history_range(conn, 3, 100, timestamps[9], timestamps[2],
                      BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
    ops_history(conn, 3 | 8, 10, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
}

static void ops_account_history(conn_t *conn, const uint64_t *timestamps) {
    /* Every event that moved A, oldest first: t1..t4, t7..t10. */
    static const int moved[8] = {1, 2, 3, 4, 7, 8, 9, 10};
    response_t *response = ops_history(conn, 3, 100, BORSELLINO__V1__STATUS__STATUS_OK);
    if (response != NULL) {
        Borsellino__V1__AccountHistoryResponse *history = response->account_history;
        TEST_REQUIRE(history->n_entries == 8);
        for (int i = 0; i < 8; i++) {
            ledger_transfer_t transfer;
            transfer_from_message(history->entries[i]->transfer, &transfer);
            TEST_CHECK_EQ(history->entries[i]->kind,
                          BORSELLINO__V1__EVENT_KIND__EVENT_TRANSFER);
            TEST_CHECK(ledger_u128_equal(transfer.id, ops_transfer((uint64_t)moved[i])));
            TEST_CHECK_EQ(transfer.timestamp, timestamps[moved[i]]);
        }
        ledger_balance_t after_t1 = {0, 100, 0, 0};
        ledger_balance_t after_t8 = {80, 111, 0, 5};
        balance_check("A after t1",
                      balance_from_message(history->entries[0]->balance_after),
                      after_t1, &case_failures);
        balance_check("A after t8",
                      balance_from_message(history->entries[5]->balance_after),
                      after_t8, &case_failures);
        balance_check("A after t10",
                      balance_from_message(history->entries[7]->balance_after),
                      ops_balance_a, &case_failures);
        frame_response_free(response);
    }
    /* Newest first, two entries: t10, t9. Debits only: all but t3. */
    response = ops_history(conn, 1 | 2 | 4, 2, BORSELLINO__V1__STATUS__STATUS_OK);
    if (response != NULL) {
        TEST_REQUIRE(response->account_history->n_entries == 2);
        TEST_CHECK_EQ(u128_from_message(response->account_history->entries[0]
                                            ->transfer->id).lo, 10);
        TEST_CHECK_EQ(u128_from_message(response->account_history->entries[1]
                                            ->transfer->id).lo, 9);
        frame_response_free(response);
    }
    response = ops_history(conn, 1, 100, BORSELLINO__V1__STATUS__STATUS_OK);
    if (response != NULL) {
        TEST_CHECK_EQ(response->account_history->n_entries, 7);
        frame_response_free(response);
    }
    ops_history_paging(conn, timestamps);
    ops_history(conn, 3, 0, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
    ops_history(conn, 0, 10, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
    ops_history(conn, 3, LEDGER_HISTORY_LIMIT_MAX + 1,
                BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
    ledger_history_filter_t missing = {ops_account(99), 0, 0, 10, 3};
    uint64_t request_id = ++conn->request_id_last;
    expect_status(conn, request_id, request_history(request_id, &missing),
                  BORSELLINO__V1__STATUS__STATUS_ACCOUNT_NOT_FOUND, &case_failures);
}

/* A's balance right after the event with `timestamp`. */
static void ops_balance_at_one(conn_t *conn, uint64_t timestamp,
                               ledger_balance_t expected, const char *what) {
    uint64_t request_id = ++conn->request_id_last;
    response_t *response = exchange(
        conn, request_id, request_balance_at(request_id, ops_account(1), timestamp),
        &case_failures);
    if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_BALANCE_AT,
                        &case_failures)) {
        balance_check(what, balance_from_message(response->balance_at->balance),
                      expected, &case_failures);
    }
    if (response != NULL) frame_response_free(response);
}

static void ops_balance_at(conn_t *conn, const uint64_t *timestamps) {
    ledger_balance_t zero = {0, 0, 0, 0};
    ledger_balance_t after_t1 = {0, 100, 0, 0};
    ledger_balance_t after_t8 = {80, 111, 0, 5};
    ops_balance_at_one(conn, timestamps[1] - 1, zero, "A before t1");
    ops_balance_at_one(conn, timestamps[1], after_t1, "A at t1");
    ops_balance_at_one(conn, timestamps[8], after_t8, "A at t8");
    ops_balance_at_one(conn, timestamps[10], ops_balance_a, "A at t10");
    ops_balance_at_one(conn, UINT64_MAX, ops_balance_a, "A now");
    uint64_t request_id = ++conn->request_id_last;
    expect_status(conn, request_id,
                  request_balance_at(request_id, ops_account(99), timestamps[1]),
                  BORSELLINO__V1__STATUS__STATUS_ACCOUNT_NOT_FOUND, &case_failures);
}

static void ops_status(conn_t *conn, const uint64_t *timestamps) {
    response_t *response = status_call(conn, &case_failures);
    if (response == NULL) return;
    Borsellino__V1__StatusResponse *status = response->status_result;
    TEST_CHECK(status->version != NULL && status->version[0] != '\0');
    /* 3 accounts of this case, and the welfare platform's. */
    TEST_CHECK_EQ(status->accounts_count, 3 + WELFARE_PLATFORM_ACCOUNTS);
    TEST_CHECK_EQ(status->pending_count, 0);
    TEST_CHECK(status->journal_sequence >= 3 + 9);
    TEST_CHECK(status->last_timestamp >= timestamps[10]);
    TEST_CHECK(status->connections >= 1);
    TEST_CHECK_EQ(status->batch_events_max, LEDGER_BATCH_EVENTS_MAX);
    TEST_CHECK_EQ(status->frame_size_max, FRAME_BODY_SIZE_MAX_DEFAULT);
    TEST_CHECK(status->map_size > 0 && status->map_used <= status->map_size);
    TEST_CHECK_EQ(status->chain_head.len, 32);
    frame_response_free(response);
}

static void test_operations(void) {
    server_t server;
    server_init(&server, "server-ops", NULL);
    conn_t conn;
    if (server_start(&server) && conn_open(&conn, server.port, &case_failures)) {
        uint64_t account_timestamps[4];
        ledger_transfer_t transfers[12];
        uint64_t timestamps[12] = {0};
        ops_accounts(&conn, account_timestamps);
        ops_transfers(&conn, transfers, timestamps);
        ops_lookup_transfers(&conn, transfers, timestamps);
        ops_lookup_accounts(&conn);
        ops_account_history(&conn, timestamps);
        ops_balance_at(&conn, timestamps);
        ops_status(&conn, timestamps);
        conn_close(&conn);
        server_stop(&server);
    }
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */
/* Case: pipelining                                                         */

enum {
    PIPELINE_REQUESTS = 1000,
    /* The stream is cut into sends of 1..PIPELINE_CHUNK_MAX bytes, so that
     * frames straddle reads on the server. */
    PIPELINE_CHUNK_MAX = 1500,
    PIPELINE_REQUEST_ID_FIRST = 5000,
    /* The small-limits variant: clients, requests each, and the limits. */
    PIPELINE_SMALL_CLIENTS = 4,
    PIPELINE_SMALL_REQUESTS = 300,
};

/* One pipelining session: `requests` requests, all sent before any
 * response is read, on accounts account_first (debited) and +1. */
typedef struct pipeline {
    uint16_t port;
    uint64_t account_first;
    uint64_t transfer_first;
    uint32_t requests;
    failures_t failures;
    char name[32];
    pthread_t thread;
} pipeline_t;

/* Even requests create one transfer of amount i+1; odd ones look up the
 * debit account, which must show every transfer requested before it
 * (responses come in request order, and reads see acknowledged writes). */
static wire_t pipeline_request(const pipeline_t *p, uint32_t i) {
    uint64_t request_id = PIPELINE_REQUEST_ID_FIRST + i;
    if (i % 2 == 0) {
        ledger_transfer_t transfer = transfer_make(
            p->transfer_first + i, p->account_first, p->account_first + 1, i + 1);
        return request_create_transfers(request_id, &transfer, 1);
    }
    ledger_u128_t id = id128(p->account_first);
    return request_lookup(request_id, false, &id, 1);
}

/* All requests, concatenated, then sent in uneven chunks. */
static bool pipeline_send_all(pipeline_t *p, conn_t *conn) {
    size_t size = 0;
    size_t capacity = 64 * 1024;
    uint8_t *stream = xcalloc(capacity, 1);
    for (uint32_t i = 0; i < p->requests; i++) {
        wire_t wire = pipeline_request(p, i);
        while (size + wire.size > capacity) {
            uint8_t *bigger = xcalloc(capacity * 2, 1);
            memcpy(bigger, stream, size);
            free(stream);
            stream = bigger;
            capacity *= 2;
        }
        memcpy(stream + size, wire.bytes, wire.size);
        size += wire.size;
        free(wire.bytes);
    }
    size_t sent = 0;
    int error = 0;
    for (uint32_t chunk = 0; sent < size && error == 0; chunk++) {
        size_t length = 1 + (chunk * 7919u) % PIPELINE_CHUNK_MAX;
        if (length > size - sent) length = size - sent;
        error = conn_send(conn, stream + sent, length);
        sent += length;
    }
    free(stream);
    if (error != 0) FAIL(&p->failures, "send: %s", strerror(error));
    return error == 0;
}

/* Checks the answer to request i; `posted` is the sum of the amounts of
 * the transfers requested before it. */
static bool pipeline_check(pipeline_t *p, const response_t *response, uint32_t i,
                           uint64_t posted) {
    if (i % 2 == 0) {
        uint32_t code = LEDGER_RESULT_CODE_COUNT;
        return response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                                BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS,
                                &p->failures) &&
               event_results_copy(response->create_transfers->results,
                                  response->create_transfers->n_results, 1, &code,
                                  NULL, &p->failures) &&
               codes_all(&code, 1, LEDGER_RESULT_OK, "pipelined transfer",
                         &p->failures);
    }
    if (!response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                         BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_ACCOUNTS,
                         &p->failures)) {
        return false;
    }
    if (response->lookup_accounts->n_accounts != 1) {
        FAIL(&p->failures, "lookup %u: %zu accounts", i,
             response->lookup_accounts->n_accounts);
        return false;
    }
    uint64_t actual = response->lookup_accounts->accounts[0]->debits_posted;
    if (actual != posted) {
        FAIL(&p->failures, "lookup %u: debits_posted %" PRIu64 ", expected %" PRIu64,
             i, actual, posted);
        return false;
    }
    return true;
}

/* Sends everything, then reads every answer in order; returns how many
 * were right. */
static uint32_t pipeline_session(pipeline_t *p, conn_t *conn) {
    if (!create_accounts_range(conn, p->account_first, 2, &p->failures) ||
        !pipeline_send_all(p, conn)) {
        return 0;
    }
    uint64_t posted = 0;
    uint32_t answered = 0;
    for (uint32_t i = 0; i < p->requests; i++) {
        response_t *response =
            response_receive(conn, PIPELINE_REQUEST_ID_FIRST + i, &p->failures);
        if (response == NULL) break;
        bool ok = pipeline_check(p, response, i, posted);
        frame_response_free(response);
        if (!ok) break;
        if (i % 2 == 0) posted += i + 1;
        answered++;
    }
    ledger_balance_t balance, expected = {0, 0, 0, posted};
    if (account_balance(conn, p->account_first + 1, &balance, &p->failures)) {
        balance_check(p->name, balance, expected, &p->failures);
    }
    return answered;
}

static void *pipeline_run(void *argument) {
    pipeline_t *p = argument;
    conn_t conn;
    if (!conn_open(&conn, p->port, &p->failures)) return NULL;
    uint32_t answered = pipeline_session(p, &conn);
    if (answered != p->requests) {
        FAIL(&p->failures, "%u of %u requests answered", answered, p->requests);
    }
    conn_close(&conn);
    return NULL;
}

static void pipeline_init(pipeline_t *p, uint16_t port, uint32_t index,
                          uint32_t requests) {
    memset(p, 0, sizeof *p);
    p->port = port;
    p->account_first = 1 + 10u * index;
    p->transfer_first = 100000 + 10000u * index;
    p->requests = requests;
    snprintf(p->name, sizeof p->name, "pipeline %u", index);
    p->failures.who = p->name;
}

/* 1,000 requests (more than --in-flight-max) before reading anything. */
static void test_pipelining(void) {
    server_t server;
    server_init(&server, "server-pipeline", NULL);
    if (server_start(&server)) {
        pipeline_t p;
        pipeline_init(&p, server.port, 0, PIPELINE_REQUESTS);
        uint64_t start = now_us();
        pipeline_run(&p);
        printf("# %u pipelined requests in %.1f ms\n", PIPELINE_REQUESTS,
               (now_us() - start) / 1000.0);
        failures_collect(&p.failures);
        server_stop(&server);
    }
    server_destroy(&server);
}

/* The same from several clients at once, with 3 requests in flight per
 * connection and a writer queue of 2: reading pauses and resumes all the
 * time, and must never stall or reorder. */
static void test_pipelining_small_limits(void) {
    static const char *const args[] = {"--in-flight-max", "3", "--queue-depth-max",
                                       "2", NULL};
    server_t server;
    server_init(&server, "server-smalllimits", args);
    if (server_start(&server)) {
        static pipeline_t pipelines[PIPELINE_SMALL_CLIENTS];
        for (uint32_t c = 0; c < PIPELINE_SMALL_CLIENTS; c++) {
            pipeline_init(&pipelines[c], server.port, c, PIPELINE_SMALL_REQUESTS);
            TEST_REQUIRE(pthread_create(&pipelines[c].thread, NULL, pipeline_run,
                                        &pipelines[c]) == 0);
        }
        for (uint32_t c = 0; c < PIPELINE_SMALL_CLIENTS; c++) {
            TEST_CHECK_EQ(pthread_join(pipelines[c].thread, NULL), 0);
            failures_collect(&pipelines[c].failures);
        }
        server_stop(&server);
    }
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */
/* Case: many concurrent clients                                            */

enum {
    CONCURRENT_CLIENTS = 16,
    CONCURRENT_ACCOUNTS = 4,
    CONCURRENT_BATCHES = 30,
    CONCURRENT_BATCH_EVENTS = 25,
    /* Every fifth event is a pending transfer, left pending. */
    CONCURRENT_PENDING_EVERY = 5,
};

typedef struct concurrent_client {
    uint16_t port;
    uint32_t index;
    failures_t failures;
    char name[32];
    pthread_t thread;
} concurrent_client_t;

/* Client c owns accounts (c+1)*1000 + 1..CONCURRENT_ACCOUNTS. */
static uint64_t concurrent_account(uint32_t client, uint32_t n) {
    return (uint64_t)(client + 1) * 1000u + 1u + n;
}

/* Event k of batch b of client c; applies it to the expected balances. */
static ledger_transfer_t concurrent_event(uint32_t c, uint32_t b, uint32_t k,
                                          ledger_balance_t *expected) {
    uint32_t debit = (b + k) % CONCURRENT_ACCOUNTS;
    uint32_t credit = (debit + 1 + k % (CONCURRENT_ACCOUNTS - 1)) % CONCURRENT_ACCOUNTS;
    uint64_t id = ((uint64_t)(c + 1) << 32) | (b * 100u + k + 1u);
    uint64_t amount = (c * 31u + b * 7u + k) % 50u + 1u;
    ledger_transfer_t transfer = transfer_make(id, concurrent_account(c, debit),
                                               concurrent_account(c, credit), amount);
    if (k % CONCURRENT_PENDING_EVERY == 0) {
        transfer.flags = LEDGER_TRANSFER_PENDING;
        expected[debit].debits_pending += amount;
        expected[credit].credits_pending += amount;
    } else {
        expected[debit].debits_posted += amount;
        expected[credit].credits_posted += amount;
    }
    return transfer;
}

static void concurrent_session(concurrent_client_t *client, conn_t *conn) {
    ledger_balance_t expected[CONCURRENT_ACCOUNTS] = {{0, 0, 0, 0}};
    if (!create_accounts_range(conn, concurrent_account(client->index, 0),
                               CONCURRENT_ACCOUNTS, &client->failures)) {
        return;
    }
    for (uint32_t b = 0; b < CONCURRENT_BATCHES; b++) {
        ledger_transfer_t batch[CONCURRENT_BATCH_EVENTS];
        for (uint32_t k = 0; k < CONCURRENT_BATCH_EVENTS; k++) {
            batch[k] = concurrent_event(client->index, b, k, expected);
        }
        if (!create_transfers_ok(conn, batch, CONCURRENT_BATCH_EVENTS, NULL,
                                 &client->failures)) {
            return;
        }
    }
    for (uint32_t n = 0; n < CONCURRENT_ACCOUNTS; n++) {
        ledger_balance_t balance;
        char what[64];
        snprintf(what, sizeof what, "account %" PRIu64,
                 concurrent_account(client->index, n));
        if (account_balance(conn, concurrent_account(client->index, n), &balance,
                            &client->failures)) {
            balance_check(what, balance, expected[n], &client->failures);
        }
    }
}

static void *concurrent_run(void *argument) {
    concurrent_client_t *client = argument;
    conn_t conn;
    if (!conn_open(&conn, client->port, &client->failures)) return NULL;
    concurrent_session(client, &conn);
    conn_close(&conn);
    return NULL;
}

static void test_concurrent_clients(void) {
    server_t server;
    server_init(&server, "server-concurrent", NULL);
    if (server_start(&server)) {
        static concurrent_client_t clients[CONCURRENT_CLIENTS];
        uint64_t start = now_us();
        for (uint32_t c = 0; c < CONCURRENT_CLIENTS; c++) {
            memset(&clients[c], 0, sizeof clients[c]);
            clients[c].port = server.port;
            clients[c].index = c;
            snprintf(clients[c].name, sizeof clients[c].name, "client %u", c);
            clients[c].failures.who = clients[c].name;
            TEST_REQUIRE(pthread_create(&clients[c].thread, NULL, concurrent_run,
                                        &clients[c]) == 0);
        }
        for (uint32_t c = 0; c < CONCURRENT_CLIENTS; c++) {
            TEST_CHECK_EQ(pthread_join(clients[c].thread, NULL), 0);
            failures_collect(&clients[c].failures);
        }
        printf("# %d clients x %d batches in %.1f ms\n", CONCURRENT_CLIENTS,
               CONCURRENT_BATCHES, (now_us() - start) / 1000.0);
        conn_t conn;
        if (conn_open(&conn, server.port, &case_failures)) {
            uint64_t ids[CONCURRENT_CLIENTS * CONCURRENT_ACCOUNTS];
            for (uint32_t i = 0; i < CONCURRENT_CLIENTS * CONCURRENT_ACCOUNTS; i++) {
                ids[i] = concurrent_account(i / CONCURRENT_ACCOUNTS,
                                            i % CONCURRENT_ACCOUNTS);
            }
            books_check(&conn, ids, CONCURRENT_CLIENTS * CONCURRENT_ACCOUNTS,
                        &case_failures);
            response_t *status = status_call(&conn, &case_failures);
            if (status != NULL) {
                TEST_CHECK_EQ(status->status_result->accounts_count,
                              CONCURRENT_CLIENTS * CONCURRENT_ACCOUNTS + WELFARE_PLATFORM_ACCOUNTS);
                TEST_CHECK_EQ(status->status_result->pending_count,
                              CONCURRENT_CLIENTS * CONCURRENT_BATCHES *
                                  (CONCURRENT_BATCH_EVENTS / CONCURRENT_PENDING_EVERY));
                frame_response_free(status);
            }
            conn_close(&conn);
        }
        server_stop(&server);
    }
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */
/* Cases: restart in the middle of a client session                         */

enum {
    RESTART_ACCOUNTS = 8,
    RESTART_BATCHES = 24,
    RESTART_BATCH_EVENTS = 40,
    RESTART_ID_STRIDE = 1000,
    /* Batches resent after a restart to see them answer `exists`. */
    RESTART_RESEND = 2,
};

/* Batch b, event k: id b*STRIDE+k+1. Every fourth event is a pending
 * transfer; from the second batch on, the next event posts the pending
 * transfer at the same place of the previous batch; the rest are
 * single-phase. Accounts 1..RESTART_ACCOUNTS. */
static ledger_transfer_t restart_event(uint32_t b, uint32_t k) {
    uint64_t id = (uint64_t)b * RESTART_ID_STRIDE + k + 1;
    uint64_t debit = k % RESTART_ACCOUNTS + 1;
    uint64_t credit = (k + b + 1) % RESTART_ACCOUNTS + 1;
    if (credit == debit) credit = debit % RESTART_ACCOUNTS + 1;
    uint64_t amount = (b * 7u + k * 13u) % 100u + 1u;
    if (k % 4 == 0) return pending_make(id, debit, credit, amount, 0);
    if (k % 4 == 1 && b > 0) {
        return post_make(id, (uint64_t)(b - 1) * RESTART_ID_STRIDE + k, 0);
    }
    return transfer_make(id, debit, credit, amount);
}

/* What a lookup must return for event (b, k): a post as the engine stores
 * it (accounts, ledger, code and full amount from the pending transfer). */
static ledger_transfer_t restart_stored(uint32_t b, uint32_t k) {
    ledger_transfer_t event = restart_event(b, k);
    if (event.flags != LEDGER_TRANSFER_POST_PENDING) return event;
    ledger_transfer_t pending = restart_event(b - 1, k - 1);
    pending.id = event.id;
    pending.pending_id = event.pending_id;
    pending.flags = LEDGER_TRANSFER_POST_PENDING;
    pending.timeout = 0;
    return pending;
}

/* The session's state: which batches are applied, and their timestamps. */
typedef struct restart_session {
    server_t server;
    conn_t conn;
    bool applied[RESTART_BATCHES];
    uint64_t timestamps[RESTART_BATCHES][RESTART_BATCH_EVENTS];
    ledger_balance_t expected[RESTART_ACCOUNTS + 1]; /* by account id */
} restart_session_t;

static void restart_apply(restart_session_t *session, uint32_t b) {
    TEST_REQUIRE(!session->applied[b]);
    session->applied[b] = true;
    for (uint32_t k = 0; k < RESTART_BATCH_EVENTS; k++) {
        ledger_transfer_t t = restart_stored(b, k);
        ledger_balance_t *debit = &session->expected[t.debit_account_id.lo];
        ledger_balance_t *credit = &session->expected[t.credit_account_id.lo];
        if (t.flags == LEDGER_TRANSFER_PENDING) {
            debit->debits_pending += t.amount;
            credit->credits_pending += t.amount;
            continue;
        }
        if (t.flags == LEDGER_TRANSFER_POST_PENDING) {
            debit->debits_pending -= t.amount;
            credit->credits_pending -= t.amount;
        }
        debit->debits_posted += t.amount;
        credit->credits_posted += t.amount;
    }
}

static void restart_batch(uint32_t b, ledger_transfer_t *out) {
    for (uint32_t k = 0; k < RESTART_BATCH_EVENTS; k++) out[k] = restart_event(b, k);
}

/* Sends batch b, which must be applied whole now. */
static bool restart_send_ok(restart_session_t *session, uint32_t b) {
    ledger_transfer_t batch[RESTART_BATCH_EVENTS];
    restart_batch(b, batch);
    if (!create_transfers_ok(&session->conn, batch, RESTART_BATCH_EVENTS,
                             session->timestamps[b], &case_failures)) {
        return false;
    }
    restart_apply(session, b);
    return true;
}

/* How many events of batch b are stored; checks each one found, and
 * records their timestamps when the batch was in doubt. */
static uint32_t restart_batch_stored(restart_session_t *session, uint32_t b) {
    ledger_u128_t ids[RESTART_BATCH_EVENTS];
    ledger_transfer_t found[RESTART_BATCH_EVENTS];
    for (uint32_t k = 0; k < RESTART_BATCH_EVENTS; k++) ids[k] = restart_event(b, k).id;
    uint32_t count = 0;
    if (!lookup_transfers_call(&session->conn, ids, RESTART_BATCH_EVENTS, found,
                               &count, &case_failures)) {
        return 0;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t k = (uint32_t)(found[i].id.lo - 1 - (uint64_t)b * RESTART_ID_STRIDE);
        TEST_REQUIRE(k < RESTART_BATCH_EVENTS);
        ledger_transfer_t expected = restart_stored(b, k);
        if (!session->applied[b]) session->timestamps[b][k] = found[i].timestamp;
        expected.timestamp = session->timestamps[b][k];
        char what[64];
        snprintf(what, sizeof what, "batch %u event %u", b, k);
        transfer_check(what, &found[i], &expected, &case_failures);
    }
    return count;
}

/* After a restart: every applied batch is there with its timestamps, no
 * other batch is, and the balances are those of the applied batches. */
static void restart_verify(restart_session_t *session, uint32_t batches) {
    for (uint32_t b = 0; b < batches; b++) {
        uint32_t stored = restart_batch_stored(session, b);
        uint32_t expected = session->applied[b] ? RESTART_BATCH_EVENTS : 0;
        if (stored != expected) {
            FAIL(&case_failures, "batch %u: %u of %u events stored, expected %u",
                 b, stored, RESTART_BATCH_EVENTS, expected);
        }
    }
    uint64_t ids[RESTART_ACCOUNTS];
    for (uint64_t id = 1; id <= RESTART_ACCOUNTS; id++) {
        ledger_balance_t balance;
        char what[32];
        snprintf(what, sizeof what, "account %" PRIu64, id);
        if (account_balance(&session->conn, id, &balance, &case_failures)) {
            balance_check(what, balance, session->expected[id], &case_failures);
        }
        ids[id - 1] = id;
    }
    books_check(&session->conn, ids, RESTART_ACCOUNTS, &case_failures);
}

/* Resends batch b, applied before the restart: every event answers
 * `exists` with its original timestamp, and nothing moves. */
static void restart_resend_exists(restart_session_t *session, uint32_t b) {
    ledger_transfer_t batch[RESTART_BATCH_EVENTS];
    uint32_t codes[RESTART_BATCH_EVENTS];
    uint64_t timestamps[RESTART_BATCH_EVENTS];
    restart_batch(b, batch);
    if (!create_transfers_call(&session->conn, batch, RESTART_BATCH_EVENTS, codes,
                               timestamps, &case_failures)) {
        return;
    }
    codes_all(codes, RESTART_BATCH_EVENTS, LEDGER_RESULT_EXISTS, "resent batch",
              &case_failures);
    TEST_CHECK(memcmp(timestamps, session->timestamps[b], sizeof timestamps) == 0);
}

/* Restarts on the same data directory (a new port) and reconnects. */
static bool restart_reconnect(restart_session_t *session) {
    conn_close(&session->conn);
    return server_start(&session->server) &&
           conn_open(&session->conn, session->server.port, &case_failures);
}

static bool restart_begin(restart_session_t *session, const char *prefix) {
    memset(session, 0, sizeof *session);
    session->conn.fd = -1;
    server_init(&session->server, prefix, NULL);
    return server_start(&session->server) &&
           conn_open(&session->conn, session->server.port, &case_failures) &&
           create_accounts_range(&session->conn, 1, RESTART_ACCOUNTS, &case_failures);
}

/* Sends batches [first, end) that must all be applied. */
static bool restart_send_range(restart_session_t *session, uint32_t first,
                               uint32_t end) {
    for (uint32_t b = first; b < end; b++) {
        if (!restart_send_ok(session, b)) return false;
    }
    return true;
}

/* Verifies, resends the last RESTART_RESEND applied batches. */
static void restart_check_after(restart_session_t *session, uint32_t batches) {
    restart_verify(session, batches);
    for (uint32_t b = batches - RESTART_RESEND; b < batches; b++) {
        restart_resend_exists(session, b);
    }
    restart_verify(session, batches);
}

/*
 * Pipelines batches [first, first+count), reads only the first answer,
 * then kills the server: the others are in flight. After the restart each
 * in-flight batch must be stored whole or not at all, in order; resending
 * gives `exists` for stored ones and applies the others.
 */
static bool restart_kill_in_flight(restart_session_t *session, uint32_t first,
                                   uint32_t count) {
    uint64_t request_id_first = session->conn.request_id_last + 1;
    for (uint32_t b = first; b < first + count; b++) {
        ledger_transfer_t batch[RESTART_BATCH_EVENTS];
        restart_batch(b, batch);
        uint64_t request_id = ++session->conn.request_id_last;
        wire_t wire = request_create_transfers(request_id, batch, RESTART_BATCH_EVENTS);
        TEST_CHECK_EQ(conn_send(&session->conn, wire.bytes, wire.size), 0);
        free(wire.bytes);
    }
    response_t *response =
        response_receive(&session->conn, request_id_first, &case_failures);
    uint32_t codes[RESTART_BATCH_EVENTS];
    bool ok = response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                              BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS,
                              &case_failures) &&
              event_results_copy(response->create_transfers->results,
                                 response->create_transfers->n_results,
                                 RESTART_BATCH_EVENTS, codes,
                                 session->timestamps[first], &case_failures) &&
              codes_all(codes, RESTART_BATCH_EVENTS, LEDGER_RESULT_OK,
                        "acknowledged batch", &case_failures);
    if (response != NULL) frame_response_free(response);
    server_crash(&session->server);
    if (!ok || !restart_reconnect(session)) return false;
    restart_apply(session, first); /* acknowledged: verified below */
    bool stored_before = true;
    for (uint32_t b = first + 1; b < first + count; b++) {
        uint32_t stored = restart_batch_stored(session, b);
        printf("# in-flight batch %u: %u of %u events stored\n", b, stored,
               RESTART_BATCH_EVENTS);
        TEST_CHECK(stored == 0 || stored == RESTART_BATCH_EVENTS);
        TEST_CHECK(stored_before || stored == 0); /* applied in order */
        stored_before = stored == RESTART_BATCH_EVENTS;
        if (stored == RESTART_BATCH_EVENTS) {
            restart_apply(session, b);
            restart_resend_exists(session, b);
        } else if (!restart_send_ok(session, b)) {
            return false;
        }
    }
    return true;
}

static void test_restart_after_sigkill(void) {
    restart_session_t *session = xcalloc(1, sizeof *session);
    if (restart_begin(session, "server-sigkill")) {
        /* Killed right after an acknowledged batch. */
        bool ok = restart_send_range(session, 0, 8);
        server_crash(&session->server);
        ok = ok && restart_reconnect(session);
        if (ok) restart_check_after(session, 8);
        /* Killed with batches in flight. */
        ok = ok && restart_send_range(session, 8, 14) &&
             restart_kill_in_flight(session, 14, 3);
        if (ok) restart_verify(session, 17);
        /* And once more after the session went on. */
        ok = ok && restart_send_range(session, 17, RESTART_BATCHES);
        if (ok) server_crash(&session->server);
        if (ok && restart_reconnect(session)) {
            restart_check_after(session, RESTART_BATCHES);
        }
        server_stop(&session->server);
    }
    conn_close(&session->conn);
    server_destroy(&session->server);
    free(session);
}

static void test_restart_after_sigterm(void) {
    restart_session_t *session = xcalloc(1, sizeof *session);
    if (restart_begin(session, "server-sigterm")) {
        bool ok = restart_send_range(session, 0, 10);
        server_stop(&session->server);
        ok = ok && restart_reconnect(session);
        if (ok) restart_check_after(session, 10);
        ok = ok && restart_send_range(session, 10, RESTART_BATCHES);
        server_stop(&session->server);
        if (ok && restart_reconnect(session)) {
            restart_check_after(session, RESTART_BATCHES);
        }
        server_stop(&session->server);
    }
    conn_close(&session->conn);
    server_destroy(&session->server);
    free(session);
}

/* ------------------------------------------------------------------------ */
/* Hostile cases                                                            */

/* Expects the server to close `conn` (EOF or reset) in time, without
 * sending anything first (docs/protocol.md: framing violations close the
 * connection without a response). */
static void expect_closed(conn_t *conn, const char *what) {
    size_t received = 0;
    uint64_t start = now_us();
    bool closed = conn_wait_closed(conn, CLOSE_TIMEOUT_MS, &received);
    if (!closed || received != 0) {
        printf("# %s: %s after %.1f ms, %zu bytes received\n", what,
               closed ? "closed" : "still open", (now_us() - start) / 1000.0,
               received);
    }
    TEST_CHECK(closed);
    TEST_CHECK_EQ(received, 0);
}

/* A fresh connection is still served. */
static void expect_server_serves(const server_t *server) {
    conn_t conn;
    if (conn_open(&conn, server->port, &case_failures)) {
        TEST_CHECK(status_ok(&conn, &case_failures));
        conn_close(&conn);
    }
}

static void send_raw(conn_t *conn, const uint8_t *bytes, size_t size) {
    int error = conn_send(conn, bytes, size);
    if (error != 0) printf("# send: %s\n", strerror(error));
    TEST_CHECK_EQ(error, 0);
}

/* Half a header; a header and part of its body; a good frame followed by
 * a truncated one: each then closed while the watcher is served. */
static void attack_truncated(server_t *server, watcher_t *watcher) {
    static const uint8_t half_header[2] = {0x00, 0x00};
    conn_t conn;
    if (conn_open(&conn, server->port, &case_failures)) {
        send_raw(&conn, half_header, sizeof half_header);
        watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
        conn_close(&conn);
    }
    uint8_t partial[FRAME_HEADER_SIZE + 10] = {0};
    frame_header_write(partial, 64);
    if (conn_open(&conn, server->port, &case_failures)) {
        send_raw(&conn, partial, sizeof partial);
        watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
        conn_close(&conn);
    }
    if (conn_open(&conn, server->port, &case_failures)) {
        uint64_t request_id = ++conn.request_id_last;
        wire_t wire = request_status(request_id);
        send_raw(&conn, wire.bytes, wire.size);
        free(wire.bytes);
        send_raw(&conn, partial, sizeof partial);
        response_t *response = response_receive(&conn, request_id, &case_failures);
        response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_STATUS_RESULT,
                        &case_failures);
        if (response != NULL) frame_response_free(response);
        conn_close(&conn);
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    expect_server_serves(server);
}

static void test_hostile_truncated_frame(void) {
    hostile_run("server-truncated", NULL, attack_truncated);
}

/* Transfer ids the attacks use; accounts 1 and 2 are created for them. */
enum { ATTACK_TRANSFER_ID = 500 };

/* A create_transfers frame cut in the middle of its body and closed (FIN,
 * then reset): the transfer must not be applied. */
static void attack_mid_frame(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&conn, 1, 2, &case_failures));
    conn_close(&conn);
    for (int reset = 0; reset < 2; reset++) {
        ledger_transfer_t transfer =
            transfer_make(ATTACK_TRANSFER_ID + (uint64_t)reset, 1, 2, 10);
        wire_t wire = request_create_transfers(1, &transfer, 1);
        if (conn_open(&conn, server->port, &case_failures)) {
            send_raw(&conn, wire.bytes, wire.size - 5);
            watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
            if (reset) {
                conn_reset(&conn);
            } else {
                conn_close(&conn);
            }
        }
        free(wire.bytes);
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    if (conn_open(&conn, server->port, &case_failures)) {
        ledger_u128_t ids[2] = {id128(ATTACK_TRANSFER_ID), id128(ATTACK_TRANSFER_ID + 1)};
        ledger_transfer_t found[2];
        uint32_t count = 99;
        TEST_CHECK(lookup_transfers_call(&conn, ids, 2, found, &count, &case_failures));
        TEST_CHECK_EQ(count, 0);
        ledger_balance_t balance, zero = {0, 0, 0, 0};
        if (account_balance(&conn, 1, &balance, &case_failures)) {
            balance_check("account 1", balance, zero, &case_failures);
        }
        conn_close(&conn);
    }
}

static void test_hostile_closed_mid_frame(void) {
    hostile_run("server-midframe", NULL, attack_mid_frame);
}

/* The frame limit of the oversized-length case. */
#define ATTACK_FRAME_SIZE_MAX 65536u

/* A frame of exactly the limit is served; one byte more, or a huge
 * declared length, closes the connection before any body arrives. */
static void attack_oversized(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (conn_open(&conn, server->port, &case_failures)) {
        wire_t wire = request_padded(77, ATTACK_FRAME_SIZE_MAX);
        conn.request_id_last = 77;
        expect_status(&conn, 77, wire, BORSELLINO__V1__STATUS__STATUS_UNKNOWN_OPERATION,
                      &case_failures);
        TEST_CHECK(status_ok(&conn, &case_failures));
        conn_close(&conn);
    }
    static const uint32_t declared[3] = {ATTACK_FRAME_SIZE_MAX + 1,
                                         FRAME_BODY_SIZE_MAX_DEFAULT, UINT32_MAX};
    for (int i = 0; i < 3; i++) {
        uint8_t header[FRAME_HEADER_SIZE + 8] = {0};
        frame_header_write(header, declared[i]);
        if (!conn_open(&conn, server->port, &case_failures)) continue;
        send_raw(&conn, header, sizeof header);
        char what[64];
        snprintf(what, sizeof what, "declared length %u", declared[i]);
        expect_closed(&conn, what);
        conn_close(&conn);
    }
    /* The same with the whole body sent: still closed, not answered. */
    if (conn_open(&conn, server->port, &case_failures)) {
        wire_t wire = request_padded(78, ATTACK_FRAME_SIZE_MAX + 1);
        (void)conn_send(&conn, wire.bytes, wire.size); /* may be cut short */
        free(wire.bytes);
        expect_closed(&conn, "a body one byte over the limit");
        conn_close(&conn);
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
}

static void test_hostile_oversized_length(void) {
    static const char *const args[] = {"--frame-size-max", "65536", NULL};
    hostile_run("server-oversized", args, attack_oversized);
}

/* Bodies that are not valid protobuf (checked against the decoder first). */
typedef struct garbage {
    const char *what;
    uint8_t bytes[16];
    size_t size;
} garbage_t;

static const garbage_t garbage_bodies[] = {
    {"an 11-byte varint tag", {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 11},
    {"wire type 7", {0x0F, 0x00}, 2},
    {"a varint field with no value", {0x08}, 1},
    {"field number 0", {0x00, 0x01}, 2},
    {"a length past the end", {0x5A, 0x05, 0x01}, 3},
    {"a truncated nested transfer", {0x5A, 0x03, 0x0A, 0x05, 0x00}, 5},
    {"a group start with no end", {0x0B, 0x08, 0x01}, 3},
    {"a wrong wire type for request_id", {0x0A, 0x01, 0x00}, 3},
};

static void attack_garbage(server_t *server, watcher_t *watcher) {
    size_t count = sizeof garbage_bodies / sizeof garbage_bodies[0];
    for (size_t i = 0; i < count; i++) {
        const garbage_t *garbage = &garbage_bodies[i];
        request_t *decoded = frame_request_decode(garbage->bytes, garbage->size, NULL);
        if (decoded != NULL) {
            /* Not garbage to protobuf-c: not a test of the server. */
            printf("# skipped %s: it decodes\n", garbage->what);
            frame_request_free(decoded);
            continue;
        }
        conn_t conn;
        if (!conn_open(&conn, server->port, &case_failures)) continue;
        wire_t wire = wire_raw(garbage->bytes, garbage->size);
        send_raw(&conn, wire.bytes, wire.size);
        free(wire.bytes);
        expect_closed(&conn, garbage->what);
        conn_close(&conn);
        watcher_progress(watcher, 1);
    }
    /* Seeded random bodies that do not decode. */
    uint64_t state = test_seed != 0 ? test_seed : 0x9E3779B97F4A7C15u;
    for (int i = 0, sent = 0; i < 200 && sent < 8; i++) {
        uint8_t body[64];
        for (size_t j = 0; j < sizeof body; j++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            body[j] = (uint8_t)(state >> 56);
        }
        request_t *decoded = frame_request_decode(body, sizeof body, NULL);
        if (decoded != NULL) {
            frame_request_free(decoded);
            continue;
        }
        conn_t conn;
        if (!conn_open(&conn, server->port, &case_failures)) continue;
        wire_t wire = wire_raw(body, sizeof body);
        send_raw(&conn, wire.bytes, wire.size);
        free(wire.bytes);
        expect_closed(&conn, "random bytes");
        conn_close(&conn);
        sent++;
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    expect_server_serves(server);
}

static void test_hostile_garbage_protobuf(void) {
    hostile_run("server-garbage", NULL, attack_garbage);
}

/* An empty body, a request id alone, an unknown field: each a valid
 * Request with no operation, answered UNKNOWN_OPERATION; the connection
 * stays usable. Pipelined, to check order too. */
static void attack_no_operation(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    wire_t empty = wire_raw(NULL, 0);
    wire_t alone = request_no_op(42);
    wire_t padded = request_padded(43, 40);
    send_raw(&conn, empty.bytes, empty.size);
    send_raw(&conn, alone.bytes, alone.size);
    send_raw(&conn, padded.bytes, padded.size);
    free(empty.bytes);
    free(alone.bytes);
    free(padded.bytes);
    static const uint64_t request_ids[3] = {0, 42, 43};
    for (int i = 0; i < 3; i++) {
        response_t *response = response_receive(&conn, request_ids[i], &case_failures);
        response_expect(response, BORSELLINO__V1__STATUS__STATUS_UNKNOWN_OPERATION, 0,
                        &case_failures);
        if (response != NULL) frame_response_free(response);
    }
    conn.request_id_last = 43;
    TEST_CHECK(status_ok(&conn, &case_failures));
    conn_close(&conn);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
}

static void test_hostile_no_operation(void) {
    hostile_run("server-noop", NULL, attack_no_operation);
}

#define ATTACK_BATCH_MAX 100u

/* Nothing of batch (first .. first+count-1) exists. */
static void expect_transfers_absent(conn_t *conn, uint64_t first, uint32_t count) {
    ledger_u128_t ids[ATTACK_BATCH_MAX];
    ledger_transfer_t found[ATTACK_BATCH_MAX];
    for (uint32_t done = 0; done < count;) {
        uint32_t n = count - done < ATTACK_BATCH_MAX ? count - done : ATTACK_BATCH_MAX;
        for (uint32_t i = 0; i < n; i++) ids[i] = id128(first + done + i);
        uint32_t found_count = 99;
        TEST_CHECK(lookup_transfers_call(conn, ids, n, found, &found_count,
                                         &case_failures));
        TEST_CHECK_EQ(found_count, 0);
        done += n;
    }
}

/* Over --batch-events-max: refused whole (transfers, accounts), nothing
 * applied; at the limit: accepted. Lookups are bound by the ledger's 8,190
 * ids, not by this flag (docs/protocol.md, "Limits"). */
static void attack_batch_too_large(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&conn, 1, 2, &case_failures));
    ledger_transfer_t transfers[ATTACK_BATCH_MAX + 1];
    ledger_account_t accounts[ATTACK_BATCH_MAX + 1];
    ledger_u128_t ids[ATTACK_BATCH_MAX + 1];
    for (uint32_t i = 0; i <= ATTACK_BATCH_MAX; i++) {
        transfers[i] = transfer_make(ATTACK_TRANSFER_ID + i, 1, 2, 1);
        accounts[i] = account_make(1000 + i, LEDGER_ID, 0);
        ids[i] = id128(1000 + i);
    }
    uint64_t request_id = ++conn.request_id_last;
    expect_status(&conn, request_id,
                  request_create_transfers(request_id, transfers, ATTACK_BATCH_MAX + 1),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    request_id = ++conn.request_id_last;
    expect_status(&conn, request_id,
                  request_create_accounts(request_id, accounts, ATTACK_BATCH_MAX + 1),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    expect_transfers_absent(&conn, ATTACK_TRANSFER_ID, ATTACK_BATCH_MAX + 1);
    ledger_account_t found[ATTACK_BATCH_MAX + 1];
    uint32_t found_count = 99;
    TEST_CHECK(lookup_accounts_call(&conn, ids, ATTACK_BATCH_MAX + 1, found,
                                    &found_count, &case_failures));
    TEST_CHECK_EQ(found_count, 0);
    /* At the limit. */
    TEST_CHECK(create_transfers_ok(&conn, transfers, ATTACK_BATCH_MAX, NULL,
                                   &case_failures));
    ledger_balance_t balance, expected = {0, ATTACK_BATCH_MAX, 0, 0};
    if (account_balance(&conn, 1, &balance, &case_failures)) {
        balance_check("account 1", balance, expected, &case_failures);
    }
    response_t *status = status_call(&conn, &case_failures);
    if (status != NULL) {
        TEST_CHECK_EQ(status->status_result->batch_events_max, ATTACK_BATCH_MAX);
        frame_response_free(status);
    }
    conn_close(&conn);
}

static void test_hostile_batch_too_large(void) {
    static const char *const args[] = {"--batch-events-max", "100", NULL};
    hostile_run("server-batchmax", args, attack_batch_too_large);
}

/* create_* with no events: BATCH_EMPTY; the connection stays usable. */
static void attack_batch_empty(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    uint64_t request_id = ++conn.request_id_last;
    expect_status(&conn, request_id, request_create_transfers(request_id, NULL, 0),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY, &case_failures);
    request_id = ++conn.request_id_last;
    expect_status(&conn, request_id, request_create_accounts(request_id, NULL, 0),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY, &case_failures);
    TEST_CHECK(status_ok(&conn, &case_failures));
    conn_close(&conn);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
}

static void test_hostile_batch_empty(void) {
    hostile_run("server-batchempty", NULL, attack_batch_empty);
}

/* Values that do not fit the ledger's types (a code above 65535, flags
 * above 16 bits) are a bad request: refused whole, with a message. */
static void attack_bad_values(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&conn, 1, 2, &case_failures));
    ledger_transfer_t transfers[2] = {transfer_make(ATTACK_TRANSFER_ID, 1, 2, 5),
                                      transfer_make(ATTACK_TRANSFER_ID + 1, 1, 2, 5)};
    transfer_message_t messages[2];
    Borsellino__V1__Transfer *pointers[2];
    for (int i = 0; i < 2; i++) {
        transfer_message(&transfers[i], &messages[i]);
        pointers[i] = &messages[i].transfer;
    }
    messages[1].transfer.code = 70000;
    Borsellino__V1__CreateTransfersRequest body =
        BORSELLINO__V1__CREATE_TRANSFERS_REQUEST__INIT;
    body.n_transfers = 2;
    body.transfers = pointers;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = ++conn.request_id_last;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS;
    request.create_transfers = &body;
    /* The message names the event (the loop converts, the writer answers). */
    response_t *refused = exchange(&conn, request.request_id, wire_encode(&request),
                                   &case_failures);
    if (response_expect(refused, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST, 0,
                        &case_failures)) {
        TEST_CHECK(refused->message != NULL &&
                   strcmp(refused->message, "transfer 1: code or flags out of range") == 0);
    }
    if (refused != NULL) frame_response_free(refused);
    messages[1].transfer.code = 1;
    messages[1].transfer.flags = 1u << 16;
    request.request_id = ++conn.request_id_last;
    expect_status(&conn, request.request_id, wire_encode(&request),
                  BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST, &case_failures);
    expect_transfers_absent(&conn, ATTACK_TRANSFER_ID, 2);
    TEST_CHECK(status_ok(&conn, &case_failures));
    conn_close(&conn);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
}

static void test_hostile_bad_values(void) {
    hostile_run("server-badvalues", NULL, attack_bad_values);
}

enum {
    FLOOD_CONNECTIONS_MAX = 8,
    /* Connections opened beyond the limit. */
    FLOOD_EXTRA = 24,
};

/* Opens connections up to the limit (the watcher holds one), each served;
 * every further one is closed unanswered; once some close, new ones are
 * served again. */
static void attack_flood(server_t *server, watcher_t *watcher) {
    conn_t allowed[FLOOD_CONNECTIONS_MAX - 1];
    conn_t extra[FLOOD_EXTRA];
    int allowed_open = 0;
    for (int i = 0; i < FLOOD_CONNECTIONS_MAX - 1; i++) {
        if (!conn_open(&allowed[i], server->port, &case_failures)) break;
        allowed_open++;
        TEST_CHECK(status_ok(&allowed[i], &case_failures));
    }
    int extra_open = 0;
    for (int i = 0; i < FLOOD_EXTRA; i++) {
        if (!conn_open(&extra[i], server->port, &case_failures)) break;
        extra_open++;
        uint64_t request_id = ++extra[i].request_id_last;
        wire_t wire = request_status(request_id);
        (void)conn_send(&extra[i], wire.bytes, wire.size); /* may be refused */
        free(wire.bytes);
    }
    for (int i = 0; i < extra_open; i++) {
        char what[64];
        snprintf(what, sizeof what, "connection %d over the limit",
                 FLOOD_CONNECTIONS_MAX + 1 + i);
        expect_closed(&extra[i], what);
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    for (int i = 0; i < allowed_open; i++) {
        TEST_CHECK(status_ok(&allowed[i], &case_failures)); /* still served */
    }
    for (int i = 0; i < extra_open; i++) conn_close(&extra[i]);
    for (int i = 0; i < allowed_open; i++) conn_close(&allowed[i]);
    /* The server notices closes asynchronously: retry for a while. */
    bool served = false;
    uint64_t deadline = now_us() + CLOSE_TIMEOUT_MS * UINT64_C(1000);
    while (!served && now_us() < deadline) {
        failures_t quiet = {"retry", 0};
        conn_t conn;
        if (conn_open(&conn, server->port, &quiet)) {
            response_t *response = NULL;
            wire_t wire = request_status(1);
            if (conn_send(&conn, wire.bytes, wire.size) == 0 &&
                conn_receive(&conn, RESPONSE_TIMEOUT_MS, &response) == RECEIVE_OK) {
                served = response->status == BORSELLINO__V1__STATUS__STATUS_OK;
                frame_response_free(response);
            }
            free(wire.bytes);
            conn_close(&conn);
        }
        if (!served) sleep_ms(20);
    }
    TEST_CHECK(served);
}

static void test_hostile_connection_flood(void) {
    static const char *const args[] = {"--connections-max", "8", NULL};
    hostile_run("server-flood", args, attack_flood);
}

#define ATTACK_IDLE_TIMEOUT_MS 300u

/* A silent connection and one stalled in the middle of a frame are both
 * closed after the idle timeout; the busy watcher is not. */
static void attack_idle(server_t *server, watcher_t *watcher) {
    conn_t silent, stalled;
    if (!conn_open(&silent, server->port, &case_failures)) return;
    if (!conn_open(&stalled, server->port, &case_failures)) {
        conn_close(&silent);
        return;
    }
    uint64_t start = now_us();
    uint8_t partial[FRAME_HEADER_SIZE + 3] = {0};
    frame_header_write(partial, 50);
    send_raw(&stalled, partial, sizeof partial);
    expect_closed(&silent, "idle connection");
    expect_closed(&stalled, "connection stalled mid-frame");
    uint64_t elapsed_ms = (now_us() - start) / 1000;
    printf("# idle connections closed after %" PRIu64 " ms\n", elapsed_ms);
    TEST_CHECK(elapsed_ms + 50 >= ATTACK_IDLE_TIMEOUT_MS);
    conn_close(&silent);
    conn_close(&stalled);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
}

static void test_hostile_idle_timeout(void) {
    static const char *const args[] = {"--idle-timeout-ms", "300", NULL};
    hostile_run("server-idle", args, attack_idle);
}

enum {
    STALL_ACCOUNTS = 8190,
    STALL_LOOKUPS = 32,
    STALL_WAIT_MS = 2000,
};

/* A client that pipelines large lookups and never reads their answers
 * holds a connection slot only until its answers stop moving for the idle
 * timeout: with --connections-max 2 (the watcher and the staller), a new
 * client is served again afterwards. (Before the fix a non-reading client
 * was exempt from the idle timeout and could hold slots forever.) */
static void attack_write_stall(server_t *server, watcher_t *watcher) {
    conn_t staller;
    if (!conn_open(&staller, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&staller, 1, STALL_ACCOUNTS, &case_failures));
    ledger_u128_t *ids = calloc(STALL_ACCOUNTS, sizeof *ids);
    TEST_REQUIRE(ids != NULL);
    for (uint32_t i = 0; i < STALL_ACCOUNTS; i++) ids[i] = id128(1 + i);
    for (uint32_t i = 0; i < STALL_LOOKUPS; i++) {
        wire_t wire = request_lookup(100 + i, false, ids, STALL_ACCOUNTS);
        send_raw(&staller, wire.bytes, wire.size);
        free(wire.bytes);
    }
    free(ids);
    sleep_ms(STALL_WAIT_MS);
    expect_server_serves(server);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    conn_close(&staller);
}

static void test_hostile_write_stall(void) {
    static const char *const args[] = {"--idle-timeout-ms", "300", "--connections-max", "2",
                                       NULL};
    hostile_run("server-stall", args, attack_write_stall);
}

enum { ABANDON_REQUESTS = 50 };

/* Clients that pipeline requests and go away without reading (a reset,
 * then an orderly close): the server must drop their answers, and every
 * transfer is applied whole or not at all. */
static void attack_abandon(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&conn, 1, 2, &case_failures));
    conn_close(&conn);
    for (int round = 0; round < 2; round++) {
        if (!conn_open(&conn, server->port, &case_failures)) continue;
        for (uint32_t i = 0; i < ABANDON_REQUESTS; i++) {
            uint64_t id = ATTACK_TRANSFER_ID + (uint64_t)round * ABANDON_REQUESTS + i;
            ledger_transfer_t transfer = transfer_make(id, 1, 2, 1 + i);
            wire_t wire = request_create_transfers(i + 1, &transfer, 1);
            send_raw(&conn, wire.bytes, wire.size);
            free(wire.bytes);
        }
        if (round == 0) {
            conn_reset(&conn);
        } else {
            conn_close(&conn);
        }
        watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    }
    if (!conn_open(&conn, server->port, &case_failures)) return;
    ledger_u128_t ids[2 * ABANDON_REQUESTS];
    ledger_transfer_t found[2 * ABANDON_REQUESTS];
    for (uint32_t i = 0; i < 2 * ABANDON_REQUESTS; i++) {
        ids[i] = id128(ATTACK_TRANSFER_ID + i);
    }
    uint32_t count = 0;
    uint64_t sum = 0;
    TEST_CHECK(lookup_transfers_call(&conn, ids, 2 * ABANDON_REQUESTS, found, &count,
                                     &case_failures));
    for (uint32_t i = 0; i < count; i++) sum += found[i].amount;
    ledger_balance_t balance, expected = {0, sum, 0, 0};
    if (account_balance(&conn, 1, &balance, &case_failures)) {
        balance_check("account 1", balance, expected, &case_failures);
    }
    printf("# %u of %d abandoned transfers were applied\n", count,
           2 * ABANDON_REQUESTS);
    conn_close(&conn);
}

static void test_hostile_abandoned_requests(void) {
    hostile_run("server-abandon", NULL, attack_abandon);
}

/* A client that sends its requests, then shuts down its sending side
 * (shutdown(SHUT_WR), as `nc -N` or a batch script does) and reads: every
 * request it sent still gets its answer (one response per request), and
 * only then does the server close. */
static void test_half_closed_client(void) {
    server_t server;
    server_init(&server, "server-halfclose", NULL);
    conn_t conn;
    if (server_start(&server) && conn_open(&conn, server.port, &case_failures)) {
        ledger_account_t accounts[2] = {account_make(1, LEDGER_ID, 0),
                                        account_make(2, LEDGER_ID, 0)};
        wire_t create = request_create_accounts(1, accounts, 2);
        wire_t status = request_status(2);
        send_raw(&conn, create.bytes, create.size);
        send_raw(&conn, status.bytes, status.size);
        free(create.bytes);
        free(status.bytes);
        TEST_CHECK_EQ(shutdown(conn.fd, SHUT_WR), 0);
        response_t *response = response_receive(&conn, 1, &case_failures);
        response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_CREATE_ACCOUNTS, &case_failures);
        if (response != NULL) frame_response_free(response);
        response = response_receive(&conn, 2, &case_failures);
        response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_STATUS_RESULT, &case_failures);
        if (response != NULL) frame_response_free(response);
        size_t received = 0;
        TEST_CHECK(conn_wait_closed(&conn, CLOSE_TIMEOUT_MS, &received));
        conn_close(&conn);
        server_stop(&server);
    }
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */
/* ------------------------------------------------------------------------ */
/* Cases: the documented limits at the bound, and a client that never reads */

enum {
    /* First ids of the events refused at the bound + 1. */
    BOUND_REFUSED_ACCOUNT = 10001,
    BOUND_REFUSED_TRANSFER = 20001,
    /* The slow reader: requests pipelined without reading, how long a
     * send may block before the server is taken to have stopped reading,
     * how long the server's memory is watched, and the growth allowed. */
    SLOW_READER_REQUESTS_MAX = 256,
    /* Under ASan memory is not checked, so a few pages show liveness. */
    SLOW_READER_SANITIZED_REQUESTS = 8,
    SLOW_READER_SEND_TIMEOUT_MS = 300,
    SLOW_READER_SETTLE_MS = 5000,
    SLOW_READER_GROWTH_MAX_MB = 48,
    SLOW_READER_LATENCY_MAX_MS = 10000,
};

/* Accounts {3, n} and transfers {4, n}: both halves of every id set, and
 * every optional field large, so that messages are near their largest
 * encoding and a full page of history is above 1 MiB. */
static ledger_u128_t bound_account(uint64_t n) {
    ledger_u128_t id = {3, n};
    return id;
}

static ledger_account_t bound_account_make(uint64_t n) {
    ledger_account_t account = account_make(0, LEDGER_ID, 0);
    account.id = bound_account(n);
    account.user_data_128 = id128_max();
    account.user_data_64 = UINT64_MAX;
    account.user_data_32 = UINT32_MAX;
    account.code = UINT16_MAX;
    return account;
}

/* From {3,1} to {3,2}; 8,190 of them sum to less than 2^63. */
static ledger_transfer_t bound_transfer_make(uint64_t n) {
    ledger_transfer_t transfer = transfer_make(0, 0, 0, (UINT64_C(1) << 50) + n);
    transfer.id = (ledger_u128_t){4, n};
    transfer.debit_account_id = bound_account(1);
    transfer.credit_account_id = bound_account(2);
    transfer.user_data_128 = id128_max();
    transfer.user_data_64 = UINT64_MAX;
    transfer.user_data_32 = UINT32_MAX;
    transfer.code = UINT16_MAX;
    return transfer;
}

/* Creates LEDGER_BATCH_EVENTS_MAX accounts, then as many transfers, each
 * in one request (the documented maximum); returns the sum moved. */
static bool bound_fill(conn_t *conn, uint64_t *sum_out) {
    ledger_account_t *accounts = xcalloc(LEDGER_BATCH_EVENTS_MAX, sizeof *accounts);
    ledger_transfer_t *transfers = xcalloc(LEDGER_BATCH_EVENTS_MAX, sizeof *transfers);
    *sum_out = 0;
    for (uint32_t i = 0; i < LEDGER_BATCH_EVENTS_MAX; i++) {
        accounts[i] = bound_account_make(i + 1);
        transfers[i] = bound_transfer_make(i + 1);
        *sum_out += transfers[i].amount;
    }
    wire_t wire = request_create_transfers(1, transfers, LEDGER_BATCH_EVENTS_MAX);
    TEST_REQUIRE(wire.size <= FRAME_HEADER_SIZE + FRAME_BODY_SIZE_MAX_DEFAULT);
    free(wire.bytes);
    bool ok = create_accounts_ok(conn, accounts, LEDGER_BATCH_EVENTS_MAX,
                                 &case_failures) &&
              create_transfers_ok(conn, transfers, LEDGER_BATCH_EVENTS_MAX, NULL,
                                  &case_failures);
    free(transfers);
    free(accounts);
    return ok;
}

/* One event over the bound: refused whole, the first event not stored. */
static void bound_refuse_one_more(conn_t *conn) {
    uint32_t count = LEDGER_BATCH_EVENTS_MAX + 1;
    ledger_account_t *accounts = xcalloc(count, sizeof *accounts);
    ledger_transfer_t *transfers = xcalloc(count, sizeof *transfers);
    for (uint32_t i = 0; i < count; i++) {
        accounts[i] = account_make(BOUND_REFUSED_ACCOUNT + i, LEDGER_ID, 0);
        /* Small transfers: refused for their number, not their size. */
        transfers[i] = transfer_make(BOUND_REFUSED_TRANSFER + i, 0, 0, 1);
        transfers[i].debit_account_id = bound_account(1);
        transfers[i].credit_account_id = bound_account(2);
    }
    uint64_t request_id = ++conn->request_id_last;
    expect_status(conn, request_id, request_create_accounts(request_id, accounts, count),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    request_id = ++conn->request_id_last;
    expect_status(conn, request_id,
                  request_create_transfers(request_id, transfers, count),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    ledger_u128_t ids[2] = {id128(BOUND_REFUSED_ACCOUNT),
                            id128(BOUND_REFUSED_ACCOUNT + count - 1)};
    ledger_account_t found_accounts[2];
    uint32_t found = 99;
    TEST_CHECK(lookup_accounts_call(conn, ids, 2, found_accounts, &found,
                                    &case_failures));
    TEST_CHECK_EQ(found, 0);
    ids[0] = id128(BOUND_REFUSED_TRANSFER);
    ids[1] = id128(BOUND_REFUSED_TRANSFER + count - 1);
    ledger_transfer_t found_transfers[2];
    TEST_CHECK(lookup_transfers_call(conn, ids, 2, found_transfers, &found,
                                     &case_failures));
    TEST_CHECK_EQ(found, 0);
    free(transfers);
    free(accounts);
}

/* Lookups of LEDGER_LOOKUP_IDS_MAX ids find them all; one more is refused. */
static void bound_lookups(conn_t *conn) {
    uint32_t count = LEDGER_LOOKUP_IDS_MAX + 1;
    ledger_u128_t *ids = xcalloc(count, sizeof *ids);
    ledger_account_t *accounts = xcalloc(count, sizeof *accounts);
    ledger_transfer_t *transfers = xcalloc(count, sizeof *transfers);
    for (uint32_t i = 0; i < count; i++) ids[i] = bound_account(i + 1);
    uint32_t found = 0;
    TEST_CHECK(lookup_accounts_call(conn, ids, LEDGER_LOOKUP_IDS_MAX, accounts, &found,
                                    &case_failures));
    TEST_CHECK_EQ(found, LEDGER_LOOKUP_IDS_MAX);
    ledger_account_t expected = bound_account_make(LEDGER_LOOKUP_IDS_MAX);
    expected.timestamp = accounts[LEDGER_LOOKUP_IDS_MAX - 1].timestamp;
    account_check("the last account", &accounts[LEDGER_LOOKUP_IDS_MAX - 1], &expected,
                  &case_failures);
    uint64_t request_id = ++conn->request_id_last;
    expect_status(conn, request_id, request_lookup(request_id, false, ids, count),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    for (uint32_t i = 0; i < count; i++) ids[i] = (ledger_u128_t){4, i + 1};
    TEST_CHECK(lookup_transfers_call(conn, ids, LEDGER_LOOKUP_IDS_MAX, transfers,
                                     &found, &case_failures));
    TEST_CHECK_EQ(found, LEDGER_LOOKUP_IDS_MAX);
    ledger_transfer_t expected_transfer = bound_transfer_make(LEDGER_LOOKUP_IDS_MAX);
    expected_transfer.timestamp = transfers[LEDGER_LOOKUP_IDS_MAX - 1].timestamp;
    transfer_check("the last transfer", &transfers[LEDGER_LOOKUP_IDS_MAX - 1],
                   &expected_transfer, &case_failures);
    request_id = ++conn->request_id_last;
    expect_status(conn, request_id, request_lookup(request_id, true, ids, count),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    free(transfers);
    free(accounts);
    free(ids);
}

/* A full page of history: a response above 1 MiB, which the protocol
 * allows (docs/protocol.md, "Response size"). */
static void bound_history(conn_t *conn, uint64_t sum) {
    ledger_history_filter_t filter = {bound_account(1), 0, 0, LEDGER_HISTORY_LIMIT_MAX,
                                      LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS};
    uint64_t request_id = ++conn->request_id_last;
    response_t *response =
        exchange(conn, request_id, request_history(request_id, &filter), &case_failures);
    if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_ACCOUNT_HISTORY,
                        &case_failures)) {
        Borsellino__V1__AccountHistoryResponse *history = response->account_history;
        printf("# history of %zu entries: a %zu-byte response\n", history->n_entries,
               conn->last_body_size);
        TEST_CHECK(conn->last_body_size > FRAME_BODY_SIZE_MAX_DEFAULT);
        TEST_REQUIRE(history->n_entries == LEDGER_HISTORY_LIMIT_MAX);
        ledger_balance_t last =
            balance_from_message(history->entries[LEDGER_HISTORY_LIMIT_MAX - 1]->balance_after);
        ledger_balance_t expected = {0, sum, 0, 0};
        balance_check("after the last entry", last, expected, &case_failures);
    }
    if (response != NULL) frame_response_free(response);
}

static void test_limits_at_bounds(void) {
    server_t server;
    server_init(&server, "server-bounds", NULL);
    conn_t conn;
    if (server_start(&server) && conn_open(&conn, server.port, &case_failures)) {
        uint64_t sum = 0;
        if (bound_fill(&conn, &sum)) {
            bound_refuse_one_more(&conn);
            bound_lookups(&conn);
            bound_history(&conn, sum);
        }
        conn_close(&conn);
        server_stop(&server);
    }
    server_destroy(&server);
}

/* A number from /proc/PID/status ("VmRSS:", "VmHWM:"), in kB. */
static uint64_t process_memory_kb(pid_t pid, const char *key) {
    char path[64];
    char text[16384];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    file_read(path, text, sizeof text);
    const char *line = strstr(text, key);
    return line != NULL ? strtoull(line + strlen(key), NULL, 10) : 0;
}

/* Under AddressSanitizer freed memory stays resident in its quarantine,
 * so the server's memory says nothing about what it holds on to. */
static bool process_is_sanitized(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    char *text = xcalloc(LOG_READ_MAX, 1);
    file_read(path, text, LOG_READ_MAX);
    bool sanitized = strstr(text, "libasan") != NULL || strstr(text, "libclang_rt.asan") != NULL;
    free(text);
    return sanitized;
}

/* Waits until the server's resident memory stops growing; returns its
 * peak (kB). */
static uint64_t slow_reader_settle(const server_t *server) {
    uint64_t deadline = now_us() + SLOW_READER_SETTLE_MS * UINT64_C(1000);
    uint64_t last = 0;
    int stable = 0;
    while (stable < 10 && now_us() < deadline) {
        uint64_t rss = process_memory_kb(server->pid, "VmRSS:");
        stable = rss <= last + 256 ? stable + 1 : 0;
        last = rss;
        sleep_ms(50);
    }
    return process_memory_kb(server->pid, "VmHWM:");
}

/*
 * A client pipelines requests for full history pages (over 1 MiB each)
 * and never reads. The server must stop reading that connection and hold
 * a bounded amount of unsent output (docs/protocol.md: it stops reading
 * past 16 MiB unsent), not one response per request in flight.
 */
static void attack_slow_reader(server_t *server, watcher_t *watcher) {
    conn_t conn;
    uint64_t sum = 0;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    if (!bound_fill(&conn, &sum)) {
        conn_close(&conn);
        return;
    }
    uint64_t before_kb = process_memory_kb(server->pid, "VmRSS:");
    bool sanitized = process_is_sanitized(server->pid);
    uint32_t requests =
        sanitized ? SLOW_READER_SANITIZED_REQUESTS : SLOW_READER_REQUESTS_MAX;
    ledger_history_filter_t filter = {bound_account(1), 0, 0, LEDGER_HISTORY_LIMIT_MAX,
                                      LEDGER_HISTORY_DEBITS};
    uint32_t sent = 0;
    for (int error = 0; error == 0 && sent < requests;) {
        wire_t wire = request_history(sent + 1, &filter);
        error = conn_send_within(&conn, wire.bytes, wire.size,
                                 SLOW_READER_SEND_TIMEOUT_MS);
        free(wire.bytes);
        sent += error == 0 ? 1 : 0;
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    uint64_t peak_kb = slow_reader_settle(server);
    printf("# slow reader: %u requests sent; server memory %" PRIu64 " kB, then peak "
           "%" PRIu64 " kB%s\n",
           sent, before_kb, peak_kb, sanitized ? " (sanitized: not checked)" : "");
    if (!sanitized) {
        TEST_CHECK(peak_kb < before_kb + SLOW_READER_GROWTH_MAX_MB * 1024u);
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    conn_reset(&conn);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    expect_server_serves(server);
}

/* Reads are served by the writer thread in arrival order, so the
 * watcher's requests wait behind the slow reader's queued history pages
 * (about 10 ms each, optimized): its bound here is that queue, not
 * WATCHER_LATENCY_MAX_MS. */
static void test_hostile_slow_reader(void) {
    static const char *const args[] = {"--in-flight-max", "64", NULL};
    hostile_run_bounded("server-slowreader", args, attack_slow_reader,
                        SLOW_READER_LATENCY_MAX_MS);
}

/* ------------------------------------------------------------------------ */
/* Case: SIGTERM while a client does not read its responses                 */

enum {
    /* Full history pages requested and never read: far more than the
     * socket buffers of both ends hold. */
    STALLED_PAGES = 32,
    /* How long a graceful stop may wait for a client that never reads. */
    /* The server is started with --shutdown-timeout-ms STALLED_SHUTDOWN_MS
     * and must be gone well within this. */
    STALLED_SHUTDOWN_MS = 1000,
    STALLED_STOP_TIMEOUT_MS = 8000,
};

/* The server must still stop (exit 0, in bounded time) when a client's
 * answers cannot be delivered: SIGTERM must not wait forever on it. */
static void test_sigterm_with_unread_responses(void) {
    server_t server;
    static const char *const args[] = {"--shutdown-timeout-ms", "1000", NULL};
    _Static_assert(STALLED_SHUTDOWN_MS == 1000, "args above say 1000");
    server_init(&server, "server-stalled", args);
    conn_t stalled, other;
    uint64_t sum = 0;
    if (server_start(&server) && conn_open(&stalled, server.port, &case_failures)) {
        if (bound_fill(&stalled, &sum) &&
            conn_open(&other, server.port, &case_failures)) {
            ledger_history_filter_t filter = {bound_account(1), 0, 0,
                                              LEDGER_HISTORY_LIMIT_MAX,
                                              LEDGER_HISTORY_DEBITS};
            for (uint32_t i = 0; i < STALLED_PAGES; i++) {
                wire_t wire = request_history(i + 1, &filter);
                send_raw(&stalled, wire.bytes, wire.size);
                free(wire.bytes);
            }
            /* Answered after the pages: the writer has done them all. */
            TEST_CHECK(status_ok(&other, &case_failures));
            conn_close(&other);
            TEST_CHECK_EQ(kill(server.pid, SIGTERM), 0);
            int status = 0;
            uint64_t start = now_us();
            bool ended = server_wait(&server, STALLED_STOP_TIMEOUT_MS, &status);
            if (!ended) {
                printf("# still running %d ms after SIGTERM, while one client "
                       "does not read\n", STALLED_STOP_TIMEOUT_MS);
                conn_reset(&stalled); /* unblocks it */
                ended = server_wait(&server, SERVER_STOP_TIMEOUT_MS, &status);
                printf("# after the client went away: %s\n",
                       ended ? "it stopped" : "still running");
                TEST_CHECK(false);
            } else {
                printf("# stopped %.1f ms after SIGTERM\n", (now_us() - start) / 1000.0);
            }
            TEST_CHECK(ended && WIFEXITED(status) && WEXITSTATUS(status) == 0);
            if (!ended) server_kill_hard(&server);
        }
        conn_close(&stalled);
    }
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */
/* Case: SIGTERM while clients have requests in flight                      */

enum {
    INFLIGHT_CLIENTS = 4,
    INFLIGHT_ACCOUNTS = 4,
    INFLIGHT_WINDOW = 8,
    INFLIGHT_BATCH_EVENTS = 20,
    INFLIGHT_BATCHES_MAX = 5000,
    /* Each client has this many answered batches before the SIGTERM. */
    INFLIGHT_ACKED_BEFORE_SIGTERM = 20,
    INFLIGHT_DURATION_MAX_MS = 30000,
};

enum batch_state {
    BATCH_UNSENT = 0,
    BATCH_SENT,     /* no answer: not taken, so not applied */
    BATCH_ACKED,    /* answered OK: must be durable */
    BATCH_REFUSED,  /* answered SHUTTING_DOWN: must not be applied */
};

typedef struct inflight_client {
    uint16_t port;
    uint32_t index;
    failures_t failures;
    char name[32];
    _Atomic uint32_t acked;
    uint32_t sent;
    uint8_t state[INFLIGHT_BATCHES_MAX];
    pthread_t thread;
} inflight_client_t;

static uint64_t inflight_account(uint32_t client, uint32_t n) {
    return (uint64_t)(client + 1) * 1000u + 1u + n;
}

static ledger_transfer_t inflight_event(uint32_t c, uint32_t b, uint32_t k) {
    uint64_t id = ((uint64_t)(c + 1) << 32) | ((uint64_t)b * 64u + k + 1u);
    return transfer_make(id, inflight_account(c, k % INFLIGHT_ACCOUNTS),
                         inflight_account(c, (k + 1) % INFLIGHT_ACCOUNTS),
                         (b + k) % 9u + 1u);
}

static bool inflight_send(inflight_client_t *client, conn_t *conn, uint32_t b) {
    ledger_transfer_t batch[INFLIGHT_BATCH_EVENTS];
    for (uint32_t k = 0; k < INFLIGHT_BATCH_EVENTS; k++) {
        batch[k] = inflight_event(client->index, b, k);
    }
    wire_t wire = request_create_transfers(b + 1, batch, INFLIGHT_BATCH_EVENTS);
    int error = conn_send(conn, wire.bytes, wire.size);
    free(wire.bytes);
    if (error == 0) client->state[b] = BATCH_SENT;
    return error == 0;
}

/* Records the answer to batch b; false when the session should end. */
static bool inflight_receive(inflight_client_t *client, conn_t *conn, uint32_t b) {
    response_t *response = NULL;
    int outcome = conn_receive(conn, RESPONSE_TIMEOUT_MS, &response);
    if (outcome == RECEIVE_CLOSED) return false;
    if (outcome != RECEIVE_OK) {
        FAIL(&client->failures, "batch %u: %s", b, receive_outcome_name(outcome));
        return false;
    }
    bool ok = true;
    if (response->request_id != b + 1) {
        FAIL(&client->failures, "answer to %" PRIu64 ", expected %u",
             response->request_id, b + 1);
        ok = false;
    } else if (response->status == BORSELLINO__V1__STATUS__STATUS_SHUTTING_DOWN) {
        client->state[b] = BATCH_REFUSED;
    } else if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                               BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS,
                               &client->failures)) {
        uint32_t codes[INFLIGHT_BATCH_EVENTS];
        ok = event_results_copy(response->create_transfers->results,
                                response->create_transfers->n_results,
                                INFLIGHT_BATCH_EVENTS, codes, NULL, &client->failures) &&
             codes_all(codes, INFLIGHT_BATCH_EVENTS, LEDGER_RESULT_OK, "batch",
                       &client->failures);
        client->state[b] = BATCH_ACKED;
        atomic_fetch_add(&client->acked, 1);
    } else {
        ok = false;
    }
    frame_response_free(response);
    return ok;
}

/* Keeps INFLIGHT_WINDOW batches in flight until the server goes away. */
static void *inflight_run(void *argument) {
    inflight_client_t *client = argument;
    conn_t conn;
    if (!conn_open(&conn, client->port, &client->failures)) return NULL;
    if (!create_accounts_range(&conn, inflight_account(client->index, 0),
                               INFLIGHT_ACCOUNTS, &client->failures)) {
        conn_close(&conn);
        return NULL;
    }
    conn.request_id_last = 0;
    uint64_t deadline = now_us() + INFLIGHT_DURATION_MAX_MS * UINT64_C(1000);
    bool sending = true;
    for (uint32_t answered = 0; answered < INFLIGHT_BATCHES_MAX; answered++) {
        while (sending && client->sent < INFLIGHT_BATCHES_MAX &&
               client->sent - answered < INFLIGHT_WINDOW) {
            sending = inflight_send(client, &conn, client->sent);
            client->sent += sending ? 1 : 0;
        }
        if (answered == client->sent || now_us() >= deadline) break;
        if (!inflight_receive(client, &conn, answered)) break;
    }
    conn_close(&conn);
    return NULL;
}

/* After the restart: acked batches whole; refused and unanswered ones
 * absent (docs/protocol.md: on SIGTERM the server answers every request it
 * took, so one without an answer was not taken); the client's balances
 * match what is stored. */
static void inflight_verify(inflight_client_t *client, conn_t *conn,
                            uint32_t *counts_out) {
    ledger_balance_t expected[INFLIGHT_ACCOUNTS] = {{0, 0, 0, 0}};
    for (uint32_t b = 0; b < client->sent; b++) {
        ledger_u128_t ids[INFLIGHT_BATCH_EVENTS];
        ledger_transfer_t found[INFLIGHT_BATCH_EVENTS];
        for (uint32_t k = 0; k < INFLIGHT_BATCH_EVENTS; k++) {
            ids[k] = inflight_event(client->index, b, k).id;
        }
        uint32_t count = 0;
        if (!lookup_transfers_call(conn, ids, INFLIGHT_BATCH_EVENTS, found, &count,
                                   &case_failures)) {
            return;
        }
        counts_out[client->state[b]]++;
        bool whole = count == INFLIGHT_BATCH_EVENTS;
        bool allowed = client->state[b] == BATCH_ACKED ? whole : count == 0;
        if (!allowed) {
            FAIL(&case_failures, "%s batch %u (state %d): %u of %d events stored",
                 client->name, b, client->state[b], count, INFLIGHT_BATCH_EVENTS);
        }
        for (uint32_t k = 0; whole && k < INFLIGHT_BATCH_EVENTS; k++) {
            ledger_transfer_t t = inflight_event(client->index, b, k);
            expected[k % INFLIGHT_ACCOUNTS].debits_posted += t.amount;
            expected[(k + 1) % INFLIGHT_ACCOUNTS].credits_posted += t.amount;
        }
    }
    for (uint32_t n = 0; n < INFLIGHT_ACCOUNTS; n++) {
        ledger_balance_t balance;
        if (account_balance(conn, inflight_account(client->index, n), &balance,
                            &case_failures)) {
            balance_check(client->name, balance, expected[n], &case_failures);
        }
    }
}

static void inflight_wait_acked(inflight_client_t *clients) {
    uint64_t deadline = now_us() + RESPONSE_TIMEOUT_MS * UINT64_C(1000);
    for (uint32_t c = 0; c < INFLIGHT_CLIENTS; c++) {
        while (atomic_load(&clients[c].acked) < INFLIGHT_ACKED_BEFORE_SIGTERM &&
               now_us() < deadline) {
            sleep_ms(1);
        }
        TEST_CHECK(atomic_load(&clients[c].acked) >= INFLIGHT_ACKED_BEFORE_SIGTERM);
    }
}

static void test_sigterm_in_flight(void) {
    server_t server;
    server_init(&server, "server-inflight", NULL);
    static inflight_client_t clients[INFLIGHT_CLIENTS];
    if (server_start(&server)) {
        for (uint32_t c = 0; c < INFLIGHT_CLIENTS; c++) {
            memset(&clients[c], 0, sizeof clients[c]);
            clients[c].port = server.port;
            clients[c].index = c;
            snprintf(clients[c].name, sizeof clients[c].name, "client %u", c);
            clients[c].failures.who = clients[c].name;
            TEST_REQUIRE(pthread_create(&clients[c].thread, NULL, inflight_run,
                                        &clients[c]) == 0);
        }
        inflight_wait_acked(clients);
        server_stop(&server);
        for (uint32_t c = 0; c < INFLIGHT_CLIENTS; c++) {
            TEST_CHECK_EQ(pthread_join(clients[c].thread, NULL), 0);
            failures_collect(&clients[c].failures);
        }
        conn_t conn;
        if (server_start(&server) && conn_open(&conn, server.port, &case_failures)) {
            uint32_t counts[4] = {0};
            uint64_t ids[INFLIGHT_CLIENTS * INFLIGHT_ACCOUNTS];
            for (uint32_t c = 0; c < INFLIGHT_CLIENTS; c++) {
                inflight_verify(&clients[c], &conn, counts);
                for (uint32_t n = 0; n < INFLIGHT_ACCOUNTS; n++) {
                    ids[c * INFLIGHT_ACCOUNTS + n] = inflight_account(c, n);
                }
            }
            books_check(&conn, ids, INFLIGHT_CLIENTS * INFLIGHT_ACCOUNTS, &case_failures);
            printf("# batches: %u acknowledged, %u refused (shutting down), %u "
                   "unanswered\n",
                   counts[BATCH_ACKED], counts[BATCH_REFUSED], counts[BATCH_SENT]);
            conn_close(&conn);
            server_stop(&server);
        }
    }
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv) {
    /* A write to a connection the server closed must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (server_binary() == NULL) {
        printf("1..0 # SKIP BORSELLINOD is not set (run through meson test)\n");
        return 0;
    }
    static const test_case_t cases[] = {
        {"operations", test_operations},
        {"pipelining", test_pipelining},
        {"pipelining_small_limits", test_pipelining_small_limits},
        {"concurrent_clients", test_concurrent_clients},
        {"restart_after_sigkill", test_restart_after_sigkill},
        {"restart_after_sigterm", test_restart_after_sigterm},
        {"hostile_truncated_frame", test_hostile_truncated_frame},
        {"hostile_closed_mid_frame", test_hostile_closed_mid_frame},
        {"hostile_oversized_length", test_hostile_oversized_length},
        {"hostile_garbage_protobuf", test_hostile_garbage_protobuf},
        {"hostile_no_operation", test_hostile_no_operation},
        {"hostile_batch_too_large", test_hostile_batch_too_large},
        {"hostile_batch_empty", test_hostile_batch_empty},
        {"hostile_bad_values", test_hostile_bad_values},
        {"hostile_connection_flood", test_hostile_connection_flood},
        {"hostile_idle_timeout", test_hostile_idle_timeout},
        {"hostile_abandoned_requests", test_hostile_abandoned_requests},
        {"half_closed_client", test_half_closed_client},
        {"limits_at_bounds", test_limits_at_bounds},
        {"hostile_slow_reader", test_hostile_slow_reader},
        {"sigterm_in_flight", test_sigterm_in_flight},
        {"sigterm_with_unread_responses", test_sigterm_with_unread_responses},
        {"hostile_write_stall", test_hostile_write_stall},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
