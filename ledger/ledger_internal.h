/*
 * ledger_internal.h — the ledger handle and the functions the ledger/ files
 * share. Not installed; only ledger/ and its tests include it.
 *
 * Write path (one thread): ledger_write_begin opens an LMDB write
 * transaction (the group). Each event is validated against the in-memory
 * accounts and the LMDB tables (which see the group's own writes), then
 * applied: account states change in memory (with undo entries), the
 * journal record is appended, the id index and pending tables are updated
 * in the current transaction. A linked chain runs in a nested LMDB
 * transaction plus an undo mark, so that it can be rolled back alone. A
 * failed commit undoes the whole group in memory. The savepoint holds
 * everything else that must roll back with it (sequence, chain head, last
 * timestamp, ...).
 */
#ifndef BORSELLINO_LEDGER_INTERNAL_H
#define BORSELLINO_LEDGER_INTERNAL_H

#include <lmdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accounts.h"
#include "audit.h"
#include "ledger.h"
#include "id_buffer.h"
#include "id_filter.h"
#include "id_runs.h"
#include "record.h"
#include "welfare_cache.h"

/* Groups whose right-most id-index leaves still take out-of-order ids
 * directly (transfer_index.c). */
enum { TRANSFER_ID_RECENT_GROUPS = 16 };

/* What a rollback restores besides the account states. */
typedef struct savepoint {
    uint32_t undo_mark;
    uint64_t sequence;
    uint8_t chain_head[RECORD_HASH_SIZE];
    uint64_t last_timestamp;
    ledger_u128_t transfer_id_max;
    uint64_t pending_count;
    uint32_t id_buffer_count;        /* active entries of the id buffer */
    uint32_t fresh_ids_count;        /* entries of fresh_ids */
    uint32_t id_buffer_frozen_merged;
    uint64_t transfer_ids_watermark;
} savepoint_t;

/* The cursors a write group keeps (group_cursor): the journal, the id
 * index, the checkpoint's account table, and one per welfare record type
 * ('A'..'Z'). */
enum {
    GROUP_CURSOR_JOURNAL,
    GROUP_CURSOR_TRANSFER_IDS,
    GROUP_CURSOR_ACCOUNTS,
    GROUP_CURSOR_WELFARE_A,
    GROUP_CURSORS_COUNT = GROUP_CURSOR_WELFARE_A + 26,
};

struct ledger {
    MDB_env *env;
    MDB_dbi dbi_journal;
    MDB_dbi dbi_transfer_ids;
    MDB_dbi dbi_accounts;
    MDB_dbi dbi_pending;
    MDB_dbi dbi_expiry;
    MDB_dbi dbi_meta;
    MDB_dbi dbi_welfare; /* the welfare layer's state (welfare_store.c) */
    MDB_dbi dbi_signatures; /* signed checkpoints (signing.c) */
    bool signatures_table;  /* false: a read-only open of a directory without one */
    struct evp_pkey_st *signing_key; /* writable handles only (signing.c) */
    ledger_options_t options; /* defaults resolved */
    char *path;               /* the data directory */
    uint64_t map_size;

    accounts_t accounts;

    /* State including the open group's uncommitted events. */
    uint64_t sequence;       /* last journal sequence */
    uint8_t chain_head[RECORD_HASH_SIZE];
    uint64_t last_timestamp; /* last event timestamp */
    ledger_u128_t transfer_id_max; /* largest indexed id (or 0) */
    /* transfer_id_max when the open group began: the group's ids above it
     * wait in fresh_ids until the group's end (transfer_index.c). */
    ledger_u128_t transfer_id_group_floor;
    id_runs_t fresh_ids;
    bool transfer_id_fresh_direct; /* a fresh id went into the B-tree directly */
    /* The transfer id index's memory and its watermark (transfer_index.c). */
    id_buffer_t id_buffer;
    /* The ids in the transfer_ids B-tree, the id buffer and the open
     * group's fresh ids (writable handles; id_filter.h). */
    id_filter_t id_filter;
    uint64_t transfer_ids_watermark;
    /* transfer_id_max at the start of each of the last groups (a ring),
     * and the oldest of them: ids above it go into the B-tree. */
    ledger_u128_t transfer_id_max_recent[TRANSFER_ID_RECENT_GROUPS];
    ledger_u128_t transfer_id_recent_floor;
    uint32_t groups_begun;
    uint64_t pending_count;
    uint64_t checkpoint_sequence;

    /* The write group. */
    MDB_txn *txn_group; /* NULL when no group is open */
    MDB_txn *txn;       /* where writes go: the group or a chain's child */
    /* Cursors in the group's transaction (group_cursor): NULL until first
     * used in a group; LMDB frees them when the group ends. */
    MDB_cursor *group_cursors[GROUP_CURSORS_COUNT];
    bool write_failed;
    bool map_full;      /* the group hit MDB_MAP_FULL */
    savepoint_t group_savepoint;
    savepoint_t chain_savepoint;
    uint64_t now; /* clock read at the start of the current call */

    MDB_txn *read_txn; /* reset between reads; renewed on use */

    /* The welfare layer's memory (welfare_cache.h); any rollback
     * invalidates all of it (savepoint_restore). */
    welfare_cache_t welfare_cache;
    bool welfare_platform_ready;    /* the platform record was found */
    uint64_t welfare_hold_next_due; /* no hold expires before this; 0 = unknown */

    /* Pipelined commits (durability.c). marker_fd: DIR/unsynced_txn, open
     * and flock'ed by a commit_pipelined handle, else -1. data_fd: LMDB's
     * descriptor of data.mdb (pipelined handles). unsynced_txnid: the
     * committed, not yet durable transaction (0: none); written by the
     * committing thread and by ledger_write_sync's. */
    int marker_fd;
    int marker_read_fd; /* the same file, kept by read-only handles */
    int directory_lock_fd; /* the directory's flock while opening */
    int data_fd;
    _Atomic uint64_t unsynced_txnid;
    _Atomic int sync_error; /* a failed ledger_write_sync: final */
    uint64_t rolled_back_txnid; /* rolled back at open (0: none) */

    uint64_t replayed_events;
    uint64_t replay_ns;
    char error_message[256];
};

/* ---- store.c: the LMDB environment ---- */

/* Named sub-databases an environment is opened with (store.c, backup.c):
 * every open of one data directory must use the same value. */
enum { STORE_DATABASES_MAX = 16 };

/* Opens (creating and formatting if needed) the environment at `path`,
 * checks the format version. Fills ledger->env and the dbis and the meta
 * values (checkpoint sequence). Sets ledger->error_message on failure. */
int store_open(ledger_t *ledger, const char *path);
void store_close(ledger_t *ledger);

/* Grows the map (doubling, up to map_size_max) if less than a quarter is
 * free, or always when `force`. No transaction may be active. Returns 0,
 * LEDGER_ERR_STORAGE_FULL (forced but at the maximum) or an MDB code. */
int store_grow_if_needed(ledger_t *ledger, bool force);

/* Maps errno errors meaning "no space" to LEDGER_ERR_STORAGE_FULL
 * (MDB_MAP_FULL is left for the caller, who may grow the map). */
int store_error(int error);

/* Classifies a failed commit: LMDB reports a short write (the filesystem
 * ran out of space mid-write) as EIO, so an EIO while the filesystem has
 * almost no space left is LEDGER_ERR_STORAGE_FULL; anything else is
 * store_error(error). */
int store_commit_error(ledger_t *ledger, int error);

/* The sequence of the journal's last record in `txn` (*sequence_out 0
 * when the journal is empty). Returns 0, LEDGER_ERR_CORRUPT (a key of
 * another size) or an MDB code. */
int store_journal_last(ledger_t *ledger, MDB_txn *txn, uint64_t *sequence_out);

/* Meta values (u64, little-endian). */
int store_meta_get_u64(ledger_t *ledger, MDB_txn *txn, const char *key,
                       uint64_t *value_out, bool *found_out);
int store_meta_put_u64(ledger_t *ledger, MDB_txn *txn, const char *key,
                       uint64_t value);
int store_meta_put_bytes(ledger_t *ledger, MDB_txn *txn, const char *key,
                         const void *bytes, size_t size);
int store_meta_get_bytes(ledger_t *ledger, MDB_txn *txn, const char *key,
                         void *bytes, size_t size, bool *found_out);

/* ---- durability.c: pipelined commits and their recovery ---- */

/* Opens DIR/unsynced_txn (created and locked for commit_pipelined
 * handles) and, unless `is_new`, rolls back or refuses a directory whose
 * newest transaction was committed unsynced by a writer that is gone. Runs
 * before LMDB opens the environment. Returns 0, LEDGER_ERR_LOCKED,
 * LEDGER_ERR_NEEDS_RECOVERY (read-only), LEDGER_ERR_CORRUPT or errno. */
int durability_open(ledger_t *ledger, bool is_new);
/* Releases the directory's lock taken by durability_open: call once the
 * LMDB environment is open (or the open failed). */
void durability_open_done(ledger_t *ledger);
/* After the environment is open: checks that the meta pages read as LMDB
 * reports them (pipelined handles only). */
int durability_check_layout(ledger_t *ledger);
void durability_close(ledger_t *ledger);
/* Writes and syncs the marker: `txnid` is about to be committed unsynced. */
int durability_mark(ledger_t *ledger, uint64_t txnid);
/* Before any commit (every path that calls mdb_txn_commit on a group):
 * refuses while a group is unsynced, after a failed sync (its errno), and
 * an unsynced commit on a handle without commit_pipelined. Sets the
 * handle's error message. */
int durability_commit_check(ledger_t *ledger, bool unsynced);
/* After an unsynced commit failed once its marker was written. */
void durability_commit_failed(ledger_t *ledger);
/* Read-only handles (another process than the server): waits until
 * transaction `txnid` is durable, since a pipelined server's newest
 * commit is visible before its sync. Returns 0 at once when it is (or the
 * directory never had a marker), LEDGER_ERR_NEEDS_RECOVERY when its
 * writer stopped first, ETIMEDOUT after 10 s. durability_read_gate does it
 * for a read transaction just begun. */
int durability_wait_durable(ledger_t *ledger, uint64_t txnid);
int durability_read_gate(ledger_t *ledger, MDB_txn *txn);
/* For a reader without a ledger handle (backup.c): a bare handle holding
 * only what the two calls above need, checked like a read-only open
 * (LEDGER_ERR_NEEDS_RECOVERY; the message is ledger_last_error_message
 * (NULL)). Closed with durability_gate_close. */
int durability_gate_open(const char *path, ledger_t **gate_out);
void durability_gate_close(ledger_t *gate);

/* ---- signing.c: the signing key and signed checkpoints (audit.h) ---- */

/* Loads or creates the key and records its public half (store_open's
 * transaction, writable opens only). */
int signing_open(ledger_t *ledger, MDB_txn *txn);
void signing_close(ledger_t *ledger);
/* Signs the current state into `txn` unless its sequence is signed (then
 * *checkpoint_out is the stored one). No-op without a key. */
int signing_checkpoint_put(ledger_t *ledger, MDB_txn *txn,
                           ledger_signed_checkpoint_t *checkpoint_out);
/* The signed checkpoints with sequence >= sequence_min, up to capacity. */
int signing_cursor_read(ledger_t *ledger, MDB_txn *txn, uint64_t sequence_min,
                        ledger_signed_checkpoint_t *checkpoints_out, uint32_t capacity,
                        uint32_t *count_out);

/* ---- trial_rows.c: trial balance rows per (ledger, code) ---- */

typedef struct trial_rows {
    ledger_trial_balance_row_t *rows;
    uint32_t count;
    uint32_t capacity;
    uint32_t *buckets; /* 0 empty, else row index + 1 */
    uint32_t mask;
} trial_rows_t;

void trial_rows_init(trial_rows_t *rows);
void trial_rows_free(trial_rows_t *rows);
/* Adds one account's balances to its row. LEDGER_ERR_NO_MEMORY, or
 * LEDGER_ERR_CORRUPT when a sum would pass 2^64. */
int trial_rows_add(trial_rows_t *rows, uint32_t ledger, uint16_t code,
                   const ledger_balance_t *balance);
/* Sorts the rows by (ledger, code) and digests them; no adds after. */
void trial_rows_finish(trial_rows_t *rows, uint8_t digest_out[LEDGER_DIGEST_SIZE]);
/* The trial balance of the in-memory accounts (the open group included);
 * `rows` is initialised here, freed by the caller. */
int trial_balance_memory(const ledger_t *ledger, trial_rows_t *rows,
                         uint8_t digest_out[LEDGER_DIGEST_SIZE]);
int trial_balance_memory_digest(const ledger_t *ledger, uint8_t digest_out[LEDGER_DIGEST_SIZE]);

/* ---- ledger.c: groups, chains, errors ---- */

/* Formats the handle's error message (printf-style). */
void ledger_set_error(ledger_t *ledger, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Opens a group for a create/expire call when none is open; *auto_out
 * tells the caller to finish it with ledger_write_auto_end(). */
int ledger_write_auto_begin(ledger_t *ledger, bool *auto_out);
int ledger_write_auto_end(ledger_t *ledger, bool auto_group, int error);

/* After a write call's group ended with `error`: for MDB_MAP_FULL, grows
 * the map; *retry_out says an own (auto) group should simply run again.
 * Returns the error to report. */
int ledger_write_settle(ledger_t *ledger, bool auto_group, int error,
                        bool *retry_out);

/* Marks the open group failed (after a storage/memory error). */
int ledger_write_fail(ledger_t *ledger, int error);

/* Linked chains: nested transaction + savepoint. */
int ledger_chain_begin(ledger_t *ledger);
int ledger_chain_commit(ledger_t *ledger);
void ledger_chain_rollback(ledger_t *ledger);

void savepoint_take(const ledger_t *ledger, savepoint_t *savepoint);
/*
 * The group's cursor `slot` (GROUP_CURSOR_*) on `dbi`, opened on first use
 * in the group; NULL outside the group's own transaction (no group, a
 * linked chain's child transaction open: the caller then uses mdb_get or
 * mdb_put; LMDB forbids using the parent's cursors meanwhile and restores
 * or merges them when the child ends) or when out of memory.
 *
 * Why: a positioned cursor finds a key on its current leaf, or the last
 * leaf for MDB_APPEND, without descending the B-tree (each level a binary
 * search of the page and of the transaction's dirty-page list). Appends,
 * and records read and written in key order (a grant's entries run in
 * employee-id order), stay on the same leaf most of the time.
 */
MDB_cursor *group_cursor(ledger_t *ledger, int slot, MDB_dbi dbi);
void savepoint_restore(ledger_t *ledger, const savepoint_t *savepoint);

/* A transaction for reading: the open group's, or the reset read txn
 * renewed. Finish with ledger_read_end(). */
int ledger_read_begin(ledger_t *ledger, MDB_txn **txn_out);
void ledger_read_end(ledger_t *ledger, MDB_txn *txn);

/* The timestamp the next journaled event gets (docs/ledger.md). */
static inline uint64_t ledger_timestamp_next(const ledger_t *ledger) {
    return ledger->now > ledger->last_timestamp ? ledger->now
                                                : ledger->last_timestamp + 1;
}

/* ---- journal.c: appends, reads, the transfer id index ---- */

/* Appends `record` (kind, fields, sides and timestamp filled by the
 * caller; timestamp must be ledger_timestamp_next()): assigns the next
 * sequence, chains the hash, writes it with MDB_APPEND. */
int journal_append(ledger_t *ledger, journal_record_t *record);

/* Reads and decodes record `sequence`; LEDGER_ERR_CORRUPT if it is missing
 * or damaged. */
int journal_read(ledger_t *ledger, MDB_txn *txn, uint64_t sequence,
                 journal_record_t *record_out);

/* ---- transfer_index.c: the transfer id index (B-tree + id buffer) ---- */

/* transfer_ids: id -> journal sequence of its record (transfer or failure
 * marker). *found_out false when absent, or when the record is not
 * visible to `txn` (a read transaction begun before the open group). */
int transfer_index_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                       uint64_t *sequence_out, bool *found_out);
/* Indexes `id` (checked absent) at `sequence`: in the group's fresh ids,
 * the current txn or the id buffer (transfer_index.c). */
int transfer_index_put(ledger_t *ledger, ledger_u128_t id, uint64_t sequence);
/* Before a group's savepoint: sets the group's floor (transfer_id_max),
 * releases a merged frozen table, freezes the active one when due. */
void transfer_index_group_begin(ledger_t *ledger);
/* In group_finish: appends the group's fresh ids to the B-tree, merges the
 * next slice of the frozen table into it and advances the watermark (all
 * roll back with the group). */
int transfer_index_group_finish(ledger_t *ledger);
/* At open, after replay (ledger->sequence and the watermark known):
 * rebuilds the id buffer from the journal after the watermark. */
int transfer_index_open(ledger_t *ledger, MDB_txn *txn);
/* The persisted watermark (meta); reading a missing one is an error. */
int transfer_index_watermark_read(ledger_t *ledger, MDB_txn *txn, uint64_t *watermark_out);
int transfer_index_watermark_write(ledger_t *ledger, MDB_txn *txn, uint64_t watermark);

/* Records a transient failure of transfer `transfer` (docs/ledger.md). */
int journal_append_failure(ledger_t *ledger, const ledger_transfer_t *transfer,
                           uint32_t result);

/* ---- batch.c: the linked-chain driver shared by accounts and transfers ---- */

typedef struct batch_ops {
    /* Validates and applies event `index`; writes its result code and
     * timestamp. Returns 0 or a storage/memory error. */
    int (*process)(ledger_t *ledger, const void *events, uint32_t index,
                   uint32_t *result_out, uint64_t *timestamp_out);
    /* The linked flag of event `index`. */
    bool (*linked)(const void *events, uint32_t index);
    /* Records a failure marker when `result` is transient (may do
     * nothing). Called after the chain's rollback. */
    int (*record_failure)(ledger_t *ledger, const void *events, uint32_t index,
                          uint32_t result);
    /* Optional: prefetches what event `index` will touch (stage 1, 2 or
     * 3: accounts_prefetch_bucket, accounts_prefetch_slot,
     * accounts_prefetch_probe). */
    void (*prefetch)(const ledger_t *ledger, const void *events, uint32_t index,
                     int stage);
    /* The size of one event: with `prefetch`, the events themselves are
     * fetched ahead of its stages. */
    size_t event_size;
} batch_ops_t;

int batch_run(ledger_t *ledger, const batch_ops_t *ops, const void *events,
              uint32_t count, ledger_result_t *results);

/* Validates and applies one transfer (any kind), without the public
 * path's refusal of welfare ids and accounts: for the welfare layer, which
 * runs it inside its own chain. Same result/timestamp outputs as a batch
 * event. Returns 0 or a storage/memory error. */
int transfer_submit(ledger_t *ledger, const ledger_transfer_t *transfer,
                    uint32_t *result_out, uint64_t *timestamp_out);

/* Validates and creates one account, reserved ids allowed (welfare layer). */
int account_create_privileged(ledger_t *ledger, const ledger_account_t *account,
                              uint32_t *result_out, uint64_t *timestamp_out);

/* ---- pending.c ---- */

int pending_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                pending_entry_t *entry_out, bool *found_out);
int pending_put(ledger_t *ledger, ledger_u128_t id, const pending_entry_t *entry);
int expiry_put(ledger_t *ledger, uint64_t expires_at, ledger_u128_t id);
int expiry_delete(ledger_t *ledger, uint64_t expires_at, ledger_u128_t id);

/* Validates and applies a post or void (docs/ledger.md steps 7-16). */
int pending_post_or_void(ledger_t *ledger, const ledger_transfer_t *transfer,
                         uint32_t *result_out, uint64_t *timestamp_out);

/* Expires due pending transfers (at most LEDGER_EXPIRE_BATCH_MAX). */
int pending_expire_due(ledger_t *ledger, uint32_t *expired_count_out);

/* Applies a journal record's effect on its two accounts in memory (from
 * the computed sides) and appends it. Shared by transfers and expiry. */
int transfer_commit_record(ledger_t *ledger, journal_record_t *record,
                           account_slot_t *debit, account_slot_t *credit);

/* What transfer_submit would answer about the accounts and balances of a
 * posted transfer (not pending, post or void) between these two accounts
 * (steps 18-25), asked before anything is written: lets a welfare body
 * make every check before its first write. Reads only. */
uint32_t transfer_posted_check(const ledger_transfer_t *transfer, const account_slot_t *debit,
                               const account_slot_t *credit);

/* Is `result` transient (docs/ledger.md: recorded as failed)? */
bool transfer_result_is_transient(uint32_t result);

/* ---- replay.c ---- */

/* Loads the checkpoint and replays the journal after it. */
int replay_open(ledger_t *ledger);
/* Writes dirty accounts and the checkpoint sequence into the open group. */
int checkpoint_write(ledger_t *ledger);

#endif
