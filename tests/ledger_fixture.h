/*
 * ledger_fixture.h — shared setup for the engine's unit tests
 * (test_results.c, test_api.c): a ledger in a fresh temporary directory, an
 * injected clock, and builders for accounts and transfers.
 *
 * Every helper is `static inline` so that a test program that does not use
 * one gets no unused-function warning. Directories are made under
 * $BORSELLINO_TEST_TMP (set by meson) or /tmp, and removed by
 * fixture_close() only when the running case had no failure, so a failing
 * case leaves its data behind for inspection (the path is printed).
 */
#ifndef BORSELLINO_LEDGER_FIXTURE_H
#define BORSELLINO_LEDGER_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger.h"
#include "test.h"

#define FIXTURE_NS_PER_S UINT64_C(1000000000)
/* 2023-11-14: a realistic wall-clock start for the injected clock. */
#define FIXTURE_CLOCK_START (UINT64_C(1700000000) * FIXTURE_NS_PER_S)
/* The ledger and code used by every builder unless a test changes them. */
#define FIXTURE_LEDGER 1u
#define FIXTURE_CODE 1u

/* Most account ids a fixture remembers for "nothing changed" snapshots. */
enum { FIXTURE_ACCOUNTS_MAX = 4096 };

typedef struct fixture {
    char path[PATH_MAX];
    ledger_t *ledger;
    /* The injected clock: every create_* call reads this value. */
    uint64_t now_ns;
    /* Options used by fixture_reopen(); the clock fields are filled in. */
    ledger_options_t options;
    /* Ids of the accounts the test created (fixture_accounts_create). */
    uint32_t accounts_count;
    ledger_u128_t accounts[FIXTURE_ACCOUNTS_MAX];
} fixture_t;

static inline ledger_u128_t id128(uint64_t lo) {
    return ledger_u128_from_u64(lo);
}

static inline ledger_u128_t id128_max(void) {
    ledger_u128_t id = {UINT64_MAX, UINT64_MAX};
    return id;
}

static inline uint64_t fixture_clock_read(void *context) {
    return ((const fixture_t *)context)->now_ns;
}

/* mkdir -p for the base directory of test data. */
static inline void fixture_mkdir_parents(const char *path) {
    char buffer[PATH_MAX];
    snprintf(buffer, sizeof buffer, "%s", path);
    for (char *slash = buffer + 1; *slash != '\0'; slash++) {
        if (*slash != '/') continue;
        *slash = '\0';
        (void)mkdir(buffer, 0700);
        *slash = '/';
    }
    (void)mkdir(buffer, 0700);
}

/* Makes a fresh, empty directory named after `prefix` into `out`. */
static inline void fixture_tmp_dir_make(const char *prefix, char *out,
                                        size_t out_size) {
    const char *base = getenv("BORSELLINO_TEST_TMP");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    fixture_mkdir_parents(base);
    int length = snprintf(out, out_size, "%s/%s-XXXXXX", base, prefix);
    TEST_REQUIRE(length > 0 && (size_t)length < out_size);
    TEST_REQUIRE(mkdtemp(out) != NULL);
}

static inline int fixture_remove_entry(const char *path, const struct stat *st,
                                       int type, struct FTW *ftw) {
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* rm -rf: keeps nothing of a passing case's data. */
static inline void fixture_tmp_dir_remove(const char *path) {
    (void)nftw(path, fixture_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Opens (or reopens) the ledger of the fixture with its options and clock. */
static inline void fixture_reopen(fixture_t *f) {
    TEST_REQUIRE(f->ledger == NULL);
    f->options.clock = fixture_clock_read;
    f->options.clock_context = f;
    int rc = ledger_open(f->path, &f->options, &f->ledger);
    if (rc != 0) {
        printf("# ledger_open(%s): %d %s: %s\n", f->path, rc,
               ledger_strerror(rc), ledger_last_error_message(NULL));
    }
    TEST_REQUIRE(rc == 0);
    TEST_REQUIRE(f->ledger != NULL);
}

/* Closes the handle, keeping the directory. */
static inline void fixture_shut(fixture_t *f) {
    int rc = ledger_close(f->ledger);
    TEST_CHECK_EQ(rc, 0);
    f->ledger = NULL;
}

/* A new ledger in a new directory; `options` may be NULL. */
static inline void fixture_open_with(fixture_t *f, const char *prefix,
                                     const ledger_options_t *options) {
    memset(f, 0, sizeof *f);
    if (options != NULL) f->options = *options;
    f->now_ns = FIXTURE_CLOCK_START;
    fixture_tmp_dir_make(prefix, f->path, sizeof f->path);
    fixture_reopen(f);
}

static inline void fixture_open(fixture_t *f, const char *prefix) {
    fixture_open_with(f, prefix, NULL);
}

/* Closes the ledger; removes its directory unless the case failed. */
static inline void fixture_close(fixture_t *f) {
    if (f->ledger != NULL) fixture_shut(f);
    if (test_failures_in_case == 0) {
        fixture_tmp_dir_remove(f->path);
    } else {
        printf("# data kept in %s\n", f->path);
    }
}

static inline ledger_stats_t fixture_stats(fixture_t *f) {
    ledger_stats_t stats;
    memset(&stats, 0, sizeof stats);
    int rc = ledger_stats(f->ledger, &stats);
    TEST_CHECK_EQ(rc, 0);
    return stats;
}

/* ------------------------------------------------------------------------ */
/* Builders                                                                 */

static inline ledger_account_t account_make(uint64_t id, uint32_t ledger_id,
                                            uint16_t flags) {
    ledger_account_t account;
    memset(&account, 0, sizeof account);
    account.id = id128(id);
    account.ledger = ledger_id;
    account.code = FIXTURE_CODE;
    account.flags = flags;
    return account;
}

/* A single-phase transfer on FIXTURE_LEDGER. */
static inline ledger_transfer_t transfer_make(uint64_t id, uint64_t debit,
                                              uint64_t credit,
                                              uint64_t amount) {
    ledger_transfer_t transfer;
    memset(&transfer, 0, sizeof transfer);
    transfer.id = id128(id);
    transfer.debit_account_id = id128(debit);
    transfer.credit_account_id = id128(credit);
    transfer.amount = amount;
    transfer.ledger = FIXTURE_LEDGER;
    transfer.code = FIXTURE_CODE;
    return transfer;
}

static inline ledger_transfer_t pending_make(uint64_t id, uint64_t debit,
                                             uint64_t credit, uint64_t amount,
                                             uint32_t timeout_s) {
    ledger_transfer_t transfer = transfer_make(id, debit, credit, amount);
    transfer.flags = LEDGER_TRANSFER_PENDING;
    transfer.timeout = timeout_s;
    return transfer;
}

/* A post with every optional field zero (taken from the pending transfer);
 * amount 0 posts the full pending amount. */
static inline ledger_transfer_t post_make(uint64_t id, uint64_t pending_id,
                                          uint64_t amount) {
    ledger_transfer_t transfer;
    memset(&transfer, 0, sizeof transfer);
    transfer.id = id128(id);
    transfer.pending_id = id128(pending_id);
    transfer.amount = amount;
    transfer.flags = LEDGER_TRANSFER_POST_PENDING;
    return transfer;
}

static inline ledger_transfer_t void_make(uint64_t id, uint64_t pending_id) {
    ledger_transfer_t transfer = post_make(id, pending_id, 0);
    transfer.flags = LEDGER_TRANSFER_VOID_PENDING;
    return transfer;
}

/* ------------------------------------------------------------------------ */
/* Calls that must work (setup)                                             */

/* Creates accounts; every one must be OK. Remembers their ids (the first
 * FIXTURE_ACCOUNTS_MAX of them: bound tests create more, and do not use
 * snapshots). */
static inline void fixture_accounts_create(fixture_t *f,
                                           const ledger_account_t *accounts,
                                           uint32_t count) {
    ledger_result_t *results = calloc(count, sizeof *results);
    TEST_REQUIRE(results != NULL);
    int rc = ledger_create_accounts(f->ledger, accounts, count, results);
    TEST_REQUIRE(rc == 0);
    for (uint32_t i = 0; i < count; i++) {
        if (results[i].result != LEDGER_RESULT_OK) {
            printf("# setup account %u: %s\n", i,
                   ledger_result_name(results[i].result));
        }
        TEST_REQUIRE(results[i].result == LEDGER_RESULT_OK);
        if (f->accounts_count < FIXTURE_ACCOUNTS_MAX) {
            f->accounts[f->accounts_count++] = accounts[i].id;
        }
    }
    free(results);
}

/* Creates plain accounts with ids first..first+count-1 on `ledger_id`. */
static inline void fixture_accounts_range(fixture_t *f, uint64_t first,
                                          uint32_t count, uint32_t ledger_id,
                                          uint16_t flags) {
    ledger_account_t *accounts = calloc(count, sizeof *accounts);
    TEST_REQUIRE(accounts != NULL);
    for (uint32_t i = 0; i < count; i++) {
        accounts[i] = account_make(first + i, ledger_id, flags);
    }
    fixture_accounts_create(f, accounts, count);
    free(accounts);
}

/* Creates transfers; every one must be OK. */
static inline void fixture_transfers_create(fixture_t *f,
                                            const ledger_transfer_t *transfers,
                                            uint32_t count) {
    ledger_result_t *results = calloc(count, sizeof *results);
    TEST_REQUIRE(results != NULL);
    int rc = ledger_create_transfers(f->ledger, transfers, count, results);
    TEST_REQUIRE(rc == 0);
    for (uint32_t i = 0; i < count; i++) {
        if (results[i].result != LEDGER_RESULT_OK) {
            printf("# setup transfer %u (id %" PRIu64 "): %s\n", i,
                   transfers[i].id.lo, ledger_result_name(results[i].result));
        }
        TEST_REQUIRE(results[i].result == LEDGER_RESULT_OK);
    }
    free(results);
}

static inline void fixture_transfer_ok(fixture_t *f,
                                       ledger_transfer_t transfer) {
    fixture_transfers_create(f, &transfer, 1);
}

/* Looks one account up; false when not found. */
static inline bool fixture_account_find(fixture_t *f, ledger_u128_t id,
                                        ledger_account_t *out) {
    uint32_t found = UINT32_MAX;
    memset(out, 0, sizeof *out);
    int rc = ledger_lookup_accounts(f->ledger, &id, 1, out, &found);
    TEST_CHECK_EQ(rc, 0);
    TEST_CHECK(found <= 1);
    return rc == 0 && found == 1;
}

/* Looks one account up; it must exist. */
static inline ledger_account_t fixture_account(fixture_t *f, uint64_t id) {
    ledger_account_t account;
    bool found = fixture_account_find(f, id128(id), &account);
    if (!found) printf("# account %" PRIu64 " not found\n", id);
    TEST_CHECK(found);
    return account;
}

static inline bool fixture_transfer_find(fixture_t *f, ledger_u128_t id,
                                         ledger_transfer_t *out) {
    uint32_t found = UINT32_MAX;
    memset(out, 0, sizeof *out);
    int rc = ledger_lookup_transfers(f->ledger, &id, 1, out, &found);
    TEST_CHECK_EQ(rc, 0);
    TEST_CHECK(found <= 1);
    return rc == 0 && found == 1;
}

/* Field by field: the structs have padding, so memcmp would be wrong. */
static inline bool account_equal(const ledger_account_t *a,
                                 const ledger_account_t *b) {
    return ledger_u128_equal(a->id, b->id) &&
           a->debits_pending == b->debits_pending &&
           a->debits_posted == b->debits_posted &&
           a->credits_pending == b->credits_pending &&
           a->credits_posted == b->credits_posted &&
           ledger_u128_equal(a->user_data_128, b->user_data_128) &&
           a->user_data_64 == b->user_data_64 &&
           a->user_data_32 == b->user_data_32 && a->ledger == b->ledger &&
           a->code == b->code && a->flags == b->flags &&
           a->timestamp == b->timestamp;
}

static inline bool transfer_equal(const ledger_transfer_t *a,
                                  const ledger_transfer_t *b) {
    return ledger_u128_equal(a->id, b->id) &&
           ledger_u128_equal(a->debit_account_id, b->debit_account_id) &&
           ledger_u128_equal(a->credit_account_id, b->credit_account_id) &&
           a->amount == b->amount &&
           ledger_u128_equal(a->pending_id, b->pending_id) &&
           ledger_u128_equal(a->user_data_128, b->user_data_128) &&
           a->user_data_64 == b->user_data_64 &&
           a->user_data_32 == b->user_data_32 && a->timeout == b->timeout &&
           a->ledger == b->ledger && a->code == b->code &&
           a->flags == b->flags && a->timestamp == b->timestamp;
}

/* Checks the four balances of an account, reporting the caller's line. */
#define CHECK_BALANCES(f, id, debits_pending_, debits_posted_,                \
                       credits_pending_, credits_posted_)                     \
    do {                                                                      \
        ledger_account_t check_account_ = fixture_account((f), (id));         \
        TEST_CHECK_EQ(check_account_.debits_pending, (debits_pending_));      \
        TEST_CHECK_EQ(check_account_.debits_posted, (debits_posted_));        \
        TEST_CHECK_EQ(check_account_.credits_pending, (credits_pending_));    \
        TEST_CHECK_EQ(check_account_.credits_posted, (credits_posted_));      \
    } while (0)

#endif /* BORSELLINO_LEDGER_FIXTURE_H */
