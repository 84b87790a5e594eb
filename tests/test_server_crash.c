/*
 * test_server_crash.c — borsellinod killed with SIGKILL under concurrent
 * load, again and again, on the same data directory (issue 7, point 1).
 *
 * The load: CRASH_CLIENTS threads, each with its own connection and its
 * own accounts, send batches of single-phase transfers, pending transfers
 * (posted or voided by a later batch), and linked chains, some of which
 * are built to fail in the middle (debit = credit, or a debit account that
 * does not exist). Each client has one request in flight, so at a kill it
 * has at most one unanswered ("in doubt") batch. Alongside, `borsellino
 * bench --connections 2 --no-verify` ($BORSELLINO) adds load on its own
 * ledger; it exits non-zero when the server dies, which is expected.
 *
 * The model: a client's accounts are touched by no one else, so it knows
 * the exact result of every event it sends and the exact balances that
 * follow; it compares every answer with that prediction.
 *
 * A cycle: start the server, the load, and bench; SIGKILL the server after
 * a random delay (or right after some request was sent, so that the kill
 * often lands in the middle of a group commit); restart it on the same data
 * directory and prove, through the server:
 *   - every client reconnects and resends its last answered batch (every
 *     event `exists` with its stored timestamp, or the same failure:
 *     `id_already_failed` for a transient one), then its unanswered batch
 *     (all `ok`: it was lost; or all `exists`: it was applied — a mix is a
 *     half-applied request), then that batch once more (now all `exists`);
 *   - every transfer acknowledged since the previous check is present with
 *     identical fields, every failed one absent, no linked chain half
 *     applied;
 *   - every client account has the model's balances (so nothing was
 *     posted twice).
 * Every CRASH_VERIFY_EVERY kills, and at the end, the server is stopped
 * (SIGTERM, exit 0) and the data directory opened in-process, read-only:
 * ledger_verify() recomputes every balance from the journal, checks the
 * hash chain and Σ debits = Σ credits; then every transfer and account the
 * clients ever sent is compared with the model. At the very end one bench
 * run without a kill must pass its own balance verification.
 *
 * Modes:
 *   default (CI)   30 kills, 6 in-process verifications: about 25 s
 *                  optimized, about 30 s under ASan+UBSan (2 cores).
 *   --ops N        N kills: the long mode. --ops 100 takes about 2
 *                  minutes; --ops 1000 roughly half an hour, verifying
 *                  in-process every N/20 kills (each verification walks
 *                  the whole journal, most of it written by bench).
 *   --seed N       replays the random choices (delays, batch shapes); the
 *                  seed is printed at the start. Thread interleaving and
 *                  kill moments still vary from run to run.
 * Run by hand:
 *   BORSELLINOD=build/server/borsellinod BORSELLINO=build/tools/borsellino \
 *     build/tests/test_server_crash --ops 200 --seed 42
 *
 * Processes: the server and bench are forked from the main thread with
 * PR_SET_PDEATHSIG, and an atexit handler kills and reaps both, so no
 * process outlives the test, whether it passes, fails or bails out.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>

#include "server_fixture.h"

enum {
    CRASH_KILLS_DEFAULT = 30,
    CRASH_CLIENTS = 4,
    /* Accounts of one client (ids client_base + 0 .. + CLIENT_ACCOUNTS-1). */
    CLIENT_ACCOUNTS = 12,
    /* Events of one batch: 1..BATCH_EVENTS_MAX. */
    BATCH_EVENTS_MAX = 48,
    CHAIN_EVENTS_MAX = 4,
    AMOUNT_MAX = 1000,
    /* Long enough never to expire during a run: the model has no clock. */
    PENDING_TIMEOUT_S = 7 * 24 * 3600,
    /* A client stops planning batches past this many events (memory bound
     * of the model: ~170 bytes each). */
    CLIENT_RECORDS_MAX = 2000000,
    /* Bounds of one load phase of a client, whatever the main thread does. */
    CYCLE_BATCHES_MAX = 100000,
    CYCLE_DURATION_MAX_MS = 60000,
    /* The kill comes this long after the load started... */
    KILL_DELAY_MIN_MS = 20,
    KILL_DELAY_MAX_MS = 600,
    /* ...or, one time in KILL_AFTER_SEND_ONE_IN, right after a request. */
    KILL_AFTER_SEND_ONE_IN = 3,
    KILL_AFTER_SEND_WAIT_MAX_MS = 5000,
    /* ...plus 0..this: from "not yet in a group" to "committed, answer on
     * its way" (an fsync takes about a millisecond here). */
    KILL_AFTER_SEND_JITTER_MAX_US = 3000,
    /* Stop, verify in-process, restart: every this many kills, or less
     * often in a long run, so that there are at most about
     * CRASH_VERIFICATIONS_LONG of them (each walks the whole journal, which
     * grows with every kill). */
    CRASH_VERIFY_EVERY = 5,
    CRASH_VERIFICATIONS_LONG = 20,
    /* Ids per lookup request (responses stay well below 1 MiB). */
    LOOKUP_CHUNK = 2048,
    /* bench: after the kill it must exit by itself within this time. */
    BENCH_EXIT_TIMEOUT_MS = 20000,
    BENCH_FINAL_TIMEOUT_MS = 120000,
    BENCH_ARGS_MAX = 32,
};

/* Far from bench's time-ordered ids, and from each other. */
#define CLIENT_ACCOUNT_BASE(client) (UINT64_C(1000) * (uint64_t)((client) + 1))
/* A debit account that is never created: a transient failure. */
#define MISSING_ACCOUNT UINT64_C(999999)

/* ------------------------------------------------------------------------ */
/* Randomness (splitmix64): one state per thread                            */

static uint64_t random_next(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [low, high]. */
static uint64_t random_range(uint64_t *state, uint64_t low, uint64_t high) {
    assert(low <= high);
    return low + random_next(state) % (high - low + 1);
}

/* ------------------------------------------------------------------------ */
/* The model of one client                                                  */

enum record_kind {
    KIND_SINGLE,
    KIND_PENDING,         /* posted or voided by a later batch */
    KIND_PENDING_CHAINED, /* posted by the next event of its own chain */
    KIND_POST,
    KIND_VOID,
};

enum record_state {
    STATE_IN_DOUBT, /* sent, no answer yet */
    STATE_APPLIED,
    STATE_FAILED,
};

/* One event the client sent, and what it knows about it. */
typedef struct record {
    ledger_transfer_t request; /* as sent: linked flag, zero timestamp */
    uint64_t timestamp;        /* once applied */
    uint64_t pending_amount;   /* posts and voids: of their pending transfer */
    uint32_t chain_first;      /* record index of its chain's first event */
    uint32_t chain_count;      /* events of its chain; 0 when not chained */
    uint32_t expected;         /* the model's result for the first sending */
    uint8_t kind;
    uint8_t state;
} record_t;

/* A batch: records first..first+count-1, sent in one request. */
typedef struct batch {
    uint32_t first;
    uint32_t count;
} batch_t;

typedef struct client {
    int index;
    uint64_t random;
    failures_t failures;
    pthread_t thread;
    record_t *records;
    uint32_t records_count;
    uint32_t records_capacity;
    uint32_t records_checked; /* through the server, up to here */
    uint64_t transfer_id_last;
    /* Applied pending transfers (record indexes) nobody posted yet. */
    uint32_t *open_pending;
    uint32_t open_pending_count;
    uint32_t open_pending_capacity;
    ledger_balance_t balances[CLIENT_ACCOUNTS];
    batch_t last_answered; /* count 0: none */
    batch_t in_doubt;      /* count 0: none */
    /* Figures. */
    uint64_t batches_answered;
    uint64_t doubts_applied;   /* unanswered batches found applied */
    uint64_t doubts_lost;      /* unanswered batches found absent */
} client_t;

/* What all threads share during one phase. */
typedef struct crash_run {
    uint16_t port;
    atomic_bool killing;            /* set just before the SIGKILL */
    atomic_int connected;           /* clients connected in this phase */
    _Atomic uint64_t requests_sent; /* every client, every phase */
    client_t clients[CRASH_CLIENTS];
} crash_run_t;

static crash_run_t run;

static bool result_is_transient(uint32_t code) {
    return code == LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND;
}

static uint64_t account_id(const client_t *client, uint32_t index) {
    assert(index < CLIENT_ACCOUNTS);
    return CLIENT_ACCOUNT_BASE(client->index) + index;
}

static uint32_t account_index(const client_t *client, ledger_u128_t id) {
    assert(id.hi == 0);
    uint64_t index = id.lo - CLIENT_ACCOUNT_BASE(client->index);
    assert(index < CLIENT_ACCOUNTS);
    return (uint32_t)index;
}

static record_t *record_append(client_t *client) {
    if (client->records_count == client->records_capacity) {
        uint32_t capacity = client->records_capacity ? client->records_capacity * 2 : 4096;
        record_t *bigger = realloc(client->records, capacity * sizeof *bigger);
        TEST_REQUIRE(bigger != NULL);
        client->records = bigger;
        client->records_capacity = capacity;
    }
    record_t *record = &client->records[client->records_count++];
    memset(record, 0, sizeof *record);
    record->state = STATE_IN_DOUBT;
    record->expected = LEDGER_RESULT_OK;
    return record;
}

static void open_pending_push(client_t *client, uint32_t record_index) {
    if (client->open_pending_count == client->open_pending_capacity) {
        uint32_t capacity =
            client->open_pending_capacity ? client->open_pending_capacity * 2 : 256;
        uint32_t *bigger = realloc(client->open_pending, capacity * sizeof *bigger);
        TEST_REQUIRE(bigger != NULL);
        client->open_pending = bigger;
        client->open_pending_capacity = capacity;
    }
    client->open_pending[client->open_pending_count++] = record_index;
}

/* Takes a random applied, unposted pending transfer out of the list. */
static uint32_t open_pending_take(client_t *client) {
    assert(client->open_pending_count > 0);
    uint32_t slot = (uint32_t)random_range(&client->random, 0,
                                           client->open_pending_count - 1);
    uint32_t record_index = client->open_pending[slot];
    client->open_pending[slot] = client->open_pending[--client->open_pending_count];
    return record_index;
}

/* The transfer as the server must store it once applied. */
static ledger_transfer_t record_stored(const record_t *record) {
    ledger_transfer_t stored = record->request;
    stored.flags &= (uint16_t)~LEDGER_TRANSFER_LINKED;
    stored.timestamp = record->timestamp;
    if (record->kind == KIND_POST && stored.amount == 0) {
        stored.amount = record->pending_amount; /* 0 posts it all */
    }
    return stored;
}

/* Applies an event the server applied to the model's balances. */
static void record_apply(client_t *client, const record_t *record) {
    const ledger_transfer_t *t = &record->request;
    ledger_balance_t *debit = &client->balances[account_index(client, t->debit_account_id)];
    ledger_balance_t *credit = &client->balances[account_index(client, t->credit_account_id)];
    uint64_t amount = record_stored(record).amount;
    switch (record->kind) {
    case KIND_SINGLE:
        debit->debits_posted += amount;
        credit->credits_posted += amount;
        break;
    case KIND_PENDING:
    case KIND_PENDING_CHAINED:
        debit->debits_pending += amount;
        credit->credits_pending += amount;
        break;
    case KIND_POST:
    case KIND_VOID:
        assert(debit->debits_pending >= record->pending_amount);
        debit->debits_pending -= record->pending_amount;
        credit->credits_pending -= record->pending_amount;
        if (record->kind == KIND_POST) {
            debit->debits_posted += amount;
            credit->credits_posted += amount;
        }
        break;
    default:
        assert(false);
    }
}

/* ------------------------------------------------------------------------ */
/* Planning batches                                                         */

/* A transfer between two different random accounts of the client. */
static ledger_transfer_t plan_transfer(client_t *client) {
    uint32_t debit = (uint32_t)random_range(&client->random, 0, CLIENT_ACCOUNTS - 1);
    uint32_t credit = (uint32_t)random_range(&client->random, 0, CLIENT_ACCOUNTS - 2);
    if (credit >= debit) credit++;
    return transfer_make(++client->transfer_id_last, account_id(client, debit),
                         account_id(client, credit),
                         random_range(&client->random, 1, AMOUNT_MAX));
}

static void plan_single(client_t *client) {
    record_t *record = record_append(client);
    record->kind = KIND_SINGLE;
    record->request = plan_transfer(client);
    record->request.id.hi = (uint64_t)client->index + 1;
}

static void plan_pending(client_t *client, uint8_t kind) {
    record_t *record = record_append(client);
    record->kind = kind;
    record->request = plan_transfer(client);
    record->request.id.hi = (uint64_t)client->index + 1;
    record->request.flags = LEDGER_TRANSFER_PENDING;
    record->request.timeout = PENDING_TIMEOUT_S;
}

/* A post (full, partial, or amount 0 meaning full) or a void of the
 * pending transfer in record `pending_index`. Every optional field is set
 * to the pending transfer's value, as a careful client would. */
static void plan_resolve(client_t *client, uint32_t pending_index, bool void_it) {
    ledger_transfer_t pending = client->records[pending_index].request;
    record_t *record = record_append(client);
    record->kind = void_it ? KIND_VOID : KIND_POST;
    record->pending_amount = pending.amount;
    ledger_transfer_t *t = &record->request;
    *t = pending;
    t->id = ledger_u128_from_u64(++client->transfer_id_last);
    t->id.hi = (uint64_t)client->index + 1;
    t->pending_id = pending.id;
    t->timeout = 0;
    t->flags = void_it ? LEDGER_TRANSFER_VOID_PENDING : LEDGER_TRANSFER_POST_PENDING;
    uint64_t choice = random_range(&client->random, 0, 2);
    if (!void_it && choice == 0) t->amount = 0;
    if (!void_it && choice == 1) {
        t->amount = random_range(&client->random, 1, pending.amount);
    }
}

/* A linked chain of `count` events; when `fail`, its middle event fails
 * (permanently: debit = credit; or transiently: no such debit account). */
static void plan_chain(client_t *client, uint32_t count, bool fail) {
    uint32_t first = client->records_count;
    /* A failing chain with a pending transfer and its post needs a third
     * event to fail after them. */
    bool with_pending = random_range(&client->random, 0, 2) == 0 && (!fail || count >= 3);
    for (uint32_t i = 0; i < count; i++) {
        if (with_pending && i == 0) {
            plan_pending(client, KIND_PENDING_CHAINED);
        } else if (with_pending && i == 1) {
            plan_resolve(client, first, false);
        } else {
            plan_single(client);
        }
    }
    uint32_t failing = count / 2;
    if (with_pending && failing < 2) failing = 2;
    for (uint32_t i = 0; i < count; i++) {
        record_t *record = &client->records[first + i];
        record->chain_first = first;
        record->chain_count = count;
        if (i + 1 < count) record->request.flags |= LEDGER_TRANSFER_LINKED;
        if (fail) record->expected = LEDGER_RESULT_LINKED_EVENT_FAILED;
    }
    if (!fail) return;
    record_t *bad = &client->records[first + failing];
    assert(bad->kind == KIND_SINGLE);
    if (random_range(&client->random, 0, 1) == 0) {
        bad->request.credit_account_id = bad->request.debit_account_id;
        bad->expected = LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT;
    } else {
        bad->request.debit_account_id = ledger_u128_from_u64(MISSING_ACCOUNT);
        bad->expected = LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND;
    }
}

/* Appends a new batch of 1..BATCH_EVENTS_MAX events to the records. */
static batch_t plan_batch(client_t *client) {
    batch_t batch = {client->records_count, 0};
    uint32_t target = (uint32_t)random_range(&client->random, 1, BATCH_EVENTS_MAX);
    while (client->records_count - batch.first < target) {
        uint32_t room = target - (client->records_count - batch.first);
        uint64_t dice = random_range(&client->random, 0, 99);
        if (dice < 35) {
            plan_single(client);
        } else if (dice < 55) {
            plan_pending(client, KIND_PENDING);
        } else if (dice < 75 && client->open_pending_count > 0) {
            plan_resolve(client, open_pending_take(client),
                         random_range(&client->random, 0, 4) == 0);
        } else if (room >= 2) {
            uint32_t count = (uint32_t)random_range(
                &client->random, 2, room < CHAIN_EVENTS_MAX ? room : CHAIN_EVENTS_MAX);
            plan_chain(client, count, random_range(&client->random, 0, 2) == 0);
        } else {
            plan_single(client);
        }
    }
    batch.count = client->records_count - batch.first;
    assert(batch.count >= 1 && batch.count <= BATCH_EVENTS_MAX);
    return batch;
}

/* ------------------------------------------------------------------------ */
/* Sending batches and judging the answers                                  */

enum submit_outcome {
    SUBMIT_ANSWERED,
    SUBMIT_LOST,   /* the connection ended: the server was killed */
    SUBMIT_BROKEN, /* a protocol failure, already noted */
};

/* Sends one batch and waits for its answer (codes, timestamps). */
static int batch_submit(client_t *client, conn_t *conn, batch_t batch,
                        uint32_t *codes, uint64_t *timestamps) {
    ledger_transfer_t events[BATCH_EVENTS_MAX];
    for (uint32_t i = 0; i < batch.count; i++) {
        events[i] = client->records[batch.first + i].request;
    }
    uint64_t request_id = ++conn->request_id_last;
    wire_t wire = request_create_transfers(request_id, events, batch.count);
    int error = conn_send(conn, wire.bytes, wire.size);
    free(wire.bytes);
    atomic_fetch_add(&run.requests_sent, 1);
    response_t *response = NULL;
    int outcome = error == 0 ? conn_receive(conn, RESPONSE_TIMEOUT_MS, &response)
                             : RECEIVE_CLOSED;
    if (outcome != RECEIVE_OK) {
        if (atomic_load(&run.killing) && outcome != RECEIVE_TIMEOUT) return SUBMIT_LOST;
        FAIL(&client->failures, "request %" PRIu64 ": %s (send: %s)", request_id,
             receive_outcome_name(outcome), strerror(error));
        return SUBMIT_BROKEN;
    }
    bool ok = response->request_id == request_id &&
              response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                              BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS,
                              &client->failures) &&
              event_results_copy(response->create_transfers->results,
                                 response->create_transfers->n_results, batch.count,
                                 codes, timestamps, &client->failures);
    if (response->request_id != request_id) {
        FAIL(&client->failures, "answer to request %" PRIu64 ", expected %" PRIu64,
             response->request_id, request_id);
    }
    frame_response_free(response);
    return ok ? SUBMIT_ANSWERED : SUBMIT_BROKEN;
}

static void record_applied(client_t *client, uint32_t index, uint64_t timestamp) {
    record_t *record = &client->records[index];
    record->state = STATE_APPLIED;
    record->timestamp = timestamp;
    record_apply(client, record);
    if (record->kind == KIND_PENDING) open_pending_push(client, index);
}

/* The first answer to a batch: every code must be the model's. */
static void batch_settle(client_t *client, batch_t batch, const uint32_t *codes,
                         const uint64_t *timestamps) {
    for (uint32_t i = 0; i < batch.count; i++) {
        record_t *record = &client->records[batch.first + i];
        if (codes[i] != record->expected) {
            FAIL(&client->failures, "transfer %" PRIu64 ": %s, expected %s",
                 record->request.id.lo, ledger_result_name(codes[i]),
                 ledger_result_name(record->expected));
        }
        if (record->expected == LEDGER_RESULT_OK && codes[i] == LEDGER_RESULT_OK) {
            record_applied(client, batch.first + i, timestamps[i]);
        } else {
            record->state = STATE_FAILED;
        }
    }
}

/* A failed event sent again: the same failure, except that a transient
 * one was recorded (`id_already_failed`) when `committed` or maybe. */
static bool failure_repeats(const record_t *record, uint32_t code, bool maybe_recorded) {
    if (code == record->expected && !result_is_transient(code)) return true;
    if (!result_is_transient(record->expected)) return false;
    if (code == LEDGER_RESULT_ID_ALREADY_FAILED) return true;
    return maybe_recorded && code == record->expected;
}

/* The answer to an unanswered batch sent again: either every event the
 * model expects to succeed is `ok` (the batch was lost) or every one is
 * `exists` (it was applied before the kill); never a mix. */
static void batch_resolve(client_t *client, batch_t batch, const uint32_t *codes,
                          const uint64_t *timestamps) {
    uint32_t ok_count = 0, exists_count = 0;
    for (uint32_t i = 0; i < batch.count; i++) {
        record_t *record = &client->records[batch.first + i];
        if (record->expected != LEDGER_RESULT_OK) {
            if (!failure_repeats(record, codes[i], true)) {
                FAIL(&client->failures, "resent transfer %" PRIu64 ": %s, expected %s",
                     record->request.id.lo, ledger_result_name(codes[i]),
                     ledger_result_name(record->expected));
            }
            record->state = STATE_FAILED;
            continue;
        }
        if (codes[i] == LEDGER_RESULT_OK) ok_count++;
        else if (codes[i] == LEDGER_RESULT_EXISTS) exists_count++;
        else FAIL(&client->failures, "resent transfer %" PRIu64 ": %s",
                  record->request.id.lo, ledger_result_name(codes[i]));
        record_applied(client, batch.first + i, timestamps[i]);
    }
    if (ok_count > 0 && exists_count > 0) {
        FAIL(&client->failures, "request half applied: %u ok, %u exists",
             ok_count, exists_count);
    }
    if (exists_count > 0) client->doubts_applied++;
    else if (ok_count > 0) client->doubts_lost++;
}

/* An answered batch sent again: `exists` with the stored timestamp for
 * every applied event, the same failure for every failed one. */
static void batch_replay_check(client_t *client, batch_t batch, const uint32_t *codes,
                               const uint64_t *timestamps) {
    for (uint32_t i = 0; i < batch.count; i++) {
        const record_t *record = &client->records[batch.first + i];
        bool good = record->state == STATE_APPLIED
                        ? codes[i] == LEDGER_RESULT_EXISTS &&
                              timestamps[i] == record->timestamp
                        : failure_repeats(record, codes[i], false);
        if (!good) {
            FAIL(&client->failures,
                 "replayed transfer %" PRIu64 " (%s): %s ts %" PRIu64
                 ", stored ts %" PRIu64,
                 record->request.id.lo,
                 record->state == STATE_APPLIED ? "applied" : "failed",
                 ledger_result_name(codes[i]), timestamps[i], record->timestamp);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Client threads                                                           */

static bool client_connect(client_t *client, conn_t *conn) {
    bool connected = conn_open(conn, run.port, &client->failures);
    atomic_fetch_add(&run.connected, 1);
    return connected;
}

/* Load: new batches, one in flight, until the connection dies. */
static void *client_load(void *argument) {
    client_t *client = argument;
    conn_t conn;
    if (!client_connect(client, &conn)) return NULL;
    uint32_t codes[BATCH_EVENTS_MAX];
    uint64_t timestamps[BATCH_EVENTS_MAX];
    uint64_t deadline = now_us() + CYCLE_DURATION_MAX_MS * UINT64_C(1000);
    for (uint32_t n = 0; n < CYCLE_BATCHES_MAX && now_us() < deadline; n++) {
        if (client->records_count + BATCH_EVENTS_MAX > CLIENT_RECORDS_MAX) {
            sleep_ms(10); /* the model is full: keep the connection only */
            continue;
        }
        assert(client->in_doubt.count == 0);
        batch_t batch = plan_batch(client);
        client->in_doubt = batch;
        int outcome = batch_submit(client, &conn, batch, codes, timestamps);
        if (outcome != SUBMIT_ANSWERED) break;
        batch_settle(client, batch, codes, timestamps);
        client->last_answered = batch;
        client->in_doubt.count = 0;
        client->batches_answered++;
    }
    conn_close(&conn);
    return NULL;
}

/* Sends `batch` again; false when no answer came (noted). */
static bool batch_resend(client_t *client, conn_t *conn, batch_t batch,
                         uint32_t *codes, uint64_t *timestamps) {
    if (batch_submit(client, conn, batch, codes, timestamps) == SUBMIT_ANSWERED) {
        return true;
    }
    FAIL(&client->failures, "no answer to a resent batch");
    return false;
}

/* After a restart: the last answered batch again, then the unanswered one
 * (which settles it), then that one again. */
static void *client_recover(void *argument) {
    client_t *client = argument;
    conn_t conn;
    if (!client_connect(client, &conn)) return NULL;
    uint32_t codes[BATCH_EVENTS_MAX];
    uint64_t timestamps[BATCH_EVENTS_MAX];
    batch_t last = client->last_answered;
    if (last.count > 0 && batch_resend(client, &conn, last, codes, timestamps)) {
        batch_replay_check(client, last, codes, timestamps);
    }
    batch_t doubt = client->in_doubt;
    if (doubt.count > 0 && batch_resend(client, &conn, doubt, codes, timestamps)) {
        batch_resolve(client, doubt, codes, timestamps);
        client->last_answered = doubt;
        client->in_doubt.count = 0;
        if (batch_resend(client, &conn, doubt, codes, timestamps)) {
            batch_replay_check(client, doubt, codes, timestamps);
        }
    }
    conn_close(&conn);
    return NULL;
}

/* Runs `body` on every client, each in its own thread, and waits. */
static void clients_start(void *(*body)(void *)) {
    atomic_store(&run.connected, 0);
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        TEST_REQUIRE(pthread_create(&run.clients[c].thread, NULL, body,
                                    &run.clients[c]) == 0);
    }
}

static void clients_join(void) {
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        pthread_join(run.clients[c].thread, NULL);
        failures_collect(&run.clients[c].failures);
    }
}

/* ------------------------------------------------------------------------ */
/* Checking the stored state against the model                             */

/* Where lookups go: the server (conn) or the data directory (ledger). */
typedef struct target {
    conn_t *conn;
    ledger_t *ledger;
} target_t;

static bool target_lookup_transfers(target_t target, const ledger_u128_t *ids,
                                    uint32_t count, ledger_transfer_t *out,
                                    uint32_t *found) {
    if (target.conn != NULL) {
        return lookup_transfers_call(target.conn, ids, count, out, found, &case_failures);
    }
    int rc = ledger_lookup_transfers(target.ledger, ids, count, out, found);
    TEST_CHECK_EQ(rc, 0);
    return rc == 0;
}

static bool target_lookup_accounts(target_t target, const ledger_u128_t *ids,
                                   uint32_t count, ledger_account_t *out,
                                   uint32_t *found) {
    if (target.conn != NULL) {
        return lookup_accounts_call(target.conn, ids, count, out, found, &case_failures);
    }
    int rc = ledger_lookup_accounts(target.ledger, ids, count, out, found);
    TEST_CHECK_EQ(rc, 0);
    return rc == 0;
}

/* Compares records first..first+count-1 (count <= LOOKUP_CHUNK) with what
 * the target stores: applied ones identical, failed ones absent. Marks
 * each found one in `present`. */
static void records_chunk_check(client_t *client, target_t target, uint32_t first,
                                uint32_t count, bool *present) {
    static ledger_u128_t ids[LOOKUP_CHUNK];
    static ledger_transfer_t found[LOOKUP_CHUNK];
    for (uint32_t i = 0; i < count; i++) ids[i] = client->records[first + i].request.id;
    uint32_t found_count = 0;
    if (!target_lookup_transfers(target, ids, count, found, &found_count)) return;
    uint32_t next = 0; /* found ones come in the order of ids */
    for (uint32_t i = 0; i < count; i++) {
        const record_t *record = &client->records[first + i];
        TEST_CHECK(record->state != STATE_IN_DOUBT);
        present[i] = next < found_count && ledger_u128_equal(found[next].id, ids[i]);
        if (record->state == STATE_APPLIED && !present[i]) {
            printf("# client %d: acknowledged transfer %" PRIu64 " is missing\n",
                   client->index, ids[i].lo);
            test_failures_in_case++;
        } else if (record->state == STATE_APPLIED) {
            ledger_transfer_t expected = record_stored(record);
            transfer_check("transfer", &found[next], &expected, &case_failures);
        } else if (present[i]) {
            printf("# client %d: failed transfer %" PRIu64 " is present\n",
                   client->index, ids[i].lo);
            test_failures_in_case++;
        }
        if (present[i]) next++;
    }
    TEST_CHECK_EQ(next, found_count);
}

/* Every linked chain among records from..to-1: all present or none. */
static void chains_check(const client_t *client, uint32_t from, uint32_t to,
                         const bool *present) {
    for (uint32_t i = from; i < to; i++) {
        const record_t *record = &client->records[i];
        if (record->chain_count == 0 || record->chain_first != i) continue;
        uint32_t count = 0;
        for (uint32_t k = 0; k < record->chain_count; k++) count += present[i - from + k];
        if (count != 0 && count != record->chain_count) {
            printf("# client %d: chain at transfer %" PRIu64 " half applied: %u of %u\n",
                   client->index, record->request.id.lo, count, record->chain_count);
            test_failures_in_case++;
        }
    }
}

/* Records from..to-1 of a client (batch boundaries, so whole chains). */
static void records_check(client_t *client, target_t target, uint32_t from,
                          uint32_t to) {
    if (to <= from) return;
    bool *present = xcalloc(to - from, sizeof *present);
    for (uint32_t first = from; first < to; first += LOOKUP_CHUNK) {
        uint32_t count = to - first < LOOKUP_CHUNK ? to - first : LOOKUP_CHUNK;
        records_chunk_check(client, target, first, count, present + (first - from));
    }
    chains_check(client, from, to, present);
    free(present);
    failures_collect(&case_failures);
}

/* Every account of the client has the model's balances. */
static void accounts_check(const client_t *client, target_t target) {
    ledger_u128_t ids[CLIENT_ACCOUNTS];
    ledger_account_t found[CLIENT_ACCOUNTS];
    for (uint32_t i = 0; i < CLIENT_ACCOUNTS; i++) {
        ids[i] = ledger_u128_from_u64(account_id(client, i));
    }
    uint32_t found_count = 0;
    if (!target_lookup_accounts(target, ids, CLIENT_ACCOUNTS, found, &found_count)) {
        return;
    }
    TEST_CHECK_EQ(found_count, CLIENT_ACCOUNTS);
    for (uint32_t i = 0; i < found_count && i < CLIENT_ACCOUNTS; i++) {
        const ledger_balance_t *model = &client->balances[i];
        ledger_balance_t stored = balance_of_account(&found[i]);
        if (stored.debits_pending != model->debits_pending ||
            stored.debits_posted != model->debits_posted ||
            stored.credits_pending != model->credits_pending ||
            stored.credits_posted != model->credits_posted) {
            printf("# client %d account %" PRIu64 ": stored dp %" PRIu64 " dP %" PRIu64
                   " cp %" PRIu64 " cP %" PRIu64 ", model dp %" PRIu64 " dP %" PRIu64
                   " cp %" PRIu64 " cP %" PRIu64 "\n",
                   client->index, ids[i].lo, stored.debits_pending,
                   stored.debits_posted, stored.credits_pending, stored.credits_posted,
                   model->debits_pending, model->debits_posted,
                   model->credits_pending, model->credits_posted);
            test_failures_in_case++;
        }
    }
}

/* Through the server: what was sent since the last check, and balances. */
static void server_state_check(const server_t *server) {
    conn_t conn;
    TEST_REQUIRE(conn_open(&conn, server->port, &case_failures));
    target_t target = {&conn, NULL};
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        client_t *client = &run.clients[c];
        records_check(client, target, client->records_checked, client->records_count);
        client->records_checked = client->records_count;
        accounts_check(client, target);
    }
    conn_close(&conn);
    failures_collect(&case_failures);
}

/* The server stopped: ledger_verify() on the data directory, then every
 * record and account of every client against the model. */
static void offline_check(const server_t *server) {
    ledger_options_t options;
    memset(&options, 0, sizeof options);
    options.read_only = true;
    ledger_t *ledger = NULL;
    int rc = ledger_open(server->data, &options, &ledger);
    if (rc != 0) {
        printf("# ledger_open(%s, read-only): %s: %s\n", server->data,
               ledger_strerror(rc), ledger_last_error_message(NULL));
    }
    TEST_REQUIRE(rc == 0);
    ledger_verify_report_t report;
    memset(&report, 0, sizeof report);
    rc = ledger_verify(ledger, &report, NULL, NULL);
    if (rc != 0) {
        printf("# ledger_verify: %s; sequence %" PRIu64 ": %s\n", ledger_strerror(rc),
               report.first_bad_sequence, report.message);
    }
    TEST_CHECK_EQ(rc, 0);
    TEST_CHECK(report.records_checked > 0);
    target_t target = {NULL, ledger};
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        records_check(&run.clients[c], target, 0, run.clients[c].records_count);
        accounts_check(&run.clients[c], target);
    }
    TEST_CHECK_EQ(ledger_close(ledger), 0);
    printf("# verified in-process: %" PRIu64 " journal records, %" PRIu64
           " accounts\n", report.records_checked, report.accounts_checked);
}

/* ------------------------------------------------------------------------ */
/* bench as background load                                                 */

static pid_t bench_pid;        /* 0 when not running */
static server_t *server_alive; /* for the atexit handler */

static void processes_reap_at_exit(void) {
    if (bench_pid > 0) {
        kill(bench_pid, SIGKILL);
        (void)waitpid(bench_pid, NULL, 0);
        bench_pid = 0;
    }
    if (server_alive != NULL) server_kill_hard(server_alive);
}

/* Starts `borsellino bench` against the server; `kill_expected` runs it
 * for long (it will be interrupted) without its verification. */
static void bench_start(const server_t *server, int number, uint64_t seed,
                        bool kill_expected) {
    const char *binary = getenv("BORSELLINO");
    TEST_REQUIRE(binary != NULL && binary[0] != '\0');
    char address[64], seed_text[32], log_path[PATH_MAX + 32];
    snprintf(address, sizeof address, "127.0.0.1:%u", server->port);
    snprintf(seed_text, sizeof seed_text, "%" PRIu64, seed);
    snprintf(log_path, sizeof log_path, "%s/bench-%d.log", server->directory, number);
    char *argv[BENCH_ARGS_MAX] = {
        (char *)binary, "bench", "--addr", address, "--connections", "2",
        "--batch", "200", "--accounts", "500", "--pending-share", "0.2",
        "--seed", seed_text, "--timeout-ms", "10000"};
    int argc = 16;
    if (kill_expected) {
        argv[argc++] = "--duration";
        argv[argc++] = "60";
        argv[argc++] = "--no-verify";
    } else {
        argv[argc++] = "--transfers";
        argv[argc++] = "20000";
    }
    assert(argc < BENCH_ARGS_MAX);
    fflush(stdout);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) server_exec(log_path, argv); /* same child setup */
    bench_pid = pid;
}

/* Waits for bench to end (SIGKILL after timeout_ms); its wait status, or
 * -1 when it had to be killed. */
static int bench_reap(uint32_t timeout_ms) {
    if (bench_pid == 0) return -1;
    uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
    int status = 0;
    while (now_us() < deadline) {
        if (waitpid(bench_pid, &status, WNOHANG) == bench_pid) {
            bench_pid = 0;
            return status;
        }
        sleep_ms(5);
    }
    printf("# bench did not end within %u ms: killed\n", timeout_ms);
    kill(bench_pid, SIGKILL);
    (void)waitpid(bench_pid, &status, 0);
    bench_pid = 0;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* The cycles                                                               */

/* Waits a random moment into the load; sometimes until a request was just
 * sent and a little more, so that the kill lands while a group is being
 * written or just after its commit. */
static void kill_moment_wait(uint64_t *random) {
    sleep_ms((uint32_t)random_range(random, KILL_DELAY_MIN_MS, KILL_DELAY_MAX_MS));
    if (random_range(random, 1, KILL_AFTER_SEND_ONE_IN) != 1) return;
    uint64_t sent = atomic_load(&run.requests_sent);
    uint64_t deadline = now_us() + KILL_AFTER_SEND_WAIT_MAX_MS * UINT64_C(1000);
    while (atomic_load(&run.requests_sent) == sent && now_us() < deadline) {
    }
    uint64_t jitter_us = random_range(random, 0, KILL_AFTER_SEND_JITTER_MAX_US);
    struct timespec pause = {0, (long)jitter_us * 1000L};
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
    }
}

/* Waits (bounded) until every client thread tried to connect. */
static void clients_connected_wait(void) {
    uint64_t deadline = now_us() + CONNECT_TIMEOUT_MS * UINT64_C(2000);
    while (atomic_load(&run.connected) < CRASH_CLIENTS && now_us() < deadline) {
        sleep_ms(1);
    }
}

/* Load with bench alongside, then SIGKILL; returns the answered batches. */
static uint64_t load_and_kill(server_t *server, int kill_number, uint64_t *random) {
    uint64_t answered_before = 0;
    for (int c = 0; c < CRASH_CLIENTS; c++) answered_before += run.clients[c].batches_answered;
    atomic_store(&run.killing, false);
    run.port = server->port;
    bench_start(server, kill_number, random_next(random), true);
    clients_start(client_load);
    clients_connected_wait();
    kill_moment_wait(random);
    atomic_store(&run.killing, true);
    int status = 0;
    TEST_CHECK(waitpid(server->pid, &status, WNOHANG) == 0); /* still alive */
    server_kill_hard(server);
    clients_join();
    (void)bench_reap(BENCH_EXIT_TIMEOUT_MS);
    uint64_t answered = 0;
    for (int c = 0; c < CRASH_CLIENTS; c++) answered += run.clients[c].batches_answered;
    return answered - answered_before;
}

/* After a restart: clients resend, then everything is compared. */
static void recover_and_check(server_t *server) {
    atomic_store(&run.killing, false);
    run.port = server->port;
    clients_start(client_recover);
    clients_join();
    server_state_check(server);
}

static void accounts_setup(const server_t *server) {
    conn_t conn;
    TEST_REQUIRE(conn_open(&conn, server->port, &case_failures));
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        TEST_REQUIRE(create_accounts_range(&conn, CLIENT_ACCOUNT_BASE(c),
                                           CLIENT_ACCOUNTS, &case_failures));
    }
    conn_close(&conn);
}

static void clients_init(uint64_t seed) {
    memset(&run, 0, sizeof run);
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        client_t *client = &run.clients[c];
        client->index = c;
        client->random = seed ^ (UINT64_C(0x5851F42D4C957F2D) * (uint64_t)(c + 1));
        client->failures.who = "client";
    }
}

static void clients_free(void) {
    uint64_t records = 0, answered = 0, applied = 0, lost = 0;
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        client_t *client = &run.clients[c];
        records += client->records_count;
        answered += client->batches_answered;
        applied += client->doubts_applied;
        lost += client->doubts_lost;
        free(client->records);
        free(client->open_pending);
    }
    printf("# clients: %" PRIu64 " transfers in %" PRIu64 " answered batches; "
           "unanswered batches at kills: %" PRIu64 " found applied, %" PRIu64
           " found lost\n", records, answered, applied, lost);
}

static void stop_and_verify(server_t *server) {
    server_stop(server);
    offline_check(server);
}

static void test_crash_under_load(void) {
    uint64_t seed = test_seed != 0 ? test_seed : (uint64_t)time(NULL) ^ now_us();
    uint64_t kills = test_ops != 0 ? test_ops : CRASH_KILLS_DEFAULT;
    printf("# seed %" PRIu64 " (replay with --seed %" PRIu64 "), %" PRIu64 " kills\n",
           seed, seed, kills);
    uint64_t random = seed;
    uint64_t started_us = now_us();
    static server_t server;
    server_init(&server, "server-crash", NULL);
    server_alive = &server;
    clients_init(seed);
    TEST_REQUIRE(server_start(&server));
    accounts_setup(&server);
    uint64_t verify_every = kills / CRASH_VERIFICATIONS_LONG > CRASH_VERIFY_EVERY
                                ? kills / CRASH_VERIFICATIONS_LONG
                                : CRASH_VERIFY_EVERY;
    uint64_t kills_done = 0, verifications = 0;
    for (uint64_t k = 1; k <= kills && test_failures_in_case == 0; k++) {
        uint64_t answered = load_and_kill(&server, (int)k, &random);
        kills_done++;
        if (answered == 0) printf("# kill %" PRIu64 ": no batch answered\n", k);
        if (!server_start(&server)) break;
        recover_and_check(&server);
        if (k % verify_every == 0 && k != kills) {
            stop_and_verify(&server);
            verifications++;
            if (!server_start(&server)) break;
        }
    }
    /* bench on its own, uninterrupted: its balance verification passes. */
    if (server.pid != 0) {
        bench_start(&server, 0, random_next(&random), false);
        int status = bench_reap(BENCH_FINAL_TIMEOUT_MS);
        TEST_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        server_state_check(&server);
        stop_and_verify(&server);
        verifications++;
    }
    TEST_CHECK_EQ(kills_done, kills);
    printf("# %" PRIu64 " kills, %" PRIu64 " in-process verifications, %.1f s\n",
           kills_done, verifications, (double)(now_us() - started_us) / 1e6);
    clients_free();
    server_destroy(&server);
    server_alive = NULL;
}

int main(int argc, char **argv) {
    /* A write to a connection the server closed must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (server_binary() == NULL || getenv("BORSELLINO") == NULL) {
        printf("1..0 # SKIP BORSELLINOD or BORSELLINO is not set (run through meson test)\n");
        return 0;
    }
    atexit(processes_reap_at_exit);
    static const test_case_t cases[] = {
        {"crash_under_load", test_crash_under_load},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
