/*
 * transfer_index.c — the transfer id index: id -> journal sequence of its
 * record (a transfer or a failure marker), kept in the transfer_ids B-tree
 * and in the id buffer (id_buffer.h).
 *
 * Where an id lives:
 *  - an id larger than every id indexed when its group began
 *    (time-ordered ids) waits in fresh_ids (id_runs.h) until the group's
 *    end, when the group's fresh ids are sorted and appended to the B-tree
 *    (MDB_APPEND: the right-most leaf only, filled whole); it goes into
 *    the filter at once, and a lookup looks in fresh_ids only when the
 *    filter says "maybe". An id larger than every indexed id cannot
 *    exist, so its lookup is skipped;
 *  - an id larger than every id at the start of one of the last
 *    TRANSFER_ID_RECENT_GROUPS groups (since the open) goes into the
 *    B-tree too: it lands on one of the few leaves those groups appended
 *    to (time-ordered ids of several clients arrive slightly out of
 *    order, some in the group after);
 *  - any other id goes into the active table of the id buffer and into
 *    the filter (or, when the table is full, into the B-tree directly);
 *    once that table holds half its
 *    bound it is frozen (between groups), sorted by id, and merged into
 *    the B-tree a slice per group (transfer_index_group_finish): each leaf
 *    is then written about once per merge instead of once per id;
 *  - welfare transfers (welfare.h) are not indexed: their id's low half is
 *    the sequence of their own record, so the journal is the index.
 *
 * The watermark (meta "transfer_ids_watermark", a journal sequence): every
 * indexed record at or below it has its id in the B-tree. It advances when
 * a frozen table is fully merged, to just below the oldest id still
 * buffered (or to the last sequence when none is). At open, the buffer is
 * rebuilt from the journal records after the watermark whose id is not in
 * the B-tree (transfer_index_open); that covers a crash in the middle of a
 * merge too (the ids merged already are in the B-tree).
 *
 * The watermark stays below the oldest id of the active table, so a few
 * ids out of order in an otherwise ordered workload would hold it for
 * good: a table whose oldest entry is twice the bound of sequences old is
 * frozen and merged even though it is not due (id_buffer_rotate).
 *
 * Rollback: the savepoint (ledger_internal.h) holds the active count, the
 * fresh ids' count, the frozen table's merge position and the watermark;
 * a freeze happens only between groups, so it never needs undoing.
 */
#include <assert.h>
#include <string.h>

#include "ledger_internal.h"
#include "memory.h"
#include "welfare.h"

static const char *const META_WATERMARK = "transfer_ids_watermark";

/* Entries merged per group at least, as a fraction of the bound, so that
 * a frozen table left by an open is merged even without new ids. */
enum { MERGE_SLICE_BOUND_DIVISOR = 64 };

static int derived_index_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                             uint64_t *sequence_out, bool *found_out) {
    if (id.lo == 0 || id.lo > ledger->sequence) return 0;
    journal_record_t record;
    int error = journal_read(ledger, txn, id.lo, &record);
    if (error) return error;
    if (record.kind == RECORD_KIND_TRANSFER && ledger_u128_equal(record.id, id)) {
        *sequence_out = id.lo;
        *found_out = true;
    }
    return 0;
}

/* The last sequence `txn` can see: the buffer holds the writer's state,
 * the open group's (and chain's) records included, which a transaction
 * begun before them must not be told about. */
static uint64_t sequence_visible(const ledger_t *ledger, MDB_txn *txn) {
    if (ledger->txn_group == NULL || txn == ledger->txn) return ledger->sequence;
    if (txn == ledger->txn_group) return ledger->chain_savepoint.sequence;
    return ledger->group_savepoint.sequence;
}

static int btree_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                     uint64_t *sequence_out, bool *found_out) {
    uint8_t key_bytes[KEY_ID_SIZE];
    key_id_encode(id, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    int error = mdb_get(txn, ledger->dbi_transfer_ids, &key, &data);
    if (error == MDB_NOTFOUND) return 0;
    if (error) return error;
    if (data.mv_size != 8) {
        ledger_set_error(ledger, "transfer id index entry has size %zu", data.mv_size);
        return LEDGER_ERR_CORRUPT;
    }
    *sequence_out = get_u64(data.mv_data);
    *found_out = true;
    return 0;
}

/* Puts an entry into the B-tree (not into the filter). */
static int btree_put_entry(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id, uint64_t sequence,
                           unsigned int flags) {
    uint8_t key_bytes[KEY_ID_SIZE];
    uint8_t value[8];
    key_id_encode(id, key_bytes);
    put_u64(value, sequence);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data = {sizeof(value), value};
    MDB_cursor *cursor = txn == ledger->txn
                             ? group_cursor(ledger, GROUP_CURSOR_TRANSFER_IDS, ledger->dbi_transfer_ids)
                             : NULL;
    int error = cursor != NULL ? mdb_cursor_put(cursor, &key, &data, flags)
                               : mdb_put(txn, ledger->dbi_transfer_ids, &key, &data, flags);
    /* The id was checked absent before; KEYEXIST here is a bug. */
    assert(error != MDB_KEYEXIST);
    return store_error(error);
}

static int btree_put(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id, uint64_t sequence,
                     unsigned int flags) {
    int error = btree_put_entry(ledger, txn, id, sequence, flags);
    if (!error) id_filter_add(&ledger->id_filter, id);
    return error;
}

int transfer_index_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                       uint64_t *sequence_out, bool *found_out) {
    *found_out = false;
    if (welfare_transfer_id_is(id)) return derived_index_get(ledger, txn, id, sequence_out, found_out);
    if (ledger_u128_compare(id, ledger->transfer_id_max) > 0) return 0;
    /* Most new ids stop here: not in the B-tree, nor in the buffer, nor
     * among the open group's fresh ids, nor in any snapshot. */
    if (!id_filter_maybe(&ledger->id_filter, id)) return 0;
    uint64_t sequence = 0;
    if (id_buffer_find(&ledger->id_buffer, id, &sequence) &&
        sequence <= sequence_visible(ledger, txn)) {
        *sequence_out = sequence;
        *found_out = true;
        return 0;
    }
    if (ledger_u128_compare(id, ledger->transfer_id_group_floor) > 0 &&
        id_runs_find(&ledger->fresh_ids, id, &sequence) &&
        sequence <= sequence_visible(ledger, txn)) {
        *sequence_out = sequence;
        *found_out = true;
        return 0;
    }
    return btree_get(ledger, txn, id, sequence_out, found_out);
}

int transfer_index_put(ledger_t *ledger, ledger_u128_t id, uint64_t sequence) {
    if (welfare_transfer_id_is(id)) {
        assert(id.lo == sequence);
        return 0;
    }
    assert(sequence > ledger->transfer_ids_watermark);
    if (ledger_u128_compare(id, ledger->transfer_id_group_floor) > 0) {
        if (ledger_u128_compare(id, ledger->transfer_id_max) > 0) ledger->transfer_id_max = id;
        if (id_runs_add(&ledger->fresh_ids, id, sequence)) {
            id_filter_add(&ledger->id_filter, id);
            return 0;
        }
        /* At the bound (or out of runs, or memory): into the B-tree now;
         * the group's end then no longer appends blindly (fresh_flush). */
        ledger->transfer_id_fresh_direct = true;
        return btree_put(ledger, ledger->txn, id, sequence, MDB_NOOVERWRITE);
    }
    /* Larger than every id at the start of one of the last few groups: it
     * lands on one of the few right-most leaves that those groups' appends
     * wrote (the key range past that maximum holds only their ids), so
     * the B-tree takes it at little cost. Time-ordered ids from several
     * clients arrive slightly out of order, and they take this path. */
    if (ledger_u128_compare(id, ledger->transfer_id_recent_floor) > 0) {
        return btree_put(ledger, ledger->txn, id, sequence, MDB_NOOVERWRITE);
    }
    if (id_buffer_add(&ledger->id_buffer, id, sequence)) {
        /* Its filter line is in the cache: the lookup before read it. */
        id_filter_add(&ledger->id_filter, id);
        return 0;
    }
    /* The buffer is full (or cannot grow): the slow path, still correct. */
    return btree_put(ledger, ledger->txn, id, sequence, MDB_NOOVERWRITE);
}

void transfer_index_group_begin(ledger_t *ledger) {
    assert(ledger->txn == ledger->txn_group);
    assert(ledger->fresh_ids.count == 0);
    ledger->transfer_id_group_floor = ledger->transfer_id_max;
    ledger->transfer_id_fresh_direct = false;
    id_buffer_rotate(&ledger->id_buffer, ledger->sequence);
    /* A heuristic only (any id may go into the B-tree): a rolled-back
     * group leaves its entry, which does no harm. */
    uint32_t slot = ledger->groups_begun++ % TRANSFER_ID_RECENT_GROUPS;
    ledger->transfer_id_max_recent[slot] = ledger->transfer_id_max;
    ledger->transfer_id_recent_floor =
        ledger->transfer_id_max_recent[ledger->groups_begun % TRANSFER_ID_RECENT_GROUPS];
}

/* Merges the next slice of the frozen table into the B-tree: at least
 * twice what the group added (so that the frozen table is gone before the
 * active one is due again), all of it once the active one is due. */
static int merge_slice(ledger_t *ledger) {
    id_buffer_t *buffer = &ledger->id_buffer;
    uint32_t left = id_buffer_frozen_left(buffer);
    if (left == 0) return 0;
    uint32_t added = buffer->active.count - ledger->group_savepoint.id_buffer_count;
    uint64_t slice = (uint64_t)added * 2;
    if (slice < buffer->bound / MERGE_SLICE_BOUND_DIVISOR + 1) {
        slice = buffer->bound / MERGE_SLICE_BOUND_DIVISOR + 1;
    }
    if (slice > left || id_buffer_freeze_due(buffer)) slice = left;
    /* Through the group's cursor (btree_put_entry): LMDB does not descend
     * from the root again while the next key falls on the cursor's leaf,
     * and the keys come in order. The ids are in the filter since they
     * were buffered (or loaded at open), and absent from the B-tree by
     * construction (top of this file). */
    assert(ledger->txn == ledger->txn_group);
    int error = 0;
    for (uint32_t i = 0; i < slice && !error; i++) {
        const id_buffer_entry_t *entry = &buffer->frozen.entries[buffer->frozen_merged];
        error = btree_put_entry(ledger, ledger->txn, entry->id, entry->sequence, MDB_NOOVERWRITE);
        if (!error) buffer->frozen_merged++;
    }
    return error;
}

/* Writes the group's fresh ids into the B-tree in id order (they are in
 * the filter already): each one an append, unless an id went into the
 * B-tree directly. */
static int fresh_flush(ledger_t *ledger) {
    uint32_t count = 0;
    const id_buffer_entry_t *entries = id_runs_take_sorted(&ledger->fresh_ids, &count);
    unsigned int flags = ledger->transfer_id_fresh_direct ? MDB_NOOVERWRITE : MDB_APPEND;
    int error = 0;
    for (uint32_t i = 0; i < count && !error; i++) {
        error = btree_put_entry(ledger, ledger->txn_group, entries[i].id, entries[i].sequence, flags);
    }
    return error;
}

int transfer_index_group_finish(ledger_t *ledger) {
    int error = fresh_flush(ledger);
    if (!error) error = merge_slice(ledger);
    if (error) return error;
    const id_buffer_t *buffer = &ledger->id_buffer;
    if (id_buffer_frozen_left(buffer) > 0) return 0;
    uint64_t watermark = buffer->active.count > 0 ? buffer->active.entries[0].sequence - 1
                                                  : ledger->sequence;
    assert(watermark >= ledger->transfer_ids_watermark);
    if (watermark == ledger->transfer_ids_watermark) return 0;
    error = store_meta_put_u64(ledger, ledger->txn_group, META_WATERMARK, watermark);
    if (!error) ledger->transfer_ids_watermark = watermark;
    return error;
}

int transfer_index_watermark_write(ledger_t *ledger, MDB_txn *txn, uint64_t watermark) {
    return store_meta_put_u64(ledger, txn, META_WATERMARK, watermark);
}

int transfer_index_watermark_read(ledger_t *ledger, MDB_txn *txn, uint64_t *watermark_out) {
    bool found = false;
    int error = store_meta_get_u64(ledger, txn, META_WATERMARK, watermark_out, &found);
    if (error || found) return error;
    ledger_set_error(ledger, "meta has no transfer_ids_watermark (format version %u)",
                     (unsigned)STORE_FORMAT_VERSION);
    return LEDGER_ERR_CORRUPT;
}

/* Whether journal record bytes (already checked by the open's scans) are
 * an indexed record, and its id. */
static bool record_bytes_indexed(const uint8_t *bytes, ledger_u128_t *id_out) {
    uint8_t kind = bytes[5];
    if (kind != RECORD_KIND_TRANSFER && kind != RECORD_KIND_FAILED) return false;
    *id_out = key_id_decode_le(bytes + 24);
    return !welfare_transfer_id_is(*id_out);
}

static int entries_push(id_buffer_entry_t **entries, uint32_t *count, uint32_t *capacity,
                        id_buffer_entry_t entry) {
    if (*count == *capacity) {
        uint32_t grown = *capacity ? *capacity * 2 : 1024;
        id_buffer_entry_t *bigger = memory_realloc(*entries, (size_t)grown * sizeof(**entries));
        if (bigger == NULL) return LEDGER_ERR_NO_MEMORY;
        *entries = bigger;
        *capacity = grown;
    }
    (*entries)[(*count)++] = entry;
    return 0;
}

/* The indexed records after the watermark, in sequence order. */
static int journal_collect(ledger_t *ledger, MDB_txn *txn, id_buffer_entry_t **entries_out,
                           uint32_t *count_out) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn, ledger->dbi_journal, &cursor);
    if (error) return error;
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(ledger->transfer_ids_watermark + 1, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    uint32_t capacity = 0;
    for (error = mdb_cursor_get(cursor, &key, &data, MDB_SET_RANGE); error == 0;
         error = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
        uint64_t sequence = key_sequence_decode(key.mv_data);
        if (sequence > ledger->sequence) break;
        ledger_u128_t id;
        if (data.mv_size != RECORD_JOURNAL_SIZE || !record_bytes_indexed(data.mv_data, &id)) {
            continue;
        }
        error = entries_push(entries_out, count_out, &capacity, (id_buffer_entry_t){id, sequence});
        if (error) break;
    }
    mdb_cursor_close(cursor);
    return error == MDB_NOTFOUND ? 0 : error;
}

/* Drops the entries (sorted by id) whose id the B-tree holds: appended
 * ids, ids put directly, and ids of a merge a crash interrupted. In id
 * order, one cursor: LMDB then stays on the current leaf while the keys
 * fall on it, instead of descending from the root for each. */
static int drop_indexed(ledger_t *ledger, MDB_txn *txn, id_buffer_entry_t *entries,
                        uint32_t *count) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn, ledger->dbi_transfer_ids, &cursor);
    if (error) return error;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < *count && !error; i++) {
        uint8_t key_bytes[KEY_ID_SIZE];
        key_id_encode(entries[i].id, key_bytes);
        MDB_val key = {sizeof(key_bytes), key_bytes};
        MDB_val data;
        error = mdb_cursor_get(cursor, &key, &data, MDB_SET);
        if (error == 0) continue;
        if (error == MDB_NOTFOUND) error = 0;
        entries[kept++] = entries[i];
    }
    mdb_cursor_close(cursor);
    *count = kept;
    return error;
}

/* Two records of one id (entries sorted by id): the journal is damaged
 * (ids are refused twice by the write path), refuse it at open. */
static int duplicates_refuse(ledger_t *ledger, const id_buffer_entry_t *entries,
                             uint32_t count) {
    for (uint32_t i = 1; i < count; i++) {
        if (ledger_u128_compare(entries[i - 1].id, entries[i].id) != 0) continue;
        ledger_set_error(ledger, "journal records %llu and %llu have the same transfer id",
                         (unsigned long long)entries[i - 1].sequence,
                         (unsigned long long)entries[i].sequence);
        return LEDGER_ERR_CORRUPT;
    }
    return 0;
}

/* Adds every id of the B-tree to the filter (writable handles): one pass
 * in key order. */
static int filter_fill(ledger_t *ledger, MDB_txn *txn) {
    if (ledger->options.read_only) return 0;
    int error = id_filter_init(&ledger->id_filter, TRANSFER_ID_FILTER_BYTES);
    if (error) return error;
    MDB_cursor *cursor = NULL;
    error = mdb_cursor_open(txn, ledger->dbi_transfer_ids, &cursor);
    if (error) return error;
    MDB_val key;
    MDB_val data;
    for (error = mdb_cursor_get(cursor, &key, &data, MDB_FIRST); error == 0;
         error = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
        if (key.mv_size != KEY_ID_SIZE) {
            error = LEDGER_ERR_CORRUPT;
            ledger_set_error(ledger, "transfer id index key has size %zu", key.mv_size);
            break;
        }
        id_filter_add(&ledger->id_filter, key_id_decode(key.mv_data));
    }
    mdb_cursor_close(cursor);
    return error == MDB_NOTFOUND ? 0 : error;
}

int transfer_index_open(ledger_t *ledger, MDB_txn *txn) {
    id_buffer_init(&ledger->id_buffer, ledger->options.transfer_id_buffer_max);
    id_runs_init(&ledger->fresh_ids, ledger->options.transfer_id_buffer_max);
    int error = filter_fill(ledger, txn);
    if (error) return error;
    /* No group has begun since the open: the recent floor stays above
     * every id until TRANSFER_ID_RECENT_GROUPS have. A floor of 0 would
     * send every random id of a fresh ledger's first groups into the
     * B-tree one by one (a random leaf each: 40% of a 2M-transfer run). */
    const ledger_u128_t above_every_id = {UINT64_MAX, UINT64_MAX};
    for (uint32_t i = 0; i < TRANSFER_ID_RECENT_GROUPS; i++) {
        ledger->transfer_id_max_recent[i] = above_every_id;
    }
    ledger->transfer_id_recent_floor = above_every_id;
    if (ledger->transfer_ids_watermark >= ledger->sequence) return 0;
    id_buffer_entry_t *entries = NULL;
    uint32_t count = 0;
    error = journal_collect(ledger, txn, &entries, &count);
    if (!error) {
        id_buffer_entries_sort(entries, count);
        error = duplicates_refuse(ledger, entries, count);
    }
    if (!error) error = drop_indexed(ledger, txn, entries, &count);
    if (error) {
        memory_free(entries);
        return error;
    }
    /* A buffered id is in the filter (a lookup asks the filter first). */
    for (uint32_t i = 0; i < count; i++) id_filter_add(&ledger->id_filter, entries[i].id);
    return id_buffer_load_frozen(&ledger->id_buffer, entries, count);
}
