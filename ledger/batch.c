/*
 * batch.c — runs a batch of events with linked-chain semantics, for
 * accounts and transfers alike (docs/ledger.md, "Linked chains").
 *
 * A chain runs inside ledger_chain_begin/commit (a nested LMDB transaction
 * plus an undo mark). When one of its events fails, the chain is rolled
 * back, every other event of it gets linked_event_failed, and the failing
 * event keeps its code; a transient failure is then recorded outside the
 * rolled-back chain. `exists` does not fail a chain. A chain that is still
 * open at the end of the batch is not evaluated at all: its last event gets
 * linked_event_chain_open, the others linked_event_failed.
 */
#include <assert.h>

#include "ledger_internal.h"

/* No chain is open (an index no batch reaches). */
static const uint32_t CHAIN_NONE = UINT32_MAX;

static void result_set(ledger_result_t *result, uint32_t code,
                       uint64_t timestamp) {
    result->result = code;
    result->reserved = 0;
    result->timestamp = timestamp;
}

/* Rolls back the chain that started at `chain_start` because event `index`
 * failed with `code`, and records the failure if it is transient. */
static int chain_fail(ledger_t *ledger, const batch_ops_t *ops,
                      const void *events, uint32_t chain_start, uint32_t index,
                      uint32_t code, ledger_result_t *results) {
    ledger_chain_rollback(ledger);
    for (uint32_t j = chain_start; j < index; j++) {
        result_set(&results[j], LEDGER_RESULT_LINKED_EVENT_FAILED, 0);
    }
    result_set(&results[index], code, 0);
    return ops->record_failure(ledger, events, index, code);
}

static bool result_fails(uint32_t code) {
    return code != LEDGER_RESULT_OK && code != LEDGER_RESULT_EXISTS;
}

/* How far ahead the prefetch stages run, in events: the event itself,
 * then ops->prefetch's stages 1 (the account buckets), 2 (their slots) and
 * 3 (the next slots of a colliding probe). The event goes first because
 * a server request's events (8,000 transfers: 1 MiB, more than the L2
 * cache) were converted by the server's loop thread when the request
 * arrived, so by the time the batch reaches an event its lines have left
 * the cache, and stage 1's read of it was the writer's largest stall (perf of
 * the writer thread, 100k accounts: the four stages' functions went from
 * 16.6% to 14.5% of its samples with the event fetch, from 18.4% before
 * stage 3). */
enum {
    BATCH_PREFETCH_EVENT_AHEAD = 32,
    BATCH_PREFETCH_BUCKET_AHEAD = 16,
    BATCH_PREFETCH_SLOT_AHEAD = 8,
    BATCH_PREFETCH_PROBE_AHEAD = 4,
    BATCH_CACHE_LINE = 64,
};

static void batch_prefetch_event(const batch_ops_t *ops, const void *events, uint32_t index) {
    const char *event = (const char *)events + (size_t)index * ops->event_size;
    for (size_t offset = 0; offset < ops->event_size; offset += BATCH_CACHE_LINE) {
        __builtin_prefetch(event + offset);
    }
}

static void batch_prefetch(const ledger_t *ledger, const batch_ops_t *ops,
                           const void *events, uint32_t index, uint32_t count) {
    if (ops->prefetch == NULL) return;
    if (index + BATCH_PREFETCH_EVENT_AHEAD < count) {
        batch_prefetch_event(ops, events, index + BATCH_PREFETCH_EVENT_AHEAD);
    }
    if (index + BATCH_PREFETCH_BUCKET_AHEAD < count) {
        ops->prefetch(ledger, events, index + BATCH_PREFETCH_BUCKET_AHEAD, 1);
    }
    if (index + BATCH_PREFETCH_SLOT_AHEAD < count) {
        ops->prefetch(ledger, events, index + BATCH_PREFETCH_SLOT_AHEAD, 2);
    }
    if (index + BATCH_PREFETCH_PROBE_AHEAD < count) {
        ops->prefetch(ledger, events, index + BATCH_PREFETCH_PROBE_AHEAD, 3);
    }
}

/* Is the chain starting at `start` open (it runs to the end of the batch
 * with the last event linked)? Then none of it is evaluated. */
static bool chain_is_open(const batch_ops_t *ops, const void *events,
                          uint32_t start, uint32_t count) {
    uint32_t i = start;
    while (i < count && ops->linked(events, i)) i++;
    return i == count;
}

static void chain_open_results(uint32_t start, uint32_t count,
                               ledger_result_t *results) {
    for (uint32_t j = start; j + 1 < count; j++) {
        result_set(&results[j], LEDGER_RESULT_LINKED_EVENT_FAILED, 0);
    }
    result_set(&results[count - 1], LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN, 0);
}

/* Evaluates event `index`; on failure inside a chain, rolls the chain back.
 * *chain_failed_out tells whether the chain (if any) has failed. */
static int batch_event(ledger_t *ledger, const batch_ops_t *ops, const void *events,
                       uint32_t index, uint32_t chain_start, ledger_result_t *results,
                       bool *chain_failed_out) {
    uint32_t code = LEDGER_RESULT_OK;
    uint64_t timestamp = 0;
    int error = ops->process(ledger, events, index, &code, &timestamp);
    if (error) {
        if (chain_start != CHAIN_NONE) ledger_chain_rollback(ledger);
        return error;
    }
    if (result_fails(code) && chain_start != CHAIN_NONE) {
        *chain_failed_out = true;
        return chain_fail(ledger, ops, events, chain_start, index, code, results);
    }
    result_set(&results[index], code, result_fails(code) ? 0 : timestamp);
    if (!result_fails(code)) return 0;
    return ops->record_failure(ledger, events, index, code);
}

int batch_run(ledger_t *ledger, const batch_ops_t *ops, const void *events,
              uint32_t count, ledger_result_t *results) {
    uint32_t chain_start = CHAIN_NONE;
    bool chain_failed = false;
    if (ops->prefetch != NULL) {
        for (uint32_t i = 0; i < BATCH_PREFETCH_EVENT_AHEAD && i < count; i++) {
            batch_prefetch_event(ops, events, i);
        }
        for (uint32_t i = 0; i < BATCH_PREFETCH_BUCKET_AHEAD && i < count; i++) {
            ops->prefetch(ledger, events, i, 1);
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        batch_prefetch(ledger, ops, events, i, count);
        bool linked = ops->linked(events, i);
        if (linked && chain_start == CHAIN_NONE) {
            if (chain_is_open(ops, events, i, count)) {
                chain_open_results(i, count, results);
                return 0;
            }
            int error = ledger_chain_begin(ledger);
            if (error) return error;
            chain_start = i;
            chain_failed = false;
        }
        if (chain_failed) {
            result_set(&results[i], LEDGER_RESULT_LINKED_EVENT_FAILED, 0);
        } else {
            int error = batch_event(ledger, ops, events, i, chain_start, results,
                                    &chain_failed);
            if (error) return error;
        }
        if (!linked && chain_start != CHAIN_NONE) {
            if (!chain_failed) {
                int error = ledger_chain_commit(ledger);
                if (error) return error;
            }
            chain_start = CHAIN_NONE;
            chain_failed = false;
        }
    }
    assert(chain_start == CHAIN_NONE);
    return 0;
}
