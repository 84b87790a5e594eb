/*
 * trial_rows.c — building trial balance rows: the sums of accounts'
 * balances per (ledger, code), in that order, and their digest.
 *
 * One builder serves every place that needs a trial balance: the engine's
 * in-memory accounts (signed checkpoints, ledger_trial_balance now), the
 * journal walk of a past time, and ledger_verify's own recomputation, so
 * that they all mean the same thing by "the trial balance digest".
 *
 * Invariants: a row's sums never wrap (an overflow is an error: money is
 * never invented); rows come out sorted by (ledger, code).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit.h"
#include "ledger_internal.h"
#include "memory.h"

/* The (ledger, code) key of a row in one integer, for hashing and sorting. */
static uint64_t row_key(uint32_t ledger, uint16_t code) {
    return (uint64_t)ledger << 16 | code;
}

void trial_rows_init(trial_rows_t *rows) {
    memset(rows, 0, sizeof(*rows));
}

void trial_rows_free(trial_rows_t *rows) {
    memory_free(rows->rows);
    memory_free(rows->buckets);
    memset(rows, 0, sizeof(*rows));
}

static int rows_grow(trial_rows_t *rows) {
    uint32_t capacity = rows->capacity ? rows->capacity * 2 : 64;
    if (capacity > LEDGER_TRIAL_BALANCE_ROWS_MAX * 2u) return LEDGER_ERR_NO_MEMORY;
    ledger_trial_balance_row_t *grown = memory_realloc(rows->rows, capacity * sizeof(*grown));
    uint32_t *buckets = memory_calloc((size_t)capacity * 2, sizeof(uint32_t));
    if (grown == NULL || buckets == NULL) {
        if (grown != NULL) rows->rows = grown;
        memory_free(buckets);
        return LEDGER_ERR_NO_MEMORY;
    }
    rows->rows = grown;
    rows->capacity = capacity;
    memory_free(rows->buckets);
    rows->buckets = buckets;
    rows->mask = capacity * 2 - 1;
    for (uint32_t i = 0; i < rows->count; i++) {
        uint64_t b = row_key(grown[i].ledger, grown[i].code) * 0x9E3779B97F4A7C15ull >> 40;
        while (buckets[b & rows->mask] != 0) b++;
        buckets[b & rows->mask] = i + 1;
    }
    return 0;
}

/* Adds to a 128-bit sum; it cannot pass 2^128 in practice (2^64 accounts
 * of 2^64 cents), but a wrap is still refused. */
static bool add_checked(ledger_u128_t *sum, uint64_t amount) {
    uint64_t lo = 0;
    uint64_t carry = __builtin_add_overflow(sum->lo, amount, &lo);
    if (carry && sum->hi == UINT64_MAX) return false;
    sum->lo = lo;
    sum->hi += carry;
    return true;
}

int trial_rows_add(trial_rows_t *rows, uint32_t ledger, uint16_t code,
                   const ledger_balance_t *balance) {
    if (rows->count * 2 >= rows->capacity) {
        int error = rows_grow(rows);
        if (error) return error;
    }
    uint64_t key = row_key(ledger, code);
    uint64_t b = key * 0x9E3779B97F4A7C15ull >> 40;
    ledger_trial_balance_row_t *row = NULL;
    for (;; b++) {
        uint32_t entry = rows->buckets[b & rows->mask];
        if (entry == 0) break;
        if (row_key(rows->rows[entry - 1].ledger, rows->rows[entry - 1].code) == key) {
            row = &rows->rows[entry - 1];
            break;
        }
    }
    if (row == NULL) {
        row = &rows->rows[rows->count];
        memset(row, 0, sizeof(*row));
        row->ledger = ledger;
        row->code = code;
        rows->buckets[b & rows->mask] = ++rows->count;
    }
    row->accounts_count++;
    if (!add_checked(&row->debits_pending, balance->debits_pending) ||
        !add_checked(&row->debits_posted, balance->debits_posted) ||
        !add_checked(&row->credits_pending, balance->credits_pending) ||
        !add_checked(&row->credits_posted, balance->credits_posted)) {
        return LEDGER_ERR_CORRUPT;
    }
    return 0;
}

static int row_compare(const void *a, const void *b) {
    const ledger_trial_balance_row_t *x = a;
    const ledger_trial_balance_row_t *y = b;
    uint64_t kx = row_key(x->ledger, x->code);
    uint64_t ky = row_key(y->ledger, y->code);
    return kx < ky ? -1 : kx > ky;
}

/* Sorts the rows; the hash buckets are invalid afterwards (no more adds). */
void trial_rows_finish(trial_rows_t *rows, uint8_t digest_out[LEDGER_DIGEST_SIZE]) {
    if (rows->count > 1) qsort(rows->rows, rows->count, sizeof(rows->rows[0]), row_compare);
    memory_free(rows->buckets);
    rows->buckets = NULL;
    rows->mask = 0;
    ledger_trial_balance_digest(rows->rows, rows->count, digest_out);
}

void ledger_trial_balance_digest(const ledger_trial_balance_row_t *rows, uint32_t count,
                                 uint8_t digest_out[LEDGER_DIGEST_SIZE]) {
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    int ok = context != NULL && EVP_DigestInit_ex(context, EVP_sha256(), NULL) == 1;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t bytes[80] = {0};
        put_u32(bytes, rows[i].ledger);
        put_u16(bytes + 4, rows[i].code);
        put_u64(bytes + 8, rows[i].accounts_count);
        const ledger_u128_t sums[4] = {rows[i].debits_pending, rows[i].debits_posted,
                                       rows[i].credits_pending, rows[i].credits_posted};
        for (int k = 0; k < 4; k++) {
            put_u64(bytes + 16 + 16 * k, sums[k].hi);
            put_u64(bytes + 24 + 16 * k, sums[k].lo);
        }
        ok = ok && EVP_DigestUpdate(context, bytes, sizeof(bytes)) == 1;
    }
    unsigned int size = 0;
    ok = ok && EVP_DigestFinal_ex(context, digest_out, &size) == 1;
    EVP_MD_CTX_free(context);
    /* SHA-256 in OpenSSL fails only when memory is exhausted at init. */
    if (!ok) abort();
}

int trial_balance_memory(const ledger_t *ledger, trial_rows_t *rows,
                         uint8_t digest_out[LEDGER_DIGEST_SIZE]) {
    trial_rows_init(rows);
    const accounts_t *accounts = &ledger->accounts;
    for (uint32_t i = 0; i < accounts->slots_count; i++) {
        const account_slot_t *slot = &accounts->slots[i];
        int error = trial_rows_add(rows, slot->ledger, slot->code, &slot->balance);
        if (error) {
            trial_rows_free(rows);
            return error;
        }
    }
    trial_rows_finish(rows, digest_out);
    return 0;
}

int trial_balance_memory_digest(const ledger_t *ledger, uint8_t digest_out[LEDGER_DIGEST_SIZE]) {
    trial_rows_t rows;
    int error = trial_balance_memory(ledger, &rows, digest_out);
    trial_rows_free(&rows);
    return error;
}
