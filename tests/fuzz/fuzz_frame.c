/*
 * fuzz_frame.c — libFuzzer target for the wire framing (proto/frame.h).
 *
 * The input is a byte stream as a peer would send it. frame_parse walks it
 * frame by frame, twice: with a small body maximum (64 bytes, so that the
 * TOO_LARGE path is taken often) and with FRAME_BODY_SIZE_MAX_DEFAULT.
 * Every whole body it yields is decoded both as a Request and as a
 * Response, and a decoded message is re-encoded (frame_encode_*) and
 * parsed back, so the encoder also sees every shape the decoder accepts.
 * Everything allocated is freed: LeakSanitizer checks it.
 *
 * Every body also goes through the hand decoder of create_transfers
 * (convert_create_transfers_decode), which must agree with protobuf-c plus
 * the conversion whenever it accepts a body, and through the client's
 * reader of plain create answers (frame_decode_event_results), which must
 * agree with frame_response_decode.
 *
 * Invariants asserted: a parsed frame lies inside the input, its size is
 * header + body, the body respects the maximum, a re-encoded message is
 * one whole frame of itself, and the two create_transfers decoders agree.
 *
 * Build and run: tools/dev fuzz [SECONDS] (build-fuzz/, clang, libFuzzer).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <string.h>

#include "convert.h"
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Frames examined per input and maximum: the stream is walked to its end,
 * but a bound keeps every loop finite by construction. */
enum { FUZZ_FRAMES_MAX = 4096, FUZZ_BODY_SIZE_MAX_SMALL = 64 };

/* A re-encoded frame must parse back whole, with the same body size. */
static void check_encoded(const uint8_t *frame, size_t frame_size) {
    const uint8_t *body = NULL;
    uint32_t body_size = 0;
    size_t parsed_size = 0;
    int error = frame_parse(frame, frame_size, FRAME_BODY_SIZE_MAX_LIMIT, &body,
                            &body_size, &parsed_size);
    assert(error == FRAME_OK);
    assert(parsed_size == frame_size);
    assert(body_size + (size_t)FRAME_HEADER_SIZE == frame_size);
}

enum { FUZZ_BATCH_EVENTS_MAX = 8190 };

/* The hand decoder, when it takes a body, says what protobuf-c does. */
static void transfers_check(const uint8_t *body, uint32_t body_size,
                            const Borsellino__V1__Request *request) {
    convert_transfers_batch_t batch;
    if (!convert_create_transfers_decode(body, body_size, FUZZ_BATCH_EVENTS_MAX, &batch)) return;
    assert(request != NULL);
    assert(request->op_case == BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS);
    assert(request->request_id == batch.request_id);
    const Borsellino__V1__CreateTransfersRequest *op = request->create_transfers;
    assert(op->n_transfers == batch.count);
    uint32_t unfit = 0;
    for (uint32_t i = 0; i < batch.count; i++) {
        if (!convert_transfer_fits(op->transfers[i])) {
            unfit = i + 1;
            break;
        }
    }
    assert(unfit == batch.unfit);
    /* A batch with an unfit event carries no transfers: only its index. */
    assert((batch.transfers == NULL) == (batch.unfit != 0));
    for (uint32_t i = 0; batch.transfers != NULL && i < batch.count; i++) {
        ledger_transfer_t slow;
        convert_transfer_from_proto(op->transfers[i], &slow);
        assert(memcmp(&slow, &batch.transfers[i], sizeof(slow)) == 0);
    }
    free(batch.transfers);
}

enum { FUZZ_RESULTS_MAX = 64 };

/* The client's reader of plain answers, when it takes a body, agrees. */
static void results_check(const uint8_t *body, uint32_t body_size,
                          const Borsellino__V1__Response *response) {
    frame_event_result_t results[FUZZ_RESULTS_MAX];
    uint32_t count = 0;
    uint64_t request_id = 0;
    bool of_accounts = false;
    if (!frame_decode_event_results(body, body_size, results, FUZZ_RESULTS_MAX, &count,
                                    &request_id, &of_accounts)) {
        return;
    }
    assert(response != NULL);
    assert(response->status == BORSELLINO__V1__STATUS__STATUS_OK);
    assert(response->request_id == request_id);
    size_t n = of_accounts ? response->create_accounts->n_results
                           : response->create_transfers->n_results;
    Borsellino__V1__EventResult **items = of_accounts ? response->create_accounts->results
                                                      : response->create_transfers->results;
    assert(response->result_case == (of_accounts
                                         ? BORSELLINO__V1__RESPONSE__RESULT_CREATE_ACCOUNTS
                                         : BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS));
    assert(n == count);
    for (uint32_t i = 0; i < count; i++) {
        assert((uint32_t)items[i]->result == results[i].result);
        assert(items[i]->timestamp == results[i].timestamp);
    }
}

static void body_decode(const uint8_t *body, uint32_t body_size) {
    int error = 0;
    Borsellino__V1__Request *request = frame_request_decode(body, body_size, &error);
    transfers_check(body, body_size, request);
    if (request != NULL) {
        uint8_t *frame = NULL;
        size_t frame_size = 0;
        if (frame_encode_request(request, &frame, &frame_size) == FRAME_OK) {
            check_encoded(frame, frame_size);
        }
        free(frame);
        frame_request_free(request);
    } else {
        assert(error == FRAME_ERR_DECODE || error == FRAME_ERR_NO_MEMORY);
    }
    error = 0;
    Borsellino__V1__Response *response = frame_response_decode(body, body_size, &error);
    results_check(body, body_size, response);
    if (response != NULL) {
        uint8_t *frame = NULL;
        size_t frame_size = 0;
        if (frame_encode_response(response, &frame, &frame_size) == FRAME_OK) {
            check_encoded(frame, frame_size);
        }
        free(frame);
        frame_response_free(response);
    } else {
        assert(error == FRAME_ERR_DECODE || error == FRAME_ERR_NO_MEMORY);
    }
}

static void stream_walk(const uint8_t *data, size_t size, uint32_t body_size_max) {
    size_t offset = 0;
    for (uint32_t frames = 0; frames < FUZZ_FRAMES_MAX && offset <= size; frames++) {
        const uint8_t *body = NULL;
        uint32_t body_size = 0;
        size_t frame_size = 0;
        int error = frame_parse(data + offset, size - offset, body_size_max, &body,
                                &body_size, &frame_size);
        if (error != FRAME_OK) {
            assert(error == FRAME_NEED_MORE || error == FRAME_ERR_TOO_LARGE);
            return;
        }
        assert(body_size <= body_size_max);
        assert(frame_size == (size_t)FRAME_HEADER_SIZE + body_size);
        assert(frame_size <= size - offset);
        assert(body == data + offset + FRAME_HEADER_SIZE);
        body_decode(body, body_size);
        offset += frame_size;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stream_walk(data, size, FUZZ_BODY_SIZE_MAX_SMALL);
    stream_walk(data, size, FRAME_BODY_SIZE_MAX_DEFAULT);
    /* The whole input as one body, as the server sees it after framing. */
    body_decode(data, (uint32_t)(size < FRAME_BODY_SIZE_MAX_DEFAULT ? size
                                                                    : FRAME_BODY_SIZE_MAX_DEFAULT));
    return 0;
}
