/*
 * ledger.c — the handle: open and close, write groups and linked-chain
 * savepoints, read transactions, errors and names, stats, time-ordered ids.
 *
 * A write group is one LMDB write transaction. Rolling one back has two
 * halves that must always go together: abort the LMDB transaction, and
 * restore the in-memory side (account undo log + savepoint). Every exit
 * path of a group goes through group_rollback() or a successful commit.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ledger_internal.h"
#include "memory.h"

enum {
    LEDGER_MAP_SIZE_INITIAL_DEFAULT = 1 << 30,
    LEDGER_CHECKPOINT_EVENTS_DEFAULT = 1000000,
};
static const uint64_t LEDGER_MAP_SIZE_MAX_DEFAULT = 1ull << 40;

static _Thread_local char ledger_open_error[256];

void ledger_set_error(ledger_t *ledger, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    char *buffer = ledger ? ledger->error_message : ledger_open_error;
    vsnprintf(buffer, sizeof(ledger->error_message), format, arguments);
    va_end(arguments);
}

const char *ledger_last_error_message(const ledger_t *ledger) {
    return ledger ? ledger->error_message : ledger_open_error;
}

static uint64_t clock_realtime_ns(void *context) {
    (void)context;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static void options_resolve(const ledger_options_t *given,
                            ledger_options_t *options) {
    memset(options, 0, sizeof(*options));
    if (given) *options = *given;
    if (options->map_size_initial == 0) {
        options->map_size_initial = LEDGER_MAP_SIZE_INITIAL_DEFAULT;
    }
    if (options->map_size_max == 0) options->map_size_max = LEDGER_MAP_SIZE_MAX_DEFAULT;
    if (options->map_size_max < options->map_size_initial) {
        options->map_size_max = options->map_size_initial;
    }
    if (options->checkpoint_events == 0) {
        options->checkpoint_events = LEDGER_CHECKPOINT_EVENTS_DEFAULT;
    }
    if (options->clock == NULL) options->clock = clock_realtime_ns;
}

static void ledger_free(ledger_t *ledger);

int ledger_open(const char *path, const ledger_options_t *options,
                ledger_t **ledger_out) {
    if (path == NULL || ledger_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    *ledger_out = NULL;
    ledger_open_error[0] = '\0';
    ledger_t *ledger = memory_calloc(1, sizeof(*ledger));
    if (ledger == NULL) return LEDGER_ERR_NO_MEMORY;
    ledger->marker_fd = ledger->marker_read_fd = ledger->data_fd = -1;
    ledger->directory_lock_fd = -1;
    options_resolve(options, &ledger->options);
    size_t path_size = strlen(path) + 1;
    ledger->path = memory_alloc(path_size);
    if (ledger->path == NULL) {
        memory_free(ledger);
        return LEDGER_ERR_NO_MEMORY;
    }
    memcpy(ledger->path, path, path_size);
    int error = accounts_init(&ledger->accounts);
    if (!error) error = store_open(ledger, path);
    if (!error) error = replay_open(ledger);
    if (error) {
        if (ledger->error_message[0] == '\0') {
            ledger_set_error(ledger, "cannot open ledger %s: %s", path,
                             ledger_strerror(error));
        }
        snprintf(ledger_open_error, sizeof(ledger_open_error), "%s",
                 ledger->error_message);
        ledger_free(ledger);
        return error;
    }
    *ledger_out = ledger;
    return 0;
}

static void ledger_free(ledger_t *ledger) {
    if (ledger->read_txn) mdb_txn_abort(ledger->read_txn);
    store_close(ledger);
    durability_close(ledger);
    signing_close(ledger);
    accounts_free(&ledger->accounts);
    id_buffer_free(&ledger->id_buffer);
    id_runs_free(&ledger->fresh_ids);
    id_filter_free(&ledger->id_filter);
    welfare_cache_free(&ledger->welfare_cache);
    memory_free(ledger->path);
    memory_free(ledger);
}

int ledger_close(ledger_t *ledger) {
    if (ledger == NULL) return 0;
    ledger_write_abort(ledger);
    int error = ledger_write_sync(ledger);
    if (!error && !ledger->options.read_only &&
        ledger->sequence != ledger->checkpoint_sequence) {
        error = ledger_checkpoint(ledger);
    }
    ledger_free(ledger);
    return error;
}

void ledger_close_without_checkpoint(ledger_t *ledger) {
    if (ledger == NULL) return;
    ledger_write_abort(ledger);
    ledger_free(ledger);
}

/* ---- savepoints ---- */

void savepoint_take(const ledger_t *ledger, savepoint_t *savepoint) {
    savepoint->undo_mark = ledger->accounts.undo_count;
    savepoint->sequence = ledger->sequence;
    memcpy(savepoint->chain_head, ledger->chain_head, RECORD_HASH_SIZE);
    savepoint->last_timestamp = ledger->last_timestamp;
    savepoint->transfer_id_max = ledger->transfer_id_max;
    savepoint->pending_count = ledger->pending_count;
    savepoint->id_buffer_count = ledger->id_buffer.active.count;
    savepoint->fresh_ids_count = ledger->fresh_ids.count;
    savepoint->id_buffer_frozen_merged = ledger->id_buffer.frozen_merged;
    savepoint->transfer_ids_watermark = ledger->transfer_ids_watermark;
}

void savepoint_restore(ledger_t *ledger, const savepoint_t *savepoint) {
    accounts_undo_to(&ledger->accounts, savepoint->undo_mark);
    ledger->sequence = savepoint->sequence;
    memcpy(ledger->chain_head, savepoint->chain_head, RECORD_HASH_SIZE);
    ledger->last_timestamp = savepoint->last_timestamp;
    ledger->transfer_id_max = savepoint->transfer_id_max;
    ledger->pending_count = savepoint->pending_count;
    id_buffer_truncate(&ledger->id_buffer, savepoint->id_buffer_count);
    id_runs_truncate(&ledger->fresh_ids, savepoint->fresh_ids_count);
    ledger->id_buffer.frozen_merged = savepoint->id_buffer_frozen_merged;
    ledger->transfer_ids_watermark = savepoint->transfer_ids_watermark;
    welfare_cache_invalidate(&ledger->welfare_cache);
    ledger->welfare_platform_ready = false;
    ledger->welfare_hold_next_due = 0;
}

/* ---- write groups ---- */

int ledger_write_begin(ledger_t *ledger) {
    if (ledger == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (ledger->options.read_only) {
        ledger_set_error(ledger, "ledger was opened read-only");
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    if (ledger->txn_group != NULL) return LEDGER_ERR_WRITE_OPEN;
    int error = store_grow_if_needed(ledger, false);
    if (error) return store_error(error);
    error = mdb_txn_begin(ledger->env, NULL, 0, &ledger->txn_group);
    if (error) {
        ledger->txn_group = NULL;
        return store_error(error);
    }
    ledger->txn = ledger->txn_group;
    /* The last group's cursors went with its transaction. */
    memset(ledger->group_cursors, 0, sizeof(ledger->group_cursors));
    ledger->write_failed = false;
    ledger->map_full = false;
    accounts_undo_clear(&ledger->accounts);
    transfer_index_group_begin(ledger);
    savepoint_take(ledger, &ledger->group_savepoint);
    return 0;
}

MDB_cursor *group_cursor(ledger_t *ledger, int slot, MDB_dbi dbi) {
    assert(slot >= 0 && slot < GROUP_CURSORS_COUNT);
    if (ledger->txn_group == NULL || ledger->txn != ledger->txn_group) return NULL;
    MDB_cursor **cursor = &ledger->group_cursors[slot];
    if (*cursor == NULL && mdb_cursor_open(ledger->txn, dbi, cursor) != 0) *cursor = NULL;
    return *cursor;
}

/* A group that filled the map was rolled back: grow it for the retry. */
static int grow_after_full(ledger_t *ledger) {
    int error = store_grow_if_needed(ledger, true);
    return error ? error : LEDGER_ERR_MAP_GROWN;
}

static void group_rollback(ledger_t *ledger) {
    assert(ledger->txn_group != NULL);
    if (ledger->txn != ledger->txn_group) mdb_txn_abort(ledger->txn);
    mdb_txn_abort(ledger->txn_group);
    ledger->txn_group = NULL;
    ledger->txn = NULL;
    savepoint_restore(ledger, &ledger->group_savepoint);
    accounts_undo_clear(&ledger->accounts);
}

void ledger_write_abort(ledger_t *ledger) {
    if (ledger == NULL || ledger->txn_group == NULL) return;
    bool map_full = ledger->map_full;
    group_rollback(ledger);
    /* So that the group fits when it is submitted again. */
    if (map_full) (void)store_grow_if_needed(ledger, true);
}

int ledger_write_fail(ledger_t *ledger, int error) {
    ledger->write_failed = true;
    if (error == MDB_MAP_FULL) ledger->map_full = true;
    return error;
}

int ledger_write_settle(ledger_t *ledger, bool auto_group, int error,
                        bool *retry_out) {
    *retry_out = false;
    if (error != MDB_MAP_FULL) return error;
    if (!auto_group) {
        /* The caller's group: it is failed; commit or abort grows the map. */
        return ledger->map_size < ledger->options.map_size_max ? LEDGER_ERR_MAP_GROWN
                                                               : LEDGER_ERR_STORAGE_FULL;
    }
    int grow_error = store_grow_if_needed(ledger, true);
    if (grow_error) return grow_error;
    *retry_out = true;
    return 0;
}

/* Writes the per-commit meta (chain head, pending count), a slice of the
 * transfer id merge and, when due, the checkpoint. */
static int group_finish(ledger_t *ledger) {
    uint8_t head[8 + RECORD_HASH_SIZE];
    put_u64(head, ledger->sequence);
    memcpy(head + 8, ledger->chain_head, RECORD_HASH_SIZE);
    int error = transfer_index_group_finish(ledger);
    if (!error) error = store_meta_put_bytes(ledger, ledger->txn_group, "chain_head",
                                             head, sizeof(head));
    if (!error) error = store_meta_put_u64(ledger, ledger->txn_group,
                                           "pending_count", ledger->pending_count);
    if (!error && ledger->sequence - ledger->checkpoint_sequence >=
                      ledger->options.checkpoint_events) {
        error = checkpoint_write(ledger);
    }
    return error;
}

/* LMDB's commit of the group: durable before it returns, or (unsynced)
 * with MDB_NOSYNC after the marker names it (durability.c). */
static int group_commit_lmdb(ledger_t *ledger, bool unsynced) {
    if (!unsynced) return mdb_txn_commit(ledger->txn_group);
    uint64_t txnid = mdb_txn_id(ledger->txn_group);
    int error = durability_mark(ledger, txnid);
    if (error) {
        mdb_txn_abort(ledger->txn_group);
        durability_commit_failed(ledger);
        return error;
    }
    mdb_env_set_flags(ledger->env, MDB_NOSYNC, 1);
    error = mdb_txn_commit(ledger->txn_group);
    mdb_env_set_flags(ledger->env, MDB_NOSYNC, 0);
    /* An empty group commits nothing (LMDB keeps the id): the sync then
     * only clears the marker. */
    if (error) durability_commit_failed(ledger);
    else atomic_store(&ledger->unsynced_txnid, txnid);
    return error;
}

static int write_commit(ledger_t *ledger, bool unsynced) {
    if (ledger == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (ledger->txn_group == NULL) return LEDGER_ERR_NO_WRITE;
    assert(ledger->txn == ledger->txn_group);
    if (ledger->write_failed) {
        bool map_full = ledger->map_full;
        group_rollback(ledger);
        return map_full ? grow_after_full(ledger) : LEDGER_ERR_WRITE_FAILED;
    }
    int refused = durability_commit_check(ledger, unsynced);
    if (refused) {
        group_rollback(ledger);
        return refused;
    }
    /* Money is never invented: the books balance before anything is
     * made durable. */
    accounts_totals_check(&ledger->accounts);
    uint64_t checkpoint_before = ledger->checkpoint_sequence;
    int error = 0;
    if (ledger->sequence != ledger->group_savepoint.sequence) {
        error = group_finish(ledger);
    }
    if (error) {
        ledger->checkpoint_sequence = checkpoint_before;
        group_rollback(ledger);
        /* The chain head or the checkpoint did not fit: grow for the retry. */
        return error == MDB_MAP_FULL ? grow_after_full(ledger) : error;
    }
    error = group_commit_lmdb(ledger, unsynced);
    ledger->txn_group = NULL;
    ledger->txn = NULL;
    if (error) {
        ledger_set_error(ledger, "commit failed: %s", mdb_strerror(error));
        ledger->checkpoint_sequence = checkpoint_before;
        savepoint_restore(ledger, &ledger->group_savepoint);
        accounts_undo_clear(&ledger->accounts);
        return store_commit_error(ledger, error);
    }
    if (ledger->checkpoint_sequence != checkpoint_before) {
        accounts_dirty_clear(&ledger->accounts);
    }
    accounts_undo_clear(&ledger->accounts);
    return 0;
}

int ledger_write_commit(ledger_t *ledger) { return write_commit(ledger, false); }

int ledger_write_commit_unsynced(ledger_t *ledger) { return write_commit(ledger, true); }

int ledger_write_auto_begin(ledger_t *ledger, bool *auto_out) {
    *auto_out = false;
    if (ledger->txn_group != NULL) {
        return ledger->write_failed ? LEDGER_ERR_WRITE_FAILED : 0;
    }
    int error = ledger_write_begin(ledger);
    if (error) return error;
    *auto_out = true;
    return 0;
}

int ledger_write_auto_end(ledger_t *ledger, bool auto_group, int error) {
    if (!auto_group) return error ? ledger_write_fail(ledger, error) : 0;
    if (error) {
        group_rollback(ledger);
        return error;
    }
    return ledger_write_commit(ledger);
}

/* ---- linked chains ---- */

int ledger_chain_begin(ledger_t *ledger) {
    assert(ledger->txn == ledger->txn_group);
    MDB_txn *child = NULL;
    int error = mdb_txn_begin(ledger->env, ledger->txn_group, 0, &child);
    if (error) return store_error(error);
    ledger->txn = child;
    savepoint_take(ledger, &ledger->chain_savepoint);
    return 0;
}

int ledger_chain_commit(ledger_t *ledger) {
    assert(ledger->txn != ledger->txn_group);
    int error = mdb_txn_commit(ledger->txn);
    ledger->txn = ledger->txn_group;
    if (error) {
        /* The child's writes are lost: undo its memory side too. */
        savepoint_restore(ledger, &ledger->chain_savepoint);
        return store_error(error);
    }
    return 0;
}

void ledger_chain_rollback(ledger_t *ledger) {
    assert(ledger->txn != ledger->txn_group);
    mdb_txn_abort(ledger->txn);
    ledger->txn = ledger->txn_group;
    savepoint_restore(ledger, &ledger->chain_savepoint);
}

/* ---- reads ---- */

int ledger_read_begin(ledger_t *ledger, MDB_txn **txn_out) {
    if (ledger->txn_group != NULL) {
        *txn_out = ledger->txn;
        return 0;
    }
    int error;
    if (ledger->read_txn != NULL) {
        error = mdb_txn_renew(ledger->read_txn);
    } else {
        error = mdb_txn_begin(ledger->env, NULL, MDB_RDONLY, &ledger->read_txn);
        if (error) ledger->read_txn = NULL;
    }
    if (error) return error;
    /* A read-only handle beside a pipelined server sees its newest group
     * before it is on disk: wait for that (durability.c). */
    error = durability_read_gate(ledger, ledger->read_txn);
    if (error) {
        mdb_txn_reset(ledger->read_txn);
        return error;
    }
    *txn_out = ledger->read_txn;
    return 0;
}

void ledger_read_end(ledger_t *ledger, MDB_txn *txn) {
    if (txn == ledger->read_txn) mdb_txn_reset(txn);
}

/* ---- expiry and checkpoint entry points ---- */

int ledger_expire_pending(ledger_t *ledger, uint32_t *expired_count_out) {
    if (ledger == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    uint32_t expired = 0;
    bool retry = false;
    int error = 0;
    do {
        bool auto_group = false;
        error = ledger_write_auto_begin(ledger, &auto_group);
        if (error) return error;
        ledger->now = ledger->options.clock(ledger->options.clock_context);
        error = pending_expire_due(ledger, &expired);
        error = ledger_write_auto_end(ledger, auto_group, error);
        error = ledger_write_settle(ledger, auto_group, error, &retry);
    } while (retry);
    if (expired_count_out) *expired_count_out = error ? 0 : expired;
    return error;
}

static int checkpoint_once(ledger_t *ledger) {
    int error = ledger_write_begin(ledger);
    if (error) return error;
    uint64_t checkpoint_before = ledger->checkpoint_sequence;
    error = checkpoint_write(ledger);
    if (!error) error = durability_commit_check(ledger, false);
    if (error) {
        ledger->checkpoint_sequence = checkpoint_before;
        group_rollback(ledger);
        return error;
    }
    error = mdb_txn_commit(ledger->txn_group);
    ledger->txn_group = NULL;
    ledger->txn = NULL;
    if (error) {
        ledger->checkpoint_sequence = checkpoint_before;
        return store_commit_error(ledger, error);
    }
    accounts_dirty_clear(&ledger->accounts);
    return 0;
}

int ledger_checkpoint(ledger_t *ledger) {
    if (ledger == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (ledger->txn_group != NULL) return LEDGER_ERR_WRITE_OPEN;
    int error = checkpoint_once(ledger);
    while (error == MDB_MAP_FULL) {
        error = store_grow_if_needed(ledger, true);
        if (!error) error = checkpoint_once(ledger);
    }
    return error;
}

/* ---- stats ---- */

int ledger_stats(ledger_t *ledger, ledger_stats_t *stats) {
    if (ledger == NULL || stats == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    memset(stats, 0, sizeof(*stats));
    stats->journal_sequence = ledger->sequence;
    stats->checkpoint_sequence = ledger->checkpoint_sequence;
    stats->last_timestamp = ledger->last_timestamp;
    stats->accounts_count = ledger->accounts.slots_count;
    stats->pending_count = ledger->pending_count;
    MDB_envinfo info;
    MDB_stat stat;
    mdb_env_info(ledger->env, &info);
    mdb_env_stat(ledger->env, &stat);
    stats->map_size = info.me_mapsize;
    stats->map_used = ((uint64_t)info.me_last_pgno + 1) * stat.ms_psize;
    stats->replayed_events = ledger->replayed_events;
    stats->replay_ns = ledger->replay_ns;
    memcpy(stats->chain_head, ledger->chain_head, RECORD_HASH_SIZE);
    return 0;
}

/* ---- ids ---- */

static pthread_mutex_t id_mutex = PTHREAD_MUTEX_INITIALIZER;
static ledger_u128_t id_last;
static uint64_t id_random_state;

/* splitmix64: the 80 random bits need to be unpredictable enough to avoid
 * collisions between processes, not secret; the state is seeded once from
 * getrandom, so that an id costs no system call. */
static uint64_t id_random_next(void) {
    if (id_random_state == 0) {
        if (getrandom(&id_random_state, sizeof(id_random_state), 0) !=
            sizeof(id_random_state)) {
            id_random_state = clock_realtime_ns(NULL);
        }
        id_random_state |= 1;
    }
    uint64_t z = (id_random_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

ledger_u128_t ledger_id_time_ordered(void) {
    uint64_t now_ms = clock_realtime_ns(NULL) / 1000000ull;
    pthread_mutex_lock(&id_mutex);
    ledger_u128_t id;
    id.hi = (now_ms & 0xFFFFFFFFFFFFull) << 16 | (id_random_next() & 0xFFFF);
    id.lo = id_random_next();
    if (ledger_u128_compare(id, id_last) <= 0) {
        /* Same millisecond (or the clock stepped back): keep increasing. */
        id = id_last;
        id.lo++;
        if (id.lo == 0) id.hi++;
    }
    id_last = id;
    pthread_mutex_unlock(&id_mutex);
    return id;
}
