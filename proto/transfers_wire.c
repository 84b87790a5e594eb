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
 *
 * The client's side (convert_create_transfers_encode) writes the same
 * message from ledger transfers in two passes (sizes, then bytes): the
 * bytes protobuf-c packs for it when zero ids are left out, as
 * test_frame checks. The size functions are arithmetic twins of the
 * writers rather than a dry run of them: a writer that only counts cost
 * the load generator 75% more CPU; the encoder asserts the two agree.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "frame.h"
#include "wire.h"

enum {
    FIELD_REQUEST_ID = 1,
    FIELD_CREATE_TRANSFERS = 11,
    FIELD_TRANSFERS = 1,
    FIELD_U128_HI = 1,
    FIELD_U128_LO = 2,
    TRANSFER_FIELDS_MAX = 13,
    /* frame_request_decode refuses a body whose decoding takes more than
     * 16 times its size; the hand decoder refuses (leaves to protobuf-c)
     * any body that protobuf-c might refuse so, by an upper bound of what
     * protobuf-c spends per transfer. */
    BODY_BYTES_FACTOR = 16,
    ARENA_ROUND = 16,
    /* protobuf-c's slabs of scanned members, doubling (32-byte entries):
     * at most two entries per member, twice that with the arena's waste. */
    SCAN_COST_PER_MEMBER = 4 * 32,
};

static size_t arena_rounded(size_t size) {
    return (size + ARENA_ROUND - 1) / ARENA_ROUND * ARENA_ROUND;
}

/* What protobuf-c may spend on one Transfer with `ids` U128 sub-messages. */
static uint64_t transfer_decode_cost(uint32_t ids) {
    return SCAN_COST_PER_MEMBER + sizeof(void *) + arena_rounded(sizeof(Borsellino__V1__Transfer)) +
           (uint64_t)ids * arena_rounded(sizeof(Borsellino__V1__U128)) + ARENA_ROUND;
}

static bool u128_read(wire_t body, Borsellino__V1__U128 *out) {
    borsellino__v1__u128__init(out);
    bool seen[3] = {false, false, false};
    while (body.at < body.end) {
        uint32_t field = 0, type = 0;
        if (!wire_key_read(&body, &field, &type) || type != WIRE_FIXED64) return false;
        if ((field != FIELD_U128_HI && field != FIELD_U128_LO) || seen[field]) return false;
        if (body.end - body.at < 8) return false;
        seen[field] = true;
        uint64_t value = wire_fixed64_load(body.at);
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
    uint32_t ids; /* U128 sub-messages present */
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
    parts->ids = 0;
    uint32_t seen = 0;
    while (body.at < body.end) {
        uint32_t field = 0, type = 0;
        if (!wire_key_read(&body, &field, &type) || field > TRANSFER_FIELDS_MAX) return false;
        if (seen & (1u << field)) return false;
        seen |= 1u << field;
        Borsellino__V1__U128 **u128 = transfer_u128_field(transfer, field);
        if (u128 != NULL) {
            wire_t value;
            if (type != WIRE_LENGTH || !wire_length_read(&body, &value)) return false;
            if (!u128_read(value, &parts->u128s[field - 1])) return false;
            *u128 = &parts->u128s[field - 1];
            parts->ids++;
        } else {
            uint64_t value = 0;
            if (type != WIRE_VARINT || !wire_varint_read(&body, &value)) return false;
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
        if (!wire_key_read(&body, &field, &type)) return false;
        if (field == FIELD_REQUEST_ID && type == WIRE_VARINT && !seen_id) {
            seen_id = true;
            if (!wire_varint_read(&body, request_id_out)) return false;
        } else if (field == FIELD_CREATE_TRANSFERS && type == WIRE_LENGTH && !seen_batch) {
            seen_batch = true;
            if (!wire_length_read(&body, batch_out)) return false;
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
        if (!wire_key_read(&batch, &field, &type)) return false;
        if (field != FIELD_TRANSFERS || type != WIRE_LENGTH || !wire_length_read(&batch, &item)) {
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
    wire_t batch = {NULL, NULL};
    uint32_t count = 0;
    if (!request_read((wire_t){body, body + size}, &batch_out->request_id, &batch)) return false;
    if (!batch_count(batch, count_max, &count) || count == 0) return false;
    ledger_transfer_t *transfers = malloc(count * sizeof(*transfers));
    if (transfers == NULL) return false;
    uint64_t cost = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t field = 0, type = 0;
        wire_t item;
        transfer_parts_t parts;
        bool read = wire_key_read(&batch, &field, &type) && wire_length_read(&batch, &item) &&
                    transfer_read(item, &parts);
        if (read) cost += transfer_decode_cost(parts.ids);
        if (!read || cost > (uint64_t)BODY_BYTES_FACTOR * size) {
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

/* ---- the client's side: a create_transfers request encoded by hand ---- */

enum {
    TAG_CREATE_TRANSFERS = (FIELD_CREATE_TRANSFERS << 3) | WIRE_LENGTH,
    TAG_TRANSFER = (FIELD_TRANSFERS << 3) | WIRE_LENGTH,
    TAG_U128_HI = (FIELD_U128_HI << 3) | WIRE_FIXED64,
    TAG_U128_LO = (FIELD_U128_LO << 3) | WIRE_FIXED64,
};

/* A U128 sub-message's body; a zero id is left out altogether. */
static size_t u128_body_size(ledger_u128_t value) {
    return (value.hi != 0 ? 9u : 0u) + (value.lo != 0 ? 9u : 0u);
}

static size_t u128_field_size(ledger_u128_t value) {
    size_t body = u128_body_size(value);
    return body == 0 ? 0 : 2 + body; /* tag, length (at most 18) */
}

static uint8_t *u128_field_put(uint8_t *out, uint32_t field, ledger_u128_t value) {
    size_t body = u128_body_size(value);
    if (body == 0) return out;
    *out++ = (uint8_t)((field << 3) | WIRE_LENGTH);
    *out++ = (uint8_t)body;
    const uint64_t halves[2] = {value.hi, value.lo};
    const uint8_t tags[2] = {TAG_U128_HI, TAG_U128_LO};
    for (int half = 0; half < 2; half++) {
        if (halves[half] == 0) continue;
        *out++ = tags[half];
        for (int i = 0; i < 8; i++) *out++ = (uint8_t)(halves[half] >> (8 * i));
    }
    return out;
}

static size_t scalar_field_size(uint64_t value) {
    return value == 0 ? 0 : 1 + wire_varint_size(value);
}

static uint8_t *scalar_field_put(uint8_t *out, uint32_t field, uint64_t value) {
    if (value == 0) return out;
    *out++ = (uint8_t)((field << 3) | WIRE_VARINT);
    return wire_varint_put(out, value);
}

static size_t transfer_body_size(const ledger_transfer_t *t) {
    return u128_field_size(t->id) + u128_field_size(t->debit_account_id) +
           u128_field_size(t->credit_account_id) + scalar_field_size(t->amount) +
           u128_field_size(t->pending_id) + u128_field_size(t->user_data_128) +
           scalar_field_size(t->user_data_64) + scalar_field_size(t->user_data_32) +
           scalar_field_size(t->timeout) + scalar_field_size(t->ledger) +
           scalar_field_size(t->code) + scalar_field_size(t->flags) +
           scalar_field_size(t->timestamp);
}

static uint8_t *transfer_put(uint8_t *out, const ledger_transfer_t *t, size_t body_size) {
    *out++ = TAG_TRANSFER;
    out = wire_varint_put(out, body_size);
    out = u128_field_put(out, 1, t->id);
    out = u128_field_put(out, 2, t->debit_account_id);
    out = u128_field_put(out, 3, t->credit_account_id);
    out = scalar_field_put(out, 4, t->amount);
    out = u128_field_put(out, 5, t->pending_id);
    out = u128_field_put(out, 6, t->user_data_128);
    out = scalar_field_put(out, 7, t->user_data_64);
    out = scalar_field_put(out, 8, t->user_data_32);
    out = scalar_field_put(out, 9, t->timeout);
    out = scalar_field_put(out, 10, t->ledger);
    out = scalar_field_put(out, 11, t->code);
    out = scalar_field_put(out, 12, t->flags);
    return scalar_field_put(out, 13, t->timestamp);
}

int convert_create_transfers_encode(uint64_t request_id, const ledger_transfer_t *transfers,
                                    uint32_t count, uint8_t **frame_out,
                                    size_t *frame_size_out) {
    assert(transfers != NULL || count == 0);
    assert(frame_out != NULL && frame_size_out != NULL);
    uint64_t batch_size = 0;
    for (uint32_t i = 0; i < count; i++) {
        size_t body = transfer_body_size(&transfers[i]);
        batch_size += 1 + wire_varint_size(body) + body;
    }
    uint64_t body_size = scalar_field_size(request_id) + 1 + wire_varint_size(batch_size) + batch_size;
    if (body_size > FRAME_BODY_SIZE_MAX_LIMIT) return FRAME_ERR_ENCODE;
    size_t frame_size = FRAME_HEADER_SIZE + (size_t)body_size;
    uint8_t *frame = malloc(frame_size);
    if (frame == NULL) return FRAME_ERR_NO_MEMORY;
    frame_header_write(frame, (uint32_t)body_size);
    uint8_t *out = scalar_field_put(frame + FRAME_HEADER_SIZE, FIELD_REQUEST_ID, request_id);
    *out++ = TAG_CREATE_TRANSFERS;
    out = wire_varint_put(out, batch_size);
    for (uint32_t i = 0; i < count; i++) {
        out = transfer_put(out, &transfers[i], transfer_body_size(&transfers[i]));
    }
    assert((size_t)(out - frame) == frame_size);
    *frame_out = frame;
    *frame_size_out = frame_size;
    return FRAME_OK;
}

Borsellino__V1__Request *convert_transfers_request_shell(uint64_t request_id, uint32_t count) {
    /* Decoded from its own bytes, so that it lives in an arena like any
     * decoded request: the id (if any) and an empty batch. */
    uint8_t body[1 + WIRE_VARINT_BYTES_MAX + 2];
    uint8_t *out = scalar_field_put(body, FIELD_REQUEST_ID, request_id);
    *out++ = TAG_CREATE_TRANSFERS;
    *out++ = 0;
    Borsellino__V1__Request *shell = frame_request_decode(body, (size_t)(out - body), NULL);
    if (shell == NULL) return NULL;
    assert(shell->op_case == BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS);
    shell->create_transfers->n_transfers = count;
    return shell;
}
