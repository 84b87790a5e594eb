/*
 * bench_worker.c — one connection of `borsellino bench`: builds batches of
 * transfers, keeps at most in_flight requests on the wire, and accounts for
 * every answer (bench.h states the invariants).
 *
 * Workload per batch: `batch` events, each a post of an acknowledged
 * pending transfer (with probability pending_share, when one waits), else a
 * new transfer between two distinct accounts (one of them the hot account
 * 0 with probability hot_share), created pending with probability
 * pending_share. Amounts are 1..BENCH_AMOUNT_MAX. Requests are ledger
 * transfers in storage reused for every request, encoded by hand by
 * client_send_transfers (zero ids left out, so the frames are as small as
 * a careful client's), and plain answers are read straight into a results
 * array (client_receive_results): building and reading 8,000 protobuf-c
 * messages per request cost the load generator more CPU than the server's
 * own decoding, on the same two cores.
 *
 * With --rate, each worker sends its share (rate / connections) on a fixed
 * schedule from its start: a request goes when transfers_sent / share
 * seconds have passed, so a late answer is caught up afterwards and the
 * mean rate holds (for the soak test, tests/test_soak.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "frame.h"

enum {
    BENCH_KIND_SINGLE = 0,
    BENCH_KIND_PENDING = 1,
    BENCH_KIND_POST = 2,
    BENCH_PENDING_QUEUE_INITIAL = 1024,
    BENCH_LATENCIES_INITIAL = 4096,
    /* Longest single sleep of a paced worker (--rate). */
    BENCH_PACE_SLEEP_MAX_MS = 20,
};

typedef struct bench_event {
    ledger_u128_t id;
    ledger_u128_t pending_id; /* posts only */
    uint32_t debit;           /* account indices */
    uint32_t credit;
    uint64_t amount;
    uint32_t kind;
} bench_event_t;

/* A request on the wire: its events, kept until the answer comes. */
typedef struct bench_slot {
    bench_event_t *events;
    uint32_t count;
    uint64_t sent_ns;
} bench_slot_t;

typedef struct bench_state {
    bench_worker_t *worker;
    const bench_config_t *config;
    bench_slot_t slots[BENCH_IN_FLIGHT_MAX];
    uint32_t slot_head; /* oldest in flight */
    uint32_t slots_used;
    /* Pending transfers answered OK and not yet posted, oldest first. */
    bench_event_t *pending;
    size_t pending_head;
    size_t pending_count;
    size_t pending_capacity;
    /* One request's transfers and one answer's results, reused. */
    ledger_transfer_t *transfers;
    frame_event_result_t *results;
} bench_state_t;

uint64_t bench_random(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

uint64_t bench_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* True with probability `share`. */
static bool bench_chance(uint64_t *state, double share) {
    if (share <= 0) return false;
    return (double)(bench_random(state) >> 11) * 0x1p-53 < share;
}

static ledger_u128_t bench_new_id(bench_worker_t *worker) {
    if (!worker->shared->config->random_ids) return ledger_id_time_ordered();
    ledger_u128_t id = {bench_random(&worker->random_state), bench_random(&worker->random_state)};
    if (ledger_u128_is_zero(id) || ledger_u128_is_max(id)) id.lo = 1;
    return id;
}

/* ---- the queue of pending transfers waiting to be posted ---- */

static bool bench_pending_push(bench_state_t *state, const bench_event_t *event) {
    if (state->pending_count == state->pending_capacity) {
        size_t capacity = state->pending_capacity ? state->pending_capacity * 2
                                                  : BENCH_PENDING_QUEUE_INITIAL;
        bench_event_t *queue = malloc(capacity * sizeof *queue);
        if (queue == NULL) return false;
        for (size_t i = 0; i < state->pending_count; i++) {
            queue[i] = state->pending[(state->pending_head + i) % state->pending_capacity];
        }
        free(state->pending);
        state->pending = queue;
        state->pending_capacity = capacity;
        state->pending_head = 0;
    }
    state->pending[(state->pending_head + state->pending_count) % state->pending_capacity] = *event;
    state->pending_count++;
    return true;
}

static bench_event_t bench_pending_pop(bench_state_t *state) {
    bench_event_t event = state->pending[state->pending_head];
    state->pending_head = (state->pending_head + 1) % state->pending_capacity;
    state->pending_count--;
    return event;
}

/* ---- building a request ---- */

/* Picks the next event: a post of a waiting pending transfer, or a new one. */
static void bench_event_next(bench_state_t *state, bench_event_t *event) {
    bench_worker_t *worker = state->worker;
    const bench_config_t *config = state->config;
    uint64_t *random = &worker->random_state;
    if (state->pending_count > 0 && bench_chance(random, config->pending_share)) {
        bench_event_t pending = bench_pending_pop(state);
        *event = pending;
        event->kind = BENCH_KIND_POST;
        event->pending_id = pending.id;
        event->id = bench_new_id(worker);
        return;
    }
    uint32_t accounts = (uint32_t)config->accounts;
    uint32_t debit = (uint32_t)(bench_random(random) % accounts);
    uint32_t credit = (uint32_t)(bench_random(random) % (accounts - 1));
    if (credit >= debit) credit++; /* uniform over the other accounts */
    if (bench_chance(random, config->hot_share) && debit != 0 && credit != 0) {
        if (bench_random(random) & 1) debit = 0;
        else credit = 0;
    }
    event->id = bench_new_id(worker);
    event->pending_id = (ledger_u128_t){0, 0};
    event->debit = debit;
    event->credit = credit;
    event->amount = 1 + bench_random(random) % BENCH_AMOUNT_MAX;
    event->kind = bench_chance(random, config->pending_share) ? BENCH_KIND_PENDING
                                                              : BENCH_KIND_SINGLE;
}

/* Fills the transfer for `event` (storage index i). */
static void bench_event_transfer(bench_state_t *state, uint32_t i, const bench_event_t *event) {
    const ledger_u128_t *account_ids = state->worker->shared->account_ids;
    ledger_transfer_t *transfer = &state->transfers[i];
    memset(transfer, 0, sizeof(*transfer));
    transfer->id = event->id;
    if (event->kind == BENCH_KIND_POST) {
        transfer->pending_id = event->pending_id;
        transfer->flags = LEDGER_TRANSFER_POST_PENDING;
    } else {
        transfer->debit_account_id = account_ids[event->debit];
        transfer->credit_account_id = account_ids[event->credit];
        transfer->amount = event->amount;
        transfer->ledger = state->config->ledger;
        transfer->code = BENCH_CODE;
        transfer->flags = event->kind == BENCH_KIND_PENDING ? LEDGER_TRANSFER_PENDING : 0;
    }
}

/* Builds and sends the next request into a free slot. */
static int bench_send_next(bench_state_t *state, uint32_t count) {
    bench_worker_t *worker = state->worker;
    uint32_t index = (state->slot_head + state->slots_used) % state->config->in_flight;
    bench_slot_t *slot = &state->slots[index];
    for (uint32_t i = 0; i < count; i++) {
        bench_event_next(state, &slot->events[i]);
        bench_event_transfer(state, i, &slot->events[i]);
    }
    slot->count = count;
    slot->sent_ns = bench_now_ns();
    int error = client_send_transfers(worker->client, state->transfers, count);
    if (error != CLIENT_OK) return error;
    state->slots_used++;
    worker->transfers_sent += count;
    worker->requests++;
    return CLIENT_OK;
}

/* ---- answers ---- */

static bool bench_latency_record(bench_worker_t *worker, uint64_t latency_ns) {
    if (worker->latencies_count == worker->latencies_capacity) {
        uint64_t capacity = worker->latencies_capacity ? worker->latencies_capacity * 2
                                                       : BENCH_LATENCIES_INITIAL;
        uint64_t *latencies = realloc(worker->latencies_ns, capacity * sizeof *latencies);
        if (latencies == NULL) return false;
        worker->latencies_ns = latencies;
        worker->latencies_capacity = capacity;
    }
    worker->latencies_ns[worker->latencies_count++] = latency_ns;
    return true;
}

/* Adds an acknowledged event to the expected balances. */
static void bench_expect(bench_state_t *state, const bench_event_t *event) {
    bench_expected_t *debit = &state->worker->shared->expected[event->debit];
    bench_expected_t *credit = &state->worker->shared->expected[event->credit];
    const memory_order relaxed = memory_order_relaxed;
    if (event->kind == BENCH_KIND_SINGLE) {
        atomic_fetch_add_explicit(&debit->debits_posted, event->amount, relaxed);
        atomic_fetch_add_explicit(&credit->credits_posted, event->amount, relaxed);
    } else if (event->kind == BENCH_KIND_PENDING) {
        atomic_fetch_add_explicit(&debit->debits_pending, event->amount, relaxed);
        atomic_fetch_add_explicit(&credit->credits_pending, event->amount, relaxed);
    } else {
        atomic_fetch_sub_explicit(&debit->debits_pending, event->amount, relaxed);
        atomic_fetch_sub_explicit(&credit->credits_pending, event->amount, relaxed);
        atomic_fetch_add_explicit(&debit->debits_posted, event->amount, relaxed);
        atomic_fetch_add_explicit(&credit->credits_posted, event->amount, relaxed);
    }
}

/* Notes the first failure of this worker for the report. */
static void bench_note(bench_worker_t *worker, const char *what, const char *detail) {
    if (worker->message[0] != '\0') return;
    snprintf(worker->message, sizeof worker->message, "connection %u: %s%s%s", worker->index,
             what, detail[0] ? ": " : "", detail);
}

/* Accounts for the answer to one request: `results` (count of them) when
 * it was a plain answer, else `response`. Returns 0 or a client error. */
static int bench_account_response(bench_state_t *state, const bench_slot_t *slot,
                                  const frame_event_result_t *results, uint32_t count,
                                  const Borsellino__V1__Response *response) {
    bench_worker_t *worker = state->worker;
    uint64_t errors = 0;
    if (response != NULL) {
        /* Not in the plain form: read it from the decoded message. */
        const Borsellino__V1__CreateTransfersResponse *answer =
            response->status == BORSELLINO__V1__STATUS__STATUS_OK &&
                    response->result_case == BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS
                ? response->create_transfers
                : NULL;
        count = answer != NULL && answer->n_results <= state->config->batch
                    ? (uint32_t)answer->n_results
                    : 0;
        for (uint32_t i = 0; i < count; i++) {
            state->results[i].result = (uint32_t)answer->results[i]->result;
            state->results[i].timestamp = answer->results[i]->timestamp;
        }
        results = state->results;
        if (answer == NULL) {
            bench_note(worker, client_status_message(response->status),
                       response->message ? response->message : "");
            count = UINT32_MAX; /* every transfer of the slot failed */
        }
    }
    if (count != slot->count) {
        bench_note(worker, "wrong answer", "not one result per transfer");
        errors = slot->count;
    } else {
        for (uint32_t i = 0; i < slot->count; i++) {
            uint32_t result = results[i].result;
            const bench_event_t *event = &slot->events[i];
            if (result != LEDGER_RESULT_OK) {
                bench_note(worker, "transfer refused", ledger_result_name(result));
                errors++;
                continue;
            }
            bench_expect(state, event);
            if (event->kind == BENCH_KIND_PENDING && !bench_pending_push(state, event)) {
                return CLIENT_ERR_NO_MEMORY;
            }
        }
    }
    worker->transfers_answered += slot->count;
    atomic_fetch_add_explicit(&worker->shared->transfers_done, slot->count, memory_order_relaxed);
    if (errors) atomic_fetch_add_explicit(&worker->shared->errors, errors, memory_order_relaxed);
    return CLIENT_OK;
}

/* Receives the answer to the oldest request in flight. */
static int bench_receive_one(bench_state_t *state) {
    bench_worker_t *worker = state->worker;
    Borsellino__V1__Response *response = NULL;
    uint32_t count = 0;
    int error = client_receive_results(worker->client, state->results, state->config->batch,
                                       &count, &response);
    if (error != CLIENT_OK) return error;
    bench_slot_t *slot = &state->slots[state->slot_head];
    uint64_t latency_ns = bench_now_ns() - slot->sent_ns;
    error = bench_account_response(state, slot, state->results, count, response);
    frame_response_free(response);
    if (error == CLIENT_OK && !bench_latency_record(worker, latency_ns)) error = CLIENT_ERR_NO_MEMORY;
    state->slot_head = (state->slot_head + 1) % state->config->in_flight;
    state->slots_used--;
    return error;
}

/* ---- the loop ---- */

static bool bench_state_init(bench_state_t *state, bench_worker_t *worker) {
    memset(state, 0, sizeof *state);
    state->worker = worker;
    state->config = worker->shared->config;
    uint32_t batch = state->config->batch;
    bool ok = true;
    for (uint32_t i = 0; i < state->config->in_flight; i++) {
        state->slots[i].events = malloc(batch * sizeof(bench_event_t));
        ok = ok && state->slots[i].events != NULL;
    }
    state->transfers = malloc(batch * sizeof *state->transfers);
    state->results = malloc(batch * sizeof *state->results);
    return ok && state->transfers && state->results;
}

static void bench_state_free(bench_state_t *state) {
    for (uint32_t i = 0; i < BENCH_IN_FLIGHT_MAX; i++) free(state->slots[i].events);
    free(state->pending);
    free(state->transfers);
    free(state->results);
}

/* How many transfers the next request carries; 0 when done sending. */
static uint32_t bench_next_count(const bench_state_t *state) {
    const bench_worker_t *worker = state->worker;
    /* stop also ends a --transfers run early when another worker failed. */
    if (atomic_load(&worker->shared->stop)) return 0;
    if (worker->transfers_target == 0) return state->config->batch;
    uint64_t left = worker->transfers_target - worker->transfers_sent;
    return left < state->config->batch ? (uint32_t)left : state->config->batch;
}

/* ---- pacing (--rate) ---- */

/* When the next request may go: with --rate, this connection's share of it
 * on a fixed schedule from the start (transfers sent so far / its rate), so
 * that a slow answer is caught up afterwards instead of lowering the rate;
 * without --rate, at once. */
static uint64_t bench_pace_due_ns(const bench_state_t *state, uint64_t started_ns) {
    const bench_config_t *config = state->config;
    if (config->rate_per_second == 0) return 0;
    double worker_rate = (double)config->rate_per_second / config->connections;
    return started_ns + (uint64_t)((double)state->worker->transfers_sent * 1e9 / worker_rate);
}

/* Sleeps towards `due_ns`, at most BENCH_PACE_SLEEP_MAX_MS at a time so
 * that a stop is seen promptly. */
static void bench_pace_sleep(uint64_t due_ns) {
    uint64_t now_ns = bench_now_ns();
    if (now_ns >= due_ns) return;
    uint64_t wait_ns = due_ns - now_ns;
    const uint64_t wait_max_ns = (uint64_t)BENCH_PACE_SLEEP_MAX_MS * 1000000u;
    if (wait_ns > wait_max_ns) wait_ns = wait_max_ns;
    struct timespec ts = {(time_t)(wait_ns / 1000000000u), (long)(wait_ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

void *bench_worker_run(void *argument) {
    bench_worker_t *worker = argument;
    bench_state_t state;
    int error = bench_state_init(&state, worker) ? CLIENT_OK : CLIENT_ERR_NO_MEMORY;
    const uint64_t started_ns = bench_now_ns();
    while (error == CLIENT_OK) {
        uint32_t count = 0;
        bool paced = false; /* a request is ready but not due yet */
        while (error == CLIENT_OK && state.slots_used < state.config->in_flight &&
               (count = bench_next_count(&state)) > 0) {
            paced = bench_now_ns() < bench_pace_due_ns(&state, started_ns);
            if (paced) break;
            error = bench_send_next(&state, count);
        }
        if (error != CLIENT_OK) break;
        if (state.slots_used == 0) {
            if (!paced) break; /* nothing in flight, nothing more to send */
            bench_pace_sleep(bench_pace_due_ns(&state, started_ns));
            continue;
        }
        error = bench_receive_one(&state);
    }
    worker->finished_ns = bench_now_ns();
    if (error != CLIENT_OK) {
        worker->error = error;
        /* The client's message already starts with client_strerror(error). */
        bench_note(worker, client_last_error_message(worker->client), "");
        atomic_store(&worker->shared->stop, true);
    }
    bench_state_free(&state);
    return NULL;
}
