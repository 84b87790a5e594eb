/*
 * wire.h — the protobuf wire format's primitives, for the few messages
 * proto/ encodes and decodes by hand (frame.c's event results,
 * transfers_wire.c's create_transfers). Internal to proto/.
 *
 * Readers never read past `end` and refuse a varint longer than ten bytes
 * or past 64 bits, and a key or a length prefix longer than five bytes (as
 * protobuf-c does); they return false on any such input, and the callers
 * then leave the body to protobuf-c.
 */
#ifndef BORSELLINO_PROTO_WIRE_H
#define BORSELLINO_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WIRE_VARINT = 0,
    WIRE_FIXED64 = 1,
    WIRE_LENGTH = 2,
    WIRE_VARINT_BYTES_MAX = 10,
    /* protobuf-c reads a key or a length prefix from at most 5 bytes. */
    WIRE_PREFIX_BYTES_MAX = 5,
};

/* Bytes still to read: [at, end). */
typedef struct wire {
    const uint8_t *at;
    const uint8_t *end;
} wire_t;

/* A varint of at most `bytes_max` bytes. */
static inline bool wire_varint_read_at_most(wire_t *wire, int bytes_max, uint64_t *value_out) {
    uint64_t value = 0;
    for (int i = 0; i < bytes_max; i++) {
        if (wire->at == wire->end) return false;
        uint8_t byte = *wire->at++;
        if (i == WIRE_VARINT_BYTES_MAX - 1 && byte > 1) return false; /* past 64 bits */
        value |= (uint64_t)(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0) {
            *value_out = value;
            return true;
        }
    }
    return false;
}

static inline bool wire_varint_read(wire_t *wire, uint64_t *value_out) {
    return wire_varint_read_at_most(wire, WIRE_VARINT_BYTES_MAX, value_out);
}

/* A field's key: its number (never 0) and wire type. */
static inline bool wire_key_read(wire_t *wire, uint32_t *field_out, uint32_t *type_out) {
    uint64_t key = 0;
    if (!wire_varint_read_at_most(wire, WIRE_PREFIX_BYTES_MAX, &key) || key > UINT32_MAX) {
        return false;
    }
    *field_out = (uint32_t)(key >> 3);
    *type_out = (uint32_t)(key & 7);
    return *field_out != 0;
}

/* A length-delimited field's body. */
static inline bool wire_length_read(wire_t *wire, wire_t *body_out) {
    uint64_t length = 0;
    if (!wire_varint_read_at_most(wire, WIRE_PREFIX_BYTES_MAX, &length) ||
        length > (uint64_t)(wire->end - wire->at)) {
        return false;
    }
    body_out->at = wire->at;
    body_out->end = wire->at + length;
    wire->at += length;
    return true;
}

static inline uint64_t wire_fixed64_load(const uint8_t *bytes) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | bytes[i];
    return value;
}

static inline size_t wire_varint_size(uint64_t value) {
    size_t size = 1;
    for (; value >= 0x80; value >>= 7) size++;
    return size;
}

static inline uint8_t *wire_varint_put(uint8_t *out, uint64_t value) {
    for (; value >= 0x80; value >>= 7) *out++ = (uint8_t)(value | 0x80);
    *out++ = (uint8_t)value;
    return out;
}

#endif
