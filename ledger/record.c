/*
 * record.c — explicit byte encodings of everything ledger/ stores (see
 * record.h for the layouts). Encoders write every byte, padding included,
 * so that equal records are equal bytes and hash the same.
 */
#include "record.h"

#include <assert.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

#include "crc32c.h"

_Static_assert(RECORD_HASH_OFFSET + RECORD_HASH_SIZE == RECORD_JOURNAL_SIZE,
               "the chain hash ends the journal record");
_Static_assert(184 + 48 == RECORD_HASH_OFFSET, "sides end at the hash");
_Static_assert(104 + 8 == RECORD_ACCOUNT_SIZE, "account record size");

/* The encodings are defined byte by byte (little-endian); on a
 * little-endian host that is a plain copy, elsewhere a byte swap. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LE16(x) (x)
#define LE32(x) (x)
#define LE64(x) (x)
#define BE64(x) __builtin_bswap64(x)
#else
#define LE16(x) __builtin_bswap16(x)
#define LE32(x) __builtin_bswap32(x)
#define LE64(x) __builtin_bswap64(x)
#define BE64(x) (x)
#endif

void put_u16(uint8_t *bytes, uint16_t value) {
    value = LE16(value);
    memcpy(bytes, &value, sizeof(value));
}

void put_u32(uint8_t *bytes, uint32_t value) {
    value = LE32(value);
    memcpy(bytes, &value, sizeof(value));
}

void put_u64(uint8_t *bytes, uint64_t value) {
    value = LE64(value);
    memcpy(bytes, &value, sizeof(value));
}

uint16_t get_u16(const uint8_t *bytes) {
    uint16_t value;
    memcpy(&value, bytes, sizeof(value));
    return LE16(value);
}

uint32_t get_u32(const uint8_t *bytes) {
    uint32_t value;
    memcpy(&value, bytes, sizeof(value));
    return LE32(value);
}

uint64_t get_u64(const uint8_t *bytes) {
    uint64_t value;
    memcpy(&value, bytes, sizeof(value));
    return LE64(value);
}

static void put_u128(uint8_t *bytes, ledger_u128_t value) {
    put_u64(bytes, value.hi);
    put_u64(bytes + 8, value.lo);
}

static ledger_u128_t get_u128(const uint8_t *bytes) {
    ledger_u128_t value = {get_u64(bytes), get_u64(bytes + 8)};
    return value;
}

static void put_u64_be(uint8_t *bytes, uint64_t value) {
    value = BE64(value);
    memcpy(bytes, &value, sizeof(value));
}

static uint64_t get_u64_be(const uint8_t *bytes) {
    uint64_t value;
    memcpy(&value, bytes, sizeof(value));
    return BE64(value);
}

static void side_encode(const record_side_t *side, uint8_t *bytes) {
    put_u64(bytes + 0, side->previous_sequence);
    put_u64(bytes + 8, side->balance_after.debits_pending);
    put_u64(bytes + 16, side->balance_after.debits_posted);
    put_u64(bytes + 24, side->balance_after.credits_pending);
    put_u64(bytes + 32, side->balance_after.credits_posted);
    put_u16(bytes + 40, side->flags_after);
    memset(bytes + 42, 0, 6);
}

static void side_decode(const uint8_t *bytes, record_side_t *side) {
    side->previous_sequence = get_u64(bytes + 0);
    side->balance_after.debits_pending = get_u64(bytes + 8);
    side->balance_after.debits_posted = get_u64(bytes + 16);
    side->balance_after.credits_pending = get_u64(bytes + 24);
    side->balance_after.credits_posted = get_u64(bytes + 32);
    side->flags_after = get_u16(bytes + 40);
}

/* SHA-256 through OpenSSL's low-level interface: the provider dispatch of
 * EVP_DigestInit/Update/Final costs about as much as hashing a 260-byte
 * record with SHA-NI (storage_limit: 460-530k records/s through a reused
 * EVP context, 545-580k/s through SHA256_Init, same run). OpenSSL 3 marks
 * the interface deprecated but keeps it; a build without it
 * (OPENSSL_NO_DEPRECATED_3_0) uses EVP instead. The context lives on the
 * stack: no allocation, no per-thread state. */
#ifndef OPENSSL_NO_DEPRECATED_3_0
typedef SHA256_CTX record_sha256_t;

static void sha256_begin(record_sha256_t *context) {
    int ok = SHA256_Init(context);
    assert(ok == 1);
    (void)ok;
}

static void sha256_add(record_sha256_t *context, const void *bytes, size_t size) {
    int ok = SHA256_Update(context, bytes, size);
    assert(ok == 1);
    (void)ok;
}

static void sha256_end(record_sha256_t *context, uint8_t hash_out[RECORD_HASH_SIZE]) {
    int ok = SHA256_Final(hash_out, context);
    assert(ok == 1);
    (void)ok;
}
#else
typedef EVP_MD_CTX *record_sha256_t;

static void sha256_begin(record_sha256_t *context) {
    *context = EVP_MD_CTX_new();
    int ok = *context != NULL && EVP_DigestInit_ex(*context, EVP_sha256(), NULL) == 1;
    assert(ok);
    (void)ok;
}

static void sha256_add(record_sha256_t *context, const void *bytes, size_t size) {
    int ok = EVP_DigestUpdate(*context, bytes, size);
    assert(ok == 1);
    (void)ok;
}

static void sha256_end(record_sha256_t *context, uint8_t hash_out[RECORD_HASH_SIZE]) {
    unsigned int hash_size = 0;
    int ok = EVP_DigestFinal_ex(*context, hash_out, &hash_size);
    assert(ok == 1 && hash_size == RECORD_HASH_SIZE);
    (void)ok;
    EVP_MD_CTX_free(*context);
}
#endif

void record_chain_hash(const uint8_t previous_hash[RECORD_HASH_SIZE],
                       const uint8_t bytes[RECORD_JOURNAL_SIZE],
                       uint8_t hash_out[RECORD_HASH_SIZE]) {
    record_sha256_t context;
    sha256_begin(&context);
    sha256_add(&context, previous_hash, RECORD_HASH_SIZE);
    sha256_add(&context, bytes + RECORD_HASHED_OFFSET, RECORD_HASH_OFFSET - RECORD_HASHED_OFFSET);
    sha256_end(&context, hash_out);
}

void record_sha256(const void *bytes, size_t size, uint8_t hash_out[RECORD_HASH_SIZE]) {
    record_sha256_t context;
    sha256_begin(&context);
    sha256_add(&context, bytes, size);
    sha256_end(&context, hash_out);
}

void record_journal_encode(journal_record_t *record,
                           const uint8_t previous_hash[RECORD_HASH_SIZE],
                           uint8_t bytes[RECORD_JOURNAL_SIZE]) {
    assert(record->kind >= RECORD_KIND_ACCOUNT);
    assert(record->kind <= RECORD_KIND_FAILED);
    bytes[4] = RECORD_FORMAT_VERSION;
    bytes[5] = record->kind;
    put_u16(bytes + 6, record->result);
    put_u64(bytes + 8, record->sequence);
    put_u64(bytes + 16, record->timestamp);
    put_u128(bytes + 24, record->id);
    put_u128(bytes + 40, record->debit_account_id);
    put_u128(bytes + 56, record->credit_account_id);
    put_u128(bytes + 72, record->pending_id);
    put_u128(bytes + 88, record->user_data_128);
    put_u64(bytes + 104, record->amount);
    put_u64(bytes + 112, record->user_data_64);
    put_u32(bytes + 120, record->user_data_32);
    put_u32(bytes + 124, record->timeout);
    put_u32(bytes + 128, record->ledger);
    put_u16(bytes + 132, record->code);
    put_u16(bytes + 134, record->flags);
    side_encode(&record->debit, bytes + 136);
    side_encode(&record->credit, bytes + 184);
    record_chain_hash(previous_hash, bytes, record->hash);
    memcpy(bytes + RECORD_HASH_OFFSET, record->hash, RECORD_HASH_SIZE);
    put_u32(bytes, crc32c(bytes + 4, RECORD_JOURNAL_SIZE - 4));
}

int record_journal_decode(const uint8_t *bytes, size_t size,
                          journal_record_t *record) {
    if (size != RECORD_JOURNAL_SIZE) return LEDGER_ERR_CORRUPT;
    if (get_u32(bytes) != crc32c(bytes + 4, RECORD_JOURNAL_SIZE - 4)) {
        return LEDGER_ERR_CORRUPT;
    }
    if (bytes[4] > RECORD_FORMAT_VERSION) return LEDGER_ERR_FORMAT_NEWER;
    if (bytes[4] != RECORD_FORMAT_VERSION) return LEDGER_ERR_CORRUPT;
    record->kind = bytes[5];
    if (record->kind < RECORD_KIND_ACCOUNT || record->kind > RECORD_KIND_FAILED) {
        return LEDGER_ERR_CORRUPT;
    }
    record->result = get_u16(bytes + 6);
    record->sequence = get_u64(bytes + 8);
    record->timestamp = get_u64(bytes + 16);
    record->id = get_u128(bytes + 24);
    record->debit_account_id = get_u128(bytes + 40);
    record->credit_account_id = get_u128(bytes + 56);
    record->pending_id = get_u128(bytes + 72);
    record->user_data_128 = get_u128(bytes + 88);
    record->amount = get_u64(bytes + 104);
    record->user_data_64 = get_u64(bytes + 112);
    record->user_data_32 = get_u32(bytes + 120);
    record->timeout = get_u32(bytes + 124);
    record->ledger = get_u32(bytes + 128);
    record->code = get_u16(bytes + 132);
    record->flags = get_u16(bytes + 134);
    side_decode(bytes + 136, &record->debit);
    side_decode(bytes + 184, &record->credit);
    memcpy(record->hash, bytes + RECORD_HASH_OFFSET, RECORD_HASH_SIZE);
    return 0;
}

void record_to_transfer(const journal_record_t *record,
                        ledger_transfer_t *transfer) {
    memset(transfer, 0, sizeof(*transfer));
    transfer->id = record->id;
    transfer->debit_account_id = record->debit_account_id;
    transfer->credit_account_id = record->credit_account_id;
    transfer->amount = record->amount;
    transfer->pending_id = record->pending_id;
    transfer->user_data_128 = record->user_data_128;
    transfer->user_data_64 = record->user_data_64;
    transfer->user_data_32 = record->user_data_32;
    transfer->timeout = record->timeout;
    transfer->ledger = record->ledger;
    transfer->code = record->code;
    transfer->flags = record->flags;
    transfer->timestamp = record->timestamp;
}

void record_from_transfer(const ledger_transfer_t *transfer,
                          journal_record_t *record) {
    memset(record, 0, sizeof(*record));
    record->kind = RECORD_KIND_TRANSFER;
    record->id = transfer->id;
    record->debit_account_id = transfer->debit_account_id;
    record->credit_account_id = transfer->credit_account_id;
    record->amount = transfer->amount;
    record->pending_id = transfer->pending_id;
    record->user_data_128 = transfer->user_data_128;
    record->user_data_64 = transfer->user_data_64;
    record->user_data_32 = transfer->user_data_32;
    record->timeout = transfer->timeout;
    record->ledger = transfer->ledger;
    record->code = transfer->code;
    record->flags = transfer->flags;
    record->timestamp = transfer->timestamp;
}

void record_account_encode(const ledger_account_t *account,
                           uint64_t last_sequence,
                           uint8_t bytes[RECORD_ACCOUNT_SIZE]) {
    memset(bytes, 0, RECORD_ACCOUNT_SIZE);
    bytes[4] = RECORD_FORMAT_VERSION;
    put_u128(bytes + 8, account->id);
    put_u128(bytes + 24, account->user_data_128);
    put_u64(bytes + 40, account->user_data_64);
    put_u32(bytes + 48, account->user_data_32);
    put_u32(bytes + 52, account->ledger);
    put_u16(bytes + 56, account->code);
    put_u16(bytes + 58, account->flags);
    put_u64(bytes + 64, account->timestamp);
    put_u64(bytes + 72, account->debits_pending);
    put_u64(bytes + 80, account->debits_posted);
    put_u64(bytes + 88, account->credits_pending);
    put_u64(bytes + 96, account->credits_posted);
    put_u64(bytes + 104, last_sequence);
    put_u32(bytes, crc32c(bytes + 4, RECORD_ACCOUNT_SIZE - 4));
}

int record_account_decode(const uint8_t *bytes, size_t size,
                          ledger_account_t *account,
                          uint64_t *last_sequence_out) {
    if (size != RECORD_ACCOUNT_SIZE) return LEDGER_ERR_CORRUPT;
    if (get_u32(bytes) != crc32c(bytes + 4, RECORD_ACCOUNT_SIZE - 4)) {
        return LEDGER_ERR_CORRUPT;
    }
    if (bytes[4] > RECORD_FORMAT_VERSION) return LEDGER_ERR_FORMAT_NEWER;
    if (bytes[4] != RECORD_FORMAT_VERSION) return LEDGER_ERR_CORRUPT;
    memset(account, 0, sizeof(*account));
    account->id = get_u128(bytes + 8);
    account->user_data_128 = get_u128(bytes + 24);
    account->user_data_64 = get_u64(bytes + 40);
    account->user_data_32 = get_u32(bytes + 48);
    account->ledger = get_u32(bytes + 52);
    account->code = get_u16(bytes + 56);
    account->flags = get_u16(bytes + 58);
    account->timestamp = get_u64(bytes + 64);
    account->debits_pending = get_u64(bytes + 72);
    account->debits_posted = get_u64(bytes + 80);
    account->credits_pending = get_u64(bytes + 88);
    account->credits_posted = get_u64(bytes + 96);
    *last_sequence_out = get_u64(bytes + 104);
    return 0;
}

void record_pending_encode(const pending_entry_t *entry,
                           uint8_t bytes[RECORD_PENDING_SIZE]) {
    memset(bytes, 0, RECORD_PENDING_SIZE);
    bytes[0] = entry->status;
    put_u64(bytes + 8, entry->pending_sequence);
    put_u64(bytes + 16, entry->resolved_sequence);
    put_u64(bytes + 24, entry->expires_at);
}

int record_pending_decode(const uint8_t *bytes, size_t size,
                          pending_entry_t *entry) {
    if (size != RECORD_PENDING_SIZE) return LEDGER_ERR_CORRUPT;
    entry->status = bytes[0];
    if (entry->status < PENDING_STATUS_PENDING ||
        entry->status > PENDING_STATUS_EXPIRED) {
        return LEDGER_ERR_CORRUPT;
    }
    entry->pending_sequence = get_u64(bytes + 8);
    entry->resolved_sequence = get_u64(bytes + 16);
    entry->expires_at = get_u64(bytes + 24);
    return 0;
}

void key_sequence_encode(uint64_t sequence, uint8_t key[KEY_SEQUENCE_SIZE]) {
    put_u64_be(key, sequence);
}

uint64_t key_sequence_decode(const uint8_t key[KEY_SEQUENCE_SIZE]) {
    return get_u64_be(key);
}

void key_id_encode(ledger_u128_t id, uint8_t key[KEY_ID_SIZE]) {
    put_u64_be(key, id.hi);
    put_u64_be(key + 8, id.lo);
}

ledger_u128_t key_id_decode(const uint8_t key[KEY_ID_SIZE]) {
    ledger_u128_t id = {get_u64_be(key), get_u64_be(key + 8)};
    return id;
}

ledger_u128_t key_id_decode_le(const uint8_t bytes[16]) {
    return get_u128(bytes);
}

void key_expiry_encode(uint64_t expires_at, ledger_u128_t id,
                       uint8_t key[KEY_EXPIRY_SIZE]) {
    put_u64_be(key, expires_at);
    key_id_encode(id, key + 8);
}

void key_expiry_decode(const uint8_t key[KEY_EXPIRY_SIZE],
                       uint64_t *expires_at_out, ledger_u128_t *id_out) {
    *expires_at_out = get_u64_be(key);
    *id_out = key_id_decode(key + 8);
}
