/*
 * test_clock.c — the engine under a wall clock that jumps (issue 7, point
 * 5), simulated through the injected clock (ledger_options_t.clock, here
 * the fixture's now_ns).
 *
 * What must hold (docs/ledger.md, "Timestamps" and "Pending timeout and
 * expiry"):
 *  - every journaled event gets ts = max(now, last_ts + 1): unique and
 *    strictly increasing whatever the clock does, also after a close and
 *    reopen with the clock behind the last stored timestamp;
 *  - a pending transfer expires when the clock (`now`, not the event
 *    timestamps) reaches expires_at = ts + timeout: a backwards step delays
 *    expiry, a forward jump expires everything due, earliest expires_at
 *    first (ties by id), each expiry an event with its own increasing
 *    timestamp.
 * Every case ends with ledger_verify() on the result.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "ledger_fixture.h"
#include "test.h"

#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_HOUR (UINT64_C(3600) * FIXTURE_NS_PER_S)
#define NS_PER_DAY (UINT64_C(24) * NS_PER_HOUR)

enum { CLOCK_ACCOUNTS = 8 };
/* Transfers per batch in the step walk: several events share one `now`. */
enum { CLOCK_BATCH = 5 };
/* Most events one case tracks. */
enum { CLOCK_EVENTS_MAX = 1024 };
/* Pending transfers of the ordering case. */
enum { CLOCK_PENDING = 6 };
enum { CLOCK_HISTORY_MAX = 64 };

/* Timestamps seen so far, to check uniqueness and order. */
typedef struct timeline {
    uint64_t last_ts;
    uint32_t count;
    uint32_t violations;
} timeline_t;

/* Each new timestamp must be exactly max(now, last + 1). */
static void timeline_add(timeline_t *timeline, uint64_t now, uint64_t ts) {
    uint64_t expected = now > timeline->last_ts ? now : timeline->last_ts + 1;
    if (ts != expected) {
        timeline->violations++;
        printf("# event %u: ts %" PRIu64 ", expected %" PRIu64 " (now %" PRIu64
               ", last %" PRIu64 ")\n",
               timeline->count, ts, expected, now, timeline->last_ts);
    }
    TEST_CHECK(ts > timeline->last_ts);
    timeline->last_ts = ts;
    timeline->count++;
}

/* Creates transfers that must all succeed; adds their timestamps. */
static void transfers_timed(fixture_t *f, timeline_t *timeline,
                            const ledger_transfer_t *transfers, uint32_t count) {
    ledger_result_t results[CLOCK_BATCH * 2];
    TEST_REQUIRE(count <= sizeof results / sizeof results[0]);
    int rc = ledger_create_transfers(f->ledger, transfers, count, results);
    TEST_REQUIRE(rc == 0);
    for (uint32_t i = 0; i < count; i++) {
        if (results[i].result != LEDGER_RESULT_OK) {
            printf("# transfer %" PRIu64 ": %s\n", transfers[i].id.lo,
                   ledger_result_name(results[i].result));
        }
        TEST_CHECK_EQ(results[i].result, LEDGER_RESULT_OK);
        timeline_add(timeline, f->now_ns, results[i].timestamp);
    }
}

/* A batch of CLOCK_BATCH plain transfers with ids from *next_id. */
static void batch_at(fixture_t *f, timeline_t *timeline, uint64_t *next_id) {
    ledger_transfer_t batch[CLOCK_BATCH];
    for (uint32_t i = 0; i < CLOCK_BATCH; i++) {
        uint64_t id = (*next_id)++;
        batch[i] = transfer_make(id, 1 + id % CLOCK_ACCOUNTS,
                                 1 + (id + 1) % CLOCK_ACCOUNTS, 1);
    }
    transfers_timed(f, timeline, batch, CLOCK_BATCH);
}

static void verify_ok(fixture_t *f) {
    ledger_verify_report_t report;
    memset(&report, 0, sizeof report);
    int rc = ledger_verify(f->ledger, &report, NULL, NULL);
    if (rc != 0) printf("# verify: %s (%" PRIu64 ")\n", report.message,
                        report.first_bad_sequence);
    TEST_CHECK_EQ(rc, 0);
}

/* Accounts 1..CLOCK_ACCOUNTS, each with its own creation timestamp. */
static void accounts_setup(fixture_t *f, timeline_t *timeline) {
    ledger_account_t accounts[CLOCK_ACCOUNTS];
    ledger_result_t results[CLOCK_ACCOUNTS];
    for (uint32_t i = 0; i < CLOCK_ACCOUNTS; i++) accounts[i] = account_make(1 + i, FIXTURE_LEDGER, 0);
    TEST_REQUIRE(ledger_create_accounts(f->ledger, accounts, CLOCK_ACCOUNTS, results) == 0);
    for (uint32_t i = 0; i < CLOCK_ACCOUNTS; i++) {
        TEST_REQUIRE(results[i].result == LEDGER_RESULT_OK);
        timeline_add(timeline, f->now_ns, results[i].timestamp);
    }
}

static uint64_t pending_count(fixture_t *f) {
    return fixture_stats(f).pending_count;
}

/* An expiry event read back from an account's history. */
typedef struct expiry {
    uint64_t pending_id;
    uint64_t timestamp;
} expiry_t;

/* The expiries that debited `account` at or after `since_ts`, oldest
 * first; returns how many (at most `capacity`). */
static uint32_t expiries_since(fixture_t *f, uint64_t account, uint64_t since_ts,
                               expiry_t *out, uint32_t capacity) {
    ledger_history_filter_t filter;
    memset(&filter, 0, sizeof filter);
    filter.account_id = id128(account);
    filter.timestamp_min = since_ts;
    filter.limit = CLOCK_HISTORY_MAX;
    filter.flags = LEDGER_HISTORY_DEBITS;
    static ledger_history_entry_t entries[CLOCK_HISTORY_MAX];
    uint32_t count = 0;
    TEST_REQUIRE(ledger_account_history(f->ledger, &filter, entries, &count) == 0);
    TEST_CHECK(count < CLOCK_HISTORY_MAX); /* nothing cut off */
    uint32_t found = 0;
    for (uint32_t i = 0; i < count && found < capacity; i++) {
        if (entries[i].kind != LEDGER_EVENT_EXPIRY) continue;
        out[found].pending_id = entries[i].transfer.pending_id.lo;
        out[found].timestamp = entries[i].transfer.timestamp;
        found++;
    }
    return found;
}

/* ---- cases ---- */

/* The clock walks forwards and backwards by ms, hours, and to before the
 * first event; every timestamp is max(now, last + 1). */
static void test_steps(void) {
    fixture_t f;
    fixture_open(&f, "clock");
    timeline_t timeline = {0, 0, 0};
    accounts_setup(&f, &timeline);
    const uint64_t first_ts = timeline.last_ts - (CLOCK_ACCOUNTS - 1);
    const int64_t steps_ns[] = {
        (int64_t)NS_PER_MS,    -(int64_t)NS_PER_MS, -(int64_t)NS_PER_MS,
        (int64_t)NS_PER_HOUR,  -(int64_t)NS_PER_HOUR, -(int64_t)(3 * NS_PER_HOUR),
        1,                     -1,                  (int64_t)(5 * NS_PER_HOUR),
        -(int64_t)NS_PER_DAY,  (int64_t)NS_PER_MS,  (int64_t)(2 * NS_PER_DAY),
    };
    uint64_t next_id = 1000;
    for (size_t i = 0; i < sizeof steps_ns / sizeof steps_ns[0]; i++) {
        f.now_ns = (uint64_t)((int64_t)f.now_ns + steps_ns[i]);
        batch_at(&f, &timeline, &next_id);
    }
    /* Before the epoch of every earlier event: a year before the first. */
    f.now_ns = first_ts - 365 * NS_PER_DAY;
    batch_at(&f, &timeline, &next_id);
    /* The earliest clock a machine can report. */
    f.now_ns = 1;
    batch_at(&f, &timeline, &next_id);
    f.now_ns = timeline.last_ts + NS_PER_HOUR;
    batch_at(&f, &timeline, &next_id);
    TEST_CHECK_EQ(timeline.violations, 0);
    /* The stored events carry the same timestamps, in id order. */
    uint64_t previous = 0;
    for (uint64_t id = 1000; id < next_id; id++) {
        ledger_transfer_t stored;
        TEST_CHECK(fixture_transfer_find(&f, id128(id), &stored));
        TEST_CHECK(stored.timestamp > previous);
        previous = stored.timestamp;
    }
    TEST_CHECK_EQ(previous, timeline.last_ts);
    verify_ok(&f);
    fixture_close(&f);
}

/* A backwards step delays expiry until the clock reaches expires_at again;
 * it expires exactly then, not a nanosecond before. */
static void test_backwards_delays_expiry(void) {
    fixture_t f;
    fixture_open(&f, "clock");
    timeline_t timeline = {0, 0, 0};
    accounts_setup(&f, &timeline);
    enum { TIMEOUT_S = 10 };
    ledger_transfer_t pending = pending_make(500, 1, 2, 70, TIMEOUT_S);
    transfers_timed(&f, &timeline, &pending, 1);
    const uint64_t expires_at = timeline.last_ts + TIMEOUT_S * FIXTURE_NS_PER_S;
    uint64_t next_id = 1000;
    /* An hour back, then 20 s of clock time pass: still pending. */
    f.now_ns -= NS_PER_HOUR;
    batch_at(&f, &timeline, &next_id);
    f.now_ns += 20 * FIXTURE_NS_PER_S;
    batch_at(&f, &timeline, &next_id);
    TEST_CHECK_EQ(pending_count(&f), 1);
    TEST_CHECK_EQ(fixture_account(&f, 1).debits_pending, 70);
    uint32_t expired = UINT32_MAX;
    f.now_ns = expires_at - 1;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 0);
    TEST_CHECK_EQ(pending_count(&f), 1);
    f.now_ns = expires_at;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 1);
    TEST_CHECK_EQ(pending_count(&f), 0);
    TEST_CHECK_EQ(fixture_account(&f, 1).debits_pending, 0);
    expiry_t expiries[CLOCK_PENDING];
    TEST_CHECK_EQ(expiries_since(&f, 1, 0, expiries, CLOCK_PENDING), 1);
    TEST_CHECK_EQ(expiries[0].pending_id, 500);
    timeline_add(&timeline, f.now_ns, expiries[0].timestamp);
    /* The expiry is an event after every earlier one. */
    ledger_transfer_t after = transfer_make(next_id++, 3, 4, 1);
    transfers_timed(&f, &timeline, &after, 1);
    TEST_CHECK_EQ(timeline.violations, 0);
    verify_ok(&f);
    fixture_close(&f);
}

/* A pending transfer and when it is due. */
typedef struct due {
    uint64_t id;
    uint64_t expires_at;
} due_t;

static int due_compare(const void *a, const void *b) {
    const due_t *x = a, *y = b;
    if (x->expires_at != y->expires_at) return x->expires_at < y->expires_at ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Creates a pending transfer (1 -> 2) with the clock at `now`. */
static due_t pending_at(fixture_t *f, timeline_t *timeline, uint64_t now, uint64_t id,
                        uint32_t timeout_s) {
    f->now_ns = now;
    ledger_transfer_t pending = pending_make(id, 1, 2, 10, timeout_s);
    transfers_timed(f, timeline, &pending, 1);
    due_t due = {id, timeline->last_ts + timeout_s * FIXTURE_NS_PER_S};
    return due;
}

/* Forward jumps expire what is due, in expires_at order (ties by id), and
 * nothing that is not due. */
static void test_forward_jump_order(void) {
    fixture_t f;
    fixture_open(&f, "clock");
    timeline_t timeline = {0, 0, 0};
    accounts_setup(&f, &timeline);
    const uint64_t t0 = f.now_ns + FIXTURE_NS_PER_S;
    due_t dues[CLOCK_PENDING];
    dues[0] = pending_at(&f, &timeline, t0, 501, 50);
    dues[1] = pending_at(&f, &timeline, t0 + 1 * NS_PER_MS, 502, 10);
    dues[2] = pending_at(&f, &timeline, t0 + 2 * NS_PER_MS, 503, 30);
    /* 530 then 525 one second later with one second less: the same
     * expires_at, so the lower id must expire first. */
    dues[3] = pending_at(&f, &timeline, t0 + 5 * FIXTURE_NS_PER_S, 530, 21);
    dues[4] = pending_at(&f, &timeline, t0 + 6 * FIXTURE_NS_PER_S, 525, 20);
    TEST_CHECK_EQ(dues[3].expires_at, dues[4].expires_at);
    /* Due in a day: no jump below expires it. */
    dues[5] = pending_at(&f, &timeline, t0 + 7 * FIXTURE_NS_PER_S, 540, 86400);
    qsort(dues, CLOCK_PENDING, sizeof dues[0], due_compare);
    TEST_CHECK_EQ(pending_count(&f), CLOCK_PENDING);
    /* First jump: to between the third and fourth expiry. The create call
     * expires the due ones before its own event. */
    const uint64_t jump_start = timeline.last_ts + 1;
    f.now_ns = dues[2].expires_at + 1;
    uint64_t next_id = 1000;
    ledger_transfer_t plain = transfer_make(next_id++, 3, 4, 1);
    ledger_result_t result;
    TEST_REQUIRE(ledger_create_transfers(f.ledger, &plain, 1, &result) == 0);
    TEST_CHECK_EQ(result.result, LEDGER_RESULT_OK);
    TEST_CHECK_EQ(pending_count(&f), CLOCK_PENDING - 3);
    /* Second jump: an hour on, all but the day-long one. */
    f.now_ns += NS_PER_HOUR;
    uint32_t expired = 0;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, CLOCK_PENDING - 4);
    TEST_CHECK_EQ(pending_count(&f), 1);
    /* Third jump: two days on. */
    f.now_ns += 2 * NS_PER_DAY;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 1);
    TEST_CHECK_EQ(pending_count(&f), 0);
    expiry_t expiries[CLOCK_PENDING];
    uint32_t count = expiries_since(&f, 1, jump_start, expiries, CLOCK_PENDING);
    TEST_CHECK_EQ(count, CLOCK_PENDING);
    uint64_t previous_ts = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (expiries[i].pending_id != dues[i].id) {
            printf("# expiry %u: pending %" PRIu64 ", expected %" PRIu64 "\n", i,
                   expiries[i].pending_id, dues[i].id);
        }
        TEST_CHECK_EQ(expiries[i].pending_id, dues[i].id);
        TEST_CHECK(expiries[i].timestamp > previous_ts);
        TEST_CHECK(expiries[i].timestamp >= jump_start);
        previous_ts = expiries[i].timestamp;
    }
    /* The plain transfer of the first jump came after its three expiries. */
    ledger_transfer_t stored;
    TEST_CHECK(fixture_transfer_find(&f, id128(1000), &stored));
    TEST_CHECK(stored.timestamp > expiries[2].timestamp);
    TEST_CHECK(stored.timestamp < expiries[3].timestamp);
    TEST_CHECK_EQ(fixture_account(&f, 1).debits_pending, 0);
    TEST_CHECK_EQ(timeline.violations, 0);
    verify_ok(&f);
    fixture_close(&f);
}

/* Reopened with the clock a day behind the last stored timestamp:
 * timestamps carry on from the stored ones, and a pending transfer from
 * before the close expires when the clock reaches its expires_at. */
static void test_reopen_clock_behind(void) {
    fixture_t f;
    fixture_open(&f, "clock");
    timeline_t timeline = {0, 0, 0};
    accounts_setup(&f, &timeline);
    enum { TIMEOUT_S = 2 * 3600 };
    due_t due = pending_at(&f, &timeline, f.now_ns + FIXTURE_NS_PER_S, 500, TIMEOUT_S);
    uint64_t next_id = 1000;
    f.now_ns += NS_PER_HOUR;
    batch_at(&f, &timeline, &next_id);
    fixture_shut(&f);
    f.now_ns -= NS_PER_DAY;
    fixture_reopen(&f);
    TEST_CHECK_EQ(fixture_stats(&f).last_timestamp, timeline.last_ts);
    batch_at(&f, &timeline, &next_id);
    TEST_CHECK_EQ(pending_count(&f), 1);
    /* Closed and reopened again at the earliest possible clock. */
    fixture_shut(&f);
    f.now_ns = 1;
    fixture_reopen(&f);
    batch_at(&f, &timeline, &next_id);
    TEST_CHECK_EQ(pending_count(&f), 1);
    uint32_t expired = UINT32_MAX;
    f.now_ns = due.expires_at - 1;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 0);
    f.now_ns = due.expires_at;
    TEST_CHECK_EQ(ledger_expire_pending(f.ledger, &expired), 0);
    TEST_CHECK_EQ(expired, 1);
    expiry_t expiries[1];
    TEST_CHECK_EQ(expiries_since(&f, 1, 0, expiries, 1), 1);
    TEST_CHECK_EQ(expiries[0].pending_id, 500);
    timeline_add(&timeline, f.now_ns, expiries[0].timestamp);
    /* And across one more reopen, the expiry and the order stay. */
    fixture_shut(&f);
    f.now_ns = 1;
    fixture_reopen(&f);
    TEST_CHECK_EQ(pending_count(&f), 0);
    batch_at(&f, &timeline, &next_id);
    TEST_CHECK_EQ(timeline.violations, 0);
    verify_ok(&f);
    fixture_close(&f);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"steps", test_steps},
        {"backwards_delays_expiry", test_backwards_delays_expiry},
        {"forward_jump_order", test_forward_jump_order},
        {"reopen_clock_behind", test_reopen_clock_behind},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
