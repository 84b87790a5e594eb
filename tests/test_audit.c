/*
 * test_audit.c — signed checkpoints and tampering.
 *
 * Builds a small ledger (accounts, transfers, several signed checkpoints),
 * then damages a copy of it on disk, straight through LMDB, the way someone
 * with access to the files could, and expects verification to catch each
 * kind of damage with a precise message and the first broken sequence:
 *  - a flipped byte in a journal record;
 *  - a deleted record;
 *  - two records swapped;
 *  - a record rewritten with the checksum and the whole chain after it
 *    recomputed (and the meta chain head too): only the signature catches it;
 *  - a truncated tail (with the meta chain head moved back as well);
 *  - a checkpoint table that disagrees with the journal;
 *  - a signed checkpoint whose signature or trial balance was altered.
 * It also checks the key's life: created 0600 with a new directory, the
 * public key recorded, a key readable by others, a missing key and someone
 * else's key refused, signing on request, and verification under a given
 * key (the auditor's copy) failing for another key.
 */
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "ledger_fixture.h"
#include "raw_lmdb.h"
#include "record.h"
#include "test.h"

enum {
    ACCOUNTS_COUNT = 8,
    TRANSFERS_PER_ROUND = 40,
    ROUNDS = 3, /* one signed checkpoint (the close) per round */
};

/* A ledger with ROUNDS closes, so ROUNDS signed checkpoints, and an
 * unsigned tail of none. Returns the last sequence. */
static uint64_t build(fixture_t *f) {
    fixture_open(f, "audit");
    ledger_account_t accounts[ACCOUNTS_COUNT];
    for (uint32_t i = 0; i < ACCOUNTS_COUNT; i++) {
        accounts[i] = account_make(i + 1, FIXTURE_LEDGER, 0);
        accounts[i].code = (uint16_t)(1 + i % 3); /* three rows in the trial balance */
    }
    ledger_result_t results[TRANSFERS_PER_ROUND];
    TEST_CHECK_EQ(ledger_create_accounts(f->ledger, accounts, ACCOUNTS_COUNT, results), 0);
    uint64_t id = 1000;
    for (int round = 0; round < ROUNDS; round++) {
        ledger_transfer_t transfers[TRANSFERS_PER_ROUND];
        for (uint32_t i = 0; i < TRANSFERS_PER_ROUND; i++, id++) {
            transfers[i] = transfer_make(id, 1 + id % ACCOUNTS_COUNT,
                                         1 + (id + 3) % ACCOUNTS_COUNT, 100 + id);
        }
        f->now_ns += FIXTURE_NS_PER_S;
        TEST_CHECK_EQ(ledger_create_transfers(f->ledger, transfers, TRANSFERS_PER_ROUND, results), 0);
        fixture_shut(f); /* close: a checkpoint, signed */
        fixture_reopen(f);
    }
    return fixture_stats(f).journal_sequence;
}

static int verify_with(fixture_t *f, const uint8_t *key, ledger_verify_report_t *report) {
    if (f->ledger != NULL) ledger_close(f->ledger);
    f->ledger = NULL;
    ledger_options_t options = f->options;
    options.read_only = true;
    int error = ledger_open(f->path, &options, &f->ledger);
    if (error) {
        snprintf(report->message, sizeof(report->message), "open: %s",
                 ledger_last_error_message(NULL));
        return error;
    }
    return ledger_verify_signed(f->ledger, key, report, NULL, NULL);
}

/* The outcome a tamper case expects: verification (or the open) fails,
 * the message says `words`, and the first bad sequence is `sequence` (0 =
 * do not check). */
static void expect_detected(fixture_t *f, const char *words, uint64_t sequence) {
    ledger_verify_report_t report;
    memset(&report, 0, sizeof(report));
    int error = verify_with(f, NULL, &report);
    printf("# detected: %s (first bad %llu)\n", report.message,
           (unsigned long long)report.first_bad_sequence);
    TEST_CHECK(error != 0);
    TEST_CHECK(strstr(report.message, words) != NULL);
    if (sequence != 0 && error == LEDGER_ERR_VERIFY_FAILED) {
        TEST_CHECK_EQ(report.first_bad_sequence, sequence);
    }
}

/* ---- direct LMDB access, as an attacker with the files would have ---- */

/* Closes the fixture's ledger and opens its directory raw. */
static MDB_dbi raw_open(raw_t *raw, fixture_t *f, const char *table) {
    if (f->ledger != NULL) ledger_close(f->ledger);
    f->ledger = NULL;
    return raw_open_path(raw, f->path, table);
}

static void raw_get(raw_t *raw, MDB_dbi dbi, uint64_t sequence, uint8_t out[RECORD_JOURNAL_SIZE]) {
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(sequence, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    TEST_REQUIRE(mdb_get(raw->txn, dbi, &key, &data) == 0);
    memcpy(out, data.mv_data, RECORD_JOURNAL_SIZE);
}

static void raw_put(raw_t *raw, MDB_dbi dbi, uint64_t sequence, const uint8_t *bytes) {
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(sequence, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data = {RECORD_JOURNAL_SIZE, (void *)bytes};
    TEST_REQUIRE(mdb_put(raw->txn, dbi, &key, &data, 0) == 0);
}

static void raw_delete(raw_t *raw, MDB_dbi dbi, uint64_t sequence) {
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(sequence, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    TEST_REQUIRE(mdb_del(raw->txn, dbi, &key, NULL) == 0);
}

/* Sets the meta chain head (what the engine saved at its last commit). */
static void raw_meta_head(raw_t *raw, uint64_t sequence, const uint8_t hash[RECORD_HASH_SIZE]) {
    MDB_dbi meta = raw_table(raw, "meta");
    uint8_t value[8 + RECORD_HASH_SIZE];
    put_u64(value, sequence);
    memcpy(value + 8, hash, RECORD_HASH_SIZE);
    MDB_val key = {strlen("chain_head"), (void *)"chain_head"};
    MDB_val data = {sizeof(value), value};
    TEST_REQUIRE(mdb_put(raw->txn, meta, &key, &data, 0) == 0);
}

/* ---- cases ---- */

static void test_key_and_signatures(void) {
    fixture_t f;
    uint64_t last = build(&f);
    char key_path[PATH_MAX + 16];
    snprintf(key_path, sizeof key_path, "%s/signing.key", f.path);
    struct stat status;
    TEST_REQUIRE(stat(key_path, &status) == 0);
    TEST_CHECK_EQ(status.st_mode & 0777, 0600);
    uint8_t key[LEDGER_PUBLIC_KEY_SIZE];
    bool found = false;
    TEST_CHECK_EQ(ledger_public_key(f.ledger, key, &found), 0);
    TEST_CHECK(found);
    ledger_signed_checkpoint_t checkpoints[8];
    uint32_t count = 0;
    TEST_CHECK_EQ(ledger_signed_checkpoints(f.ledger, 0, checkpoints, 8, &count), 0);
    TEST_CHECK_EQ(count, ROUNDS);
    TEST_CHECK_EQ(checkpoints[count - 1].sequence, last);
    for (uint32_t i = 0; i < count; i++) {
        TEST_CHECK(ledger_checkpoint_signature_valid(key, &checkpoints[i]));
    }
    /* A flipped bit in the message breaks the signature. */
    ledger_signed_checkpoint_t forged = checkpoints[0];
    forged.sequence++;
    TEST_CHECK(!ledger_checkpoint_signature_valid(key, &forged));
    /* Signing on request, at a sequence already signed: the stored one. */
    ledger_signed_checkpoint_t again;
    TEST_CHECK_EQ(ledger_sign_checkpoint(f.ledger, &again), 0);
    TEST_CHECK_EQ(memcmp(&again, &checkpoints[count - 1], sizeof(again)), 0);
    /* After more events, a new one. */
    ledger_transfer_t transfer = transfer_make(9000, 1, 2, 5);
    ledger_result_t result;
    f.now_ns += FIXTURE_NS_PER_S;
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &transfer, 1, &result), 0);
    TEST_CHECK_EQ(ledger_sign_checkpoint(f.ledger, &again), 0);
    TEST_CHECK_EQ(again.sequence, last + 1);
    TEST_CHECK(ledger_checkpoint_signature_valid(key, &again));
    /* The trial balance digest signed is the trial balance's. */
    ledger_trial_balance_row_t rows[8];
    ledger_trial_balance_info_t info;
    TEST_CHECK_EQ(ledger_trial_balance(f.ledger, 0, rows, 8, &info), 0);
    TEST_CHECK_EQ(memcmp(info.digest, again.trial_balance_digest, LEDGER_DIGEST_SIZE), 0);
    /* Verification: everything signed matches; under the given key too. */
    ledger_verify_report_t report;
    TEST_CHECK_EQ(verify_with(&f, key, &report), 0);
    TEST_CHECK_EQ(report.signatures_checked, ROUNDS + 1);
    TEST_CHECK_EQ(report.last_signed_sequence, last + 1);
    TEST_CHECK_EQ(report.key_source, LEDGER_VERIFY_KEY_GIVEN);
    /* Someone else's key: refused at once. */
    uint8_t other[LEDGER_PUBLIC_KEY_SIZE];
    memcpy(other, key, sizeof(other));
    other[0] ^= 1;
    TEST_CHECK_EQ(verify_with(&f, other, &report), LEDGER_ERR_VERIFY_FAILED);
    TEST_CHECK(strstr(report.message, "not the one given") != NULL);
    fixture_close(&f);
}

static void test_key_refusals(void) {
    fixture_t f;
    build(&f);
    char key_path[PATH_MAX + 16];
    char moved[PATH_MAX + 32];
    snprintf(key_path, sizeof key_path, "%s/signing.key", f.path);
    snprintf(moved, sizeof moved, "%s/elsewhere.key", f.path);
    ledger_close(f.ledger);
    f.ledger = NULL;
    ledger_t *ledger = NULL;
    /* Readable by others. */
    TEST_REQUIRE(chmod(key_path, 0644) == 0);
    TEST_CHECK_EQ(ledger_open(f.path, &f.options, &ledger), LEDGER_ERR_SIGNING_KEY);
    TEST_CHECK(strstr(ledger_last_error_message(NULL), "chmod 600") != NULL);
    TEST_REQUIRE(chmod(key_path, 0600) == 0);
    /* Missing: refused, not silently replaced. */
    TEST_REQUIRE(rename(key_path, moved) == 0);
    TEST_CHECK_EQ(ledger_open(f.path, &f.options, &ledger), LEDGER_ERR_SIGNING_KEY);
    TEST_CHECK(strstr(ledger_last_error_message(NULL), "restore") != NULL);
    /* Given by path: fine. */
    ledger_options_t options = f.options;
    options.signing_key_path = moved;
    TEST_CHECK_EQ(ledger_open(f.path, &options, &ledger), 0);
    ledger_close(ledger);
    /* Another directory's key: refused. */
    fixture_t other;
    build(&other);
    char other_key[PATH_MAX + 16];
    snprintf(other_key, sizeof other_key, "%s/signing.key", other.path);
    options.signing_key_path = other_key;
    TEST_CHECK_EQ(ledger_open(f.path, &options, &ledger), LEDGER_ERR_SIGNING_KEY);
    TEST_CHECK(strstr(ledger_last_error_message(NULL), "not the key of this data directory") != NULL);
    /* Read-only opens need no key at all, and cannot sign. */
    options = f.options;
    options.read_only = true;
    TEST_CHECK_EQ(ledger_open(f.path, &options, &ledger), 0);
    ledger_signed_checkpoint_t checkpoint;
    TEST_CHECK_EQ(ledger_sign_checkpoint(ledger, &checkpoint), LEDGER_ERR_READ_ONLY);
    ledger_close(ledger);
    TEST_REQUIRE(rename(moved, key_path) == 0);
    fixture_reopen(&f);
    fixture_close(&other);
    fixture_close(&f);
}

static void test_tamper_flipped_byte(void) {
    fixture_t f;
    build(&f);
    raw_t raw;
    MDB_dbi journal = raw_open(&raw, &f, "journal");
    uint8_t bytes[RECORD_JOURNAL_SIZE];
    raw_get(&raw, journal, 20, bytes);
    bytes[110] ^= 0x01; /* inside the amount */
    raw_put(&raw, journal, 20, bytes);
    raw_close(&raw);
    expect_detected(&f, "20", 20);
    fixture_close(&f);
}

static void test_tamper_deleted_record(void) {
    fixture_t f;
    build(&f);
    raw_t raw;
    MDB_dbi journal = raw_open(&raw, &f, "journal");
    raw_delete(&raw, journal, 30);
    raw_close(&raw);
    expect_detected(&f, "30", 30);
    fixture_close(&f);
}

static void test_tamper_swapped_records(void) {
    fixture_t f;
    build(&f);
    raw_t raw;
    MDB_dbi journal = raw_open(&raw, &f, "journal");
    uint8_t a[RECORD_JOURNAL_SIZE];
    uint8_t b[RECORD_JOURNAL_SIZE];
    raw_get(&raw, journal, 40, a);
    raw_get(&raw, journal, 41, b);
    raw_put(&raw, journal, 40, b);
    raw_put(&raw, journal, 41, a);
    raw_close(&raw);
    expect_detected(&f, "40", 40);
    fixture_close(&f);
}

/* Rewrites record `target` (its user_data_64, which moves no balance) and
 * recomputes every checksum and chain hash after it, and the meta head:
 * a consistent forged history that only a signature can expose. */
static void rewrite_history(fixture_t *f, uint64_t target, uint64_t last) {
    raw_t raw;
    MDB_dbi journal = raw_open(&raw, f, "journal");
    uint8_t previous_hash[RECORD_HASH_SIZE];
    uint8_t bytes[RECORD_JOURNAL_SIZE];
    raw_get(&raw, journal, target - 1, bytes);
    memcpy(previous_hash, bytes + RECORD_HASH_OFFSET, RECORD_HASH_SIZE);
    for (uint64_t sequence = target; sequence <= last; sequence++) {
        raw_get(&raw, journal, sequence, bytes);
        journal_record_t record;
        TEST_REQUIRE(record_journal_decode(bytes, sizeof(bytes), &record) == 0);
        if (sequence == target) record.user_data_64 ^= 0xABCDEF;
        record_journal_encode(&record, previous_hash, bytes);
        memcpy(previous_hash, record.hash, RECORD_HASH_SIZE);
        raw_put(&raw, journal, sequence, bytes);
    }
    raw_meta_head(&raw, last, previous_hash);
    raw_close(&raw);
}

static void test_tamper_rewritten_history(void) {
    fixture_t f;
    uint64_t last = build(&f);
    ledger_signed_checkpoint_t checkpoints[8];
    uint32_t count = 0;
    TEST_CHECK_EQ(ledger_signed_checkpoints(f.ledger, 0, checkpoints, 8, &count), 0);
    TEST_REQUIRE(count == ROUNDS);
    uint64_t target = checkpoints[0].sequence - 5; /* before the first signature */
    rewrite_history(&f, target, last);
    /* The forged journal is self-consistent: the chain alone holds ... */
    expect_detected(&f, "signed checkpoint at sequence", checkpoints[0].sequence);
    /* ... and the message says history was rewritten. */
    ledger_verify_report_t report;
    TEST_CHECK_EQ(verify_with(&f, NULL, &report), LEDGER_ERR_VERIFY_FAILED);
    TEST_CHECK(strstr(report.message, "rewritten") != NULL);
    fixture_close(&f);
}

static void test_tamper_truncated_tail(void) {
    fixture_t f;
    uint64_t last = build(&f);
    raw_t raw;
    MDB_dbi journal = raw_open(&raw, &f, "journal");
    uint8_t bytes[RECORD_JOURNAL_SIZE];
    uint64_t keep = last - 7;
    for (uint64_t sequence = keep + 1; sequence <= last; sequence++) raw_delete(&raw, journal, sequence);
    raw_get(&raw, journal, keep, bytes);
    raw_meta_head(&raw, keep, bytes + RECORD_HASH_OFFSET); /* a careful attacker */
    raw_close(&raw);
    expect_detected(&f, "missing", keep + 1);
    fixture_close(&f);
    /* Records after the account checkpoint but covered by a signature made
     * on request: the open replays what is left, the signature exposes it. */
    last = build(&f);
    ledger_transfer_t transfers[5];
    ledger_result_t results[5];
    for (uint32_t i = 0; i < 5; i++) transfers[i] = transfer_make(8000 + i, 1, 2, 7);
    f.now_ns += FIXTURE_NS_PER_S;
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, transfers, 5, results), 0);
    ledger_signed_checkpoint_t signed_checkpoint;
    TEST_CHECK_EQ(ledger_sign_checkpoint(f.ledger, &signed_checkpoint), 0);
    TEST_CHECK_EQ(signed_checkpoint.sequence, last + 5);
    ledger_close_without_checkpoint(f.ledger);
    f.ledger = NULL;
    journal = raw_open(&raw, &f, "journal");
    for (uint64_t sequence = last + 3; sequence <= last + 5; sequence++) {
        raw_delete(&raw, journal, sequence);
    }
    raw_get(&raw, journal, last + 2, bytes);
    raw_meta_head(&raw, last + 2, bytes + RECORD_HASH_OFFSET);
    raw_close(&raw);
    expect_detected(&f, "past the end of the journal", last + 3);
    fixture_close(&f);
}

static void test_tamper_checkpoint_table(void) {
    fixture_t f;
    build(&f);
    raw_t raw;
    MDB_dbi accounts = raw_open(&raw, &f, "accounts");
    uint8_t key_bytes[KEY_ID_SIZE];
    key_id_encode(id128(3), key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    TEST_REQUIRE(mdb_get(raw.txn, accounts, &key, &data) == 0);
    ledger_account_t account;
    uint64_t last_sequence = 0;
    TEST_REQUIRE(record_account_decode(data.mv_data, data.mv_size, &account, &last_sequence) == 0);
    account.credits_posted += 100; /* money invented in the checkpoint */
    uint8_t value[RECORD_ACCOUNT_SIZE];
    record_account_encode(&account, last_sequence, value);
    MDB_val changed = {sizeof(value), value};
    TEST_REQUIRE(mdb_put(raw.txn, accounts, &key, &changed, 0) == 0);
    raw_close(&raw);
    /* Opening replays on top of the bad checkpoint: the books no longer
     * balance, and the open says so. */
    expect_detected(&f, "disagrees with the journal", 0);
    fixture_close(&f);
    /* Money moved between two accounts in the checkpoint: it still
     * balances, so it opens, and verification compares it with the journal. */
    build(&f);
    accounts = raw_open(&raw, &f, "accounts");
    for (uint64_t id = 3; id <= 4; id++) {
        key_id_encode(id128(id), key_bytes);
        TEST_REQUIRE(mdb_get(raw.txn, accounts, &key, &data) == 0);
        TEST_REQUIRE(record_account_decode(data.mv_data, data.mv_size, &account, &last_sequence) == 0);
        if (id == 3) account.credits_posted += 100;
        else account.debits_posted += 100;
        record_account_encode(&account, last_sequence, value);
        TEST_REQUIRE(mdb_put(raw.txn, accounts, &key, &changed, 0) == 0);
    }
    raw_close(&raw);
    expect_detected(&f, "disagree", 0);
    fixture_close(&f);
}

static void test_tamper_signed_checkpoint(void) {
    fixture_t f;
    build(&f);
    raw_t raw;
    MDB_dbi signatures = raw_open(&raw, &f, "signatures");
    MDB_cursor *cursor = NULL;
    TEST_REQUIRE(mdb_cursor_open(raw.txn, signatures, &cursor) == 0);
    MDB_val key;
    MDB_val data;
    TEST_REQUIRE(mdb_cursor_get(cursor, &key, &data, MDB_FIRST) == 0);
    uint64_t sequence = key_sequence_decode(key.mv_data);
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    memcpy(key_bytes, key.mv_data, sizeof(key_bytes));
    key.mv_data = key_bytes; /* the map's memory goes with the environment */
    uint8_t value[LEDGER_CHECKPOINT_MESSAGE_SIZE + LEDGER_SIGNATURE_SIZE];
    TEST_REQUIRE(data.mv_size == sizeof(value));
    memcpy(value, data.mv_data, sizeof(value));
    mdb_cursor_close(cursor);
    value[LEDGER_CHECKPOINT_MESSAGE_SIZE + 3] ^= 0x40; /* the signature */
    MDB_val changed = {sizeof(value), value};
    TEST_REQUIRE(mdb_put(raw.txn, signatures, &key, &changed, 0) == 0);
    raw_close(&raw);
    expect_detected(&f, "signature does not verify", sequence);
    /* The digest altered instead (signature restored): the trial balance
     * no longer matches. */
    MDB_dbi again = raw_open(&raw, &f, "signatures");
    value[LEDGER_CHECKPOINT_MESSAGE_SIZE + 3] ^= 0x40;
    value[64] ^= 0x01; /* first byte of the trial balance digest */
    TEST_REQUIRE(mdb_put(raw.txn, again, &key, &changed, 0) == 0);
    raw_close(&raw);
    expect_detected(&f, "trial balance recomputed there is not the signed one", sequence);
    fixture_close(&f);
}

/* The transfer id index is derived data, but a wrong entry would make a
 * lookup answer with another record: a missing or an extra entry fails. */
static void test_tamper_index(void) {
    fixture_t f;
    build(&f);
    raw_t raw;
    MDB_dbi index = raw_open(&raw, &f, "transfer_ids");
    uint8_t key_bytes[KEY_ID_SIZE];
    key_id_encode(id128(1010), key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    TEST_REQUIRE(mdb_get(raw.txn, index, &key, &data) == 0);
    uint64_t sequence = get_u64(data.mv_data);
    TEST_REQUIRE(mdb_del(raw.txn, index, &key, NULL) == 0);
    raw_close(&raw);
    expect_detected(&f, "transfer id index does not point at this record", sequence);
    index = raw_open(&raw, &f, "transfer_ids");
    uint8_t value[8];
    put_u64(value, sequence);
    MDB_val restored = {sizeof(value), value};
    TEST_REQUIRE(mdb_put(raw.txn, index, &key, &restored, 0) == 0);
    key_id_encode(id128(777777), key_bytes); /* an id never submitted */
    TEST_REQUIRE(mdb_put(raw.txn, index, &key, &restored, 0) == 0);
    raw_close(&raw);
    expect_detected(&f, "holds entries for no journal record", 0);
    fixture_close(&f);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"key_and_signatures", test_key_and_signatures},
        {"key_refusals", test_key_refusals},
        {"tamper_flipped_byte", test_tamper_flipped_byte},
        {"tamper_deleted_record", test_tamper_deleted_record},
        {"tamper_swapped_records", test_tamper_swapped_records},
        {"tamper_rewritten_history", test_tamper_rewritten_history},
        {"tamper_truncated_tail", test_tamper_truncated_tail},
        {"tamper_checkpoint_table", test_tamper_checkpoint_table},
        {"tamper_signed_checkpoint", test_tamper_signed_checkpoint},
        {"tamper_index", test_tamper_index},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
