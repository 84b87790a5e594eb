/*
 * ledger.h — the borsellino ledger engine: the manual.
 *
 * An append-only, double-entry ledger stored in LMDB. Accounts and transfers
 * follow the TigerBeetle model (see docs/ledger.md for the full semantics):
 * every transfer debits one account and credits another by the same amount,
 * in integer minor units, so that for every ledger (currency)
 *     Σ debits_posted  = Σ credits_posted   and
 *     Σ debits_pending = Σ credits_pending
 * hold after every commit. The engine asserts both at every commit, and
 * ledger_verify() recomputes them from the journal.
 *
 * Storage (docs/storage.md): the journal of events is the truth. Every
 * accepted event becomes one fixed-size, checksummed, hash-chained journal
 * record appended with MDB_APPEND. Balances live in memory and are written to
 * the account table only at checkpoints; opening a ledger loads the last
 * checkpoint and replays the journal tail.
 *
 * Threads: a ledger_t is used by one thread at a time. The caller serialises
 * every call on one handle (the server does this with its writer thread).
 *
 * Errors: every fallible function returns int, 0 on success. Nonzero values
 * are LEDGER_ERR_* (negative, in their own range), LMDB's MDB_* codes, or a
 * positive errno; ledger_strerror() describes all of them. Per-event outcomes
 * of create_accounts/create_transfers are not errors: they are
 * ledger_result_code values written into the caller's results array.
 */
#ifndef BORSELLINO_LEDGER_H
#define BORSELLINO_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Values                                                                   */

/* An unsigned 128-bit integer (ids, user data). Compared as hi, then lo.
 * Zero and 2^128-1 are reserved and refused as ids. */
typedef struct ledger_u128 {
    uint64_t hi;
    uint64_t lo;
} ledger_u128_t;

/* Limits. Every one is enforced and tested at the bound. */
enum {
    /* Most events (accounts or transfers) in one create_* call. */
    LEDGER_BATCH_EVENTS_MAX = 8190,
    /* Most ids in one lookup call. */
    LEDGER_LOOKUP_IDS_MAX = 8190,
    /* Most entries one account_history call returns. */
    LEDGER_HISTORY_LIMIT_MAX = 8190,
    /* Most timed-out pending transfers one ledger_expire_pending() releases. */
    LEDGER_EXPIRE_BATCH_MAX = 8190,
};

/* Account flags. LINKED is per-request only (it is not stored). CLOSED is
 * set and cleared by the engine only (closing transfers); a create request
 * carrying it is refused with LEDGER_RESULT_RESERVED_FLAG. */
enum ledger_account_flags {
    LEDGER_ACCOUNT_LINKED = 1u << 0,
    LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS = 1u << 1,
    LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS = 1u << 2,
    /* Accepted and stored for compatibility with TigerBeetle's model. The
     * journal keeps the balance after every event for every account, so
     * history and balance-at-time work whether or not it is set. */
    LEDGER_ACCOUNT_HISTORY = 1u << 3,
    LEDGER_ACCOUNT_CLOSED = 1u << 4,
};

/* An account. On create, the four balances and the timestamp must be zero;
 * the engine assigns the timestamp. */
typedef struct ledger_account {
    ledger_u128_t id;
    uint64_t debits_pending;
    uint64_t debits_posted;
    uint64_t credits_pending;
    uint64_t credits_posted;
    ledger_u128_t user_data_128;
    uint64_t user_data_64;
    uint32_t user_data_32;
    uint32_t ledger; /* currency / book, e.g. 978 for EUR; not zero */
    uint16_t code;   /* account kind, chosen by the application; not zero */
    uint16_t flags;  /* enum ledger_account_flags */
    uint64_t timestamp; /* creation time, ns since the Unix epoch */
} ledger_account_t;

enum ledger_transfer_flags {
    /* The next event of the batch succeeds or fails with this one. */
    LEDGER_TRANSFER_LINKED = 1u << 0,
    /* Reserve the amount (debits_pending/credits_pending) instead of posting. */
    LEDGER_TRANSFER_PENDING = 1u << 1,
    /* Post the pending transfer named by pending_id (fully or partially). */
    LEDGER_TRANSFER_POST_PENDING = 1u << 2,
    /* Release the pending transfer named by pending_id. */
    LEDGER_TRANSFER_VOID_PENDING = 1u << 3,
    /* Transfer at most `amount`, as much as the debit account's
     * debits_must_not_exceed_credits limit allows. */
    LEDGER_TRANSFER_BALANCING_DEBIT = 1u << 4,
    /* Transfer at most `amount`, as much as the credit account's
     * credits_must_not_exceed_debits limit allows. */
    LEDGER_TRANSFER_BALANCING_CREDIT = 1u << 5,
    /* With PENDING: close the debit (credit) account while the transfer is
     * pending and after it is posted; voiding or expiry reopens it. */
    LEDGER_TRANSFER_CLOSING_DEBIT = 1u << 6,
    LEDGER_TRANSFER_CLOSING_CREDIT = 1u << 7,
};

/* A transfer. On create, the timestamp must be zero; the engine assigns it.
 * For post/void, debit_account_id, credit_account_id, ledger and code may be
 * zero (they are taken from the pending transfer) or must match it. */
typedef struct ledger_transfer {
    ledger_u128_t id;
    ledger_u128_t debit_account_id;
    ledger_u128_t credit_account_id;
    uint64_t amount; /* minor units; see docs/ledger.md for 0 with post/balancing */
    ledger_u128_t pending_id; /* post/void only: the pending transfer */
    ledger_u128_t user_data_128;
    uint64_t user_data_64;
    uint32_t user_data_32;
    uint32_t timeout; /* pending only: seconds until it expires; 0 = never */
    uint32_t ledger;
    uint16_t code;
    uint16_t flags; /* enum ledger_transfer_flags */
    uint64_t timestamp;
} ledger_transfer_t;

/*
 * The outcome of one event. Numbers are part of the public contract: they
 * are never changed and never reused. For each create call the checks run
 * in the order documented in docs/ledger.md ("Validation order"); the first
 * failing check decides the code.
 */
enum ledger_result_code {
    LEDGER_RESULT_OK = 0,
    LEDGER_RESULT_LINKED_EVENT_FAILED = 1,
    LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN = 2,
    LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO = 3,
    LEDGER_RESULT_RESERVED_FLAG = 4,
    LEDGER_RESULT_ID_MUST_NOT_BE_ZERO = 5,
    LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX = 6,
    LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE = 7,
    LEDGER_RESULT_DEBITS_PENDING_MUST_BE_ZERO = 8,
    LEDGER_RESULT_DEBITS_POSTED_MUST_BE_ZERO = 9,
    LEDGER_RESULT_CREDITS_PENDING_MUST_BE_ZERO = 10,
    LEDGER_RESULT_CREDITS_POSTED_MUST_BE_ZERO = 11,
    LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO = 12,
    LEDGER_RESULT_CODE_MUST_NOT_BE_ZERO = 13,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS = 14,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_128 = 15,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_64 = 16,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_32 = 17,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_LEDGER = 18,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CODE = 19,
    LEDGER_RESULT_EXISTS = 20,
    LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = 21,
    LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX = 22,
    LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = 23,
    LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX = 24,
    LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT = 25,
    LEDGER_RESULT_PENDING_ID_MUST_BE_ZERO = 26,
    LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_ZERO = 27,
    LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_INT_MAX = 28,
    LEDGER_RESULT_PENDING_ID_MUST_BE_DIFFERENT = 29,
    LEDGER_RESULT_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = 30,
    LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO = 31,
    LEDGER_RESULT_CLOSING_TRANSFER_MUST_BE_PENDING = 32,
    LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND = 33,
    LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND = 34,
    LEDGER_RESULT_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER = 35,
    LEDGER_RESULT_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS = 36,
    LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND = 37,
    LEDGER_RESULT_PENDING_TRANSFER_NOT_PENDING = 38,
    LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID = 39,
    LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID = 40,
    LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER = 41,
    LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CODE = 42,
    LEDGER_RESULT_EXCEEDS_PENDING_TRANSFER_AMOUNT = 43,
    LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = 44,
    LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED = 45,
    LEDGER_RESULT_PENDING_TRANSFER_ALREADY_VOIDED = 46,
    LEDGER_RESULT_PENDING_TRANSFER_EXPIRED = 47,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID = 48,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID = 49,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT = 50,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_PENDING_ID = 51,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_TIMEOUT = 52,
    LEDGER_RESULT_ID_ALREADY_FAILED = 53,
    LEDGER_RESULT_OVERFLOWS_DEBITS_PENDING = 54,
    LEDGER_RESULT_OVERFLOWS_CREDITS_PENDING = 55,
    LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED = 56,
    LEDGER_RESULT_OVERFLOWS_CREDITS_POSTED = 57,
    LEDGER_RESULT_OVERFLOWS_DEBITS = 58,
    LEDGER_RESULT_OVERFLOWS_CREDITS = 59,
    LEDGER_RESULT_OVERFLOWS_TIMEOUT = 60,
    LEDGER_RESULT_EXCEEDS_CREDITS = 61,
    LEDGER_RESULT_EXCEEDS_DEBITS = 62,
    LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED = 63,
    LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED = 64,
    /* The id is in a range reserved for the welfare layer (welfare.h):
     * accounts whose id's top 32 bits are 0xFFFFFFFD, transfers 0xFFFFFFFE. */
    LEDGER_RESULT_ID_RESERVED = 65,
    /* The transfer touches a welfare account (or a welfare hold): welfare
     * money moves only through welfare operations (welfare.h). */
    LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED = 66,
    /* From an employee pot to the bank: welfare credit is never cash. */
    LEDGER_RESULT_WELFARE_CASH_OUT_FORBIDDEN = 67,
    /* From an employee pot to another: credit is never moved between
     * employees. */
    LEDGER_RESULT_WELFARE_TRANSFER_BETWEEN_EMPLOYEES_FORBIDDEN = 68,
    LEDGER_RESULT_CODE_COUNT = 69 /* not a result: one past the last */
};

/* One result per event, in batch order. `timestamp` is the event's timestamp
 * when result is OK (for EXISTS, the existing event's timestamp), else 0. */
typedef struct ledger_result {
    uint32_t result; /* enum ledger_result_code */
    uint32_t reserved; /* always 0 */
    uint64_t timestamp;
} ledger_result_t;

/* Errors returned by functions (not per-event results). Their range cannot
 * collide with -errno, MDB_* (-30799..-30780) or UV_*. */
enum ledger_error {
    LEDGER_ERR_BASE = -31000,
    /* Bad argument: NULL pointer, zero count where one is required, etc. */
    LEDGER_ERR_INVALID_ARGUMENT = -31000,
    /* A create_* batch with no events. Nothing is applied. */
    LEDGER_ERR_BATCH_EMPTY = -31001,
    /* A create_* batch above LEDGER_BATCH_EVENTS_MAX, or a lookup above
     * LEDGER_LOOKUP_IDS_MAX. Nothing is applied. */
    LEDGER_ERR_BATCH_TOO_LARGE = -31002,
    /* The data directory was written by a newer format version. */
    LEDGER_ERR_FORMAT_NEWER = -31003,
    /* A record failed its checksum or is otherwise malformed. */
    LEDGER_ERR_CORRUPT = -31004,
    /* The data path exists but is not a borsellino data directory. */
    LEDGER_ERR_NOT_A_LEDGER = -31005,
    /* A write group is already open (ledger_write_begin twice). */
    LEDGER_ERR_WRITE_OPEN = -31006,
    /* No write group is open (commit/abort without begin). */
    LEDGER_ERR_NO_WRITE = -31007,
    /* An earlier call in the open write group failed; the group can only be
     * aborted. Nothing of it will ever be committed. */
    LEDGER_ERR_WRITE_FAILED = -31008,
    /* Storage is full (disk full, or the map reached map_size_max). Nothing
     * of the write group was applied; reads keep working. */
    LEDGER_ERR_STORAGE_FULL = -31009,
    /* The account does not exist (history, balance_at). */
    LEDGER_ERR_ACCOUNT_NOT_FOUND = -31010,
    /* A history filter is invalid (limit 0 or above the max, unknown flags,
     * timestamp_min > timestamp_max, no side selected). */
    LEDGER_ERR_INVALID_FILTER = -31011,
    /* Out of memory. Nothing was applied. */
    LEDGER_ERR_NO_MEMORY = -31012,
    /* Verification found a problem; see ledger_verify_report_t. */
    LEDGER_ERR_VERIFY_FAILED = -31013,
    /* An explicit write group outgrew the LMDB map. The group was rolled
     * back and the map grown: submit the group again. (create_* calls made
     * outside a group grow the map and retry by themselves.) */
    LEDGER_ERR_MAP_GROWN = -31014,
    /* The signing key (audit.h) is missing, unreadable, not Ed25519, or not
     * the pair of the directory's public key; the message names the file. */
    LEDGER_ERR_SIGNING_KEY = -31015,
    /* A write or a signature asked of a read-only handle. */
    LEDGER_ERR_READ_ONLY = -31016,
    /* Another process holds the directory's commit lock (a commit_pipelined
     * open, such as a running borsellinod). */
    LEDGER_ERR_LOCKED = -31017,
    /* A read-only open of a directory whose newest write group was
     * committed unsynced by a writer that has since stopped
     * (ledger_write_commit_unsynced): a writable open rolls it back first. */
    LEDGER_ERR_NEEDS_RECOVERY = -31018,
    LEDGER_ERR_LAST = -31018,
};

/* ------------------------------------------------------------------------ */
/* Opening and closing                                                      */

typedef struct ledger ledger_t;

/* Returns the current time in ns since the Unix epoch. Used for event
 * timestamps and pending expiry; tests inject their own clock. */
typedef uint64_t (*ledger_clock_fn)(void *context);

typedef struct ledger_options {
    /* Initial LMDB map size in bytes; 0 = 1 GiB. The map grows (doubling)
     * when less than a quarter of it is free at the start of a write group. */
    uint64_t map_size_initial;
    /* The map never grows beyond this; 0 = 1 TiB. Reaching it gives
     * LEDGER_ERR_STORAGE_FULL. */
    uint64_t map_size_max;
    /* Write the account checkpoint when this many events were journaled
     * since the last one; 0 = 1,000,000. Replay on open is bounded by it. */
    uint64_t checkpoint_events;
    /* Clock; NULL = CLOCK_REALTIME. */
    ledger_clock_fn clock;
    void *clock_context;
    /* Open read-only: no write calls allowed, no directory creation, no
     * checkpoint on close. Safe while another process writes. Beside a
     * server making pipelined commits, each read waits until what it sees
     * is on disk (at most one group's sync, tens of milliseconds), and
     * fails with LEDGER_ERR_NEEDS_RECOVERY if the server stopped first. */
    bool read_only;
    /* The Ed25519 private key that signs checkpoints (audit.h): a PKCS#8
     * PEM file, created mode 0600 when the directory is formatted. NULL =
     * DIR/signing.key. Copied at open; not used by read-only opens. */
    const char *signing_key_path;
    /* The most non-monotonic transfer ids (ids not larger than every id
     * before them, such as random ids) held in memory before they are
     * written into the id index in id order; 0 = 1,048,576 (about 32 MB
     * per 1M, up to twice that while a frozen set merges), minimum 16.
     * Past it, such ids are written into the index one by one (slower).
     * Opening rereads the journal records not yet written, at most about
     * twice this many. A writable handle also keeps a 16 MiB filter of
     * the indexed ids (filled at open, touched as ids land in it). */
    uint32_t transfer_id_buffer_max;
    /* Allow ledger_write_commit_unsynced (pipelined durable commits, for a
     * server). The open creates DIR/unsynced_txn and holds an exclusive
     * lock on it until close: a second such open of the directory, in any
     * process, gets LEDGER_ERR_LOCKED. Ignored with read_only. */
    bool commit_pipelined;
} ledger_options_t;

/*
 * Opens the ledger in directory `path`, creating the directory (mode 0700)
 * and formatting it if it does not exist or is empty. Loads the last
 * checkpoint and replays the journal after it.
 *
 * options: may be NULL for defaults; copied, not kept.
 * ledger_out: receives the handle, owned by the caller until ledger_close().
 *
 * Returns 0, or:
 *   LEDGER_ERR_FORMAT_NEWER  written by a newer borsellino;
 *   LEDGER_ERR_CORRUPT       a checksum or structural check failed;
 *   LEDGER_ERR_NOT_A_LEDGER  path holds something else;
 *   LEDGER_ERR_LOCKED        commit_pipelined, and another process has
 *                            such an open of the directory; or a group
 *                            must be rolled back (below) while another
 *                            process has the directory open;
 *   LEDGER_ERR_NEEDS_RECOVERY read-only, and the newest write group was
 *                            committed unsynced by a writer that stopped;
 *   LEDGER_ERR_NO_MEMORY, an MDB_* code or errno.
 * A writable open of such a directory first rolls that group back (it was
 * never acknowledged: see ledger_write_commit_unsynced);
 * ledger_rolled_back_txnid() then says which.
 * ledger_last_error_message() then says what and where.
 */
int ledger_open(const char *path, const ledger_options_t *options,
                ledger_t **ledger_out);

/*
 * Aborts any open write group, writes a checkpoint (unless read-only) and
 * frees the handle. NULL is ignored. Returns 0 or the checkpoint's error
 * (the handle is freed in every case).
 */
int ledger_close(ledger_t *ledger);

/*
 * Frees the handle without writing anything (no checkpoint): for a process
 * that saw a storage fault and must not write again. The next open replays
 * the journal from the last checkpoint. NULL is ignored.
 */
void ledger_close_without_checkpoint(ledger_t *ledger);

/* A human-readable description of `error` (LEDGER_ERR_*, MDB_*, errno).
 * The string is static. */
const char *ledger_strerror(int error);

/* The snake_case name of a result code ("exceeds_credits"), static. Unknown
 * numbers give "unknown". */
const char *ledger_result_name(uint32_t result);

/* Detail of the last error this handle returned (or of the last failed
 * ledger_open in this thread when ledger is NULL). Valid until the next
 * call on the handle. Never NULL. */
const char *ledger_last_error_message(const ledger_t *ledger);

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

/*
 * Write groups. Everything between ledger_write_begin() and
 * ledger_write_commit() is one LMDB write transaction and one durable
 * commit (group commit). create_* calls made outside a group open and commit
 * their own. Results written by create_* inside a group are final only once
 * ledger_write_commit() returns 0: if the commit fails, every event of the
 * group is undone, in memory and on disk, as if never submitted.
 *
 * ledger_write_begin: returns 0, LEDGER_ERR_WRITE_OPEN, LEDGER_ERR_STORAGE_FULL
 *   (the map cannot grow), or an MDB_* code.
 * ledger_write_commit: returns 0 once the group is durable (fsync done), or
 *   LEDGER_ERR_NO_WRITE, LEDGER_ERR_WRITE_FAILED (the group had failed and
 *   was rolled back), LEDGER_ERR_MAP_GROWN (the group outgrew the map, which
 *   has been grown: submit the group again), LEDGER_ERR_STORAGE_FULL, an
 *   MDB_* code or errno; in every error case the group is rolled back and
 *   closed.
 * ledger_write_abort: rolls back and closes the open group, if any.
 */
int ledger_write_begin(ledger_t *ledger);
int ledger_write_commit(ledger_t *ledger);
void ledger_write_abort(ledger_t *ledger);

/*
 * Pipelined commits: the group is committed now and made durable later,
 * so that the caller can build the next group while the disk syncs this
 * one. Only for handles opened with commit_pipelined.
 *
 * ledger_write_commit_unsynced: commits the open group like
 *   ledger_write_commit, except that it returns before the data reaches
 *   the disk. On 0 the group is visible to every later call of this
 *   process but NOT durable: nothing of it may be acknowledged until
 *   ledger_write_sync() returns 0. A later group may be begun and filled
 *   meanwhile, but not committed (by either commit call) before that
 *   sync: LEDGER_ERR_INVALID_ARGUMENT, and the group is rolled back.
 *   Errors as ledger_write_commit, plus errno from writing
 *   DIR/unsynced_txn; in every error case the group is rolled back and
 *   closed and nothing was committed.
 * ledger_write_sync: makes the unsynced group durable (fdatasync of the
 *   data, then the marker cleared). Returns 0 (also when nothing is
 *   unsynced) or errno. May run on another thread than the one calling
 *   the other functions, concurrently with them, but on one thread at a
 *   time. On error the group stays unsynced: nothing of it may be
 *   acknowledged, and no later group can be committed unsynced; the
 *   process must stop writing (ledger_close_without_checkpoint), and the
 *   next writable open rolls the group back.
 * ledger_rolled_back_txnid: the LMDB transaction rolled back by this
 *   handle's open (a group committed unsynced whose writer stopped before
 *   its sync), or 0.
 */
int ledger_write_commit_unsynced(ledger_t *ledger);
int ledger_write_sync(ledger_t *ledger);
uint64_t ledger_rolled_back_txnid(const ledger_t *ledger);

/*
 * Creates accounts. Events apply in order; each succeeds or fails on its own
 * except linked chains (LEDGER_ACCOUNT_LINKED), which succeed or fail as one.
 *
 * accounts: `count` accounts (1..LEDGER_BATCH_EVENTS_MAX), not modified.
 * results: caller-allocated array of `count` results, one per event.
 *
 * Returns 0 when every event has a result (individual events may still have
 * failed: look at results). Otherwise nothing was applied and:
 *   LEDGER_ERR_INVALID_ARGUMENT, LEDGER_ERR_BATCH_EMPTY,
 *   LEDGER_ERR_BATCH_TOO_LARGE, LEDGER_ERR_WRITE_FAILED,
 *   LEDGER_ERR_STORAGE_FULL, LEDGER_ERR_NO_MEMORY, MDB_* or errno.
 * Outside a write group, a batch that does not fit the map grows it and is
 * retried transparently. Inside a write group, a storage or memory error
 * marks the group failed (LEDGER_ERR_MAP_GROWN when it outgrew the map).
 */
int ledger_create_accounts(ledger_t *ledger, const ledger_account_t *accounts,
                           uint32_t count, ledger_result_t *results);

/*
 * Creates transfers: single-phase, pending, post and void, balancing,
 * closing. Same batching, linking, return and error rules as
 * ledger_create_accounts(). Before the first event, pending transfers whose
 * timeout has passed are expired (as ledger_expire_pending()).
 */
int ledger_create_transfers(ledger_t *ledger,
                            const ledger_transfer_t *transfers, uint32_t count,
                            ledger_result_t *results);

/*
 * Releases pending transfers whose timeout has passed, earliest expiry
 * first (ties by id), at most LEDGER_EXPIRE_BATCH_MAX per call. Each one
 * becomes an expiry event in the journal. Joins the open write group, or
 * commits its own.
 *
 * expired_count_out: may be NULL; receives how many were expired.
 * Returns 0 or the same errors as ledger_create_transfers().
 */
int ledger_expire_pending(ledger_t *ledger, uint32_t *expired_count_out);

/*
 * Writes the account checkpoint now (all accounts changed since the last
 * one), in its own durable commit. Not allowed inside a write group
 * (LEDGER_ERR_WRITE_OPEN). Returns 0 or a storage error.
 */
int ledger_checkpoint(ledger_t *ledger);

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

/*
 * Looks up accounts (current balances) or transfers by id.
 *
 * ids: `count` ids (0..LEDGER_LOOKUP_IDS_MAX).
 * out: caller array of `count` entries; found ones are written first, in the
 *   order of `ids`; ids not found (or whose transfer failed) are skipped.
 * found_count_out: receives how many were written.
 *
 * Returns 0, LEDGER_ERR_INVALID_ARGUMENT, LEDGER_ERR_BATCH_TOO_LARGE,
 * LEDGER_ERR_CORRUPT or an MDB_* code. Inside an open write group, lookups
 * see the group's uncommitted events.
 */
int ledger_lookup_accounts(ledger_t *ledger, const ledger_u128_t *ids,
                           uint32_t count, ledger_account_t *accounts_out,
                           uint32_t *found_count_out);
int ledger_lookup_transfers(ledger_t *ledger, const ledger_u128_t *ids,
                            uint32_t count, ledger_transfer_t *transfers_out,
                            uint32_t *found_count_out);

/* The balances of one account. */
typedef struct ledger_balance {
    uint64_t debits_pending;
    uint64_t debits_posted;
    uint64_t credits_pending;
    uint64_t credits_posted;
} ledger_balance_t;

/* What a history entry records. */
enum ledger_event_kind {
    LEDGER_EVENT_ACCOUNT = 1,  /* account created */
    LEDGER_EVENT_TRANSFER = 2, /* any transfer: single, pending, post, void */
    LEDGER_EVENT_EXPIRY = 3,   /* a pending transfer expired */
};

enum ledger_history_flags {
    LEDGER_HISTORY_DEBITS = 1u << 0,   /* events debiting the account */
    LEDGER_HISTORY_CREDITS = 1u << 1,  /* events crediting the account */
    LEDGER_HISTORY_REVERSED = 1u << 2, /* newest first (default oldest first) */
};

typedef struct ledger_history_filter {
    ledger_u128_t account_id;
    uint64_t timestamp_min; /* inclusive; 0 = from the beginning */
    uint64_t timestamp_max; /* inclusive; 0 = up to now */
    uint32_t limit;         /* 1..LEDGER_HISTORY_LIMIT_MAX */
    uint32_t flags;         /* enum ledger_history_flags; DEBITS|CREDITS >= 1 */
} ledger_history_filter_t;

/*
 * One event that moved an account's balance. For EXPIRY, `transfer` holds
 * the expired pending transfer's accounts, amount, ledger and code, with id
 * zero, pending_id = the pending transfer and the expiry's timestamp.
 */
typedef struct ledger_history_entry {
    uint32_t kind; /* enum ledger_event_kind: TRANSFER or EXPIRY */
    uint32_t reserved;
    ledger_transfer_t transfer;
    ledger_balance_t balance_after; /* the account's balances after it */
} ledger_history_entry_t;

/*
 * The events that moved one account, oldest first (or newest first with
 * REVERSED), within [timestamp_min, timestamp_max], at most `limit`.
 * To page oldest-first, call again with timestamp_min = last timestamp + 1;
 * newest-first, with timestamp_max = last timestamp - 1. The walk follows
 * per-account back pointers in the journal: cost is proportional to the
 * number of the account's events newer than timestamp_min.
 *
 * entries_out: caller array of `filter->limit` entries.
 * Returns 0, LEDGER_ERR_INVALID_FILTER, LEDGER_ERR_ACCOUNT_NOT_FOUND,
 * LEDGER_ERR_CORRUPT, LEDGER_ERR_NO_MEMORY or an MDB_* code.
 */
int ledger_account_history(ledger_t *ledger,
                           const ledger_history_filter_t *filter,
                           ledger_history_entry_t *entries_out,
                           uint32_t *count_out);

/*
 * The balances of an account as they were right after the last event with
 * timestamp <= `timestamp`. Before the account existed, or at its creation,
 * all four are zero. Returns 0, LEDGER_ERR_ACCOUNT_NOT_FOUND (no such
 * account now), LEDGER_ERR_CORRUPT or an MDB_* code.
 */
int ledger_account_balance_at(ledger_t *ledger, ledger_u128_t account_id,
                              uint64_t timestamp, ledger_balance_t *balance_out);

/* Counters, for status reports and tests. */
typedef struct ledger_stats {
    uint64_t journal_sequence;   /* sequence of the last journal record */
    uint64_t checkpoint_sequence;/* journal sequence the checkpoint covers */
    uint64_t last_timestamp;     /* timestamp of the last event */
    uint64_t accounts_count;
    uint64_t pending_count;      /* pending transfers not yet resolved */
    uint64_t map_size;           /* current LMDB map size, bytes */
    uint64_t map_used;           /* bytes of it in use */
    uint64_t replayed_events;    /* journal records replayed by ledger_open */
    uint64_t replay_ns;          /* time ledger_open spent replaying */
    uint8_t chain_head[32];      /* hash of the last journal record */
} ledger_stats_t;

/* Fills `stats_out`. Returns 0 or an MDB_* code. */
int ledger_stats(ledger_t *ledger, ledger_stats_t *stats_out);

/* ------------------------------------------------------------------------ */
/* Verification                                                             */

typedef struct ledger_verify_report {
    uint64_t records_checked;
    uint64_t accounts_checked;
    uint64_t ledgers_checked;
    /* On failure: the first journal sequence found broken (0 when the
     * problem is not tied to one record), and what is wrong with it. */
    uint64_t first_bad_sequence;
    char message[256];
    /* Signed checkpoints (audit.h) found to match the journal, the newest
     * one's sequence (records after it are covered by no signature yet),
     * and which key their signatures were checked with. */
    uint64_t signatures_checked;
    uint64_t last_signed_sequence;
    uint32_t key_source; /* enum ledger_verify_key_source */
} ledger_verify_report_t;

enum ledger_verify_key_source {
    LEDGER_VERIFY_KEY_NONE = 0,      /* the directory has no key: none checked */
    LEDGER_VERIFY_KEY_DIRECTORY = 1, /* the directory's own public key */
    LEDGER_VERIFY_KEY_GIVEN = 2,     /* the caller's (ledger_verify_signed) */
};

/* Called every few thousand records with (done, total), for progress bars. */
typedef void (*ledger_progress_fn)(void *context, uint64_t done,
                                   uint64_t total);

/*
 * Verifies the ledger from scratch, trusting nothing cached: walks the
 * whole journal checking every checksum, sequence and the SHA-256 hash
 * chain; recomputes every account's balances from the events alone (the
 * per-record "balance after" values and back pointers are checked against
 * the recomputation); checks Σ debits = Σ credits per ledger, for posted
 * and pending; and compares the recomputed balances with the live
 * in-memory balances and with the checkpoint table.
 *
 * Every signed checkpoint must match the recomputation at its sequence
 * (chain head and trial balance digest) and its signature must verify
 * under the directory's own public key; ledger_verify_signed (audit.h)
 * checks them under a key the caller trusts instead.
 *
 * Must not be called inside a write group. progress may be NULL.
 * Returns 0 when everything holds, LEDGER_ERR_VERIFY_FAILED with the report
 * filled, or a storage error.
 */
int ledger_verify(ledger_t *ledger, ledger_verify_report_t *report_out,
                  ledger_progress_fn progress, void *progress_context);

/* ------------------------------------------------------------------------ */
/* Backup                                                                   */

/*
 * Takes a consistent, compacted copy of the data directory `data_path`
 * into `out_path`, while another process (borsellinod) may keep writing to
 * it. No ledger handle is needed and none may be open for writing in this
 * process on the same directory. The copy is one LMDB read snapshot: a
 * committed state holding an exact prefix of the journal, with free pages
 * dropped. It is a complete data directory: ledger_open() or
 * `borsellinod --data OUT` start from it.
 *
 * out_path: must not exist (it is created, mode 0700) or be an empty
 *   directory; the copy is out_path/data.mdb, mode 0600, plus
 *   out_path/signing.key when the source has its signing key in its
 *   default place (audit.h).
 * journal_sequence_out: receives the sequence of the last journal record
 *   in the copy (0 for an empty journal), read back from the copy itself.
 *
 * Beside a server making pipelined commits (commit_pipelined), the copy is
 * kept only once every transaction it can hold is on disk: it waits for
 * the server's sync of its newest group (tens of milliseconds).
 *
 * Returns 0, or:
 *   LEDGER_ERR_INVALID_ARGUMENT  a NULL argument;
 *   LEDGER_ERR_NOT_A_LEDGER      data_path holds no data.mdb or no journal;
 *   LEDGER_ERR_STORAGE_FULL      no space left for the copy;
 *   EEXIST                       out_path exists and is not an empty
 *                                directory (it is left untouched);
 *   LEDGER_ERR_NEEDS_RECOVERY    the server stopped with a group not yet on
 *                                disk (before or during the copy): start it,
 *                                then take the backup again;
 *   an MDB_* code or another errno.
 * ledger_last_error_message(NULL) then says what and where (thread-local).
 * On failure after out_path was prepared, a partial data.mdb is removed.
 */
int ledger_backup(const char *data_path, const char *out_path,
                  uint64_t *journal_sequence_out);

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* A time-ordered id: 48 bits of milliseconds since the epoch, then 80
 * random bits, strictly increasing across calls in this process (within a
 * millisecond the random part is incremented). Thread-safe. */
ledger_u128_t ledger_id_time_ordered(void);

static inline bool ledger_u128_equal(ledger_u128_t a, ledger_u128_t b) {
    return a.hi == b.hi && a.lo == b.lo;
}

/* The order of ids as numbers (and as their big-endian keys): -1, 0, 1. */
static inline int ledger_u128_compare(ledger_u128_t a, ledger_u128_t b) {
    if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
    return 0;
}

static inline bool ledger_u128_is_zero(ledger_u128_t a) {
    return a.hi == 0 && a.lo == 0;
}

static inline bool ledger_u128_is_max(ledger_u128_t a) {
    return a.hi == UINT64_MAX && a.lo == UINT64_MAX;
}

static inline ledger_u128_t ledger_u128_from_u64(uint64_t lo) {
    ledger_u128_t value = {0, lo};
    return value;
}

#ifdef __cplusplus
}
#endif

#endif /* BORSELLINO_LEDGER_H */
