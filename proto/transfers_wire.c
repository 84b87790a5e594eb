/*
 * transfers_wire.c — a create_transfers request body decoded by hand,
 * straight into ledger transfers (convert.h, convert_create_transfers_decode).
 *
 * protobuf-c decodes a full batch as 32,000 sub-messages (a Transfer and
 * its three U128 ids each) before convert.c copies them into
 * ledger_transfer_t: 8% of the whole machine's CPU at full load, on the
 * server's event-loop thread. This file reads the same bytes in one pass.
 *
 * It is an accelerator, not a second parser of the protocol: it accepts
 * only the plain form of the message, the one every encoder writes: a
 * request id at most once, the create_transfers field once and nothing
 * else; in each Transfer, only its 13 known fields, each at most once and
 * with its own wire type; U128 sub-messages of two fixed64 fields, each at
 * most once; 32-bit fields below 2^32. Anything else (unknown or repeated
 * fields, another operation, a malformed byte) answers "not mine", and the
 * caller decodes with protobuf-c, which then decides. So for every body it
 * accepts, the result is what protobuf-c plus convert_transfer_fits /
 * convert_transfer_from_proto give: each Transfer is rebuilt on the stack
 * as a protobuf-c struct and handed to those same functions.
 * tests/test_frame.c and tests/fuzz/fuzz_frame.c check that equivalence on
 * valid, mutated and random bodies.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

enum {
    WIRE_VARINT = 0,
    WIRE_FIXED64 = 1,
    WIRE_LENGTH = 2,
    VARINT_BYTES_MAX = 10,
    FIELD_REQUEST_ID = 1,
    FIELD_CREATE_TRANSFERS = 11,
    FIELD_TRANSFERS = 1,
    FIELD_U128_HI = 1,
    FIELD_U128_LO = 2,
    TRANSFER_FIELDS_MAX = 13,
};

typedef struct wire {
    const uint8_t *at;
    const uint8_t *end;
} wire_t;

static bool varint_read(wire_t *wire, uint64_t *value_out) {
    uint64_t value = 0;
    for (int i = 0; i < VARINT_BYTES_MAX; i++) {
        if (wire->at == wire->end) return false;
        uint8_t byte = *wire->at++;
        if (i == VARINT_BYTES_MAX - 1 && byte > 1) return false; /* past 64 bits */
        value |= (uint64_t)(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0) {
            *value_out = value;
            return true;
        }
    }
    return false;
}

static bool key_read(wire_t *wire, uint32_t *field_out, uint32_t *type_out) {
    uint64_t key = 0;
    if (!varint_read(wire, &key) || key > UINT32_MAX) return false;
    *field_out = (uint32_t)(key >> 3);
    *type_out = (uint32_t)(key & 7);
    return *field_out != 0;
}

/* A length-delimited field's body. */
static bool length_read(wire_t *wire, wire_t *body_out) {
    uint64_t length = 0;
    if (!varint_read(wire, &length) || length > (uint64_t)(wire->end - wire->at)) return false;
    body_out->at = wire->at;
    body_out->end = wire->at + length;
    wire->at += length;
    return true;
}

static uint64_t fixed64_load(const uint8_t *bytes) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | bytes[i];
    return value;
}

static bool u128_read(wire_t body, Borsellino__V1__U128 *out) {
    borsellino__v1__u128__init(out);
    bool seen[3] = {false, false, false};
    while (body.at < body.end) {
        uint32_t field = 0, type = 0;
        if (!key_read(&body, &field, &type) || type != WIRE_FIXED64) return false;
        if ((field != FIELD_U128_HI && field != FIELD_U128_LO) || seen[field]) return false;
        if (body.end - body.at < 8) return false;
        seen[field] = true;
        uint64_t value = fixed64_load(body.at);
        body.at += 8;
        if (field == FIELD_U128_HI) out->hi = value;
        else out->lo = value;
    }
    return true;
}

/* The Transfer's storage on the stack: the message and its five U128s. */
typedef struct transfer_parts {
    Borsellino__V1__Transfer transfer;
    Borsellino__V1__U128 u128s[6]; /* indexed by field number 1..6 (4 unused) */
} transfer_parts_t;

static bool transfer_scalar_set(Borsellino__V1__Transfer *transfer, uint32_t field,
                                uint64_t value) {
    bool is_u32 = field >= 8 && field <= 12;
    if (is_u32 && value > UINT32_MAX) return false;
    switch (field) {
    case 4: transfer->amount = value; break;
    case 7: transfer->user_data_64 = value; break;
    case 8: transfer->user_data_32 = (uint32_t)value; break;
    case 9: transfer->timeout = (uint32_t)value; break;
    case 10: transfer->ledger = (uint32_t)value; break;
    case 11: transfer->code = (uint32_t)value; break;
    case 12: transfer->flags = (uint32_t)value; break;
    case 13: transfer->timestamp = value; break;
    default: return false;
    }
    return true;
}

static Borsellino__V1__U128 **transfer_u128_field(Borsellino__V1__Transfer *transfer,
                                                  uint32_t field) {
    switch (field) {
    case 1: return &transfer->id;
    case 2: return &transfer->debit_account_id;
    case 3: return &transfer->credit_account_id;
    case 5: return &transfer->pending_id;
    case 6: return &transfer->user_data_128;
    default: return NULL;
    }
}

static bool transfer_read(wire_t body, transfer_parts_t *parts) {
    Borsellino__V1__Transfer *transfer = &parts->transfer;
    borsellino__v1__transfer__init(transfer);
    uint32_t seen = 0;
    while (body.at < body.end) {
        uint32_t field = 0, type = 0;
        if (!key_read(&body, &field, &type) || field > TRANSFER_FIELDS_MAX) return false;
        if (seen & (1u << field)) return false;
        seen |= 1u << field;
        Borsellino__V1__U128 **u128 = transfer_u128_field(transfer, field);
        if (u128 != NULL) {
            wire_t value;
            if (type != WIRE_LENGTH || !length_read(&body, &value)) return false;
            if (!u128_read(value, &parts->u128s[field - 1])) return false;
            *u128 = &parts->u128s[field - 1];
        } else {
            uint64_t value = 0;
            if (type != WIRE_VARINT || !varint_read(&body, &value)) return false;
            if (!transfer_scalar_set(transfer, field, value)) return false;
        }
    }
    return true;
}

/* The top level: [request_id], create_transfers, nothing else. */
static bool request_read(wire_t body, uint64_t *request_id_out, wire_t *batch_out) {
    bool seen_id = false, seen_batch = false;
    *request_id_out = 0;
    while (body.at < body.end) {
        uint32_t field = 0, type = 0;
        if (!key_read(&body, &field, &type)) return false;
        if (field == FIELD_REQUEST_ID && type == WIRE_VARINT && !seen_id) {
            seen_id = true;
            if (!varint_read(&body, request_id_out)) return false;
        } else if (field == FIELD_CREATE_TRANSFERS && type == WIRE_LENGTH && !seen_batch) {
            seen_batch = true;
            if (!length_read(&body, batch_out)) return false;
        } else {
            return false;
        }
    }
    return seen_batch;
}

/* Counts the batch's Transfer fields; false on anything but field 1. */
static bool batch_count(wire_t batch, uint32_t count_max, uint32_t *count_out) {
    uint32_t count = 0;
    while (batch.at < batch.end) {
        uint32_t field = 0, type = 0;
        wire_t item;
        if (!key_read(&batch, &field, &type)) return false;
        if (field != FIELD_TRANSFERS || type != WIRE_LENGTH || !length_read(&batch, &item)) {
            return false;
        }
        if (++count > count_max) return false;
    }
    *count_out = count;
    return true;
}

bool convert_create_transfers_decode(const uint8_t *body, size_t size, uint32_t count_max,
                                     convert_transfers_batch_t *batch_out) {
    assert(body != NULL || size == 0);
    assert(batch_out != NULL);
    memset(batch_out, 0, sizeof(*batch_out));
    wire_t batch;
    uint32_t count = 0;
    if (!request_read((wire_t){body, body + size}, &batch_out->request_id, &batch)) return false;
    if (!batch_count(batch, count_max, &count) || count == 0) return false;
    ledger_transfer_t *transfers = malloc(count * sizeof(*transfers));
    if (transfers == NULL) return false;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t field = 0, type = 0;
        wire_t item;
        transfer_parts_t parts;
        bool read = key_read(&batch, &field, &type) && length_read(&batch, &item) &&
                    transfer_read(item, &parts);
        if (!read) {
            free(transfers);
            return false;
        }
        /* As dispatch_prepare: the first event that does not fit is named;
         * the rest are still read, so a malformed one is still refused. */
        if (batch_out->unfit == 0 && !convert_transfer_fits(&parts.transfer)) {
            batch_out->unfit = i + 1;
        }
        if (batch_out->unfit == 0) convert_transfer_from_proto(&parts.transfer, &transfers[i]);
    }
    batch_out->count = count;
    if (batch_out->unfit != 0) {
        free(transfers);
        transfers = NULL;
    }
    batch_out->transfers = transfers;
    return true;
}
