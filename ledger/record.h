/*
 * record.h — the on-disk encodings: journal records, account checkpoint
 * records, pending-transfer entries, and the LMDB keys.
 *
 * Every layout is an explicit little-endian byte encoding (keys are
 * big-endian so that LMDB's memcmp order is numeric order) with a static
 * size assertion; no struct is ever copied raw to disk. Journal and
 * checkpoint records carry a format version and a CRC-32C; a decoder that
 * finds a bad checksum, an unknown version or an unknown kind returns
 * LEDGER_ERR_CORRUPT (or LEDGER_ERR_FORMAT_NEWER) and never trusts the
 * bytes.
 *
 * Journal record (RECORD_JOURNAL_SIZE = 264 bytes):
 *   0  u32 crc32c of bytes 4..263
 *   4  u8  format version          5  u8 kind     6 u16 result (FAILED only)
 *   8  u64 sequence                16 u64 timestamp
 *   24 id   40 debit_account_id   56 credit_account_id   72 pending_id
 *   88 user_data_128 (all u128: hi u64, lo u64)
 *   104 u64 amount   112 u64 user_data_64   120 u32 user_data_32
 *   124 u32 timeout  128 u32 ledger   132 u16 code   134 u16 flags
 *   136 debit side, 184 credit side (48 bytes each):
 *       u64 previous sequence of that account, u64 debits_pending,
 *       u64 debits_posted, u64 credits_pending, u64 credits_posted,
 *       u16 account flags after, 6 bytes zero
 *   232 chain hash: SHA-256(previous record's chain hash ‖ bytes 4..231)
 * For kind ACCOUNT the account's fields use id, user_data_*, ledger, code,
 * flags, and the debit side holds its initial state; the rest is zero.
 */
#ifndef BORSELLINO_LEDGER_RECORD_H
#define BORSELLINO_LEDGER_RECORD_H

#include <stdint.h>

#include "ledger.h"

enum {
    /* The data directory's format (meta "format_version"). 2 added the
     * transfer id watermark (transfer_index.c); a version-1 directory is
     * upgraded in place by a writable open (store.c). */
    STORE_FORMAT_VERSION = 2,
    /* The layout of a journal or checkpoint record (byte 4 of each);
     * unchanged by format 2, and covered by the hash chain. */
    RECORD_FORMAT_VERSION = 1,
    RECORD_JOURNAL_SIZE = 264,
    RECORD_HASHED_OFFSET = 4,
    RECORD_HASH_OFFSET = 232,
    RECORD_HASH_SIZE = 32,
    RECORD_ACCOUNT_SIZE = 112,
    RECORD_PENDING_SIZE = 32,
    KEY_SEQUENCE_SIZE = 8,
    KEY_ID_SIZE = 16,
    KEY_EXPIRY_SIZE = 24,
};

enum record_kind {
    RECORD_KIND_ACCOUNT = LEDGER_EVENT_ACCOUNT,
    RECORD_KIND_TRANSFER = LEDGER_EVENT_TRANSFER,
    RECORD_KIND_EXPIRY = LEDGER_EVENT_EXPIRY,
    /* A transfer id that failed with a transient result (docs/ledger.md). */
    RECORD_KIND_FAILED = 4,
};

/* One account's side of a journal record. */
typedef struct record_side {
    uint64_t previous_sequence;
    ledger_balance_t balance_after;
    uint16_t flags_after;
} record_side_t;

/* A decoded journal record. */
typedef struct journal_record {
    uint8_t kind;
    uint16_t result;
    uint64_t sequence;
    uint64_t timestamp;
    ledger_u128_t id;
    ledger_u128_t debit_account_id;
    ledger_u128_t credit_account_id;
    ledger_u128_t pending_id;
    ledger_u128_t user_data_128;
    uint64_t amount;
    uint64_t user_data_64;
    uint32_t user_data_32;
    uint32_t timeout;
    uint32_t ledger;
    uint16_t code;
    uint16_t flags;
    record_side_t debit;
    record_side_t credit;
    uint8_t hash[RECORD_HASH_SIZE];
} journal_record_t;

/* Encodes `record` into `bytes`, computing its chain hash from
 * `previous_hash` (stored into record->hash too) and its checksum. */
void record_journal_encode(journal_record_t *record,
                           const uint8_t previous_hash[RECORD_HASH_SIZE],
                           uint8_t bytes[RECORD_JOURNAL_SIZE]);

/* Decodes and checks the checksum, version and kind. Does not check the
 * chain hash (that needs the previous record; see record_chain_hash).
 * Returns 0, LEDGER_ERR_CORRUPT or LEDGER_ERR_FORMAT_NEWER. */
int record_journal_decode(const uint8_t *bytes, size_t size,
                          journal_record_t *record_out);

/* Computes SHA-256(previous_hash ‖ bytes[4..231]) into hash_out. */
void record_chain_hash(const uint8_t previous_hash[RECORD_HASH_SIZE],
                       const uint8_t bytes[RECORD_JOURNAL_SIZE],
                       uint8_t hash_out[RECORD_HASH_SIZE]);

/* SHA-256 of `size` bytes, with the thread's reused context (EVP_Digest
 * would allocate one and look the algorithm up on every call). */
void record_sha256(const void *bytes, size_t size, uint8_t hash_out[RECORD_HASH_SIZE]);

/* Journal record <-> API structs. */
void record_to_transfer(const journal_record_t *record,
                        ledger_transfer_t *transfer_out);
void record_from_transfer(const ledger_transfer_t *transfer,
                          journal_record_t *record_out);

/* Account checkpoint record (RECORD_ACCOUNT_SIZE = 112 bytes):
 *   0 u32 crc32c of 4..111, 4 u8 version, 5..7 zero, 8 id, 24 user_data_128,
 *   40 u64 user_data_64, 48 u32 user_data_32, 52 u32 ledger, 56 u16 code,
 *   58 u16 flags, 60 u32 zero, 64 u64 timestamp, 72 debits_pending,
 *   80 debits_posted, 88 credits_pending, 96 credits_posted,
 *   104 u64 last journal sequence of the account. */
void record_account_encode(const ledger_account_t *account,
                           uint64_t last_sequence,
                           uint8_t bytes[RECORD_ACCOUNT_SIZE]);
int record_account_decode(const uint8_t *bytes, size_t size,
                          ledger_account_t *account_out,
                          uint64_t *last_sequence_out);

/* Pending-transfer entry (RECORD_PENDING_SIZE = 32 bytes):
 *   0 u8 status, 1..7 zero, 8 u64 sequence of the pending transfer,
 *   16 u64 sequence of the event that resolved it (0 while pending),
 *   24 u64 expires_at (0 = no timeout). */
enum pending_status {
    PENDING_STATUS_PENDING = 1,
    PENDING_STATUS_POSTED = 2,
    PENDING_STATUS_VOIDED = 3,
    PENDING_STATUS_EXPIRED = 4,
};

typedef struct pending_entry {
    uint8_t status;
    uint64_t pending_sequence;
    uint64_t resolved_sequence;
    uint64_t expires_at;
} pending_entry_t;

void record_pending_encode(const pending_entry_t *entry,
                           uint8_t bytes[RECORD_PENDING_SIZE]);
int record_pending_decode(const uint8_t *bytes, size_t size,
                          pending_entry_t *entry_out);

/* Keys. */
void key_sequence_encode(uint64_t sequence, uint8_t key[KEY_SEQUENCE_SIZE]);
uint64_t key_sequence_decode(const uint8_t key[KEY_SEQUENCE_SIZE]);
void key_id_encode(ledger_u128_t id, uint8_t key[KEY_ID_SIZE]);
ledger_u128_t key_id_decode(const uint8_t key[KEY_ID_SIZE]);
/* A u128 as stored inside records (hi, lo little-endian), read in place. */
ledger_u128_t key_id_decode_le(const uint8_t bytes[16]);
void key_expiry_encode(uint64_t expires_at, ledger_u128_t id,
                       uint8_t key[KEY_EXPIRY_SIZE]);
void key_expiry_decode(const uint8_t key[KEY_EXPIRY_SIZE],
                       uint64_t *expires_at_out, ledger_u128_t *id_out);

/* Little-endian helpers shared by the encoders. */
void put_u16(uint8_t *bytes, uint16_t value);
void put_u32(uint8_t *bytes, uint32_t value);
void put_u64(uint8_t *bytes, uint64_t value);
uint16_t get_u16(const uint8_t *bytes);
uint32_t get_u32(const uint8_t *bytes);
uint64_t get_u64(const uint8_t *bytes);


#endif
