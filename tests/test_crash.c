/*
 * test_crash.c — crash recovery under SIGKILL.
 *
 * A parent process forks a child that opens the ledger and applies batches
 * of transfers until the parent kills it with SIGKILL at a random moment:
 * after a random delay, right after it reported something, in the middle of
 * a commit, or while it is still opening the ledger. The parent then reopens
 * the ledger and checks that recovery lost nothing that was reported
 * committed, applied nothing by halves, and that the books still balance;
 * then a new child carries on where the last one stopped, so the ledger
 * grows across kills and checkpoints (every CHECKPOINT_EVENTS events) fall
 * between kills, leaving journal tails to replay.
 *
 * The workload is a pure function of the seed: batch b always holds the same
 * transfers (ids b * EVENT_SLOTS + index + 1; single-phase, pending with and
 * without timeout, posts and voids of earlier pending transfers, balancing
 * debits, linked chains, some built to fail), and the batches are cut into
 * write groups of 1 to GROUP_BATCHES_MAX batches, a group of one sometimes
 * being a single auto-committing create call. The parent generates it before
 * forking, so the child inherits the very same events.
 *
 * The child reports over a pipe, one fixed-size message per write() of at
 * most PIPE_BUF bytes, which the kernel makes atomic: a kill never leaves
 * half a message.
 *   RESULTS         one batch's results inside an open group, before commit;
 *   COMMITTED       ledger_write_commit() returned 0 for a group;
 *   AUTO_COMMITTED  an auto-committing create call returned 0, with results;
 *   IDLE            the child reached its batch limit and waits to be killed;
 *   FAILED          a call returned an error (a test failure).
 * So for every group the parent knows one of: committed with these results;
 * these results if the commit went through (killed around the commit); or
 * nothing (killed before its group reached commit). verify_group() turns each
 * case into an exact expectation for the reopened ledger.
 *
 * A new child first resubmits the last committed group and every group in
 * doubt, then continues with new batches. A resubmitted event that is stored
 * must come back `exists` with the stored timestamp; one that is not must not;
 * an event of a committed batch must not be created again, and one whose
 * failure was recorded must get `id_already_failed`. After every kill the
 * parent also recomputes every balance from the stored transfers alone and
 * compares it with the engine's accounts, checks Σ debits = Σ credits per
 * ledger, and runs ledger_verify(). One reopen in three is read-only, so
 * that the next child's own open replays the journal tail (and may itself be
 * killed while doing so).
 *
 * Size: ACCOUNTS_COUNT accounts on two ledgers, 1..BATCH_EVENTS_MAX events a
 * batch, at most BATCHES_PER_CYCLE_MAX new batches per child, and
 * KILL_CYCLES_DEFAULT kills (--ops N sets the number of kills). The parent
 * keeps every event, its expected outcome and what the last reopen found:
 * a few hundred bytes per event.
 *
 * crash_recovery_random_ids runs the same with ids in random order and an
 * id buffer of 16 (ledger/transfer_index.c): kills then land while ids are
 * buffered, frozen or half merged, and every reopen rebuilds the buffer.
 *
 * Replaying a failure: --seed N regenerates the same workload and the same
 * kill plans; the exact instant of each kill depends on timing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"
#include "test.h"

/* ------------------------------------------------------------------------ */
/* Limits and workload shape                                                */

enum {
    /* Accounts 1..ACCOUNTS_COUNT: odd ids on ledger 978, even ids on 840.
     * Ids divisible by 3 have debits_must_not_exceed_credits; other ids
     * divisible by 7 have credits_must_not_exceed_debits. */
    ACCOUNTS_COUNT = 300,
    LEDGERS_COUNT = 2,
    /* Never created: transfers debiting it fail with a transient result. */
    MISSING_ACCOUNT_ID = 9999,
    /* Events in one generated batch: 1..BATCH_EVENTS_MAX. */
    BATCH_EVENTS_MAX = 24,
    /* Transfer ids reserved per batch (at least BATCH_EVENTS_MAX). */
    EVENT_SLOTS = 32,
    GROUP_BATCHES_MAX = 4,
    CHAIN_EVENTS_MAX = 4,
    /* Percentages steering the generator. */
    CHAIN_PERCENT = 12,
    CHAIN_FAILS_PERCENT = 40,
    BALANCING_PERCENT = 5,
    /* Posts and voids pick among the last PENDING_WINDOW pending transfers. */
    PENDING_WINDOW = 256,
    PENDING_TIMEOUT_S_MAX = 3,
    AMOUNT_MAX = 1000,
    TRANSFER_CODES_COUNT = 3,
    ACCOUNT_CODE = 10,
    /* Small, so that children write checkpoints between kills (a child
     * applies a few hundred to a few thousand events) and reopens still
     * replay a tail. */
    CHECKPOINT_EVENTS = 1000,
    KILL_CYCLES_DEFAULT = 25,
    /* New batches one child may apply before it idles: bounds the run. */
    BATCHES_PER_CYCLE_MAX = 600,
    /* Batches the resubmission case commits, then resubmits. */
    RESUBMIT_CASE_BATCHES = 80,
    /* Failure diagnostics printed per case; further ones are only counted. */
    FAILURE_LINES_MAX = 40,
    /* ledger_expire_pending() calls after a reopen (each expires at most
     * LEDGER_EXPIRE_BATCH_MAX). */
    EXPIRE_CALLS_MAX = 64,
    READ_BUFFER_SIZE = 16384,
};

#define TRANSFER_ID_HI UINT64_C(0xC2A5)
/* Far above any balance the workload can build: exceeds_credits. */
#define AMOUNT_EXCESSIVE UINT64_C(1000000000000)
#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S UINT64_C(1000000000)
/* Kill delays, per mode. */
#define KILL_DELAY_NS_MAX (300 * NS_PER_MS)
#define KILL_OPEN_DELAY_NS_MAX (3 * NS_PER_MS)
#define KILL_COMMIT_SPIN_NS_MAX (3 * NS_PER_MS)
/* A child that has not reached its kill trigger by then is killed anyway. */
#define KILL_FALLBACK_NS (5 * NS_PER_S)
#define IDLE_WAIT_NS (120 * NS_PER_S)

static const uint32_t ledger_numbers[LEDGERS_COUNT] = {978, 840};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static int failure_lines;

/* Marks the case failed and prints why (up to FAILURE_LINES_MAX lines). */
static void fail(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *format, ...) {
    test_failures_in_case++;
    if (++failure_lines > FAILURE_LINES_MAX) return;
    va_list arguments;
    va_start(arguments, format);
    printf("# ");
    vprintf(format, arguments);
    printf("\n");
    va_end(arguments);
    fflush(stdout);
}

static uint64_t clock_ns(clockid_t clock) {
    struct timespec now;
    TEST_REQUIRE(clock_gettime(clock, &now) == 0);
    return (uint64_t)now.tv_sec * NS_PER_S + (uint64_t)now.tv_nsec;
}

/* The engine's clock in the parent and in the resubmission child. */
static uint64_t fixed_clock(void *context) {
    return *(const uint64_t *)context;
}

/* splitmix64: small, fast, and good enough to steer a workload. */
static uint64_t rng_next(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *state, uint64_t bound) {
    TEST_REQUIRE(bound > 0);
    return rng_next(state) % bound;
}

enum rng_stream { STREAM_BATCH = 1, STREAM_GROUP = 2, STREAM_KILL = 3 };

/* An independent generator for (seed, stream, index). */
static uint64_t rng_for(uint64_t seed, uint64_t stream, uint64_t index) {
    uint64_t state = seed ^ (stream * UINT64_C(0xD1B54A32D192ED03));
    rng_next(&state);
    state ^= index * UINT64_C(0x8CB92BA72F3D8DD7);
    rng_next(&state);
    return state;
}

/* Resizes an array of `size`-byte items from `old_count` to `new_count`,
 * zeroing the new items. */
static void *array_resize(void *array, uint64_t old_count, uint64_t new_count,
                          size_t size) {
    TEST_REQUIRE(new_count >= old_count);
    TEST_REQUIRE(new_count < SIZE_MAX / size);
    unsigned char *resized = realloc(array, (size_t)(new_count * size));
    TEST_REQUIRE(resized != NULL || new_count == 0);
    memset(resized + old_count * size, 0, (size_t)((new_count - old_count) * size));
    return resized;
}

static bool transient_result(uint32_t result) {
    switch (result) {
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

static bool result_stored(uint32_t result) {
    return result == LEDGER_RESULT_OK || result == LEDGER_RESULT_EXISTS;
}

/* ------------------------------------------------------------------------ */
/* The workload                                                             */

typedef struct workload {
    uint64_t seed;
    ledger_transfer_t *events; /* every generated event, batch after batch */
    uint64_t events_count;
    uint64_t events_capacity;
    uint32_t *batch_first;    /* batch b: events [batch_first[b], [b + 1]) */
    uint32_t *group_first;    /* per batch: the first batch of its group */
    uint8_t *group_batches;   /* per batch: how many batches its group has */
    uint8_t *group_automatic; /* per batch: its group is one auto-commit call */
    uint64_t batches_count;
    uint64_t batches_capacity;
    /* Event indices of the last PENDING_WINDOW pending transfers. */
    uint32_t pending_window[PENDING_WINDOW];
    uint64_t pending_pushed;
} workload_t;

/* The random-ids case: ids in random order (the slot number times an odd
 * constant, a bijection modulo 2^64) and the smallest transfer id buffer,
 * so that kills land while ids are buffered, frozen or half merged. */
static bool ids_scrambled;
static const uint64_t ID_SCRAMBLE = UINT64_C(0x9E3779B97F4A7C15);
enum { CRASH_ID_BUFFER_MAX = 16 };

/* The inverse of ID_SCRAMBLE modulo 2^64 (Newton's iteration). */
static uint64_t id_unscramble(uint64_t lo) {
    uint64_t inverse = ID_SCRAMBLE;
    for (int i = 0; i < 6; i++) inverse *= 2 - ID_SCRAMBLE * inverse;
    return lo * inverse;
}

static ledger_u128_t transfer_id(uint64_t batch, uint32_t index) {
    uint64_t slot = batch * EVENT_SLOTS + index + 1;
    ledger_u128_t id = {TRANSFER_ID_HI, ids_scrambled ? slot * ID_SCRAMBLE : slot};
    return id;
}

static uint32_t crash_id_buffer_max(void) {
    return ids_scrambled ? CRASH_ID_BUFFER_MAX : 0;
}

static uint32_t batch_events(const workload_t *w, uint64_t batch) {
    return w->batch_first[batch + 1] - w->batch_first[batch];
}

/* The event index of a generated transfer id, or UINT64_MAX. */
static uint64_t event_of_id(const workload_t *w, ledger_u128_t id) {
    uint64_t slot = ids_scrambled ? id_unscramble(id.lo) : id.lo;
    if (id.hi != TRANSFER_ID_HI || slot == 0) return UINT64_MAX;
    uint64_t batch = (slot - 1) / EVENT_SLOTS;
    uint64_t index = (slot - 1) % EVENT_SLOTS;
    if (batch >= w->batches_count || index >= batch_events(w, batch)) {
        return UINT64_MAX;
    }
    return w->batch_first[batch] + index;
}

static uint32_t ledger_index_of(uint32_t ledger) {
    return ledger == ledger_numbers[0] ? 0 : 1;
}

static uint64_t account_pick(uint64_t *rng, uint32_t ledger_index) {
    return 2 * rng_below(rng, ACCOUNTS_COUNT / 2) + 1 + ledger_index;
}

static void accounts_pick_pair(uint64_t *rng, uint32_t ledger_index,
                               ledger_transfer_t *t) {
    uint64_t debit = account_pick(rng, ledger_index);
    uint64_t credit = account_pick(rng, ledger_index);
    if (credit == debit) credit = debit + 2 <= ACCOUNTS_COUNT ? debit + 2 : debit - 2;
    t->debit_account_id = ledger_u128_from_u64(debit);
    t->credit_account_id = ledger_u128_from_u64(credit);
}

/* Appends an event with the fields every generated transfer has. */
static uint64_t event_push(workload_t *w, uint64_t *rng, uint64_t batch,
                           uint32_t index, uint32_t ledger_index) {
    if (w->events_count == w->events_capacity) {
        uint64_t capacity = w->events_capacity ? 2 * w->events_capacity : 4096;
        w->events = array_resize(w->events, w->events_capacity, capacity,
                                 sizeof *w->events);
        w->events_capacity = capacity;
    }
    TEST_REQUIRE(w->events_count < UINT32_MAX);
    ledger_transfer_t *t = &w->events[w->events_count];
    memset(t, 0, sizeof *t);
    t->id = transfer_id(batch, index);
    t->user_data_128.hi = batch;
    t->user_data_128.lo = index;
    t->user_data_64 = rng_next(rng);
    t->user_data_32 = (uint32_t)rng_next(rng);
    t->ledger = ledger_numbers[ledger_index];
    t->code = (uint16_t)(1 + rng_below(rng, TRANSFER_CODES_COUNT));
    return w->events_count++;
}

static void generate_single(workload_t *w, uint64_t *rng, uint64_t batch,
                            uint32_t index) {
    uint32_t ledger_index = (uint32_t)rng_below(rng, LEDGERS_COUNT);
    uint64_t event = event_push(w, rng, batch, index, ledger_index);
    ledger_transfer_t *t = &w->events[event]; /* after the push: it may move the array */
    accounts_pick_pair(rng, ledger_index, t);
    t->amount = 1 + rng_below(rng, AMOUNT_MAX);
    if (rng_below(rng, 100) < BALANCING_PERCENT) {
        t->flags = LEDGER_TRANSFER_BALANCING_DEBIT;
        t->amount *= 2;
    }
}

static void generate_pending(workload_t *w, uint64_t *rng, uint64_t batch,
                             uint32_t index) {
    uint32_t ledger_index = (uint32_t)rng_below(rng, LEDGERS_COUNT);
    uint64_t event = event_push(w, rng, batch, index, ledger_index);
    ledger_transfer_t *t = &w->events[event];
    accounts_pick_pair(rng, ledger_index, t);
    t->amount = 1 + rng_below(rng, AMOUNT_MAX);
    t->flags = LEDGER_TRANSFER_PENDING;
    /* Half never expire; the others expire during the run, so expiry
     * events land in the journal and get replayed. */
    if (rng_below(rng, 2) == 0) {
        t->timeout = (uint32_t)(1 + rng_below(rng, PENDING_TIMEOUT_S_MAX));
    }
    w->pending_window[w->pending_pushed % PENDING_WINDOW] = (uint32_t)event;
    w->pending_pushed++;
}

/* A post or void of a recent pending transfer; false if there is none. */
static bool generate_resolution(workload_t *w, uint64_t *rng, uint64_t batch,
                                uint32_t index) {
    if (w->pending_pushed == 0) return false;
    uint64_t available = w->pending_pushed < PENDING_WINDOW ? w->pending_pushed
                                                            : PENDING_WINDOW;
    uint64_t back = rng_below(rng, available);
    uint32_t pending_event =
        w->pending_window[(w->pending_pushed - 1 - back) % PENDING_WINDOW];
    /* A copy: event_push() may move the array. */
    ledger_transfer_t pending = w->events[pending_event];
    uint64_t event = event_push(w, rng, batch, index, ledger_index_of(pending.ledger));
    ledger_transfer_t *t = &w->events[event];
    t->debit_account_id = pending.debit_account_id;
    t->credit_account_id = pending.credit_account_id;
    t->ledger = pending.ledger;
    t->code = pending.code;
    t->pending_id = pending.id;
    if (rng_below(rng, 100) < 60) {
        uint64_t roll = rng_below(rng, 10);
        t->flags = LEDGER_TRANSFER_POST_PENDING;
        /* 0 posts in full; above the pending amount fails for good. */
        t->amount = roll < 3   ? 0
                    : roll < 9 ? 1 + rng_below(rng, pending.amount)
                               : pending.amount + 1;
    } else {
        t->flags = LEDGER_TRANSFER_VOID_PENDING;
        t->amount = rng_below(rng, 2) == 0 ? 0 : pending.amount;
    }
    return true;
}

/* A transfer that must fail: for good (accounts_must_be_different) or with a
 * transient result that is recorded (exceeds_credits, not found). */
static void generate_failing(workload_t *w, uint64_t *rng, uint64_t batch,
                             uint32_t index) {
    uint64_t form = rng_below(rng, 3);
    uint64_t limited = 3 * (1 + rng_below(rng, ACCOUNTS_COUNT / 3));
    uint32_t ledger_index = form == 1 ? (uint32_t)((limited + 1) % 2)
                                      : (uint32_t)rng_below(rng, LEDGERS_COUNT);
    uint64_t event = event_push(w, rng, batch, index, ledger_index);
    ledger_transfer_t *t = &w->events[event]; /* after the push: it may move the array */
    accounts_pick_pair(rng, ledger_index, t);
    t->amount = 1 + rng_below(rng, AMOUNT_MAX);
    if (form == 0) {
        t->credit_account_id = t->debit_account_id;
    } else if (form == 1) {
        t->debit_account_id = ledger_u128_from_u64(limited);
        if (ledger_u128_equal(t->credit_account_id, t->debit_account_id)) {
            t->credit_account_id.lo = limited + 2 <= ACCOUNTS_COUNT ? limited + 2
                                                                    : limited - 2;
        }
        t->amount = AMOUNT_EXCESSIVE;
    } else {
        t->debit_account_id = ledger_u128_from_u64(MISSING_ACCOUNT_ID);
    }
}

static void generate_simple(workload_t *w, uint64_t *rng, uint64_t batch,
                            uint32_t index, bool may_fail) {
    uint64_t roll = rng_below(rng, 100);
    if (roll < 52) {
        generate_single(w, rng, batch, index);
    } else if (roll < 70) {
        generate_pending(w, rng, batch, index);
    } else if (roll < 90 || !may_fail) {
        if (!generate_resolution(w, rng, batch, index)) {
            generate_single(w, rng, batch, index);
        }
    } else {
        generate_failing(w, rng, batch, index);
    }
}

/* A linked chain of 2..CHAIN_EVENTS_MAX events (at most `left`), sometimes
 * with a member that fails. Returns its length. */
static uint32_t generate_chain(workload_t *w, uint64_t *rng, uint64_t batch,
                               uint32_t index, uint32_t left) {
    uint32_t longest = left < CHAIN_EVENTS_MAX ? left : CHAIN_EVENTS_MAX;
    uint32_t length = 2 + (uint32_t)rng_below(rng, longest - 1);
    uint32_t failing = UINT32_MAX;
    if (rng_below(rng, 100) < CHAIN_FAILS_PERCENT) {
        failing = (uint32_t)rng_below(rng, length);
    }
    for (uint32_t k = 0; k < length; k++) {
        if (k == failing) {
            generate_failing(w, rng, batch, index + k);
        } else {
            generate_simple(w, rng, batch, index + k, false);
        }
        if (k + 1 < length) {
            w->events[w->events_count - 1].flags |= LEDGER_TRANSFER_LINKED;
        }
    }
    return length;
}

static void workload_generate_batch(workload_t *w, uint64_t batch) {
    uint64_t rng = rng_for(w->seed, STREAM_BATCH, batch);
    uint32_t count = 1 + (uint32_t)rng_below(&rng, BATCH_EVENTS_MAX);
    uint32_t index = 0;
    while (index < count) {
        uint32_t left = count - index;
        if (left >= 2 && rng_below(&rng, 100) < CHAIN_PERCENT) {
            index += generate_chain(w, &rng, batch, index, left);
        } else {
            generate_simple(w, &rng, batch, index, true);
            index++;
        }
    }
    w->batch_first[batch + 1] = (uint32_t)w->events_count;
    TEST_REQUIRE(batch_events(w, batch) == count);
}

static void workload_reserve_batches(workload_t *w, uint64_t batches) {
    if (batches + 1 <= w->batches_capacity) return;
    uint64_t capacity = 2 * (batches + 1);
    uint64_t old = w->batches_capacity;
    w->batch_first = array_resize(w->batch_first, old, capacity, sizeof *w->batch_first);
    w->group_first = array_resize(w->group_first, old, capacity, sizeof *w->group_first);
    w->group_batches = array_resize(w->group_batches, old, capacity, 1);
    w->group_automatic = array_resize(w->group_automatic, old, capacity, 1);
    w->batches_capacity = capacity;
}

static void workload_generate_group(workload_t *w) {
    uint64_t first = w->batches_count;
    uint64_t rng = rng_for(w->seed, STREAM_GROUP, first);
    uint32_t batches = 1 + (uint32_t)rng_below(&rng, GROUP_BATCHES_MAX);
    bool automatic = batches == 1 && rng_below(&rng, 2) == 0;
    workload_reserve_batches(w, first + batches);
    for (uint32_t k = 0; k < batches; k++) {
        w->group_first[first + k] = (uint32_t)first;
        w->group_batches[first + k] = (uint8_t)batches;
        w->group_automatic[first + k] = automatic;
        workload_generate_batch(w, first + k);
    }
    w->batches_count += batches;
}

/* Generates whole groups until at least `batches` batches exist. */
static void workload_extend(workload_t *w, uint64_t batches) {
    workload_reserve_batches(w, 0);
    while (w->batches_count < batches) workload_generate_group(w);
}

static bool event_in_chain(const workload_t *w, uint64_t batch, uint32_t index) {
    uint64_t event = w->batch_first[batch] + index;
    if (w->events[event].flags & LEDGER_TRANSFER_LINKED) return true;
    return index > 0 && (w->events[event - 1].flags & LEDGER_TRANSFER_LINKED);
}

/* ------------------------------------------------------------------------ */
/* Child → parent messages                                                  */

enum message_kind {
    MESSAGE_RESULTS = 1,
    MESSAGE_COMMITTED = 2,
    MESSAGE_AUTO_COMMITTED = 3,
    MESSAGE_IDLE = 4,
    MESSAGE_FAILED = 5,
};

typedef struct message {
    uint32_t kind;  /* enum message_kind */
    uint32_t batch; /* the batch, or the group's first batch (COMMITTED) */
    uint32_t count; /* results (RESULTS, AUTO_COMMITTED), batches (COMMITTED) */
    int32_t error;  /* FAILED: what the call returned */
    ledger_result_t results[BATCH_EVENTS_MAX];
    char detail[128]; /* FAILED: ledger_last_error_message() */
} message_t;

_Static_assert(sizeof(message_t) <= PIPE_BUF,
               "a message must be one atomic pipe write");
_Static_assert(EVENT_SLOTS >= BATCH_EVENTS_MAX, "ids must not collide");

/* ------------------------------------------------------------------------ */
/* The child                                                                */

typedef struct child_plan {
    uint64_t first_batch; /* a group's first batch: the child starts there */
    uint64_t batch_limit; /* no group starts at or after it */
    uint64_t clock_ns;    /* 0: real time; else the engine's fixed clock */
} child_plan_t;

static void child_send(int fd, const message_t *m) {
    const unsigned char *bytes = (const unsigned char *)m;
    size_t done = 0;
    while (done < sizeof *m) {
        ssize_t written = write(fd, bytes + done, sizeof *m - done);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) _exit(3);
        done += (size_t)written;
    }
}

static _Noreturn void child_fail(int fd, ledger_t *ledger, uint64_t batch,
                                 int error) {
    message_t m;
    memset(&m, 0, sizeof m);
    m.kind = MESSAGE_FAILED;
    m.batch = (uint32_t)batch;
    m.error = error;
    snprintf(m.detail, sizeof m.detail, "%s", ledger_last_error_message(ledger));
    child_send(fd, &m);
    _exit(2);
}

static void child_apply_batch(ledger_t *ledger, const workload_t *w,
                              uint64_t batch, uint32_t kind, int fd) {
    message_t m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.batch = (uint32_t)batch;
    m.count = batch_events(w, batch);
    int rc = ledger_create_transfers(ledger, &w->events[w->batch_first[batch]],
                                     m.count, m.results);
    if (rc != 0) child_fail(fd, ledger, batch, rc);
    child_send(fd, &m);
}

static void child_run_group(ledger_t *ledger, const workload_t *w,
                            uint64_t group, int fd) {
    if (w->group_automatic[group]) {
        child_apply_batch(ledger, w, group, MESSAGE_AUTO_COMMITTED, fd);
        return;
    }
    int rc = ledger_write_begin(ledger);
    if (rc != 0) child_fail(fd, ledger, group, rc);
    for (uint32_t k = 0; k < w->group_batches[group]; k++) {
        child_apply_batch(ledger, w, group + k, MESSAGE_RESULTS, fd);
    }
    rc = ledger_write_commit(ledger);
    if (rc != 0) child_fail(fd, ledger, group, rc);
    message_t m;
    memset(&m, 0, sizeof m);
    m.kind = MESSAGE_COMMITTED;
    m.batch = (uint32_t)group;
    m.count = w->group_batches[group];
    child_send(fd, &m);
}

/* Applies groups from plan->first_batch until the limit, reporting each,
 * then waits for SIGKILL. Never returns: it must not run the parent's
 * cleanup or print TAP lines. */
static _Noreturn void child_main(const char *path, const workload_t *w,
                                 const child_plan_t *plan, int fd) {
    ledger_options_t options;
    memset(&options, 0, sizeof options);
    options.checkpoint_events = CHECKPOINT_EVENTS;
    options.transfer_id_buffer_max = crash_id_buffer_max();
    uint64_t fixed_ns = plan->clock_ns;
    if (fixed_ns != 0) {
        options.clock = fixed_clock;
        options.clock_context = &fixed_ns;
    }
    ledger_t *ledger = NULL;
    int rc = ledger_open(path, &options, &ledger);
    if (rc != 0) child_fail(fd, NULL, plan->first_batch, rc);
    uint64_t group = plan->first_batch;
    while (group < plan->batch_limit) {
        child_run_group(ledger, w, group, fd);
        group += w->group_batches[group];
    }
    message_t m;
    memset(&m, 0, sizeof m);
    m.kind = MESSAGE_IDLE;
    m.batch = (uint32_t)group;
    child_send(fd, &m);
    for (;;) pause();
}

/* ------------------------------------------------------------------------ */
/* The parent's knowledge                                                   */

enum batch_status {
    BATCH_NOT_RUN = 0,
    /* Attempted, but whether (and with which results) it is stored is not
     * known: it is resubmitted by the next child. */
    BATCH_IN_DOUBT = 1,
    /* Stored, with the results in `committed`. */
    BATCH_COMMITTED = 2,
};

typedef struct batch_record {
    uint8_t status;     /* enum batch_status */
    bool applied;       /* known to be on disk: nothing of it may be created again */
    bool attempt_known; /* `attempt` holds the current child's results */
    ledger_result_t committed[BATCH_EVENTS_MAX];
    ledger_result_t attempt[BATCH_EVENTS_MAX];
} batch_record_t;

typedef struct crash_test {
    char directory[PATH_MAX];
    char path[PATH_MAX];
    workload_t workload;
    batch_record_t *records; /* per batch */
    uint64_t batches_fitted;
    /* Per event: what the last reopen found, and what this one finds. */
    uint8_t *present;
    ledger_transfer_t *stored;
    uint8_t *present_now;
    ledger_transfer_t *stored_now;
    uint8_t *resolved; /* scratch: pending transfers posted or voided */
    uint64_t events_fitted;
    ledger_u128_t *lookup_ids;
    ledger_transfer_t *lookup_out;
    /* Results of resubmitted batches, by code. */
    uint64_t resubmitted[LEDGER_RESULT_CODE_COUNT];
    uint64_t kills;
    /* How the groups a kill interrupted turned out: committed though not
     * reported, not committed though all results were known, an auto call
     * found applied though its results never arrived. */
    uint64_t unreported_commits;
    uint64_t rolled_back_groups;
    uint64_t unreported_auto_commits;
} crash_test_t;

/* What one child did, as far as the parent heard. */
typedef struct cycle {
    child_plan_t plan;
    uint64_t next_group; /* the first group not reported finished */
    uint32_t messages;
    uint32_t commit_points; /* RESULTS messages that end an explicit group */
    bool idle;
    bool failed;
} cycle_t;

/* Sizes the per-batch and per-event arrays to the workload. */
static void crash_test_fit(crash_test_t *t) {
    const workload_t *w = &t->workload;
    if (t->batches_fitted < w->batches_count) {
        t->records = array_resize(t->records, t->batches_fitted,
                                  w->batches_count, sizeof *t->records);
        t->batches_fitted = w->batches_count;
    }
    if (t->events_fitted < w->events_count) {
        uint64_t old = t->events_fitted, now = w->events_count;
        t->present = array_resize(t->present, old, now, 1);
        t->present_now = array_resize(t->present_now, old, now, 1);
        t->resolved = array_resize(t->resolved, old, now, 1);
        t->stored = array_resize(t->stored, old, now, sizeof *t->stored);
        t->stored_now = array_resize(t->stored_now, old, now, sizeof *t->stored_now);
        t->events_fitted = now;
    }
}

/* ------------------------------------------------------------------------ */
/* Checks on the child's reports                                            */

static void check_result_shape(uint64_t batch, uint32_t index,
                               const ledger_result_t *r) {
    if (r->result >= LEDGER_RESULT_CODE_COUNT || r->reserved != 0) {
        fail("batch %" PRIu64 " event %u: malformed result %u", batch, index,
             r->result);
    } else if (result_stored(r->result) != (r->timestamp != 0)) {
        fail("batch %" PRIu64 " event %u: %s with timestamp %" PRIu64, batch,
             index, ledger_result_name(r->result), r->timestamp);
    }
}

/*
 * A batch that was attempted before is submitted again: what the last
 * reopen found decides what each event must get.
 */
static void check_resubmission(crash_test_t *t, uint64_t batch,
                               const ledger_result_t *results) {
    const workload_t *w = &t->workload;
    const batch_record_t *record = &t->records[batch];
    for (uint32_t i = 0; i < batch_events(w, batch); i++) {
        uint64_t event = w->batch_first[batch] + i;
        uint32_t got = results[i].result;
        t->resubmitted[got < LEDGER_RESULT_CODE_COUNT ? got : 0]++;
        if (t->present[event]) {
            if (got != LEDGER_RESULT_EXISTS ||
                results[i].timestamp != t->stored[event].timestamp) {
                fail("resubmitted batch %" PRIu64 " event %u is stored but got "
                     "%s (timestamp %" PRIu64 ", stored %" PRIu64 ")",
                     batch, i, ledger_result_name(got), results[i].timestamp,
                     t->stored[event].timestamp);
            }
            continue;
        }
        if (got == LEDGER_RESULT_EXISTS) {
            fail("resubmitted batch %" PRIu64 " event %u got exists but was "
                 "not stored", batch, i);
        }
        if (record->applied && got == LEDGER_RESULT_OK) {
            fail("resubmitted batch %" PRIu64 " event %u was applied twice "
                 "(ok again)", batch, i);
        }
        if (record->status != BATCH_COMMITTED) continue;
        uint32_t original = record->committed[i].result;
        bool chained = event_in_chain(w, batch, i);
        if (transient_result(original) || original == LEDGER_RESULT_ID_ALREADY_FAILED) {
            /* Its failure was recorded. In a chain, an earlier member that
             * was rolled back (not recorded) is evaluated afresh and may now
             * fail first: then this one is not reached. */
            if (got != LEDGER_RESULT_ID_ALREADY_FAILED &&
                !(chained && got == LEDGER_RESULT_LINKED_EVENT_FAILED)) {
                fail("resubmitted batch %" PRIu64 " event %u first failed with "
                     "%s, now got %s, expected id_already_failed", batch, i,
                     ledger_result_name(original), ledger_result_name(got));
            }
        } else if (!chained && got != original) {
            fail("resubmitted batch %" PRIu64 " event %u first failed with %s, "
                 "now got %s", batch, i, ledger_result_name(original),
                 ledger_result_name(got));
        }
    }
}

static void on_results(crash_test_t *t, const message_t *m) {
    const workload_t *w = &t->workload;
    if (m->batch >= w->batches_count || m->count != batch_events(w, m->batch)) {
        fail("malformed message for batch %u (%u results)", m->batch, m->count);
        return;
    }
    for (uint32_t i = 0; i < m->count; i++) {
        check_result_shape(m->batch, i, &m->results[i]);
    }
    batch_record_t *record = &t->records[m->batch];
    if (record->status != BATCH_NOT_RUN) check_resubmission(t, m->batch, m->results);
    memcpy(record->attempt, m->results, m->count * sizeof m->results[0]);
    record->attempt_known = true;
}

/* A group's commit was reported: its current results are final. */
static void commit_group(crash_test_t *t, uint64_t group) {
    const workload_t *w = &t->workload;
    for (uint32_t k = 0; k < w->group_batches[group]; k++) {
        batch_record_t *record = &t->records[group + k];
        /* A committed batch resubmitted keeps its first results: the
         * resubmission created nothing (check_resubmission). */
        if (record->status == BATCH_COMMITTED) continue;
        record->status = BATCH_COMMITTED;
        record->applied = true;
        memcpy(record->committed, record->attempt, sizeof record->committed);
    }
}

static void on_committed(crash_test_t *t, const message_t *m) {
    const workload_t *w = &t->workload;
    if (m->batch >= w->batches_count || w->group_first[m->batch] != m->batch ||
        m->count != w->group_batches[m->batch]) {
        fail("malformed commit message for group %u", m->batch);
        return;
    }
    for (uint32_t k = 0; k < m->count; k++) {
        if (!t->records[m->batch + k].attempt_known) {
            fail("group %u committed before batch %u reported results",
                 m->batch, m->batch + k);
            return;
        }
    }
    commit_group(t, m->batch);
}

/* Takes in one message of the current child. */
static void on_message(crash_test_t *t, cycle_t *c, const message_t *m) {
    const workload_t *w = &t->workload;
    c->messages++;
    switch (m->kind) {
    case MESSAGE_RESULTS:
        on_results(t, m);
        if (m->batch < w->batches_count) {
            c->next_group = w->group_first[m->batch];
            if (m->batch + 1 == c->next_group + w->group_batches[c->next_group]) {
                c->commit_points++;
            }
        }
        break;
    case MESSAGE_AUTO_COMMITTED:
        on_results(t, m);
        if (m->batch < w->batches_count && w->group_automatic[m->batch]) {
            commit_group(t, m->batch);
            c->next_group = m->batch + 1;
        }
        break;
    case MESSAGE_COMMITTED:
        on_committed(t, m);
        c->next_group = (uint64_t)m->batch + m->count;
        break;
    case MESSAGE_IDLE:
        c->idle = true;
        break;
    case MESSAGE_FAILED:
        c->failed = true;
        fail("child failed at batch %u: %s (%d): %s", m->batch,
             ledger_strerror(m->error), m->error, m->detail);
        break;
    default:
        fail("unknown message kind %u", m->kind);
    }
}

/* ------------------------------------------------------------------------ */
/* Running and killing a child                                              */

enum kill_mode {
    KILL_AFTER_DELAY,   /* a random delay after the fork */
    KILL_AFTER_MESSAGE, /* right after the n-th message */
    KILL_MID_COMMIT,    /* a random spin after the n-th group reached commit */
    KILL_DURING_OPEN,   /* a few ms after the fork: opening, replaying */
    KILL_WHEN_IDLE,     /* once the child has done all its batches */
};

static const char *const kill_mode_names[] = {
    "after delay", "after message", "mid commit", "during open", "when idle",
};

typedef struct kill_plan {
    uint32_t mode;     /* enum kill_mode */
    uint64_t delay_ns; /* AFTER_DELAY, DURING_OPEN */
    uint32_t messages; /* AFTER_MESSAGE: messages; MID_COMMIT: commit points */
    uint64_t spin_ns;  /* MID_COMMIT */
} kill_plan_t;

static kill_plan_t kill_plan_choose(uint64_t seed, uint64_t cycle) {
    uint64_t rng = rng_for(seed, STREAM_KILL, cycle);
    kill_plan_t k;
    memset(&k, 0, sizeof k);
    uint64_t roll = rng_below(&rng, 100);
    if (roll < 30) {
        k.mode = KILL_AFTER_DELAY;
        k.delay_ns = rng_below(&rng, KILL_DELAY_NS_MAX + 1);
    } else if (roll < 55) {
        k.mode = KILL_AFTER_MESSAGE;
        k.messages = 1 + (uint32_t)rng_below(&rng, 60);
    } else if (roll < 87) {
        k.mode = KILL_MID_COMMIT;
        k.messages = 1 + (uint32_t)rng_below(&rng, 20);
        k.spin_ns = rng_below(&rng, KILL_COMMIT_SPIN_NS_MAX + 1);
    } else {
        k.mode = KILL_DURING_OPEN;
        k.delay_ns = rng_below(&rng, KILL_OPEN_DELAY_NS_MAX + 1);
    }
    return k;
}

static bool kill_due(const kill_plan_t *k, const cycle_t *c) {
    if (c->idle || c->failed) return true;
    if (k->mode == KILL_AFTER_MESSAGE) return c->messages >= k->messages;
    if (k->mode == KILL_MID_COMMIT) return c->commit_points >= k->messages;
    return false;
}

typedef struct reader {
    int fd;
    size_t used;
    size_t offset;
    unsigned char buffer[READ_BUFFER_SIZE];
} reader_t;

/* Takes the next whole buffered message, if any. */
static bool reader_next(reader_t *r, message_t *m) {
    if (r->used - r->offset < sizeof *m) return false;
    memcpy(m, r->buffer + r->offset, sizeof *m);
    r->offset += sizeof *m;
    return true;
}

/* Reads what the pipe has; returns bytes read, 0 at end of file. */
static ssize_t reader_fill(reader_t *r) {
    memmove(r->buffer, r->buffer + r->offset, r->used - r->offset);
    r->used -= r->offset;
    r->offset = 0;
    ssize_t got;
    do {
        got = read(r->fd, r->buffer + r->used, sizeof r->buffer - r->used);
    } while (got < 0 && errno == EINTR);
    TEST_REQUIRE(got >= 0);
    r->used += (size_t)got;
    return got;
}

static pid_t child_start(const crash_test_t *t, const child_plan_t *plan,
                         int *fd_out) {
    int fds[2];
    TEST_REQUIRE(pipe(fds) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(t->path, &t->workload, plan, fds[1]);
    }
    close(fds[1]);
    *fd_out = fds[0];
    return pid;
}

/* Processes messages until the kill is due (or the deadline passes). */
static void cycle_wait_for_kill(crash_test_t *t, cycle_t *c, reader_t *r,
                                const kill_plan_t *k, uint64_t deadline_ns) {
    message_t m;
    for (;;) {
        while (reader_next(r, &m)) {
            on_message(t, c, &m);
            if (kill_due(k, c)) return;
        }
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        if (now >= deadline_ns) return;
        uint64_t wait_ns = deadline_ns - now;
        struct timespec timeout = {(time_t)(wait_ns / NS_PER_S),
                                   (long)(wait_ns % NS_PER_S)};
        struct pollfd poll_fd = {r->fd, POLLIN, 0};
        int ready = ppoll(&poll_fd, 1, &timeout, NULL);
        TEST_REQUIRE(ready >= 0 || errno == EINTR);
        if (ready > 0 && reader_fill(r) == 0) {
            fail("the child died before it was killed");
            return;
        }
    }
}

static void spin_ns(uint64_t duration_ns) {
    uint64_t end = clock_ns(CLOCK_MONOTONIC) + duration_ns;
    while (clock_ns(CLOCK_MONOTONIC) < end) {
    }
}

/* Forks a child with c->plan, kills it per `k`, and takes in every message
 * it managed to send. Returns the ns from fork to kill. */
static uint64_t cycle_run_child(crash_test_t *t, cycle_t *c, const kill_plan_t *k) {
    static reader_t reader;
    int fd = -1;
    uint64_t start = clock_ns(CLOCK_MONOTONIC);
    pid_t pid = child_start(t, &c->plan, &fd);
    memset(&reader, 0, sizeof reader);
    reader.fd = fd;
    uint64_t wait_ns = k->mode == KILL_AFTER_DELAY || k->mode == KILL_DURING_OPEN
                           ? k->delay_ns
                           : k->mode == KILL_WHEN_IDLE ? IDLE_WAIT_NS : KILL_FALLBACK_NS;
    cycle_wait_for_kill(t, c, &reader, k, start + wait_ns);
    if (k->mode == KILL_MID_COMMIT && !c->idle && !c->failed) spin_ns(k->spin_ns);
    TEST_REQUIRE(kill(pid, SIGKILL) == 0);
    uint64_t killed_after = clock_ns(CLOCK_MONOTONIC) - start;
    int status = 0;
    TEST_REQUIRE(waitpid(pid, &status, 0) == pid);
    if (!c->failed && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        fail("the child ended on its own (wait status 0x%x)", (unsigned)status);
    }
    /* Everything it wrote before dying counts: drain to end of file. */
    message_t m;
    for (;;) {
        while (reader_next(&reader, &m)) on_message(t, c, &m);
        if (reader_fill(&reader) == 0) break;
    }
    TEST_CHECK_EQ(reader.used - reader.offset, 0);
    close(fd);
    t->kills++;
    return killed_after;
}

/* ------------------------------------------------------------------------ */
/* Checks on the reopened ledger                                            */

/* Which field of `stored` is not what the engine should have stored for
 * `request` (NULL if none). `pending` is the transfer a post or void names. */
static const char *transfer_mismatch(const ledger_transfer_t *stored,
                                     const ledger_transfer_t *request,
                                     const ledger_transfer_t *pending) {
    if (!ledger_u128_equal(stored->id, request->id)) return "id";
    if (!ledger_u128_equal(stored->debit_account_id, request->debit_account_id)) {
        return "debit_account_id";
    }
    if (!ledger_u128_equal(stored->credit_account_id, request->credit_account_id)) {
        return "credit_account_id";
    }
    if (!ledger_u128_equal(stored->pending_id, request->pending_id)) return "pending_id";
    if (!ledger_u128_equal(stored->user_data_128, request->user_data_128)) {
        return "user_data_128";
    }
    if (stored->user_data_64 != request->user_data_64) return "user_data_64";
    if (stored->user_data_32 != request->user_data_32) return "user_data_32";
    if (stored->timeout != request->timeout) return "timeout";
    if (stored->ledger != request->ledger) return "ledger";
    if (stored->code != request->code) return "code";
    /* LINKED is a request flag; whether it is stored is not specified. */
    if ((stored->flags ^ request->flags) & ~(unsigned)LEDGER_TRANSFER_LINKED) return "flags";
    if (stored->timestamp == 0) return "timestamp";
    if (request->flags & LEDGER_TRANSFER_BALANCING_DEBIT) {
        return stored->amount <= request->amount ? NULL : "amount";
    }
    if (request->amount == 0 && (request->flags & LEDGER_TRANSFER_POST_PENDING)) {
        return stored->amount == pending->amount ? NULL : "amount";
    }
    if (request->amount == 0 && (request->flags & LEDGER_TRANSFER_VOID_PENDING)) {
        return stored->amount == 0 || stored->amount == pending->amount ? NULL : "amount";
    }
    return stored->amount == request->amount ? NULL : "amount";
}

static bool transfer_equal(const ledger_transfer_t *a, const ledger_transfer_t *b) {
    return ledger_u128_equal(a->id, b->id) &&
           ledger_u128_equal(a->debit_account_id, b->debit_account_id) &&
           ledger_u128_equal(a->credit_account_id, b->credit_account_id) &&
           a->amount == b->amount && ledger_u128_equal(a->pending_id, b->pending_id) &&
           ledger_u128_equal(a->user_data_128, b->user_data_128) &&
           a->user_data_64 == b->user_data_64 && a->user_data_32 == b->user_data_32 &&
           a->timeout == b->timeout && a->ledger == b->ledger && a->code == b->code &&
           a->flags == b->flags && a->timestamp == b->timestamp;
}

/* Looks up every generated transfer into present_now / stored_now. */
static void lookup_all_transfers(crash_test_t *t, ledger_t *ledger) {
    const workload_t *w = &t->workload;
    for (uint64_t first = 0; first < w->events_count; first += LEDGER_LOOKUP_IDS_MAX) {
        uint64_t left = w->events_count - first;
        uint32_t count = left < LEDGER_LOOKUP_IDS_MAX ? (uint32_t)left : LEDGER_LOOKUP_IDS_MAX;
        for (uint32_t k = 0; k < count; k++) t->lookup_ids[k] = w->events[first + k].id;
        uint32_t found = 0;
        int rc = ledger_lookup_transfers(ledger, t->lookup_ids, count, t->lookup_out, &found);
        TEST_CHECK_EQ(rc, 0);
        if (rc != 0) found = 0;
        /* Found ones come first, in the order of the ids. */
        uint32_t next = 0;
        for (uint32_t k = 0; k < count; k++) {
            bool hit = next < found &&
                       ledger_u128_equal(t->lookup_out[next].id, t->lookup_ids[k]);
            t->present_now[first + k] = hit;
            if (hit) t->stored_now[first + k] = t->lookup_out[next++];
        }
        TEST_CHECK_EQ(next, found);
    }
}

/* Every stored event holds what was asked, stays as it was, and linked
 * chains are stored whole or not at all. */
static void check_group_events(crash_test_t *t, uint64_t group) {
    const workload_t *w = &t->workload;
    uint64_t end = group + w->group_batches[group];
    for (uint64_t e = w->batch_first[group]; e < w->batch_first[end]; e++) {
        const ledger_transfer_t *request = &w->events[e];
        if (t->present_now[e]) {
            uint64_t pending = event_of_id(w, request->pending_id);
            const char *field = transfer_mismatch(
                &t->stored_now[e], request, pending == UINT64_MAX ? request : &w->events[pending]);
            if (field != NULL) {
                fail("transfer %" PRIu64 " is stored with a wrong %s", request->id.lo, field);
            }
        }
        if (t->present[e] && !t->present_now[e]) {
            fail("transfer %" PRIu64 " was stored and has vanished", request->id.lo);
        } else if (t->present[e] && !transfer_equal(&t->stored[e], &t->stored_now[e])) {
            fail("transfer %" PRIu64 " was stored and has changed", request->id.lo);
        }
    }
    for (uint64_t e = w->batch_first[group]; e < w->batch_first[end];) {
        uint64_t last = e;
        while (w->events[last].flags & LEDGER_TRANSFER_LINKED) last++;
        for (uint64_t k = e + 1; k <= last; k++) {
            if (t->present_now[k] != t->present_now[e]) {
                fail("linked chain %" PRIu64 "..%" PRIu64 " is half stored",
                     w->events[e].id.lo, w->events[last].id.lo);
                break;
            }
        }
        e = last + 1;
    }
}

/* Whether the group is stored exactly as `committed` (or the current
 * attempt) says; prints the differences when `report`. */
static bool group_matches(crash_test_t *t, uint64_t group, bool use_committed,
                          bool report) {
    const workload_t *w = &t->workload;
    bool matches = true;
    for (uint64_t b = group; b < group + w->group_batches[group]; b++) {
        const batch_record_t *record = &t->records[b];
        const ledger_result_t *results = use_committed ? record->committed : record->attempt;
        for (uint32_t i = 0; i < batch_events(w, b); i++) {
            uint64_t e = w->batch_first[b] + i;
            bool expected = result_stored(results[i].result);
            bool same = t->present_now[e] == expected &&
                        (!expected || t->stored_now[e].timestamp == results[i].timestamp);
            if (!same && report) {
                fail("batch %" PRIu64 " event %u: result %s (timestamp %" PRIu64
                     ") but %s (timestamp %" PRIu64 ")", b, i,
                     ledger_result_name(results[i].result), results[i].timestamp,
                     t->present_now[e] ? "stored" : "not stored",
                     t->present_now[e] ? t->stored_now[e].timestamp : 0);
            }
            matches = matches && same;
        }
    }
    return matches;
}

/* Whether nothing of the group was stored since the last reopen. */
static bool group_unchanged(const crash_test_t *t, uint64_t group) {
    const workload_t *w = &t->workload;
    uint64_t end = group + w->group_batches[group];
    for (uint64_t e = w->batch_first[group]; e < w->batch_first[end]; e++) {
        if (t->present_now[e] != t->present[e]) return false;
    }
    return true;
}

static bool group_any_present(const crash_test_t *t, uint64_t group) {
    const workload_t *w = &t->workload;
    uint64_t end = group + w->group_batches[group];
    for (uint64_t e = w->batch_first[group]; e < w->batch_first[end]; e++) {
        if (t->present_now[e]) return true;
    }
    return false;
}

static void group_set_in_doubt(crash_test_t *t, uint64_t group, bool applied) {
    const workload_t *w = &t->workload;
    for (uint64_t b = group; b < group + w->group_batches[group]; b++) {
        if (t->records[b].status == BATCH_COMMITTED) continue;
        t->records[b].status = BATCH_IN_DOUBT;
        t->records[b].applied = t->records[b].applied || applied;
    }
}

/*
 * What the reopened ledger must hold for one group:
 *   reported committed         → exactly its results;
 *   results known, no report   → exactly its results, or nothing new
 *                                (a write group is atomic);
 *   auto call in flight        → anything (chains still whole);
 *   anything else              → nothing new.
 */
static void verify_group(crash_test_t *t, const cycle_t *c, uint64_t group) {
    const workload_t *w = &t->workload;
    uint32_t batches = w->group_batches[group];
    check_group_events(t, group);
    if (t->records[group].status == BATCH_COMMITTED) {
        if (!group_matches(t, group, true, false)) {
            fail("group %" PRIu64 " was committed; the reopened ledger differs:", group);
            group_matches(t, group, true, true);
        }
        return;
    }
    bool all_known = true;
    for (uint32_t k = 0; k < batches; k++) {
        all_known = all_known && t->records[group + k].attempt_known;
    }
    bool in_flight = group == c->next_group && group < c->plan.batch_limit;
    if (all_known) {
        bool committed = group_matches(t, group, false, false);
        bool unchanged = group_unchanged(t, group);
        if (committed && !unchanged) {
            commit_group(t, group); /* committed, killed before reporting */
            t->unreported_commits++;
        } else if (unchanged) {
            t->rolled_back_groups += !committed;
            group_set_in_doubt(t, group, false);
        } else {
            fail("group %" PRIu64 " is half applied:", group);
            group_matches(t, group, false, true);
            group_set_in_doubt(t, group, false);
        }
    } else if (in_flight && w->group_automatic[group]) {
        bool applied = group_any_present(t, group);
        t->unreported_auto_commits += applied;
        group_set_in_doubt(t, group, applied);
    } else {
        if (!group_unchanged(t, group)) {
            fail("group %" PRIu64 " changed though it never reached commit", group);
        }
        if (in_flight) group_set_in_doubt(t, group, false);
    }
}

typedef struct account_model {
    uint64_t debits_posted;
    uint64_t credits_posted;
    uint64_t debits_pending; /* pending transfers certainly still pending */
    uint64_t credits_pending;
    uint64_t debits_maybe; /* pending transfers that may have expired */
    uint64_t credits_maybe;
} account_model_t;

static account_model_t *model_account(account_model_t *model, ledger_u128_t id) {
    TEST_REQUIRE(id.hi == 0 && id.lo >= 1 && id.lo <= ACCOUNTS_COUNT);
    return &model[id.lo];
}

/* A stored post or void: checks it against its pending transfer and
 * books what it posted. */
static void model_resolution(crash_test_t *t, uint64_t e, account_model_t *model) {
    const workload_t *w = &t->workload;
    const ledger_transfer_t *s = &t->stored_now[e];
    uint64_t p = event_of_id(w, s->pending_id);
    if (p == UINT64_MAX || !t->present_now[p]) {
        fail("transfer %" PRIu64 " resolves pending %" PRIu64 ", not stored",
             s->id.lo, s->pending_id.lo);
        return;
    }
    const ledger_transfer_t *pending = &t->stored_now[p];
    if (t->resolved[p]) fail("pending %" PRIu64 " resolved twice", pending->id.lo);
    t->resolved[p] = 1;
    if (s->timestamp <= pending->timestamp ||
        (pending->timeout != 0 &&
         s->timestamp >= pending->timestamp + pending->timeout * NS_PER_S)) {
        fail("transfer %" PRIu64 " resolves pending %" PRIu64 " outside its lifetime",
             s->id.lo, pending->id.lo);
    }
    if (s->flags & LEDGER_TRANSFER_POST_PENDING) {
        if (s->amount > pending->amount) fail("post %" PRIu64 " posts too much", s->id.lo);
        model_account(model, s->debit_account_id)->debits_posted += s->amount;
        model_account(model, s->credit_account_id)->credits_posted += s->amount;
    }
}

/* Recomputes every balance from the stored transfers alone. Pending
 * transfers whose expiry is at or before now_ns expired when
 * `expired_through_now` (the parent expired them), else may have.
 * Returns how many are certainly still pending. */
static uint64_t model_from_transfers(crash_test_t *t, uint64_t now_ns,
                                     bool expired_through_now, account_model_t *model) {
    const workload_t *w = &t->workload;
    memset(t->resolved, 0, w->events_count);
    for (uint64_t e = 0; e < w->events_count; e++) {
        if (!t->present_now[e]) continue;
        const ledger_transfer_t *s = &t->stored_now[e];
        if (s->flags & (LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_VOID_PENDING)) {
            model_resolution(t, e, model);
        } else if (!(s->flags & LEDGER_TRANSFER_PENDING)) {
            model_account(model, s->debit_account_id)->debits_posted += s->amount;
            model_account(model, s->credit_account_id)->credits_posted += s->amount;
        }
    }
    uint64_t pending_count = 0;
    for (uint64_t e = 0; e < w->events_count; e++) {
        const ledger_transfer_t *s = &t->stored_now[e];
        if (!t->present_now[e] || !(s->flags & LEDGER_TRANSFER_PENDING) || t->resolved[e]) {
            continue;
        }
        account_model_t *debit = model_account(model, s->debit_account_id);
        account_model_t *credit = model_account(model, s->credit_account_id);
        bool due = s->timeout != 0 && s->timestamp + s->timeout * NS_PER_S <= now_ns;
        if (!due) {
            debit->debits_pending += s->amount;
            credit->credits_pending += s->amount;
            pending_count++;
        } else if (!expired_through_now) {
            debit->debits_maybe += s->amount;
            credit->credits_maybe += s->amount;
        }
    }
    return pending_count;
}

static void check_account(const ledger_account_t *a, const account_model_t *m) {
    if (a->debits_posted != m->debits_posted || a->credits_posted != m->credits_posted) {
        fail("account %" PRIu64 " posted %" PRIu64 "/%" PRIu64 ", recomputed %" PRIu64
             "/%" PRIu64, a->id.lo, a->debits_posted, a->credits_posted,
             m->debits_posted, m->credits_posted);
    }
    if (a->debits_pending < m->debits_pending ||
        a->debits_pending > m->debits_pending + m->debits_maybe ||
        a->credits_pending < m->credits_pending ||
        a->credits_pending > m->credits_pending + m->credits_maybe) {
        fail("account %" PRIu64 " pending %" PRIu64 "/%" PRIu64 ", recomputed %" PRIu64
             "/%" PRIu64 " (+ up to %" PRIu64 "/%" PRIu64 " not yet expired)",
             a->id.lo, a->debits_pending, a->credits_pending, m->debits_pending,
             m->credits_pending, m->debits_maybe, m->credits_maybe);
    }
}

static void check_ledger_sums(const ledger_account_t *accounts, uint32_t count) {
    for (uint32_t l = 0; l < LEDGERS_COUNT; l++) {
        uint64_t debits_posted = 0, credits_posted = 0;
        uint64_t debits_pending = 0, credits_pending = 0;
        for (uint32_t k = 0; k < count; k++) {
            if (accounts[k].ledger != ledger_numbers[l]) continue;
            debits_posted += accounts[k].debits_posted;
            credits_posted += accounts[k].credits_posted;
            debits_pending += accounts[k].debits_pending;
            credits_pending += accounts[k].credits_pending;
        }
        if (debits_posted != credits_posted || debits_pending != credits_pending) {
            fail("ledger %u: debits %" PRIu64 " posted %" PRIu64 " pending, credits %"
                 PRIu64 " posted %" PRIu64 " pending", ledger_numbers[l],
                 debits_posted, debits_pending, credits_posted, credits_pending);
        }
    }
}

/* Reads all accounts into `accounts_out` (ACCOUNTS_COUNT entries). */
static void lookup_all_accounts(ledger_t *ledger, ledger_account_t *accounts_out) {
    ledger_u128_t ids[ACCOUNTS_COUNT];
    for (uint32_t k = 0; k < ACCOUNTS_COUNT; k++) ids[k] = ledger_u128_from_u64(k + 1);
    uint32_t found = 0;
    TEST_CHECK_EQ(ledger_lookup_accounts(ledger, ids, ACCOUNTS_COUNT, accounts_out, &found), 0);
    TEST_REQUIRE(found == ACCOUNTS_COUNT);
}

static void check_balances(crash_test_t *t, ledger_t *ledger, uint64_t now_ns,
                           bool expired_through_now) {
    static account_model_t model[ACCOUNTS_COUNT + 1];
    static ledger_account_t accounts[ACCOUNTS_COUNT];
    memset(model, 0, sizeof model);
    uint64_t pending_count = model_from_transfers(t, now_ns, expired_through_now, model);
    lookup_all_accounts(ledger, accounts);
    for (uint32_t k = 0; k < ACCOUNTS_COUNT; k++) {
        check_account(&accounts[k], &model[accounts[k].id.lo]);
    }
    check_ledger_sums(accounts, ACCOUNTS_COUNT);
    ledger_stats_t stats;
    TEST_CHECK_EQ(ledger_stats(ledger, &stats), 0);
    TEST_CHECK_EQ(stats.accounts_count, ACCOUNTS_COUNT);
    if (expired_through_now) TEST_CHECK_EQ(stats.pending_count, pending_count);
}

static void check_verify(ledger_t *ledger, uint64_t *records_out) {
    ledger_verify_report_t report;
    memset(&report, 0, sizeof report);
    int rc = ledger_verify(ledger, &report, NULL, NULL);
    if (rc != 0) {
        fail("ledger_verify: %s (%d): sequence %" PRIu64 ": %s", ledger_strerror(rc),
             rc, report.first_bad_sequence, report.message);
    }
    *records_out = report.records_checked;
}

static void expire_due(ledger_t *ledger) {
    for (uint32_t k = 0; k < EXPIRE_CALLS_MAX; k++) {
        uint32_t expired = 0;
        int rc = ledger_expire_pending(ledger, &expired);
        TEST_CHECK_EQ(rc, 0);
        if (rc != 0 || expired < LEDGER_EXPIRE_BATCH_MAX) return;
    }
    fail("pending transfers still expiring after %d calls", EXPIRE_CALLS_MAX);
}

/* What one reopen saw, for the progress line. */
typedef struct reopen_report {
    ledger_stats_t stats; /* right after open */
    uint64_t open_ns;
    uint64_t records_checked;
} reopen_report_t;

static ledger_t *reopen(const crash_test_t *t, bool read_only, uint64_t *clock_context,
                        reopen_report_t *report) {
    ledger_options_t options;
    memset(&options, 0, sizeof options);
    options.checkpoint_events = CHECKPOINT_EVENTS;
    options.transfer_id_buffer_max = crash_id_buffer_max();
    options.read_only = read_only;
    options.clock = fixed_clock;
    options.clock_context = clock_context;
    ledger_t *ledger = NULL;
    uint64_t start = clock_ns(CLOCK_MONOTONIC);
    int rc = ledger_open(t->path, &options, &ledger);
    report->open_ns = clock_ns(CLOCK_MONOTONIC) - start;
    if (rc != 0) {
        printf("# reopening %s failed: %s (%d): %s\n", t->path, ledger_strerror(rc), rc,
               ledger_last_error_message(NULL));
    }
    TEST_REQUIRE(rc == 0);
    TEST_CHECK_EQ(ledger_stats(ledger, &report->stats), 0);
    return ledger;
}

/*
 * After a kill: reopens the ledger (read-only or not), runs ledger_verify(),
 * checks every group, recomputes the balances, and makes what it found the
 * reference for the next child.
 */
static void check_after_kill(crash_test_t *t, const cycle_t *c, bool read_only,
                             reopen_report_t *report) {
    const workload_t *w = &t->workload;
    uint64_t now_ns = clock_ns(CLOCK_REALTIME);
    ledger_t *ledger = reopen(t, read_only, &now_ns, report);
    check_verify(ledger, &report->records_checked);
    if (!read_only) expire_due(ledger);
    lookup_all_transfers(t, ledger);
    for (uint64_t g = 0; g < w->batches_count; g += w->group_batches[g]) {
        verify_group(t, c, g);
    }
    check_balances(t, ledger, now_ns, !read_only);
    TEST_CHECK_EQ(ledger_close(ledger), 0);
    /* What was found now is what the next child's resubmissions face. */
    uint8_t *present = t->present;
    ledger_transfer_t *stored = t->stored;
    t->present = t->present_now;
    t->stored = t->stored_now;
    t->present_now = present;
    t->stored_now = stored;
    for (uint64_t b = 0; b < w->batches_count; b++) t->records[b].attempt_known = false;
}

/* ------------------------------------------------------------------------ */
/* Setup and cycles                                                         */

static int remove_entry(const char *path, const struct stat *status, int type,
                        struct FTW *walk) {
    (void)status;
    (void)type;
    (void)walk;
    return remove(path);
}

/* mkdir -p */
static void make_directories(const char *path) {
    char partial[PATH_MAX];
    snprintf(partial, sizeof partial, "%s", path);
    for (char *slash = strchr(partial + 1, '/'); slash != NULL;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        TEST_REQUIRE(mkdir(partial, 0700) == 0 || errno == EEXIST);
        *slash = '/';
    }
    TEST_REQUIRE(mkdir(partial, 0700) == 0 || errno == EEXIST);
}

static void crash_test_init(crash_test_t *t, uint64_t seed) {
    memset(t, 0, sizeof *t);
    const char *base = getenv("BORSELLINO_TEST_TMP");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    make_directories(base);
    snprintf(t->directory, sizeof t->directory, "%s/crash-XXXXXX", base);
    TEST_REQUIRE(mkdtemp(t->directory) != NULL);
    int length = snprintf(t->path, sizeof t->path, "%s/ledger", t->directory);
    TEST_REQUIRE(length > 0 && (size_t)length < sizeof t->path);
    t->workload.seed = seed;
    t->lookup_ids = calloc(LEDGER_LOOKUP_IDS_MAX, sizeof *t->lookup_ids);
    t->lookup_out = calloc(LEDGER_LOOKUP_IDS_MAX, sizeof *t->lookup_out);
    TEST_REQUIRE(t->lookup_ids != NULL && t->lookup_out != NULL);
    failure_lines = 0;
}

/* Removes the data directory if the case passed, and frees everything. */
static void crash_test_finish(crash_test_t *t) {
    if (test_failures_in_case == 0) {
        nftw(t->directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else {
        printf("# data left in %s\n", t->directory);
    }
    workload_t *w = &t->workload;
    free(w->events);
    free(w->batch_first);
    free(w->group_first);
    free(w->group_batches);
    free(w->group_automatic);
    free(t->records);
    free(t->present);
    free(t->stored);
    free(t->present_now);
    free(t->stored_now);
    free(t->resolved);
    free(t->lookup_ids);
    free(t->lookup_out);
}

/* Creates the accounts, in the parent, before any child runs. */
static void setup_accounts(const crash_test_t *t) {
    static ledger_account_t accounts[ACCOUNTS_COUNT];
    static ledger_result_t results[ACCOUNTS_COUNT];
    memset(accounts, 0, sizeof accounts);
    for (uint32_t k = 0; k < ACCOUNTS_COUNT; k++) {
        uint64_t id = k + 1;
        accounts[k].id = ledger_u128_from_u64(id);
        accounts[k].ledger = ledger_numbers[id % 2 == 1 ? 0 : 1];
        accounts[k].code = ACCOUNT_CODE;
        if (id % 3 == 0) {
            accounts[k].flags = LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
        } else if (id % 7 == 0) {
            accounts[k].flags = LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
        }
    }
    ledger_options_t options;
    memset(&options, 0, sizeof options);
    options.checkpoint_events = CHECKPOINT_EVENTS;
    options.transfer_id_buffer_max = crash_id_buffer_max();
    ledger_t *ledger = NULL;
    int rc = ledger_open(t->path, &options, &ledger);
    if (rc != 0) printf("# ledger_open: %s\n", ledger_last_error_message(NULL));
    TEST_REQUIRE(rc == 0);
    TEST_REQUIRE(ledger_create_accounts(ledger, accounts, ACCOUNTS_COUNT, results) == 0);
    for (uint32_t k = 0; k < ACCOUNTS_COUNT; k++) {
        TEST_CHECK_EQ(results[k].result, LEDGER_RESULT_OK);
    }
    TEST_CHECK_EQ(ledger_close(ledger), 0);
}

/* The next child starts at the last committed group before the first
 * batch not known committed, and may add BATCHES_PER_CYCLE_MAX new ones. */
static void cycle_plan(crash_test_t *t, cycle_t *c) {
    workload_t *w = &t->workload;
    uint64_t first_doubt = 0, run_end = 0;
    while (first_doubt < t->batches_fitted &&
           t->records[first_doubt].status == BATCH_COMMITTED) {
        first_doubt++;
    }
    for (uint64_t b = 0; b < t->batches_fitted; b++) {
        if (t->records[b].status != BATCH_NOT_RUN) run_end = b + 1;
    }
    memset(c, 0, sizeof *c);
    c->plan.first_batch = first_doubt == 0 ? 0 : w->group_first[first_doubt - 1];
    c->plan.batch_limit = run_end + BATCHES_PER_CYCLE_MAX;
    workload_extend(w, c->plan.batch_limit + GROUP_BATCHES_MAX);
    crash_test_fit(t);
    c->next_group = c->plan.first_batch;
}

static uint64_t batches_committed(const crash_test_t *t) {
    uint64_t count = 0;
    for (uint64_t b = 0; b < t->batches_fitted; b++) {
        count += t->records[b].status == BATCH_COMMITTED;
    }
    return count;
}

/* One kill: run a child, kill it, check the reopened ledger, print a line. */
static void crash_cycle(crash_test_t *t, uint64_t number, uint64_t cycles,
                        const kill_plan_t *k, bool read_only, uint64_t clock_ns_fixed) {
    cycle_t c;
    cycle_plan(t, &c);
    c.plan.clock_ns = clock_ns_fixed;
    uint64_t committed_before = batches_committed(t);
    uint64_t killed_ns = cycle_run_child(t, &c, k);
    reopen_report_t report;
    check_after_kill(t, &c, read_only, &report);
    printf("# kill %" PRIu64 "/%" PRIu64 ": %s at %.1f ms, %u messages; batches "
           "%" PRIu64 "..%" PRIu64 " run, %" PRIu64 " newly committed; reopen%s: "
           "journal %" PRIu64 ", checkpoint %" PRIu64 ", replayed %" PRIu64
           " in %.1f ms; verified %" PRIu64 " records\n",
           number, cycles, kill_mode_names[k->mode], (double)killed_ns / 1e6,
           c.messages, c.plan.first_batch, c.next_group,
           batches_committed(t) - committed_before, read_only ? " read-only" : "",
           report.stats.journal_sequence, report.stats.checkpoint_sequence,
           report.stats.replayed_events, (double)report.open_ns / 1e6,
           report.records_checked);
    fflush(stdout);
}

static uint64_t seed_pick(void) {
    uint64_t seed = test_seed;
    if (seed == 0) seed = clock_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
    printf("# seed %" PRIu64 " (replay with --seed %" PRIu64 ")\n", seed, seed);
    return seed;
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                    */

static void crash_recovery_random_kills(void) {
    uint64_t seed = seed_pick();
    uint64_t cycles = test_ops != 0 ? test_ops : KILL_CYCLES_DEFAULT;
    static crash_test_t t;
    crash_test_init(&t, seed);
    setup_accounts(&t);
    for (uint64_t cycle = 0; cycle < cycles; cycle++) {
        kill_plan_t k = kill_plan_choose(seed, cycle);
        crash_cycle(&t, cycle + 1, cycles, &k, cycle % 3 == 2, 0);
    }
    uint64_t committed = batches_committed(&t);
    printf("# %" PRIu64 " kills, %" PRIu64 " batches committed (%" PRIu64
           " events), resubmitted: %" PRIu64 " exists, %" PRIu64 " id_already_failed, %"
           PRIu64 " ok\n", t.kills, committed, (uint64_t)t.workload.batch_first[committed],
           t.resubmitted[LEDGER_RESULT_EXISTS],
           t.resubmitted[LEDGER_RESULT_ID_ALREADY_FAILED], t.resubmitted[LEDGER_RESULT_OK]);
    printf("# interrupted groups found committed without a report: %" PRIu64
           ", rolled back: %" PRIu64 ", auto calls found applied: %" PRIu64 "\n",
           t.unreported_commits, t.rolled_back_groups, t.unreported_auto_commits);
    TEST_CHECK_EQ(t.kills, cycles);
    TEST_CHECK(committed > 0);
    /* The last committed group is resubmitted after every kill. */
    TEST_CHECK(t.resubmitted[LEDGER_RESULT_EXISTS] > 0);
    crash_test_finish(&t);
}

/* The same with random ids and an id buffer of 16 (ids_scrambled). */
static void crash_recovery_random_ids(void) {
    ids_scrambled = true;
    crash_recovery_random_kills();
    ids_scrambled = false;
}

/*
 * A child commits RESUBMIT_CASE_BATCHES batches and is killed; a second child
 * resubmits all of them, with a clock set before the first transfer so that
 * nothing expires, and is killed too. Every event must come back exists or
 * fail as before, and no balance may have moved.
 */
static void crash_recovery_resubmit_exists(void) {
    uint64_t seed = seed_pick();
    static crash_test_t t;
    crash_test_init(&t, seed);
    setup_accounts(&t);
    uint64_t before_transfers_ns = clock_ns(CLOCK_REALTIME);
    kill_plan_t k;
    memset(&k, 0, sizeof k);
    k.mode = KILL_WHEN_IDLE;
    cycle_t c;
    cycle_plan(&t, &c);
    c.plan.batch_limit = RESUBMIT_CASE_BATCHES;
    cycle_run_child(&t, &c, &k);
    reopen_report_t report;
    check_after_kill(&t, &c, true, &report);
    TEST_CHECK_EQ(batches_committed(&t), c.next_group);
    TEST_CHECK(c.idle);

    static ledger_account_t before[ACCOUNTS_COUNT], after[ACCOUNTS_COUNT];
    uint64_t never_ns = before_transfers_ns;
    ledger_t *ledger = reopen(&t, true, &never_ns, &report);
    lookup_all_accounts(ledger, before);
    TEST_CHECK_EQ(ledger_close(ledger), 0);

    cycle_t again;
    memset(&again, 0, sizeof again);
    again.plan.first_batch = 0;
    again.plan.batch_limit = c.next_group;
    again.plan.clock_ns = before_transfers_ns;
    again.next_group = 0;
    cycle_run_child(&t, &again, &k);
    TEST_CHECK(again.idle);
    check_after_kill(&t, &again, true, &report);

    ledger = reopen(&t, true, &never_ns, &report);
    lookup_all_accounts(ledger, after);
    TEST_CHECK_EQ(ledger_close(ledger), 0);
    for (uint32_t a = 0; a < ACCOUNTS_COUNT; a++) {
        if (memcmp(&before[a], &after[a], sizeof before[a]) != 0) {
            fail("account %u changed when its batches were resubmitted", a + 1);
        }
    }
    printf("# %" PRIu64 " batches resubmitted: %" PRIu64 " exists, %" PRIu64
           " id_already_failed, %" PRIu64 " ok\n", again.next_group,
           t.resubmitted[LEDGER_RESULT_EXISTS],
           t.resubmitted[LEDGER_RESULT_ID_ALREADY_FAILED], t.resubmitted[LEDGER_RESULT_OK]);
    TEST_CHECK(t.resubmitted[LEDGER_RESULT_EXISTS] > 0);
    TEST_CHECK(t.resubmitted[LEDGER_RESULT_ID_ALREADY_FAILED] > 0);
    TEST_CHECK_EQ(t.resubmitted[LEDGER_RESULT_OK], 0);
    crash_test_finish(&t);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"crash_recovery_random_kills", crash_recovery_random_kills},
        {"crash_recovery_resubmit_exists", crash_recovery_resubmit_exists},
        {"crash_recovery_random_ids", crash_recovery_random_ids},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
