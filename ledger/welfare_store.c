/*
 * welfare_store.c — the `welfare` LMDB table: the byte codec, keys and the
 * encoding of every welfare record (welfare_internal.h lists them). Values
 * are explicit little-endian encodings starting with a version byte; a
 * value that does not decode is LEDGER_ERR_CORRUPT, never a guess.
 *
 * Writes go to ledger->txn (the open chain or group); reads take the txn
 * they are given (NULL = ledger->txn, which must then be open).
 */
#include <stdlib.h>

#include "welfare_internal.h"

/* ---- codec ---- */

static uint8_t *codec_reserve(welfare_codec_t *codec, size_t size) {
    if (codec->failed || codec->size - codec->at < size) {
        codec->failed = true;
        return NULL;
    }
    uint8_t *at = codec->bytes + codec->at;
    codec->at += size;
    return at;
}

void codec_put_bytes(welfare_codec_t *codec, const void *bytes, size_t size) {
    uint8_t *at = codec_reserve(codec, size);
    if (at != NULL) memcpy(at, bytes, size);
}

void codec_get_bytes(welfare_codec_t *codec, void *bytes, size_t size) {
    uint8_t *at = codec_reserve(codec, size);
    if (at != NULL) {
        memcpy(bytes, at, size);
    } else {
        memset(bytes, 0, size);
    }
}

/* The encodings are defined byte by byte (little-endian values, big-endian
 * keys); a fixed-size copy of the converted value writes the same bytes
 * as a loop over them, in one store. These run several times per field of
 * every record on the purchase path. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LE32(x) (x)
#define LE64(x) (x)
#define BE32(x) __builtin_bswap32(x)
#define BE64(x) __builtin_bswap64(x)
#else
#define LE32(x) __builtin_bswap32(x)
#define LE64(x) __builtin_bswap64(x)
#define BE32(x) (x)
#define BE64(x) (x)
#endif

static void put_u32_raw(welfare_codec_t *codec, uint32_t converted) {
    uint8_t *at = codec_reserve(codec, sizeof(converted));
    if (at != NULL) memcpy(at, &converted, sizeof(converted));
}

static void put_u64_raw(welfare_codec_t *codec, uint64_t converted) {
    uint8_t *at = codec_reserve(codec, sizeof(converted));
    if (at != NULL) memcpy(at, &converted, sizeof(converted));
}

/* The raw bytes, still to be converted; 0 past the end (codec failed). */
static uint32_t get_u32_raw(welfare_codec_t *codec) {
    uint32_t raw = 0;
    const uint8_t *at = codec_reserve(codec, sizeof(raw));
    if (at != NULL) memcpy(&raw, at, sizeof(raw));
    return raw;
}

static uint64_t get_u64_raw(welfare_codec_t *codec) {
    uint64_t raw = 0;
    const uint8_t *at = codec_reserve(codec, sizeof(raw));
    if (at != NULL) memcpy(&raw, at, sizeof(raw));
    return raw;
}

void codec_put_u8(welfare_codec_t *codec, uint8_t value) {
    uint8_t *at = codec_reserve(codec, 1);
    if (at != NULL) *at = value;
}
void codec_put_u32(welfare_codec_t *codec, uint32_t value) { put_u32_raw(codec, LE32(value)); }
void codec_put_u64(welfare_codec_t *codec, uint64_t value) { put_u64_raw(codec, LE64(value)); }
void codec_put_u128(welfare_codec_t *codec, ledger_u128_t value) {
    put_u64_raw(codec, LE64(value.hi));
    put_u64_raw(codec, LE64(value.lo));
}
void codec_put_u32_be(welfare_codec_t *codec, uint32_t value) { put_u32_raw(codec, BE32(value)); }
void codec_put_u64_be(welfare_codec_t *codec, uint64_t value) { put_u64_raw(codec, BE64(value)); }
void codec_put_u128_be(welfare_codec_t *codec, ledger_u128_t value) {
    put_u64_raw(codec, BE64(value.hi));
    put_u64_raw(codec, BE64(value.lo));
}
uint8_t codec_get_u8(welfare_codec_t *codec) {
    const uint8_t *at = codec_reserve(codec, 1);
    return at != NULL ? *at : 0;
}
uint32_t codec_get_u32(welfare_codec_t *codec) { return LE32(get_u32_raw(codec)); }
uint64_t codec_get_u64(welfare_codec_t *codec) { return LE64(get_u64_raw(codec)); }
ledger_u128_t codec_get_u128(welfare_codec_t *codec) {
    ledger_u128_t value;
    value.hi = LE64(get_u64_raw(codec));
    value.lo = LE64(get_u64_raw(codec));
    return value;
}
ledger_u128_t codec_get_u128_be(welfare_codec_t *codec) {
    ledger_u128_t value;
    value.hi = BE64(get_u64_raw(codec));
    value.lo = BE64(get_u64_raw(codec));
    return value;
}
uint64_t codec_get_u64_be(welfare_codec_t *codec) { return BE64(get_u64_raw(codec)); }
uint32_t codec_get_u32_be(welfare_codec_t *codec) { return BE32(get_u32_raw(codec)); }

void key_begin(welfare_key_t *key, char type) {
    key->codec = (welfare_codec_t){key->bytes, sizeof(key->bytes), 0, false};
    codec_put_u8(&key->codec, (uint8_t)type);
}

/* ---- raw get/put ---- */

typedef struct value_buffer {
    uint8_t bytes[WELFARE_VALUE_SIZE_MAX];
    welfare_codec_t codec;
} value_buffer_t;

static void value_begin(value_buffer_t *value) {
    value->codec = (welfare_codec_t){value->bytes, sizeof(value->bytes), 0, false};
    codec_put_u8(&value->codec, WELFARE_RECORD_VERSION);
}

/* May `txn` use the registry cache? Only the open group's transactions:
 * outside a group (read-only handles, reads between groups) LMDB is read
 * directly. */
static bool cache_usable(const ledger_t *ledger, const MDB_txn *txn, uint8_t type) {
    return ledger->txn_group != NULL && (txn == NULL || txn == ledger->txn) &&
           welfare_cache_type(type);
}

/* The group's cursor for records of `type` (group_cursor), or NULL:
 * another transaction, or a key that is not one of the record types. */
static MDB_cursor *type_cursor(ledger_t *ledger, const MDB_txn *txn, uint8_t type) {
    if ((txn != NULL && txn != ledger->txn) || type < 'A' || type > 'Z') return NULL;
    return group_cursor(ledger, GROUP_CURSOR_WELFARE_A + (type - 'A'), ledger->dbi_welfare);
}

static int table_get(ledger_t *ledger, MDB_txn *txn, MDB_val *key, MDB_val *data) {
    MDB_cursor *cursor = type_cursor(ledger, txn, *(const uint8_t *)key->mv_data);
    if (cursor != NULL) return mdb_cursor_get(cursor, key, data, MDB_SET);
    return mdb_get(txn != NULL ? txn : ledger->txn, ledger->dbi_welfare, key, data);
}

static int table_put(ledger_t *ledger, MDB_val *key, MDB_val *data) {
    MDB_cursor *cursor = type_cursor(ledger, NULL, *(const uint8_t *)key->mv_data);
    if (cursor != NULL) return mdb_cursor_put(cursor, key, data, 0);
    return mdb_put(ledger->txn, ledger->dbi_welfare, key, data, 0);
}

static int raw_put(ledger_t *ledger, const welfare_key_t *key, value_buffer_t *value) {
    if (key->codec.failed || value->codec.failed) return LEDGER_ERR_INVALID_ARGUMENT;
    MDB_val key_value = {key->codec.at, (void *)key->bytes};
    MDB_val data = {value->codec.at, value->bytes};
    int error = store_error(table_put(ledger, &key_value, &data));
    if (!error && cache_usable(ledger, NULL, key->bytes[0])) {
        welfare_cache_put(&ledger->welfare_cache, key->bytes, key->codec.at, value->bytes,
                          value->codec.at);
    }
    return error;
}

/* Reads a value into `codec` (pointing into LMDB memory: valid until the
 * txn's next write), past its version byte. */
static int raw_get(ledger_t *ledger, MDB_txn *txn, const welfare_key_t *key,
                   welfare_codec_t *codec, bool *found_out) {
    MDB_val key_value = {key->codec.at, (void *)key->bytes};
    MDB_val data;
    *found_out = false;
    /* Empty until found: a caller reads it only when *found_out, which an
     * optimizing compiler cannot always see. */
    *codec = (welfare_codec_t){NULL, 0, 0, true};
    bool cached = cache_usable(ledger, txn, key->bytes[0]);
    const uint8_t *bytes = NULL;
    size_t size = 0;
    if (cached && welfare_cache_get(&ledger->welfare_cache, key->bytes, key->codec.at, &bytes, &size)) {
        if (size == 0) return 0; /* known absent */
        data.mv_data = (void *)bytes;
        data.mv_size = size;
    } else {
        int error = table_get(ledger, txn, &key_value, &data);
        if (error == MDB_NOTFOUND) {
            /* Absence is cached too (an empty value): cap classes, usage
             * rows and cap-table years are mostly absent. */
            if (cached) welfare_cache_put(&ledger->welfare_cache, key->bytes, key->codec.at, NULL, 0);
            return 0;
        }
        if (error) return error;
        if (cached) {
            welfare_cache_put(&ledger->welfare_cache, key->bytes, key->codec.at, data.mv_data,
                              data.mv_size);
        }
    }
    *codec = (welfare_codec_t){data.mv_data, data.mv_size, 0, false};
    if (codec_get_u8(codec) != WELFARE_RECORD_VERSION) {
        ledger_set_error(ledger, "welfare record type '%c' has an unknown version",
                         key->bytes[0]);
        return LEDGER_ERR_CORRUPT;
    }
    *found_out = true;
    return 0;
}

static int decoded(ledger_t *ledger, const welfare_codec_t *codec, char type) {
    if (!codec->failed && codec->at == codec->size) return 0;
    ledger_set_error(ledger, "welfare record type '%c' is malformed", type);
    return LEDGER_ERR_CORRUPT;
}

/* ---- records ---- */

/* What an 'O' record holds after its version byte. */
enum { OPERATION_DIGEST = 1, OPERATION_PURCHASE = 2 };

static void key_u128(welfare_key_t *key, char type, ledger_u128_t id) {
    key_begin(key, type);
    codec_put_u128_be(&key->codec, id);
}

int store_platform_get(ledger_t *ledger, MDB_txn *txn, platform_record_t *out,
                       bool *found_out) {
    welfare_key_t key;
    key_begin(&key, 'P');
    welfare_codec_t codec;
    int error = raw_get(ledger, txn, &key, &codec, found_out);
    if (error || !*found_out) return error;
    out->funders_count = codec_get_u64(&codec);
    out->providers_count = codec_get_u64(&codec);
    out->pots_count = codec_get_u64(&codec);
    return decoded(ledger, &codec, 'P');
}

int store_platform_put(ledger_t *ledger, const platform_record_t *record) {
    welfare_key_t key;
    key_begin(&key, 'P');
    value_buffer_t value;
    value_begin(&value);
    codec_put_u64(&value.codec, record->funders_count);
    codec_put_u64(&value.codec, record->providers_count);
    codec_put_u64(&value.codec, record->pots_count);
    return raw_put(ledger, &key, &value);
}

int store_funder_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                     funder_record_t *out, bool *found_out) {
    welfare_key_t key;
    key_u128(&key, 'F', id);
    welfare_codec_t codec;
    int error = raw_get(ledger, txn, &key, &codec, found_out);
    if (error || !*found_out) return error;
    out->kind = codec_get_u32(&codec);
    out->number = codec_get_u32(&codec);
    return decoded(ledger, &codec, 'F');
}

int store_funder_put(ledger_t *ledger, ledger_u128_t id, const funder_record_t *record) {
    welfare_key_t key;
    key_u128(&key, 'F', id);
    value_buffer_t value;
    value_begin(&value);
    codec_put_u32(&value.codec, record->kind);
    codec_put_u32(&value.codec, record->number);
    return raw_put(ledger, &key, &value);
}

int store_provider_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                       provider_record_t *out, bool *found_out) {
    welfare_key_t key;
    key_u128(&key, 'V', id);
    welfare_codec_t codec;
    int error = raw_get(ledger, txn, &key, &codec, found_out);
    if (error || !*found_out) return error;
    out->fee_bps = codec_get_u32(&codec);
    out->number = codec_get_u32(&codec);
    out->categories = codec_get_u64(&codec);
    return decoded(ledger, &codec, 'V');
}

int store_provider_put(ledger_t *ledger, ledger_u128_t id, const provider_record_t *record) {
    welfare_key_t key;
    key_u128(&key, 'V', id);
    value_buffer_t value;
    value_begin(&value);
    codec_put_u32(&value.codec, record->fee_bps);
    codec_put_u32(&value.codec, record->number);
    codec_put_u64(&value.codec, record->categories);
    return raw_put(ledger, &key, &value);
}

/* Decodes an employee value (after its version byte); shared by the read
 * and the prefetch, which must agree on the layout. */
static void employee_decode(welfare_codec_t *codec, employee_record_t *out) {
    out->funder_id = codec_get_u128(codec);
    out->funder_number = codec_get_u32(codec);
    out->pots_count = codec_get_u32(codec);
    out->offboarded = codec_get_u8(codec) != 0;
    if (out->pots_count > WELFARE_POTS_PER_EMPLOYEE_MAX) codec->failed = true;
    for (uint32_t i = 0; i < out->pots_count && !codec->failed; i++) {
        out->pots[i].plan_id = codec_get_u128(codec);
        out->pots[i].pot_number = codec_get_u64(codec);
    }
}

int store_employee_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                       employee_record_t *out, bool *found_out) {
    welfare_key_t key;
    key_u128(&key, 'E', id);
    welfare_codec_t codec;
    int error = raw_get(ledger, txn, &key, &codec, found_out);
    if (error || !*found_out) return error;
    employee_decode(&codec, out);
    return decoded(ledger, &codec, 'E');
}

int store_employee_put(ledger_t *ledger, ledger_u128_t id, const employee_record_t *record) {
    welfare_key_t key;
    key_u128(&key, 'E', id);
    value_buffer_t value;
    value_begin(&value);
    codec_put_u128(&value.codec, record->funder_id);
    codec_put_u32(&value.codec, record->funder_number);
    codec_put_u32(&value.codec, record->pots_count);
    codec_put_u8(&value.codec, record->offboarded ? 1 : 0);
    for (uint32_t i = 0; i < record->pots_count; i++) {
        codec_put_u128(&value.codec, record->pots[i].plan_id);
        codec_put_u64(&value.codec, record->pots[i].pot_number);
    }
    return raw_put(ledger, &key, &value);
}

uint64_t store_cache_hash_u128(char type, ledger_u128_t id) {
    welfare_key_t key;
    key_u128(&key, type, id);
    return welfare_cache_hash(key.bytes, key.codec.at);
}

void store_cache_prefetch(ledger_t *ledger, uint64_t hash, int stage) {
    if (ledger->txn_group == NULL) return;
    welfare_cache_prefetch(&ledger->welfare_cache, hash, stage);
}

uint32_t store_employee_pot_numbers(ledger_t *ledger, ledger_u128_t employee_id, uint64_t hash,
                                    uint64_t *numbers_out, uint32_t numbers_max) {
    if (ledger->txn_group == NULL) return 0;
    welfare_key_t key;
    key_u128(&key, 'E', employee_id);
    const uint8_t *bytes = NULL;
    size_t size = 0;
    if (!welfare_cache_get_hashed(&ledger->welfare_cache, key.bytes, key.codec.at, hash, &bytes,
                                  &size) ||
        size == 0) {
        return 0;
    }
    welfare_codec_t codec = {(uint8_t *)bytes, size, 1, false}; /* past the version */
    employee_record_t employee;
    employee_decode(&codec, &employee);
    if (codec.failed) return 0;
    uint32_t count = employee.pots_count < numbers_max ? employee.pots_count : numbers_max;
    for (uint32_t i = 0; i < count; i++) numbers_out[i] = employee.pots[i].pot_number;
    return count;
}

int store_plan_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id, welfare_plan_t *out,
                   bool *found_out) {
    welfare_key_t key;
    key_u128(&key, 'L', id);
    welfare_codec_t codec;
    int error = raw_get(ledger, txn, &key, &codec, found_out);
    if (error || !*found_out) return error;
    out->id = id;
    out->funder_id = codec_get_u128(&codec);
    out->valid_from = codec_get_u64(&codec);
    out->valid_until = codec_get_u64(&codec);
    out->categories = codec_get_u64(&codec);
    out->expiry_policy = codec_get_u32(&codec);
    out->flags = codec_get_u32(&codec);
    out->next_plan_id = codec_get_u128(&codec);
    out->grant_limit_per_employee = codec_get_u64(&codec);
    return decoded(ledger, &codec, 'L');
}

int store_plan_put(ledger_t *ledger, const welfare_plan_t *plan) {
    welfare_key_t key;
    key_u128(&key, 'L', plan->id);
    value_buffer_t value;
    value_begin(&value);
    codec_put_u128(&value.codec, plan->funder_id);
    codec_put_u64(&value.codec, plan->valid_from);
    codec_put_u64(&value.codec, plan->valid_until);
    codec_put_u64(&value.codec, plan->categories);
    codec_put_u32(&value.codec, plan->expiry_policy);
    codec_put_u32(&value.codec, plan->flags);
    codec_put_u128(&value.codec, plan->next_plan_id);
    codec_put_u64(&value.codec, plan->grant_limit_per_employee);
    return raw_put(ledger, &key, &value);
}

static void key_pot(welfare_key_t *key, ledger_u128_t employee_id, ledger_u128_t plan_id) {
    key_u128(key, 'T', employee_id);
    codec_put_u128_be(&key->codec, plan_id);
}

uint64_t store_cache_hash_pot(ledger_u128_t employee_id, ledger_u128_t plan_id) {
    welfare_key_t key;
    key_pot(&key, employee_id, plan_id);
    return welfare_cache_hash(key.bytes, key.codec.at);
}

int store_pot_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t employee_id,
                  ledger_u128_t plan_id, pot_record_t *out, bool *found_out) {
    welfare_key_t key;
    key_pot(&key, employee_id, plan_id);
    welfare_codec_t codec;
    int error = raw_get(ledger, txn, &key, &codec, found_out);
    if (error || !*found_out) return error;
    out->number = codec_get_u64(&codec);
    out->granted = codec_get_u64(&codec);
    out->closed = codec_get_u8(&codec) != 0;
    return decoded(ledger, &codec, 'T');
}

int store_pot_put(ledger_t *ledger, ledger_u128_t employee_id, ledger_u128_t plan_id,
                  const pot_record_t *record) {
    welfare_key_t key;
    key_pot(&key, employee_id, plan_id);
    value_buffer_t value;
    value_begin(&value);
    codec_put_u64(&value.codec, record->number);
    codec_put_u64(&value.codec, record->granted);
    codec_put_u8(&value.codec, record->closed ? 1 : 0);
    return raw_put(ledger, &key, &value);
}

int store_plan_pot_index_put(ledger_t *ledger, ledger_u128_t plan_id,
                             ledger_u128_t employee_id) {
    welfare_key_t key;
    key_u128(&key, 'X', plan_id);
    codec_put_u128_be(&key.codec, employee_id);
    value_buffer_t value;
    value_begin(&value);
    return raw_put(ledger, &key, &value);
}

static void key_employee_year(welfare_key_t *key, char type, ledger_u128_t employee_id,
                              uint32_t year) {
    key_u128(key, type, employee_id);
    codec_put_u32_be(&key->codec, year);
}

uint64_t store_cache_hash_employee_year(char type, ledger_u128_t employee_id, uint32_t year) {
    welfare_key_t key;
    key_employee_year(&key, type, employee_id, year);
    return welfare_cache_hash(key.bytes, key.codec.at);
}

int store_u64_get(ledger_t *ledger, MDB_txn *txn, char type, ledger_u128_t employee_id,
                  uint32_t year, uint64_t *value_out, bool *found_out) {
    welfare_key_t key;
    key_employee_year(&key, type, employee_id, year);
    welfare_codec_t codec;
    *value_out = 0;
    int error = raw_get(ledger, txn, &key, &codec, found_out);
    if (error || !*found_out) return error;
    *value_out = codec_get_u64(&codec);
    return decoded(ledger, &codec, type);
}

int store_u64_put(ledger_t *ledger, char type, ledger_u128_t employee_id, uint32_t year,
                  uint64_t value) {
    welfare_key_t key;
    key_employee_year(&key, type, employee_id, year);
    value_buffer_t buffer;
    value_begin(&buffer);
    codec_put_u64(&buffer.codec, value);
    return raw_put(ledger, &key, &buffer);
}

int store_purchase_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                       purchase_record_t *out, bool *found_out) {
    bool other = false;
    int error = store_purchase_or_other_get(ledger, txn, id, out, found_out, &other);
    return error;
}

int store_purchase_or_other_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                                purchase_record_t *out, bool *found_out, bool *other_out) {
    welfare_key_t key;
    key_u128(&key, 'O', id);
    welfare_codec_t codec;
    *other_out = false;
    int error = raw_get(ledger, txn, &key, &codec, found_out);
    if (error || !*found_out) return error;
    if (codec_get_u8(&codec) != OPERATION_PURCHASE) {
        *found_out = false; /* another operation kind holds this id */
        *other_out = true;
        return 0;
    }
    memset(out, 0, sizeof(*out));
    out->employee_id = codec_get_u128(&codec);
    out->provider_id = codec_get_u128(&codec);
    out->reference = codec_get_u128(&codec);
    out->requested_amount = codec_get_u64(&codec);
    out->hold_timeout_s = codec_get_u32(&codec);
    out->category = codec_get_u32(&codec);
    out->fiscal_year = codec_get_u32(&codec);
    out->state = codec_get_u32(&codec);
    out->fee_bps = codec_get_u32(&codec);
    out->basis = codec_get_u32(&codec);
    out->amount = codec_get_u64(&codec);
    out->refunded = codec_get_u64(&codec);
    out->fee = codec_get_u64(&codec);
    out->fee_refunded = codec_get_u64(&codec);
    out->hold_expires_at = codec_get_u64(&codec);
    out->fringe = codec_get_u8(&codec) != 0;
    out->pots_count = codec_get_u32(&codec);
    if (out->pots_count == 0 || out->pots_count > WELFARE_PURCHASE_POTS_MAX) {
        codec.failed = true;
    }
    for (uint32_t i = 0; i < out->pots_count && !codec.failed; i++) {
        purchase_pot_t *pot = &out->pots[i];
        pot->plan_id = codec_get_u128(&codec);
        pot->pot_number = codec_get_u64(&codec);
        pot->amount = codec_get_u64(&codec);
        pot->refunded = codec_get_u64(&codec);
        pot->pending_id = codec_get_u128(&codec);
    }
    return decoded(ledger, &codec, 'O');
}

int store_purchase_put(ledger_t *ledger, ledger_u128_t id, const purchase_record_t *record) {
    welfare_key_t key;
    key_u128(&key, 'O', id);
    value_buffer_t value;
    value_begin(&value);
    welfare_codec_t *codec = &value.codec;
    codec_put_u8(codec, OPERATION_PURCHASE);
    codec_put_u128(codec, record->employee_id);
    codec_put_u128(codec, record->provider_id);
    codec_put_u128(codec, record->reference);
    codec_put_u64(codec, record->requested_amount);
    codec_put_u32(codec, record->hold_timeout_s);
    codec_put_u32(codec, record->category);
    codec_put_u32(codec, record->fiscal_year);
    codec_put_u32(codec, record->state);
    codec_put_u32(codec, record->fee_bps);
    codec_put_u32(codec, record->basis);
    codec_put_u64(codec, record->amount);
    codec_put_u64(codec, record->refunded);
    codec_put_u64(codec, record->fee);
    codec_put_u64(codec, record->fee_refunded);
    codec_put_u64(codec, record->hold_expires_at);
    codec_put_u8(codec, record->fringe ? 1 : 0);
    codec_put_u32(codec, record->pots_count);
    for (uint32_t i = 0; i < record->pots_count; i++) {
        const purchase_pot_t *pot = &record->pots[i];
        codec_put_u128(codec, pot->plan_id);
        codec_put_u64(codec, pot->pot_number);
        codec_put_u64(codec, pot->amount);
        codec_put_u64(codec, pot->refunded);
        codec_put_u128(codec, pot->pending_id);
    }
    return raw_put(ledger, &key, &value);
}

static void key_hold(welfare_key_t *key, uint64_t expires_at, ledger_u128_t purchase_id) {
    key_begin(key, 'H');
    codec_put_u64_be(&key->codec, expires_at);
    codec_put_u128_be(&key->codec, purchase_id);
}

int store_hold_index_put(ledger_t *ledger, uint64_t expires_at, ledger_u128_t purchase_id) {
    welfare_key_t key;
    key_hold(&key, expires_at, purchase_id);
    value_buffer_t value;
    value_begin(&value);
    return raw_put(ledger, &key, &value);
}

int store_hold_index_delete(ledger_t *ledger, uint64_t expires_at, ledger_u128_t purchase_id) {
    welfare_key_t key;
    key_hold(&key, expires_at, purchase_id);
    MDB_val key_value = {key.codec.at, key.bytes};
    int error = mdb_del(ledger->txn, ledger->dbi_welfare, &key_value, NULL);
    return error == MDB_NOTFOUND ? 0 : store_error(error);
}

int store_hold_index_first_due(ledger_t *ledger, uint64_t now, uint64_t *expires_at_out,
                               ledger_u128_t *purchase_id_out, bool *found_out) {
    return store_hold_index_first(ledger, now, expires_at_out, purchase_id_out, found_out);
}

int store_hold_index_first(ledger_t *ledger, uint64_t due_at, uint64_t *expires_at_out,
                           ledger_u128_t *purchase_id_out, bool *found_out) {
    *found_out = false;
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(ledger->txn, ledger->dbi_welfare, &cursor);
    if (error) return error;
    welfare_key_t key;
    key_begin(&key, 'H');
    MDB_val key_value = {key.codec.at, key.bytes};
    MDB_val data;
    error = mdb_cursor_get(cursor, &key_value, &data, MDB_SET_RANGE);
    if (error == 0 && key_value.mv_size == 1 + 8 + 16 &&
        ((const uint8_t *)key_value.mv_data)[0] == 'H') {
        welfare_codec_t codec = {key_value.mv_data, key_value.mv_size, 1, false};
        uint64_t expires_at = codec_get_u64_be(&codec);
        *expires_at_out = expires_at;
        if (expires_at <= due_at) {
            *expires_at_out = expires_at;
            *purchase_id_out = codec_get_u128_be(&codec);
            *found_out = true;
        }
    }
    mdb_cursor_close(cursor);
    return error == MDB_NOTFOUND ? 0 : error;
}

static void key_employee_hold(welfare_key_t *key, ledger_u128_t employee_id,
                              ledger_u128_t purchase_id) {
    key_u128(key, 'W', employee_id);
    codec_put_u128_be(&key->codec, purchase_id);
}

int store_employee_hold_put(ledger_t *ledger, ledger_u128_t employee_id,
                            ledger_u128_t purchase_id) {
    welfare_key_t key;
    key_employee_hold(&key, employee_id, purchase_id);
    value_buffer_t value;
    value_begin(&value);
    return raw_put(ledger, &key, &value);
}

int store_employee_hold_delete(ledger_t *ledger, ledger_u128_t employee_id,
                               ledger_u128_t purchase_id) {
    welfare_key_t key;
    key_employee_hold(&key, employee_id, purchase_id);
    MDB_val key_value = {key.codec.at, key.bytes};
    int error = mdb_del(ledger->txn, ledger->dbi_welfare, &key_value, NULL);
    return error == MDB_NOTFOUND ? 0 : store_error(error);
}

int store_funder_employee_put(ledger_t *ledger, ledger_u128_t funder_id,
                              ledger_u128_t employee_id) {
    welfare_key_t key;
    key_u128(&key, 'M', funder_id);
    codec_put_u128_be(&key.codec, employee_id);
    value_buffer_t value;
    value_begin(&value);
    return raw_put(ledger, &key, &value);
}

int store_receipt_get(ledger_t *ledger, const uint8_t hash[32], bool *found_out) {
    welfare_key_t key;
    key_begin(&key, 'R');
    codec_put_bytes(&key.codec, hash, 32);
    welfare_codec_t codec;
    return raw_get(ledger, NULL, &key, &codec, found_out);
}

int store_receipt_put(ledger_t *ledger, const uint8_t hash[32], ledger_u128_t operation_id) {
    welfare_key_t key;
    key_begin(&key, 'R');
    codec_put_bytes(&key.codec, hash, 32);
    value_buffer_t value;
    value_begin(&value);
    codec_put_u128(&value.codec, operation_id);
    return raw_put(ledger, &key, &value);
}

int store_category_get(ledger_t *ledger, MDB_txn *txn, uint32_t id,
                       welfare_category_t *out, bool *found_out) {
    welfare_key_t key;
    key_begin(&key, 'K');
    codec_put_u32_be(&key.codec, id);
    welfare_codec_t codec;
    int error = raw_get(ledger, txn, &key, &codec, found_out);
    if (error || !*found_out) return error;
    out->id = id;
    out->fiscal_basis = codec_get_u32(&codec);
    out->reimbursable = codec_get_u8(&codec) != 0;
    codec_get_bytes(&codec, out->name, sizeof(out->name));
    out->name[sizeof(out->name) - 1] = '\0';
    return decoded(ledger, &codec, 'K');
}

bool store_category_basis_cached(ledger_t *ledger, uint32_t id, uint32_t *basis_out) {
    if (ledger->txn_group == NULL) return false;
    welfare_key_t key;
    key_begin(&key, 'K');
    codec_put_u32_be(&key.codec, id);
    const uint8_t *bytes = NULL;
    size_t size = 0;
    if (!welfare_cache_get(&ledger->welfare_cache, key.bytes, key.codec.at, &bytes, &size) ||
        size == 0) {
        return false;
    }
    welfare_codec_t codec = {(uint8_t *)bytes, size, 0, false};
    if (codec_get_u8(&codec) != WELFARE_RECORD_VERSION) return false;
    *basis_out = codec_get_u32(&codec);
    return !codec.failed;
}

int store_category_put(ledger_t *ledger, const welfare_category_t *category) {
    welfare_key_t key;
    key_begin(&key, 'K');
    codec_put_u32_be(&key.codec, category->id);
    value_buffer_t value;
    value_begin(&value);
    codec_put_u32(&value.codec, category->fiscal_basis);
    codec_put_u8(&value.codec, category->reimbursable ? 1 : 0);
    char name[WELFARE_NAME_SIZE] = {0};
    memcpy(name, category->name, strnlen(category->name, sizeof(name) - 1));
    codec_put_bytes(&value.codec, name, sizeof(name));
    return raw_put(ledger, &key, &value);
}

int store_cap_get(ledger_t *ledger, MDB_txn *txn, uint32_t year, welfare_fringe_cap_t *out,
                  bool *found_out) {
    welfare_key_t key;
    key_begin(&key, 'Y');
    codec_put_u32_be(&key.codec, year);
    welfare_codec_t codec;
    int error = raw_get(ledger, txn, &key, &codec, found_out);
    if (error || !*found_out) return error;
    out->year = year;
    out->standard = codec_get_u64(&codec);
    out->with_children = codec_get_u64(&codec);
    return decoded(ledger, &codec, 'Y');
}

int store_cap_put(ledger_t *ledger, const welfare_fringe_cap_t *cap) {
    welfare_key_t key;
    key_begin(&key, 'Y');
    codec_put_u32_be(&key.codec, cap->year);
    value_buffer_t value;
    value_begin(&value);
    codec_put_u64(&value.codec, cap->standard);
    codec_put_u64(&value.codec, cap->with_children);
    return raw_put(ledger, &key, &value);
}

static int count_visit(void *context, welfare_codec_t *key_rest, welfare_codec_t *value) {
    (void)key_rest;
    (void)value;
    (*(uint32_t *)context)++;
    return 0;
}

int store_cap_rows_count(ledger_t *ledger, uint32_t *count_out) {
    welfare_key_t prefix;
    key_begin(&prefix, 'Y');
    *count_out = 0;
    return store_scan(ledger, NULL, &prefix, count_visit, count_out);
}

/* An operation record: its kind byte, then a digest of the request (or,
 * for purchases, the purchase record). A purchase found under the id
 * gives a digest of zeros, which no request digest equals in practice. */
static int digest_get(ledger_t *ledger, const welfare_key_t *key, uint8_t digest_out[16],
                      bool *found_out) {
    welfare_codec_t codec;
    int error = raw_get(ledger, NULL, key, &codec, found_out);
    if (error || !*found_out) return error;
    if (codec_get_u8(&codec) == OPERATION_PURCHASE) {
        memset(digest_out, 0, 16);
        return 0;
    }
    codec_get_bytes(&codec, digest_out, 16);
    return decoded(ledger, &codec, (char)key->bytes[0]);
}

static int digest_put(ledger_t *ledger, const welfare_key_t *key, const uint8_t digest[16]) {
    value_buffer_t value;
    value_begin(&value);
    codec_put_u8(&value.codec, OPERATION_DIGEST);
    codec_put_bytes(&value.codec, digest, 16);
    return raw_put(ledger, key, &value);
}

int store_operation_get(ledger_t *ledger, ledger_u128_t id, uint8_t digest_out[16],
                        bool *found_out) {
    welfare_key_t key;
    key_u128(&key, 'O', id);
    return digest_get(ledger, &key, digest_out, found_out);
}

int store_operation_put(ledger_t *ledger, ledger_u128_t id, const uint8_t digest[16]) {
    welfare_key_t key;
    key_u128(&key, 'O', id);
    return digest_put(ledger, &key, digest);
}

int store_grant_entry_get(ledger_t *ledger, ledger_u128_t grant_id, ledger_u128_t employee_id,
                          uint8_t digest_out[16], bool *found_out) {
    welfare_key_t key;
    key_u128(&key, 'G', grant_id);
    codec_put_u128_be(&key.codec, employee_id);
    return digest_get(ledger, &key, digest_out, found_out);
}

int store_grant_entry_put(ledger_t *ledger, ledger_u128_t grant_id, ledger_u128_t employee_id,
                          const uint8_t digest[16]) {
    welfare_key_t key;
    key_u128(&key, 'G', grant_id);
    codec_put_u128_be(&key.codec, employee_id);
    return digest_put(ledger, &key, digest);
}

int store_grant_entries_between(ledger_t *ledger, ledger_u128_t grant_id, ledger_u128_t first,
                                ledger_u128_t last, bool *any_out) {
    welfare_key_t from;
    welfare_key_t to;
    key_u128(&from, 'G', grant_id);
    codec_put_u128_be(&from.codec, first);
    key_u128(&to, 'G', grant_id);
    codec_put_u128_be(&to.codec, last);
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(ledger->txn, ledger->dbi_welfare, &cursor);
    if (error) return error;
    MDB_val key_value = {from.codec.at, from.bytes};
    MDB_val data;
    error = mdb_cursor_get(cursor, &key_value, &data, MDB_SET_RANGE);
    if (error == 0) {
        /* found <= to, in LMDB's order: bytes, then length. */
        size_t common = key_value.mv_size < to.codec.at ? key_value.mv_size : to.codec.at;
        int order = memcmp(key_value.mv_data, to.bytes, common);
        *any_out = order < 0 || (order == 0 && key_value.mv_size <= to.codec.at);
    } else {
        *any_out = false;
    }
    mdb_cursor_close(cursor);
    return error == MDB_NOTFOUND ? 0 : error;
}

int store_scan(ledger_t *ledger, MDB_txn *txn, const welfare_key_t *prefix,
               store_visit_fn visit, void *context) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn != NULL ? txn : ledger->txn, ledger->dbi_welfare, &cursor);
    if (error) return error;
    MDB_val key_value = {prefix->codec.at, (void *)prefix->bytes};
    MDB_val data;
    error = mdb_cursor_get(cursor, &key_value, &data, MDB_SET_RANGE);
    while (error == 0) {
        if (key_value.mv_size < prefix->codec.at ||
            memcmp(key_value.mv_data, prefix->bytes, prefix->codec.at) != 0) {
            break;
        }
        welfare_codec_t key_rest = {key_value.mv_data, key_value.mv_size,
                                    prefix->codec.at, false};
        welfare_codec_t value = {data.mv_data, data.mv_size, 0, false};
        if (codec_get_u8(&value) != WELFARE_RECORD_VERSION) {
            error = LEDGER_ERR_CORRUPT;
            break;
        }
        int visited = visit(context, &key_rest, &value);
        if (visited != 0) {
            error = visited == 1 ? 0 : visited;
            break;
        }
        error = mdb_cursor_get(cursor, &key_value, &data, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    return error == MDB_NOTFOUND ? 0 : error;
}

static int ids_visit(void *context, welfare_codec_t *key_rest, welfare_codec_t *value) {
    (void)value;
    store_ids_t *list = context;
    if (list->count == list->capacity) {
        uint32_t capacity = list->capacity == 0 ? 256 : list->capacity * 2;
        ledger_u128_t *ids = realloc(list->ids, (size_t)capacity * sizeof(*ids));
        if (ids == NULL) return LEDGER_ERR_NO_MEMORY;
        list->ids = ids;
        list->capacity = capacity;
    }
    list->ids[list->count++] = codec_get_u128_be(key_rest);
    return 0;
}

int store_ids_under(ledger_t *ledger, MDB_txn *txn, char type, ledger_u128_t id,
                    store_ids_t *list_out) {
    *list_out = (store_ids_t){NULL, 0, 0};
    welfare_key_t prefix;
    key_begin(&prefix, type);
    codec_put_u128_be(&prefix.codec, id);
    int error = store_scan(ledger, txn, &prefix, ids_visit, list_out);
    if (error) store_ids_free(list_out);
    return error;
}

void store_ids_free(store_ids_t *list) {
    free(list->ids);
    *list = (store_ids_t){NULL, 0, 0};
}
