/*
 * fuzz_record.c — libFuzzer target for the on-disk record decoders of
 * ledger/record.h: the journal record (record_journal_decode) and the
 * account checkpoint record (record_account_decode).
 *
 * Each input is tried as both kinds as it is. Random bytes almost never
 * carry a valid CRC-32C, so each input is also tried with the checksum
 * recomputed over it (when it has the right size): that lets the fuzzer
 * reach the version and kind checks and the field decoding.
 *
 * For every input that decodes, the record is re-encoded and the round
 * trip is asserted: decoding the re-encoding gives the same fields, and
 * every byte of the input that carries a field is found unchanged in the
 * re-encoding. Padding bytes are not compared: the encoders write them as
 * zero and the decoders do not check them (the CRC covers them). A journal
 * record's chain hash depends on the previous record, unknown here, so it
 * is re-encoded after the all-zero hash (that of the first record) and
 * its new hash checked against record_chain_hash. The pending-transfer
 * entry (no checksum) is round-tripped the same way.
 *
 * Build and run: tools/dev fuzz [SECONDS] (build-fuzz/, clang, libFuzzer).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void assert_u128_equal(ledger_u128_t a, ledger_u128_t b) {
    assert(a.hi == b.hi);
    assert(a.lo == b.lo);
}

static void assert_side_equal(const record_side_t *a, const record_side_t *b) {
    assert(a->previous_sequence == b->previous_sequence);
    assert(a->balance_after.debits_pending == b->balance_after.debits_pending);
    assert(a->balance_after.debits_posted == b->balance_after.debits_posted);
    assert(a->balance_after.credits_pending == b->balance_after.credits_pending);
    assert(a->balance_after.credits_posted == b->balance_after.credits_posted);
    assert(a->flags_after == b->flags_after);
}

static void assert_journal_fields_equal(const journal_record_t *a, const journal_record_t *b) {
    assert(a->kind == b->kind);
    assert(a->result == b->result);
    assert(a->sequence == b->sequence);
    assert(a->timestamp == b->timestamp);
    assert_u128_equal(a->id, b->id);
    assert_u128_equal(a->debit_account_id, b->debit_account_id);
    assert_u128_equal(a->credit_account_id, b->credit_account_id);
    assert_u128_equal(a->pending_id, b->pending_id);
    assert_u128_equal(a->user_data_128, b->user_data_128);
    assert(a->amount == b->amount);
    assert(a->user_data_64 == b->user_data_64);
    assert(a->user_data_32 == b->user_data_32);
    assert(a->timeout == b->timeout);
    assert(a->ledger == b->ledger);
    assert(a->code == b->code);
    assert(a->flags == b->flags);
    assert_side_equal(&a->debit, &b->debit);
    assert_side_equal(&a->credit, &b->credit);
}

static void journal_check(const uint8_t *bytes, size_t size) {
    journal_record_t record;
    int error = record_journal_decode(bytes, size, &record);
    if (error != 0) {
        assert(error == LEDGER_ERR_CORRUPT || error == LEDGER_ERR_FORMAT_NEWER);
        return;
    }
    assert(size == RECORD_JOURNAL_SIZE);
    assert(record.kind >= RECORD_KIND_ACCOUNT);
    assert(record.kind <= RECORD_KIND_FAILED);
    assert(memcmp(record.hash, bytes + RECORD_HASH_OFFSET, RECORD_HASH_SIZE) == 0);

    /* Re-encode with the all-zero previous hash (that of the first record). */
    static const uint8_t previous_zero[RECORD_HASH_SIZE];
    journal_record_t copy = record;
    uint8_t encoded[RECORD_JOURNAL_SIZE];
    record_journal_encode(&copy, previous_zero, encoded);
    uint8_t expected_hash[RECORD_HASH_SIZE];
    record_chain_hash(previous_zero, encoded, expected_hash);
    assert(memcmp(copy.hash, expected_hash, RECORD_HASH_SIZE) == 0);

    journal_record_t again;
    assert(record_journal_decode(encoded, sizeof(encoded), &again) == 0);
    assert_journal_fields_equal(&record, &again);
    assert(memcmp(again.hash, expected_hash, RECORD_HASH_SIZE) == 0);
    /* Header and fixed fields (4..135), then each side's fields (42 of
     * its 48 bytes; the last 6 are padding). */
    assert(memcmp(encoded + 4, bytes + 4, 136 - 4) == 0);
    assert(memcmp(encoded + 136, bytes + 136, 42) == 0);
    assert(memcmp(encoded + 184, bytes + 184, 42) == 0);
}

static void assert_account_equal(const ledger_account_t *a, const ledger_account_t *b) {
    assert_u128_equal(a->id, b->id);
    assert_u128_equal(a->user_data_128, b->user_data_128);
    assert(a->debits_pending == b->debits_pending);
    assert(a->debits_posted == b->debits_posted);
    assert(a->credits_pending == b->credits_pending);
    assert(a->credits_posted == b->credits_posted);
    assert(a->user_data_64 == b->user_data_64);
    assert(a->user_data_32 == b->user_data_32);
    assert(a->ledger == b->ledger);
    assert(a->code == b->code);
    assert(a->flags == b->flags);
    assert(a->timestamp == b->timestamp);
}

static void account_check(const uint8_t *bytes, size_t size) {
    ledger_account_t account;
    uint64_t last_sequence = 0;
    int error = record_account_decode(bytes, size, &account, &last_sequence);
    if (error != 0) {
        assert(error == LEDGER_ERR_CORRUPT || error == LEDGER_ERR_FORMAT_NEWER);
        return;
    }
    assert(size == RECORD_ACCOUNT_SIZE);
    uint8_t encoded[RECORD_ACCOUNT_SIZE];
    record_account_encode(&account, last_sequence, encoded);
    ledger_account_t again;
    uint64_t last_sequence_again = 0;
    assert(record_account_decode(encoded, sizeof(encoded), &again, &last_sequence_again) == 0);
    assert_account_equal(&account, &again);
    assert(last_sequence == last_sequence_again);
    /* Every byte that carries a field is the input's (padding 5..7 and
     * 60..63 is written as zero by the encoder and not checked on read). */
    assert(memcmp(encoded + 8, bytes + 8, 60 - 8) == 0);
    assert(memcmp(encoded + 64, bytes + 64, RECORD_ACCOUNT_SIZE - 64) == 0);
    assert(encoded[4] == bytes[4]);
}

/* The input with its leading CRC-32C made valid, when the size fits. */
static void check_with_crc(const uint8_t *data, size_t size, size_t record_size,
                           void (*check)(const uint8_t *, size_t)) {
    uint8_t copy[RECORD_JOURNAL_SIZE];
    assert(record_size <= sizeof(copy));
    if (size < record_size) return;
    memcpy(copy, data, record_size);
    put_u32(copy, crc32c(copy + 4, record_size - 4));
    check(copy, record_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    journal_check(data, size);
    account_check(data, size);
    check_with_crc(data, size, RECORD_JOURNAL_SIZE, journal_check);
    check_with_crc(data, size, RECORD_ACCOUNT_SIZE, account_check);
    /* The pending entry has no checksum: straight from the input. */
    pending_entry_t entry;
    if (record_pending_decode(data, size, &entry) == 0) {
        uint8_t encoded[RECORD_PENDING_SIZE];
        record_pending_encode(&entry, encoded);
        pending_entry_t again;
        assert(record_pending_decode(encoded, sizeof(encoded), &again) == 0);
        assert(again.status == entry.status);
        assert(again.pending_sequence == entry.pending_sequence);
        assert(again.resolved_sequence == entry.resolved_sequence);
        assert(again.expires_at == entry.expires_at);
    }
    return 0;
}
