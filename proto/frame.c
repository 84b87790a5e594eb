/*
 * frame.c — the wire framing (4-byte big-endian length + protobuf body) and
 * the encode/decode of Request and Response. See frame.h for the contract.
 *
 * Invariants:
 * - frame_parse never reads past `size` and decides "too large" from the
 *   4 header bytes alone, before the caller buffers or allocates the body.
 * - No body above FRAME_BODY_SIZE_MAX_LIMIT is ever produced or accepted,
 *   whatever `body_size_max` a caller passes: the length then always fits a
 *   uint32_t and header + body never overflows a size_t.
 * - Decoding allocates from a per-message arena (see below), which also
 *   tells "out of memory" apart from "bad bytes" (protobuf-c reports both
 *   as NULL). A decoded message is released only with frame_*_free.
 *
 * Workload: one parse and one decode per request, one encode per response,
 * on the server's event-loop thread; bodies are at most ~1 MiB by default.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "wire.h"

_Static_assert(FRAME_BODY_SIZE_MAX_DEFAULT <= FRAME_BODY_SIZE_MAX_LIMIT,
               "the default body maximum is within the limit");
_Static_assert((uint64_t)FRAME_BODY_SIZE_MAX_LIMIT + FRAME_HEADER_SIZE
                   <= (uint64_t)SIZE_MAX,
               "a whole frame's size fits a size_t");

/* ------------------------------------------------------------------------ */
/* Header                                                                   */

void frame_header_write(uint8_t header[FRAME_HEADER_SIZE], uint32_t body_size) {
    assert(header != NULL);
    header[0] = (uint8_t)(body_size >> 24);
    header[1] = (uint8_t)(body_size >> 16);
    header[2] = (uint8_t)(body_size >> 8);
    header[3] = (uint8_t)body_size;
}

static uint32_t frame_header_read(const uint8_t header[FRAME_HEADER_SIZE]) {
    return ((uint32_t)header[0] << 24) | ((uint32_t)header[1] << 16) |
           ((uint32_t)header[2] << 8) | (uint32_t)header[3];
}

int frame_parse(const uint8_t *data, size_t size, uint32_t body_size_max,
                const uint8_t **body_out, uint32_t *body_size_out,
                size_t *frame_size_out) {
    assert(data != NULL || size == 0);
    assert(body_out != NULL);
    assert(body_size_out != NULL);
    assert(frame_size_out != NULL);
    if (body_size_max > FRAME_BODY_SIZE_MAX_LIMIT) {
        body_size_max = FRAME_BODY_SIZE_MAX_LIMIT;
    }
    if (size < FRAME_HEADER_SIZE) {
        return FRAME_NEED_MORE;
    }
    uint32_t body_size = frame_header_read(data);
    if (body_size > body_size_max) {
        return FRAME_ERR_TOO_LARGE;
    }
    if (size - FRAME_HEADER_SIZE < body_size) {
        return FRAME_NEED_MORE;
    }
    *body_out = data + FRAME_HEADER_SIZE;
    *body_size_out = body_size;
    *frame_size_out = FRAME_HEADER_SIZE + (size_t)body_size;
    return FRAME_OK;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */

/* Packs any message as header + body into a new malloc'd buffer. The size
 * is checked before allocating so an oversized message fails cleanly. */
static int frame_encode_message(const ProtobufCMessage *message,
                                uint8_t **frame_out, size_t *frame_size_out) {
    assert(message != NULL);
    assert(frame_out != NULL);
    assert(frame_size_out != NULL);
    size_t body_size = protobuf_c_message_get_packed_size(message);
    if (body_size > FRAME_BODY_SIZE_MAX_LIMIT) {
        return FRAME_ERR_ENCODE;
    }
    size_t frame_size = FRAME_HEADER_SIZE + body_size;
    uint8_t *frame = malloc(frame_size);
    if (frame == NULL) {
        return FRAME_ERR_NO_MEMORY;
    }
    frame_header_write(frame, (uint32_t)body_size);
    size_t packed_size = protobuf_c_message_pack(message, frame + FRAME_HEADER_SIZE);
    if (packed_size != body_size) {
        /* get_packed_size and pack disagree only on a corrupt message
         * (e.g. a bad descriptor); never send a frame whose header lies. */
        free(frame);
        return FRAME_ERR_ENCODE;
    }
    *frame_out = frame;
    *frame_size_out = frame_size;
    return FRAME_OK;
}

/* A decoded request may take at most this many times its body (plus one
 * chunk): a legitimate Request takes 2-3 times, while a body padded with
 * thousands of tiny unknown fields would take ~40 times, which is how a
 * small frame could otherwise cost a lot of memory. A response (decoded
 * by clients, from their server) may take 64 times: the answer to a full
 * batch whose events all failed is 4 bytes per result, and protobuf-c
 * spends about 30 times that on it (the EventResult, its pointer, the
 * scan slabs); at 16 times the client could not read it. */
enum { ARENA_BYTES_PER_BODY_BYTE_MAX = 16, ARENA_RESPONSE_BYTES_PER_BODY_BYTE_MAX = 64 };

/* ---- event results by hand (frame_encode_event_results) ---- */

enum {
    /* Field tags: (number << 3) | wire type (0 varint, 2 length-delimited). */
    TAG_RESPONSE_REQUEST_ID = (1 << 3) | 0,
    TAG_RESPONSE_CREATE_ACCOUNTS = (10 << 3) | 2,
    TAG_RESPONSE_CREATE_TRANSFERS = (11 << 3) | 2,
    TAG_RESULTS_ITEM = (1 << 3) | 2,
    TAG_EVENT_RESULT_RESULT = (1 << 3) | 0,
    TAG_EVENT_RESULT_TIMESTAMP = (2 << 3) | 0,
};

/* An EventResult's body: proto3 leaves zero fields out. */
static size_t event_result_body_size(const frame_event_result_t *result) {
    size_t size = 0;
    if (result->result != 0) size += 1 + wire_varint_size(result->result);
    if (result->timestamp != 0) size += 1 + wire_varint_size(result->timestamp);
    return size;
}

int frame_encode_event_results(uint64_t request_id, bool of_accounts,
                               const frame_event_result_t *results, uint32_t count,
                               uint8_t **frame_out, size_t *frame_size_out) {
    assert(results != NULL || count == 0);
    assert(frame_out != NULL && frame_size_out != NULL);
    uint64_t list_size = 0; /* the Create*Response body */
    for (uint32_t i = 0; i < count; i++) {
        size_t item = event_result_body_size(&results[i]);
        list_size += 1 + wire_varint_size(item) + item;
    }
    uint64_t body_size = 1 + wire_varint_size(list_size) + list_size;
    if (request_id != 0) body_size += 1 + wire_varint_size(request_id);
    if (body_size > FRAME_BODY_SIZE_MAX_LIMIT) return FRAME_ERR_ENCODE;
    size_t frame_size = FRAME_HEADER_SIZE + (size_t)body_size;
    uint8_t *frame = malloc(frame_size);
    if (frame == NULL) return FRAME_ERR_NO_MEMORY;
    frame_header_write(frame, (uint32_t)body_size);
    uint8_t *out = frame + FRAME_HEADER_SIZE;
    if (request_id != 0) {
        *out++ = TAG_RESPONSE_REQUEST_ID;
        out = wire_varint_put(out, request_id);
    }
    *out++ = of_accounts ? TAG_RESPONSE_CREATE_ACCOUNTS : TAG_RESPONSE_CREATE_TRANSFERS;
    out = wire_varint_put(out, list_size);
    for (uint32_t i = 0; i < count; i++) {
        *out++ = TAG_RESULTS_ITEM;
        out = wire_varint_put(out, event_result_body_size(&results[i]));
        if (results[i].result != 0) {
            *out++ = TAG_EVENT_RESULT_RESULT;
            out = wire_varint_put(out, results[i].result);
        }
        if (results[i].timestamp != 0) {
            *out++ = TAG_EVENT_RESULT_TIMESTAMP;
            out = wire_varint_put(out, results[i].timestamp);
        }
    }
    assert((size_t)(out - frame) == frame_size);
    *frame_out = frame;
    *frame_size_out = frame_size;
    return FRAME_OK;
}

/* ---- event results read back (frame_decode_event_results) ---- */

/* One EventResult: a result (an enum: protobuf-c reads it as int32, so
 * only values up to INT32_MAX are taken here) and a timestamp. */
static bool event_result_read(wire_t body, frame_event_result_t *out) {
    out->result = 0;
    out->timestamp = 0;
    bool seen_result = false, seen_timestamp = false;
    while (body.at < body.end) {
        uint64_t key = 0, value = 0;
        if (!wire_varint_read_at_most(&body, WIRE_PREFIX_BYTES_MAX, &key) ||
            !wire_varint_read(&body, &value)) {
            return false;
        }
        if (key == TAG_EVENT_RESULT_RESULT && !seen_result && value <= INT32_MAX) {
            seen_result = true;
            out->result = (uint32_t)value;
        } else if (key == TAG_EVENT_RESULT_TIMESTAMP && !seen_timestamp) {
            seen_timestamp = true;
            out->timestamp = value;
        } else {
            return false;
        }
    }
    return true;
}

bool frame_decode_event_results(const uint8_t *body, size_t size,
                                frame_event_result_t *results, uint32_t capacity,
                                uint32_t *count_out, uint64_t *request_id_out,
                                bool *of_accounts_out) {
    assert(body != NULL || size == 0);
    wire_t wire = {body, body + size};
    wire_t list = {NULL, NULL};
    bool seen_id = false, seen_list = false;
    *request_id_out = 0;
    while (wire.at < wire.end) {
        uint64_t key = 0;
        if (!wire_varint_read_at_most(&wire, WIRE_PREFIX_BYTES_MAX, &key)) return false;
        if (key == TAG_RESPONSE_REQUEST_ID && !seen_id) {
            seen_id = true;
            if (!wire_varint_read(&wire, request_id_out)) return false;
        } else if ((key == TAG_RESPONSE_CREATE_ACCOUNTS || key == TAG_RESPONSE_CREATE_TRANSFERS) &&
                   !seen_list) {
            seen_list = true;
            *of_accounts_out = key == TAG_RESPONSE_CREATE_ACCOUNTS;
            if (!wire_length_read(&wire, &list)) return false;
        } else {
            return false; /* a status, a message, anything else */
        }
    }
    if (!seen_list) return false;
    /* Not past what frame_response_decode would take (its arena bound),
     * counted generously per result, so that both readers agree. */
    const uint64_t result_cost_max = 192;
    uint64_t items_max = (uint64_t)ARENA_RESPONSE_BYTES_PER_BODY_BYTE_MAX * size / result_cost_max;
    uint32_t count = 0;
    while (list.at < list.end) {
        uint64_t key = 0;
        wire_t item;
        if (!wire_varint_read_at_most(&list, WIRE_PREFIX_BYTES_MAX, &key) ||
            key != TAG_RESULTS_ITEM || !wire_length_read(&list, &item)) {
            return false;
        }
        if (count == capacity || count >= items_max) return false;
        if (!event_result_read(item, &results[count])) return false;
        count++;
    }
    *count_out = count;
    return true;
}

int frame_encode_request(const Borsellino__V1__Request *request,
                         uint8_t **frame_out, size_t *frame_size_out) {
    assert(request != NULL);
    assert(request->base.descriptor == &borsellino__v1__request__descriptor);
    return frame_encode_message(&request->base, frame_out, frame_size_out);
}

int frame_encode_response(const Borsellino__V1__Response *response,
                          uint8_t **frame_out, size_t *frame_size_out) {
    assert(response != NULL);
    assert(response->base.descriptor == &borsellino__v1__response__descriptor);
    return frame_encode_message(&response->base, frame_out, frame_size_out);
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */

/* Decoding allocates from an arena: protobuf-c makes one allocation per
 * sub-message (a batch of 8,000 transfers is ~40,000 of them), and freeing
 * them one by one cost more than the decode itself. The arena is a list of
 * chunks; protobuf-c's free calls do nothing, and frame_*_free releases
 * the chunks at once. The message is the arena's first allocation
 * (protobuf-c allocates the top-level message first; checked), so the
 * arena header sits just before it and free needs no other bookkeeping. */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) uint8_t data[];
} arena_chunk_t;

typedef struct frame_arena {
    arena_chunk_t *chunks;
    void *first;
    size_t bytes;       /* allocated in chunks so far */
    size_t bytes_limit; /* a decode needing more is refused */
    bool out_of_memory;
    bool over_limit;
} frame_arena_t;

enum { ARENA_CHUNK_SIZE = 64 * 1024, ARENA_ALIGN = 16 };

/* The header placed before the first allocation: a pointer to the first
 * chunk, padded to the alignment. */
typedef struct arena_header {
    arena_chunk_t *chunks;
    uint64_t magic;
    uint64_t bytes; /* the arena's size, for the caller's memory accounting */
    uint64_t reserved;
} arena_header_t;

static const uint64_t ARENA_MAGIC = 0x6172656e61667263ull; /* "arenafrc" */

_Static_assert(sizeof(arena_header_t) % ARENA_ALIGN == 0, "arena header keeps alignment");



static void *arena_alloc(void *allocator_data, size_t size) {
    frame_arena_t *arena = allocator_data;
    size_t needed = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (arena->first == NULL) needed += sizeof(arena_header_t);
    arena_chunk_t *chunk = arena->chunks;
    if (chunk == NULL || chunk->size - chunk->used < needed) {
        size_t chunk_size = needed > ARENA_CHUNK_SIZE ? needed : ARENA_CHUNK_SIZE;
        if (arena->bytes + chunk_size > arena->bytes_limit) {
            arena->over_limit = true;
            return NULL;
        }
        arena_chunk_t *fresh = malloc(sizeof(*fresh) + chunk_size);
        if (fresh == NULL) {
            arena->out_of_memory = true;
            return NULL;
        }
        fresh->size = chunk_size;
        fresh->used = 0;
        arena->bytes += sizeof(*fresh) + chunk_size;
        /* The first chunk stays last in the list; new chunks go first. */
        fresh->next = chunk;
        arena->chunks = chunk = fresh;
    }
    uint8_t *memory = chunk->data + chunk->used;
    chunk->used += needed;
    if (arena->first == NULL) {
        arena_header_t header = {NULL, ARENA_MAGIC, 0, 0};
        memcpy(memory, &header, sizeof(header));
        memory += sizeof(arena_header_t);
        arena->first = memory;
    }
    return memory;
}

static void arena_free_nothing(void *allocator_data, void *memory) {
    (void)allocator_data;
    (void)memory;
}

static void arena_release(arena_chunk_t *chunks) {
    while (chunks != NULL) {
        arena_chunk_t *next = chunks->next;
        free(chunks);
        chunks = next;
    }
}

static ProtobufCMessage *frame_decode_message(const ProtobufCMessageDescriptor *descriptor,
                                              const uint8_t *body, size_t size,
                                              size_t bytes_per_body_byte_max, int *error_out) {
    assert(descriptor != NULL);
    assert(body != NULL || size == 0);
    if (size > FRAME_BODY_SIZE_MAX_LIMIT) {
        if (error_out != NULL) {
            *error_out = FRAME_ERR_DECODE;
        }
        return NULL;
    }
    frame_arena_t arena = {NULL, NULL, 0,
                           bytes_per_body_byte_max * size + ARENA_CHUNK_SIZE,
                           false, false};
    ProtobufCAllocator allocator = {
        .alloc = arena_alloc,
        .free = arena_free_nothing,
        .allocator_data = &arena,
    };
    /* protobuf-c wants a non-NULL pointer even for an empty body. */
    static const uint8_t empty_body[1] = {0};
    ProtobufCMessage *message = protobuf_c_message_unpack(
        descriptor, &allocator, size, body != NULL ? body : empty_body);
    if (message == NULL) {
        arena_release(arena.chunks);
        if (error_out != NULL) {
            *error_out = arena.out_of_memory ? FRAME_ERR_NO_MEMORY : FRAME_ERR_DECODE;
        }
        return NULL;
    }
    /* Free finds the chunks through the header before the message. */
    assert((void *)message == arena.first);
    arena_header_t header = {arena.chunks, ARENA_MAGIC, arena.bytes, 0};
    memcpy((uint8_t *)message - sizeof(header), &header, sizeof(header));
    return message;
}

static void frame_free_message(ProtobufCMessage *message) {
    if (message == NULL) {
        return;
    }
    arena_header_t header;
    memcpy(&header, (uint8_t *)message - sizeof(header), sizeof(header));
    assert(header.magic == ARENA_MAGIC);
    arena_release(header.chunks);
}

Borsellino__V1__Request *frame_request_decode(const uint8_t *body, size_t size,
                                              int *error_out) {
    ProtobufCMessage *message = frame_decode_message(
        &borsellino__v1__request__descriptor, body, size, ARENA_BYTES_PER_BODY_BYTE_MAX,
        error_out);
    return (Borsellino__V1__Request *)message;
}

size_t frame_request_memory(const Borsellino__V1__Request *request) {
    if (request == NULL) return 0;
    arena_header_t header;
    memcpy(&header, (const uint8_t *)request - sizeof(header), sizeof(header));
    assert(header.magic == ARENA_MAGIC);
    return (size_t)header.bytes;
}

void frame_request_free(Borsellino__V1__Request *request) {
    frame_free_message(request != NULL ? &request->base : NULL);
}

Borsellino__V1__Response *frame_response_decode(const uint8_t *body, size_t size,
                                                int *error_out) {
    ProtobufCMessage *message = frame_decode_message(
        &borsellino__v1__response__descriptor, body, size,
        ARENA_RESPONSE_BYTES_PER_BODY_BYTE_MAX, error_out);
    return (Borsellino__V1__Response *)message;
}

void frame_response_free(Borsellino__V1__Response *response) {
    frame_free_message(response != NULL ? &response->base : NULL);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                    */

const char *frame_strerror(int error) {
    switch (error) {
    case FRAME_OK:
        return "success";
    case FRAME_NEED_MORE:
        return "incomplete frame: more bytes needed";
    case FRAME_ERR_TOO_LARGE:
        return "frame body larger than the maximum";
    case FRAME_ERR_DECODE:
        return "frame body is not a valid protocol message";
    case FRAME_ERR_NO_MEMORY:
        return "out of memory while encoding or decoding a frame";
    case FRAME_ERR_ENCODE:
        return "message too large to encode as a frame";
    default:
        return "unknown frame error";
    }
}
