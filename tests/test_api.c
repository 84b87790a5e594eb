/*
 * test_api.c — the API surface of ledger.h beyond per-event results: bad
 * arguments (each a distinct error, never a crash, never a partial apply),
 * batch and lookup bounds, write groups, persistence across close/reopen
 * and across a crash, lookups, history, balance at a time, verification,
 * format and corruption checks on the LMDB files, read-only handles,
 * storage full, the names of codes and errors, time-ordered ids.
 *
 * Calls that could crash the engine (NULL arguments, odd paths) run in a
 * forked child, so a crash is reported as a failed check and the other
 * cases still run. Storage facts used by the corruption cases: LMDB env
 * with sub-databases "journal" (u64 big-endian sequence -> record whose
 * bytes 0..3 are a CRC32C of the rest) and "meta" ("format_version" -> u32
 * little-endian, currently 2).
 */
#include <fcntl.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <time.h>

#include "ledger_fixture.h"

enum {
    /* Ids looked up by image_take(): accounts and transfers 1..this. */
    IMAGE_IDS_MAX = 256,
    /* A history long enough to need several pages, over two batches. */
    LONG_HISTORY_EVENTS = 10000,
    CURRENT_FORMAT_VERSION = 2,
};

/* ------------------------------------------------------------------------ */
/* Whole-ledger images, compared across reopen, abort and crash             */

typedef struct image {
    ledger_stats_t stats;
    uint32_t accounts_count;
    uint32_t transfers_count;
    ledger_account_t accounts[IMAGE_IDS_MAX];
    ledger_transfer_t transfers[IMAGE_IDS_MAX];
} image_t;

/* Everything observable: stats, and every account and transfer whose id is
 * in 1..IMAGE_IDS_MAX. */
static void image_take(fixture_t *f, image_t *image) {
    ledger_u128_t ids[IMAGE_IDS_MAX];
    for (uint32_t i = 0; i < IMAGE_IDS_MAX; i++) ids[i] = id128(i + 1);
    memset(image, 0, sizeof *image);
    image->stats = fixture_stats(f);
    TEST_CHECK_EQ(ledger_lookup_accounts(f->ledger, ids, IMAGE_IDS_MAX,
                                         image->accounts,
                                         &image->accounts_count),
                  0);
    TEST_CHECK_EQ(ledger_lookup_transfers(f->ledger, ids, IMAGE_IDS_MAX,
                                          image->transfers,
                                          &image->transfers_count),
                  0);
}

static bool stats_same(const ledger_stats_t *a, const ledger_stats_t *b) {
    return a->journal_sequence == b->journal_sequence &&
           a->last_timestamp == b->last_timestamp &&
           a->accounts_count == b->accounts_count &&
           a->pending_count == b->pending_count &&
           memcmp(a->chain_head, b->chain_head, sizeof a->chain_head) == 0;
}

static void image_check_same_at(const image_t *a, const image_t *b,
                                const char *file, int line) {
    int failures = test_failures_in_case;
    if (!stats_same(&a->stats, &b->stats)) {
        printf("# stats differ: sequence %" PRIu64 "/%" PRIu64
               ", last_timestamp %" PRIu64 "/%" PRIu64 ", accounts %" PRIu64
               "/%" PRIu64 ", pending %" PRIu64 "/%" PRIu64 "\n",
               a->stats.journal_sequence, b->stats.journal_sequence,
               a->stats.last_timestamp, b->stats.last_timestamp,
               a->stats.accounts_count, b->stats.accounts_count,
               a->stats.pending_count, b->stats.pending_count);
        test_failures_in_case++;
    }
    TEST_CHECK_EQ(a->accounts_count, b->accounts_count);
    TEST_CHECK_EQ(a->transfers_count, b->transfers_count);
    for (uint32_t i = 0; i < a->accounts_count && i < b->accounts_count; i++) {
        TEST_CHECK(account_equal(&a->accounts[i], &b->accounts[i]));
    }
    for (uint32_t i = 0; i < a->transfers_count && i < b->transfers_count;
         i++) {
        TEST_CHECK(transfer_equal(&a->transfers[i], &b->transfers[i]));
    }
    if (test_failures_in_case > failures) {
        printf("# (images compared at %s:%d)\n", file, line);
    }
}

#define IMAGE_CHECK_SAME(a, b) image_check_same_at((a), (b), __FILE__, __LINE__)

/* Images are large: two static slots are enough for every case. */
static image_t image_a, image_b;

/* ------------------------------------------------------------------------ */
/* A deterministic workload touching every kind of event                    */

static void workload_transfers(fixture_t *f, const ledger_transfer_t *batch,
                               uint32_t count, ledger_result_t *results) {
    TEST_CHECK_EQ(ledger_create_transfers(f->ledger, batch, count, results),
                  0);
    f->now_ns += FIXTURE_NS_PER_S;
}

/* Accounts 1..10 (9, 10 on ledger 2; 3 dmnec; 4 cmned), transfers 1..20:
 * single, pending, post (partial), void, expiry, balancing, closing, a
 * linked chain, a transient failure (id 11). Same input, same ledger. */
static void workload_run(fixture_t *f) {
    fixture_accounts_range(f, 1, 2, FIXTURE_LEDGER, 0);
    fixture_accounts_range(f, 3, 1, FIXTURE_LEDGER,
                           LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    fixture_accounts_range(f, 4, 1, FIXTURE_LEDGER,
                           LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS);
    fixture_accounts_range(f, 5, 4, FIXTURE_LEDGER, LEDGER_ACCOUNT_HISTORY);
    fixture_accounts_range(f, 9, 2, 2, 0);
    ledger_result_t results[8];
    ledger_transfer_t balancing = transfer_make(10, 3, 5, 1000);
    balancing.flags = LEDGER_TRANSFER_BALANCING_DEBIT;
    ledger_transfer_t other_ledger = transfer_make(3, 9, 10, 7);
    other_ledger.ledger = 2;
    const ledger_transfer_t first[] = {
        transfer_make(1, 1, 2, 100), transfer_make(2, 2, 3, 50),
        other_ledger,                transfer_make(4, 1, 3, 30),
        pending_make(5, 1, 2, 40, 0), post_make(6, 5, 25),
        pending_make(7, 2, 1, 10, 0), void_make(8, 7)};
    workload_transfers(f, first, 8, results);
    for (int i = 0; i < 8; i++) TEST_CHECK_EQ(results[i].result, 0);
    ledger_transfer_t chain0 = transfer_make(12, 4, 6, 5);
    chain0.flags = LEDGER_TRANSFER_LINKED;
    ledger_transfer_t closing = pending_make(14, 6, 7, 5, 0);
    closing.flags |= LEDGER_TRANSFER_CLOSING_DEBIT;
    const ledger_transfer_t second[] = {
        pending_make(9, 1, 5, 20, 2), balancing, transfer_make(11, 99, 1, 1),
        chain0, transfer_make(13, 6, 4, 5), closing};
    workload_transfers(f, second, 6, results);
    for (int i = 0; i < 6; i++) {
        TEST_CHECK_EQ(results[i].result,
                      i == 2 ? LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND : 0);
    }
    f->now_ns += 3 * FIXTURE_NS_PER_S;
    uint32_t expired = 0;
    TEST_CHECK_EQ(ledger_expire_pending(f->ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 1);
    for (uint64_t id = 15; id <= 20; id++) {
        ledger_transfer_t t = transfer_make(id, 1 + id % 2, 2 - id % 2, id);
        workload_transfers(f, &t, 1, results);
        TEST_CHECK_EQ(results[0].result, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* Running a call in a child process                                        */

typedef int (*isolated_fn)(const char *path, int which);

/* Runs call(path, which) in a child. Returns true when the child exited
 * normally; *rc_out gets the call's return value. */
static bool isolated_run(isolated_fn call, const char *path, int which,
                         int *rc_out) {
    int fds[2];
    TEST_REQUIRE(pipe(fds) == 0);
    fflush(stdout);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        int rc = call(path, which);
        ssize_t written = write(fds[1], &rc, sizeof rc);
        _exit(written == (ssize_t)sizeof rc ? 0 : 3);
    }
    close(fds[1]);
    int rc = INT32_MIN;
    ssize_t got = read(fds[0], &rc, sizeof rc);
    close(fds[0]);
    int status = 0;
    TEST_REQUIRE(waitpid(pid, &status, 0) == pid);
    *rc_out = rc;
    if (WIFSIGNALED(status)) {
        printf("# child killed by signal %d\n", WTERMSIG(status));
        return false;
    }
    return got == (ssize_t)sizeof rc && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

/* ------------------------------------------------------------------------ */
/* Names and messages                                                       */

static const char *const result_names[LEDGER_RESULT_CODE_COUNT] = {
    "ok",
    "linked_event_failed",
    "linked_event_chain_open",
    "timestamp_must_be_zero",
    "reserved_flag",
    "id_must_not_be_zero",
    "id_must_not_be_int_max",
    "flags_are_mutually_exclusive",
    "debits_pending_must_be_zero",
    "debits_posted_must_be_zero",
    "credits_pending_must_be_zero",
    "credits_posted_must_be_zero",
    "ledger_must_not_be_zero",
    "code_must_not_be_zero",
    "exists_with_different_flags",
    "exists_with_different_user_data_128",
    "exists_with_different_user_data_64",
    "exists_with_different_user_data_32",
    "exists_with_different_ledger",
    "exists_with_different_code",
    "exists",
    "debit_account_id_must_not_be_zero",
    "debit_account_id_must_not_be_int_max",
    "credit_account_id_must_not_be_zero",
    "credit_account_id_must_not_be_int_max",
    "accounts_must_be_different",
    "pending_id_must_be_zero",
    "pending_id_must_not_be_zero",
    "pending_id_must_not_be_int_max",
    "pending_id_must_be_different",
    "timeout_reserved_for_pending_transfer",
    "amount_must_not_be_zero",
    "closing_transfer_must_be_pending",
    "debit_account_not_found",
    "credit_account_not_found",
    "accounts_must_have_the_same_ledger",
    "transfer_must_have_the_same_ledger_as_accounts",
    "pending_transfer_not_found",
    "pending_transfer_not_pending",
    "pending_transfer_has_different_debit_account_id",
    "pending_transfer_has_different_credit_account_id",
    "pending_transfer_has_different_ledger",
    "pending_transfer_has_different_code",
    "exceeds_pending_transfer_amount",
    "pending_transfer_has_different_amount",
    "pending_transfer_already_posted",
    "pending_transfer_already_voided",
    "pending_transfer_expired",
    "exists_with_different_debit_account_id",
    "exists_with_different_credit_account_id",
    "exists_with_different_amount",
    "exists_with_different_pending_id",
    "exists_with_different_timeout",
    "id_already_failed",
    "overflows_debits_pending",
    "overflows_credits_pending",
    "overflows_debits_posted",
    "overflows_credits_posted",
    "overflows_debits",
    "overflows_credits",
    "overflows_timeout",
    "exceeds_credits",
    "exceeds_debits",
    "debit_account_already_closed",
    "credit_account_already_closed",
    "id_reserved",
    "welfare_account_reserved",
    "welfare_cash_out_forbidden",
    "welfare_transfer_between_employees_forbidden",
};

_Static_assert(sizeof(result_names) / sizeof(result_names[0]) == LEDGER_RESULT_CODE_COUNT,
               "one expected name per result code");

static void test_result_names(void) {
    for (uint32_t code = 0; code < LEDGER_RESULT_CODE_COUNT; code++) {
        const char *name = ledger_result_name(code);
        TEST_CHECK(name != NULL);
        if (name == NULL || strcmp(name, result_names[code]) != 0) {
            printf("# result %u: name \"%s\", expected \"%s\"\n", code,
                   name ? name : "(null)", result_names[code]);
            test_failures_in_case++;
        }
    }
    TEST_CHECK(strcmp(ledger_result_name(LEDGER_RESULT_CODE_COUNT),
                      "unknown") == 0);
    TEST_CHECK(strcmp(ledger_result_name(UINT32_MAX), "unknown") == 0);
    TEST_CHECK(strcmp(ledger_result_name(1000), "unknown") == 0);
}

static bool string_useful(const char *text) {
    return text != NULL && strlen(text) >= 4;
}

static void test_strerror(void) {
    const int count = LEDGER_ERR_BASE - LEDGER_ERR_LAST + 1;
    TEST_CHECK_EQ(count, 19);
    for (int i = 0; i < count; i++) {
        const char *text = ledger_strerror(LEDGER_ERR_BASE - i);
        TEST_CHECK(string_useful(text));
        for (int j = 0; j < i && text != NULL; j++) {
            const char *other = ledger_strerror(LEDGER_ERR_BASE - j);
            if (other != NULL && strcmp(text, other) == 0) {
                printf("# errors %d and %d share \"%s\"\n",
                       LEDGER_ERR_BASE - i, LEDGER_ERR_BASE - j, text);
                test_failures_in_case++;
            }
        }
    }
    /* MDB_* codes and errno values get their own descriptions. */
    const int others[] = {MDB_NOTFOUND, MDB_MAP_FULL, MDB_CORRUPTED,
                          ENOENT,       ENOSPC,       EACCES};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        const char *text = ledger_strerror(others[i]);
        TEST_CHECK(string_useful(text));
        for (int j = 0; j < count && text != NULL; j++) {
            TEST_CHECK(strcmp(text, ledger_strerror(LEDGER_ERR_BASE - j)) != 0);
        }
    }
    TEST_CHECK(strcmp(ledger_strerror(ENOENT), ledger_strerror(ENOSPC)) != 0);
    /* Unknown numbers still get a string, never NULL. */
    TEST_CHECK(ledger_strerror(LEDGER_ERR_BASE - 500) != NULL);
    TEST_CHECK(ledger_strerror(0) != NULL);
    TEST_CHECK(ledger_strerror(INT32_MIN) != NULL);
}

/* ------------------------------------------------------------------------ */
/* NULL arguments                                                           */

/* What the bad call of each index is, and what it must return. */
typedef struct null_case {
    const char *call;
    int expected;
    /* A second accepted value (for arguments the manual leaves open). */
    int also_accepted;
} null_case_t;

#define BAD LEDGER_ERR_INVALID_ARGUMENT
static const null_case_t null_cases[] = {
    {"create_accounts(NULL ledger)", BAD, BAD},
    {"create_accounts(NULL accounts)", BAD, BAD},
    {"create_accounts(NULL results)", BAD, BAD},
    {"create_transfers(NULL ledger)", BAD, BAD},
    {"create_transfers(NULL transfers)", BAD, BAD},
    {"create_transfers(NULL results)", BAD, BAD},
    {"lookup_accounts(NULL ledger)", BAD, BAD},
    {"lookup_accounts(NULL ids)", BAD, BAD},
    {"lookup_accounts(NULL out)", BAD, BAD},
    {"lookup_accounts(NULL found_count_out)", BAD, BAD},
    {"lookup_transfers(NULL ledger)", BAD, BAD},
    {"lookup_transfers(NULL ids)", BAD, BAD},
    {"lookup_transfers(NULL out)", BAD, BAD},
    {"lookup_transfers(NULL found_count_out)", BAD, BAD},
    {"account_history(NULL ledger)", BAD, BAD},
    {"account_history(NULL filter)", BAD, BAD},
    {"account_history(NULL entries_out)", BAD, BAD},
    {"account_history(NULL count_out)", BAD, BAD},
    {"account_balance_at(NULL ledger)", BAD, BAD},
    {"account_balance_at(NULL balance_out)", BAD, BAD},
    {"stats(NULL ledger)", BAD, BAD},
    {"stats(NULL stats_out)", BAD, BAD},
    {"write_begin(NULL)", BAD, BAD},
    {"write_commit(NULL)", BAD, BAD},
    {"expire_pending(NULL ledger)", BAD, BAD},
    {"checkpoint(NULL)", BAD, BAD},
    {"verify(NULL ledger)", BAD, BAD},
    {"verify(NULL report_out)", BAD, 0},
    {"open(NULL path)", BAD, BAD},
    {"open(NULL ledger_out)", BAD, BAD},
    {"expire_pending(expired_count_out NULL) is allowed", 0, 0},
    {"write_abort(NULL) returns", 0, 0},
    {"close(NULL) is ignored", 0, 0},
    {"last_error_message(NULL) is not NULL", 0, 0},
};
#undef BAD
enum { NULL_CASES = sizeof null_cases / sizeof null_cases[0] };

static int null_call_lookup(ledger_t *ledger, int which) {
    ledger_u128_t id = id128(1);
    ledger_account_t account;
    ledger_transfer_t transfer;
    uint32_t found = 0;
    switch (which) {
    case 6: return ledger_lookup_accounts(NULL, &id, 1, &account, &found);
    case 7: return ledger_lookup_accounts(ledger, NULL, 1, &account, &found);
    case 8: return ledger_lookup_accounts(ledger, &id, 1, NULL, &found);
    case 9: return ledger_lookup_accounts(ledger, &id, 1, &account, NULL);
    case 10: return ledger_lookup_transfers(NULL, &id, 1, &transfer, &found);
    case 11: return ledger_lookup_transfers(ledger, NULL, 1, &transfer, &found);
    case 12: return ledger_lookup_transfers(ledger, &id, 1, NULL, &found);
    default: return ledger_lookup_transfers(ledger, &id, 1, &transfer, NULL);
    }
}

static int null_call_reads(ledger_t *ledger, int which) {
    ledger_history_filter_t filter = {
        .account_id = id128(1),
        .limit = 1,
        .flags = LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS};
    ledger_history_entry_t entry;
    ledger_balance_t balance;
    ledger_stats_t stats;
    uint32_t count = 0;
    switch (which) {
    case 14: return ledger_account_history(NULL, &filter, &entry, &count);
    case 15: return ledger_account_history(ledger, NULL, &entry, &count);
    case 16: return ledger_account_history(ledger, &filter, NULL, &count);
    case 17: return ledger_account_history(ledger, &filter, &entry, NULL);
    case 18: return ledger_account_balance_at(NULL, id128(1), 1, &balance);
    case 19: return ledger_account_balance_at(ledger, id128(1), 1, NULL);
    case 20: return ledger_stats(NULL, &stats);
    default: return ledger_stats(ledger, NULL);
    }
}

static int null_call_other(ledger_t *ledger, const char *path, int which) {
    ledger_verify_report_t report;
    ledger_t *other = NULL;
    char other_path[PATH_MAX + 16];
    snprintf(other_path, sizeof other_path, "%s-other", path);
    uint32_t expired = 0;
    switch (which) {
    case 22: return ledger_write_begin(NULL);
    case 23: return ledger_write_commit(NULL);
    case 24: return ledger_expire_pending(NULL, &expired);
    case 25: return ledger_checkpoint(NULL);
    case 26: return ledger_verify(NULL, &report, NULL, NULL);
    case 27: return ledger_verify(ledger, NULL, NULL, NULL);
    case 28: return ledger_open(NULL, NULL, &other);
    case 29: return ledger_open(other_path, NULL, NULL);
    case 30: return ledger_expire_pending(ledger, NULL);
    case 31: ledger_write_abort(NULL); return 0;
    case 32: return ledger_close(NULL);
    default: return ledger_last_error_message(NULL) != NULL ? 0 : -1;
    }
}

/* One bad call per index, on a ledger opened in the child. */
static int null_call(const char *path, int which) {
    ledger_t *ledger = NULL;
    if (ledger_open(path, NULL, &ledger) != 0) return INT32_MIN + 1;
    ledger_account_t account = account_make(1, FIXTURE_LEDGER, 0);
    ledger_transfer_t transfer = transfer_make(1, 1, 2, 1);
    ledger_result_t result;
    int rc;
    switch (which) {
    case 0: rc = ledger_create_accounts(NULL, &account, 1, &result); break;
    case 1: rc = ledger_create_accounts(ledger, NULL, 1, &result); break;
    case 2: rc = ledger_create_accounts(ledger, &account, 1, NULL); break;
    case 3: rc = ledger_create_transfers(NULL, &transfer, 1, &result); break;
    case 4: rc = ledger_create_transfers(ledger, NULL, 1, &result); break;
    case 5: rc = ledger_create_transfers(ledger, &transfer, 1, NULL); break;
    default:
        if (which < 14) {
            rc = null_call_lookup(ledger, which);
        } else if (which < 22) {
            rc = null_call_reads(ledger, which);
        } else {
            rc = null_call_other(ledger, path, which);
        }
    }
    ledger_close(ledger);
    return rc;
}

static void test_null_arguments(void) {
    fixture_t f;
    fixture_open(&f, "api");
    fixture_accounts_range(&f, 2, 1, FIXTURE_LEDGER, 0);
    ledger_stats_t before = fixture_stats(&f);
    fixture_shut(&f);
    for (int which = 0; which < NULL_CASES; which++) {
        int rc = 0;
        bool exited = isolated_run(null_call, f.path, which, &rc);
        const null_case_t *c = &null_cases[which];
        if (!exited || (rc != c->expected && rc != c->also_accepted)) {
            printf("# %s: %s, returned %d (%s), expected %d\n", c->call,
                   exited ? "exited" : "CRASHED", rc, ledger_strerror(rc),
                   c->expected);
            test_failures_in_case++;
        }
    }
    /* Nothing was applied by any of them. */
    fixture_reopen(&f);
    ledger_stats_t after = fixture_stats(&f);
    TEST_CHECK(stats_same(&before, &after));
    TEST_CHECK_EQ(after.accounts_count, 1);
    char other_path[PATH_MAX + 16];
    snprintf(other_path, sizeof other_path, "%s-other", f.path);
    fixture_tmp_dir_remove(other_path);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Batch and lookup bounds                                                  */

static ledger_account_t *accounts_alloc(uint32_t count, uint64_t first_id) {
    ledger_account_t *accounts = calloc(count, sizeof *accounts);
    TEST_REQUIRE(accounts != NULL);
    for (uint32_t i = 0; i < count; i++) {
        accounts[i] = account_make(first_id + i, FIXTURE_LEDGER, 0);
    }
    return accounts;
}

/* Transfers first_id.., each between two of the accounts 1..accounts. */
static ledger_transfer_t *transfers_alloc(uint32_t count, uint64_t first_id,
                                          uint32_t accounts) {
    ledger_transfer_t *transfers = calloc(count, sizeof *transfers);
    TEST_REQUIRE(transfers != NULL);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t debit = 1 + i % accounts;
        uint64_t credit = 1 + (i + 1) % accounts;
        transfers[i] = transfer_make(first_id + i, debit, credit, 1);
    }
    return transfers;
}

static void test_batch_bounds(void) {
    fixture_t f;
    fixture_open(&f, "api");
    const uint32_t max = LEDGER_BATCH_EVENTS_MAX;
    ledger_account_t *accounts = accounts_alloc(max + 1, 1);
    ledger_transfer_t *transfers = transfers_alloc(max + 1, 1, max);
    ledger_result_t *results = calloc(max + 1, sizeof *results);
    TEST_REQUIRE(results != NULL);
    ledger_stats_t before = fixture_stats(&f);

    TEST_CHECK_EQ(ledger_create_accounts(f.ledger, accounts, 0, results),
                  LEDGER_ERR_BATCH_EMPTY);
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, transfers, 0, results),
                  LEDGER_ERR_BATCH_EMPTY);
    TEST_CHECK_EQ(ledger_create_accounts(f.ledger, accounts, max + 1, results),
                  LEDGER_ERR_BATCH_TOO_LARGE);
    TEST_CHECK_EQ(ledger_create_accounts(f.ledger, accounts, UINT32_MAX,
                                         results),
                  LEDGER_ERR_BATCH_TOO_LARGE);
    ledger_stats_t after = fixture_stats(&f);
    TEST_CHECK(stats_same(&before, &after));
    TEST_CHECK(!fixture_account_find(&f, id128(1), &accounts[max]));

    /* Exactly the maximum is accepted, every event applied. */
    accounts[max] = account_make(max + 1, FIXTURE_LEDGER, 0);
    TEST_CHECK_EQ(ledger_create_accounts(f.ledger, accounts, max, results), 0);
    uint32_t ok = 0;
    for (uint32_t i = 0; i < max; i++) ok += results[i].result == 0;
    TEST_CHECK_EQ(ok, max);
    before = fixture_stats(&f);
    TEST_CHECK_EQ(before.accounts_count, max);
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, transfers, max + 1,
                                          results),
                  LEDGER_ERR_BATCH_TOO_LARGE);
    after = fixture_stats(&f);
    TEST_CHECK(stats_same(&before, &after));
    ledger_transfer_t found_transfer;
    TEST_CHECK(!fixture_transfer_find(&f, id128(1), &found_transfer));
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, transfers, max, results),
                  0);
    ok = 0;
    for (uint32_t i = 0; i < max; i++) ok += results[i].result == 0;
    TEST_CHECK_EQ(ok, max);
    CHECK_BALANCES(&f, 1, 0, 1, 0, 1);
    free(accounts);
    free(transfers);
    free(results);
    fixture_close(&f);
}

static void test_lookup_bounds(void) {
    fixture_t f;
    fixture_open(&f, "api");
    const uint32_t max = LEDGER_LOOKUP_IDS_MAX;
    ledger_account_t *accounts = accounts_alloc(max + 1, 1);
    fixture_accounts_create(&f, accounts, LEDGER_BATCH_EVENTS_MAX);
    ledger_u128_t *ids = calloc(max + 1, sizeof *ids);
    TEST_REQUIRE(ids != NULL);
    for (uint32_t i = 0; i <= max; i++) ids[i] = id128(max - i);
    uint32_t found = 12345;
    TEST_CHECK_EQ(ledger_lookup_accounts(f.ledger, ids, max + 1, accounts,
                                         &found),
                  LEDGER_ERR_BATCH_TOO_LARGE);
    ledger_transfer_t *transfers = calloc(max + 1, sizeof *transfers);
    TEST_REQUIRE(transfers != NULL);
    TEST_CHECK_EQ(ledger_lookup_transfers(f.ledger, ids, max + 1, transfers,
                                          &found),
                  LEDGER_ERR_BATCH_TOO_LARGE);
    /* At the bound: all found, in the order asked (ids max..1). */
    TEST_CHECK_EQ(ledger_lookup_accounts(f.ledger, ids, max, accounts, &found),
                  0);
    TEST_CHECK_EQ(found, max);
    bool ordered = true;
    for (uint32_t i = 0; i < found; i++) {
        ordered = ordered && accounts[i].id.lo == max - i;
    }
    TEST_CHECK(ordered);
    /* Zero ids: nothing to do, nothing found. */
    TEST_CHECK_EQ(ledger_lookup_accounts(f.ledger, ids, 0, accounts, &found),
                  0);
    TEST_CHECK_EQ(found, 0);
    TEST_CHECK_EQ(ledger_lookup_transfers(f.ledger, ids, max, transfers,
                                          &found),
                  0);
    TEST_CHECK_EQ(found, 0);
    free(ids);
    free(accounts);
    free(transfers);
    fixture_close(&f);
}

/* Found ones first, in the order of the ids; missing and failed skipped. */
static void test_lookup_order(void) {
    fixture_t f;
    fixture_open(&f, "api");
    workload_run(&f);
    ledger_u128_t ids[] = {id128(99), id128(3),  id128(0), id128(1),
                           id128_max(), id128(2), {1, 1}};
    ledger_account_t accounts[7];
    uint32_t found = 0;
    TEST_CHECK_EQ(ledger_lookup_accounts(f.ledger, ids, 7, accounts, &found),
                  0);
    TEST_CHECK_EQ(found, 3);
    TEST_CHECK_EQ(accounts[0].id.lo, 3);
    TEST_CHECK_EQ(accounts[1].id.lo, 1);
    TEST_CHECK_EQ(accounts[2].id.lo, 2);
    TEST_CHECK_EQ(accounts[0].flags,
                  LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    /* Transfer 11 failed (transient): it is not found. */
    ledger_u128_t transfer_ids[] = {id128(11), id128(6), id128(1000),
                                    id128(5),  id128(0), id128(14)};
    ledger_transfer_t transfers[6];
    TEST_CHECK_EQ(ledger_lookup_transfers(f.ledger, transfer_ids, 6,
                                          transfers, &found),
                  0);
    TEST_CHECK_EQ(found, 3);
    TEST_CHECK_EQ(transfers[0].id.lo, 6);
    TEST_CHECK_EQ(transfers[1].id.lo, 5);
    TEST_CHECK_EQ(transfers[2].id.lo, 14);
    TEST_CHECK_EQ(transfers[0].amount, 25);
    TEST_CHECK_EQ(transfers[0].flags, LEDGER_TRANSFER_POST_PENDING);
    TEST_CHECK_EQ(transfers[1].amount, 40);
    fixture_close(&f);
}

/* Ids at the edges of the u128 range; every other field at its max. */
static void test_ids_at_bounds(void) {
    fixture_t f;
    fixture_open(&f, "api");
    const ledger_u128_t ids[4] = {{1, 0}, {0, 1},
                                  {UINT64_MAX, UINT64_MAX - 1},
                                  {UINT64_MAX - 1, UINT64_MAX}};
    ledger_account_t accounts[6];
    for (int i = 0; i < 4; i++) {
        accounts[i] = account_make(0, UINT32_MAX, 0);
        accounts[i].id = ids[i];
        accounts[i].code = UINT16_MAX;
        accounts[i].user_data_128 = id128_max();
        accounts[i].user_data_64 = UINT64_MAX;
        accounts[i].user_data_32 = UINT32_MAX;
    }
    accounts[4] = account_make(0, 1, 0);
    accounts[5] = account_make(0, 1, 0);
    accounts[5].id = id128_max();
    ledger_result_t results[6];
    TEST_CHECK_EQ(ledger_create_accounts(f.ledger, accounts, 6, results), 0);
    for (int i = 0; i < 4; i++) TEST_CHECK_EQ(results[i].result, 0);
    TEST_CHECK_EQ(results[4].result, LEDGER_RESULT_ID_MUST_NOT_BE_ZERO);
    TEST_CHECK_EQ(results[5].result, LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX);
    ledger_account_t out[6];
    uint32_t found = 0;
    ledger_u128_t lookup[6] = {ids[3], id128(0), ids[2], id128_max(), ids[1],
                               ids[0]};
    TEST_CHECK_EQ(ledger_lookup_accounts(f.ledger, lookup, 6, out, &found), 0);
    TEST_CHECK_EQ(found, 4);
    for (uint32_t i = 0; i < 4 && i < found; i++) {
        accounts[3 - i].timestamp = results[3 - i].timestamp;
        TEST_CHECK(account_equal(&out[i], &accounts[3 - i]));
    }

    /* Reads with reserved ids: not found, never a crash. */
    ledger_history_filter_t filter = {
        .account_id = id128(0), .limit = 1, .flags = LEDGER_HISTORY_DEBITS};
    ledger_history_entry_t entry;
    uint32_t count = 0;
    TEST_CHECK_EQ(ledger_account_history(f.ledger, &filter, &entry, &count),
                  LEDGER_ERR_ACCOUNT_NOT_FOUND);
    filter.account_id = id128_max();
    TEST_CHECK_EQ(ledger_account_history(f.ledger, &filter, &entry, &count),
                  LEDGER_ERR_ACCOUNT_NOT_FOUND);
    ledger_balance_t balance;
    TEST_CHECK_EQ(ledger_account_balance_at(f.ledger, id128_max(), UINT64_MAX,
                                            &balance),
                  LEDGER_ERR_ACCOUNT_NOT_FOUND);
    TEST_CHECK_EQ(ledger_account_balance_at(f.ledger, ids[0], UINT64_MAX,
                                            &balance),
                  0);
    TEST_CHECK_EQ(balance.debits_posted, 0);
    fixture_close(&f);
}

/* Amounts at the edge of u64: 2^64 - 1 fits; one more overflows. */
static void test_amounts_at_bounds(void) {
    fixture_t f;
    fixture_open(&f, "api");
    fixture_accounts_range(&f, 1, 4, FIXTURE_LEDGER, 0);
    ledger_result_t results[1];
    ledger_transfer_t t = transfer_make(1, 1, 2, UINT64_MAX);
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &t, 1, results), 0);
    TEST_CHECK_EQ(results[0].result, LEDGER_RESULT_OK);
    CHECK_BALANCES(&f, 1, 0, UINT64_MAX, 0, 0);
    CHECK_BALANCES(&f, 2, 0, 0, 0, UINT64_MAX);
    ledger_stats_t before = fixture_stats(&f);
    t.id = id128(2);
    t.amount = 1;
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &t, 1, results), 0);
    TEST_CHECK_EQ(results[0].result, LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED);
    t.id = id128(3);
    t.credit_account_id = id128(3);
    t.flags = LEDGER_TRANSFER_PENDING;
    t.timeout = UINT32_MAX;
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &t, 1, results), 0);
    TEST_CHECK_EQ(results[0].result, LEDGER_RESULT_OVERFLOWS_DEBITS);
    /* Two failure markers, nothing else. */
    ledger_stats_t after = fixture_stats(&f);
    TEST_CHECK_EQ(after.journal_sequence, before.journal_sequence + 2);
    TEST_CHECK_EQ(after.pending_count, before.pending_count);
    CHECK_BALANCES(&f, 1, 0, UINT64_MAX, 0, 0);
    /* Id 3 failed transiently; a new id for the corrected transfer. The
     * longest timeout fits at today's clock. */
    t.id = id128(4);
    t.debit_account_id = id128(4);
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &t, 1, results), 0);
    TEST_CHECK_EQ(results[0].result, LEDGER_RESULT_OK);
    CHECK_BALANCES(&f, 3, 0, 0, 1, 0);
    fixture_close(&f);
}

/* Unknown flag bits among valid events: each refused on its own, the valid
 * ones applied, nothing else written. */
static void test_unknown_flags_mixed_batch(void) {
    fixture_t f;
    fixture_open(&f, "api");
    ledger_account_t accounts[22];
    uint32_t count = 0;
    for (unsigned bit = 5; bit < 16; bit++) {
        accounts[count++] = account_make(bit, FIXTURE_LEDGER, 0);
        accounts[count++] = account_make(100 + bit, FIXTURE_LEDGER,
                                         (uint16_t)(1u << bit));
    }
    ledger_result_t results[22];
    ledger_stats_t before = fixture_stats(&f);
    TEST_CHECK_EQ(ledger_create_accounts(f.ledger, accounts, count, results),
                  0);
    for (uint32_t i = 0; i < count; i++) {
        TEST_CHECK_EQ(results[i].result,
                      i % 2 ? LEDGER_RESULT_RESERVED_FLAG : LEDGER_RESULT_OK);
    }
    ledger_stats_t after = fixture_stats(&f);
    TEST_CHECK_EQ(after.journal_sequence, before.journal_sequence + count / 2);
    TEST_CHECK_EQ(after.accounts_count, count / 2);
    ledger_transfer_t transfers[16];
    count = 0;
    for (unsigned bit = 8; bit < 16; bit++) {
        transfers[count++] = transfer_make(bit, 5, 6, 1);
        transfers[count] = transfer_make(100 + bit, 5, 6, 1);
        transfers[count++].flags = (uint16_t)(1u << bit);
    }
    before = after;
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, transfers, count, results),
                  0);
    for (uint32_t i = 0; i < count; i++) {
        TEST_CHECK_EQ(results[i].result,
                      i % 2 ? LEDGER_RESULT_RESERVED_FLAG : LEDGER_RESULT_OK);
    }
    after = fixture_stats(&f);
    TEST_CHECK_EQ(after.journal_sequence, before.journal_sequence + count / 2);
    CHECK_BALANCES(&f, 5, 0, count / 2, 0, 0);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Write groups                                                             */

static void test_write_group_commit(void) {
    fixture_t f;
    fixture_open(&f, "api");
    TEST_CHECK_EQ(ledger_write_begin(f.ledger), 0);
    ledger_account_t accounts[2] = {account_make(1, FIXTURE_LEDGER, 0),
                                    account_make(2, FIXTURE_LEDGER, 0)};
    ledger_result_t results[2];
    TEST_CHECK_EQ(ledger_create_accounts(f.ledger, accounts, 2, results), 0);
    TEST_CHECK_EQ(results[1].result, 0);
    ledger_transfer_t pending = pending_make(1, 1, 2, 30, 0);
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &pending, 1, results), 0);
    TEST_CHECK_EQ(results[0].result, 0);
    uint64_t pending_ts = results[0].timestamp;
    /* Lookups inside the group see its uncommitted events. */
    CHECK_BALANCES(&f, 1, 30, 0, 0, 0);
    ledger_transfer_t post = post_make(2, 1, 20);
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &post, 1, results), 0);
    TEST_CHECK_EQ(results[0].result, 0);
    TEST_CHECK(results[0].timestamp > pending_ts);
    TEST_CHECK_EQ(ledger_write_commit(f.ledger), 0);
    CHECK_BALANCES(&f, 1, 0, 20, 0, 0);
    CHECK_BALANCES(&f, 2, 0, 0, 0, 20);
    image_take(&f, &image_a);
    TEST_CHECK_EQ(image_a.accounts_count, 2);
    TEST_CHECK_EQ(image_a.transfers_count, 2);
    fixture_shut(&f);
    fixture_reopen(&f);
    image_take(&f, &image_b);
    IMAGE_CHECK_SAME(&image_a, &image_b);
    fixture_close(&f);
}

/* Abort undoes everything: balances, ids, failure markers, expiries,
 * counters, last timestamp, chain head. */
static void test_write_group_abort(void) {
    fixture_t f;
    fixture_open(&f, "api");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    fixture_transfer_ok(&f, transfer_make(1, 1, 2, 5));
    fixture_transfer_ok(&f, pending_make(2, 1, 2, 7, 1));
    f.now_ns += 5 * FIXTURE_NS_PER_S;
    image_take(&f, &image_a);

    TEST_CHECK_EQ(ledger_write_begin(f.ledger), 0);
    uint32_t expired = 0;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 1);
    fixture_accounts_range(&f, 10, 2, FIXTURE_LEDGER, 0);
    const ledger_transfer_t batch[3] = {transfer_make(20, 10, 11, 3),
                                        transfer_make(21, 99, 11, 3),
                                        pending_make(22, 1, 10, 4, 0)};
    ledger_result_t results[3];
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, batch, 3, results), 0);
    TEST_CHECK_EQ(results[1].result, LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND);
    CHECK_BALANCES(&f, 10, 0, 3, 4, 0);
    ledger_write_abort(f.ledger);

    image_take(&f, &image_b);
    IMAGE_CHECK_SAME(&image_a, &image_b);
    ledger_account_t account;
    TEST_CHECK(!fixture_account_find(&f, id128(10), &account));
    /* The ids are free again; the failure marker is gone too. */
    fixture_accounts_range(&f, 10, 2, FIXTURE_LEDGER, 0);
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, batch, 3, results), 0);
    TEST_CHECK_EQ(results[0].result, LEDGER_RESULT_OK);
    TEST_CHECK_EQ(results[1].result, LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND);
    TEST_CHECK_EQ(results[2].result, LEDGER_RESULT_OK);
    /* The expiry was undone and happens again (create_transfers above). */
    CHECK_BALANCES(&f, 1, 4, 5, 0, 0);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, 1);
    fixture_close(&f);
}

/* After an abort, the clock being behind, the next timestamp follows the
 * last committed one: the group's timestamps were given back. */
static void test_write_group_abort_timestamps(void) {
    fixture_t f;
    fixture_open(&f, "api");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    ledger_stats_t before = fixture_stats(&f);
    TEST_CHECK_EQ(ledger_write_begin(f.ledger), 0);
    fixture_transfer_ok(&f, transfer_make(1, 1, 2, 5));
    fixture_transfer_ok(&f, transfer_make(2, 1, 2, 5));
    ledger_write_abort(f.ledger);
    f.now_ns = 1;
    ledger_result_t result;
    ledger_transfer_t t = transfer_make(3, 1, 2, 5);
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &t, 1, &result), 0);
    TEST_CHECK_EQ(result.result, 0);
    TEST_CHECK_EQ(result.timestamp, before.last_timestamp + 1);
    TEST_CHECK_EQ(fixture_stats(&f).journal_sequence,
                  before.journal_sequence + 1);
    fixture_close(&f);
}

static void test_write_group_errors(void) {
    fixture_t f;
    fixture_open(&f, "api");
    TEST_CHECK_EQ(ledger_write_commit(f.ledger), LEDGER_ERR_NO_WRITE);
    ledger_write_abort(f.ledger); /* no group: nothing to do */
    TEST_CHECK_EQ(ledger_write_begin(f.ledger), 0);
    TEST_CHECK_EQ(ledger_write_begin(f.ledger), LEDGER_ERR_WRITE_OPEN);
    TEST_CHECK_EQ(ledger_checkpoint(f.ledger), LEDGER_ERR_WRITE_OPEN);
    fixture_accounts_range(&f, 1, 1, FIXTURE_LEDGER, 0);
    /* A call-level refusal does not poison the group. */
    ledger_account_t *accounts = accounts_alloc(LEDGER_BATCH_EVENTS_MAX + 1, 2);
    ledger_result_t *results =
        calloc(LEDGER_BATCH_EVENTS_MAX + 1, sizeof *results);
    TEST_REQUIRE(results != NULL);
    TEST_CHECK_EQ(ledger_create_accounts(f.ledger, accounts,
                                         LEDGER_BATCH_EVENTS_MAX + 1, results),
                  LEDGER_ERR_BATCH_TOO_LARGE);
    TEST_CHECK_EQ(ledger_create_accounts(f.ledger, accounts, 0, results),
                  LEDGER_ERR_BATCH_EMPTY);
    fixture_accounts_range(&f, 2, 1, FIXTURE_LEDGER, 0);
    TEST_CHECK_EQ(ledger_write_commit(f.ledger), 0);
    TEST_CHECK_EQ(ledger_write_commit(f.ledger), LEDGER_ERR_NO_WRITE);
    TEST_CHECK_EQ(fixture_stats(&f).accounts_count, 2);
    ledger_account_t account;
    TEST_CHECK(!fixture_account_find(&f, id128(3), &account));

    /* Closing with an open group aborts it. */
    TEST_CHECK_EQ(ledger_write_begin(f.ledger), 0);
    fixture_accounts_range(&f, 3, 1, FIXTURE_LEDGER, 0);
    fixture_shut(&f);
    fixture_reopen(&f);
    TEST_CHECK(!fixture_account_find(&f, id128(3), &account));
    TEST_CHECK_EQ(fixture_stats(&f).accounts_count, 2);
    free(accounts);
    free(results);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Persistence                                                              */

static void test_persistence_reopen(void) {
    fixture_t f;
    fixture_open(&f, "api");
    workload_run(&f);
    image_take(&f, &image_a);
    TEST_CHECK_EQ(image_a.accounts_count, 10);
    TEST_CHECK_EQ(image_a.transfers_count, 19); /* 1..20 but 11 failed */
    fixture_shut(&f);
    fixture_reopen(&f);
    image_take(&f, &image_b);
    IMAGE_CHECK_SAME(&image_a, &image_b);
    TEST_CHECK_EQ(image_b.stats.replayed_events, 0);
    /* A failed id stays failed; a closed account stays closed. */
    ledger_result_t result;
    ledger_transfer_t retry = transfer_make(11, 1, 2, 1);
    TEST_CHECK_EQ(ledger_create_transfers(f.ledger, &retry, 1, &result), 0);
    TEST_CHECK_EQ(result.result, LEDGER_RESULT_ID_ALREADY_FAILED);
    TEST_CHECK_EQ(fixture_account(&f, 6).flags,
                  LEDGER_ACCOUNT_CLOSED | LEDGER_ACCOUNT_HISTORY);
    ledger_verify_report_t report;
    TEST_CHECK_EQ(ledger_verify(f.ledger, &report, NULL, NULL), 0);
    /* Twice more, with a checkpoint in between. */
    TEST_CHECK_EQ(ledger_checkpoint(f.ledger), 0);
    image_take(&f, &image_a);
    fixture_shut(&f);
    fixture_reopen(&f);
    image_take(&f, &image_b);
    IMAGE_CHECK_SAME(&image_a, &image_b);
    fixture_close(&f);
}

/* Child of test_persistence_after_crash: runs the workload and dies
 * without closing (no checkpoint on close). */
static int crash_child(const char *path, int checkpoint_events) {
    fixture_t *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    snprintf(f->path, sizeof f->path, "%s", path);
    f->now_ns = FIXTURE_CLOCK_START;
    f->options.checkpoint_events = (uint64_t)checkpoint_events;
    fixture_reopen(f);
    workload_run(f);
    return test_failures_in_case == 0 ? 0 : -2;
}

/* Every create_* returned after a durable commit: all of it survives the
 * process dying, and replays to the same ledger (same chain head) as the
 * same workload run without a crash. */
static void crash_and_compare(int checkpoint_events) {
    fixture_t f;
    ledger_options_t options = {
        .checkpoint_events = (uint64_t)checkpoint_events};
    fixture_open_with(&f, "api", &options);
    workload_run(&f);
    image_take(&f, &image_a);
    fixture_close(&f);

    fixture_open_with(&f, "api", &options);
    fixture_shut(&f);
    int rc = -1;
    TEST_CHECK(isolated_run(crash_child, f.path, checkpoint_events, &rc));
    TEST_CHECK_EQ(rc, 0);
    fixture_reopen(&f);
    image_take(&f, &image_b);
    IMAGE_CHECK_SAME(&image_a, &image_b);
    TEST_CHECK(image_b.stats.replayed_events > 0);
    TEST_CHECK(image_b.stats.checkpoint_sequence <=
               image_b.stats.journal_sequence);
    TEST_CHECK_EQ(image_b.stats.replayed_events,
                  image_b.stats.journal_sequence -
                      image_b.stats.checkpoint_sequence);
    ledger_verify_report_t report;
    TEST_CHECK_EQ(ledger_verify(f.ledger, &report, NULL, NULL), 0);
    fixture_close(&f);
}

static void test_persistence_after_crash(void) {
    crash_and_compare(0);
    crash_and_compare(4);
}

/* ------------------------------------------------------------------------ */
/* History                                                                  */

enum { HISTORY_EXPECTED_MAX = 64 };

/* What account 1's history must hold, recorded while the events happen. */
typedef struct history_expected {
    uint32_t count;
    uint64_t ids[HISTORY_EXPECTED_MAX];
    uint64_t pending_ids[HISTORY_EXPECTED_MAX];
    uint64_t timestamps[HISTORY_EXPECTED_MAX];
    uint32_t kinds[HISTORY_EXPECTED_MAX];
    bool debits[HISTORY_EXPECTED_MAX]; /* account 1 is the debit side */
    ledger_balance_t after[HISTORY_EXPECTED_MAX];
} history_expected_t;

static void history_record(fixture_t *f, history_expected_t *h,
                           ledger_transfer_t t, uint64_t timestamp,
                           uint32_t kind, bool debit) {
    TEST_REQUIRE(h->count < HISTORY_EXPECTED_MAX);
    ledger_account_t account = fixture_account(f, 1);
    uint32_t i = h->count++;
    h->ids[i] = t.id.lo;
    h->pending_ids[i] = t.pending_id.lo;
    h->timestamps[i] = timestamp;
    h->kinds[i] = kind;
    h->debits[i] = debit;
    h->after[i] = (ledger_balance_t){account.debits_pending,
                                     account.debits_posted,
                                     account.credits_pending,
                                     account.credits_posted};
}

/* Submits one transfer; records it when it moves account 1. */
static void history_submit(fixture_t *f, history_expected_t *h,
                           ledger_transfer_t t, int touches) {
    ledger_result_t result;
    TEST_CHECK_EQ(ledger_create_transfers(f->ledger, &t, 1, &result), 0);
    TEST_CHECK_EQ(result.result, 0);
    f->now_ns += 1000;
    if (touches != 0) {
        history_record(f, h, t, result.timestamp, LEDGER_EVENT_TRANSFER,
                       touches < 0);
    }
}

/* Account 1 (X) among 2 (Y) and 3 (Z): 30 transfers of which 20 move X,
 * a pending + post, and an expiry. touches: -1 X debited, +1 credited. */
static void history_build(fixture_t *f, history_expected_t *h) {
    fixture_accounts_range(f, 1, 3, FIXTURE_LEDGER, 0);
    memset(h, 0, sizeof *h);
    for (uint64_t i = 1; i <= 30; i++) {
        if (i % 3 == 0) {
            history_submit(f, h, transfer_make(i, 2, 3, i), 0);
        } else if (i % 3 == 1) {
            history_submit(f, h, transfer_make(i, 2, 1, i), 1);
        } else {
            history_submit(f, h, transfer_make(i, 1, 3, i), -1);
        }
    }
    history_submit(f, h, pending_make(31, 1, 2, 9, 0), -1);
    history_submit(f, h, post_make(32, 31, 4), -1);
    history_submit(f, h, pending_make(33, 3, 1, 6, 1), 1);
    f->now_ns += 2 * FIXTURE_NS_PER_S;
    uint32_t expired = 0;
    TEST_CHECK_EQ(ledger_expire_pending(f->ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 1);
    ledger_transfer_t expiry = pending_make(0, 3, 1, 6, 0);
    expiry.pending_id = id128(33);
    history_record(f, h, expiry, fixture_stats(f).last_timestamp,
                   LEDGER_EVENT_EXPIRY, false);
    history_submit(f, h, transfer_make(34, 2, 3, 1), 0);
}

/* Reads X's history with `filter` and compares it with the expected
 * entries listed in `indexes`, in that order. */
static void history_check_at(fixture_t *f, const history_expected_t *h,
                             ledger_history_filter_t filter,
                             const uint32_t *indexes, uint32_t count,
                             const char *file, int line) {
    static ledger_history_entry_t entries[HISTORY_EXPECTED_MAX];
    uint32_t got = UINT32_MAX;
    filter.account_id = id128(1);
    int failures = test_failures_in_case;
    TEST_CHECK_EQ(ledger_account_history(f->ledger, &filter, entries, &got),
                  0);
    TEST_CHECK_EQ(got, count);
    for (uint32_t i = 0; i < got && i < count; i++) {
        const ledger_history_entry_t *e = &entries[i];
        uint32_t k = indexes[i];
        TEST_CHECK_EQ(e->kind, h->kinds[k]);
        TEST_CHECK_EQ(e->transfer.id.lo, h->ids[k]);
        TEST_CHECK_EQ(e->transfer.pending_id.lo, h->pending_ids[k]);
        TEST_CHECK_EQ(e->transfer.timestamp, h->timestamps[k]);
        TEST_CHECK_EQ(e->transfer.debit_account_id.lo == 1, h->debits[k]);
        TEST_CHECK_EQ(e->balance_after.debits_pending,
                      h->after[k].debits_pending);
        TEST_CHECK_EQ(e->balance_after.debits_posted,
                      h->after[k].debits_posted);
        TEST_CHECK_EQ(e->balance_after.credits_pending,
                      h->after[k].credits_pending);
        TEST_CHECK_EQ(e->balance_after.credits_posted,
                      h->after[k].credits_posted);
    }
    if (test_failures_in_case > failures) {
        printf("# (history checked at %s:%d)\n", file, line);
    }
}

#define HISTORY_CHECK(f, h, filter, indexes, count)                           \
    history_check_at((f), (h), (filter), (indexes), (count), __FILE__, __LINE__)

/* The indexes of h's entries selected by side and time, in order. */
static uint32_t history_select(const history_expected_t *h, uint32_t flags,
                               uint64_t ts_min, uint64_t ts_max,
                               uint32_t limit, uint32_t *indexes) {
    uint32_t count = 0;
    bool reversed = flags & LEDGER_HISTORY_REVERSED;
    for (uint32_t n = 0; n < h->count && count < limit; n++) {
        uint32_t i = reversed ? h->count - 1 - n : n;
        bool side = h->debits[i] ? (flags & LEDGER_HISTORY_DEBITS)
                                 : (flags & LEDGER_HISTORY_CREDITS);
        bool in_time = h->timestamps[i] >= ts_min &&
                       (ts_max == 0 || h->timestamps[i] <= ts_max);
        if (side && in_time) indexes[count++] = i;
    }
    return count;
}

static void test_history_filters(void) {
    fixture_t f;
    fixture_open(&f, "api");
    static history_expected_t h;
    history_build(&f, &h);
    TEST_CHECK_EQ(h.count, 24);
    const uint32_t both = LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS;
    const uint32_t sides[3] = {both, LEDGER_HISTORY_DEBITS,
                               LEDGER_HISTORY_CREDITS};
    uint32_t indexes[HISTORY_EXPECTED_MAX];
    for (int s = 0; s < 3; s++) {
        for (int reversed = 0; reversed < 2; reversed++) {
            uint32_t flags =
                sides[s] | (reversed ? LEDGER_HISTORY_REVERSED : 0);
            ledger_history_filter_t filter = {.limit = 100, .flags = flags};
            uint32_t n = history_select(&h, flags, 0, 0, 100, indexes);
            HISTORY_CHECK(&f, &h, filter, indexes, n);
            /* A time window, inclusive at both ends. */
            filter.timestamp_min = h.timestamps[5];
            filter.timestamp_max = h.timestamps[12];
            n = history_select(&h, flags, h.timestamps[5], h.timestamps[12],
                               100, indexes);
            HISTORY_CHECK(&f, &h, filter, indexes, n);
            /* A limit smaller than the result. */
            filter = (ledger_history_filter_t){.limit = 3, .flags = flags};
            n = history_select(&h, flags, 0, 0, 3, indexes);
            TEST_CHECK_EQ(n, 3);
            HISTORY_CHECK(&f, &h, filter, indexes, n);
        }
    }
    /* Only a lower or only an upper bound. */
    ledger_history_filter_t filter = {.timestamp_min = h.timestamps[20],
                                      .limit = 100, .flags = both};
    uint32_t n = history_select(&h, both, h.timestamps[20], 0, 100, indexes);
    TEST_CHECK_EQ(n, 4);
    HISTORY_CHECK(&f, &h, filter, indexes, n);
    filter = (ledger_history_filter_t){.timestamp_max = h.timestamps[2],
                                       .limit = 100, .flags = both};
    n = history_select(&h, both, 0, h.timestamps[2], 100, indexes);
    TEST_CHECK_EQ(n, 3);
    HISTORY_CHECK(&f, &h, filter, indexes, n);
    /* Empty window between two events. */
    filter = (ledger_history_filter_t){.timestamp_min = h.timestamps[4] + 1,
                                       .timestamp_max = h.timestamps[4] + 1,
                                       .limit = 100, .flags = both};
    HISTORY_CHECK(&f, &h, filter, indexes, 0);
    /* The same after reopening. */
    fixture_shut(&f);
    fixture_reopen(&f);
    filter = (ledger_history_filter_t){.limit = 100, .flags = both};
    n = history_select(&h, both, 0, 0, 100, indexes);
    HISTORY_CHECK(&f, &h, filter, indexes, n);
    fixture_close(&f);
}

static void test_history_invalid_filters(void) {
    fixture_t f;
    fixture_open(&f, "api");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    fixture_transfer_ok(&f, transfer_make(1, 1, 2, 1));
    static ledger_history_entry_t entries[LEDGER_HISTORY_LIMIT_MAX + 1];
    const uint32_t both = LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS;
    const ledger_history_filter_t good = {.account_id = id128(1),
                                          .limit = 10, .flags = both};
    const ledger_history_filter_t bad[] = {
        {.account_id = id128(1), .limit = 0, .flags = both},
        {.account_id = id128(1), .limit = LEDGER_HISTORY_LIMIT_MAX + 1,
         .flags = both},
        {.account_id = id128(1), .limit = UINT32_MAX, .flags = both},
        {.account_id = id128(1), .limit = 10, .flags = 0},
        {.account_id = id128(1), .limit = 10,
         .flags = LEDGER_HISTORY_REVERSED},
        {.account_id = id128(1), .limit = 10, .flags = both | (1u << 3)},
        {.account_id = id128(1), .limit = 10, .flags = both | (1u << 31)},
        {.account_id = id128(1), .timestamp_min = 5, .timestamp_max = 4,
         .limit = 10, .flags = both},
    };
    uint32_t count = 0;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = ledger_account_history(f.ledger, &bad[i], entries, &count);
        if (rc != LEDGER_ERR_INVALID_FILTER) {
            printf("# invalid filter %zu: returned %d\n", i, rc);
            test_failures_in_case++;
        }
    }
    TEST_CHECK_EQ(ledger_account_history(f.ledger, &good, entries, &count), 0);
    TEST_CHECK_EQ(count, 1);
    ledger_history_filter_t at_max = good;
    at_max.limit = LEDGER_HISTORY_LIMIT_MAX;
    TEST_CHECK_EQ(ledger_account_history(f.ledger, &at_max, entries, &count),
                  0);
    TEST_CHECK_EQ(count, 1);
    ledger_history_filter_t unknown = good;
    unknown.account_id = id128(3);
    TEST_CHECK_EQ(ledger_account_history(f.ledger, &unknown, entries, &count),
                  LEDGER_ERR_ACCOUNT_NOT_FOUND);
    /* An existing account with no movement: an empty history. */
    fixture_accounts_range(&f, 3, 1, FIXTURE_LEDGER, 0);
    TEST_CHECK_EQ(ledger_account_history(f.ledger, &unknown, entries, &count),
                  0);
    TEST_CHECK_EQ(count, 0);
    fixture_close(&f);
}

/* Pages through LONG_HISTORY_EVENTS events with `limit` per page. */
static void history_page_through(fixture_t *f, uint32_t limit, bool reversed,
                                 ledger_history_entry_t *entries) {
    ledger_history_filter_t filter = {
        .account_id = id128(1), .limit = limit,
        .flags = LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS |
                 (reversed ? LEDGER_HISTORY_REVERSED : 0)};
    uint64_t seen = 0, pages = 0;
    uint64_t expected_id = reversed ? LONG_HISTORY_EVENTS : 1;
    bool in_order = true;
    for (;;) {
        uint32_t count = 0;
        TEST_CHECK_EQ(ledger_account_history(f->ledger, &filter, entries,
                                             &count),
                      0);
        if (count == 0 || pages > LONG_HISTORY_EVENTS) break;
        pages++;
        for (uint32_t i = 0; i < count; i++) {
            in_order = in_order && entries[i].transfer.id.lo == expected_id;
            expected_id += reversed ? (uint64_t)-1 : 1;
        }
        seen += count;
        uint64_t last = entries[count - 1].transfer.timestamp;
        if (reversed) {
            filter.timestamp_max = last - 1;
        } else {
            filter.timestamp_min = last + 1;
        }
    }
    TEST_CHECK(in_order);
    TEST_CHECK_EQ(seen, LONG_HISTORY_EVENTS);
    TEST_CHECK_EQ(pages, (LONG_HISTORY_EVENTS + limit - 1) / limit);
}

static void test_history_paging(void) {
    fixture_t f;
    fixture_open(&f, "api");
    fixture_accounts_range(&f, 1, 3, FIXTURE_LEDGER, 0);
    ledger_transfer_t *transfers =
        calloc(LONG_HISTORY_EVENTS, sizeof *transfers);
    TEST_REQUIRE(transfers != NULL);
    for (uint32_t i = 0; i < LONG_HISTORY_EVENTS; i++) {
        transfers[i] = (i % 2 == 0) ? transfer_make(i + 1, 1, 2, 1)
                                    : transfer_make(i + 1, 3, 1, 1);
    }
    const uint32_t first = LEDGER_BATCH_EVENTS_MAX;
    fixture_transfers_create(&f, transfers, first);
    fixture_transfers_create(&f, transfers + first,
                             LONG_HISTORY_EVENTS - first);
    ledger_history_entry_t *entries =
        calloc(LEDGER_HISTORY_LIMIT_MAX, sizeof *entries);
    TEST_REQUIRE(entries != NULL);
    history_page_through(&f, 1000, false, entries);
    history_page_through(&f, 1000, true, entries);
    history_page_through(&f, 999, false, entries);
    history_page_through(&f, LEDGER_HISTORY_LIMIT_MAX, false, entries);
    history_page_through(&f, LEDGER_HISTORY_LIMIT_MAX, true, entries);
    /* The newest entry's balance is the account's current balance. */
    ledger_history_filter_t newest = {
        .account_id = id128(1), .limit = 1,
        .flags = LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS |
                 LEDGER_HISTORY_REVERSED};
    uint32_t count = 0;
    TEST_CHECK_EQ(ledger_account_history(f.ledger, &newest, entries, &count),
                  0);
    TEST_CHECK_EQ(count, 1);
    TEST_CHECK_EQ(entries[0].balance_after.debits_posted,
                  LONG_HISTORY_EVENTS / 2);
    TEST_CHECK_EQ(entries[0].balance_after.credits_posted,
                  LONG_HISTORY_EVENTS / 2);
    free(entries);
    free(transfers);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Balance at a time                                                        */

static void balance_check_at(fixture_t *f, uint64_t id, uint64_t timestamp,
                             ledger_balance_t expected, const char *file,
                             int line) {
    ledger_balance_t balance;
    memset(&balance, 0xAB, sizeof balance);
    int rc = ledger_account_balance_at(f->ledger, id128(id), timestamp,
                                       &balance);
    if (rc != 0 || balance.debits_pending != expected.debits_pending ||
        balance.debits_posted != expected.debits_posted ||
        balance.credits_pending != expected.credits_pending ||
        balance.credits_posted != expected.credits_posted) {
        printf("# %s:%d: balance_at(%" PRIu64 ", %" PRIu64 ") rc %d: %" PRIu64
               " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
               file, line, id, timestamp, rc, balance.debits_pending,
               balance.debits_posted, balance.credits_pending,
               balance.credits_posted);
        test_failures_in_case++;
    }
}

#define BALANCE_AT(f, id, ts, dp, dpo, cp, cpo)                               \
    balance_check_at((f), (id), (ts), (ledger_balance_t){dp, dpo, cp, cpo},   \
                     __FILE__, __LINE__)

static void balance_at_checks(fixture_t *f, uint64_t t0) {
    const uint64_t t1 = t0 + 1000, t2 = t0 + 2000, t3 = t0 + 3000;
    BALANCE_AT(f, 1, 0, 0, 0, 0, 0);
    BALANCE_AT(f, 1, t0 - 1, 0, 0, 0, 0);
    BALANCE_AT(f, 1, t0, 0, 0, 0, 0);
    BALANCE_AT(f, 1, t1 - 1, 0, 0, 0, 0);
    BALANCE_AT(f, 1, t1, 0, 10, 0, 0);
    BALANCE_AT(f, 2, t1, 0, 0, 0, 10);
    BALANCE_AT(f, 1, t2 - 1, 0, 10, 0, 0);
    BALANCE_AT(f, 1, t2, 5, 10, 0, 0);
    BALANCE_AT(f, 2, t2 + 500, 0, 0, 5, 10);
    BALANCE_AT(f, 1, t3, 0, 13, 0, 0);
    BALANCE_AT(f, 1, UINT64_MAX, 0, 13, 0, 0);
    BALANCE_AT(f, 2, UINT64_MAX, 0, 0, 0, 13);
    /* Account 3 was created after all of that. */
    BALANCE_AT(f, 3, t3, 0, 0, 0, 0);
    ledger_balance_t balance;
    TEST_CHECK_EQ(ledger_account_balance_at(f->ledger, id128(4), t3, &balance),
                  LEDGER_ERR_ACCOUNT_NOT_FOUND);
}

static void test_balance_at(void) {
    fixture_t f;
    fixture_open(&f, "api");
    const uint64_t t0 = f.now_ns;
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    f.now_ns = t0 + 1000;
    fixture_transfer_ok(&f, transfer_make(1, 1, 2, 10));
    f.now_ns = t0 + 2000;
    fixture_transfer_ok(&f, pending_make(2, 1, 2, 5, 0));
    f.now_ns = t0 + 3000;
    fixture_transfer_ok(&f, post_make(3, 2, 3));
    f.now_ns = t0 + 4000;
    fixture_accounts_range(&f, 3, 1, FIXTURE_LEDGER, 0);
    balance_at_checks(&f, t0);
    fixture_shut(&f);
    fixture_reopen(&f);
    balance_at_checks(&f, t0);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Expiry bound                                                             */

/* 8,190 + 1 pending transfers 1->2 of 1 each with a 1 s timeout, ids from
 * first_id, the last one created a second later (so it expires last). */
static void expire_bound_setup(fixture_t *f, uint64_t first_id) {
    const uint32_t max = LEDGER_EXPIRE_BATCH_MAX;
    ledger_transfer_t *transfers = calloc(max, sizeof *transfers);
    TEST_REQUIRE(transfers != NULL);
    for (uint32_t i = 0; i < max; i++) {
        transfers[i] = pending_make(first_id + i, 1, 2, 1, 1);
    }
    fixture_transfers_create(f, transfers, max);
    f->now_ns += FIXTURE_NS_PER_S;
    fixture_transfer_ok(f, pending_make(first_id + max, 1, 2, 1, 1));
    f->now_ns += 10 * FIXTURE_NS_PER_S;
    free(transfers);
}

/* At most LEDGER_EXPIRE_BATCH_MAX expiries per call, earliest first, for
 * ledger_expire_pending() and for the pass at the start of
 * create_transfers. */
static void test_expire_batch_bound(void) {
    fixture_t f;
    fixture_open(&f, "api");
    fixture_accounts_range(&f, 1, 3, FIXTURE_LEDGER, 0);
    expire_bound_setup(&f, 1);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, LEDGER_EXPIRE_BATCH_MAX + 1);
    uint32_t expired = 0;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, LEDGER_EXPIRE_BATCH_MAX);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, 1);
    /* Earliest first: the newest expiry is of the 8,190th pending
     * transfer, and the one left is the last (latest expires_at). */
    ledger_history_filter_t newest = {
        .account_id = id128(1), .limit = 1,
        .flags = LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_REVERSED};
    ledger_history_entry_t entry;
    uint32_t count = 0;
    TEST_CHECK_EQ(ledger_account_history(f.ledger, &newest, &entry, &count),
                  0);
    TEST_CHECK_EQ(count, 1);
    TEST_CHECK_EQ(entry.kind, LEDGER_EVENT_EXPIRY);
    TEST_CHECK_EQ(entry.transfer.pending_id.lo, LEDGER_EXPIRE_BATCH_MAX);
    CHECK_BALANCES(&f, 1, 1, 0, 0, 0);
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 1);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, 0);
    CHECK_BALANCES(&f, 1, 0, 0, 0, 0);

    expire_bound_setup(&f, 100001);
    ledger_stats_t before = fixture_stats(&f);
    fixture_transfer_ok(&f, transfer_make(30000, 1, 3, 1));
    ledger_stats_t after = fixture_stats(&f);
    TEST_CHECK_EQ(after.pending_count, 1);
    TEST_CHECK_EQ(after.journal_sequence,
                  before.journal_sequence + LEDGER_EXPIRE_BATCH_MAX + 1);
    fixture_transfer_ok(&f, transfer_make(30001, 1, 3, 1));
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, 0);
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 0);
    CHECK_BALANCES(&f, 1, 0, 2, 0, 0);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Verification                                                             */

typedef struct progress_seen {
    uint64_t calls;
    bool sane; /* done <= total and done never decreases */
    uint64_t last_done;
} progress_seen_t;

static void progress_record(void *context, uint64_t done, uint64_t total) {
    progress_seen_t *seen = context;
    seen->calls++;
    if (done > total || done < seen->last_done) seen->sane = false;
    seen->last_done = done;
}

static void test_verify_healthy(void) {
    fixture_t f;
    fixture_open(&f, "api");
    ledger_verify_report_t report;
    memset(&report, 0xAB, sizeof report);
    TEST_CHECK_EQ(ledger_verify(f.ledger, &report, NULL, NULL), 0);
    TEST_CHECK_EQ(report.records_checked, 0);
    workload_run(&f);
    memset(&report, 0xAB, sizeof report);
    progress_seen_t seen = {0, true, 0};
    TEST_CHECK_EQ(ledger_verify(f.ledger, &report, progress_record, &seen), 0);
    TEST_CHECK(seen.sane);
    ledger_stats_t stats = fixture_stats(&f);
    TEST_CHECK_EQ(report.records_checked, stats.journal_sequence);
    TEST_CHECK_EQ(report.accounts_checked, 10);
    TEST_CHECK_EQ(report.ledgers_checked, 2);
    TEST_CHECK_EQ(report.first_bad_sequence, 0);
    /* Again after a checkpoint and after reopening. */
    TEST_CHECK_EQ(ledger_checkpoint(f.ledger), 0);
    TEST_CHECK_EQ(ledger_verify(f.ledger, &report, NULL, NULL), 0);
    fixture_shut(&f);
    fixture_reopen(&f);
    TEST_CHECK_EQ(ledger_verify(f.ledger, &report, NULL, NULL), 0);
    TEST_CHECK_EQ(report.records_checked, stats.journal_sequence);
    fixture_close(&f);
}

static void test_checkpoint(void) {
    fixture_t f;
    fixture_open(&f, "api");
    workload_run(&f);
    TEST_CHECK_EQ(ledger_checkpoint(f.ledger), 0);
    ledger_stats_t stats = fixture_stats(&f);
    TEST_CHECK_EQ(stats.checkpoint_sequence, stats.journal_sequence);
    TEST_CHECK(stats.map_used > 0);
    TEST_CHECK(stats.map_used <= stats.map_size);
    fixture_transfer_ok(&f, transfer_make(100, 1, 2, 1));
    TEST_CHECK_EQ(fixture_stats(&f).checkpoint_sequence,
                  stats.journal_sequence);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* The LMDB files, opened directly                                          */

static MDB_env *raw_open(const char *path) {
    MDB_env *env = NULL;
    TEST_REQUIRE(mdb_env_create(&env) == 0);
    TEST_REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
    int rc = mdb_env_open(env, path, 0, 0600);
    if (rc != 0) printf("# mdb_env_open(%s): %s\n", path, mdb_strerror(rc));
    TEST_REQUIRE(rc == 0);
    return env;
}

/* Reads db[key] into value (at most capacity bytes); returns its size, or
 * 0 when absent. */
static size_t raw_get(const char *path, const char *db, const void *key,
                      size_t key_size, void *value, size_t capacity) {
    MDB_env *env = raw_open(path);
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    TEST_REQUIRE(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
    TEST_REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
    MDB_val k = {key_size, (void *)key}, v = {0, NULL};
    size_t size = 0;
    if (mdb_get(txn, dbi, &k, &v) == 0) {
        size = v.mv_size;
        memcpy(value, v.mv_data, size < capacity ? size : capacity);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return size;
}

static void raw_put(const char *path, const char *db, const void *key,
                    size_t key_size, const void *value, size_t value_size) {
    MDB_env *env = raw_open(path);
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    TEST_REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    TEST_REQUIRE(mdb_dbi_open(txn, db, MDB_CREATE, &dbi) == 0);
    MDB_val k = {key_size, (void *)key}, v = {value_size, (void *)value};
    TEST_REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
    TEST_REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

static void raw_delete(const char *path, const char *db, const void *key,
                       size_t key_size) {
    MDB_env *env = raw_open(path);
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    TEST_REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    TEST_REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
    MDB_val k = {key_size, (void *)key};
    TEST_REQUIRE(mdb_del(txn, dbi, &k, NULL) == 0);
    TEST_REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

static const char format_key[] = "format_version";

static void format_version_write(const char *path, uint32_t version) {
    const uint8_t bytes[4] = {(uint8_t)version, (uint8_t)(version >> 8),
                              (uint8_t)(version >> 16),
                              (uint8_t)(version >> 24)};
    raw_put(path, "meta", format_key, strlen(format_key), bytes, 4);
}

static bool text_contains_any(const char *text, const char *a,
                              const char *b) {
    return text != NULL && (strcasestr(text, a) || strcasestr(text, b));
}

static void test_format_newer(void) {
    fixture_t f;
    fixture_open(&f, "api");
    workload_run(&f);
    image_take(&f, &image_a);
    fixture_shut(&f);
    uint8_t stored[8] = {0};
    TEST_CHECK_EQ(raw_get(f.path, "meta", format_key, strlen(format_key),
                          stored, sizeof stored),
                  4);
    TEST_CHECK_EQ(stored[0] | stored[1] << 8 | stored[2] << 16 |
                      (uint32_t)stored[3] << 24,
                  CURRENT_FORMAT_VERSION);
    format_version_write(f.path, CURRENT_FORMAT_VERSION + 1);
    ledger_t *ledger = NULL;
    TEST_CHECK_EQ(ledger_open(f.path, NULL, &ledger),
                  LEDGER_ERR_FORMAT_NEWER);
    const char *message = ledger_last_error_message(NULL);
    printf("# format newer: %s\n", message ? message : "(null)");
    TEST_CHECK(text_contains_any(message, "format", "version"));
    TEST_CHECK(message != NULL && strchr(message, '2') != NULL);
    /* Read-only opening refuses it too. */
    ledger_options_t read_only = {.read_only = true};
    TEST_CHECK_EQ(ledger_open(f.path, &read_only, &ledger),
                  LEDGER_ERR_FORMAT_NEWER);
    format_version_write(f.path, UINT32_MAX);
    TEST_CHECK_EQ(ledger_open(f.path, NULL, &ledger),
                  LEDGER_ERR_FORMAT_NEWER);
    /* Back to the current version: the ledger is intact. */
    format_version_write(f.path, CURRENT_FORMAT_VERSION);
    fixture_reopen(&f);
    image_take(&f, &image_b);
    IMAGE_CHECK_SAME(&image_a, &image_b);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Corruption                                                               */

enum { JOURNAL_KEYS_MAX = 256, JOURNAL_RECORD_MAX = 4096 };

static uint32_t crc32c_compute(const uint8_t *data, size_t size) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static void key_sequence(uint64_t sequence, uint8_t key[8]) {
    for (int i = 0; i < 8; i++) key[i] = (uint8_t)(sequence >> (56 - 8 * i));
}

/* The journal's sequences, in key order. */
static uint32_t journal_sequences(const char *path, uint64_t *out,
                                  uint32_t capacity) {
    MDB_env *env = raw_open(path);
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_cursor *cursor = NULL;
    TEST_REQUIRE(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
    TEST_REQUIRE(mdb_dbi_open(txn, "journal", 0, &dbi) == 0);
    TEST_REQUIRE(mdb_cursor_open(txn, dbi, &cursor) == 0);
    MDB_val k, v;
    uint32_t count = 0;
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    while (rc == 0 && count < capacity) {
        TEST_CHECK_EQ(k.mv_size, 8);
        uint64_t sequence = 0;
        for (int i = 0; i < 8; i++) {
            sequence = sequence << 8 | ((const uint8_t *)k.mv_data)[i];
        }
        out[count++] = sequence;
        rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return count;
}

/* Changes one byte of a journal record; with fix_checksum, rewrites the
 * CRC32C so that only the hash chain can tell. */
static void journal_record_tamper(const char *path, uint64_t sequence,
                                  size_t offset, bool fix_checksum) {
    uint8_t key[8], record[JOURNAL_RECORD_MAX];
    key_sequence(sequence, key);
    size_t size = raw_get(path, "journal", key, 8, record, sizeof record);
    TEST_REQUIRE(size > offset && size <= sizeof record && size > 4);
    uint32_t crc = crc32c_compute(record + 4, size - 4);
    uint32_t stored_le = record[0] | record[1] << 8 | record[2] << 16 |
                         (uint32_t)record[3] << 24;
    uint32_t stored_be = (uint32_t)record[0] << 24 | record[1] << 16 |
                         record[2] << 8 | record[3];
    /* The storage fact this test relies on: bytes 0..3 are the CRC. */
    TEST_CHECK(crc == stored_le || crc == stored_be);
    const bool little_endian = crc == stored_le;
    record[offset] ^= 0x5A;
    if (fix_checksum) {
        crc = crc32c_compute(record + 4, size - 4);
        for (int i = 0; i < 4; i++) {
            int shift = little_endian ? 8 * i : 24 - 8 * i;
            record[i] = (uint8_t)(crc >> shift);
        }
    }
    raw_put(path, "journal", key, 8, record, size);
}

/* Opening or verifying must find the damage, at `sequence` when verify
 * reports it (0 = any record). */
static void corruption_expect_at(const char *path, uint64_t sequence,
                                 const char *file, int line) {
    int failures = test_failures_in_case;
    ledger_t *ledger = NULL;
    int rc = ledger_open(path, NULL, &ledger);
    if (rc != 0) {
        const char *message = ledger_last_error_message(NULL);
        printf("# open refused the damage: %d: %s\n", rc, message);
        TEST_CHECK_EQ(rc, LEDGER_ERR_CORRUPT);
        TEST_CHECK(string_useful(message));
        /* "ledger_last_error_message() then says what and where." */
        char number[32];
        snprintf(number, sizeof number, "%" PRIu64, sequence);
        if (sequence != 0) TEST_CHECK(strstr(message, number) != NULL);
    } else {
        ledger_verify_report_t report;
        memset(&report, 0, sizeof report);
        rc = ledger_verify(ledger, &report, NULL, NULL);
        printf("# verify: %d, first bad %" PRIu64 ": %s\n", rc,
               report.first_bad_sequence, report.message);
        TEST_CHECK_EQ(rc, LEDGER_ERR_VERIFY_FAILED);
        if (sequence != 0) TEST_CHECK_EQ(report.first_bad_sequence, sequence);
        TEST_CHECK(report.message[0] != '\0');
        ledger_close(ledger);
    }
    if (test_failures_in_case > failures) {
        printf("# (corruption expected at %s:%d)\n", file, line);
    }
}

#define CORRUPTION_EXPECT(path, sequence)                                     \
    corruption_expect_at((path), (sequence), __FILE__, __LINE__)

/* A cleanly closed workload ledger; its journal sequences in `sequences`. */
static uint32_t corruption_setup(fixture_t *f, uint64_t *sequences) {
    fixture_open(f, "api");
    workload_run(f);
    ledger_stats_t stats = fixture_stats(f);
    fixture_shut(f);
    uint32_t count = journal_sequences(f->path, sequences, JOURNAL_KEYS_MAX);
    TEST_CHECK_EQ(count, stats.journal_sequence);
    TEST_REQUIRE(count >= 8);
    return count;
}

static void test_journal_corruption(void) {
    fixture_t f;
    uint64_t sequences[JOURNAL_KEYS_MAX];
    uint32_t count = corruption_setup(&f, sequences);
    /* A flipped byte inside a record in the middle. */
    journal_record_tamper(f.path, sequences[count / 2], 100, false);
    CORRUPTION_EXPECT(f.path, sequences[count / 2]);
    fixture_close(&f);

    /* A flipped checksum byte of the first record. */
    count = corruption_setup(&f, sequences);
    journal_record_tamper(f.path, sequences[0], 1, false);
    CORRUPTION_EXPECT(f.path, sequences[0]);
    fixture_close(&f);

    /* The last record. */
    count = corruption_setup(&f, sequences);
    journal_record_tamper(f.path, sequences[count - 1], 20, false);
    CORRUPTION_EXPECT(f.path, sequences[count - 1]);
    fixture_close(&f);

    /* A forged record with a valid checksum: the hash chain finds it. */
    count = corruption_setup(&f, sequences);
    journal_record_tamper(f.path, sequences[count / 2], 112, true);
    CORRUPTION_EXPECT(f.path, sequences[count / 2]);
    fixture_close(&f);
}

static void test_journal_structure_damage(void) {
    fixture_t f;
    uint64_t sequences[JOURNAL_KEYS_MAX];
    uint8_t key[8], record[JOURNAL_RECORD_MAX];
    /* A record removed from the middle: a gap in the sequence. */
    uint32_t count = corruption_setup(&f, sequences);
    key_sequence(sequences[count / 2], key);
    raw_delete(f.path, "journal", key, 8);
    CORRUPTION_EXPECT(f.path, 0);
    fixture_close(&f);

    /* A truncated record. */
    count = corruption_setup(&f, sequences);
    key_sequence(sequences[count / 2], key);
    size_t size = raw_get(f.path, "journal", key, 8, record, sizeof record);
    TEST_REQUIRE(size > 10);
    raw_put(f.path, "journal", key, 8, record, size - 10);
    CORRUPTION_EXPECT(f.path, sequences[count / 2]);
    fixture_close(&f);

    /* Damage in the tail that opening replays (the writer died before any
     * checkpoint): found at open or by verify, never trusted silently. */
    fixture_open(&f, "api");
    fixture_shut(&f);
    int rc = -1;
    TEST_CHECK(isolated_run(crash_child, f.path, 0, &rc));
    count = journal_sequences(f.path, sequences, JOURNAL_KEYS_MAX);
    TEST_REQUIRE(count >= 8);
    journal_record_tamper(f.path, sequences[count - 2], 104, false);
    CORRUPTION_EXPECT(f.path, sequences[count - 2]);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Paths that are not ledgers                                               */

/* Child: ledger_open(path) with read_only = which; closes on success. */
static int open_call(const char *path, int which) {
    ledger_options_t options = {.read_only = which != 0};
    ledger_t *ledger = NULL;
    int rc = ledger_open(path, &options, &ledger);
    if (rc == 0) ledger_close(ledger);
    return rc;
}

/* Opens `path` in a child (read-write and read-only); both must fail
 * without a crash, with `expected` unless it is 0 (any error), and leave a
 * message. */
static void open_refused_at(const char *path, int expected, const char *file,
                            int line) {
    for (int read_only = 0; read_only < 2; read_only++) {
        int rc = 0;
        bool exited = isolated_run(open_call, path, read_only, &rc);
        bool ok = exited && rc != 0 && (expected == 0 || rc == expected);
        if (!ok) {
            printf("# %s:%d: open(%s, read_only=%d): %s %d (%s)\n", file, line,
                   path, read_only, exited ? "returned" : "CRASHED", rc,
                   ledger_strerror(rc));
            test_failures_in_case++;
            continue;
        }
        ledger_options_t options = {.read_only = read_only != 0};
        ledger_t *ledger = NULL;
        TEST_CHECK(ledger_open(path, &options, &ledger) == rc);
        TEST_CHECK(string_useful(ledger_last_error_message(NULL)));
    }
}

#define OPEN_REFUSED(path, expected)                                          \
    open_refused_at((path), (expected), __FILE__, __LINE__)

static void file_write(const char *path, const char *text) {
    FILE *file = fopen(path, "w");
    TEST_REQUIRE(file != NULL);
    fputs(text, file);
    TEST_REQUIRE(fclose(file) == 0);
}

static void test_not_a_ledger(void) {
    char dir[PATH_MAX], path[PATH_MAX + 64];
    fixture_tmp_dir_make("api", dir, sizeof dir);
    /* A regular file, and a path through it. */
    snprintf(path, sizeof path, "%s/plain-file", dir);
    file_write(path, "not a ledger\n");
    OPEN_REFUSED(path, 0);
    snprintf(path, sizeof path, "%s/plain-file/sub", dir);
    OPEN_REFUSED(path, 0);
    OPEN_REFUSED("", 0);
    /* A directory holding something else. */
    snprintf(path, sizeof path, "%s/other", dir);
    TEST_REQUIRE(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/other/notes.txt", dir);
    file_write(path, "hello\n");
    snprintf(path, sizeof path, "%s/other", dir);
    OPEN_REFUSED(path, LEDGER_ERR_NOT_A_LEDGER);
    /* A data.mdb of garbage. */
    snprintf(path, sizeof path, "%s/junk", dir);
    TEST_REQUIRE(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/junk/data.mdb", dir);
    char junk[16384];
    memset(junk, 'x', sizeof junk - 1);
    junk[sizeof junk - 1] = '\0';
    file_write(path, junk);
    snprintf(path, sizeof path, "%s/junk", dir);
    OPEN_REFUSED(path, 0);
    /* A valid LMDB environment that is not borsellino's. */
    snprintf(path, sizeof path, "%s/lmdb", dir);
    TEST_REQUIRE(mkdir(path, 0700) == 0);
    raw_put(path, "something", "k", 1, "v", 1);
    OPEN_REFUSED(path, LEDGER_ERR_NOT_A_LEDGER);
    /* A read-only open of a missing directory does not create it. */
    snprintf(path, sizeof path, "%s/missing", dir);
    int rc = 0;
    TEST_CHECK(isolated_run(open_call, path, 1, &rc));
    TEST_CHECK(rc != 0);
    struct stat st;
    TEST_CHECK(stat(path, &st) != 0 && errno == ENOENT);
    if (test_failures_in_case == 0) fixture_tmp_dir_remove(dir);
}

/* ------------------------------------------------------------------------ */
/* Read-only handles                                                        */

static void read_only_writes_refused(fixture_t *f) {
    ledger_account_t account = account_make(500, FIXTURE_LEDGER, 0);
    ledger_transfer_t transfer = transfer_make(500, 1, 2, 1);
    ledger_result_t result;
    uint32_t expired = 0;
    TEST_CHECK(ledger_create_accounts(f->ledger, &account, 1, &result) != 0);
    TEST_CHECK(ledger_create_transfers(f->ledger, &transfer, 1, &result) != 0);
    TEST_CHECK(ledger_expire_pending(f->ledger, &expired) != 0);
    TEST_CHECK(ledger_write_begin(f->ledger) != 0);
    TEST_CHECK(ledger_checkpoint(f->ledger) != 0);
    TEST_CHECK_EQ(ledger_write_commit(f->ledger), LEDGER_ERR_NO_WRITE);
}

static void test_read_only(void) {
    fixture_t f;
    fixture_open(&f, "api");
    workload_run(&f);
    fixture_transfer_ok(&f, pending_make(100, 1, 2, 3, 1));
    image_take(&f, &image_a);
    fixture_shut(&f);
    /* The pending transfer's timeout has passed; read-only must not
     * expire it. */
    f.now_ns += 10 * FIXTURE_NS_PER_S;
    f.options.read_only = true;
    fixture_reopen(&f);
    image_take(&f, &image_b);
    IMAGE_CHECK_SAME(&image_a, &image_b);
    read_only_writes_refused(&f);
    image_take(&f, &image_b);
    IMAGE_CHECK_SAME(&image_a, &image_b);
    ledger_history_filter_t filter = {
        .account_id = id128(1), .limit = 100,
        .flags = LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS};
    static ledger_history_entry_t entries[100];
    uint32_t count = 0;
    TEST_CHECK_EQ(ledger_account_history(f.ledger, &filter, entries, &count),
                  0);
    TEST_CHECK(count > 5);
    ledger_verify_report_t report;
    TEST_CHECK_EQ(ledger_verify(f.ledger, &report, NULL, NULL), 0);
    fixture_shut(&f);
    /* Read-write again: nothing was written by the read-only handle. */
    f.options.read_only = false;
    f.now_ns -= 10 * FIXTURE_NS_PER_S;
    fixture_reopen(&f);
    image_take(&f, &image_b);
    IMAGE_CHECK_SAME(&image_a, &image_b);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Storage full                                                             */

enum {
    STORAGE_SMALL_MAP = 1 << 20,
    STORAGE_SMALL_MAP_MAX = 4 << 20,
    /* Small enough that the map can grow between two batches (it grows
     * only at the start of a write group). */
    STORAGE_BATCH = 500,
    STORAGE_BATCHES_MAX = 400,
};

/* Fills a small map with batches of accounts until the engine refuses;
 * returns how many batches were accepted. */
static uint32_t storage_fill(fixture_t *f, ledger_account_t *accounts,
                             ledger_result_t *results, int *rc_out) {
    for (uint32_t n = 0; n < STORAGE_BATCHES_MAX; n++) {
        for (uint32_t i = 0; i < STORAGE_BATCH; i++) {
            accounts[i] =
                account_make(1 + (uint64_t)n * STORAGE_BATCH + i, 1, 0);
        }
        ledger_stats_t before = fixture_stats(f);
        int rc = ledger_create_accounts(f->ledger, accounts, STORAGE_BATCH,
                                        results);
        if (rc != 0) {
            *rc_out = rc;
            ledger_stats_t after = fixture_stats(f);
            TEST_CHECK(stats_same(&before, &after));
            ledger_account_t found;
            TEST_CHECK(!fixture_account_find(f, accounts[0].id, &found));
            return n;
        }
    }
    *rc_out = 0;
    return STORAGE_BATCHES_MAX;
}

/* Inside a group, storage full fails the group; commit says so and
 * nothing of the group remains. */
static void storage_full_in_group(fixture_t *f, ledger_account_t *accounts,
                                  ledger_result_t *results) {
    ledger_stats_t before = fixture_stats(f);
    int rc = ledger_write_begin(f->ledger);
    if (rc != 0) {
        TEST_CHECK_EQ(rc, LEDGER_ERR_STORAGE_FULL);
        return;
    }
    int group_rc = ledger_create_accounts(f->ledger, accounts, STORAGE_BATCH,
                                          results);
    TEST_CHECK_EQ(group_rc, LEDGER_ERR_STORAGE_FULL);
    ledger_account_t extra = account_make(UINT64_MAX - 1, 1, 0);
    TEST_CHECK_EQ(ledger_create_accounts(f->ledger, &extra, 1, results),
                  LEDGER_ERR_WRITE_FAILED);
    int commit_rc = ledger_write_commit(f->ledger);
    TEST_CHECK(commit_rc == LEDGER_ERR_WRITE_FAILED ||
               commit_rc == LEDGER_ERR_STORAGE_FULL);
    ledger_stats_t after = fixture_stats(f);
    TEST_CHECK(stats_same(&before, &after));
}

static void test_storage_full(void) {
    fixture_t f;
    ledger_options_t options = {.map_size_initial = STORAGE_SMALL_MAP,
                                .map_size_max = STORAGE_SMALL_MAP_MAX};
    fixture_open_with(&f, "api", &options);
    ledger_account_t *accounts = calloc(STORAGE_BATCH, sizeof *accounts);
    ledger_result_t *results = calloc(STORAGE_BATCH, sizeof *results);
    TEST_REQUIRE(accounts != NULL && results != NULL);
    int rc = 0;
    uint32_t batches = storage_fill(&f, accounts, results, &rc);
    printf("# storage full after %u batches: %d\n", batches, rc);
    TEST_CHECK_EQ(rc, LEDGER_ERR_STORAGE_FULL);
    TEST_CHECK(batches > 1);
    /* Reads keep working. */
    ledger_stats_t stats = fixture_stats(&f);
    TEST_CHECK_EQ(stats.accounts_count, (uint64_t)batches * STORAGE_BATCH);
    TEST_CHECK(stats.map_size <= STORAGE_SMALL_MAP_MAX);
    TEST_CHECK(stats.map_size > STORAGE_SMALL_MAP);
    TEST_CHECK_EQ(fixture_account(&f, 1).id.lo, 1);
    storage_full_in_group(&f, accounts, results);
    /* A bigger map: everything is there and writes work again. */
    int close_rc = ledger_close(f.ledger);
    printf("# close after storage full: %d\n", close_rc);
    f.ledger = NULL;
    f.options.map_size_max = 0;
    fixture_reopen(&f);
    TEST_CHECK_EQ(fixture_stats(&f).accounts_count, stats.accounts_count);
    TEST_CHECK_EQ(ledger_create_accounts(f.ledger, accounts, STORAGE_BATCH,
                                         results),
                  0);
    TEST_CHECK_EQ(results[0].result, LEDGER_RESULT_OK);
    ledger_verify_report_t report;
    TEST_CHECK_EQ(ledger_verify(f.ledger, &report, NULL, NULL), 0);
    free(accounts);
    free(results);
    fixture_close(&f);
}

/* LEDGER_ERR_STORAGE_FULL means "disk full, or the map reached
 * map_size_max": a batch bigger than the free part of a small initial map,
 * far below the maximum, must be applied (the map grows). */
static void test_map_grows_for_large_batch(void) {
    fixture_t f;
    ledger_options_t options = {.map_size_initial = STORAGE_SMALL_MAP};
    fixture_open_with(&f, "api", &options);
    ledger_account_t *accounts = accounts_alloc(LEDGER_BATCH_EVENTS_MAX, 1);
    ledger_result_t *results =
        calloc(LEDGER_BATCH_EVENTS_MAX, sizeof *results);
    TEST_REQUIRE(results != NULL);
    int rc = ledger_create_accounts(f.ledger, accounts,
                                    LEDGER_BATCH_EVENTS_MAX, results);
    TEST_CHECK_EQ(rc, 0);
    TEST_CHECK_EQ(fixture_stats(&f).accounts_count,
                  rc == 0 ? LEDGER_BATCH_EVENTS_MAX : 0);
    free(accounts);
    free(results);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Time-ordered ids                                                         */

static bool u128_less(ledger_u128_t a, ledger_u128_t b) {
    return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

static void test_id_time_ordered(void) {
    enum { IDS = 100000 };
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ms =
        (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    ledger_u128_t previous = ledger_id_time_ordered();
    bool increasing = true, valid = true;
    for (int i = 0; i < IDS; i++) {
        ledger_u128_t id = ledger_id_time_ordered();
        increasing = increasing && u128_less(previous, id);
        valid = valid && !ledger_u128_is_zero(id) && !ledger_u128_is_max(id);
        previous = id;
    }
    TEST_CHECK(increasing);
    TEST_CHECK(valid);
    uint64_t id_ms = previous.hi >> 16;
    TEST_CHECK(id_ms + 60000 > now_ms && id_ms < now_ms + 60000);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"result_names", test_result_names},
        {"strerror", test_strerror},
        {"null_arguments", test_null_arguments},
        {"batch_bounds", test_batch_bounds},
        {"lookup_bounds", test_lookup_bounds},
        {"lookup_order", test_lookup_order},
        {"ids_at_bounds", test_ids_at_bounds},
        {"amounts_at_bounds", test_amounts_at_bounds},
        {"unknown_flags_mixed_batch", test_unknown_flags_mixed_batch},
        {"write_group_commit", test_write_group_commit},
        {"write_group_abort", test_write_group_abort},
        {"write_group_abort_timestamps", test_write_group_abort_timestamps},
        {"write_group_errors", test_write_group_errors},
        {"persistence_reopen", test_persistence_reopen},
        {"persistence_after_crash", test_persistence_after_crash},
        {"history_filters", test_history_filters},
        {"history_invalid_filters", test_history_invalid_filters},
        {"history_paging", test_history_paging},
        {"balance_at", test_balance_at},
        {"expire_batch_bound", test_expire_batch_bound},
        {"verify_healthy", test_verify_healthy},
        {"checkpoint", test_checkpoint},
        {"format_newer", test_format_newer},
        {"journal_corruption", test_journal_corruption},
        {"journal_structure_damage", test_journal_structure_damage},
        {"not_a_ledger", test_not_a_ledger},
        {"read_only", test_read_only},
        {"storage_full", test_storage_full},
        {"map_grows_for_large_batch", test_map_grows_for_large_batch},
        {"id_time_ordered", test_id_time_ordered},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
