/*
 * test_id_index.c — the transfer id index with its in-memory buffer
 * (ledger/transfer_index.c, ledger/id_buffer.c), at a small bound.
 *
 * Random (non-monotonic) ids are buffered, frozen at half the bound and
 * merged into the transfer_ids B-tree a slice per group; the watermark
 * says which journal records are all in the B-tree. These cases drive a
 * ledger with ledger_options_t.transfer_id_buffer_max = ID_BOUND through
 * every state (ids in the active table, in the frozen table, merged, past
 * the bound) and check that every id keeps its answer: found by lookup,
 * `exists` on an identical resend, refused with a different amount, across
 * reopens (the buffer rebuilt from the journal, also in the middle of a
 * merge), rollbacks of groups and linked chains, verification (and its
 * failure when the B-tree loses an entry below the watermark) and the
 * upgrade of a format-1 directory; and the Bloom filter of the B-tree's ids
 * (ledger/id_filter.c). The internal header is included to see
 * the buffer's state, so that the cases can assert they reached it.
 */
#include <inttypes.h>
#include <lmdb.h>

#include "ledger_fixture.h"
#include "ledger_internal.h"
#include "raw_lmdb.h"

enum {
    ID_BOUND = 16,              /* the id buffer's bound in these cases */
    ACCOUNTS = 8,
    BATCH = 5,                  /* transfers per create call (one group) */
    TRANSFERS_MAX = 2000,       /* ids a case remembers */
};

typedef struct ids {
    ledger_transfer_t transfers[TRANSFERS_MAX];
    uint32_t count;
    uint64_t state; /* splitmix64 */
} ids_t;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A transfer with a fresh random id (top bits clear: never welfare's). */
static ledger_transfer_t random_transfer(ids_t *ids) {
    uint64_t debit = 1 + splitmix64(&ids->state) % ACCOUNTS;
    uint64_t credit = 1 + (debit % ACCOUNTS);
    ledger_transfer_t transfer = transfer_make(0, debit, credit, 1 + ids->count % 7);
    transfer.id.hi = splitmix64(&ids->state) >> 2;
    transfer.id.lo = splitmix64(&ids->state);
    return transfer;
}

static void setup(fixture_t *f, ids_t *ids, const char *prefix) {
    ledger_options_t options = {.transfer_id_buffer_max = ID_BOUND};
    fixture_open_with(f, prefix, &options);
    memset(ids, 0, sizeof(*ids));
    ids->state = 42;
    ledger_account_t accounts[ACCOUNTS];
    ledger_result_t results[ACCOUNTS];
    for (uint32_t i = 0; i < ACCOUNTS; i++) accounts[i] = account_make(i + 1, FIXTURE_LEDGER, 0);
    TEST_REQUIRE(ledger_create_accounts(f->ledger, accounts, ACCOUNTS, results) == 0);
    for (uint32_t i = 0; i < ACCOUNTS; i++) TEST_CHECK_EQ(results[i].result, LEDGER_RESULT_OK);
    /* A large first id: every later random id is non-monotonic. */
    ledger_transfer_t first = transfer_make(0, 1, 2, 1);
    first.id.hi = UINT64_MAX >> 2;
    first.id.lo = UINT64_MAX;
    ledger_result_t result;
    TEST_REQUIRE(ledger_create_transfers(f->ledger, &first, 1, &result) == 0);
    TEST_CHECK_EQ(result.result, LEDGER_RESULT_OK);
    /* Ids above the maximum of the last few groups go straight into the
     * B-tree: empty groups until that maximum is the large id. */
    for (uint32_t i = 0; i < TRANSFER_ID_RECENT_GROUPS; i++) {
        TEST_REQUIRE(ledger_write_begin(f->ledger) == 0);
        TEST_REQUIRE(ledger_write_commit(f->ledger) == 0);
    }
    TEST_CHECK(ledger_u128_compare(f->ledger->transfer_id_recent_floor, first.id) == 0);
}

/* Sends `count` new random transfers in one call (its own group). */
static void send_batch(fixture_t *f, ids_t *ids, uint32_t count) {
    TEST_REQUIRE(ids->count + count <= TRANSFERS_MAX);
    ledger_transfer_t *batch = &ids->transfers[ids->count];
    for (uint32_t i = 0; i < count; i++) {
        batch[i] = random_transfer(ids);
        ids->count++;
    }
    ledger_result_t results[64];
    f->now_ns += 1000;
    TEST_REQUIRE(ledger_create_transfers(f->ledger, batch, count, results) == 0);
    for (uint32_t i = 0; i < count; i++) TEST_CHECK_EQ(results[i].result, LEDGER_RESULT_OK);
}

/* Every remembered id: found by lookup; an identical resend is `exists`,
 * one with another amount is refused as a different transfer. */
static void check_all(fixture_t *f, const ids_t *ids) {
    for (uint32_t i = 0; i < ids->count; i++) {
        const ledger_transfer_t *sent = &ids->transfers[i];
        ledger_transfer_t found;
        uint32_t found_count = 0;
        TEST_CHECK_EQ(ledger_lookup_transfers(f->ledger, &sent->id, 1, &found, &found_count), 0);
        TEST_CHECK_EQ(found_count, 1);
        if (found_count == 1) TEST_CHECK_EQ(found.amount, sent->amount);
    }
    for (uint32_t i = 0; i < ids->count; i += 1 + ids->count / 40) {
        ledger_transfer_t again[2] = {ids->transfers[i], ids->transfers[i]};
        again[1].amount += 1000;
        ledger_result_t results[2];
        f->now_ns += 1000;
        TEST_CHECK_EQ(ledger_create_transfers(f->ledger, again, 2, results), 0);
        TEST_CHECK_EQ(results[0].result, LEDGER_RESULT_EXISTS);
        TEST_CHECK_EQ(results[1].result, LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT);
    }
}

static void verify_ok(fixture_t *f) {
    ledger_verify_report_t report;
    int rc = ledger_verify(f->ledger, &report, NULL, NULL);
    if (rc != 0) printf("# verify: %s (first bad %" PRIu64 ")\n", report.message, report.first_bad_sequence);
    TEST_CHECK_EQ(rc, 0);
}

/* Every id answers, the ledger verifies, and again after a reopen without
 * a checkpoint (as after a crash); then the fixture is closed. */
static void check_across_reopen(fixture_t *f, const ids_t *ids) {
    check_all(f, ids);
    verify_ok(f);
    ledger_close_without_checkpoint(f->ledger);
    f->ledger = NULL;
    fixture_reopen(f);
    check_all(f, ids);
    verify_ok(f);
    fixture_close(f);
}

/* What a case saw of the buffer: each state must be reached. */
typedef struct states {
    bool active, frozen_partly_merged, watermark_advanced;
} states_t;

static void states_note(const fixture_t *f, states_t *states) {
    const id_buffer_t *buffer = &f->ledger->id_buffer;
    states->active |= buffer->active.count > 0;
    states->frozen_partly_merged |= buffer->frozen_merged > 0 && id_buffer_frozen_left(buffer) > 0;
    states->watermark_advanced |= f->ledger->transfer_ids_watermark > ACCOUNTS + 1;
    TEST_CHECK(buffer->active.count <= ID_BOUND);
}

static void test_random_ids_across_merges(void) {
    fixture_t f;
    ids_t ids;
    setup(&f, &ids, "id-merges");
    states_t states = {0};
    /* Failure markers are indexed too: ids that must stay failed. */
    ids_t failed;
    memset(&failed, 0, sizeof(failed));
    failed.state = 7;
    for (uint32_t round = 0; round < 60; round++) {
        send_batch(&f, &ids, 1 + round % BATCH);
        states_note(&f, &states);
        if (round % 10 == 9) check_all(&f, &ids);
        if (round % 3 != 0) continue;
        ledger_transfer_t missing = random_transfer(&failed);
        missing.debit_account_id = id128(ACCOUNTS + 100);
        failed.transfers[failed.count++] = missing;
        ledger_result_t result;
        f.now_ns += 1000;
        TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &missing, 1, &result), 0);
        TEST_CHECK_EQ(result.result, LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND);
    }
    check_all(&f, &ids);
    verify_ok(&f);
    for (uint32_t i = 0; i < failed.count; i++) {
        ledger_result_t result;
        f.now_ns += 1000;
        TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &failed.transfers[i], 1, &result), 0);
        TEST_CHECK_EQ(result.result, LEDGER_RESULT_ID_ALREADY_FAILED);
    }
    TEST_CHECK(states.active);
    TEST_CHECK(states.frozen_partly_merged);
    TEST_CHECK(states.watermark_advanced);
    fixture_shut(&f);
    fixture_reopen(&f);
    check_all(&f, &ids);
    verify_ok(&f);
    fixture_close(&f);
}

/* Reopened (without a checkpoint, like after a crash) while a frozen table
 * is half merged: the open rebuilds the buffer from the journal after the
 * watermark, skipping the ids the B-tree has already. */
static void test_reopen_mid_merge(void) {
    fixture_t f;
    ids_t ids;
    setup(&f, &ids, "id-reopen");
    bool mid_merge = false;
    for (uint32_t round = 0; round < 200 && !mid_merge; round++) {
        send_batch(&f, &ids, 1);
        const id_buffer_t *buffer = &f.ledger->id_buffer;
        mid_merge = buffer->frozen_merged > 0 && id_buffer_frozen_left(buffer) > 0;
    }
    TEST_REQUIRE(mid_merge);
    uint64_t watermark = f.ledger->transfer_ids_watermark;
    ledger_close_without_checkpoint(f.ledger);
    f.ledger = NULL;
    fixture_reopen(&f);
    TEST_CHECK_EQ(f.ledger->transfer_ids_watermark, watermark);
    TEST_CHECK(id_buffer_frozen_left(&f.ledger->id_buffer) > 0);
    check_all(&f, &ids);
    verify_ok(&f);
    for (uint32_t round = 0; round < 30; round++) send_batch(&f, &ids, BATCH);
    check_all(&f, &ids);
    verify_ok(&f);
    /* A read-only handle rebuilds the same answers. */
    ledger_t *reader = NULL;
    ledger_options_t read_only = {.read_only = true, .transfer_id_buffer_max = ID_BOUND};
    TEST_REQUIRE(ledger_open(f.path, &read_only, &reader) == 0);
    for (uint32_t i = 0; i < ids.count; i++) {
        ledger_transfer_t found;
        uint32_t found_count = 0;
        TEST_CHECK_EQ(ledger_lookup_transfers(reader, &ids.transfers[i].id, 1, &found, &found_count), 0);
        TEST_CHECK_EQ(found_count, 1);
    }
    ledger_verify_report_t report;
    TEST_CHECK_EQ(ledger_verify(reader, &report, NULL, NULL), 0);
    ledger_close(reader);
    fixture_close(&f);
}

/* An aborted group and a failed linked chain leave no id behind: the same
 * ids are accepted afterwards. */
static void test_rollback_leaves_no_trace(void) {
    fixture_t f;
    ids_t ids;
    setup(&f, &ids, "id-rollback");
    for (uint32_t round = 0; round < 12; round++) send_batch(&f, &ids, BATCH);
    ids_t ghost = ids;
    ghost.state ^= 0x5555;
    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    uint32_t active_before = f.ledger->id_buffer.active.count;
    uint32_t merged_before = f.ledger->id_buffer.frozen_merged;
    uint32_t ghost_start = ghost.count;
    for (uint32_t round = 0; round < 4; round++) send_batch(&f, &ghost, BATCH);
    ledger_write_abort(f.ledger);
    TEST_CHECK_EQ(f.ledger->id_buffer.active.count, active_before);
    TEST_CHECK_EQ(f.ledger->id_buffer.frozen_merged, merged_before);
    for (uint32_t i = ghost_start; i < ghost.count; i++) {
        uint32_t found_count = 1;
        ledger_transfer_t found;
        TEST_CHECK_EQ(ledger_lookup_transfers(f.ledger, &ghost.transfers[i].id, 1, &found, &found_count), 0);
        TEST_CHECK_EQ(found_count, 0);
    }
    /* A chain of three whose last event fails (same accounts). */
    ledger_transfer_t chain[3];
    for (uint32_t i = 0; i < 3; i++) {
        chain[i] = random_transfer(&ghost);
        chain[i].flags = i < 2 ? LEDGER_TRANSFER_LINKED : 0;
    }
    chain[2].credit_account_id = chain[2].debit_account_id;
    ledger_result_t results[3];
    active_before = f.ledger->id_buffer.active.count;
    f.now_ns += 1000;
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, chain, 3, results), 0);
    TEST_CHECK_EQ(results[0].result, LEDGER_RESULT_LINKED_EVENT_FAILED);
    TEST_CHECK_EQ(results[2].result, LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT);
    TEST_CHECK(f.ledger->id_buffer.active.count <= active_before);
    /* The ghosts' ids are new again. */
    for (uint32_t i = ghost_start; i < ghost.count; i++) {
        ids.transfers[ids.count++] = ghost.transfers[i];
        ledger_result_t result;
        f.now_ns += 1000;
        TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &ghost.transfers[i], 1, &result), 0);
        TEST_CHECK_EQ(result.result, LEDGER_RESULT_OK);
    }
    chain[2].credit_account_id = id128(1 + chain[2].debit_account_id.lo % ACCOUNTS);
    f.now_ns += 1000;
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, chain, 3, results), 0);
    for (uint32_t i = 0; i < 3; i++) {
        TEST_CHECK_EQ(results[i].result, LEDGER_RESULT_OK);
        ledger_transfer_t found;
        uint32_t found_count = 0;
        TEST_CHECK_EQ(ledger_lookup_transfers(f.ledger, &chain[i].id, 1, &found, &found_count), 0);
        TEST_CHECK_EQ(found_count, 1);
    }
    check_all(&f, &ids);
    verify_ok(&f);
    fixture_close(&f);
}

/* One group of more new ids than the bound: the active table fills, the
 * rest go into the B-tree one by one; all are found, before and after a
 * reopen. */
static void test_bound_reached(void) {
    fixture_t f;
    ids_t ids;
    setup(&f, &ids, "id-bound");
    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    for (uint32_t round = 0; round < 10; round++) send_batch(&f, &ids, BATCH);
    TEST_CHECK_EQ(f.ledger->id_buffer.active.count, ID_BOUND);
    check_all(&f, &ids);
    TEST_REQUIRE(ledger_write_commit(f.ledger) == 0);
    check_across_reopen(&f, &ids);
}

/* A read transaction begun before the open group must not be told about
 * the group's buffered ids (transfer_index_get). */
static void test_read_txn_visibility(void) {
    fixture_t f;
    ids_t ids;
    setup(&f, &ids, "id-visibility");
    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    send_batch(&f, &ids, 1);
    ledger_u128_t id = ids.transfers[0].id;
    uint64_t sequence = 0;
    TEST_CHECK(id_buffer_find(&f.ledger->id_buffer, id, &sequence));
    MDB_txn *reader = NULL;
    TEST_REQUIRE(mdb_txn_begin(f.ledger->env, NULL, MDB_RDONLY, &reader) == 0);
    bool found = true;
    TEST_CHECK_EQ(transfer_index_get(f.ledger, reader, id, &sequence, &found), 0);
    TEST_CHECK(!found);
    TEST_CHECK_EQ(transfer_index_get(f.ledger, f.ledger->txn, id, &sequence, &found), 0);
    TEST_CHECK(found);
    mdb_txn_abort(reader);
    TEST_REQUIRE(ledger_write_commit(f.ledger) == 0);
    TEST_REQUIRE(mdb_txn_begin(f.ledger->env, NULL, MDB_RDONLY, &reader) == 0);
    TEST_CHECK_EQ(transfer_index_get(f.ledger, reader, id, &sequence, &found), 0);
    TEST_CHECK(found);
    mdb_txn_abort(reader);
    fixture_close(&f);
}

/* ---- raw LMDB access to a closed ledger's directory (raw_lmdb.h) ---- */

/* Deletes the index entry of one id that is in the B-tree and whose
 * record is at or below the watermark; returns its sequence. */
static uint64_t index_entry_delete_below(const char *path, const ids_t *ids, uint64_t watermark) {
    raw_t raw;
    MDB_dbi index = raw_open_path(&raw, path, "transfer_ids");
    uint64_t deleted = 0;
    for (uint32_t i = 0; i < ids->count && deleted == 0; i++) {
        uint8_t key_bytes[KEY_ID_SIZE];
        key_id_encode(ids->transfers[i].id, key_bytes);
        MDB_val key = {sizeof(key_bytes), key_bytes};
        MDB_val data;
        if (mdb_get(raw.txn, index, &key, &data) != 0) continue;
        uint64_t sequence = get_u64(data.mv_data);
        if (sequence > watermark) continue;
        TEST_REQUIRE(mdb_del(raw.txn, index, &key, NULL) == 0);
        deleted = sequence;
    }
    raw_close(&raw);
    return deleted;
}

static void test_verify_detects_lost_entry(void) {
    fixture_t f;
    ids_t ids;
    setup(&f, &ids, "id-verify");
    for (uint32_t round = 0; round < 40; round++) send_batch(&f, &ids, BATCH);
    verify_ok(&f);
    uint64_t watermark = f.ledger->transfer_ids_watermark;
    TEST_REQUIRE(watermark > ACCOUNTS + 1);
    fixture_shut(&f);
    uint64_t lost = index_entry_delete_below(f.path, &ids, watermark);
    TEST_REQUIRE(lost != 0);
    fixture_reopen(&f);
    ledger_verify_report_t report;
    TEST_CHECK_EQ(ledger_verify(f.ledger, &report, NULL, NULL), LEDGER_ERR_VERIFY_FAILED);
    printf("# detected: %s (first bad %" PRIu64 ")\n", report.message, report.first_bad_sequence);
    TEST_CHECK_EQ(report.first_bad_sequence, lost);
    fixture_close(&f);
}

/* Makes a closed format-2 directory what format 1 wrote: every indexed id
 * in the B-tree, format_version 1, no watermark. */
static void directory_make_format_1(const char *path, const ids_t *ids) {
    /* The sequences first, through a read-only handle (one LMDB
     * environment per process and path at a time). */
    static uint64_t sequences[TRANSFERS_MAX];
    ledger_t *reader = NULL;
    ledger_options_t read_only = {.read_only = true};
    TEST_REQUIRE(ledger_open(path, &read_only, &reader) == 0);
    for (uint32_t i = 0; i < ids->count; i++) {
        bool found = false;
        TEST_REQUIRE(ledger_transfer_sequence(reader, ids->transfers[i].id, &sequences[i],
                                              &found) == 0);
        TEST_REQUIRE(found);
    }
    ledger_close(reader);
    raw_t raw;
    MDB_dbi index = raw_open_path(&raw, path, "transfer_ids");
    MDB_dbi meta;
    TEST_REQUIRE(mdb_dbi_open(raw.txn, "meta", 0, &meta) == 0);
    for (uint32_t i = 0; i < ids->count; i++) {
        uint8_t key_bytes[KEY_ID_SIZE];
        uint8_t value[8];
        key_id_encode(ids->transfers[i].id, key_bytes);
        put_u64(value, sequences[i]);
        MDB_val key = {sizeof(key_bytes), key_bytes};
        MDB_val data = {sizeof(value), value};
        int rc = mdb_put(raw.txn, index, &key, &data, MDB_NOOVERWRITE);
        TEST_REQUIRE(rc == 0 || rc == MDB_KEYEXIST);
    }
    uint8_t version[4] = {1, 0, 0, 0};
    MDB_val version_key = {strlen("format_version"), (void *)"format_version"};
    MDB_val version_value = {sizeof(version), version};
    TEST_REQUIRE(mdb_put(raw.txn, meta, &version_key, &version_value, 0) == 0);
    MDB_val watermark_key = {strlen("transfer_ids_watermark"), (void *)"transfer_ids_watermark"};
    TEST_REQUIRE(mdb_del(raw.txn, meta, &watermark_key, NULL) == 0);
    raw_close(&raw);
}

static uint32_t format_version_read(const char *path) {
    raw_t raw;
    MDB_dbi meta = raw_open_path(&raw, path, "meta");
    MDB_val key = {strlen("format_version"), (void *)"format_version"};
    MDB_val data;
    uint32_t version = 0;
    if (mdb_get(raw.txn, meta, &key, &data) == 0 && data.mv_size == 4) version = get_u32(data.mv_data);
    raw_close(&raw);
    return version;
}

static void test_format_1_upgrade(void) {
    fixture_t f;
    ids_t ids;
    setup(&f, &ids, "id-format1");
    for (uint32_t round = 0; round < 20; round++) send_batch(&f, &ids, BATCH);
    uint64_t sequence = f.ledger->sequence;
    fixture_shut(&f);
    directory_make_format_1(f.path, &ids);
    /* Read-only: served as it is, nothing written. */
    ledger_t *reader = NULL;
    ledger_options_t read_only = {.read_only = true, .transfer_id_buffer_max = ID_BOUND};
    TEST_REQUIRE(ledger_open(f.path, &read_only, &reader) == 0);
    TEST_CHECK_EQ(reader->transfer_ids_watermark, sequence);
    TEST_CHECK_EQ(reader->id_buffer.frozen.count + reader->id_buffer.active.count, 0);
    ledger_verify_report_t report;
    TEST_CHECK_EQ(ledger_verify(reader, &report, NULL, NULL), 0);
    ledger_close(reader);
    TEST_CHECK_EQ(format_version_read(f.path), 1);
    /* Writable: upgraded in place. */
    fixture_reopen(&f);
    TEST_CHECK_EQ(f.ledger->transfer_ids_watermark, sequence);
    check_all(&f, &ids);
    for (uint32_t round = 0; round < 20; round++) send_batch(&f, &ids, BATCH);
    check_all(&f, &ids);
    verify_ok(&f);
    fixture_shut(&f);
    TEST_CHECK_EQ(format_version_read(f.path), STORE_FORMAT_VERSION);
    fixture_reopen(&f);
    check_all(&f, &ids);
    verify_ok(&f);
    fixture_close(&f);
}

/* The buffer alone against a plain array: random adds up to the bound
 * and random truncations (rollbacks: the backward-shift deletion of the
 * hash), every id's answer checked, then once more after a freeze. */
static void test_buffer_truncate_model(void) {
    enum { BOUND = 4096, ADDED_MAX = 20000 };
    static ledger_u128_t added[ADDED_MAX];
    id_buffer_t buffer;
    id_buffer_init(&buffer, BOUND);
    uint64_t state = 99;
    uint32_t added_count = 0, live = 0;
    for (uint32_t step = 0; step < 3000 && added_count < ADDED_MAX; step++) {
        uint32_t adds = (uint32_t)(splitmix64(&state) % 8);
        for (uint32_t i = 0; i < adds && added_count < ADDED_MAX; i++) {
            ledger_u128_t id = {splitmix64(&state) % 64, splitmix64(&state)};
            bool ok = id_buffer_add(&buffer, id, added_count + 1);
            TEST_CHECK_EQ(ok, live < BOUND);
            if (!ok) break;
            /* Entry `live` of the active table is added[added_count]. */
            added[added_count++] = id;
            live++;
        }
        if (splitmix64(&state) % 4 == 0 && live > 0) {
            uint32_t drop = (uint32_t)(splitmix64(&state) % (live < 6 ? live + 1 : 6));
            id_buffer_truncate(&buffer, live - drop);
            live -= drop;
            added_count -= drop;
        }
        TEST_CHECK_EQ(buffer.active.count, live);
    }
    for (uint32_t i = 0; i < added_count; i++) {
        uint64_t sequence = 0;
        TEST_CHECK(id_buffer_find(&buffer, added[i], &sequence));
        TEST_CHECK_EQ(sequence, i + 1);
    }
    /* Freeze: the same answers from the frozen table, sorted by id. */
    id_buffer_rotate(&buffer, added_count);
    TEST_CHECK_EQ(buffer.frozen.count, live);
    TEST_CHECK_EQ(buffer.active.count, 0);
    for (uint32_t i = 1; i < buffer.frozen.count; i++) {
        TEST_CHECK(ledger_u128_compare(buffer.frozen.entries[i - 1].id, buffer.frozen.entries[i].id) < 0);
    }
    for (uint32_t i = 0; i < added_count; i++) {
        uint64_t sequence = 0;
        TEST_CHECK(id_buffer_find(&buffer, added[i], &sequence));
        TEST_CHECK_EQ(sequence, i + 1);
    }
    ledger_u128_t absent = {1000, 1};
    uint64_t sequence = 0;
    TEST_CHECK(!id_buffer_find(&buffer, absent, &sequence));
    id_buffer_free(&buffer);
}

static int entry_order(const void *a, const void *b) {
    return ledger_u128_compare(((const id_buffer_entry_t *)a)->id, ((const id_buffer_entry_t *)b)->id);
}

/* id_buffer_entries_sort (a freeze, an open's rebuild) against qsort, on
 * each kind of id it meets: random ids (spread over the top bits, into
 * small buckets), time-ordered ids (one large bucket), a few clusters
 * (buckets of every size), below and at the size where buckets start. */
static void test_entries_sort(void) {
    enum { COUNT_MAX = 200000 };
    static id_buffer_entry_t entries[COUNT_MAX], expected[COUNT_MAX];
    static const uint32_t counts[] = {1, 100, 4095, 4096, 50000, COUNT_MAX};
    uint64_t state = 11;
    for (uint32_t kind = 0; kind < 3; kind++) {
        for (uint32_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            uint32_t count = counts[c];
            for (uint32_t i = 0; i < count; i++) {
                uint64_t hi = splitmix64(&state), lo = splitmix64(&state);
                if (kind == 1) hi = (UINT64_C(0x0190) << 48) | (hi >> 24);
                if (kind == 2) hi = (hi & UINT64_C(0x0007000000000000)) | (hi >> 40);
                entries[i] = (id_buffer_entry_t){{hi, lo}, i + 1};
            }
            memcpy(expected, entries, count * sizeof(entries[0]));
            qsort(expected, count, sizeof(expected[0]), entry_order);
            id_buffer_entries_sort(entries, count);
            uint32_t wrong = 0;
            for (uint32_t i = 0; i < count; i++) {
                wrong += !ledger_u128_equal(entries[i].id, expected[i].id) ||
                         entries[i].sequence != expected[i].sequence;
            }
            if (wrong) printf("# kind %u, %u entries: %u out of place\n", kind, count, wrong);
            TEST_CHECK_EQ(wrong, 0);
        }
    }
}

/* The fresh ids of a group (ledger/id_runs.c): ids added as several
 * interleaved increasing runs (the requests of one group), some dropped
 * again (rollbacks); every live one found with its sequence, none of the
 * dropped ones; take gives the live ones sorted by id and leaves the set
 * empty. A new run past ID_RUNS_MAX is refused (nothing added), a longer
 * run is not. Ids in random order stop at the runs' bound. */
static void test_fresh_runs_model(void) {
    enum { BOUND = 4096, STREAMS_MAX = 9 };
    static id_buffer_entry_t live[BOUND];
    id_runs_t runs;
    id_runs_init(&runs, BOUND);
    uint64_t state = 7;
    for (uint32_t round = 0; round < 60; round++) {
        uint32_t streams = 1 + round % STREAMS_MAX;
        bool random_order = round % 10 == 9;
        uint32_t live_count = 0;
        uint64_t sequence = 1;
        uint32_t total = 1 + (uint32_t)(splitmix64(&state) % (BOUND - 1));
        bool refused = false;
        while (live_count < total && !refused) {
            /* A request: a stretch of one stream's ids (id lo = position
             * * streams + stream, so the streams interleave). */
            uint32_t stream = (uint32_t)(splitmix64(&state) % streams);
            uint32_t length = 1 + (uint32_t)(splitmix64(&state) % 200);
            uint32_t request_start = live_count;
            for (uint32_t i = 0; i < length && live_count < total; i++) {
                ledger_u128_t id = {round, random_order ? splitmix64(&state)
                                                        : (sequence * streams + stream) << 8};
                uint32_t runs_before = runs.runs;
                bool run_new = live_count == 0 || ledger_u128_compare(id, live[live_count - 1].id) < 0;
                bool added = id_runs_add(&runs, id, sequence);
                TEST_CHECK_EQ(added, !run_new || runs_before < ID_RUNS_MAX);
                if (!added) {
                    refused = true;
                    break;
                }
                live[live_count++] = (id_buffer_entry_t){id, sequence++};
            }
            if (splitmix64(&state) % 5 == 0) {
                for (uint32_t i = request_start; i < live_count; i++) {
                    uint64_t found = 0;
                    TEST_CHECK(id_runs_find(&runs, live[i].id, &found));
                }
                id_runs_truncate(&runs, request_start);
                for (uint32_t i = request_start; i < live_count; i++) {
                    uint64_t found = 0;
                    TEST_CHECK(!id_runs_find(&runs, live[i].id, &found));
                }
                live_count = request_start;
            }
        }
        TEST_CHECK_EQ(runs.count, live_count);
        TEST_CHECK(runs.runs <= ID_RUNS_MAX);
        for (uint32_t i = 0; i < live_count; i++) {
            uint64_t found = 0;
            TEST_CHECK(id_runs_find(&runs, live[i].id, &found));
            TEST_CHECK_EQ(found, live[i].sequence);
        }
        uint32_t count = 0;
        const id_buffer_entry_t *sorted = id_runs_take_sorted(&runs, &count);
        TEST_CHECK_EQ(count, live_count);
        id_buffer_entries_sort(live, live_count);
        for (uint32_t i = 0; i < count && i < live_count; i++) {
            TEST_CHECK(ledger_u128_equal(sorted[i].id, live[i].id));
            TEST_CHECK_EQ(sorted[i].sequence, live[i].sequence);
        }
        TEST_CHECK_EQ(runs.count, 0);
        uint64_t found = 0;
        TEST_CHECK(live_count == 0 || !id_runs_find(&runs, live[0].id, &found));
    }
    id_runs_free(&runs);
}

/* Time-ordered ids from several clients, as a server's group holds them:
 * four requests whose ids interleave, a failed linked chain among them.
 * Inside the group each id is found and a resend is `exists`; the failed
 * chain's ids are not found. After the commit every id is in the B-tree,
 * appended in order: its leaves are full, not split half full as inserts
 * in the middle of the right-most leaves would leave them. At a small
 * bound the fresh table fills and the rest go into the B-tree directly:
 * the same answers. */
static void interleaved_group(uint32_t bound, const char *prefix) {
    enum { CLIENTS = 4, PER_CLIENT = 600 };
    static ledger_transfer_t sent[CLIENTS * PER_CLIENT];
    fixture_t f;
    ledger_options_t options = {.transfer_id_buffer_max = bound};
    fixture_open_with(&f, prefix, &options);
    fixture_accounts_range(&f, 1, ACCOUNTS, FIXTURE_LEDGER, 0);
    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    uint32_t sent_count = 0;
    ledger_transfer_t found;
    for (uint32_t client = 0; client < CLIENTS; client++) {
        ledger_transfer_t *request = &sent[sent_count];
        for (uint32_t i = 0; i < PER_CLIENT; i++) {
            uint64_t id = 1000 + (uint64_t)i * CLIENTS + client;
            request[i] = transfer_make(id, 1 + i % ACCOUNTS, 1 + (i + 1) % ACCOUNTS, 1 + client);
        }
        static ledger_result_t results[PER_CLIENT];
        f.now_ns += 1000;
        TEST_REQUIRE(ledger_create_transfers(f.ledger, request, PER_CLIENT, results) == 0);
        for (uint32_t i = 0; i < PER_CLIENT; i++) TEST_CHECK_EQ(results[i].result, LEDGER_RESULT_OK);
        sent_count += PER_CLIENT;
        /* Found inside the group, resent: exists. */
        ledger_transfer_t again[2] = {sent[0], request[PER_CLIENT / 2]};
        ledger_result_t again_results[2];
        TEST_REQUIRE(ledger_create_transfers(f.ledger, again, 2, again_results) == 0);
        TEST_CHECK_EQ(again_results[0].result, LEDGER_RESULT_EXISTS);
        TEST_CHECK_EQ(again_results[1].result, LEDGER_RESULT_EXISTS);
        /* A chain of ids among the others whose last event fails. */
        ledger_transfer_t chain[3];
        for (uint32_t i = 0; i < 3; i++) {
            chain[i] = transfer_make(1000 + (uint64_t)(i * 97 + client) * CLIENTS + CLIENTS - 1 - client,
                                     1, 2, 5);
            chain[i].id.hi = 1;  /* above every other id */
            chain[i].flags = i < 2 ? LEDGER_TRANSFER_LINKED : 0;
        }
        chain[2].credit_account_id = chain[2].debit_account_id;
        ledger_result_t chain_results[3];
        TEST_REQUIRE(ledger_create_transfers(f.ledger, chain, 3, chain_results) == 0);
        TEST_CHECK_EQ(chain_results[2].result, LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT);
        for (uint32_t i = 0; i < 3; i++) TEST_CHECK(!fixture_transfer_find(&f, chain[i].id, &found));
    }
    TEST_REQUIRE(ledger_write_commit(f.ledger) == 0);
    TEST_CHECK_EQ(f.ledger->fresh_ids.count, 0);
    for (uint32_t i = 0; i < sent_count; i++) {
        TEST_CHECK(fixture_transfer_find(&f, sent[i].id, &found));
        TEST_CHECK_EQ(found.amount, sent[i].amount);
    }
    MDB_txn *txn = NULL;
    TEST_REQUIRE(ledger_read_begin(f.ledger, &txn) == 0);
    MDB_stat stat;
    TEST_REQUIRE(mdb_stat(txn, f.ledger->dbi_transfer_ids, &stat) == 0);
    ledger_read_end(f.ledger, txn);
    TEST_CHECK_EQ(stat.ms_entries, sent_count);
    /* An entry takes 34 bytes of a 4096-byte page (16-byte key, 8-byte
     * value, 8-byte node header, 2-byte pointer): 119 fit in a leaf. */
    uint64_t full_leaves = (sent_count + 118) / 119;
    if (bound >= CLIENTS * PER_CLIENT) {
        printf("# %" PRIu64 " leaves for %u ids (%" PRIu64 " when full)\n",
               (uint64_t)stat.ms_leaf_pages, sent_count, full_leaves);
        TEST_CHECK(stat.ms_leaf_pages <= full_leaves + 1);
    }
    verify_ok(&f);
    ledger_close_without_checkpoint(f.ledger);
    f.ledger = NULL;
    fixture_reopen(&f);
    for (uint32_t i = 0; i < sent_count; i += 13) TEST_CHECK(fixture_transfer_find(&f, sent[i].id, &found));
    verify_ok(&f);
    fixture_close(&f);
}

/* A fresh ledger's random ids: the first group's are all above the floor
 * (no id yet) and go into the fresh ids; the next group's, below the
 * first one's largest, go into the buffer, not one by one into the
 * B-tree (the recent floor starts above every id at an open). All are
 * found, before and after a reopen. */
static void test_fresh_ledger_random_ids(void) {
    enum { PER_GROUP = 60 };
    fixture_t f;
    ids_t ids;
    memset(&ids, 0, sizeof(ids));
    ids.state = 5;
    fixture_open(&f, "id-fresh-random");
    fixture_accounts_range(&f, 1, ACCOUNTS, FIXTURE_LEDGER, 0);
    send_batch(&f, &ids, PER_GROUP);
    TEST_CHECK_EQ(f.ledger->id_buffer.active.count, 0);
    send_batch(&f, &ids, PER_GROUP);
    printf("# second group: %u of %u ids buffered\n", f.ledger->id_buffer.active.count, PER_GROUP);
    TEST_CHECK(f.ledger->id_buffer.active.count >= PER_GROUP - 5);
    check_across_reopen(&f, &ids);
}

/* Time-ordered ids with a few late ones: a late id (below the largest
 * id of an earlier group) goes into the buffer in the first groups after
 * an open. Alone, it never makes the active table due; once it is twice
 * the bound of sequences old the table is frozen and merged anyway, so
 * the watermark passes it and an open does not read the journal from
 * there on. */
static void test_late_ids_release_watermark(void) {
    fixture_t f;
    ledger_options_t options = {.transfer_id_buffer_max = ID_BOUND};
    fixture_open_with(&f, "id-late", &options);
    fixture_accounts_range(&f, 1, ACCOUNTS, FIXTURE_LEDGER, 0);
    static ledger_transfer_t sent[200];
    uint32_t sent_count = 0;
    uint64_t next_id = 1000;
    uint64_t late_sequence = 0;
    for (uint32_t group = 0; group < 20; group++) {
        ledger_transfer_t batch[4];
        for (uint32_t i = 0; i < 4; i++) {
            next_id += 2;
            batch[i] = transfer_make(next_id, 1 + i % ACCOUNTS, 1 + (i + 1) % ACCOUNTS, 1 + group);
        }
        /* In the second group, one id from the first group's range. */
        if (group == 1) batch[3].id = id128(1001);
        ledger_result_t results[4];
        f.now_ns += 1000;
        TEST_REQUIRE(ledger_create_transfers(f.ledger, batch, 4, results) == 0);
        for (uint32_t i = 0; i < 4; i++) {
            TEST_CHECK_EQ(results[i].result, LEDGER_RESULT_OK);
            sent[sent_count++] = batch[i];
        }
        if (group == 1) {
            TEST_CHECK_EQ(f.ledger->id_buffer.active.count, 1);
            late_sequence = f.ledger->sequence;
        }
    }
    printf("# late id at sequence %" PRIu64 ", watermark %" PRIu64 ", journal %" PRIu64 "\n",
           late_sequence, f.ledger->transfer_ids_watermark, f.ledger->sequence);
    TEST_CHECK_EQ(f.ledger->id_buffer.active.count, 0);
    TEST_CHECK(f.ledger->transfer_ids_watermark >= late_sequence);
    for (uint32_t i = 0; i < sent_count; i++) {
        ledger_transfer_t found;
        TEST_CHECK(fixture_transfer_find(&f, sent[i].id, &found));
    }
    verify_ok(&f);
    ledger_close_without_checkpoint(f.ledger);
    f.ledger = NULL;
    fixture_reopen(&f);
    for (uint32_t i = 0; i < sent_count; i++) {
        ledger_transfer_t found;
        TEST_CHECK(fixture_transfer_find(&f, sent[i].id, &found));
    }
    verify_ok(&f);
    fixture_close(&f);
}

static void test_interleaved_group(void) { interleaved_group(1 << 16, "id-interleaved"); }

static void test_interleaved_group_at_bound(void) { interleaved_group(ID_BOUND, "id-interleaved-bound"); }

/* The Bloom filter alone: every id added is "maybe", few others are; a
 * disabled filter says "maybe" to all; a size that is not a whole power
 * of two of cache lines is refused. */
static void test_filter_alone(void) {
    enum { BYTES = 64 << 10, ADDED = 50000, OTHERS = 100000 };
    id_filter_t filter;
    TEST_REQUIRE(id_filter_init(&filter, BYTES) == 0);
    ids_t ids = {.state = 7};
    uint64_t first_state = ids.state;
    for (uint32_t i = 0; i < ADDED; i++) id_filter_add(&filter, random_transfer(&ids).id);
    ids.state = first_state;
    uint32_t missed = 0;
    for (uint32_t i = 0; i < ADDED; i++) missed += !id_filter_maybe(&filter, random_transfer(&ids).id);
    TEST_CHECK_EQ(missed, 0);
    /* About 10 bits per id, 4 of them set per id: about 1% false
     * positives; 3% leaves room for the draw. */
    uint32_t false_positives = 0;
    for (uint32_t i = 0; i < OTHERS; i++) false_positives += id_filter_maybe(&filter, random_transfer(&ids).id);
    printf("# %u false positives in %u ids never added\n", false_positives, OTHERS);
    TEST_CHECK(false_positives < OTHERS * 3 / 100);
    id_filter_free(&filter);
    TEST_CHECK(id_filter_maybe(&filter, random_transfer(&ids).id));
    TEST_CHECK_EQ(id_filter_init(&filter, 100), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(id_filter_init(&filter, 32), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK(id_filter_maybe(&filter, random_transfer(&ids).id));
}

/* Time-ordered ids (ledger_id_time_ordered's layout: milliseconds in the
 * top 48 bits) at 400 per millisecond, the server's full rate, share a
 * region of the filter per millisecond (id_filter.c). 50,000 of them in
 * 64 KiB load it as 13M ids load the real 16 MiB filter (about 8
 * milliseconds per region); every id added is still found and the false
 * positives stay near a plain Bloom filter's 1%. */
/* A time-ordered id of millisecond `ms` (ledger_id_time_ordered's layout:
 * milliseconds in the top 48 bits, the rest random). */
static ledger_u128_t time_ordered_id(uint64_t ms, uint64_t *state) {
    ledger_u128_t id = {.hi = ms << 16 | (splitmix64(state) & 0xFFFF), .lo = splitmix64(state)};
    return id;
}

static void test_filter_time_ordered(void) {
    enum { BYTES = 64 << 10, ADDED = 50000, PER_MS = 400, OTHERS = 100000 };
    id_filter_t filter;
    TEST_REQUIRE(id_filter_init(&filter, BYTES) == 0);
    uint64_t state = 11;
    const uint64_t ms_first = 1795000000000ull;
    for (uint32_t i = 0; i < ADDED; i++) {
        id_filter_add(&filter, time_ordered_id(ms_first + i / PER_MS, &state));
    }
    state = 11;
    uint32_t missed = 0;
    for (uint32_t i = 0; i < ADDED; i++) {
        missed += !id_filter_maybe(&filter, time_ordered_id(ms_first + i / PER_MS, &state));
    }
    TEST_CHECK_EQ(missed, 0);
    /* Ids never added, in the same milliseconds (a client's retry of an
     * id it never sent) and in later ones (the next new ids). */
    uint32_t false_positives = 0;
    for (uint32_t i = 0; i < OTHERS; i++) {
        uint64_t ms = ms_first + i % (2 * ADDED / PER_MS);
        false_positives += id_filter_maybe(&filter, time_ordered_id(ms, &state));
    }
    printf("# time-ordered: %u false positives in %u ids never added\n", false_positives, OTHERS);
    TEST_CHECK(false_positives < OTHERS * 3 / 100);
    id_filter_free(&filter);
}

/* A writable handle's filter holds every id of the B-tree after a reopen
 * (filled at open), merged ones included; a read-only handle has none
 * (it cannot see the writer's puts) and still finds every id. */
static void test_filter_at_open(void) {
    fixture_t f;
    ids_t ids;
    setup(&f, &ids, "id-filter");
    for (uint32_t i = 0; i < 40; i++) send_batch(&f, &ids, BATCH);
    TEST_CHECK(f.ledger->transfer_ids_watermark > ACCOUNTS + 1); /* some merged */
    fixture_shut(&f);
    fixture_reopen(&f);
    TEST_REQUIRE(f.ledger->id_filter.words != NULL);
    uint32_t in_tree = 0;
    for (uint32_t i = 0; i < ids.count; i++) {
        uint64_t sequence = 0;
        if (id_buffer_find(&f.ledger->id_buffer, ids.transfers[i].id, &sequence)) continue;
        in_tree++;
        TEST_CHECK(id_filter_maybe(&f.ledger->id_filter, ids.transfers[i].id));
    }
    TEST_CHECK(in_tree > 0);
    check_all(&f, &ids);
    fixture_shut(&f);
    ledger_options_t read_only = {.read_only = true, .transfer_id_buffer_max = ID_BOUND};
    f.options = read_only;
    fixture_reopen(&f);
    TEST_CHECK(f.ledger->id_filter.words == NULL);
    for (uint32_t i = 0; i < ids.count; i++) {
        ledger_transfer_t found;
        uint32_t found_count = 0;
        TEST_CHECK_EQ(ledger_lookup_transfers(f.ledger, &ids.transfers[i].id, 1, &found, &found_count), 0);
        TEST_CHECK_EQ(found_count, 1);
    }
    fixture_close(&f);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"random_ids_across_merges", test_random_ids_across_merges},
        {"reopen_mid_merge", test_reopen_mid_merge},
        {"rollback_leaves_no_trace", test_rollback_leaves_no_trace},
        {"bound_reached", test_bound_reached},
        {"read_txn_visibility", test_read_txn_visibility},
        {"verify_detects_lost_entry", test_verify_detects_lost_entry},
        {"format_1_upgrade", test_format_1_upgrade},
        {"buffer_truncate_model", test_buffer_truncate_model},
        {"entries_sort", test_entries_sort},
        {"fresh_runs_model", test_fresh_runs_model},
        {"fresh_ledger_random_ids", test_fresh_ledger_random_ids},
        {"late_ids_release_watermark", test_late_ids_release_watermark},
        {"interleaved_group", test_interleaved_group},
        {"interleaved_group_at_bound", test_interleaved_group_at_bound},
        {"filter_alone", test_filter_alone},
        {"filter_time_ordered", test_filter_time_ordered},
        {"filter_at_open", test_filter_at_open},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
