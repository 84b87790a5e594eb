/*
 * frame.h — the wire framing of borsellino and (de)serialisation of the
 * protocol messages. Pure functions: no I/O, no global state.
 *
 * A frame is a 4-byte big-endian body length, then the body: one protobuf
 * message (borsellino.v1.Request from client to server, Response back).
 * The length is checked against a maximum before anything is allocated, so
 * a hostile peer cannot make the reader allocate more than that maximum.
 *
 * Errors are FRAME_ERR_* (negative, in their own range -32100..-32199,
 * distinct from ledger, LMDB and libuv codes); frame_strerror() names them.
 */
#ifndef BORSELLINO_PROTO_FRAME_H
#define BORSELLINO_PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "borsellino.pb-c.h"

enum {
    FRAME_HEADER_SIZE = 4,
    /* Default largest body accepted (1 MiB). */
    FRAME_BODY_SIZE_MAX_DEFAULT = 1u << 20,
    /* No configuration may raise the maximum above this (64 MiB). */
    FRAME_BODY_SIZE_MAX_LIMIT = 64u << 20,
};

enum frame_error {
    FRAME_OK = 0,
    /* frame_parse: the buffer does not hold a whole frame yet. */
    FRAME_NEED_MORE = 1,
    /* The declared body length is above the maximum. */
    FRAME_ERR_TOO_LARGE = -32100,
    /* The body is not a valid protobuf message of the expected type. */
    FRAME_ERR_DECODE = -32101,
    /* Out of memory while encoding or decoding. */
    FRAME_ERR_NO_MEMORY = -32102,
    /* A message to encode is larger than FRAME_BODY_SIZE_MAX_LIMIT. */
    FRAME_ERR_ENCODE = -32103,
};

/*
 * Looks at the start of `data` (`size` bytes received so far).
 * Returns FRAME_OK when a whole frame is there: *body_out points into
 * `data` at its body (not copied), *body_size_out is the body length and
 * *frame_size_out the header + body length to consume. Returns
 * FRAME_NEED_MORE when more bytes are needed (outputs untouched), or
 * FRAME_ERR_TOO_LARGE as soon as the 4 header bytes declare a body above
 * `body_size_max` (the caller should then close the connection).
 * A zero-length body is a valid frame (an empty message).
 */
int frame_parse(const uint8_t *data, size_t size, uint32_t body_size_max,
                const uint8_t **body_out, uint32_t *body_size_out,
                size_t *frame_size_out);

/* Writes the 4-byte big-endian header for a body of `body_size` bytes. */
void frame_header_write(uint8_t header[FRAME_HEADER_SIZE], uint32_t body_size);

/*
 * Encodes a request or response as one frame (header + body) into a new
 * buffer. *frame_out is allocated with malloc; the caller frees it with
 * free(). Returns FRAME_OK, FRAME_ERR_NO_MEMORY or FRAME_ERR_ENCODE.
 */
int frame_encode_request(const Borsellino__V1__Request *request,
                         uint8_t **frame_out, size_t *frame_size_out);
int frame_encode_response(const Borsellino__V1__Response *response,
                          uint8_t **frame_out, size_t *frame_size_out);

/*
 * The answer to a create_accounts or create_transfers call, status OK, one
 * result per event: Response{request_id, create_accounts or
 * create_transfers (`of_accounts`) {results}}, encoded by hand, byte for
 * byte what frame_encode_response gives for the same message (field
 * order, proto3 defaults left out; tests/test_frame.c compares them).
 * protobuf-c packed it as 8,000 sub-messages per full batch, two passes
 * each, which was 6% of the whole machine's CPU at full load.
 * Returns FRAME_OK, FRAME_ERR_NO_MEMORY or FRAME_ERR_ENCODE (too large);
 * *frame_out is malloc'd, freed by the caller.
 */
typedef struct frame_event_result {
    uint32_t result;    /* enum Result (proto) = enum ledger_result_code */
    uint64_t timestamp; /* 0 when the event failed */
} frame_event_result_t;

int frame_encode_event_results(uint64_t request_id, bool of_accounts,
                               const frame_event_result_t *results, uint32_t count,
                               uint8_t **frame_out, size_t *frame_size_out);

/*
 * The client's side: reads a Response body that is exactly such an answer
 * (status OK, no message, create_accounts or create_transfers results and
 * nothing else, each field at most once and with its own wire type) into
 * `results` (room for `capacity`). Returns true with *count_out,
 * *request_id_out and *of_accounts_out set; false for any other body
 * (a refusal, another result, more than `capacity` results, unknown or
 * repeated fields, malformed bytes), which frame_response_decode then
 * reads. Whenever it returns true, the values equal what
 * frame_response_decode gives (tests/test_frame.c, fuzz_frame check it).
 */
bool frame_decode_event_results(const uint8_t *body, size_t size,
                                frame_event_result_t *results, uint32_t capacity,
                                uint32_t *count_out, uint64_t *request_id_out,
                                bool *of_accounts_out);

/*
 * Decodes a body (as returned by frame_parse). Returns the message, owned
 * by the caller and released with frame_request_free/frame_response_free,
 * or NULL when the bytes are not a valid message (*error_out, if not NULL,
 * gets FRAME_ERR_DECODE or FRAME_ERR_NO_MEMORY).
 */
Borsellino__V1__Request *frame_request_decode(const uint8_t *body, size_t size,
                                              int *error_out);
void frame_request_free(Borsellino__V1__Request *request);

/* The memory a decoded request holds (its arena), for accounting. A request
 * body whose decoding would take more than 16 times its size (a response:
 * 64 times) is refused with FRAME_ERR_DECODE. */
size_t frame_request_memory(const Borsellino__V1__Request *request);
Borsellino__V1__Response *frame_response_decode(const uint8_t *body, size_t size,
                                                int *error_out);
void frame_response_free(Borsellino__V1__Response *response);

/* A static description of a FRAME_* code. */
const char *frame_strerror(int error);

#endif
