/*
 * test_results.c — every ledger_result_code, each provoked by a small
 * focused scenario that asserts the exact code and, for refusals, that
 * nothing changed (balances, flags, counters, journal) except the failure
 * marker that docs/ledger.md prescribes for transient results.
 *
 * Also: every combination of transfer flags (8 defined bits + an unknown
 * one) and of account flags (5 + 1), the validation order on events that
 * break several rules at once, linked chains, two-phase transfers with an
 * injected clock (expiry order), balancing, closing, idempotency and
 * timestamps. The last case asserts that every code 0..64 was seen in a
 * passing check, so a code added to ledger.h without a test fails here.
 *
 * The spec is docs/ledger.md; each scenario cites the rule it checks.
 */
#include "ledger_fixture.h"
#include "welfare.h"

/* Codes seen in a check that passed. */
static bool results_seen[LEDGER_RESULT_CODE_COUNT];

static void result_check_at(uint32_t actual, uint32_t expected,
                            const char *file, int line) {
    if (actual != expected) {
        test_failures_in_case++;
        printf("# %s:%d: result %s (%u), expected %s (%u)\n", file, line,
               ledger_result_name(actual), actual,
               ledger_result_name(expected), expected);
        fflush(stdout);
        return;
    }
    if (expected < LEDGER_RESULT_CODE_COUNT) results_seen[expected] = true;
}

#define CHECK_RESULT(actual, expected)                                        \
    result_check_at((actual), (expected), __FILE__, __LINE__)

/* docs/ledger.md, Idempotency: the results that get a failure marker. */
static bool result_is_transient(uint32_t code) {
    switch (code) {
    case LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND:
    case LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND:
    case LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND:
    case LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED:
    case LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED:
    case LEDGER_RESULT_OVERFLOWS_DEBITS_PENDING:
    case LEDGER_RESULT_OVERFLOWS_CREDITS_PENDING:
    case LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED:
    case LEDGER_RESULT_OVERFLOWS_CREDITS_POSTED:
    case LEDGER_RESULT_OVERFLOWS_DEBITS:
    case LEDGER_RESULT_OVERFLOWS_CREDITS:
    case LEDGER_RESULT_OVERFLOWS_TIMEOUT:
    case LEDGER_RESULT_EXCEEDS_CREDITS:
    case LEDGER_RESULT_EXCEEDS_DEBITS:
        return true;
    default:
        return false;
    }
}

/* ------------------------------------------------------------------------ */
/* Snapshots: "nothing changed"                                             */

typedef struct snapshot {
    ledger_stats_t stats;
    uint32_t accounts_count;
    ledger_account_t accounts[FIXTURE_ACCOUNTS_MAX];
} snapshot_t;

/* Static: a snapshot is too big to put on the stack in every helper. */
static snapshot_t snapshot_before;

static void snapshot_take(fixture_t *f, snapshot_t *s) {
    s->stats = fixture_stats(f);
    s->accounts_count = UINT32_MAX;
    if (f->accounts_count == 0) {
        s->accounts_count = 0;
        return;
    }
    int rc = ledger_lookup_accounts(f->ledger, f->accounts, f->accounts_count,
                                    s->accounts, &s->accounts_count);
    TEST_CHECK_EQ(rc, 0);
    TEST_CHECK_EQ(s->accounts_count, f->accounts_count);
}

static void snapshot_fail(const char *file, int line, const char *what) {
    test_failures_in_case++;
    printf("# %s:%d: after a refused event: %s\n", file, line, what);
    fflush(stdout);
}

/* Checks that the ledger still matches `before`, except `journal_growth`
 * new journal records (a failure marker) and their timestamps. */
static void snapshot_check_at(fixture_t *f, const snapshot_t *before,
                              uint64_t journal_growth, const char *file,
                              int line) {
    static snapshot_t now;
    snapshot_take(f, &now);
    if (now.stats.journal_sequence !=
        before->stats.journal_sequence + journal_growth) {
        printf("# journal_sequence %" PRIu64 " -> %" PRIu64
               ", expected growth %" PRIu64 "\n",
               before->stats.journal_sequence, now.stats.journal_sequence,
               journal_growth);
        snapshot_fail(file, line, "journal_sequence");
    }
    if (journal_growth == 0 &&
        (now.stats.last_timestamp != before->stats.last_timestamp ||
         memcmp(now.stats.chain_head, before->stats.chain_head, 32) != 0)) {
        snapshot_fail(file, line, "last_timestamp or chain_head moved");
    }
    if (now.stats.accounts_count != before->stats.accounts_count ||
        now.stats.pending_count != before->stats.pending_count) {
        snapshot_fail(file, line, "accounts_count or pending_count");
    }
    for (uint32_t i = 0; i < now.accounts_count && i < before->accounts_count;
         i++) {
        if (!account_equal(&now.accounts[i], &before->accounts[i])) {
            printf("# account %" PRIu64 " changed\n", now.accounts[i].id.lo);
            snapshot_fail(file, line, "an account changed");
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Submitting one event                                                     */

static ledger_result_t account_submit(fixture_t *f, ledger_account_t account) {
    ledger_result_t result = {UINT32_MAX, UINT32_MAX, UINT64_MAX};
    int rc = ledger_create_accounts(f->ledger, &account, 1, &result);
    TEST_CHECK_EQ(rc, 0);
    return result;
}

static ledger_result_t transfer_submit(fixture_t *f,
                                       ledger_transfer_t transfer) {
    ledger_result_t result = {UINT32_MAX, UINT32_MAX, UINT64_MAX};
    int rc = ledger_create_transfers(f->ledger, &transfer, 1, &result);
    TEST_CHECK_EQ(rc, 0);
    return result;
}

/* A failed event's result carries timestamp 0 and reserved 0. */
static void result_failure_fields_check_at(ledger_result_t result,
                                           const char *file, int line) {
    if (result.timestamp != 0 || result.reserved != 0) {
        test_failures_in_case++;
        printf("# %s:%d: failed result has timestamp %" PRIu64
               ", reserved %u (both must be 0)\n",
               file, line, result.timestamp, result.reserved);
    }
}

static void account_refused_at(fixture_t *f, ledger_account_t account,
                               uint32_t expected, const char *file, int line) {
    snapshot_take(f, &snapshot_before);
    ledger_result_t result = account_submit(f, account);
    result_check_at(result.result, expected, file, line);
    result_failure_fields_check_at(result, file, line);
    snapshot_check_at(f, &snapshot_before, 0, file, line);
}

#define EXPECT_ACCOUNT_REFUSED(f, account, expected)                          \
    account_refused_at((f), (account), (expected), __FILE__, __LINE__)

/* A refused transfer: nothing changes, except one failure marker in the
 * journal when the result is transient. */
static void transfer_refused_at(fixture_t *f, ledger_transfer_t transfer,
                                uint32_t expected, const char *file,
                                int line) {
    snapshot_take(f, &snapshot_before);
    ledger_result_t result = transfer_submit(f, transfer);
    result_check_at(result.result, expected, file, line);
    result_failure_fields_check_at(result, file, line);
    snapshot_check_at(f, &snapshot_before, result_is_transient(expected),
                      file, line);
}

#define EXPECT_TRANSFER_REFUSED(f, transfer, expected)                        \
    transfer_refused_at((f), (transfer), (expected), __FILE__, __LINE__)

/* An accepted transfer: OK, a timestamp, stored under its id with it. */
static uint64_t transfer_ok_at(fixture_t *f, ledger_transfer_t transfer,
                               const char *file, int line) {
    ledger_result_t result = transfer_submit(f, transfer);
    result_check_at(result.result, LEDGER_RESULT_OK, file, line);
    ledger_transfer_t stored;
    bool found = fixture_transfer_find(f, transfer.id, &stored);
    if (result.result == LEDGER_RESULT_OK &&
        (!found || stored.timestamp != result.timestamp ||
         result.timestamp == 0)) {
        test_failures_in_case++;
        printf("# %s:%d: accepted transfer not stored with its timestamp\n",
               file, line);
    }
    return result.timestamp;
}

#define EXPECT_TRANSFER_OK(f, transfer)                                       \
    transfer_ok_at((f), (transfer), __FILE__, __LINE__)

static uint64_t account_ok_at(fixture_t *f, ledger_account_t account,
                              const char *file, int line) {
    ledger_result_t result = account_submit(f, account);
    result_check_at(result.result, LEDGER_RESULT_OK, file, line);
    if (result.result == LEDGER_RESULT_OK) {
        TEST_REQUIRE(f->accounts_count < FIXTURE_ACCOUNTS_MAX);
        f->accounts[f->accounts_count++] = account.id;
    }
    return result.timestamp;
}

#define EXPECT_ACCOUNT_OK(f, account)                                         \
    account_ok_at((f), (account), __FILE__, __LINE__)

/* Submits a batch; the call itself must succeed. */
static void transfers_submit(fixture_t *f, const ledger_transfer_t *transfers,
                             uint32_t count, ledger_result_t *results) {
    for (uint32_t i = 0; i < count; i++) {
        results[i].result = UINT32_MAX;
    }
    int rc = ledger_create_transfers(f->ledger, transfers, count, results);
    TEST_CHECK_EQ(rc, 0);
}

static void accounts_submit(fixture_t *f, const ledger_account_t *accounts,
                            uint32_t count, ledger_result_t *results) {
    for (uint32_t i = 0; i < count; i++) {
        results[i].result = UINT32_MAX;
    }
    int rc = ledger_create_accounts(f->ledger, accounts, count, results);
    TEST_CHECK_EQ(rc, 0);
}

static bool transfer_exists(fixture_t *f, uint64_t id) {
    ledger_transfer_t stored;
    return fixture_transfer_find(f, id128(id), &stored);
}

static bool account_exists(fixture_t *f, uint64_t id) {
    ledger_account_t stored;
    return fixture_account_find(f, id128(id), &stored);
}

static uint64_t stored_amount(fixture_t *f, uint64_t id) {
    ledger_transfer_t stored;
    TEST_CHECK(fixture_transfer_find(f, id128(id), &stored));
    return stored.amount;
}

static uint16_t account_flags(fixture_t *f, uint64_t id) {
    return fixture_account(f, id).flags;
}

/* ------------------------------------------------------------------------ */
/* Accounts                                                                 */

static void test_account_create_ok(void) {
    fixture_t f;
    fixture_open(&f, "results");
    ledger_account_t account =
        account_make(1, 978, LEDGER_ACCOUNT_HISTORY |
                                 LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    account.user_data_128 = (ledger_u128_t){5, 6};
    account.user_data_64 = 7;
    account.user_data_32 = 8;
    account.code = 42;
    f.now_ns = FIXTURE_CLOCK_START + 123;
    ledger_stats_t before = fixture_stats(&f);
    ledger_result_t result = account_submit(&f, account);
    CHECK_RESULT(result.result, LEDGER_RESULT_OK);
    TEST_CHECK_EQ(result.timestamp, FIXTURE_CLOCK_START + 123);
    TEST_CHECK_EQ(result.reserved, 0);

    ledger_account_t stored = fixture_account(&f, 1);
    account.timestamp = result.timestamp;
    TEST_CHECK(account_equal(&stored, &account));
    ledger_stats_t after = fixture_stats(&f);
    TEST_CHECK_EQ(after.journal_sequence, before.journal_sequence + 1);
    TEST_CHECK_EQ(after.accounts_count, before.accounts_count + 1);
    TEST_CHECK_EQ(after.last_timestamp, result.timestamp);

    /* LINKED is per request only: it is not stored. */
    ledger_account_t chain[2] = {
        account_make(2, 978, LEDGER_ACCOUNT_LINKED | LEDGER_ACCOUNT_HISTORY),
        account_make(3, 978, 0)};
    ledger_result_t results[2];
    accounts_submit(&f, chain, 2, results);
    CHECK_RESULT(results[0].result, LEDGER_RESULT_OK);
    CHECK_RESULT(results[1].result, LEDGER_RESULT_OK);
    TEST_CHECK_EQ(account_flags(&f, 2), LEDGER_ACCOUNT_HISTORY);
    TEST_CHECK_EQ(account_flags(&f, 3), 0);
    fixture_close(&f);
}

static void test_account_refusals(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 1, FIXTURE_LEDGER, 0);
    const ledger_account_t good = account_make(10, FIXTURE_LEDGER, 0);
    ledger_account_t a = good;

    a.timestamp = 1;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO);
    a = good;
    a.flags = LEDGER_ACCOUNT_CLOSED;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_RESERVED_FLAG);
    for (unsigned bit = 5; bit < 16; bit++) {
        a.flags = (uint16_t)(1u << bit);
        EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_RESERVED_FLAG);
    }
    a = good;
    a.id = id128(0);
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_ID_MUST_NOT_BE_ZERO);
    a.id = id128_max();
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX);
    a = good;
    a.flags = LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
              LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
    a = good;
    a.debits_pending = 1;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_DEBITS_PENDING_MUST_BE_ZERO);
    a = good;
    a.debits_posted = 1;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_DEBITS_POSTED_MUST_BE_ZERO);
    a = good;
    a.credits_pending = 1;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_CREDITS_PENDING_MUST_BE_ZERO);
    a = good;
    a.credits_posted = UINT64_MAX;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_CREDITS_POSTED_MUST_BE_ZERO);
    a = good;
    a.ledger = 0;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO);
    a = good;
    a.code = 0;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_CODE_MUST_NOT_BE_ZERO);

    /* None of the refusals used up the id. */
    TEST_CHECK(!account_exists(&f, 10));
    EXPECT_ACCOUNT_OK(&f, good);
    fixture_close(&f);
}

/* The account fields compared for idempotency, in the documented order. */
enum { ACCOUNT_COMPARED_FIELDS = 6 };

static void account_field_change(ledger_account_t *a, int field) {
    switch (field) {
    case 0: a->flags = LEDGER_ACCOUNT_HISTORY; break;
    case 1: a->user_data_128.hi ^= 1; break;
    case 2: a->user_data_64 ^= 1; break;
    case 3: a->user_data_32 ^= 1; break;
    case 4: a->ledger += 1; break;
    default: a->code += 1; break;
    }
}

static const uint32_t account_field_results[ACCOUNT_COMPARED_FIELDS] = {
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_128,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_64,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_32,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_LEDGER,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CODE,
};

static void test_account_exists(void) {
    fixture_t f;
    fixture_open(&f, "results");
    ledger_account_t original =
        account_make(20, 7, LEDGER_ACCOUNT_HISTORY |
                                LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS);
    original.user_data_128 = (ledger_u128_t){1, 2};
    original.user_data_64 = 3;
    original.user_data_32 = 4;
    original.code = 8;
    uint64_t created_at = EXPECT_ACCOUNT_OK(&f, original);

    f.now_ns += FIXTURE_NS_PER_S;
    snapshot_take(&f, &snapshot_before);
    ledger_result_t result = account_submit(&f, original);
    CHECK_RESULT(result.result, LEDGER_RESULT_EXISTS);
    TEST_CHECK_EQ(result.timestamp, created_at);
    snapshot_check_at(&f, &snapshot_before, 0, __FILE__, __LINE__);

    /* Changing fields k..last: the first changed field decides. */
    for (int k = 0; k < ACCOUNT_COMPARED_FIELDS; k++) {
        ledger_account_t changed = original;
        for (int field = k; field < ACCOUNT_COMPARED_FIELDS; field++) {
            account_field_change(&changed, field);
        }
        EXPECT_ACCOUNT_REFUSED(&f, changed, account_field_results[k]);
        changed = original;
        account_field_change(&changed, k);
        EXPECT_ACCOUNT_REFUSED(&f, changed, account_field_results[k]);
    }

    /* Created with LINKED in a chain; resubmitted without it: exists. */
    ledger_account_t chain[2] = {account_make(21, 7, LEDGER_ACCOUNT_LINKED),
                                 account_make(22, 7, 0)};
    ledger_result_t results[2];
    accounts_submit(&f, chain, 2, results);
    CHECK_RESULT(results[0].result, LEDGER_RESULT_OK);
    CHECK_RESULT(results[1].result, LEDGER_RESULT_OK);
    result = account_submit(&f, account_make(21, 7, 0));
    CHECK_RESULT(result.result, LEDGER_RESULT_EXISTS);
    TEST_CHECK_EQ(result.timestamp, results[0].timestamp);
    fixture_close(&f);
}

/* docs/ledger.md: "an account's closed flag is not compared". */
static void test_account_exists_ignores_closed(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    ledger_transfer_t closing = pending_make(100, 1, 2, 5, 0);
    closing.flags |= LEDGER_TRANSFER_CLOSING_DEBIT;
    EXPECT_TRANSFER_OK(&f, closing);
    TEST_CHECK_EQ(account_flags(&f, 1), LEDGER_ACCOUNT_CLOSED);
    ledger_result_t result =
        account_submit(&f, account_make(1, FIXTURE_LEDGER, 0));
    CHECK_RESULT(result.result, LEDGER_RESULT_EXISTS);
    /* Asking for the closed flag is still a reserved flag (step 3). */
    EXPECT_ACCOUNT_REFUSED(
        &f, account_make(1, FIXTURE_LEDGER, LEDGER_ACCOUNT_CLOSED),
        LEDGER_RESULT_RESERVED_FLAG);
    fixture_close(&f);
}

/* The expected result of creating an account with `flags`. */
static uint32_t account_flags_expected(uint32_t flags) {
    const uint32_t defined = LEDGER_ACCOUNT_LINKED |
                             LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
                             LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS |
                             LEDGER_ACCOUNT_HISTORY | LEDGER_ACCOUNT_CLOSED;
    const uint32_t both = LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
                          LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    if ((flags & ~defined) != 0 || (flags & LEDGER_ACCOUNT_CLOSED) != 0) {
        return LEDGER_RESULT_RESERVED_FLAG;
    }
    if ((flags & both) == both) {
        return LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    return LEDGER_RESULT_OK;
}

enum { ACCOUNT_MATRIX_SINK = 1, ACCOUNT_MATRIX_BASE = 1000 };

/* A created account's flags work: a debit of 1 and a credit of 5. */
static void account_matrix_behaviour(fixture_t *f, uint64_t id,
                                     uint32_t flags, uint64_t *transfer_id) {
    bool dmnec = flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
    bool cmned = flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    ledger_transfer_t debit =
        transfer_make((*transfer_id)++, id, ACCOUNT_MATRIX_SINK, 1);
    if (dmnec) {
        EXPECT_TRANSFER_REFUSED(f, debit, LEDGER_RESULT_EXCEEDS_CREDITS);
    } else {
        EXPECT_TRANSFER_OK(f, debit);
    }
    ledger_transfer_t credit =
        transfer_make((*transfer_id)++, ACCOUNT_MATRIX_SINK, id, 5);
    if (cmned) {
        EXPECT_TRANSFER_REFUSED(f, credit, LEDGER_RESULT_EXCEEDS_DEBITS);
    } else {
        EXPECT_TRANSFER_OK(f, credit);
    }
}

static void account_matrix_combo(fixture_t *f, uint32_t flags,
                                 uint64_t *transfer_id) {
    const uint64_t id = ACCOUNT_MATRIX_BASE + 2 * flags;
    const uint32_t expected = account_flags_expected(flags);
    const bool linked = flags & LEDGER_ACCOUNT_LINKED;
    ledger_account_t batch[2] = {
        account_make(id, FIXTURE_LEDGER, (uint16_t)flags),
        account_make(id + 1, FIXTURE_LEDGER, 0)};
    ledger_result_t results[2];
    if (linked) {
        /* Alone, a linked event is an open chain, whatever else is wrong. */
        EXPECT_ACCOUNT_REFUSED(f, batch[0],
                               LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN);
    }
    snapshot_take(f, &snapshot_before);
    accounts_submit(f, batch, linked ? 2 : 1, results);
    CHECK_RESULT(results[0].result, expected);
    if (linked) {
        const uint32_t tail = expected == LEDGER_RESULT_OK
                                  ? LEDGER_RESULT_OK
                                  : LEDGER_RESULT_LINKED_EVENT_FAILED;
        CHECK_RESULT(results[1].result, tail);
    }
    if (expected != LEDGER_RESULT_OK) {
        snapshot_check_at(f, &snapshot_before, 0, __FILE__, __LINE__);
        TEST_CHECK(!account_exists(f, id));
        TEST_CHECK(!account_exists(f, id + 1));
        return;
    }
    f->accounts[f->accounts_count++] = batch[0].id;
    if (linked) f->accounts[f->accounts_count++] = batch[1].id;
    ledger_account_t stored = fixture_account(f, id);
    TEST_CHECK_EQ(stored.flags, flags & ~(uint32_t)LEDGER_ACCOUNT_LINKED);
    TEST_CHECK_EQ(stored.timestamp, results[0].timestamp);
    account_matrix_behaviour(f, id, flags, transfer_id);
}

/* All 32 combinations of the 5 defined account flags, with and without an
 * unknown bit (1 << 5). */
static void test_account_flags_matrix(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, ACCOUNT_MATRIX_SINK, 1, FIXTURE_LEDGER, 0);
    uint64_t transfer_id = 1;
    int accepted = 0;
    for (uint32_t flags = 0; flags < 64; flags++) {
        account_matrix_combo(&f, flags, &transfer_id);
        if (account_flags_expected(flags) == LEDGER_RESULT_OK) accepted++;
    }
    /* {linked, dmnec, cmned, history} minus dmnec+cmned: 16 - 4. */
    TEST_CHECK_EQ(accepted, 12);
    fixture_close(&f);
}

/* Events that break several rules: the earliest step in docs/ledger.md
 * decides. */
static void test_account_validation_order(void) {
    fixture_t f;
    fixture_open(&f, "results");
    const ledger_account_t good = account_make(50, FIXTURE_LEDGER, 0);
    EXPECT_ACCOUNT_OK(&f, good);
    ledger_account_t a = account_make(51, FIXTURE_LEDGER, 0);

    a.timestamp = 9;
    a.flags = LEDGER_ACCOUNT_LINKED | LEDGER_ACCOUNT_CLOSED;
    a.id = id128(0);
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN);
    a.flags = LEDGER_ACCOUNT_CLOSED;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO);
    a.timestamp = 0;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_RESERVED_FLAG);
    a.flags = LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
              LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_ID_MUST_NOT_BE_ZERO);
    a.id = id128_max();
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX);
    a.id = id128(51);
    a.debits_pending = 1;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
    a.flags = 0;
    a.debits_posted = 1;
    a.credits_pending = 1;
    a.credits_posted = 1;
    a.ledger = 0;
    a.code = 0;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_DEBITS_PENDING_MUST_BE_ZERO);
    a.debits_pending = 0;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_DEBITS_POSTED_MUST_BE_ZERO);
    a.debits_posted = 0;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_CREDITS_PENDING_MUST_BE_ZERO);
    a.credits_pending = 0;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_CREDITS_POSTED_MUST_BE_ZERO);
    a.credits_posted = 0;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO);
    a.ledger = FIXTURE_LEDGER;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_CODE_MUST_NOT_BE_ZERO);

    /* An existing id: steps 1-8 still come first, then the field order. */
    a = good;
    a.ledger = 0;
    a.flags = LEDGER_ACCOUNT_HISTORY;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO);
    a = good;
    a.debits_posted = 5;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_DEBITS_POSTED_MUST_BE_ZERO);
    a = good;
    a.flags = LEDGER_ACCOUNT_HISTORY;
    a.ledger = 2;
    EXPECT_ACCOUNT_REFUSED(&f, a, LEDGER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Transfers: single-phase and stateless refusals                           */

static void test_transfer_single_phase_ok(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    ledger_transfer_t t = transfer_make(100, 1, 2, 250);
    t.user_data_128 = (ledger_u128_t){9, 10};
    t.user_data_64 = 11;
    t.user_data_32 = 12;
    t.code = 77;
    f.now_ns += 555;
    ledger_stats_t before = fixture_stats(&f);
    uint64_t ts = EXPECT_TRANSFER_OK(&f, t);
    TEST_CHECK_EQ(ts, f.now_ns);
    CHECK_BALANCES(&f, 1, 0, 250, 0, 0);
    CHECK_BALANCES(&f, 2, 0, 0, 0, 250);
    ledger_transfer_t stored;
    TEST_CHECK(fixture_transfer_find(&f, t.id, &stored));
    t.timestamp = ts;
    TEST_CHECK(transfer_equal(&stored, &t));
    ledger_stats_t after = fixture_stats(&f);
    TEST_CHECK_EQ(after.journal_sequence, before.journal_sequence + 1);
    TEST_CHECK_EQ(after.pending_count, 0);
    TEST_CHECK_EQ(after.last_timestamp, ts);
    fixture_close(&f);
}

/* Refusals that depend on the event alone (no marker, id not used up). */
/* Steps 2-5: the event's header. */
static void transfer_refusals_header(fixture_t *f,
                                     const ledger_transfer_t good) {
    ledger_transfer_t t = good;
    t.timestamp = 1;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO);
    for (unsigned bit = 8; bit < 16; bit++) {
        t = good;
        t.flags = (uint16_t)(1u << bit);
        EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_RESERVED_FLAG);
    }
    t = good;
    t.id = id128(0);
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_ID_MUST_NOT_BE_ZERO);
    t.id = id128_max();
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX);
    t = good;
    t.flags = LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_VOID_PENDING;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
}

static void test_transfer_refusals(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    fixture_accounts_range(&f, 3, 1, 2, 0);
    const ledger_transfer_t good = transfer_make(100, 1, 2, 10);
    transfer_refusals_header(&f, good);
    ledger_transfer_t t = good;
    t.debit_account_id = id128(0);
    EXPECT_TRANSFER_REFUSED(&f, t,
                            LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO);
    t.debit_account_id = id128_max();
    EXPECT_TRANSFER_REFUSED(&f, t,
                            LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX);
    t = good;
    t.credit_account_id = id128(0);
    EXPECT_TRANSFER_REFUSED(&f, t,
                            LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO);
    t.credit_account_id = id128_max();
    EXPECT_TRANSFER_REFUSED(&f, t,
        LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX);
    t = good;
    t.credit_account_id = id128(1);
    EXPECT_TRANSFER_REFUSED(&f, t, LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT);
    t = good;
    t.pending_id = id128(5);
    EXPECT_TRANSFER_REFUSED(&f, t, LEDGER_RESULT_PENDING_ID_MUST_BE_ZERO);
    t = good;
    t.timeout = 5;
    EXPECT_TRANSFER_REFUSED(
        &f, t, LEDGER_RESULT_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER);
    t = good;
    t.flags = LEDGER_TRANSFER_CLOSING_DEBIT;
    EXPECT_TRANSFER_REFUSED(&f, t,
                            LEDGER_RESULT_CLOSING_TRANSFER_MUST_BE_PENDING);
    t.flags = LEDGER_TRANSFER_CLOSING_CREDIT;
    EXPECT_TRANSFER_REFUSED(&f, t,
                            LEDGER_RESULT_CLOSING_TRANSFER_MUST_BE_PENDING);
    t = good;
    t.ledger = 0;
    EXPECT_TRANSFER_REFUSED(&f, t, LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO);
    t = good;
    t.code = 0;
    EXPECT_TRANSFER_REFUSED(&f, t, LEDGER_RESULT_CODE_MUST_NOT_BE_ZERO);
    t = good;
    t.amount = 0;
    EXPECT_TRANSFER_REFUSED(&f, t, LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO);
    t.flags = LEDGER_TRANSFER_BALANCING_DEBIT;
    EXPECT_TRANSFER_REFUSED(&f, t, LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO);
    t.flags = LEDGER_TRANSFER_PENDING;
    EXPECT_TRANSFER_REFUSED(&f, t, LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO);
    t = good;
    t.credit_account_id = id128(3);
    EXPECT_TRANSFER_REFUSED(&f, t,
                            LEDGER_RESULT_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER);
    t = good;
    t.ledger = 2;
    EXPECT_TRANSFER_REFUSED(
        &f, t, LEDGER_RESULT_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS);

    /* No refusal above was transient: the id is still free. */
    TEST_CHECK(!transfer_exists(&f, 100));
    EXPECT_TRANSFER_OK(&f, good);
    CHECK_BALANCES(&f, 1, 0, 10, 0, 0);
    fixture_close(&f);
}

/* Missing accounts are transient: a failure marker is journaled. */
static void test_transfer_account_not_found(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(100, 9, 2, 10),
                            LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(101, 1, 9, 10),
                            LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND);
    EXPECT_TRANSFER_REFUSED(&f, pending_make(102, 9, 8, 10, 0),
                            LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND);
    EXPECT_TRANSFER_REFUSED(&f, pending_make(103, 2, 8, 10, 0),
                            LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND);
    /* A failed transfer is not visible to lookups. */
    TEST_CHECK(!transfer_exists(&f, 100));
    TEST_CHECK(!transfer_exists(&f, 103));
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Idempotency                                                              */

/* The transfer fields compared for idempotency, in the documented order:
 * flags, debit, credit, amount, pending_id, user_data_128, user_data_64,
 * user_data_32, timeout, ledger, code. */
enum { TRANSFER_COMPARED_FIELDS = 11 };

static const uint32_t transfer_field_results[TRANSFER_COMPARED_FIELDS] = {
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_PENDING_ID,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_128,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_64,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_32,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_TIMEOUT,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_LEDGER,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CODE,
};

/* Each change keeps steps 1-5 valid, so that the exists check decides. */
static void transfer_field_change(ledger_transfer_t *t, int field) {
    switch (field) {
    case 0: t->flags = 0; break; /* pending -> single-phase */
    case 1: t->debit_account_id = id128(3); break;
    case 2: t->credit_account_id = id128(4); break;
    case 3: t->amount += 1; break;
    case 4: t->pending_id = id128(77); break;
    case 5: t->user_data_128.lo ^= 1; break;
    case 6: t->user_data_64 ^= 1; break;
    case 7: t->user_data_32 ^= 1; break;
    case 8: t->timeout *= 2; break;
    case 9: t->ledger = 2; break;
    default: t->code += 1; break;
    }
}

static void test_transfer_exists_fields(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 4, FIXTURE_LEDGER, 0);
    ledger_transfer_t original = pending_make(200, 1, 2, 50, 3600);
    original.user_data_128 = (ledger_u128_t){7, 8};
    original.user_data_64 = 9;
    original.user_data_32 = 10;
    uint64_t ts = EXPECT_TRANSFER_OK(&f, original);

    f.now_ns += FIXTURE_NS_PER_S;
    snapshot_take(&f, &snapshot_before);
    ledger_result_t result = transfer_submit(&f, original);
    CHECK_RESULT(result.result, LEDGER_RESULT_EXISTS);
    TEST_CHECK_EQ(result.timestamp, ts);
    snapshot_check_at(&f, &snapshot_before, 0, __FILE__, __LINE__);

    for (int k = 0; k < TRANSFER_COMPARED_FIELDS; k++) {
        ledger_transfer_t changed = original;
        for (int field = k; field < TRANSFER_COMPARED_FIELDS; field++) {
            transfer_field_change(&changed, field);
        }
        EXPECT_TRANSFER_REFUSED(&f, changed, transfer_field_results[k]);
        changed = original;
        transfer_field_change(&changed, k);
        EXPECT_TRANSFER_REFUSED(&f, changed, transfer_field_results[k]);
    }

    /* Created with LINKED in a chain; resubmitted alone without it. */
    ledger_transfer_t chain[2] = {transfer_make(201, 1, 2, 1),
                                  transfer_make(202, 2, 1, 1)};
    chain[0].flags = LEDGER_TRANSFER_LINKED;
    ledger_result_t results[2];
    transfers_submit(&f, chain, 2, results);
    CHECK_RESULT(results[0].result, LEDGER_RESULT_OK);
    CHECK_RESULT(results[1].result, LEDGER_RESULT_OK);
    ledger_transfer_t stored;
    TEST_CHECK(fixture_transfer_find(&f, chain[0].id, &stored));
    TEST_CHECK_EQ(stored.flags, 0); /* linked is not stored */
    chain[0].flags = 0;
    result = transfer_submit(&f, chain[0]);
    CHECK_RESULT(result.result, LEDGER_RESULT_EXISTS);
    TEST_CHECK_EQ(result.timestamp, results[0].timestamp);
    fixture_close(&f);
}

/* Post/void: zero fields match anything; balancing: amount >= stored. */
static void test_transfer_exists_post_void_balancing(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 3, FIXTURE_LEDGER, 0);
    EXPECT_TRANSFER_OK(&f, pending_make(300, 1, 2, 40, 0));
    ledger_transfer_t post = post_make(301, 300, 0);
    uint64_t post_ts = EXPECT_TRANSFER_OK(&f, post);

    ledger_result_t result = transfer_submit(&f, post);
    CHECK_RESULT(result.result, LEDGER_RESULT_EXISTS);
    TEST_CHECK_EQ(result.timestamp, post_ts);
    ledger_transfer_t full = post;
    full.debit_account_id = id128(1);
    full.credit_account_id = id128(2);
    full.ledger = FIXTURE_LEDGER;
    full.code = FIXTURE_CODE;
    full.amount = 40;
    result = transfer_submit(&f, full);
    CHECK_RESULT(result.result, LEDGER_RESULT_EXISTS);
    ledger_transfer_t wrong = full;
    wrong.amount = 39;
    EXPECT_TRANSFER_REFUSED(&f, wrong,
                            LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT);
    wrong = full;
    wrong.debit_account_id = id128(3);
    EXPECT_TRANSFER_REFUSED(
        &f, wrong, LEDGER_RESULT_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID);
    wrong = post;
    wrong.pending_id = id128(999);
    EXPECT_TRANSFER_REFUSED(&f, wrong,
                            LEDGER_RESULT_EXISTS_WITH_DIFFERENT_PENDING_ID);

    EXPECT_TRANSFER_OK(&f, pending_make(302, 1, 2, 15, 0));
    EXPECT_TRANSFER_OK(&f, void_make(303, 302));
    ledger_transfer_t void_full = void_make(303, 302);
    void_full.debit_account_id = id128(1);
    void_full.credit_account_id = id128(2);
    void_full.ledger = FIXTURE_LEDGER;
    void_full.code = FIXTURE_CODE;
    result = transfer_submit(&f, void_full);
    CHECK_RESULT(result.result, LEDGER_RESULT_EXISTS);

    /* Account 4 has credits_posted 100: a balancing debit moves 100. */
    fixture_accounts_range(&f, 4, 2, FIXTURE_LEDGER, 0);
    EXPECT_TRANSFER_OK(&f, transfer_make(310, 5, 4, 100));
    ledger_transfer_t balancing = transfer_make(311, 4, 5, 1000);
    balancing.flags = LEDGER_TRANSFER_BALANCING_DEBIT;
    EXPECT_TRANSFER_OK(&f, balancing);
    TEST_CHECK_EQ(stored_amount(&f, 311), 100);
    uint64_t amounts_matching[] = {1000, 100, 5000, UINT64_MAX};
    for (size_t i = 0; i < sizeof amounts_matching / sizeof *amounts_matching;
         i++) {
        balancing.amount = amounts_matching[i];
        result = transfer_submit(&f, balancing);
        CHECK_RESULT(result.result, LEDGER_RESULT_EXISTS);
    }
    balancing.amount = 99;
    EXPECT_TRANSFER_REFUSED(&f, balancing,
                            LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT);
    fixture_close(&f);
}

/* A transient failure burns the id forever, across reopen; a non-transient
 * one does not; inside a chain only the failing event's id is burnt. */
static void test_transfer_id_already_failed(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(400, 9, 2, 10),
                            LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND);
    fixture_accounts_range(&f, 9, 1, FIXTURE_LEDGER, 0);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(400, 9, 2, 10),
                            LEDGER_RESULT_ID_ALREADY_FAILED);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(400, 1, 2, 77),
                            LEDGER_RESULT_ID_ALREADY_FAILED);
    EXPECT_TRANSFER_REFUSED(&f, pending_make(400, 1, 2, 10, 0),
                            LEDGER_RESULT_ID_ALREADY_FAILED);

    /* The same after close and reopen (checkpoint + replay). */
    fixture_shut(&f);
    fixture_reopen(&f);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(400, 9, 2, 10),
                            LEDGER_RESULT_ID_ALREADY_FAILED);

    /* Pending transfer not found (transient) burns the post's id. */
    EXPECT_TRANSFER_REFUSED(&f, post_make(405, 406, 0),
                            LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND);
    EXPECT_TRANSFER_OK(&f, pending_make(406, 1, 2, 10, 0));
    EXPECT_TRANSFER_REFUSED(&f, post_make(405, 406, 0),
                            LEDGER_RESULT_ID_ALREADY_FAILED);

    /* Chain with a transient failure: only the failing id is burnt. */
    ledger_transfer_t chain[2] = {transfer_make(401, 1, 2, 1),
                                  transfer_make(402, 1, 8, 1)};
    chain[0].flags = LEDGER_TRANSFER_LINKED;
    ledger_result_t results[2];
    snapshot_take(&f, &snapshot_before);
    transfers_submit(&f, chain, 2, results);
    CHECK_RESULT(results[0].result, LEDGER_RESULT_LINKED_EVENT_FAILED);
    CHECK_RESULT(results[1].result, LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND);
    snapshot_check_at(&f, &snapshot_before, 1, __FILE__, __LINE__);
    EXPECT_TRANSFER_OK(&f, transfer_make(401, 1, 2, 1));
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(402, 1, 2, 1),
                            LEDGER_RESULT_ID_ALREADY_FAILED);

    /* Chain with a non-transient failure: nothing is burnt. */
    chain[0] = transfer_make(403, 1, 2, 1);
    chain[0].flags = LEDGER_TRANSFER_LINKED;
    chain[1] = transfer_make(404, 1, 1, 1);
    snapshot_take(&f, &snapshot_before);
    transfers_submit(&f, chain, 2, results);
    CHECK_RESULT(results[0].result, LEDGER_RESULT_LINKED_EVENT_FAILED);
    CHECK_RESULT(results[1].result, LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT);
    snapshot_check_at(&f, &snapshot_before, 0, __FILE__, __LINE__);
    EXPECT_TRANSFER_OK(&f, transfer_make(404, 1, 2, 1));
    EXPECT_TRANSFER_OK(&f, transfer_make(403, 1, 2, 1));

    /* A state-independent check (step 5) still comes before step 6. */
    ledger_transfer_t mutex = transfer_make(400, 9, 2, 10);
    mutex.flags = LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_POST_PENDING;
    EXPECT_TRANSFER_REFUSED(&f, mutex,
                            LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
    fixture_shut(&f);
    fixture_reopen(&f);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(402, 1, 2, 1),
                            LEDGER_RESULT_ID_ALREADY_FAILED);
    EXPECT_TRANSFER_REFUSED(&f, post_make(405, 406, 0),
                            LEDGER_RESULT_ID_ALREADY_FAILED);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Two-phase transfers                                                      */

/* Pending, full post, partial post, void: the effects of the table in
 * docs/ledger.md, and what the stored post carries. */
static void test_pending_post_void_effects(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    ledger_stats_t before = fixture_stats(&f);
    EXPECT_TRANSFER_OK(&f, pending_make(500, 1, 2, 100, 0));
    CHECK_BALANCES(&f, 1, 100, 0, 0, 0);
    CHECK_BALANCES(&f, 2, 0, 0, 100, 0);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, before.pending_count + 1);

    EXPECT_TRANSFER_OK(&f, post_make(501, 500, 0));
    CHECK_BALANCES(&f, 1, 0, 100, 0, 0);
    CHECK_BALANCES(&f, 2, 0, 0, 0, 100);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, before.pending_count);
    ledger_transfer_t stored;
    TEST_CHECK(fixture_transfer_find(&f, id128(501), &stored));
    TEST_CHECK_EQ(stored.amount, 100);
    TEST_CHECK_EQ(stored.debit_account_id.lo, 1);
    TEST_CHECK_EQ(stored.credit_account_id.lo, 2);
    TEST_CHECK_EQ(stored.ledger, FIXTURE_LEDGER);
    TEST_CHECK_EQ(stored.code, FIXTURE_CODE);
    TEST_CHECK_EQ(stored.pending_id.lo, 500);
    TEST_CHECK_EQ(stored.flags, LEDGER_TRANSFER_POST_PENDING);

    /* Partial post: 30 posted, the other 70 released. */
    EXPECT_TRANSFER_OK(&f, pending_make(502, 1, 2, 100, 0));
    EXPECT_TRANSFER_OK(&f, post_make(503, 502, 30));
    CHECK_BALANCES(&f, 1, 0, 130, 0, 0);
    CHECK_BALANCES(&f, 2, 0, 0, 0, 130);
    TEST_CHECK(fixture_transfer_find(&f, id128(503), &stored));
    TEST_CHECK_EQ(stored.amount, 30);

    /* Void with every optional field given and matching. */
    EXPECT_TRANSFER_OK(&f, pending_make(504, 1, 2, 100, 0));
    ledger_transfer_t v = void_make(505, 504);
    v.debit_account_id = id128(1);
    v.credit_account_id = id128(2);
    v.ledger = FIXTURE_LEDGER;
    v.code = FIXTURE_CODE;
    v.amount = 100;
    EXPECT_TRANSFER_OK(&f, v);
    CHECK_BALANCES(&f, 1, 0, 130, 0, 0);
    CHECK_BALANCES(&f, 2, 0, 0, 0, 130);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, before.pending_count);
    /* The stored void carries the pending amount it released. */
    EXPECT_TRANSFER_OK(&f, pending_make(506, 1, 2, 60, 0));
    EXPECT_TRANSFER_OK(&f, void_make(507, 506));
    TEST_CHECK(fixture_transfer_find(&f, id128(507), &stored));
    TEST_CHECK_EQ(stored.amount, 60);
    TEST_CHECK_EQ(stored.debit_account_id.lo, 1);
    TEST_CHECK_EQ(stored.credit_account_id.lo, 2);
    TEST_CHECK_EQ(stored.ledger, FIXTURE_LEDGER);
    TEST_CHECK_EQ(stored.code, FIXTURE_CODE);
    TEST_CHECK_EQ(stored.flags, LEDGER_TRANSFER_VOID_PENDING);
    /* The pending transfers themselves stay as they were created. */
    TEST_CHECK(fixture_transfer_find(&f, id128(504), &stored));
    TEST_CHECK_EQ(stored.amount, 100);
    TEST_CHECK_EQ(stored.flags, LEDGER_TRANSFER_PENDING);
    fixture_close(&f);
}

static void test_post_void_refusals(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    EXPECT_TRANSFER_OK(&f, pending_make(500, 1, 2, 100, 0));
    EXPECT_TRANSFER_OK(&f, post_make(501, 500, 0));
    EXPECT_TRANSFER_OK(&f, pending_make(504, 1, 2, 100, 0));
    EXPECT_TRANSFER_OK(&f, void_make(505, 504));
    EXPECT_TRANSFER_OK(&f, pending_make(506, 1, 2, 100, 0));
    EXPECT_TRANSFER_OK(&f, transfer_make(520, 1, 2, 5));

    ledger_transfer_t t = post_make(510, 0, 0);
    EXPECT_TRANSFER_REFUSED(&f, t, LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_ZERO);
    t.pending_id = id128_max();
    EXPECT_TRANSFER_REFUSED(&f, t,
                            LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_INT_MAX);
    t.pending_id = id128(510);
    EXPECT_TRANSFER_REFUSED(&f, t, LEDGER_RESULT_PENDING_ID_MUST_BE_DIFFERENT);
    t = post_make(510, 506, 0);
    t.timeout = 5;
    EXPECT_TRANSFER_REFUSED(
        &f, t, LEDGER_RESULT_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER);
    EXPECT_TRANSFER_REFUSED(&f, post_make(511, 9999, 0),
                            LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND);
    EXPECT_TRANSFER_REFUSED(&f, void_make(512, 520),
                            LEDGER_RESULT_PENDING_TRANSFER_NOT_PENDING);
    EXPECT_TRANSFER_REFUSED(&f, post_make(512, 501, 0),
                            LEDGER_RESULT_PENDING_TRANSFER_NOT_PENDING);

    t = post_make(513, 506, 0);
    t.debit_account_id = id128(2);
    EXPECT_TRANSFER_REFUSED(
        &f, t, LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID);
    t = post_make(513, 506, 0);
    t.credit_account_id = id128(1);
    EXPECT_TRANSFER_REFUSED(
        &f, t, LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID);
    t = post_make(513, 506, 0);
    t.ledger = 2;
    EXPECT_TRANSFER_REFUSED(&f, t,
        LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER);
    t = void_make(513, 506);
    t.code = 2;
    EXPECT_TRANSFER_REFUSED(&f, t,
                            LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CODE);
    EXPECT_TRANSFER_REFUSED(&f, post_make(513, 506, 101),
                            LEDGER_RESULT_EXCEEDS_PENDING_TRANSFER_AMOUNT);
    t = void_make(513, 506);
    t.amount = 50;
    EXPECT_TRANSFER_REFUSED(&f, t,
        LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT);
    EXPECT_TRANSFER_REFUSED(&f, post_make(514, 500, 0),
                            LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED);
    EXPECT_TRANSFER_REFUSED(&f, void_make(515, 500),
                            LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED);
    EXPECT_TRANSFER_REFUSED(&f, post_make(516, 504, 0),
                            LEDGER_RESULT_PENDING_TRANSFER_ALREADY_VOIDED);
    EXPECT_TRANSFER_REFUSED(&f, void_make(517, 504),
                            LEDGER_RESULT_PENDING_TRANSFER_ALREADY_VOIDED);

    /* None of those used up id 513 nor resolved 506. */
    CHECK_BALANCES(&f, 1, 100, 105, 0, 0);
    t = void_make(513, 506);
    t.amount = 100;
    EXPECT_TRANSFER_OK(&f, t);
    CHECK_BALANCES(&f, 1, 0, 105, 0, 0);
    CHECK_BALANCES(&f, 2, 0, 0, 0, 105);
    fixture_close(&f);
}

/* One pending transfer per call, at a chosen clock, so that its timestamp
 * and hence its expires_at are known exactly. */
static uint64_t pending_at(fixture_t *f, uint64_t now_ns, uint64_t id,
                           uint32_t timeout_s) {
    f->now_ns = now_ns;
    uint64_t ts = EXPECT_TRANSFER_OK(f, pending_make(id, 1, 2, id, timeout_s));
    TEST_CHECK_EQ(ts, now_ns);
    return ts;
}

/* The expiry entries in account 1's history, oldest first. */
static uint32_t expiries_read(fixture_t *f, uint64_t *pending_ids,
                              uint64_t *timestamps, uint32_t capacity) {
    ledger_history_filter_t filter = {
        .account_id = id128(1),
        .limit = LEDGER_HISTORY_LIMIT_MAX,
        .flags = LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS};
    static ledger_history_entry_t entries[LEDGER_HISTORY_LIMIT_MAX];
    uint32_t count = 0;
    int rc = ledger_account_history(f->ledger, &filter, entries, &count);
    TEST_CHECK_EQ(rc, 0);
    uint32_t expiries = 0;
    for (uint32_t i = 0; i < count && expiries < capacity; i++) {
        if (entries[i].kind != LEDGER_EVENT_EXPIRY) continue;
        TEST_CHECK(ledger_u128_is_zero(entries[i].transfer.id));
        pending_ids[expiries] = entries[i].transfer.pending_id.lo;
        timestamps[expiries++] = entries[i].transfer.timestamp;
    }
    return expiries;
}

/* Expiry: at expires_at <= now, earliest expires_at first, ties by id. */
static void test_pending_expiry_order(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    const uint64_t t0 = FIXTURE_CLOCK_START + 10 * FIXTURE_NS_PER_S;
    const uint64_t s = FIXTURE_NS_PER_S;
    pending_at(&f, t0, 20, 6);          /* expires t0 + 6 s */
    pending_at(&f, t0 + s, 10, 5);      /* expires t0 + 6 s: tie, id 10 first */
    pending_at(&f, t0 + 2 * s, 30, 1);  /* expires t0 + 3 s */
    pending_at(&f, t0 + 2 * s + 1, 40, 2); /* expires t0 + 4 s + 1 */
    pending_at(&f, t0 + 2 * s + 2, 50, 0); /* never */
    pending_at(&f, t0 + 2 * s + 3, 60, 100);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, 6);

    uint32_t expired = UINT32_MAX;
    f.now_ns = t0 + 3 * s - 1;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 0);
    f.now_ns = t0 + 3 * s;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 1);
    f.now_ns = t0 + 10 * s;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 3);
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, NULL), 0);

    uint64_t ids[8] = {0}, stamps[8] = {0};
    uint32_t count = expiries_read(&f, ids, stamps, 8);
    TEST_CHECK_EQ(count, 4);
    const uint64_t expected_ids[4] = {30, 40, 10, 20};
    for (uint32_t i = 0; i < 4 && i < count; i++) {
        TEST_CHECK_EQ(ids[i], expected_ids[i]);
        if (i > 0) TEST_CHECK(stamps[i] > stamps[i - 1]);
    }
    TEST_CHECK_EQ(stamps[0], t0 + 3 * s);
    TEST_CHECK_EQ(stamps[1], t0 + 10 * s);
    /* Expired amounts left the pending balances; 50 and 60 remain. */
    CHECK_BALANCES(&f, 1, 110, 0, 0, 0);
    CHECK_BALANCES(&f, 2, 0, 0, 110, 0);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, 2);

    EXPECT_TRANSFER_REFUSED(&f, post_make(70, 30, 0),
                            LEDGER_RESULT_PENDING_TRANSFER_EXPIRED);
    EXPECT_TRANSFER_REFUSED(&f, void_make(71, 10),
                            LEDGER_RESULT_PENDING_TRANSFER_EXPIRED);

    /* create_transfers expires first: 60 expires before the new event. */
    f.now_ns = t0 + 200 * s;
    uint64_t ts = EXPECT_TRANSFER_OK(&f, transfer_make(72, 2, 1, 1));
    count = expiries_read(&f, ids, stamps, 8);
    TEST_CHECK_EQ(count, 5);
    TEST_CHECK_EQ(ids[4], 60);
    TEST_CHECK(stamps[4] < ts);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, 1);
    EXPECT_TRANSFER_OK(&f, post_make(73, 50, 0));
    CHECK_BALANCES(&f, 1, 0, 50, 0, 1);
    fixture_close(&f);
}

/* docs/ledger.md: a post/void whose pending expires_at <= the event's own
 * timestamp is refused even though the expiry pass (at `now`) did not
 * release it yet — possible when the clock stepped back. */
static void test_pending_expired_by_event_timestamp(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    const uint64_t t0 = FIXTURE_CLOCK_START + FIXTURE_NS_PER_S;
    pending_at(&f, t0, 80, 1); /* expires t0 + 1 s */
    f.now_ns = t0 + FIXTURE_NS_PER_S + 5;
    fixture_accounts_range(&f, 3, 1, FIXTURE_LEDGER, 0); /* last_ts moves on */
    f.now_ns = t0 + FIXTURE_NS_PER_S - 1; /* the clock steps back */
    EXPECT_TRANSFER_REFUSED(&f, post_make(81, 80, 0),
                            LEDGER_RESULT_PENDING_TRANSFER_EXPIRED);
    TEST_CHECK(!transfer_exists(&f, 81));
    /* Exactly at expires_at, the expiry pass releases it. */
    f.now_ns = t0 + FIXTURE_NS_PER_S;
    uint32_t expired = 0;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 1);
    CHECK_BALANCES(&f, 1, 0, 0, 0, 0);
    EXPECT_TRANSFER_REFUSED(&f, void_make(82, 80),
                            LEDGER_RESULT_PENDING_TRANSFER_EXPIRED);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Balancing, closing, overflow, limits                                     */

static ledger_transfer_t balancing_make(uint64_t id, uint64_t debit,
                                        uint64_t credit, uint64_t amount,
                                        uint16_t flags) {
    ledger_transfer_t t = transfer_make(id, debit, credit, amount);
    t.flags = flags;
    return t;
}

/* docs/ledger.md, Balancing transfers. Accounts: 1 D, 2 source, 3 sink,
 * 4 C, 5 sink, 6 D with debits_must_not_exceed_credits, 7-10 pairs. */
static void test_balancing_amounts(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 5, FIXTURE_LEDGER, 0);
    fixture_accounts_range(&f, 6, 1, FIXTURE_LEDGER,
                           LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    fixture_accounts_range(&f, 7, 4, FIXTURE_LEDGER, 0);
    const uint16_t bd = LEDGER_TRANSFER_BALANCING_DEBIT;
    const uint16_t bc = LEDGER_TRANSFER_BALANCING_CREDIT;

    fixture_transfer_ok(&f, transfer_make(101, 2, 1, 100));
    EXPECT_TRANSFER_OK(&f, balancing_make(10, 1, 3, 30, bd));
    TEST_CHECK_EQ(stored_amount(&f, 10), 30);
    EXPECT_TRANSFER_OK(&f, balancing_make(11, 1, 3, 1000, bd));
    TEST_CHECK_EQ(stored_amount(&f, 11), 70);
    CHECK_BALANCES(&f, 1, 0, 100, 0, 100);
    /* Nothing left: created with amount 0, nothing moves. */
    EXPECT_TRANSFER_OK(&f, balancing_make(12, 1, 3, 50, bd));
    TEST_CHECK_EQ(stored_amount(&f, 12), 0);
    CHECK_BALANCES(&f, 1, 0, 100, 0, 100);
    CHECK_BALANCES(&f, 3, 0, 0, 0, 100);
    /* Pending debits count against the limit. */
    fixture_transfer_ok(&f, transfer_make(102, 2, 1, 50));
    fixture_transfer_ok(&f, pending_make(103, 1, 3, 20, 0));
    EXPECT_TRANSFER_OK(&f, balancing_make(15, 1, 3, 1000, bd));
    TEST_CHECK_EQ(stored_amount(&f, 15), 30);
    CHECK_BALANCES(&f, 1, 20, 130, 0, 150);

    /* balancing_credit, with pending credits counted. */
    fixture_transfer_ok(&f, transfer_make(104, 4, 5, 80));
    fixture_transfer_ok(&f, pending_make(105, 2, 4, 10, 0));
    EXPECT_TRANSFER_OK(&f, balancing_make(20, 2, 4, 1000, bc));
    TEST_CHECK_EQ(stored_amount(&f, 20), 70);
    CHECK_BALANCES(&f, 4, 0, 80, 10, 70);

    /* Both flags: both limits apply, whichever is smaller. */
    fixture_transfer_ok(&f, transfer_make(106, 2, 7, 40));
    fixture_transfer_ok(&f, transfer_make(107, 8, 2, 25));
    EXPECT_TRANSFER_OK(&f, balancing_make(30, 7, 8, 1000, bd | bc));
    TEST_CHECK_EQ(stored_amount(&f, 30), 25);
    fixture_transfer_ok(&f, transfer_make(108, 2, 9, 10));
    fixture_transfer_ok(&f, transfer_make(109, 10, 2, 60));
    EXPECT_TRANSFER_OK(&f, balancing_make(31, 9, 10, 1000, bd | bc));
    TEST_CHECK_EQ(stored_amount(&f, 31), 10);
    EXPECT_TRANSFER_OK(&f, balancing_make(32, 9, 10, 1000, bd | bc));
    TEST_CHECK_EQ(stored_amount(&f, 32), 0);

    /* The account flags do not change the computation (and never make a
     * balancing debit exceed the credits). */
    fixture_transfer_ok(&f, transfer_make(110, 2, 6, 100));
    EXPECT_TRANSFER_OK(&f, balancing_make(40, 6, 3, 1000, bd));
    TEST_CHECK_EQ(stored_amount(&f, 40), 100);
    EXPECT_TRANSFER_OK(&f, balancing_make(41, 6, 3, 1000, bd));
    TEST_CHECK_EQ(stored_amount(&f, 41), 0);
    CHECK_BALANCES(&f, 6, 0, 100, 0, 100);
    fixture_close(&f);
}

static ledger_transfer_t closing_make(uint64_t id, uint64_t debit,
                                      uint64_t credit, uint16_t closing,
                                      uint32_t timeout_s) {
    ledger_transfer_t t = pending_make(id, debit, credit, 5, timeout_s);
    t.flags |= closing;
    return t;
}

/* docs/ledger.md, Closing transfers. Accounts 1 A, 2 B, 3 C. */
static void test_closing_accounts(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 3, FIXTURE_LEDGER, 0);
    const uint16_t cd = LEDGER_TRANSFER_CLOSING_DEBIT;
    const uint16_t cc = LEDGER_TRANSFER_CLOSING_CREDIT;
    EXPECT_TRANSFER_OK(&f, pending_make(600, 1, 2, 10, 0));
    EXPECT_TRANSFER_OK(&f, closing_make(601, 1, 2, cd, 0));
    TEST_CHECK_EQ(account_flags(&f, 1), LEDGER_ACCOUNT_CLOSED);
    TEST_CHECK_EQ(account_flags(&f, 2), 0);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(602, 1, 3, 1),
                            LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(603, 3, 1, 1),
                            LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED);
    EXPECT_TRANSFER_REFUSED(&f, pending_make(604, 1, 3, 1, 0),
                            LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED);
    EXPECT_TRANSFER_REFUSED(&f, closing_make(605, 3, 1, cc, 0),
                            LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED);
    /* Post and void of existing pending transfers still work. */
    EXPECT_TRANSFER_OK(&f, post_make(606, 600, 0));
    TEST_CHECK_EQ(account_flags(&f, 1), LEDGER_ACCOUNT_CLOSED);
    EXPECT_TRANSFER_OK(&f, void_make(607, 601));
    TEST_CHECK_EQ(account_flags(&f, 1), 0);
    CHECK_BALANCES(&f, 1, 0, 10, 0, 0);
    EXPECT_TRANSFER_OK(&f, transfer_make(608, 1, 3, 1));

    /* closing_credit, then post: closed for good. */
    EXPECT_TRANSFER_OK(&f, closing_make(609, 1, 2, cc, 0));
    TEST_CHECK_EQ(account_flags(&f, 2), LEDGER_ACCOUNT_CLOSED);
    TEST_CHECK_EQ(account_flags(&f, 1), 0);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(610, 3, 2, 1),
                            LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(611, 2, 3, 1),
                            LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED);
    EXPECT_TRANSFER_OK(&f, post_make(612, 609, 0));
    TEST_CHECK_EQ(account_flags(&f, 2), LEDGER_ACCOUNT_CLOSED);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(613, 3, 2, 1),
                            LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED);

    /* Expiry reopens. */
    EXPECT_TRANSFER_OK(&f, closing_make(614, 1, 3, cd, 1));
    TEST_CHECK_EQ(account_flags(&f, 1), LEDGER_ACCOUNT_CLOSED);
    f.now_ns += 2 * FIXTURE_NS_PER_S;
    uint32_t expired = 0;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 1);
    TEST_CHECK_EQ(account_flags(&f, 1), 0);
    EXPECT_TRANSFER_OK(&f, transfer_make(615, 1, 3, 1));

    /* Both sides at once; void reopens both. */
    EXPECT_TRANSFER_OK(&f, closing_make(616, 1, 3, cd | cc, 0));
    TEST_CHECK_EQ(account_flags(&f, 1), LEDGER_ACCOUNT_CLOSED);
    TEST_CHECK_EQ(account_flags(&f, 3), LEDGER_ACCOUNT_CLOSED);
    EXPECT_TRANSFER_OK(&f, void_make(617, 616));
    TEST_CHECK_EQ(account_flags(&f, 1), 0);
    TEST_CHECK_EQ(account_flags(&f, 3), 0);
    /* The closed flag survives reopening the ledger. */
    TEST_CHECK_EQ(account_flags(&f, 2), LEDGER_ACCOUNT_CLOSED);
    fixture_shut(&f);
    fixture_reopen(&f);
    TEST_CHECK_EQ(account_flags(&f, 2), LEDGER_ACCOUNT_CLOSED);
    TEST_CHECK_EQ(account_flags(&f, 1), 0);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(618, 3, 2, 1),
                            LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED);
    fixture_close(&f);
}

/* Every overflows_* result. Accounts 1..16 on FIXTURE_LEDGER. */
static void test_overflows(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 16, FIXTURE_LEDGER, 0);
    const uint64_t max = UINT64_MAX;

    EXPECT_TRANSFER_OK(&f, pending_make(700, 1, 2, max, 0));
    CHECK_BALANCES(&f, 1, max, 0, 0, 0);
    EXPECT_TRANSFER_REFUSED(&f, pending_make(701, 1, 3, 1, 0),
                            LEDGER_RESULT_OVERFLOWS_DEBITS_PENDING);
    EXPECT_TRANSFER_REFUSED(&f, pending_make(702, 4, 2, 1, 0),
                            LEDGER_RESULT_OVERFLOWS_CREDITS_PENDING);
    EXPECT_TRANSFER_OK(&f, transfer_make(703, 5, 6, max));
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(704, 5, 7, 1),
                            LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(705, 8, 6, 1),
                            LEDGER_RESULT_OVERFLOWS_CREDITS_POSTED);
    /* Posted fits, pending + posted does not. */
    EXPECT_TRANSFER_OK(&f, pending_make(706, 9, 10, 10, 0));
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(707, 9, 11, max - 5),
                            LEDGER_RESULT_OVERFLOWS_DEBITS);
    EXPECT_TRANSFER_OK(&f, pending_make(708, 12, 13, 10, 0));
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(709, 14, 13, max - 5),
                            LEDGER_RESULT_OVERFLOWS_CREDITS);
    /* At the bound exactly: pending + posted = 2^64 - 1 is fine. */
    EXPECT_TRANSFER_OK(&f, transfer_make(710, 9, 11, max - 10));
    CHECK_BALANCES(&f, 9, 10, max - 10, 0, 0);

    /* overflows_timeout: ts + timeout * 10^9 > 2^64 - 1. */
    f.now_ns = max - 2000000000 * FIXTURE_NS_PER_S;
    EXPECT_TRANSFER_REFUSED(&f, pending_make(711, 15, 16, 1, 3000000000u),
                            LEDGER_RESULT_OVERFLOWS_TIMEOUT);
    EXPECT_TRANSFER_OK(&f, pending_make(712, 15, 16, 1, 1000000000u));
    CHECK_BALANCES(&f, 15, 1, 0, 0, 0);
    fixture_close(&f);
}

/* exceeds_credits / exceeds_debits, at and past the limit. */
static void test_exceeds(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 1, FIXTURE_LEDGER,
                           LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    fixture_accounts_range(&f, 2, 2, FIXTURE_LEDGER, 0);
    fixture_accounts_range(&f, 4, 1, FIXTURE_LEDGER,
                           LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS);
    fixture_accounts_range(&f, 5, 1, FIXTURE_LEDGER, 0);
    fixture_transfer_ok(&f, transfer_make(1, 2, 1, 100));
    EXPECT_TRANSFER_OK(&f, transfer_make(800, 1, 3, 60));
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(801, 1, 3, 41),
                            LEDGER_RESULT_EXCEEDS_CREDITS);
    EXPECT_TRANSFER_OK(&f, transfer_make(802, 1, 3, 40));
    EXPECT_TRANSFER_REFUSED(&f, pending_make(803, 1, 3, 1, 0),
                            LEDGER_RESULT_EXCEEDS_CREDITS);
    /* Pending debits count; posting a reservation needs no new room. */
    fixture_transfer_ok(&f, transfer_make(2, 2, 1, 10));
    EXPECT_TRANSFER_OK(&f, pending_make(804, 1, 3, 10, 0));
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(805, 1, 3, 1),
                            LEDGER_RESULT_EXCEEDS_CREDITS);
    EXPECT_TRANSFER_OK(&f, post_make(806, 804, 0));
    CHECK_BALANCES(&f, 1, 0, 110, 0, 110);

    fixture_transfer_ok(&f, transfer_make(3, 4, 5, 100));
    EXPECT_TRANSFER_OK(&f, transfer_make(810, 5, 4, 100));
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(811, 5, 4, 1),
                            LEDGER_RESULT_EXCEEDS_DEBITS);
    EXPECT_TRANSFER_REFUSED(&f, pending_make(812, 5, 4, 1, 0),
                            LEDGER_RESULT_EXCEEDS_DEBITS);
    CHECK_BALANCES(&f, 4, 0, 100, 0, 100);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Linked chains                                                            */

static void results_check_at(const ledger_result_t *results,
                             const uint32_t *expected, uint32_t count,
                             const char *file, int line) {
    for (uint32_t i = 0; i < count; i++) {
        result_check_at(results[i].result, expected[i], file, line);
        if (expected[i] != LEDGER_RESULT_OK &&
            expected[i] != LEDGER_RESULT_EXISTS) {
            result_failure_fields_check_at(results[i], file, line);
        }
    }
}

#define CHECK_RESULTS(results, ...)                                           \
    do {                                                                      \
        const uint32_t expected_[] = {__VA_ARGS__};                           \
        results_check_at((results), expected_,                                \
                         sizeof expected_ / sizeof expected_[0], __FILE__,    \
                         __LINE__);                                           \
    } while (0)

/* Submits transfers expecting the listed results; returns nothing, checks
 * the journal growth given. */
static void chain_submit_at(fixture_t *f, const ledger_transfer_t *transfers,
                            uint32_t count, ledger_result_t *results,
                            uint64_t journal_growth, const char *file,
                            int line) {
    snapshot_take(f, &snapshot_before);
    transfers_submit(f, transfers, count, results);
    ledger_stats_t after = fixture_stats(f);
    if (after.journal_sequence !=
        snapshot_before.stats.journal_sequence + journal_growth) {
        test_failures_in_case++;
        printf("# %s:%d: journal grew by %" PRIu64 ", expected %" PRIu64 "\n",
               file, line,
               after.journal_sequence - snapshot_before.stats.journal_sequence,
               journal_growth);
    }
}

#define CHAIN_SUBMIT(f, transfers, results, growth)                           \
    chain_submit_at((f), (transfers),                                         \
                    sizeof(transfers) / sizeof((transfers)[0]), (results),    \
                    (growth), __FILE__, __LINE__)

static ledger_transfer_t linked(ledger_transfer_t t) {
    t.flags |= LEDGER_TRANSFER_LINKED;
    return t;
}

static void test_linked_chain_success(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 4, FIXTURE_LEDGER, 0);
    fixture_accounts_range(&f, 5, 1, FIXTURE_LEDGER,
                           LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    ledger_transfer_t chain[3] = {linked(transfer_make(1, 1, 2, 10)),
                                  linked(transfer_make(2, 2, 3, 10)),
                                  transfer_make(3, 3, 4, 10)};
    ledger_result_t results[3];
    CHAIN_SUBMIT(&f, chain, results, 3);
    CHECK_RESULTS(results, LEDGER_RESULT_OK, LEDGER_RESULT_OK,
                  LEDGER_RESULT_OK);
    TEST_CHECK(results[0].timestamp < results[1].timestamp);
    TEST_CHECK(results[1].timestamp < results[2].timestamp);
    CHECK_BALANCES(&f, 1, 0, 10, 0, 0);
    CHECK_BALANCES(&f, 2, 0, 10, 0, 10);
    CHECK_BALANCES(&f, 4, 0, 0, 0, 10);
    /* A later event of the chain sees the earlier one's effect. */
    ledger_transfer_t fund_then_spend[2] = {linked(transfer_make(4, 1, 5, 7)),
                                            transfer_make(5, 5, 2, 7)};
    CHAIN_SUBMIT(&f, fund_then_spend, results, 2);
    CHECK_RESULTS(results, LEDGER_RESULT_OK, LEDGER_RESULT_OK);
    CHECK_BALANCES(&f, 5, 0, 7, 0, 7);
    /* ... also the reverse order fails as one: spend before fund. */
    ledger_transfer_t spend_then_fund[2] = {linked(transfer_make(6, 5, 2, 7)),
                                            transfer_make(7, 1, 5, 7)};
    CHAIN_SUBMIT(&f, spend_then_fund, results, 1);
    CHECK_RESULTS(results, LEDGER_RESULT_EXCEEDS_CREDITS,
                  LEDGER_RESULT_LINKED_EVENT_FAILED);
    CHECK_BALANCES(&f, 5, 0, 7, 0, 7);
    TEST_CHECK(!transfer_exists(&f, 7));
    fixture_close(&f);
}

static void test_linked_chain_failure(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 3, FIXTURE_LEDGER, 0);
    ledger_transfer_t chain[5] = {
        linked(transfer_make(10, 1, 2, 1)), linked(transfer_make(11, 2, 3, 1)),
        linked(transfer_make(12, 3, 3, 1)), linked(transfer_make(13, 1, 3, 1)),
        transfer_make(14, 3, 1, 1)};
    ledger_result_t results[5];
    CHAIN_SUBMIT(&f, chain, results, 0);
    CHECK_RESULTS(results, LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT,
                  LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_LINKED_EVENT_FAILED);
    snapshot_check_at(&f, &snapshot_before, 0, __FILE__, __LINE__);
    for (uint64_t id = 10; id <= 14; id++) TEST_CHECK(!transfer_exists(&f, id));

    /* The chain ends at the first event without linked; the next event is
     * independent. */
    ledger_transfer_t two_chains[4] = {
        linked(transfer_make(20, 1, 2, 1)), transfer_make(21, 1, 2, 0),
        linked(transfer_make(22, 1, 2, 2)), transfer_make(23, 2, 1, 1)};
    CHAIN_SUBMIT(&f, two_chains, results, 2);
    CHECK_RESULTS(results, LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO, LEDGER_RESULT_OK,
                  LEDGER_RESULT_OK);
    CHECK_BALANCES(&f, 1, 0, 2, 0, 1);
    /* The ids of a rolled-back chain are free again. */
    EXPECT_TRANSFER_OK(&f, transfer_make(20, 1, 2, 1));
    EXPECT_TRANSFER_OK(&f, transfer_make(21, 1, 2, 1));
    fixture_close(&f);
}

static void test_linked_chain_open(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    ledger_transfer_t batch[3] = {transfer_make(30, 1, 2, 5),
                                  linked(transfer_make(31, 1, 2, 6)),
                                  linked(transfer_make(32, 1, 2, 7))};
    ledger_result_t results[3];
    CHAIN_SUBMIT(&f, batch, results, 1);
    CHECK_RESULTS(results, LEDGER_RESULT_OK, LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN);
    CHECK_BALANCES(&f, 1, 0, 5, 0, 0);
    EXPECT_TRANSFER_REFUSED(&f, linked(transfer_make(33, 1, 2, 1)),
                            LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN);
    /* Open chain wins over a transient failure earlier in the chain. */
    ledger_transfer_t open_after_failure[2] = {
        linked(transfer_make(34, 1, 9, 1)), linked(transfer_make(35, 1, 2, 1))};
    CHAIN_SUBMIT(&f, open_after_failure, results, 0);
    CHECK_RESULTS(results, LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN);
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(34, 1, 9, 1),
                            LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND);

    /* The same rules for accounts. */
    ledger_account_t accounts[3] = {
        account_make(50, FIXTURE_LEDGER, LEDGER_ACCOUNT_LINKED),
        account_make(51, 0, 0),
        account_make(52, FIXTURE_LEDGER, LEDGER_ACCOUNT_LINKED)};
    accounts_submit(&f, accounts, 3, results);
    CHECK_RESULTS(results, LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO,
                  LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN);
    TEST_CHECK(!account_exists(&f, 50));
    TEST_CHECK(!account_exists(&f, 52));
    accounts[1] = account_make(51, FIXTURE_LEDGER, LEDGER_ACCOUNT_LINKED);
    accounts_submit(&f, accounts, 3, results);
    CHECK_RESULTS(results, LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN);
    accounts[2].flags = 0;
    accounts_submit(&f, accounts, 3, results);
    CHECK_RESULTS(results, LEDGER_RESULT_OK, LEDGER_RESULT_OK,
                  LEDGER_RESULT_OK);
    fixture_close(&f);
}

/* A chain that creates and posts a pending transfer; rolled back as one. */
static void test_linked_chain_two_phase(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    ledger_stats_t before = fixture_stats(&f);
    ledger_transfer_t ok_chain[2] = {linked(pending_make(40, 1, 2, 9, 0)),
                                     post_make(41, 40, 4)};
    ledger_result_t results[3];
    CHAIN_SUBMIT(&f, ok_chain, results, 2);
    CHECK_RESULTS(results, LEDGER_RESULT_OK, LEDGER_RESULT_OK);
    CHECK_BALANCES(&f, 1, 0, 4, 0, 0);
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, before.pending_count);

    ledger_transfer_t bad_chain[3] = {linked(pending_make(42, 1, 2, 9, 0)),
                                      linked(post_make(43, 42, 0)),
                                      transfer_make(44, 1, 9, 1)};
    CHAIN_SUBMIT(&f, bad_chain, results, 1);
    CHECK_RESULTS(results, LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND);
    snapshot_check_at(&f, &snapshot_before, 1, __FILE__, __LINE__);
    TEST_CHECK(!transfer_exists(&f, 42));
    TEST_CHECK(!transfer_exists(&f, 43));
    TEST_CHECK_EQ(fixture_stats(&f).pending_count, before.pending_count);
    EXPECT_TRANSFER_OK(&f, pending_make(42, 1, 2, 9, 0));
    EXPECT_TRANSFER_OK(&f, void_make(43, 42));
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(44, 1, 2, 1),
                            LEDGER_RESULT_ID_ALREADY_FAILED);

    /* Posting twice in one chain: the second sees the first. */
    ledger_transfer_t twice[3] = {linked(pending_make(45, 1, 2, 9, 0)),
                                  linked(post_make(46, 45, 0)),
                                  void_make(47, 45)};
    CHAIN_SUBMIT(&f, twice, results, 0);
    CHECK_RESULTS(results, LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED);
    CHECK_BALANCES(&f, 1, 0, 4, 0, 0);
    fixture_close(&f);
}

/* "Events of a linked chain that is rolled back give their timestamps
 * back": with the clock behind, the next event follows the last kept one. */
static void test_linked_chain_gives_timestamps_back(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    uint64_t last = EXPECT_TRANSFER_OK(&f, transfer_make(1, 1, 2, 1));
    f.now_ns = FIXTURE_CLOCK_START - FIXTURE_NS_PER_S;
    ledger_transfer_t chain[3] = {linked(transfer_make(2, 1, 2, 1)),
                                  linked(transfer_make(3, 1, 2, 1)),
                                  transfer_make(4, 0, 2, 1)};
    ledger_result_t results[3];
    CHAIN_SUBMIT(&f, chain, results, 0);
    CHECK_RESULTS(results, LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_LINKED_EVENT_FAILED,
                  LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO);
    TEST_CHECK_EQ(fixture_stats(&f).last_timestamp, last);
    uint64_t next = EXPECT_TRANSFER_OK(&f, transfer_make(5, 1, 2, 1));
    TEST_CHECK_EQ(next, last + 1);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Every combination of transfer flags                                      */

/* Each combination of the 8 defined flags gets its own accounts:
 * D (debit), C (credit) and E (funds C; debited by the chain's tail), and
 * one shared sink. Before the test: C -> D 100 and E -> C 30, so that a
 * balancing debit can move 100 and a balancing credit 70; for post/void,
 * a pending D -> C of 150 to resolve. */
enum {
    MATRIX_COMBOS = 256,
    MATRIX_UNKNOWN_FLAG = 1u << 8,
    MATRIX_SINK = 9999,
    MATRIX_ACCOUNT_BASE = 10000,
    MATRIX_TRANSFER_BASE = 100000,
    MATRIX_AMOUNT = 150,
    MATRIX_DEBIT_ROOM = 100,  /* D.credits_posted */
    MATRIX_CREDIT_ROOM = 70,  /* C.debits_posted - C.credits_posted */
};

#define MATRIX_RESOLVES                                                       \
    (LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_VOID_PENDING)
#define MATRIX_PHASES (LEDGER_TRANSFER_PENDING | MATRIX_RESOLVES)
#define MATRIX_BALANCING                                                      \
    (LEDGER_TRANSFER_BALANCING_DEBIT | LEDGER_TRANSFER_BALANCING_CREDIT)
#define MATRIX_CLOSING                                                        \
    (LEDGER_TRANSFER_CLOSING_DEBIT | LEDGER_TRANSFER_CLOSING_CREDIT)

static uint64_t matrix_debit(uint32_t combo) {
    return MATRIX_ACCOUNT_BASE + 4 * (uint64_t)combo;
}
static uint64_t matrix_credit(uint32_t combo) {
    return matrix_debit(combo) + 1;
}
static uint64_t matrix_extra(uint32_t combo) {
    return matrix_debit(combo) + 2;
}
static uint64_t matrix_id(uint32_t combo, uint32_t k) {
    return MATRIX_TRANSFER_BASE + 8 * (uint64_t)combo + k;
}

/* docs/ledger.md, validation order steps 3, 5 and 12 for these flags. */
static uint32_t transfer_flags_expected(uint32_t flags) {
    const uint32_t phases = flags & MATRIX_PHASES;
    if (flags & ~0xFFu) return LEDGER_RESULT_RESERVED_FLAG;
    if ((phases & (phases - 1)) != 0) {
        return LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    if ((flags & MATRIX_RESOLVES) &&
        (flags & (MATRIX_BALANCING | MATRIX_CLOSING))) {
        return LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    if (phases == 0 && (flags & MATRIX_CLOSING)) {
        return LEDGER_RESULT_CLOSING_TRANSFER_MUST_BE_PENDING;
    }
    return LEDGER_RESULT_OK;
}

static void matrix_setup(fixture_t *f) {
    static ledger_account_t accounts[3 * MATRIX_COMBOS + 1];
    static ledger_transfer_t transfers[3 * MATRIX_COMBOS];
    uint32_t accounts_count = 0, transfers_count = 0;
    accounts[accounts_count++] = account_make(MATRIX_SINK, FIXTURE_LEDGER, 0);
    for (uint32_t combo = 0; combo < MATRIX_COMBOS; combo++) {
        accounts[accounts_count++] = account_make(matrix_debit(combo), 1, 0);
        accounts[accounts_count++] = account_make(matrix_credit(combo), 1, 0);
        accounts[accounts_count++] = account_make(matrix_extra(combo), 1, 0);
        transfers[transfers_count++] =
            transfer_make(matrix_id(combo, 0), matrix_credit(combo),
                          matrix_debit(combo), 100);
        transfers[transfers_count++] = transfer_make(
            matrix_id(combo, 1), matrix_extra(combo), matrix_credit(combo), 30);
        if (combo & MATRIX_RESOLVES) {
            transfers[transfers_count++] =
                pending_make(matrix_id(combo, 2), matrix_debit(combo),
                             matrix_credit(combo), MATRIX_AMOUNT, 0);
        }
    }
    fixture_accounts_create(f, accounts, accounts_count);
    fixture_transfers_create(f, transfers, transfers_count);
}

/* The request for `combo`, carrying `flags` (combo plus maybe junk). */
static ledger_transfer_t matrix_request(uint32_t combo, uint32_t flags) {
    ledger_transfer_t t;
    if (combo & MATRIX_RESOLVES) {
        t = post_make(matrix_id(combo, 4), matrix_id(combo, 2), 0);
        t.debit_account_id = id128(matrix_debit(combo));
        t.credit_account_id = id128(matrix_credit(combo));
        t.ledger = FIXTURE_LEDGER;
        t.code = FIXTURE_CODE;
    } else {
        t = transfer_make(matrix_id(combo, 4), matrix_debit(combo),
                          matrix_credit(combo), MATRIX_AMOUNT);
    }
    t.flags = (uint16_t)flags;
    return t;
}

/* Submits the request, followed by a tail E -> sink when it is linked. */
static void matrix_submit(fixture_t *f, uint32_t combo, uint32_t flags,
                          ledger_result_t *results) {
    ledger_transfer_t batch[2] = {
        matrix_request(combo, flags),
        transfer_make(matrix_id(combo, 5), matrix_extra(combo), MATRIX_SINK,
                      1)};
    transfers_submit(f, batch, (flags & LEDGER_TRANSFER_LINKED) ? 2 : 1,
                     results);
}

static void matrix_refused(fixture_t *f, uint32_t combo, uint32_t flags,
                           uint32_t expected) {
    const int failures_before = test_failures_in_case;
    ledger_result_t results[2];
    snapshot_take(f, &snapshot_before);
    matrix_submit(f, combo, flags, results);
    CHECK_RESULT(results[0].result, expected);
    if (flags & LEDGER_TRANSFER_LINKED) {
        CHECK_RESULT(results[1].result, LEDGER_RESULT_LINKED_EVENT_FAILED);
    }
    snapshot_check_at(f, &snapshot_before, 0, __FILE__, __LINE__);
    if (test_failures_in_case > failures_before) {
        printf("# (transfer flags 0x%x)\n", flags);
    }
}

/* The amount a single-phase or pending request of `combo` moves. */
static uint64_t matrix_amount(uint32_t combo) {
    uint64_t amount = MATRIX_AMOUNT;
    if (combo & LEDGER_TRANSFER_BALANCING_DEBIT && amount > MATRIX_DEBIT_ROOM) {
        amount = MATRIX_DEBIT_ROOM;
    }
    if (combo & LEDGER_TRANSFER_BALANCING_CREDIT &&
        amount > MATRIX_CREDIT_ROOM) {
        amount = MATRIX_CREDIT_ROOM;
    }
    return amount;
}

/* Checks D and C after an accepted request of `combo`. */
static void matrix_effect_check(fixture_t *f, uint32_t combo) {
    const uint64_t d = matrix_debit(combo), c = matrix_credit(combo);
    const uint64_t amount = matrix_amount(combo);
    const uint32_t phase = combo & MATRIX_PHASES;
    if (phase == 0) {
        CHECK_BALANCES(f, d, 0, amount, 0, 100);
        CHECK_BALANCES(f, c, 0, 100, 0, 30 + amount);
    } else if (phase == LEDGER_TRANSFER_PENDING) {
        CHECK_BALANCES(f, d, amount, 0, 0, 100);
        CHECK_BALANCES(f, c, 0, 100, amount, 30);
    } else if (phase == LEDGER_TRANSFER_POST_PENDING) {
        CHECK_BALANCES(f, d, 0, MATRIX_AMOUNT, 0, 100);
        CHECK_BALANCES(f, c, 0, 100, 0, 30 + MATRIX_AMOUNT);
    } else {
        CHECK_BALANCES(f, d, 0, 0, 0, 100);
        CHECK_BALANCES(f, c, 0, 100, 0, 30);
    }
    bool closes_d = combo & LEDGER_TRANSFER_CLOSING_DEBIT;
    bool closes_c = combo & LEDGER_TRANSFER_CLOSING_CREDIT;
    TEST_CHECK_EQ(account_flags(f, d), closes_d ? LEDGER_ACCOUNT_CLOSED : 0);
    TEST_CHECK_EQ(account_flags(f, c), closes_c ? LEDGER_ACCOUNT_CLOSED : 0);
    bool tail = combo & LEDGER_TRANSFER_LINKED;
    CHECK_BALANCES(f, matrix_extra(combo), 0, 30 + (tail ? 1 : 0), 0, 0);
    ledger_transfer_t stored;
    TEST_CHECK(fixture_transfer_find(f, id128(matrix_id(combo, 4)), &stored));
    /* Stored events never keep the linked flag. */
    TEST_CHECK_EQ(stored.flags, combo & ~LEDGER_TRANSFER_LINKED);
    TEST_CHECK_EQ(stored.debit_account_id.lo, d);
    TEST_CHECK_EQ(stored.credit_account_id.lo, c);
    /* Post: the amount posted; void: the pending amount released. */
    TEST_CHECK_EQ(stored.amount, (phase & MATRIX_RESOLVES) ? MATRIX_AMOUNT
                                                           : amount);
}

static void matrix_applied(fixture_t *f, uint32_t combo) {
    const int failures_before = test_failures_in_case;
    ledger_result_t results[2];
    ledger_stats_t before = fixture_stats(f);
    matrix_submit(f, combo, combo, results);
    CHECK_RESULT(results[0].result, LEDGER_RESULT_OK);
    if (combo & LEDGER_TRANSFER_LINKED) {
        CHECK_RESULT(results[1].result, LEDGER_RESULT_OK);
    }
    matrix_effect_check(f, combo);
    int64_t pending_change = 0;
    if (combo & LEDGER_TRANSFER_PENDING) pending_change = 1;
    if (combo & MATRIX_RESOLVES) pending_change = -1;
    TEST_CHECK_EQ((int64_t)fixture_stats(f).pending_count,
                  (int64_t)before.pending_count + pending_change);
    if (test_failures_in_case > failures_before) {
        printf("# (transfer flags 0x%x)\n", combo);
    }
}

static void matrix_combo(fixture_t *f, uint32_t combo) {
    if (combo & LEDGER_TRANSFER_LINKED) {
        /* Alone, a linked event is an open chain, before any other check. */
        EXPECT_TRANSFER_REFUSED(f, matrix_request(combo, combo),
                                LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN);
        EXPECT_TRANSFER_REFUSED(
            f, matrix_request(combo, combo | MATRIX_UNKNOWN_FLAG),
            LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN);
    }
    matrix_refused(f, combo, combo | MATRIX_UNKNOWN_FLAG,
                   LEDGER_RESULT_RESERVED_FLAG);
    uint32_t expected = transfer_flags_expected(combo);
    if (expected == LEDGER_RESULT_OK) {
        matrix_applied(f, combo);
    } else {
        matrix_refused(f, combo, combo, expected);
    }
}

static void test_transfer_flags_matrix(void) {
    fixture_t f;
    fixture_open(&f, "results");
    matrix_setup(&f);
    uint32_t counts[LEDGER_RESULT_CODE_COUNT] = {0};
    for (uint32_t combo = 0; combo < MATRIX_COMBOS; combo++) {
        matrix_combo(&f, combo);
        counts[transfer_flags_expected(combo)]++;
    }
    /* By hand: single-phase {0,bd,bc,bd|bc}, pending x 16, post, void;
     * each with and without linked. Closing without pending: 4 x 3 x 2. */
    TEST_CHECK_EQ(counts[LEDGER_RESULT_OK], 44);
    TEST_CHECK_EQ(counts[LEDGER_RESULT_CLOSING_TRANSFER_MUST_BE_PENDING], 24);
    TEST_CHECK_EQ(counts[LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE],
                  256 - 44 - 24);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Validation order on events that break several rules                      */

/* Accounts: 1, 2 plain; 3 on ledger 2; 4 closed (debit side of a closing
 * pending); 5 closed (credit side); 6 debits_must_not_exceed_credits with
 * no credits; 7 credits_must_not_exceed_debits with no debits; 8 dmnec
 * with debits_pending = credits_posted = 2^64-1; 10, 11, 12 plain.
 * Transfers: 89 (1->5, before 5 closed), 92 (1->2 10), 93 failed
 * (transient), 94 posted pending, 96 voided pending, 98 single-phase,
 * 99 open pending of 50. */
static void order_setup(fixture_t *f) {
    fixture_accounts_range(f, 1, 2, FIXTURE_LEDGER, 0);
    fixture_accounts_range(f, 3, 1, 2, 0);
    fixture_accounts_range(f, 4, 2, FIXTURE_LEDGER, 0);
    fixture_accounts_range(f, 6, 1, FIXTURE_LEDGER,
                           LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    fixture_accounts_range(f, 7, 1, FIXTURE_LEDGER,
                           LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS);
    fixture_accounts_range(f, 8, 1, FIXTURE_LEDGER,
                           LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    fixture_accounts_range(f, 10, 3, FIXTURE_LEDGER, 0);
    ledger_transfer_t closing_debit = pending_make(90, 4, 1, 5, 0);
    closing_debit.flags |= LEDGER_TRANSFER_CLOSING_DEBIT;
    ledger_transfer_t closing_credit = pending_make(91, 1, 5, 5, 0);
    closing_credit.flags |= LEDGER_TRANSFER_CLOSING_CREDIT;
    const ledger_transfer_t setup[] = {
        transfer_make(89, 1, 5, 10),   closing_debit,
        closing_credit,                transfer_make(92, 1, 2, 10),
        pending_make(94, 1, 2, 50, 0), post_make(95, 94, 0),
        pending_make(96, 1, 2, 50, 0), void_make(97, 96),
        transfer_make(98, 1, 2, 5),    pending_make(99, 1, 2, 50, 0),
        transfer_make(100, 10, 8, UINT64_MAX),
        pending_make(101, 8, 11, UINT64_MAX, 0)};
    fixture_transfers_create(f, setup, sizeof setup / sizeof *setup);
    EXPECT_TRANSFER_REFUSED(f, transfer_make(93, 9, 2, 1),
                            LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND);
    TEST_CHECK_EQ(account_flags(f, 4), LEDGER_ACCOUNT_CLOSED);
    TEST_CHECK_EQ(account_flags(f, 5), LEDGER_ACCOUNT_CLOSED);
}

/* Steps 1-6 of create_transfers. */
static void order_steps_1_to_6(fixture_t *f) {
    ledger_transfer_t t = transfer_make(700, 1, 2, 10);
    t.timestamp = 9;
    t.flags = LEDGER_TRANSFER_LINKED | MATRIX_UNKNOWN_FLAG;
    t.id = id128(0);
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN);
    t.flags = MATRIX_UNKNOWN_FLAG;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO);
    t.timestamp = 0;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_RESERVED_FLAG);
    t.flags = LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_VOID_PENDING;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_ID_MUST_NOT_BE_ZERO);
    t.id = id128_max();
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX);
    t = transfer_make(700, 0, 2, 0);
    t.flags = LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_POST_PENDING;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
    t.flags = LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_BALANCING_DEBIT;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
    t.flags = LEDGER_TRANSFER_VOID_PENDING | LEDGER_TRANSFER_CLOSING_CREDIT;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
    /* Step 6 before the stateless checks of steps 7+. */
    EXPECT_TRANSFER_REFUSED(f, transfer_make(93, 0, 2, 0),
                            LEDGER_RESULT_ID_ALREADY_FAILED);
    EXPECT_TRANSFER_REFUSED(f, transfer_make(92, 0, 2, 10),
        LEDGER_RESULT_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID);
    t = transfer_make(92, 1, 2, 0);
    t.code = 0;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT);
    t = transfer_make(92, 1, 2, 10);
    t.ledger = 0;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_EXISTS_WITH_DIFFERENT_LEDGER);
    /* Identical: exists, although account 5 is closed by now. */
    ledger_result_t result = transfer_submit(f, transfer_make(89, 1, 5, 10));
    CHECK_RESULT(result.result, LEDGER_RESULT_EXISTS);
}

/* Steps 7-15 for single-phase and pending transfers. */
static void order_steps_single(fixture_t *f) {
    ledger_transfer_t t = transfer_make(700, 0, 0, 10);
    EXPECT_TRANSFER_REFUSED(f, t,
                            LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO);
    t.debit_account_id = id128_max();
    EXPECT_TRANSFER_REFUSED(f, t,
                            LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX);
    t = transfer_make(700, 1, 0, 10);
    t.pending_id = id128(5);
    EXPECT_TRANSFER_REFUSED(f, t,
                            LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO);
    t.credit_account_id = id128_max();
    EXPECT_TRANSFER_REFUSED(f, t,
        LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX);
    t.credit_account_id = id128(1);
    t.timeout = 5;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT);
    t.credit_account_id = id128(2);
    t.flags = LEDGER_TRANSFER_CLOSING_DEBIT;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_PENDING_ID_MUST_BE_ZERO);
    t.pending_id = id128(0);
    t.ledger = 0;
    EXPECT_TRANSFER_REFUSED(
        f, t, LEDGER_RESULT_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER);
    t.timeout = 0;
    t.code = 0;
    EXPECT_TRANSFER_REFUSED(f, t,
                            LEDGER_RESULT_CLOSING_TRANSFER_MUST_BE_PENDING);
    t.flags = 0;
    t.amount = 0;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO);
    t = transfer_make(700, 9, 2, 0);
    t.code = 0;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_CODE_MUST_NOT_BE_ZERO);
    EXPECT_TRANSFER_REFUSED(f, transfer_make(700, 9, 2, 0),
                            LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO);
    /* A pending transfer with timeout is not refused for the timeout. */
    t = pending_make(700, 9, 8, 0, 5);
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO);
}

/* Steps 16-25 (state-dependent) for single-phase and pending transfers. */
static void order_steps_state(fixture_t *f) {
    EXPECT_TRANSFER_REFUSED(f, transfer_make(701, 9, 13, 1),
                            LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND);
    ledger_transfer_t t = transfer_make(702, 1, 13, 1);
    t.ledger = 2;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND);
    t = transfer_make(703, 4, 3, 1);
    t.ledger = 5;
    EXPECT_TRANSFER_REFUSED(f, t,
                            LEDGER_RESULT_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER);
    t = transfer_make(703, 4, 1, 1);
    t.ledger = 2;
    EXPECT_TRANSFER_REFUSED(
        f, t, LEDGER_RESULT_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS);
    EXPECT_TRANSFER_REFUSED(f, transfer_make(703, 4, 5, 1),
                            LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED);
    EXPECT_TRANSFER_REFUSED(f, transfer_make(704, 6, 5, 1),
                            LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED);
    EXPECT_TRANSFER_REFUSED(f, pending_make(706, 8, 12, 1, 0),
                            LEDGER_RESULT_OVERFLOWS_DEBITS_PENDING);
    EXPECT_TRANSFER_REFUSED(f, transfer_make(707, 6, 7, 1),
                            LEDGER_RESULT_EXCEEDS_CREDITS);
    /* overflows_timeout comes before exceeds_credits. */
    const uint64_t now_before = f->now_ns;
    f->now_ns = UINT64_MAX - 2000000000 * FIXTURE_NS_PER_S;
    EXPECT_TRANSFER_REFUSED(f, pending_make(708, 6, 12, 1, 3000000000u),
                            LEDGER_RESULT_OVERFLOWS_TIMEOUT);
    f->now_ns = now_before;
}

/* Steps 7-14 for post and void. */
static void order_steps_post_void(fixture_t *f) {
    ledger_transfer_t t = post_make(750, 0, 0);
    t.timeout = 5;
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_ZERO);
    t.pending_id = id128_max();
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_INT_MAX);
    t.pending_id = id128(750);
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_PENDING_ID_MUST_BE_DIFFERENT);
    t.pending_id = id128(9999);
    EXPECT_TRANSFER_REFUSED(
        f, t, LEDGER_RESULT_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER);
    t = void_make(751, 9999);
    t.debit_account_id = id128(3);
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND);
    t = void_make(752, 98);
    t.debit_account_id = id128(3);
    EXPECT_TRANSFER_REFUSED(f, t, LEDGER_RESULT_PENDING_TRANSFER_NOT_PENDING);
    t = post_make(752, 99, 51);
    t.debit_account_id = id128(2);
    t.credit_account_id = id128(1);
    t.ledger = 2;
    t.code = 2;
    EXPECT_TRANSFER_REFUSED(
        f, t, LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID);
    t.debit_account_id = id128(0);
    EXPECT_TRANSFER_REFUSED(
        f, t, LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID);
    t.credit_account_id = id128(2);
    EXPECT_TRANSFER_REFUSED(f, t,
        LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER);
    t.ledger = 0;
    EXPECT_TRANSFER_REFUSED(f, t,
                            LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CODE);
    /* Amount checks (step 13) before the resolution state (step 14). */
    EXPECT_TRANSFER_REFUSED(f, post_make(752, 94, 51),
                            LEDGER_RESULT_EXCEEDS_PENDING_TRANSFER_AMOUNT);
    t = void_make(752, 96);
    t.amount = 7;
    EXPECT_TRANSFER_REFUSED(f, t,
        LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT);
    EXPECT_TRANSFER_REFUSED(f, void_make(752, 94),
                            LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED);
    EXPECT_TRANSFER_REFUSED(f, post_make(752, 96, 50),
                            LEDGER_RESULT_PENDING_TRANSFER_ALREADY_VOIDED);
    /* Post and void of a pending transfer on a closed account work. */
    EXPECT_TRANSFER_OK(f, post_make(753, 90, 0));
    EXPECT_TRANSFER_OK(f, void_make(754, 91));
    TEST_CHECK_EQ(account_flags(f, 4), LEDGER_ACCOUNT_CLOSED);
    TEST_CHECK_EQ(account_flags(f, 5), 0);
}

static void test_transfer_validation_order(void) {
    fixture_t f;
    fixture_open(&f, "results");
    order_setup(&f);
    order_steps_1_to_6(&f);
    order_steps_single(&f);
    order_steps_state(&f);
    order_steps_post_void(&f);
    /* Id 700 never failed transiently: it is still free. */
    EXPECT_TRANSFER_OK(&f, transfer_make(700, 1, 2, 1));
    EXPECT_TRANSFER_OK(&f, post_make(752, 99, 0));
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Timestamps                                                               */

/* ts = max(now, last_ts + 1) for every journaled event, markers included;
 * refused events without a marker use none. */
static void test_timestamps_strictly_increasing(void) {
    fixture_t f;
    fixture_open(&f, "results");
    const uint64_t t = FIXTURE_CLOCK_START + 50 * FIXTURE_NS_PER_S;
    f.now_ns = t;
    ledger_account_t accounts[2] = {account_make(1, FIXTURE_LEDGER, 0),
                                    account_make(2, FIXTURE_LEDGER, 0)};
    ledger_result_t results[3];
    accounts_submit(&f, accounts, 2, results);
    TEST_CHECK_EQ(results[0].timestamp, t);
    TEST_CHECK_EQ(results[1].timestamp, t + 1);
    f.accounts[f.accounts_count++] = accounts[0].id;
    f.accounts[f.accounts_count++] = accounts[1].id;

    f.now_ns = t - 10 * FIXTURE_NS_PER_S; /* the clock steps back */
    ledger_result_t result =
        account_submit(&f, account_make(3, FIXTURE_LEDGER, 0));
    TEST_CHECK_EQ(result.timestamp, t + 2);
    TEST_CHECK_EQ(fixture_account(&f, 3).timestamp, t + 2);
    ledger_transfer_t batch[3] = {transfer_make(10, 1, 2, 1),
                                  transfer_make(11, 1, 1, 1),
                                  transfer_make(12, 2, 1, 1)};
    transfers_submit(&f, batch, 3, results);
    TEST_CHECK_EQ(results[0].timestamp, t + 3);
    TEST_CHECK_EQ(results[1].timestamp, 0);
    TEST_CHECK_EQ(results[2].timestamp, t + 4);
    TEST_CHECK_EQ(fixture_stats(&f).last_timestamp, t + 4);

    /* A failure marker is a journaled event: it takes t + 5. */
    EXPECT_TRANSFER_REFUSED(&f, transfer_make(13, 1, 9, 1),
                            LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND);
    TEST_CHECK_EQ(fixture_stats(&f).last_timestamp, t + 5);
    TEST_CHECK_EQ(EXPECT_TRANSFER_OK(&f, transfer_make(14, 1, 2, 1)), t + 6);
    f.now_ns = 1; /* far in the past */
    TEST_CHECK_EQ(EXPECT_TRANSFER_OK(&f, transfer_make(15, 1, 2, 1)), t + 7);

    /* The clock moves ahead again: its value is used as is. */
    f.now_ns = t + 3600 * FIXTURE_NS_PER_S;
    TEST_CHECK_EQ(EXPECT_TRANSFER_OK(&f, transfer_make(16, 1, 2, 1)), f.now_ns);
    /* The same after reopening: last_ts is not forgotten. */
    fixture_shut(&f);
    f.now_ns = t;
    fixture_reopen(&f);
    TEST_CHECK_EQ(fixture_stats(&f).last_timestamp,
                  t + 3600 * FIXTURE_NS_PER_S);
    TEST_CHECK_EQ(EXPECT_TRANSFER_OK(&f, transfer_make(17, 1, 2, 1)),
                  t + 3600 * FIXTURE_NS_PER_S + 1);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Welfare money moves only through welfare operations (welfare.h)          */

static ledger_transfer_t welfare_raw(uint64_t id, ledger_u128_t debit, ledger_u128_t credit) {
    ledger_transfer_t transfer = transfer_make(id, 1, 2, 100);
    transfer.debit_account_id = debit;
    transfer.credit_account_id = credit;
    transfer.ledger = WELFARE_LEDGER;
    return transfer;
}

static void test_welfare_reserved(void) {
    fixture_t f;
    fixture_open(&f, "results");
    fixture_accounts_range(&f, 1, 2, FIXTURE_LEDGER, 0);
    uint32_t result = 0;
    welfare_funder_t funder = {.id = id128(100), .kind = WELFARE_FUNDER_COMPANY};
    TEST_CHECK_EQ(welfare_create_funder(f.ledger, &funder, &result), 0);
    welfare_plan_t plan = {.id = id128(200), .funder_id = id128(100), .valid_from = 0,
                           .valid_until = UINT64_MAX, .categories = UINT64_C(1) << 7,
                           .expiry_policy = WELFARE_EXPIRY_FORFEIT};
    TEST_CHECK_EQ(welfare_create_plan(f.ledger, &plan, &result), 0);
    welfare_fund_t fund = {id128(300), id128(100), 1000};
    TEST_CHECK_EQ(welfare_fund(f.ledger, &fund, &result), 0);
    welfare_grant_entry_t grants[2] = {{id128(401), 100}, {id128(402), 100}};
    for (int i = 0; i < 2; i++) {
        welfare_employee_t employee = {.id = grants[i].employee_id, .funder_id = id128(100)};
        TEST_CHECK_EQ(welfare_create_employee(f.ledger, &employee, &result), 0);
    }
    uint32_t results[2];
    TEST_CHECK_EQ(welfare_grant(f.ledger, id128(500), id128(200), grants, 2, results), 0);
    TEST_CHECK_EQ(results[0], WELFARE_RESULT_OK);
    welfare_wallet_t wallets[2];
    bool found = false;
    for (int i = 0; i < 2; i++) {
        TEST_CHECK_EQ(welfare_wallet(f.ledger, grants[i].employee_id, &wallets[i], &found), 0);
        TEST_REQUIRE(found && wallets[i].pots_count == 1);
    }
    welfare_platform_t platform;
    TEST_CHECK_EQ(welfare_platform(f.ledger, &platform), 0);
    ledger_u128_t pot_a = wallets[0].pots[0].account_id;
    ledger_u128_t pot_b = wallets[1].pots[0].account_id;

    ledger_account_t account = account_make(9, FIXTURE_LEDGER, 0);
    account.id.hi = (uint64_t)WELFARE_ACCOUNT_ID_TAG << 32;
    EXPECT_ACCOUNT_REFUSED(&f, account, LEDGER_RESULT_ID_RESERVED);
    ledger_transfer_t tagged = transfer_make(10, 1, 2, 1);
    tagged.id.hi = (uint64_t)WELFARE_TRANSFER_ID_TAG << 32;
    EXPECT_TRANSFER_REFUSED(&f, tagged, LEDGER_RESULT_ID_RESERVED);
    EXPECT_TRANSFER_REFUSED(&f, welfare_raw(11, pot_a, platform.bank_account_id),
                            LEDGER_RESULT_WELFARE_CASH_OUT_FORBIDDEN);
    EXPECT_TRANSFER_REFUSED(&f, welfare_raw(12, pot_a, pot_b),
                            LEDGER_RESULT_WELFARE_TRANSFER_BETWEEN_EMPLOYEES_FORBIDDEN);
    EXPECT_TRANSFER_REFUSED(&f, welfare_raw(13, platform.bank_account_id, pot_a),
                            LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    EXPECT_TRANSFER_REFUSED(&f, welfare_raw(14, id128(1), platform.fees_account_id),
                            LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    ledger_transfer_t post = transfer_make(15, 0, 0, 0);
    memset(&post.debit_account_id, 0, sizeof(post.debit_account_id));
    memset(&post.credit_account_id, 0, sizeof(post.credit_account_id));
    post.flags = LEDGER_TRANSFER_POST_PENDING;
    post.pending_id.hi = (uint64_t)WELFARE_TRANSFER_ID_TAG << 32;
    post.pending_id.lo = 7;
    EXPECT_TRANSFER_REFUSED(&f, post, LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    /* The pots are untouched. */
    for (int i = 0; i < 2; i++) {
        welfare_wallet_t after;
        TEST_CHECK_EQ(welfare_wallet(f.ledger, grants[i].employee_id, &after, &found), 0);
        TEST_CHECK_EQ(after.pots[0].balance, 100);
    }
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Coverage of the codes                                                    */

/* Runs last: every code 0..68 must have been asserted by a passing check
 * above, so a code added to ledger.h without a scenario fails here. */
static void test_every_result_code_provoked(void) {
    TEST_CHECK_EQ(LEDGER_RESULT_CODE_COUNT, 69);
    for (uint32_t code = 0; code < LEDGER_RESULT_CODE_COUNT; code++) {
        if (!results_seen[code]) {
            printf("# result %u (%s) was never provoked\n", code,
                   ledger_result_name(code));
            test_failures_in_case++;
        }
    }
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"account_create_ok", test_account_create_ok},
        {"account_refusals", test_account_refusals},
        {"account_exists", test_account_exists},
        {"account_exists_ignores_closed", test_account_exists_ignores_closed},
        {"account_flags_matrix", test_account_flags_matrix},
        {"account_validation_order", test_account_validation_order},
        {"transfer_single_phase_ok", test_transfer_single_phase_ok},
        {"transfer_refusals", test_transfer_refusals},
        {"transfer_account_not_found", test_transfer_account_not_found},
        {"transfer_exists_fields", test_transfer_exists_fields},
        {"transfer_exists_post_void_balancing",
         test_transfer_exists_post_void_balancing},
        {"transfer_id_already_failed", test_transfer_id_already_failed},
        {"pending_post_void_effects", test_pending_post_void_effects},
        {"post_void_refusals", test_post_void_refusals},
        {"pending_expiry_order", test_pending_expiry_order},
        {"pending_expired_by_event_timestamp",
         test_pending_expired_by_event_timestamp},
        {"balancing_amounts", test_balancing_amounts},
        {"closing_accounts", test_closing_accounts},
        {"overflows", test_overflows},
        {"exceeds", test_exceeds},
        {"linked_chain_success", test_linked_chain_success},
        {"linked_chain_failure", test_linked_chain_failure},
        {"linked_chain_open", test_linked_chain_open},
        {"linked_chain_two_phase", test_linked_chain_two_phase},
        {"linked_chain_gives_timestamps_back",
         test_linked_chain_gives_timestamps_back},
        {"transfer_flags_matrix", test_transfer_flags_matrix},
        {"transfer_validation_order", test_transfer_validation_order},
        {"timestamps_strictly_increasing", test_timestamps_strictly_increasing},
        {"welfare_reserved", test_welfare_reserved},
        /* Must stay last. */
        {"every_result_code_provoked", test_every_result_code_provoked},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
