/*
 * audit.h — the auditor's view of a ledger: the manual.
 *
 * What an auditor needs to check the books without trusting the server:
 *  - signed checkpoints: the engine signs, with an Ed25519 key, the
 *    statement "at journal sequence S the chain head was H and the trial
 *    balance digest was D" (plus the signing time). History rewritten with
 *    a recomputed hash chain no longer matches a signature made before it;
 *  - the journal as a stream of decoded entries (exports, proofs);
 *  - the trial balance (per ledger and account code) now or at a past time;
 *  - the raw bytes of journal records, for inclusion proofs checked with
 *    nothing but the `openssl` command-line tool (docs/audit.md).
 *
 * The signing key. When a data directory is formatted, the engine creates
 * an Ed25519 key pair: the private key as PKCS#8 PEM in
 * ledger_options_t.signing_key_path (default DIR/signing.key), mode 0600,
 * created exclusively; the public key (32 raw bytes) in the meta table.
 * A writable open of an existing directory loads the private key and
 * refuses to open (LEDGER_ERR_SIGNING_KEY) when the file is missing,
 * unreadable, not an Ed25519 key, or not the pair of the public key the
 * directory records. A directory formatted before signing existed gets its
 * key pair on its first writable open. Read-only opens never touch the key.
 * The private key bytes are wiped from memory (OPENSSL_cleanse) after
 * loading; only OpenSSL's key object is kept, and freed at close.
 *
 * When the engine signs: at every account checkpoint (automatic ones every
 * checkpoint_events events, ledger_checkpoint(), and the one on close), in
 * the same LMDB transaction as the checkpoint, and on request
 * (ledger_sign_checkpoint). A signed checkpoint is kept forever in the
 * `signatures` table, keyed by sequence; signing again at a sequence
 * already signed keeps the first signature.
 *
 * Threads: like ledger.h, one thread at a time per handle.
 */
#ifndef BORSELLINO_LEDGER_AUDIT_H
#define BORSELLINO_LEDGER_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    LEDGER_PUBLIC_KEY_SIZE = 32,  /* raw Ed25519 public key */
    LEDGER_SIGNATURE_SIZE = 64,   /* raw Ed25519 signature */
    LEDGER_DIGEST_SIZE = 32,      /* SHA-256 */
    /* The signed message, byte for byte (all integers little-endian):
     *   0  16 bytes ASCII "borsellino-cp-v1"
     *   16 u64 sequence of the last journal record covered
     *   24 32 bytes chain head: the chain hash of that record (all zero
     *      for sequence 0)
     *   56 u64 timestamp of the signing, ns since the Unix epoch
     *   64 32 bytes trial balance digest (ledger_trial_balance_digest) of
     *      the balances right after that record */
    LEDGER_CHECKPOINT_MESSAGE_SIZE = 96,
    /* Most rows ledger_trial_balance returns in one call. */
    LEDGER_TRIAL_BALANCE_ROWS_MAX = 65536,
    /* Most signed checkpoints one ledger_signed_checkpoints call returns. */
    LEDGER_SIGNED_CHECKPOINTS_MAX = 8190,
};

/* ------------------------------------------------------------------------ */
/* Signed checkpoints                                                       */

typedef struct ledger_signed_checkpoint {
    uint64_t sequence;  /* last journal record covered */
    uint64_t timestamp; /* when it was signed, ns since the epoch */
    uint8_t chain_head[LEDGER_DIGEST_SIZE];
    uint8_t trial_balance_digest[LEDGER_DIGEST_SIZE];
    uint8_t signature[LEDGER_SIGNATURE_SIZE];
} ledger_signed_checkpoint_t;

/* Encodes the message a checkpoint's signature covers (layout above). */
void ledger_checkpoint_message(const ledger_signed_checkpoint_t *checkpoint,
                               uint8_t message_out[LEDGER_CHECKPOINT_MESSAGE_SIZE]);

/* True when checkpoint->signature is a valid Ed25519 signature of its
 * message under `public_key`. Pure: needs no ledger. */
bool ledger_checkpoint_signature_valid(const uint8_t public_key[LEDGER_PUBLIC_KEY_SIZE],
                                       const ledger_signed_checkpoint_t *checkpoint);

/*
 * Signs the current state (the last committed journal record, the chain
 * head, the trial balance now) and stores it, in its own durable commit.
 * Not allowed inside a write group (LEDGER_ERR_WRITE_OPEN) or on a
 * read-only handle (LEDGER_ERR_READ_ONLY). When that sequence is already
 * signed, *checkpoint_out receives the stored one and nothing is written.
 * Returns 0 or a storage error.
 */
int ledger_sign_checkpoint(ledger_t *ledger, ledger_signed_checkpoint_t *checkpoint_out);

/*
 * The stored signed checkpoints with sequence >= sequence_min, in sequence
 * order, at most `capacity` (1..LEDGER_SIGNED_CHECKPOINTS_MAX). Page with
 * sequence_min = last sequence + 1. Works on read-only handles (a
 * directory without a signatures table has none). Returns 0,
 * LEDGER_ERR_INVALID_ARGUMENT, LEDGER_ERR_CORRUPT or an MDB_* code.
 */
int ledger_signed_checkpoints(ledger_t *ledger, uint64_t sequence_min,
                              ledger_signed_checkpoint_t *checkpoints_out,
                              uint32_t capacity, uint32_t *count_out);

/* The directory's public key (32 raw bytes). *found_out false for a
 * directory that has none yet (formatted before signing existed and never
 * opened writable since). Returns 0 or an MDB_* code. */
int ledger_public_key(ledger_t *ledger, uint8_t key_out[LEDGER_PUBLIC_KEY_SIZE],
                      bool *found_out);

/* Writes the public key as a PEM "PUBLIC KEY" block (SubjectPublicKeyInfo,
 * what `openssl pkey -pubin` reads) into `text_out`, NUL-terminated.
 * Returns 0, or LEDGER_ERR_INVALID_ARGUMENT when `size` is too small
 * (128 bytes always suffice). */
int ledger_public_key_pem(const uint8_t key[LEDGER_PUBLIC_KEY_SIZE], char *text_out,
                          size_t size);

/* Reads a PEM public key file (as written by ledger_public_key_pem or
 * `openssl pkey -pubout`). Returns 0, or LEDGER_ERR_SIGNING_KEY with
 * ledger_last_error_message(NULL) saying why. */
int ledger_public_key_read(const char *path, uint8_t key_out[LEDGER_PUBLIC_KEY_SIZE]);

/*
 * ledger_verify() (ledger.h), with the signatures checked under
 * `public_key` (32 raw bytes, e.g. from ledger_public_key_read), a key the
 * auditor obtained independently; NULL = the directory's own. When the
 * directory records a public key other than the one given, verification
 * fails at once: its checkpoints were signed by someone else. Same returns
 * as ledger_verify().
 */
int ledger_verify_signed(ledger_t *ledger, const uint8_t *public_key,
                         ledger_verify_report_t *report_out, ledger_progress_fn progress,
                         void *progress_context);

/* ------------------------------------------------------------------------ */
/* The journal as a stream                                                  */

/* LEDGER_EVENT_* of ledger.h, plus the failure markers. */
enum { LEDGER_EVENT_FAILED = 4 };

/* One journal record, decoded. */
typedef struct ledger_journal_entry {
    uint64_t sequence;
    uint32_t kind;   /* LEDGER_EVENT_ACCOUNT, _TRANSFER, _EXPIRY, _FAILED */
    uint32_t result; /* FAILED: the transient result; else 0 */
    /* TRANSFER/FAILED: the transfer as submitted plus its timestamp.
     * EXPIRY: as in ledger_history_entry_t. ACCOUNT: id, user_data_*,
     * ledger, code, flags and timestamp of the new account; the rest 0. */
    ledger_transfer_t transfer;
    ledger_balance_t debit_after;  /* debit account after (ACCOUNT: the account) */
    ledger_balance_t credit_after; /* credit account after (ACCOUNT: zero) */
    uint8_t chain_hash[LEDGER_DIGEST_SIZE];
} ledger_journal_entry_t;

/* Called once per entry, in sequence order. Return 0 to go on, anything
 * else to stop the scan, which then returns that value. */
typedef int (*ledger_journal_fn)(void *context, const ledger_journal_entry_t *entry);

/*
 * Streams the journal records with sequence in [sequence_min, sequence_max]
 * (sequence_max 0 = to the end), in one read snapshot, in constant memory.
 * Every record's checksum is checked (LEDGER_ERR_CORRUPT names the
 * sequence in ledger_last_error_message); the chain is not (that is
 * ledger_verify's job). The snapshot is a read transaction of the scan's
 * own: the callback may call this handle's read functions (which see
 * their own, possibly newer, snapshot). sequence_min 0 means 1; a range
 * past the end streams nothing and returns 0. Must not be called inside a
 * write group (LEDGER_ERR_WRITE_OPEN).
 * Returns 0, the callback's nonzero value, LEDGER_ERR_INVALID_ARGUMENT
 * (NULL ledger or callback, sequence_min > sequence_max != 0),
 * LEDGER_ERR_WRITE_OPEN, LEDGER_ERR_CORRUPT, LEDGER_ERR_FORMAT_NEWER or an
 * MDB_* code.
 */
int ledger_journal_scan(ledger_t *ledger, uint64_t sequence_min, uint64_t sequence_max,
                        ledger_journal_fn callback, void *context);

/* The raw 264-byte record `sequence` (layout in docs/audit.md), and the
 * chain hash of the record before it (all zero for sequence 1), for
 * inclusion proofs. Returns 0, LEDGER_ERR_INVALID_ARGUMENT (no such
 * sequence), LEDGER_ERR_CORRUPT or an MDB_* code. */
enum { LEDGER_JOURNAL_RECORD_SIZE = 264 };
int ledger_journal_record_bytes(ledger_t *ledger, uint64_t sequence,
                                uint8_t record_out[LEDGER_JOURNAL_RECORD_SIZE],
                                uint8_t previous_hash_out[LEDGER_DIGEST_SIZE]);

/* The journal sequence of transfer `id` (the record that created it).
 * *found_out false when there is none (never submitted, or failed).
 * Returns 0 or a storage error. */
int ledger_transfer_sequence(ledger_t *ledger, ledger_u128_t id, uint64_t *sequence_out,
                             bool *found_out);

/* ------------------------------------------------------------------------ */
/* The trial balance                                                        */

/* The totals of the accounts of one ledger with one code. The sums are
 * 128-bit: each account holds up to 2^64 - 1 cents, so a sum of many can
 * pass 2^64. */
typedef struct ledger_trial_balance_row {
    uint32_t ledger;
    uint16_t code;
    uint16_t reserved;
    uint64_t accounts_count; /* accounts that existed at that time */
    ledger_u128_t debits_pending; /* Σ of their balances */
    ledger_u128_t debits_posted;
    ledger_u128_t credits_pending;
    ledger_u128_t credits_posted;
} ledger_trial_balance_row_t;

/* What a trial balance covers. */
typedef struct ledger_trial_balance_info {
    uint64_t sequence;  /* the last journal record included */
    uint64_t timestamp; /* its timestamp (0 for an empty journal) */
    uint32_t rows_count;/* rows in all; more than returned when capacity
                           was smaller */
    uint8_t digest[LEDGER_DIGEST_SIZE]; /* ledger_trial_balance_digest */
} ledger_trial_balance_info_t;

/*
 * The trial balance: per (ledger, code), in that order, the number of
 * accounts and the sums of their balances, as of `timestamp` (the state
 * right after the last event with timestamp <= timestamp; 0 = now).
 * Now comes from memory (O(accounts)); a past time scans the journal up to
 * it (O(records before it), in constant memory per account).
 * rows_out: caller array of `capacity` rows (0..LEDGER_TRIAL_BALANCE_ROWS_MAX);
 * the first min(capacity, info->rows_count) rows are written; the digest
 * always covers every row.
 * Now (timestamp 0) may be asked inside a write group, and then includes
 * the group's uncommitted events; a past time may not
 * (LEDGER_ERR_WRITE_OPEN). Returns 0, LEDGER_ERR_INVALID_ARGUMENT,
 * LEDGER_ERR_WRITE_OPEN, LEDGER_ERR_NO_MEMORY (also: more than
 * LEDGER_TRIAL_BALANCE_ROWS_MAX rows in all), LEDGER_ERR_CORRUPT (a
 * damaged record, named in ledger_last_error_message) or an MDB_* code.
 */
int ledger_trial_balance(ledger_t *ledger, uint64_t timestamp,
                         ledger_trial_balance_row_t *rows_out, uint32_t capacity,
                         ledger_trial_balance_info_t *info_out);

/* SHA-256 of the rows in (ledger, code) order, each encoded as 80 bytes:
 * u32 ledger, u16 code, u16 zero, u64 accounts_count, then debits_pending,
 * debits_posted, credits_pending, credits_posted as u128 (hi u64, then lo
 * u64), every integer little-endian, as in journal records. Rows must
 * already be in that order. */
void ledger_trial_balance_digest(const ledger_trial_balance_row_t *rows, uint32_t count,
                                 uint8_t digest_out[LEDGER_DIGEST_SIZE]);

#ifdef __cplusplus
}
#endif

#endif /* BORSELLINO_LEDGER_AUDIT_H */
