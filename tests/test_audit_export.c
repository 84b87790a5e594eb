/*
 * test_audit_export.c — the auditor's reads of audit.h and the
 * `borsellino audit trial-balance|balance|reconcile|export` commands.
 *
 * Engine cases (in-process, injected clock):
 *   trial_balance_model   random transfers, pendings, posts and voids on
 *                         two ledgers and three codes, applied to the
 *                         engine and to a reference model kept here; the
 *                         trial balance now and at every past step equals
 *                         the model's rows, in (ledger, code) order, with
 *                         the digest computed here from the model;
 *   trial_balance_digest  one cent moved changes the digest; the same state
 *                         gives the same digest now and at its time; the
 *                         empty ledger; capacity and argument bounds;
 *   journal_scan          ranges, early stop, every kind (a failure marker
 *                         too), a known transfer's entry field by field;
 *   record_bytes          chain_hash = SHA-256(previous ‖ bytes[4..231]) for
 *                         every record, the previous hash is the record
 *                         before's; transfer ids to sequences;
 *   scan_corrupt          a record damaged on disk: the scan and the past
 *                         trial balance fail naming its sequence;
 *   welfare_lists         welfare_list_funders / _providers paging; a
 *                         welfare transfer id found by its sequence.
 * CLI cases ($BORSELLINO on a data directory made in-process):
 *   cli_trial_balance     --json figures, --at a past time, --csv header;
 *   cli_balance           one account's balances now and at a time;
 *   cli_reconcile         --json on a welfare setup: every identity holds;
 *   cli_export            journal as CSV and JSON Lines: one row per
 *                         record, a known transfer's row, the stable
 *                         header, --from/--to, --out; trial-balance and
 *                         reconcile exports;
 *   cli_usage             --help of each command, bad usage exits 2, a
 *                         missing directory exits 1.
 */
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>

#include "audit.h"
#include "test.h"
#include "welfare_fixture.h"

enum {
    MODEL_ACCOUNTS = 24,
    MODEL_STEPS = 400,
    MODEL_PENDING_MAX = 64,
    ROWS_CAPACITY = 64,
    OUTPUT_SIZE_MAX = 8 << 20,
    TOOL_TIMEOUT_MS = 120000,
    ARGS_MAX = 24,
};

#define NS_PER_S UINT64_C(1000000000)

/* ------------------------------------------------------------------------ */
/* The reference model: balances from the operations the test made         */

typedef struct model_account {
    uint64_t id;
    uint32_t ledger;
    uint16_t code;
    bool exists;
    ledger_balance_t balance;
} model_account_t;

typedef struct model_pending {
    uint64_t id;
    uint32_t debit, credit; /* account indexes */
    uint64_t amount;
    bool open;
} model_pending_t;

typedef struct model {
    model_account_t accounts[MODEL_ACCOUNTS];
    model_pending_t pendings[MODEL_PENDING_MAX];
    uint32_t pendings_count;
} model_t;

static uint64_t rng_state;

static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static uint64_t rng_below(uint64_t bound) { return rng_next() % bound; }

/* Rows of the model, sorted by (ledger, code); returns the count. */
static uint32_t model_rows(const model_t *model, ledger_trial_balance_row_t *rows) {
    uint32_t count = 0;
    for (uint32_t ledger = 1; ledger <= 2; ledger++) {
        for (uint16_t code = 1; code <= 3; code++) {
            ledger_trial_balance_row_t row;
            memset(&row, 0, sizeof row);
            row.ledger = ledger;
            row.code = code;
            for (uint32_t i = 0; i < MODEL_ACCOUNTS; i++) {
                const model_account_t *a = &model->accounts[i];
                if (!a->exists || a->ledger != ledger || a->code != code) continue;
                row.accounts_count++;
                /* Small sums: the high halves stay zero. */
                row.debits_pending.lo += a->balance.debits_pending;
                row.debits_posted.lo += a->balance.debits_posted;
                row.credits_pending.lo += a->balance.credits_pending;
                row.credits_posted.lo += a->balance.credits_posted;
            }
            if (row.accounts_count > 0) rows[count++] = row;
        }
    }
    return count;
}

/* The digest as audit.h defines it, encoded here byte by byte: 80 bytes a
 * row, u32 ledger, u16 code, u16 zero, u64 accounts, four u128 sums (hi
 * then lo), all little-endian. */
static void put_le(uint8_t *bytes, uint64_t value, int size) {
    for (int k = 0; k < size; k++) bytes[k] = (uint8_t)(value >> (8 * k));
}

static void reference_digest(const ledger_trial_balance_row_t *rows, uint32_t count,
                             uint8_t digest[32]) {
    uint8_t *bytes = calloc((size_t)count + 1, 80);
    TEST_REQUIRE(bytes != NULL);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *b = bytes + 80 * i;
        const ledger_u128_t sums[4] = {rows[i].debits_pending, rows[i].debits_posted,
                                       rows[i].credits_pending, rows[i].credits_posted};
        put_le(b, rows[i].ledger, 4);
        put_le(b + 4, rows[i].code, 2);
        put_le(b + 8, rows[i].accounts_count, 8);
        for (int k = 0; k < 4; k++) {
            put_le(b + 16 + 16 * k, sums[k].hi, 8);
            put_le(b + 24 + 16 * k, sums[k].lo, 8);
        }
    }
    unsigned int size = 0;
    TEST_REQUIRE(EVP_Digest(bytes, (size_t)count * 80, digest, &size, EVP_sha256(), NULL) == 1);
    free(bytes);
}

static bool rows_equal(const ledger_trial_balance_row_t *a, const ledger_trial_balance_row_t *b) {
    return a->ledger == b->ledger && a->code == b->code &&
           a->accounts_count == b->accounts_count &&
           ledger_u128_equal(a->debits_pending, b->debits_pending) &&
           ledger_u128_equal(a->debits_posted, b->debits_posted) &&
           ledger_u128_equal(a->credits_pending, b->credits_pending) &&
           ledger_u128_equal(a->credits_posted, b->credits_posted);
}

/* The engine's trial balance at `timestamp` must be the model's rows. */
static void check_trial_balance(ledger_t *ledger, uint64_t timestamp,
                                const ledger_trial_balance_row_t *expected, uint32_t count,
                                uint64_t sequence) {
    ledger_trial_balance_row_t rows[ROWS_CAPACITY];
    ledger_trial_balance_info_t info;
    int rc = ledger_trial_balance(ledger, timestamp, rows, ROWS_CAPACITY, &info);
    if (rc != 0) printf("# trial balance at %" PRIu64 ": %s: %s\n", timestamp,
                        ledger_strerror(rc), ledger_last_error_message(ledger));
    TEST_CHECK_EQ(rc, 0);
    TEST_CHECK_EQ(info.rows_count, count);
    TEST_CHECK_EQ(info.sequence, sequence);
    for (uint32_t i = 0; i < count && i < info.rows_count; i++) {
        if (!rows_equal(&rows[i], &expected[i])) {
            printf("# at %" PRIu64 " row %u (ledger %u code %u) differs from the model\n",
                   timestamp, i, expected[i].ledger, expected[i].code);
            test_failures_in_case++;
        }
    }
    uint8_t digest[32];
    reference_digest(expected, count, digest);
    TEST_CHECK(memcmp(digest, info.digest, 32) == 0);
}

/* ------------------------------------------------------------------------ */
/* Model steps                                                              */

static void model_create_accounts(fixture_t *f, model_t *model, uint32_t first, uint32_t count) {
    ledger_account_t accounts[MODEL_ACCOUNTS];
    for (uint32_t i = 0; i < count; i++) {
        model_account_t *a = &model->accounts[first + i];
        /* Out of (ledger, code) order on purpose: rows must be sorted. */
        a->id = 1000 + first + i;
        a->ledger = 2 - (first + i) % 2;
        a->code = (uint16_t)(3 - (first + i) % 3);
        a->exists = true;
        accounts[i] = account_make(a->id, a->ledger, 0);
        accounts[i].code = a->code;
    }
    fixture_accounts_create(f, accounts, count);
}

/* Two existing accounts of one ledger, different. */
static bool model_pick(const model_t *model, uint32_t *debit, uint32_t *credit) {
    for (int tries = 0; tries < 100; tries++) {
        uint32_t d = (uint32_t)rng_below(MODEL_ACCOUNTS);
        uint32_t c = (uint32_t)rng_below(MODEL_ACCOUNTS);
        const model_account_t *a = &model->accounts[d];
        const model_account_t *b = &model->accounts[c];
        if (d == c || !a->exists || !b->exists || a->ledger != b->ledger) continue;
        *debit = d;
        *credit = c;
        return true;
    }
    return false;
}

static void model_transfer(fixture_t *f, model_t *model, uint64_t id, bool pending) {
    uint32_t d = 0, c = 0;
    if (!model_pick(model, &d, &c)) return;
    uint64_t amount = 1 + rng_below(100000);
    ledger_transfer_t t = transfer_make(id, model->accounts[d].id, model->accounts[c].id, amount);
    t.ledger = model->accounts[d].ledger;
    if (pending && model->pendings_count < MODEL_PENDING_MAX) {
        t.flags = LEDGER_TRANSFER_PENDING;
        model->pendings[model->pendings_count++] = (model_pending_t){id, d, c, amount, true};
        model->accounts[d].balance.debits_pending += amount;
        model->accounts[c].balance.credits_pending += amount;
    } else {
        model->accounts[d].balance.debits_posted += amount;
        model->accounts[c].balance.credits_posted += amount;
    }
    fixture_transfer_ok(f, t);
}

static void model_resolve(fixture_t *f, model_t *model, uint64_t id) {
    if (model->pendings_count == 0) return;
    model_pending_t *p = &model->pendings[rng_below(model->pendings_count)];
    if (!p->open) return;
    bool post = rng_below(2) == 0;
    uint64_t posted = post ? 1 + rng_below(p->amount) : 0;
    fixture_transfer_ok(f, post ? post_make(id, p->id, posted) : void_make(id, p->id));
    p->open = false;
    model_account_t *d = &model->accounts[p->debit];
    model_account_t *c = &model->accounts[p->credit];
    d->balance.debits_pending -= p->amount;
    c->balance.credits_pending -= p->amount;
    d->balance.debits_posted += posted;
    c->balance.credits_posted += posted;
}

typedef struct model_point {
    uint64_t timestamp; /* between this step's event and the next */
    uint64_t sequence;
    uint32_t rows_count;
    ledger_trial_balance_row_t rows[6];
} model_point_t;

static void model_step(fixture_t *f, model_t *model, uint32_t step) {
    uint64_t id = 1 + step;
    uint64_t choice = rng_below(10);
    if (step == MODEL_STEPS / 3) {
        model_create_accounts(f, model, MODEL_ACCOUNTS / 2, MODEL_ACCOUNTS / 2);
    } else if (choice < 5) {
        model_transfer(f, model, id, false);
    } else if (choice < 8) {
        model_transfer(f, model, id, true);
    } else {
        model_resolve(f, model, id);
    }
}

static void trial_balance_model(void) {
    rng_state = test_seed ? test_seed : 0x5EEDull;
    printf("# seed %" PRIu64 "\n", rng_state);
    fixture_t f;
    fixture_open(&f, "audit-model");
    model_t *model = calloc(1, sizeof *model);
    model_point_t *points = calloc(MODEL_STEPS, sizeof *points);
    TEST_REQUIRE(model != NULL && points != NULL);
    model_create_accounts(&f, model, 0, MODEL_ACCOUNTS / 2);
    for (uint32_t step = 0; step < MODEL_STEPS; step++) {
        f.now_ns += NS_PER_S;
        model_step(&f, model, step);
        model_point_t *point = &points[step];
        point->timestamp = f.now_ns + NS_PER_S / 2;
        point->sequence = fixture_stats(&f).journal_sequence;
        point->rows_count = model_rows(model, point->rows);
    }
    /* Now: from memory; and every past step: from the journal. */
    model_point_t *last = &points[MODEL_STEPS - 1];
    check_trial_balance(f.ledger, 0, last->rows, last->rows_count, last->sequence);
    for (uint32_t step = 0; step < MODEL_STEPS; step += 7) {
        check_trial_balance(f.ledger, points[step].timestamp, points[step].rows,
                            points[step].rows_count, points[step].sequence);
    }
    /* Before the accounts: nothing. Reopened (checkpoint + replay): same. */
    check_trial_balance(f.ledger, FIXTURE_CLOCK_START - 1, NULL, 0, 0);
    fixture_shut(&f);
    fixture_reopen(&f);
    check_trial_balance(f.ledger, 0, last->rows, last->rows_count, last->sequence);
    check_trial_balance(f.ledger, points[MODEL_STEPS / 2].timestamp, points[MODEL_STEPS / 2].rows,
                        points[MODEL_STEPS / 2].rows_count, points[MODEL_STEPS / 2].sequence);
    free(model);
    free(points);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Digest and bounds                                                        */

static void trial_balance_info(ledger_t *ledger, uint64_t timestamp,
                               ledger_trial_balance_info_t *info) {
    int rc = ledger_trial_balance(ledger, timestamp, NULL, 0, info);
    TEST_CHECK_EQ(rc, 0);
}

static void trial_balance_digest(void) {
    fixture_t f;
    fixture_open(&f, "audit-digest");
    ledger_trial_balance_info_t empty, info, moved, past;
    trial_balance_info(f.ledger, 0, &empty);
    uint8_t expected[32];
    reference_digest(NULL, 0, expected);
    TEST_CHECK(memcmp(empty.digest, expected, 32) == 0);
    TEST_CHECK_EQ(empty.rows_count, 0);
    TEST_CHECK_EQ(empty.sequence, 0);
    TEST_CHECK_EQ(empty.timestamp, 0);
    fixture_accounts_range(&f, 1, 3, FIXTURE_LEDGER, 0);
    f.now_ns += NS_PER_S;
    fixture_transfer_ok(&f, transfer_make(100, 1, 2, 500));
    trial_balance_info(f.ledger, 0, &info);
    uint64_t before_move = f.now_ns;
    f.now_ns += NS_PER_S;
    fixture_transfer_ok(&f, transfer_make(101, 2, 3, 1));
    trial_balance_info(f.ledger, 0, &moved);
    /* One cent between two accounts of the same row: the row's debits and
     * credits both grow, so the digest changes. */
    TEST_CHECK(memcmp(info.digest, moved.digest, 32) != 0);
    trial_balance_info(f.ledger, before_move, &past);
    TEST_CHECK(memcmp(info.digest, past.digest, 32) == 0);
    TEST_CHECK_EQ(past.sequence, info.sequence);
    TEST_CHECK_EQ(past.timestamp, before_move);
    /* The public digest function agrees with the rows it is given. */
    ledger_trial_balance_row_t row;
    TEST_CHECK_EQ(ledger_trial_balance(f.ledger, 0, &row, 1, &moved), 0);
    uint8_t digest[32];
    ledger_trial_balance_digest(&row, 1, digest);
    TEST_CHECK(memcmp(digest, moved.digest, 32) == 0);
    reference_digest(&row, 1, expected);
    TEST_CHECK(memcmp(digest, expected, 32) == 0);
    TEST_CHECK_EQ(row.debits_posted.lo, 501);
    TEST_CHECK_EQ(row.debits_posted.hi, 0);
    TEST_CHECK_EQ(row.accounts_count, 3);
    /* Bounds. */
    TEST_CHECK_EQ(ledger_trial_balance(NULL, 0, NULL, 0, &info), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(ledger_trial_balance(f.ledger, 0, NULL, 0, NULL), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(ledger_trial_balance(f.ledger, 0, NULL, 1, &info), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(ledger_trial_balance(f.ledger, 0, &row, LEDGER_TRIAL_BALANCE_ROWS_MAX + 1, &info),
                  LEDGER_ERR_INVALID_ARGUMENT);
    /* Inside a write group: now is allowed (it sees the group), a past
     * time is not. */
    TEST_CHECK_EQ(ledger_write_begin(f.ledger), 0);
    f.now_ns += NS_PER_S;
    fixture_transfer_ok(&f, transfer_make(102, 3, 1, 7));
    TEST_CHECK_EQ(ledger_trial_balance(f.ledger, 0, &row, 1, &info), 0);
    TEST_CHECK_EQ(row.debits_posted.lo, 508);
    TEST_CHECK_EQ(ledger_trial_balance(f.ledger, before_move, &row, 1, &info), LEDGER_ERR_WRITE_OPEN);
    ledger_write_abort(f.ledger);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* The journal as a stream                                                  */

typedef struct scan_log {
    uint64_t count;
    uint64_t first, last;
    uint64_t stop_after; /* 0 = never */
    uint32_t kinds[5];
    bool ordered;
    ledger_journal_entry_t wanted; /* the entry whose transfer id is wanted_id */
    ledger_u128_t wanted_id;
    uint8_t hashes[64][32]; /* chain hash by sequence (the first 64) */
} scan_log_t;

static int scan_log_visit(void *context, const ledger_journal_entry_t *entry) {
    scan_log_t *log = context;
    if (log->count > 0 && entry->sequence != log->last + 1) log->ordered = false;
    if (log->count == 0) log->first = entry->sequence;
    log->last = entry->sequence;
    log->count++;
    if (entry->kind < 5) log->kinds[entry->kind]++;
    if (entry->kind == LEDGER_EVENT_TRANSFER && ledger_u128_equal(entry->transfer.id, log->wanted_id)) {
        log->wanted = *entry;
    }
    if (entry->sequence < 64) memcpy(log->hashes[entry->sequence], entry->chain_hash, 32);
    if (log->stop_after != 0 && log->count == log->stop_after) return 42;
    return 0;
}

static scan_log_t *scan_run(ledger_t *ledger, uint64_t min, uint64_t max, uint64_t stop_after,
                            int expected_rc) {
    static scan_log_t log;
    memset(&log, 0, sizeof log);
    log.ordered = true;
    log.stop_after = stop_after;
    log.wanted_id = id128(501);
    int rc = ledger_journal_scan(ledger, min, max, scan_log_visit, &log);
    TEST_CHECK_EQ(rc, expected_rc);
    return &log;
}

/* Accounts 1..3, a transfer 500, a pending 501 posted by 502, a failure
 * marker (503 to a missing account), a void of a second pending. */
static void journal_setup(fixture_t *f) {
    fixture_accounts_range(f, 1, 3, FIXTURE_LEDGER, 0);
    f->now_ns += NS_PER_S;
    fixture_transfer_ok(f, transfer_make(500, 1, 2, 10));
    ledger_transfer_t pending = pending_make(501, 2, 3, 40, 0);
    pending.user_data_128 = u128_hi_lo(7, 8);
    pending.user_data_64 = 64;
    pending.user_data_32 = 32;
    fixture_transfer_ok(f, pending);
    fixture_transfer_ok(f, post_make(502, 501, 30));
    ledger_transfer_t failed = transfer_make(503, 1, 99, 5);
    ledger_result_t result;
    TEST_CHECK_EQ(ledger_create_transfers(f->ledger, &failed, 1, &result), 0);
    TEST_CHECK_EQ(result.result, LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND);
    fixture_transfer_ok(f, pending_make(504, 3, 1, 5, 0));
    fixture_transfer_ok(f, void_make(505, 504));
}

static void journal_scan(void) {
    fixture_t f;
    fixture_open(&f, "audit-scan");
    journal_setup(&f);
    uint64_t total = fixture_stats(&f).journal_sequence;
    TEST_CHECK_EQ(total, 9);
    scan_log_t *log = scan_run(f.ledger, 0, 0, 0, 0);
    TEST_CHECK_EQ(log->count, total);
    TEST_CHECK(log->ordered);
    TEST_CHECK_EQ(log->first, 1);
    TEST_CHECK_EQ(log->kinds[LEDGER_EVENT_ACCOUNT], 3);
    TEST_CHECK_EQ(log->kinds[LEDGER_EVENT_TRANSFER], 5);
    TEST_CHECK_EQ(log->kinds[LEDGER_EVENT_FAILED], 1);
    /* The pending transfer's entry, field by field. */
    ledger_transfer_t looked;
    TEST_CHECK(fixture_transfer_find(&f, id128(501), &looked));
    TEST_CHECK(transfer_equal(&log->wanted.transfer, &looked));
    TEST_CHECK_EQ(log->wanted.debit_after.debits_pending, 40);
    TEST_CHECK_EQ(log->wanted.credit_after.credits_pending, 40);
    TEST_CHECK_EQ(log->wanted.sequence, 5);
    ledger_stats_t stats = fixture_stats(&f);
    TEST_CHECK(memcmp(log->hashes[total], stats.chain_head, 32) == 0);
    /* Ranges and early stop. */
    log = scan_run(f.ledger, 3, 7, 0, 0);
    TEST_CHECK_EQ(log->count, 5);
    TEST_CHECK_EQ(log->first, 3);
    TEST_CHECK_EQ(log->last, 7);
    log = scan_run(f.ledger, 4, 0, 2, 42);
    TEST_CHECK_EQ(log->count, 2);
    TEST_CHECK_EQ(log->last, 5);
    log = scan_run(f.ledger, total + 1, 0, 0, 0);
    TEST_CHECK_EQ(log->count, 0);
    log = scan_run(f.ledger, total, total, 0, 0);
    TEST_CHECK_EQ(log->count, 1);
    scan_run(f.ledger, 5, 4, 0, LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(ledger_journal_scan(f.ledger, 0, 0, NULL, NULL), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(ledger_write_begin(f.ledger), 0);
    scan_run(f.ledger, 0, 0, 0, LEDGER_ERR_WRITE_OPEN);
    ledger_write_abort(f.ledger);
    fixture_close(&f);
}

static void sha256_of_link(const uint8_t previous[32], const uint8_t record[264], uint8_t out[32]) {
    uint8_t input[32 + 228];
    memcpy(input, previous, 32);
    memcpy(input + 32, record + 4, 228);
    unsigned int size = 0;
    TEST_REQUIRE(EVP_Digest(input, sizeof input, out, &size, EVP_sha256(), NULL) == 1);
}

static void record_bytes(void) {
    fixture_t f;
    fixture_open(&f, "audit-bytes");
    journal_setup(&f);
    uint64_t total = fixture_stats(&f).journal_sequence;
    scan_log_t *log = scan_run(f.ledger, 0, 0, 0, 0);
    uint8_t zero[32] = {0};
    for (uint64_t s = 1; s <= total; s++) {
        uint8_t record[LEDGER_JOURNAL_RECORD_SIZE], previous[LEDGER_DIGEST_SIZE], hash[32];
        TEST_CHECK_EQ(ledger_journal_record_bytes(f.ledger, s, record, previous), 0);
        TEST_CHECK(memcmp(previous, s == 1 ? zero : log->hashes[s - 1], 32) == 0);
        sha256_of_link(previous, record, hash);
        TEST_CHECK(memcmp(hash, record + 232, 32) == 0);
        TEST_CHECK(memcmp(hash, log->hashes[s], 32) == 0);
        uint64_t sequence = 0;
        for (int k = 7; k >= 0; k--) sequence = sequence << 8 | record[8 + k];
        TEST_CHECK_EQ(sequence, s);
    }
    uint8_t record[LEDGER_JOURNAL_RECORD_SIZE], previous[LEDGER_DIGEST_SIZE];
    TEST_CHECK_EQ(ledger_journal_record_bytes(f.ledger, 0, record, previous), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(ledger_journal_record_bytes(f.ledger, total + 1, record, previous),
                  LEDGER_ERR_INVALID_ARGUMENT);
    /* Transfer ids -> sequences: 501 is record 5; the failed 503 and an
     * unknown id have none. */
    uint64_t sequence = 0;
    bool found = false;
    TEST_CHECK_EQ(ledger_transfer_sequence(f.ledger, id128(501), &sequence, &found), 0);
    TEST_CHECK(found);
    TEST_CHECK_EQ(sequence, 5);
    TEST_CHECK_EQ(ledger_transfer_sequence(f.ledger, id128(503), &sequence, &found), 0);
    TEST_CHECK(!found);
    TEST_CHECK_EQ(ledger_transfer_sequence(f.ledger, id128(9999), &sequence, &found), 0);
    TEST_CHECK(!found);
    TEST_CHECK_EQ(ledger_transfer_sequence(f.ledger, id128(1), &sequence, &found), 0);
    TEST_CHECK(!found); /* an account id is no transfer */
    fixture_close(&f);
}

/* Flips one byte of journal record `sequence` with LMDB directly (in a
 * child process: LMDB forbids a second environment on one file in a
 * process, and the engine refuses to open a damaged journal, so the
 * damage comes after the open). */
static void journal_damage_now(const char *path, uint64_t sequence);

static void journal_damage(const char *path, uint64_t sequence) {
    fflush(stdout);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        journal_damage_now(path, sequence);
        _exit(test_failures_in_case == 0 ? 0 : 1);
    }
    int status = 0;
    TEST_REQUIRE(waitpid(pid, &status, 0) == pid);
    TEST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void journal_damage_now(const char *path, uint64_t sequence) {
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    TEST_REQUIRE(mdb_env_create(&env) == 0);
    TEST_REQUIRE(mdb_env_set_maxdbs(env, 32) == 0);
    TEST_REQUIRE(mdb_env_set_mapsize(env, UINT64_C(1) << 30) == 0);
    TEST_REQUIRE(mdb_env_open(env, path, MDB_NOTLS, 0600) == 0);
    TEST_REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    TEST_REQUIRE(mdb_dbi_open(txn, "journal", 0, &dbi) == 0);
    uint8_t key_bytes[8];
    for (int k = 0; k < 8; k++) key_bytes[k] = (uint8_t)(sequence >> (56 - 8 * k));
    MDB_val key = {8, key_bytes}, data;
    TEST_REQUIRE(mdb_get(txn, dbi, &key, &data) == 0);
    uint8_t bytes[264];
    memcpy(bytes, data.mv_data, sizeof bytes);
    bytes[104] ^= 1; /* the amount */
    data.mv_data = bytes;
    TEST_REQUIRE(mdb_put(txn, dbi, &key, &data, 0) == 0);
    TEST_REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

static void scan_corrupt(void) {
    fixture_t f;
    fixture_open(&f, "audit-corrupt");
    journal_setup(&f);
    uint64_t after = f.now_ns + NS_PER_S;
    fixture_shut(&f); /* the checkpoint covers every record: no replay */
    f.options.read_only = true;
    fixture_reopen(&f);
    journal_damage(f.path, 4);
    scan_log_t *log = scan_run(f.ledger, 0, 0, 0, LEDGER_ERR_CORRUPT);
    TEST_CHECK_EQ(log->count, 3);
    TEST_CHECK(strstr(ledger_last_error_message(f.ledger), "record 4 ") != NULL);
    ledger_trial_balance_info_t info;
    TEST_CHECK_EQ(ledger_trial_balance(f.ledger, after, NULL, 0, &info), LEDGER_ERR_CORRUPT);
    TEST_CHECK(strstr(ledger_last_error_message(f.ledger), "record 4 ") != NULL);
    uint8_t record[LEDGER_JOURNAL_RECORD_SIZE], previous[LEDGER_DIGEST_SIZE];
    TEST_CHECK_EQ(ledger_journal_record_bytes(f.ledger, 4, record, previous), LEDGER_ERR_CORRUPT);
    TEST_CHECK_EQ(ledger_journal_record_bytes(f.ledger, 5, record, previous), LEDGER_ERR_CORRUPT);
    /* Before the damage, the walk stops before reaching it. */
    log = scan_run(f.ledger, 5, 0, 0, 0);
    TEST_CHECK_EQ(log->count, 5);
    TEST_CHECK_EQ(ledger_trial_balance(f.ledger, FIXTURE_CLOCK_START + 1, NULL, 0, &info), 0);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Welfare listings                                                         */

static void welfare_lists(void) {
    wf_t *w = wf_open("audit-lists");
    CHECK_RESULT(w_funder(w, 30, WELFARE_FUNDER_COMPANY), WELFARE_RESULT_OK);
    CHECK_RESULT(w_funder(w, 10, WELFARE_FUNDER_PUBLIC), WELFARE_RESULT_OK);
    CHECK_RESULT(w_funder(w, 20, WELFARE_FUNDER_COMPANY), WELFARE_RESULT_OK);
    CHECK_RESULT(w_provider(w, 7, 0, WF_CATS_DEFAULT), WELFARE_RESULT_OK);
    CHECK_RESULT(w_provider(w, 5, 0, WF_CATS_DEFAULT), WELFARE_RESULT_OK);
    ledger_u128_t ids[4];
    uint32_t count = 99;
    bool more = false;
    ledger_u128_t none = {0, 0};
    TEST_CHECK_EQ(welfare_list_funders(w->f.ledger, none, ids, 2, &count, &more), 0);
    TEST_CHECK_EQ(count, 2);
    TEST_CHECK(more);
    TEST_CHECK_EQ(ids[0].lo, 10);
    TEST_CHECK_EQ(ids[1].lo, 20);
    TEST_CHECK_EQ(welfare_list_funders(w->f.ledger, ids[1], ids, 2, &count, &more), 0);
    TEST_CHECK_EQ(count, 1);
    TEST_CHECK(!more);
    TEST_CHECK_EQ(ids[0].lo, 30);
    TEST_CHECK_EQ(welfare_list_funders(w->f.ledger, id128(15), ids, 4, &count, &more), 0);
    TEST_CHECK_EQ(count, 2); /* after an id that is not there */
    TEST_CHECK_EQ(welfare_list_providers(w->f.ledger, none, ids, 4, &count, &more), 0);
    TEST_CHECK_EQ(count, 2);
    TEST_CHECK(!more);
    TEST_CHECK_EQ(ids[0].lo, 5);
    TEST_CHECK_EQ(ids[1].lo, 7);
    TEST_CHECK_EQ(welfare_list_providers(w->f.ledger, none, ids, 0, &count, &more),
                  LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_list_funders(w->f.ledger, none, ids, WELFARE_LIST_IDS_MAX + 1, &count,
                                       &more), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(welfare_list_funders(w->f.ledger, none, NULL, 4, &count, &more),
                  LEDGER_ERR_INVALID_ARGUMENT);
    /* A welfare posting (its id: tag 0xFFFFFFFE, low half its sequence) is
     * found by ledger_transfer_sequence without the id index. */
    CHECK_RESULT(w_fund(w, 40, 10, 5000), WELFARE_RESULT_OK);
    uint64_t last = fixture_stats(&w->f).journal_sequence;
    ledger_u128_t posting = {(uint64_t)WELFARE_TRANSFER_ID_TAG << 32, last};
    uint64_t sequence = 0;
    bool found = false;
    TEST_CHECK_EQ(ledger_transfer_sequence(w->f.ledger, posting, &sequence, &found), 0);
    TEST_CHECK(found);
    TEST_CHECK_EQ(sequence, last);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* The commands, run as processes                                           */

typedef struct run {
    int exit_code; /* -1 when it did not exit normally */
    char *out;
    char *err;
} run_t;

static run_t run_buffers;
static char run_directory[PATH_MAX];

static uint64_t now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static size_t file_read(const char *path, char *buffer) {
    size_t used = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && used + 1 < OUTPUT_SIZE_MAX) {
        ssize_t n = read(fd, buffer + used, OUTPUT_SIZE_MAX - 1 - used);
        if (n <= 0) break;
        used += (size_t)n;
    }
    if (fd >= 0) close(fd);
    buffer[used] = '\0';
    return used;
}

static const char *tool_path(void) {
    const char *path = getenv("BORSELLINO");
    if (path == NULL || path[0] == '\0') {
        printf("# $BORSELLINO is not set (meson sets it)\nBail out!\n");
        exit(1);
    }
    return path;
}

/* Runs argv with stdout/stderr to files; the wait status, or -1 when it
 * did not end within TOOL_TIMEOUT_MS. */
static int process_run(char *const *argv, const char *out_path, const char *err_path) {
    fflush(stdout);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out < 0 || err < 0) _exit(126);
        dup2(out, STDOUT_FILENO), dup2(err, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    uint64_t deadline = now_ms() + TOOL_TIMEOUT_MS;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
    return status;
}

static run_t *tool_run(const char *const *args) {
    char *argv[ARGS_MAX + 2];
    int count = 0;
    argv[count++] = (char *)tool_path();
    for (int i = 0; args[i] != NULL; i++) {
        TEST_REQUIRE(count < ARGS_MAX);
        argv[count++] = (char *)args[i];
    }
    argv[count] = NULL;
    char out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
    snprintf(out_path, sizeof out_path, "%s/stdout", run_directory);
    snprintf(err_path, sizeof err_path, "%s/stderr", run_directory);
    int status = process_run(argv, out_path, err_path);
    run_buffers.exit_code = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    file_read(out_path, run_buffers.out);
    file_read(err_path, run_buffers.err);
    return &run_buffers;
}

#define TOOL(...) tool_run((const char *const[]){__VA_ARGS__, NULL})

#define CHECK_CONTAINS(text, needle)                                              \
    do {                                                                          \
        if (strstr((text), (needle)) == NULL) {                                   \
            test_failures_in_case++;                                              \
            printf("# %s:%d: expected \"%s\" in:\n# %.1500s\n", __FILE__, __LINE__, \
                   (needle), (text));                                             \
        }                                                                         \
    } while (0)

#define CHECK_EXIT(run, expected)                                                 \
    do {                                                                          \
        if ((run)->exit_code != (expected)) {                                     \
            test_failures_in_case++;                                              \
            printf("# %s:%d: exit %d, expected %d\n# stdout: %.1500s\n# stderr: %.1500s\n", \
                   __FILE__, __LINE__, (run)->exit_code, (expected), (run)->out,  \
                   (run)->err);                                                   \
        }                                                                         \
    } while (0)

/* Whether `text` is one JSON document (checked by python3 when present);
 * with `lines`, whether every line is one. */
static bool json_valid(const char *text, bool lines) {
    static const char python[] = "/usr/bin/python3";
    if (access(python, X_OK) != 0) return true;
    char path[PATH_MAX + 16], out[PATH_MAX + 16], err[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/document.json", run_directory);
    snprintf(out, sizeof out, "%s/json.out", run_directory);
    snprintf(err, sizeof err, "%s/json.err", run_directory);
    FILE *file = fopen(path, "w");
    TEST_REQUIRE(file != NULL);
    fputs(text, file);
    TEST_REQUIRE(fclose(file) == 0);
    const char *script = lines ? "import json,sys; [json.loads(l) for l in open(sys.argv[1])]"
                               : "import json,sys; json.load(open(sys.argv[1]))";
    char *argv[] = {(char *)python, "-c", (char *)script, path, NULL};
    int status = process_run(argv, out, err);
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static uint64_t lines_count(const char *text) {
    uint64_t count = 0;
    for (const char *c = text; *c; c++) count += *c == '\n';
    return count;
}

/* The line of `text` that starts with `prefix` (copied into `line`). */
static bool line_starting(const char *text, const char *prefix, char *line, size_t size) {
    size_t length = strlen(prefix);
    line[0] = '\0';
    for (const char *c = text; *c;) {
        const char *end = strchr(c, '\n');
        size_t line_length = end ? (size_t)(end - c) : strlen(c);
        if (line_length >= length && strncmp(c, prefix, length) == 0 && line_length < size) {
            memcpy(line, c, line_length);
            line[line_length] = '\0';
            return true;
        }
        if (end == NULL) break;
        c = end + 1;
    }
    return false;
}

static void cli_begin(const char *prefix) {
    if (run_buffers.out == NULL) {
        run_buffers.out = malloc(OUTPUT_SIZE_MAX);
        run_buffers.err = malloc(OUTPUT_SIZE_MAX);
        TEST_REQUIRE(run_buffers.out != NULL && run_buffers.err != NULL);
    }
    fixture_tmp_dir_make(prefix, run_directory, sizeof run_directory);
}

static void cli_end(void) {
    if (test_failures_in_case == 0) fixture_tmp_dir_remove(run_directory);
    else printf("# tool outputs kept in %s\n", run_directory);
}

static void hex_of(const uint8_t *bytes, size_t size, char *text) {
    for (size_t i = 0; i < size; i++) snprintf(text + 2 * i, 3, "%02x", bytes[i]);
}

/* Two ledgers: accounts 1..3 on ledger 1 (code 1), 4 and 5 on ledger 2
 * (code 9). Transfers 1->2 100, pending 2->3 50, then (one hour later)
 * 4->5 7 and a post of 30 of the pending. */
static void cli_setup(fixture_t *f, uint64_t *between_out, uint8_t digest_out[32]) {
    fixture_accounts_range(f, 1, 3, 1, 0);
    ledger_account_t others[2] = {account_make(4, 2, 0), account_make(5, 2, 0)};
    others[0].code = others[1].code = 9;
    fixture_accounts_create(f, others, 2);
    f->now_ns += NS_PER_S;
    fixture_transfer_ok(f, transfer_make(100, 1, 2, 100));
    fixture_transfer_ok(f, pending_make(101, 2, 3, 50, 0));
    *between_out = f->now_ns + NS_PER_S;
    f->now_ns += 3600 * NS_PER_S;
    ledger_transfer_t other = transfer_make(102, 4, 5, 7);
    other.ledger = 2;
    other.code = 9;
    fixture_transfer_ok(f, other);
    fixture_transfer_ok(f, post_make(103, 101, 30));
    ledger_trial_balance_info_t info;
    TEST_CHECK_EQ(ledger_trial_balance(f->ledger, 0, NULL, 0, &info), 0);
    memcpy(digest_out, info.digest, 32);
}

static void cli_trial_balance(void) {
    cli_begin("audit-cli-tb");
    fixture_t f;
    fixture_open(&f, "audit-cli-tb-data");
    uint64_t between = 0;
    uint8_t digest[32];
    cli_setup(&f, &between, digest);
    fixture_shut(&f);
    char digest_text[80], between_text[32];
    hex_of(digest, 32, digest_text);
    snprintf(between_text, sizeof between_text, "%" PRIu64, between);
    run_t *run = TOOL("audit", "trial-balance", "--data", f.path, "--json");
    CHECK_EXIT(run, 0);
    TEST_CHECK(json_valid(run->out, false));
    CHECK_CONTAINS(run->out, "\"sequence\": 9,");
    CHECK_CONTAINS(run->out, digest_text);
    CHECK_CONTAINS(run->out, "{\"ledger\": 1, \"code\": 1, \"accounts\": 3, \"debits_pending\": "
                             "\"0\", \"debits_posted\": \"130\", \"credits_pending\": \"0\", "
                             "\"credits_posted\": \"130\"}");
    CHECK_CONTAINS(run->out, "{\"ledger\": 2, \"code\": 9, \"accounts\": 2, \"debits_pending\": "
                             "\"0\", \"debits_posted\": \"7\"");
    CHECK_CONTAINS(run->out, "\"balanced\": true}");
    /* Before the hour: the pending 50 is open, ledger 2 has not moved. */
    run = TOOL("audit", "trial-balance", "--data", f.path, "--json", "--at", between_text);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "\"sequence\": 7,");
    CHECK_CONTAINS(run->out, "{\"ledger\": 1, \"code\": 1, \"accounts\": 3, \"debits_pending\": "
                             "\"50\", \"debits_posted\": \"100\", \"credits_pending\": \"50\", "
                             "\"credits_posted\": \"100\"}");
    CHECK_CONTAINS(run->out, "{\"ledger\": 2, \"code\": 9, \"accounts\": 2, \"debits_pending\": "
                             "\"0\", \"debits_posted\": \"0\"");
    run = TOOL("audit", "trial-balance", "--data", f.path, "--csv");
    CHECK_EXIT(run, 0);
    static const char header[] = "sequence,timestamp,ledger,code,accounts,debits_pending,"
                                 "debits_posted,credits_pending,credits_posted,digest\n";
    TEST_CHECK(strncmp(run->out, header, strlen(header)) == 0);
    TEST_CHECK_EQ(lines_count(run->out), 3);
    char line[512];
    TEST_CHECK(line_starting(run->out, "9,", line, sizeof line));
    CHECK_CONTAINS(line, ",1,1,3,0,130,0,130,");
    run = TOOL("audit", "trial-balance", "--data", f.path, "--jsonl");
    CHECK_EXIT(run, 0);
    TEST_CHECK(json_valid(run->out, true));
    TEST_CHECK_EQ(lines_count(run->out), 2);
    run = TOOL("audit", "trial-balance", "--data", f.path);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "debits = credits");
    CHECK_CONTAINS(run->out, digest_text);
    fixture_close(&f);
    cli_end();
}

static void cli_balance(void) {
    cli_begin("audit-cli-balance");
    fixture_t f;
    fixture_open(&f, "audit-cli-balance-data");
    uint64_t between = 0;
    uint8_t digest[32];
    cli_setup(&f, &between, digest);
    fixture_shut(&f);
    char between_text[32];
    snprintf(between_text, sizeof between_text, "%" PRIu64, between);
    run_t *run = TOOL("audit", "balance", "--data", f.path, "--account", "2", "--json");
    CHECK_EXIT(run, 0);
    TEST_CHECK(json_valid(run->out, false));
    CHECK_CONTAINS(run->out, "\"account\": \"2\", \"ledger\": 1, \"code\": 1, \"at\": 0, "
                             "\"debits_pending\":0,\"debits_posted\":30,\"credits_pending\":0,"
                             "\"credits_posted\":100");
    run = TOOL("audit", "balance", "--data", f.path, "--account", "2", "--json", "--at",
               between_text);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "\"debits_pending\":50,\"debits_posted\":0,\"credits_pending\":0,"
                             "\"credits_posted\":100");
    run = TOOL("audit", "balance", "--data", f.path, "--account", "0x2");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "account 2 (ledger 1, code 1)");
    run = TOOL("audit", "balance", "--data", f.path, "--account", "77", "--json");
    CHECK_EXIT(run, 1);
    TEST_CHECK(json_valid(run->out, false));
    CHECK_CONTAINS(run->err, "no account 77");
    fixture_close(&f);
    cli_end();
}

static void cli_reconcile(void) {
    cli_begin("audit-cli-reconcile");
    wf_t *w = wf_open("audit-cli-reconcile-data");
    CHECK_RESULT(w_funder(w, 10, WELFARE_FUNDER_COMPANY), WELFARE_RESULT_OK);
    CHECK_RESULT(w_provider(w, 20, 500, WF_CATS_DEFAULT), WELFARE_RESULT_OK);
    CHECK_RESULT(w_employee(w, 30, 10), WELFARE_RESULT_OK);
    CHECK_RESULT(w_plan_2026(w, 40, 10, WELFARE_EXPIRY_BACK_TO_FUNDER, 0), WELFARE_RESULT_OK);
    CHECK_RESULT(w_fund(w, 50, 10, 100000), WELFARE_RESULT_OK);
    uint64_t funded_at = w->f.now_ns + WF_HOUR / 2;
    w->f.now_ns += WF_HOUR;
    CHECK_RESULT(w_grant(w, 51, 40, 30, 60000), WELFARE_RESULT_OK);
    CHECK_RESULT(w_purchase(w, 52, 30, 20, CAT_EDUCATION, 10000), WELFARE_RESULT_OK);
    CHECK_RESULT(w_refund(w, 53, 52, 2000), WELFARE_RESULT_OK);
    uint64_t paid = 0;
    CHECK_RESULT(w_payout(w, 54, 20, 0, 99, &paid), WELFARE_RESULT_OK);
    TEST_CHECK_EQ(paid, 7600); /* 10000 - 500 fee - 2000 refund + 100 fee back */
    wf_verify(w);
    fixture_shut(&w->f);
    run_t *run = TOOL("audit", "reconcile", "--data", w->f.path, "--json");
    CHECK_EXIT(run, 0);
    TEST_CHECK(json_valid(run->out, false));
    CHECK_CONTAINS(run->out, "\"entity\": \"funder\", \"id\": \"10\", \"funder_kind\": \"company\", "
                             "\"funded\": 100000, \"funds_balance\": 40000, \"pots_balance\": 52000, "
                             "\"spent\": 10000, \"refunded\": 2000");
    CHECK_CONTAINS(run->out, "\"left\": 100000, \"right\": 100000, \"holds\": true");
    CHECK_CONTAINS(run->out, "\"entity\": \"provider\", \"id\": \"20\", \"sales\": 10000, "
                             "\"refunds\": 2000, \"payouts\": 7600, \"payable\": 0, \"fees\": 500, "
                             "\"fees_returned\": 100");
    CHECK_CONTAINS(run->out, "\"left\": 7600, \"right\": 7600, \"holds\": true");
    CHECK_CONTAINS(run->out, "\"balanced\": true}");
    char at[32];
    snprintf(at, sizeof at, "%" PRIu64, funded_at);
    run = TOOL("audit", "reconcile", "--data", w->f.path, "--json", "--at", at);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "\"funded\": 100000, \"funds_balance\": 100000, \"pots_balance\": 0");
    CHECK_CONTAINS(run->out, "\"sales\": 0,");
    run = TOOL("audit", "reconcile", "--data", w->f.path, "--csv");
    CHECK_EXIT(run, 0);
    static const char header[] = "entity,id,funder_kind,left,right,holds,funded,funds_balance,"
                                 "pots_balance,spent,refunded,reimbursed,forfeited,expired_back,"
                                 "carried_over,sales,refunds,payouts,payable,fees,fees_returned,"
                                 "held\n";
    TEST_CHECK(strncmp(run->out, header, strlen(header)) == 0);
    CHECK_CONTAINS(run->out, "\nfunder,10,company,100000,100000,true,100000,40000,52000,10000,2000,"
                             "0,0,0,0,,,,,500,100,0\n");
    CHECK_CONTAINS(run->out, "\nprovider,20,,7600,7600,true,,,,,,,,,,10000,2000,7600,0,500,100,0\n");
    run = TOOL("audit", "reconcile", "--data", w->f.path);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "holds");
    run = TOOL("audit", "export", "reconcile", "--data", w->f.path, "--format", "jsonl");
    CHECK_EXIT(run, 0);
    TEST_CHECK(json_valid(run->out, true));
    TEST_CHECK_EQ(lines_count(run->out), 2);
    wf_close(w);
    cli_end();
}

static const char journal_header[] =
    "sequence,timestamp,kind,result,id,debit_account_id,credit_account_id,amount,pending_id,"
    "user_data_128,user_data_64,user_data_32,timeout,ledger,code,flags,debit_debits_pending,"
    "debit_debits_posted,debit_credits_pending,debit_credits_posted,credit_debits_pending,"
    "credit_debits_posted,credit_credits_pending,credit_credits_posted,chain_hash\n";

static void cli_export_journal(const char *path, uint64_t total, const char *row4,
                               const char *hash5) {
    run_t *run = TOOL("audit", "export", "journal", "--data", path);
    CHECK_EXIT(run, 0);
    TEST_CHECK(strncmp(run->out, journal_header, strlen(journal_header)) == 0);
    TEST_CHECK_EQ(lines_count(run->out), total + 1);
    char line[2048];
    TEST_CHECK(line_starting(run->out, "4,", line, sizeof line));
    TEST_CHECK(strcmp(line, row4) == 0);
    if (strcmp(line, row4) != 0) printf("# got      %s\n# expected %s\n", line, row4);
    TEST_CHECK(line_starting(run->out, "7,", line, sizeof line));
    CHECK_CONTAINS(line, ",failed,credit_account_not_found,503,1,99,5,");
    run = TOOL("audit", "export", "journal", "--data", path, "--format", "jsonl");
    CHECK_EXIT(run, 0);
    TEST_CHECK(json_valid(run->out, true));
    TEST_CHECK_EQ(lines_count(run->out), total);
    CHECK_CONTAINS(run->out, "{\"sequence\":5,");
    CHECK_CONTAINS(run->out, "\"id\":\"501\",\"debit_account_id\":\"2\",\"credit_account_id\":\"3\","
                             "\"amount\":40,\"pending_id\":\"0\","
                             "\"user_data_128\":\"129127208515966861320\",\"user_data_64\":64,"
                             "\"user_data_32\":32,\"timeout\":0,\"ledger\":1,\"code\":1,\"flags\":2,");
    CHECK_CONTAINS(run->out, hash5);
    run = TOOL("audit", "export", "journal", "--data", path, "--from", "3", "--to", "6");
    CHECK_EXIT(run, 0);
    TEST_CHECK_EQ(lines_count(run->out), 5);
    TEST_CHECK(line_starting(run->out, "3,", line, sizeof line));
    TEST_CHECK(line_starting(run->out, "6,", line, sizeof line));
    TEST_CHECK(!line_starting(run->out, "7,", line, sizeof line));
}

static void cli_export_out(const char *path, uint64_t total) {
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/journal.csv", run_directory);
    run_t *run = TOOL("audit", "export", "journal", "--data", path, "--out", out);
    CHECK_EXIT(run, 0);
    char expected[128];
    snprintf(expected, sizeof expected, "exported %" PRIu64 " records (sequence 1..%" PRIu64 ")",
             total, total);
    CHECK_CONTAINS(run->out, expected);
    struct stat st;
    TEST_CHECK(stat(out, &st) == 0 && (st.st_mode & 0777) == 0600);
    char *text = malloc(OUTPUT_SIZE_MAX);
    TEST_REQUIRE(text != NULL);
    file_read(out, text);
    TEST_CHECK_EQ(lines_count(text), total + 1);
    free(text);
    /* The help names every column of the header. */
    run = TOOL("audit", "export", "--help");
    CHECK_EXIT(run, 0);
    char names[sizeof journal_header];
    memcpy(names, journal_header, sizeof journal_header);
    for (char *name = strtok(names, ",\n"); name != NULL; name = strtok(NULL, ",\n")) {
        CHECK_CONTAINS(run->out, name);
    }
    run = TOOL("audit", "export", "trial-balance", "--data", path);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "sequence,timestamp,ledger,code,accounts,");
    TEST_CHECK_EQ(lines_count(run->out), 2);
}

static void cli_export(void) {
    cli_begin("audit-cli-export");
    fixture_t f;
    fixture_open(&f, "audit-cli-export-data");
    journal_setup(&f);
    uint64_t total = fixture_stats(&f).journal_sequence;
    uint8_t record[LEDGER_JOURNAL_RECORD_SIZE], previous[LEDGER_DIGEST_SIZE];
    TEST_CHECK_EQ(ledger_journal_record_bytes(f.ledger, 4, record, previous), 0);
    char hash[80], row4[1024], hash5[96];
    hex_of(record + 232, 32, hash);
    uint64_t timestamp = 0;
    for (int k = 7; k >= 0; k--) timestamp = timestamp << 8 | record[16 + k];
    snprintf(row4, sizeof row4, "4,%" PRIu64 ",transfer,ok,500,1,2,10,0,0,0,0,0,1,1,0,"
             "0,10,0,0,0,0,0,10,%s", timestamp, hash);
    TEST_CHECK_EQ(ledger_journal_record_bytes(f.ledger, 5, record, previous), 0);
    hex_of(record + 232, 32, hash);
    snprintf(hash5, sizeof hash5, "\"chain_hash\":\"%s\"}", hash);
    fixture_shut(&f);
    cli_export_journal(f.path, total, row4, hash5);
    cli_export_out(f.path, total);
    fixture_close(&f);
    cli_end();
}

static void cli_usage(void) {
    cli_begin("audit-cli-usage");
    static const char *const commands[] = {"trial-balance", "balance", "reconcile", "export"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        run_t *run = TOOL("audit", commands[i], "--help");
        CHECK_EXIT(run, 0);
        CHECK_CONTAINS(run->out, "usage: borsellino audit");
        CHECK_CONTAINS(run->out, "--data DIR");
        CHECK_CONTAINS(run->out, "Exit codes");
        run = TOOL("audit", commands[i], "--bogus");
        CHECK_EXIT(run, 2);
    }
    run_t *run = TOOL("audit", "trial-balance", "--at", "yesterday");
    CHECK_EXIT(run, 2);
    CHECK_CONTAINS(run->err, "bad time for --at");
    run = TOOL("audit", "trial-balance", "--json", "--csv");
    CHECK_EXIT(run, 2);
    run = TOOL("audit", "balance", "--data", run_directory);
    CHECK_EXIT(run, 2);
    CHECK_CONTAINS(run->err, "--account");
    run = TOOL("audit", "export", "journal", "--from", "5", "--to", "4");
    CHECK_EXIT(run, 2);
    run = TOOL("audit", "export", "ledgers");
    CHECK_EXIT(run, 2);
    run = TOOL("audit", "export", "journal", "--format", "xml");
    CHECK_EXIT(run, 2);
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/missing", run_directory);
    run = TOOL("audit", "trial-balance", "--data", missing, "--json");
    CHECK_EXIT(run, 1);
    TEST_CHECK(json_valid(run->out, false));
    CHECK_CONTAINS(run->err, "no such data directory");
    run = TOOL("audit", "export", "journal", "--data", missing);
    CHECK_EXIT(run, 1);
    cli_end();
}

static const test_case_t cases[] = {
    {"trial_balance_model", trial_balance_model},
    {"trial_balance_digest", trial_balance_digest},
    {"journal_scan", journal_scan},
    {"record_bytes", record_bytes},
    {"scan_corrupt", scan_corrupt},
    {"welfare_lists", welfare_lists},
    {"cli_trial_balance", cli_trial_balance},
    {"cli_balance", cli_balance},
    {"cli_reconcile", cli_reconcile},
    {"cli_export", cli_export},
    {"cli_usage", cli_usage},
};

int main(int argc, char **argv) {
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
