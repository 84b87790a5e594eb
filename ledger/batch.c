/*
 * batch.c — runs a batch of events with linked-chain semantics, for
 * accounts and transfers alike (docs/ledger.md, "Linked chains").
 *
 * A chain runs inside ledger_chain_begin/commit (a nested LMDB transaction
 * plus an undo mark). When one of its events fails, the chain is rolled
 * back, every other event of it gets linked_event_failed, and the failing
 * event keeps its code; a transient failure is then recorded outside the
 * rolled-back chain. `exists` does not fail a chain. The last event of a
 * batch must not be linked (linked_event_chain_open).
 */
#include <assert.h>

#include "ledger_internal.h"

enum { CHAIN_NONE = UINT32_MAX };

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
    if (code == LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN) return 0;
    return ops->record_failure(ledger, events, index, code);
}

static bool result_fails(uint32_t code) {
    return code != LEDGER_RESULT_OK && code != LEDGER_RESULT_EXISTS;
}

/* How far ahead the two prefetch stages run, in events. */
enum { BATCH_PREFETCH_BUCKET_AHEAD = 8, BATCH_PREFETCH_SLOT_AHEAD = 4 };

static void batch_prefetch(const ledger_t *ledger, const batch_ops_t *ops,
                           const void *events, uint32_t index, uint32_t count) {
    if (ops->prefetch == NULL) return;
    if (index + BATCH_PREFETCH_BUCKET_AHEAD < count) {
        ops->prefetch(ledger, events, index + BATCH_PREFETCH_BUCKET_AHEAD, 1);
    }
    if (index + BATCH_PREFETCH_SLOT_AHEAD < count) {
        ops->prefetch(ledger, events, index + BATCH_PREFETCH_SLOT_AHEAD, 2);
    }
}

int batch_run(ledger_t *ledger, const batch_ops_t *ops, const void *events,
              uint32_t count, ledger_result_t *results) {
    uint32_t chain_start = CHAIN_NONE;
    bool chain_failed = false;
    for (uint32_t i = 0; i < BATCH_PREFETCH_BUCKET_AHEAD && i < count; i++) {
        if (ops->prefetch != NULL) ops->prefetch(ledger, events, i, 1);
    }
    for (uint32_t i = 0; i < count; i++) {
        batch_prefetch(ledger, ops, events, i, count);
        bool linked = ops->linked(events, i);
        if (linked && chain_start == CHAIN_NONE) {
            int error = ledger_chain_begin(ledger);
            if (error) return error;
            chain_start = i;
            chain_failed = false;
        }
        if (chain_failed) {
            result_set(&results[i], LEDGER_RESULT_LINKED_EVENT_FAILED, 0);
        } else if (linked && i + 1 == count) {
            int error = chain_fail(ledger, ops, events, chain_start, i,
                                   LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN, results);
            if (error) return error;
            chain_failed = true;
        } else {
            uint32_t code = LEDGER_RESULT_OK;
            uint64_t timestamp = 0;
            int error = ops->process(ledger, events, i, &code, &timestamp);
            if (error) {
                if (chain_start != CHAIN_NONE) ledger_chain_rollback(ledger);
                return error;
            }
            if (result_fails(code) && chain_start != CHAIN_NONE) {
                error = chain_fail(ledger, ops, events, chain_start, i, code,
                                   results);
                if (error) return error;
                chain_failed = true;
            } else {
                result_set(&results[i], code, result_fails(code) ? 0 : timestamp);
                if (result_fails(code)) {
                    error = ops->record_failure(ledger, events, i, code);
                    if (error) return error;
                }
            }
        }
        if (!linked && chain_start != CHAIN_NONE) {
            if (!chain_failed) {
                int error = ledger_chain_commit(ledger);
                if (error) return error;
            }
            chain_start = CHAIN_NONE;
        }
    }
    assert(chain_start == CHAIN_NONE || chain_failed);
    return 0;
}
