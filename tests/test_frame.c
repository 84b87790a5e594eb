/*
 * test_frame.c — unit tests of proto/: the framing (frame.h) and the
 * ledger <-> protocol conversion (convert.h). No network, no ledger files.
 *
 * What is covered: the 4-byte header at 0, 1, the maximum and one above;
 * every prefix of a frame reporting FRAME_NEED_MORE; an oversized length
 * refused from the header alone; hand-made garbage bodies; encode -> parse
 * -> decode round trips of every request op and every response result,
 * field by field; the encode size guard at FRAME_BODY_SIZE_MAX_LIMIT;
 * conversion round trips at the extremes of every field and the *_fits
 * bounds; unknown fields ignored (the compatibility rule of
 * docs/protocol.md); and a randomized case that decodes thousands of random
 * and mutated byte strings (run it under ASan: tools/dev test-sanitize).
 *
 * Arguments: a case name runs that case only; --seed N replays the
 * randomized case; --ops N changes how many byte strings it tries.
 */
#include <stdbool.h>
#include <time.h>

#include "convert.h"
#include "frame.h"
#include "test.h"

enum {
    /* Byte strings tried by the randomized case when --ops is not given. */
    FUZZ_ITERATIONS_DEFAULT = 20000,
    /* Longest random byte string it builds. */
    FUZZ_BYTES_MAX = 512,
    /* Events put in the round-trip batches (small, but more than one). */
    ROUND_TRIP_EVENTS = 3,
};

static const uint64_t U64_MAX = UINT64_MAX;

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* xorshift64*: a small deterministic generator so failures replay. */
static uint64_t random_state;

static uint64_t random_next(void) {
    random_state ^= random_state >> 12;
    random_state ^= random_state << 25;
    random_state ^= random_state >> 27;
    return random_state * 2685821657736338717ull;
}

static ledger_u128_t u128(uint64_t hi, uint64_t lo) {
    ledger_u128_t value = {hi, lo};
    return value;
}

static bool u128_proto_equal(const Borsellino__V1__U128 *value, uint64_t hi,
                             uint64_t lo) {
    return value != NULL && value->hi == hi && value->lo == lo;
}

/* Encodes `request`, parses the frame back and decodes its body. Checks
 * the framing on the way; returns the decoded copy (caller frees). */
static Borsellino__V1__Request *request_round_trip(const Borsellino__V1__Request *request) {
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    TEST_REQUIRE(frame_encode_request(request, &frame, &frame_size) == FRAME_OK);
    const uint8_t *body = NULL;
    uint32_t body_size = 0;
    size_t consumed = 0;
    TEST_CHECK_EQ(frame_parse(frame, frame_size, FRAME_BODY_SIZE_MAX_DEFAULT,
                              &body, &body_size, &consumed),
                  FRAME_OK);
    TEST_CHECK_EQ(consumed, frame_size);
    TEST_CHECK_EQ(body_size + FRAME_HEADER_SIZE, frame_size);
    TEST_CHECK(body == frame + FRAME_HEADER_SIZE);
    int error = 12345;
    Borsellino__V1__Request *decoded = frame_request_decode(body, body_size, &error);
    TEST_REQUIRE(decoded != NULL);
    TEST_CHECK_EQ(error, 12345); /* untouched on success */
    free(frame);
    return decoded;
}

static Borsellino__V1__Response *response_round_trip(const Borsellino__V1__Response *response) {
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    TEST_REQUIRE(frame_encode_response(response, &frame, &frame_size) == FRAME_OK);
    const uint8_t *body = NULL;
    uint32_t body_size = 0;
    size_t consumed = 0;
    TEST_CHECK_EQ(frame_parse(frame, frame_size, FRAME_BODY_SIZE_MAX_DEFAULT,
                              &body, &body_size, &consumed),
                  FRAME_OK);
    TEST_CHECK_EQ(consumed, frame_size);
    Borsellino__V1__Response *decoded = frame_response_decode(body, body_size, NULL);
    TEST_REQUIRE(decoded != NULL);
    free(frame);
    return decoded;
}

/* Distinct, field-specific values so a swapped field cannot go unnoticed. */
static ledger_account_t sample_account(uint64_t salt) {
    ledger_account_t account = {0};
    account.id = u128(0x0101010101010101ull + salt, 0x0202020202020202ull);
    account.debits_pending = 3 + salt;
    account.debits_posted = 4 + salt;
    account.credits_pending = 5 + salt;
    account.credits_posted = 6 + salt;
    account.user_data_128 = u128(7 + salt, 8);
    account.user_data_64 = 9 + salt;
    account.user_data_32 = 10;
    account.ledger = 978;
    account.code = 12;
    account.flags = LEDGER_ACCOUNT_HISTORY;
    account.timestamp = 1700000000000000000ull + salt;
    return account;
}

static ledger_transfer_t sample_transfer(uint64_t salt) {
    ledger_transfer_t transfer = {0};
    transfer.id = u128(21 + salt, 22);
    transfer.debit_account_id = u128(23, 24 + salt);
    transfer.credit_account_id = u128(25, 26);
    transfer.amount = 27 + salt;
    transfer.pending_id = u128(28, 29);
    transfer.user_data_128 = u128(30, 31);
    transfer.user_data_64 = 32;
    transfer.user_data_32 = 33;
    transfer.timeout = 34;
    transfer.ledger = 35;
    transfer.code = 36;
    transfer.flags = LEDGER_TRANSFER_PENDING;
    transfer.timestamp = 37 + salt;
    return transfer;
}

static void check_account_equal(const ledger_account_t *a, const ledger_account_t *b) {
    TEST_CHECK(ledger_u128_equal(a->id, b->id));
    TEST_CHECK(a->debits_pending == b->debits_pending);
    TEST_CHECK(a->debits_posted == b->debits_posted);
    TEST_CHECK(a->credits_pending == b->credits_pending);
    TEST_CHECK(a->credits_posted == b->credits_posted);
    TEST_CHECK(ledger_u128_equal(a->user_data_128, b->user_data_128));
    TEST_CHECK(a->user_data_64 == b->user_data_64);
    TEST_CHECK(a->user_data_32 == b->user_data_32);
    TEST_CHECK(a->ledger == b->ledger);
    TEST_CHECK(a->code == b->code);
    TEST_CHECK(a->flags == b->flags);
    TEST_CHECK(a->timestamp == b->timestamp);
}

static void check_transfer_equal(const ledger_transfer_t *a, const ledger_transfer_t *b) {
    TEST_CHECK(ledger_u128_equal(a->id, b->id));
    TEST_CHECK(ledger_u128_equal(a->debit_account_id, b->debit_account_id));
    TEST_CHECK(ledger_u128_equal(a->credit_account_id, b->credit_account_id));
    TEST_CHECK(a->amount == b->amount);
    TEST_CHECK(ledger_u128_equal(a->pending_id, b->pending_id));
    TEST_CHECK(ledger_u128_equal(a->user_data_128, b->user_data_128));
    TEST_CHECK(a->user_data_64 == b->user_data_64);
    TEST_CHECK(a->user_data_32 == b->user_data_32);
    TEST_CHECK(a->timeout == b->timeout);
    TEST_CHECK(a->ledger == b->ledger);
    TEST_CHECK(a->code == b->code);
    TEST_CHECK(a->flags == b->flags);
    TEST_CHECK(a->timestamp == b->timestamp);
}

static void check_balance_equal(const ledger_balance_t *a, const ledger_balance_t *b) {
    TEST_CHECK(a->debits_pending == b->debits_pending);
    TEST_CHECK(a->debits_posted == b->debits_posted);
    TEST_CHECK(a->credits_pending == b->credits_pending);
    TEST_CHECK(a->credits_posted == b->credits_posted);
}

/* ------------------------------------------------------------------------ */
/* Header and frame_parse                                                   */

static void check_header_value(uint32_t body_size, const uint8_t expected[4]) {
    uint8_t header[FRAME_HEADER_SIZE];
    frame_header_write(header, body_size);
    TEST_CHECK(memcmp(header, expected, FRAME_HEADER_SIZE) == 0);
}

static void test_header_bytes(void) {
    check_header_value(0, (const uint8_t[]){0, 0, 0, 0});
    check_header_value(1, (const uint8_t[]){0, 0, 0, 1});
    check_header_value(0x01020304u, (const uint8_t[]){1, 2, 3, 4});
    check_header_value(FRAME_BODY_SIZE_MAX_DEFAULT, (const uint8_t[]){0, 0x10, 0, 0});
    check_header_value(UINT32_MAX, (const uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF});
}

/* A frame whose header declares `body_size`, followed by that many bytes,
 * parsed with `body_size_max`. */
static int parse_declared(uint32_t body_size, uint32_t body_size_max,
                          uint32_t *body_size_out, size_t *frame_size_out) {
    size_t size = FRAME_HEADER_SIZE + (size_t)body_size;
    uint8_t *data = calloc(1, size);
    TEST_REQUIRE(data != NULL);
    frame_header_write(data, body_size);
    const uint8_t *body = NULL;
    int result = frame_parse(data, size, body_size_max, &body, body_size_out,
                             frame_size_out);
    if (result == FRAME_OK) TEST_CHECK(body == data + FRAME_HEADER_SIZE);
    free(data);
    return result;
}

static void test_header_round_trip_at_bounds(void) {
    const uint32_t max = FRAME_BODY_SIZE_MAX_DEFAULT;
    const uint32_t sizes[] = {0, 1, max};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint32_t body_size = 99;
        size_t frame_size = 99;
        TEST_CHECK_EQ(parse_declared(sizes[i], max, &body_size, &frame_size), FRAME_OK);
        TEST_CHECK_EQ(body_size, sizes[i]);
        TEST_CHECK_EQ(frame_size, FRAME_HEADER_SIZE + (size_t)sizes[i]);
    }
    uint32_t body_size = 99;
    size_t frame_size = 99;
    TEST_CHECK_EQ(parse_declared(max + 1, max, &body_size, &frame_size),
                  FRAME_ERR_TOO_LARGE);
    TEST_CHECK_EQ(body_size, 99);
    TEST_CHECK_EQ(frame_size, 99);
    /* A maximum of 0 accepts only empty bodies. */
    TEST_CHECK_EQ(parse_declared(0, 0, &body_size, &frame_size), FRAME_OK);
    TEST_CHECK_EQ(parse_declared(1, 0, &body_size, &frame_size), FRAME_ERR_TOO_LARGE);
}

static void test_parse_every_prefix_needs_more(void) {
    enum { BODY_SIZE = 37 };
    uint8_t data[FRAME_HEADER_SIZE + BODY_SIZE + 5];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(0xA0 + i);
    frame_header_write(data, BODY_SIZE);
    const size_t frame_size = FRAME_HEADER_SIZE + BODY_SIZE;
    for (size_t prefix = 0; prefix < frame_size; prefix++) {
        const uint8_t *body = (const uint8_t *)1;
        uint32_t body_size = 77;
        size_t consumed = 77;
        int result = frame_parse(prefix == 0 ? NULL : data, prefix,
                                 FRAME_BODY_SIZE_MAX_DEFAULT, &body,
                                 &body_size, &consumed);
        TEST_CHECK_EQ(result, FRAME_NEED_MORE);
        /* Outputs untouched until the frame is whole. */
        TEST_CHECK(body == (const uint8_t *)1);
        TEST_CHECK_EQ(body_size, 77);
        TEST_CHECK_EQ(consumed, 77);
    }
    /* The whole frame, then with bytes of the next frame behind it. */
    for (size_t size = frame_size; size <= sizeof data; size++) {
        const uint8_t *body = NULL;
        uint32_t body_size = 0;
        size_t consumed = 0;
        TEST_CHECK_EQ(frame_parse(data, size, FRAME_BODY_SIZE_MAX_DEFAULT,
                                  &body, &body_size, &consumed),
                      FRAME_OK);
        TEST_CHECK(body == data + FRAME_HEADER_SIZE);
        TEST_CHECK_EQ(body_size, BODY_SIZE);
        TEST_CHECK_EQ(consumed, frame_size);
    }
}

/* The reader must refuse a huge declared length having seen only the
 * header, so a hostile peer never makes it buffer the body. */
static void test_parse_oversized_from_header_alone(void) {
    const uint32_t declared[] = {FRAME_BODY_SIZE_MAX_DEFAULT + 1,
                                 FRAME_BODY_SIZE_MAX_LIMIT + 1, UINT32_MAX,
                                 0x80000000u};
    for (size_t i = 0; i < sizeof declared / sizeof declared[0]; i++) {
        uint8_t header[FRAME_HEADER_SIZE];
        frame_header_write(header, declared[i]);
        const uint8_t *body = NULL;
        uint32_t body_size = 0;
        size_t consumed = 0;
        TEST_CHECK_EQ(frame_parse(header, sizeof header, FRAME_BODY_SIZE_MAX_DEFAULT,
                                  &body, &body_size, &consumed),
                      FRAME_ERR_TOO_LARGE);
        /* Three bytes are not enough to know. */
        TEST_CHECK_EQ(frame_parse(header, 3, FRAME_BODY_SIZE_MAX_DEFAULT, &body,
                                  &body_size, &consumed),
                      FRAME_NEED_MORE);
    }
    /* No maximum passed in can lift the limit. */
    uint8_t header[FRAME_HEADER_SIZE];
    frame_header_write(header, FRAME_BODY_SIZE_MAX_LIMIT + 1);
    const uint8_t *body = NULL;
    uint32_t body_size = 0;
    size_t consumed = 0;
    TEST_CHECK_EQ(frame_parse(header, sizeof header, UINT32_MAX, &body,
                              &body_size, &consumed),
                  FRAME_ERR_TOO_LARGE);
    frame_header_write(header, FRAME_BODY_SIZE_MAX_LIMIT);
    TEST_CHECK_EQ(frame_parse(header, sizeof header, UINT32_MAX, &body,
                              &body_size, &consumed),
                  FRAME_NEED_MORE);
}

/* ------------------------------------------------------------------------ */
/* Decoding garbage                                                         */

typedef struct garbage {
    const char *why;
    uint8_t bytes[8];
    size_t size;
} garbage_t;

static void test_garbage_bodies_rejected(void) {
    const garbage_t cases[] = {
        {"truncated varint", {0x08}, 1},
        {"varint of 11 bytes", {0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 8},
        {"field number zero", {0x00, 0x01}, 2},
        {"wire type 7", {0x0F, 0x00}, 2},
        {"end group without start", {0x0C}, 1},
        {"length past the end", {0x52, 0x05, 0x00}, 3},
        {"request_id with length wire type past end", {0x0A, 0x7F}, 2},
        {"truncated fixed64 in U128", {0x62, 0x03, 0x0A, 0x01, 0x09}, 5},
        {"sub-message longer than body", {0x52, 0x02, 0x0A, 0x05}, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int error = 0;
        Borsellino__V1__Request *request =
            frame_request_decode(cases[i].bytes, cases[i].size, &error);
        if (request != NULL) {
            printf("# request decoded from garbage: %s\n", cases[i].why);
            frame_request_free(request);
        }
        TEST_CHECK(request == NULL);
        TEST_CHECK_EQ(error, FRAME_ERR_DECODE);
        error = 0;
        Borsellino__V1__Response *response =
            frame_response_decode(cases[i].bytes, cases[i].size, &error);
        if (response != NULL) {
            printf("# response decoded from garbage: %s\n", cases[i].why);
            frame_response_free(response);
        }
        TEST_CHECK(response == NULL);
        TEST_CHECK_EQ(error, FRAME_ERR_DECODE);
        /* error_out is optional. */
        TEST_CHECK(frame_request_decode(cases[i].bytes, cases[i].size, NULL) == NULL);
    }
    frame_request_free(NULL);
    frame_response_free(NULL);
}

/* An empty body is a valid message with every field at its default; the
 * server answers it STATUS_UNKNOWN_OPERATION rather than closing. */
static void test_empty_body_is_a_request_without_op(void) {
    const uint8_t frame[FRAME_HEADER_SIZE] = {0, 0, 0, 0};
    const uint8_t *body = NULL;
    uint32_t body_size = 1;
    size_t consumed = 0;
    TEST_CHECK_EQ(frame_parse(frame, sizeof frame, FRAME_BODY_SIZE_MAX_DEFAULT,
                              &body, &body_size, &consumed),
                  FRAME_OK);
    TEST_CHECK_EQ(body_size, 0);
    TEST_CHECK_EQ(consumed, FRAME_HEADER_SIZE);
    Borsellino__V1__Request *request = frame_request_decode(body, 0, NULL);
    TEST_REQUIRE(request != NULL);
    TEST_CHECK_EQ(request->request_id, 0);
    TEST_CHECK_EQ(request->op_case, BORSELLINO__V1__REQUEST__OP__NOT_SET);
    frame_request_free(request);
    request = frame_request_decode(NULL, 0, NULL);
    TEST_REQUIRE(request != NULL);
    frame_request_free(request);
}

/* docs/protocol.md: unknown fields are ignored, so a newer client's extra
 * field or an op this build does not know decodes with op_case NOT_SET. */
static void test_unknown_fields_ignored(void) {
    const uint8_t body[] = {
        0x08, 0x2A,             /* request_id = 42 */
        0xF8, 0x06, 0x07,       /* field 111, varint 7: unknown */
        0x8A, 0x01, 0x02, 0x08, 0x01, /* field 17 (a future op), 2 bytes */
    };
    Borsellino__V1__Request *request = frame_request_decode(body, sizeof body, NULL);
    TEST_REQUIRE(request != NULL);
    TEST_CHECK_EQ(request->request_id, 42);
    TEST_CHECK_EQ(request->op_case, BORSELLINO__V1__REQUEST__OP__NOT_SET);
    frame_request_free(request);
    /* A status number this build does not know still decodes (proto3 enums
     * are open): clients must treat unknown statuses as errors. */
    const uint8_t response_body[] = {0x08, 0x01, 0x10, 0xE8, 0x07};
    Borsellino__V1__Response *response =
        frame_response_decode(response_body, sizeof response_body, NULL);
    TEST_REQUIRE(response != NULL);
    TEST_CHECK_EQ(response->request_id, 1);
    TEST_CHECK_EQ((int)response->status, 1000);
    frame_response_free(response);
}

/* ------------------------------------------------------------------------ */
/* Request round trips, one per op                                          */

static void test_request_create_accounts(void) {
    ledger_account_t accounts[ROUND_TRIP_EVENTS];
    Borsellino__V1__Account messages[ROUND_TRIP_EVENTS];
    Borsellino__V1__Account *pointers[ROUND_TRIP_EVENTS];
    convert_account_storage_t storage[ROUND_TRIP_EVENTS];
    for (int i = 0; i < ROUND_TRIP_EVENTS; i++) {
        accounts[i] = sample_account((uint64_t)i);
        convert_account_to_proto(&accounts[i], &messages[i], &storage[i]);
        pointers[i] = &messages[i];
    }
    Borsellino__V1__CreateAccountsRequest op = BORSELLINO__V1__CREATE_ACCOUNTS_REQUEST__INIT;
    op.n_accounts = ROUND_TRIP_EVENTS;
    op.accounts = pointers;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = U64_MAX;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS;
    request.create_accounts = &op;

    Borsellino__V1__Request *decoded = request_round_trip(&request);
    TEST_CHECK(decoded->request_id == U64_MAX);
    TEST_REQUIRE(decoded->op_case == BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS);
    TEST_REQUIRE(decoded->create_accounts->n_accounts == ROUND_TRIP_EVENTS);
    for (int i = 0; i < ROUND_TRIP_EVENTS; i++) {
        TEST_CHECK(convert_account_fits(decoded->create_accounts->accounts[i]));
        ledger_account_t back;
        convert_account_from_proto(decoded->create_accounts->accounts[i], &back);
        check_account_equal(&back, &accounts[i]);
    }
    frame_request_free(decoded);
}

static void test_request_create_transfers(void) {
    ledger_transfer_t transfers[ROUND_TRIP_EVENTS];
    Borsellino__V1__Transfer messages[ROUND_TRIP_EVENTS];
    Borsellino__V1__Transfer *pointers[ROUND_TRIP_EVENTS];
    convert_transfer_storage_t storage[ROUND_TRIP_EVENTS];
    for (int i = 0; i < ROUND_TRIP_EVENTS; i++) {
        transfers[i] = sample_transfer((uint64_t)i);
        convert_transfer_to_proto(&transfers[i], &messages[i], &storage[i]);
        pointers[i] = &messages[i];
    }
    Borsellino__V1__CreateTransfersRequest op = BORSELLINO__V1__CREATE_TRANSFERS_REQUEST__INIT;
    op.n_transfers = ROUND_TRIP_EVENTS;
    op.transfers = pointers;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = 7;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS;
    request.create_transfers = &op;

    Borsellino__V1__Request *decoded = request_round_trip(&request);
    TEST_CHECK_EQ(decoded->request_id, 7);
    TEST_REQUIRE(decoded->op_case == BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS);
    TEST_REQUIRE(decoded->create_transfers->n_transfers == ROUND_TRIP_EVENTS);
    for (int i = 0; i < ROUND_TRIP_EVENTS; i++) {
        TEST_CHECK(convert_transfer_fits(decoded->create_transfers->transfers[i]));
        ledger_transfer_t back;
        convert_transfer_from_proto(decoded->create_transfers->transfers[i], &back);
        check_transfer_equal(&back, &transfers[i]);
    }
    frame_request_free(decoded);
}

/* lookup_accounts and lookup_transfers share one shape: a list of ids. */
static void check_ids_request(Borsellino__V1__Request__OpCase op_case) {
    const ledger_u128_t ids[] = {u128(0, 1), u128(U64_MAX, U64_MAX), u128(1, 0),
                                 u128(0, 0)};
    enum { IDS_COUNT = sizeof ids / sizeof ids[0] };
    Borsellino__V1__U128 messages[IDS_COUNT];
    Borsellino__V1__U128 *pointers[IDS_COUNT];
    for (int i = 0; i < IDS_COUNT; i++) {
        convert_u128_to_proto(ids[i], &messages[i]);
        pointers[i] = &messages[i];
    }
    Borsellino__V1__LookupAccountsRequest accounts = BORSELLINO__V1__LOOKUP_ACCOUNTS_REQUEST__INIT;
    Borsellino__V1__LookupTransfersRequest transfers = BORSELLINO__V1__LOOKUP_TRANSFERS_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = 0;
    request.op_case = op_case;
    if (op_case == BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS) {
        accounts.n_ids = IDS_COUNT;
        accounts.ids = pointers;
        request.lookup_accounts = &accounts;
    } else {
        transfers.n_ids = IDS_COUNT;
        transfers.ids = pointers;
        request.lookup_transfers = &transfers;
    }
    Borsellino__V1__Request *decoded = request_round_trip(&request);
    TEST_CHECK_EQ(decoded->request_id, 0);
    TEST_REQUIRE(decoded->op_case == op_case);
    size_t count = op_case == BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS
                       ? decoded->lookup_accounts->n_ids
                       : decoded->lookup_transfers->n_ids;
    Borsellino__V1__U128 **decoded_ids = op_case == BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS
                                             ? decoded->lookup_accounts->ids
                                             : decoded->lookup_transfers->ids;
    TEST_REQUIRE(count == IDS_COUNT);
    for (int i = 0; i < IDS_COUNT; i++) {
        TEST_CHECK(ledger_u128_equal(convert_u128_from_proto(decoded_ids[i]), ids[i]));
    }
    frame_request_free(decoded);
}

static void test_request_lookups(void) {
    check_ids_request(BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS);
    check_ids_request(BORSELLINO__V1__REQUEST__OP_LOOKUP_TRANSFERS);
}

static void test_request_account_history(void) {
    Borsellino__V1__U128 account_id;
    convert_u128_to_proto(u128(0x8000000000000000ull, 1), &account_id);
    Borsellino__V1__AccountHistoryRequest op = BORSELLINO__V1__ACCOUNT_HISTORY_REQUEST__INIT;
    op.account_id = &account_id;
    op.timestamp_min = 1;
    op.timestamp_max = U64_MAX;
    op.limit = LEDGER_HISTORY_LIMIT_MAX;
    op.flags = BORSELLINO__V1__HISTORY_FLAGS__HISTORY_DEBITS |
               BORSELLINO__V1__HISTORY_FLAGS__HISTORY_REVERSED;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = 99;
    request.op_case = BORSELLINO__V1__REQUEST__OP_ACCOUNT_HISTORY;
    request.account_history = &op;

    Borsellino__V1__Request *decoded = request_round_trip(&request);
    TEST_CHECK_EQ(decoded->request_id, 99);
    TEST_REQUIRE(decoded->op_case == BORSELLINO__V1__REQUEST__OP_ACCOUNT_HISTORY);
    const Borsellino__V1__AccountHistoryRequest *back = decoded->account_history;
    TEST_CHECK(u128_proto_equal(back->account_id, 0x8000000000000000ull, 1));
    TEST_CHECK(back->timestamp_min == 1);
    TEST_CHECK(back->timestamp_max == U64_MAX);
    TEST_CHECK_EQ(back->limit, LEDGER_HISTORY_LIMIT_MAX);
    TEST_CHECK_EQ(back->flags, LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_REVERSED);
    frame_request_free(decoded);
}

static void test_request_balance_at_and_status(void) {
    Borsellino__V1__U128 account_id;
    convert_u128_to_proto(u128(3, 4), &account_id);
    Borsellino__V1__BalanceAtRequest op = BORSELLINO__V1__BALANCE_AT_REQUEST__INIT;
    op.account_id = &account_id;
    op.timestamp = U64_MAX - 1;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = 5;
    request.op_case = BORSELLINO__V1__REQUEST__OP_BALANCE_AT;
    request.balance_at = &op;
    Borsellino__V1__Request *decoded = request_round_trip(&request);
    TEST_REQUIRE(decoded->op_case == BORSELLINO__V1__REQUEST__OP_BALANCE_AT);
    TEST_CHECK(u128_proto_equal(decoded->balance_at->account_id, 3, 4));
    TEST_CHECK(decoded->balance_at->timestamp == U64_MAX - 1);
    frame_request_free(decoded);

    /* status has no fields: the op must survive as an empty sub-message. */
    Borsellino__V1__StatusRequest status = BORSELLINO__V1__STATUS_REQUEST__INIT;
    Borsellino__V1__Request status_request = BORSELLINO__V1__REQUEST__INIT;
    status_request.request_id = 6;
    status_request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
    status_request.status = &status;
    decoded = request_round_trip(&status_request);
    TEST_CHECK_EQ(decoded->request_id, 6);
    TEST_CHECK_EQ(decoded->op_case, BORSELLINO__V1__REQUEST__OP_STATUS);
    TEST_CHECK(decoded->status != NULL);
    frame_request_free(decoded);
}

/* ------------------------------------------------------------------------ */
/* Response round trips, one per result                                     */

static void check_event_results(size_t count, Borsellino__V1__EventResult **results) {
    TEST_REQUIRE(count == 3);
    TEST_CHECK_EQ(results[0]->result, BORSELLINO__V1__RESULT__RESULT_OK);
    TEST_CHECK(results[0]->timestamp == U64_MAX);
    TEST_CHECK_EQ(results[1]->result, BORSELLINO__V1__RESULT__RESULT_EXISTS);
    TEST_CHECK_EQ(results[1]->timestamp, 1);
    TEST_CHECK_EQ(results[2]->result,
                  BORSELLINO__V1__RESULT__RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED);
    TEST_CHECK_EQ(results[2]->timestamp, 0);
}

static void test_response_create_results(void) {
    Borsellino__V1__EventResult results[3];
    Borsellino__V1__EventResult *pointers[3];
    const Borsellino__V1__Result codes[3] = {
        BORSELLINO__V1__RESULT__RESULT_OK, BORSELLINO__V1__RESULT__RESULT_EXISTS,
        BORSELLINO__V1__RESULT__RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED};
    const uint64_t timestamps[3] = {U64_MAX, 1, 0};
    for (int i = 0; i < 3; i++) {
        borsellino__v1__event_result__init(&results[i]);
        results[i].result = codes[i];
        results[i].timestamp = timestamps[i];
        pointers[i] = &results[i];
    }
    Borsellino__V1__CreateAccountsResponse accounts = BORSELLINO__V1__CREATE_ACCOUNTS_RESPONSE__INIT;
    accounts.n_results = 3;
    accounts.results = pointers;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.request_id = 11;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_CREATE_ACCOUNTS;
    response.create_accounts = &accounts;
    Borsellino__V1__Response *decoded = response_round_trip(&response);
    TEST_CHECK_EQ(decoded->request_id, 11);
    TEST_CHECK_EQ(decoded->status, BORSELLINO__V1__STATUS__STATUS_OK);
    TEST_REQUIRE(decoded->result_case == BORSELLINO__V1__RESPONSE__RESULT_CREATE_ACCOUNTS);
    check_event_results(decoded->create_accounts->n_results, decoded->create_accounts->results);
    frame_response_free(decoded);

    Borsellino__V1__CreateTransfersResponse transfers = BORSELLINO__V1__CREATE_TRANSFERS_RESPONSE__INIT;
    transfers.n_results = 3;
    transfers.results = pointers;
    response.request_id = 12;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS;
    response.create_transfers = &transfers;
    decoded = response_round_trip(&response);
    TEST_CHECK_EQ(decoded->request_id, 12);
    TEST_REQUIRE(decoded->result_case == BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS);
    check_event_results(decoded->create_transfers->n_results, decoded->create_transfers->results);
    frame_response_free(decoded);
}

/* frame_encode_event_results gives the very bytes protobuf-c packs for
 * the same Response: counts 0..3 and a full batch, request ids 0 and big,
 * results and timestamps zero (left out by proto3), small and at their
 * widest varints. */
static void check_event_results_by_hand(uint64_t request_id, bool of_accounts, uint32_t count) {
    frame_event_result_t *items = calloc(count ? count : 1, sizeof(*items));
    Borsellino__V1__EventResult *results = calloc(count ? count : 1, sizeof(*results));
    Borsellino__V1__EventResult **pointers = calloc(count ? count : 1, sizeof(*pointers));
    TEST_REQUIRE(items != NULL && results != NULL && pointers != NULL);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t pick = random_next();
        items[i].result = pick % 3 == 0 ? 0 : (uint32_t)(pick >> 8) % 64;
        items[i].timestamp = pick % 5 == 0 ? 0 : pick % 5 == 1 ? U64_MAX : random_next() >> (pick % 60);
        borsellino__v1__event_result__init(&results[i]);
        results[i].result = (Borsellino__V1__Result)items[i].result;
        results[i].timestamp = items[i].timestamp;
        pointers[i] = &results[i];
    }
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    Borsellino__V1__CreateAccountsResponse accounts = BORSELLINO__V1__CREATE_ACCOUNTS_RESPONSE__INIT;
    Borsellino__V1__CreateTransfersResponse transfers = BORSELLINO__V1__CREATE_TRANSFERS_RESPONSE__INIT;
    response.request_id = request_id;
    if (of_accounts) {
        accounts.n_results = count;
        accounts.results = pointers;
        response.result_case = BORSELLINO__V1__RESPONSE__RESULT_CREATE_ACCOUNTS;
        response.create_accounts = &accounts;
    } else {
        transfers.n_results = count;
        transfers.results = pointers;
        response.result_case = BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS;
        response.create_transfers = &transfers;
    }
    uint8_t *expected = NULL, *got = NULL;
    size_t expected_size = 0, got_size = 0;
    TEST_REQUIRE(frame_encode_response(&response, &expected, &expected_size) == FRAME_OK);
    TEST_REQUIRE(frame_encode_event_results(request_id, of_accounts, items, count, &got,
                                            &got_size) == FRAME_OK);
    TEST_CHECK_EQ(got_size, expected_size);
    TEST_CHECK(got_size == expected_size && memcmp(got, expected, got_size) == 0);
    free(expected);
    free(got);
    free(items);
    free(results);
    free(pointers);
}

static void test_event_results_by_hand(void) {
    random_state = 0x5eed5eedu;
    const uint64_t request_ids[] = {0, 1, 127, 128, U64_MAX};
    for (size_t r = 0; r < sizeof(request_ids) / sizeof(request_ids[0]); r++) {
        for (uint32_t count = 0; count <= 3; count++) {
            check_event_results_by_hand(request_ids[r], r % 2 == 0, count);
            check_event_results_by_hand(request_ids[r], r % 2 != 0, count);
        }
    }
    check_event_results_by_hand(77, false, 8190);
    check_event_results_by_hand(78, true, 8190);
}

/* ---- create_transfers decoded by hand (convert_create_transfers_decode) ---- */

/* A random value that is often 0 (left out on the wire) or at a bound. */
static uint64_t wire_value(uint64_t max) {
    uint64_t pick = random_next();
    switch (pick % 5) {
    case 0: return 0;
    case 1: return max;
    case 2: return (pick >> 8) % 200;
    default: return max == U64_MAX ? random_next() : random_next() % ((uint64_t)max + 1);
    }
}

/* A batch of `count` random transfers, each field present or not. */
static Borsellino__V1__Request *transfers_request_make(uint32_t count,
                                                       Borsellino__V1__Transfer **pointers,
                                                       Borsellino__V1__Transfer *items,
                                                       Borsellino__V1__U128 *u128s) {
    static Borsellino__V1__Request request;
    static Borsellino__V1__CreateTransfersRequest op;
    borsellino__v1__request__init(&request);
    borsellino__v1__create_transfers_request__init(&op);
    for (uint32_t i = 0; i < count; i++) {
        Borsellino__V1__Transfer *t = &items[i];
        borsellino__v1__transfer__init(t);
        Borsellino__V1__U128 **fields[5] = {&t->id, &t->debit_account_id, &t->credit_account_id,
                                            &t->pending_id, &t->user_data_128};
        for (int f = 0; f < 5; f++) {
            if (random_next() % 4 == 0) continue; /* absent */
            Borsellino__V1__U128 *value = &u128s[i * 5 + (uint32_t)f];
            borsellino__v1__u128__init(value);
            value->hi = wire_value(U64_MAX);
            value->lo = wire_value(U64_MAX);
            *fields[f] = value;
        }
        t->amount = wire_value(U64_MAX);
        t->user_data_64 = wire_value(U64_MAX);
        t->user_data_32 = (uint32_t)wire_value(UINT32_MAX);
        t->timeout = (uint32_t)wire_value(UINT32_MAX);
        t->ledger = (uint32_t)wire_value(UINT32_MAX);
        /* Mostly in range; now and then too wide for the ledger. */
        t->code = (uint32_t)(random_next() % 40 == 0 ? wire_value(UINT32_MAX) : wire_value(65535));
        t->flags = (uint32_t)(random_next() % 40 == 0 ? wire_value(UINT32_MAX) : wire_value(255));
        t->timestamp = wire_value(U64_MAX);
        pointers[i] = t;
    }
    op.n_transfers = count;
    op.transfers = pointers;
    request.request_id = wire_value(U64_MAX);
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS;
    request.create_transfers = &op;
    return &request;
}

/* What protobuf-c plus the server's conversion (dispatch_prepare) make of
 * a body: false when it is not a create_transfers request. */
static bool transfers_decode_slow(const uint8_t *body, size_t size, convert_transfers_batch_t *out) {
    memset(out, 0, sizeof(*out));
    Borsellino__V1__Request *request = frame_request_decode(body, size, NULL);
    if (request == NULL || request->op_case != BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS) {
        frame_request_free(request);
        return false;
    }
    const Borsellino__V1__CreateTransfersRequest *op = request->create_transfers;
    out->request_id = request->request_id;
    out->count = (uint32_t)op->n_transfers;
    out->transfers = calloc(out->count ? out->count : 1, sizeof(ledger_transfer_t));
    TEST_REQUIRE(out->transfers != NULL);
    for (uint32_t i = 0; i < out->count && out->unfit == 0; i++) {
        if (!convert_transfer_fits(op->transfers[i])) out->unfit = i + 1;
        else convert_transfer_from_proto(op->transfers[i], &out->transfers[i]);
    }
    frame_request_free(request);
    return true;
}

/* Whenever the hand decoder accepts a body, it agrees with the slow path. */
static bool transfers_decode_agree(const uint8_t *body, size_t size, uint32_t count_max) {
    convert_transfers_batch_t fast, slow;
    bool accepted = convert_create_transfers_decode(body, size, count_max, &fast);
    if (!accepted) return false;
    bool decoded = transfers_decode_slow(body, size, &slow);
    TEST_CHECK(decoded);
    if (decoded) {
        TEST_CHECK(fast.request_id == slow.request_id);
        TEST_CHECK_EQ(fast.count, slow.count);
        TEST_CHECK_EQ(fast.unfit, slow.unfit);
        TEST_CHECK((fast.transfers == NULL) == (fast.unfit != 0));
        if (fast.unfit == 0 && fast.count == slow.count && fast.transfers != NULL) {
            TEST_CHECK(memcmp(fast.transfers, slow.transfers,
                              fast.count * sizeof(ledger_transfer_t)) == 0);
        }
    }
    free(fast.transfers);
    free(slow.transfers);
    return true;
}

enum { WIRE_BATCHES = 300, WIRE_BATCH_MAX = 40, WIRE_MUTATIONS = 30 };

static void test_transfers_decoded_by_hand(void) {
    random_state = 0xdec0de5eedull;
    static Borsellino__V1__Transfer *pointers[8190];
    static Borsellino__V1__Transfer items[8190];
    static Borsellino__V1__U128 u128s[8190 * 5];
    uint32_t accepted_mutants = 0, tried_mutants = 0;
    for (int round = 0; round <= WIRE_BATCHES; round++) {
        uint32_t count = round == WIRE_BATCHES ? 8190 : 1 + (uint32_t)(random_next() % WIRE_BATCH_MAX);
        Borsellino__V1__Request *request = transfers_request_make(count, pointers, items, u128s);
        uint8_t *frame = NULL;
        size_t frame_size = 0;
        TEST_REQUIRE(frame_encode_request(request, &frame, &frame_size) == FRAME_OK);
        const uint8_t *body = frame + FRAME_HEADER_SIZE;
        size_t size = frame_size - FRAME_HEADER_SIZE;
        /* Every plain encoding takes the fast path. */
        TEST_CHECK(transfers_decode_agree(body, size, 8190));
        /* Over the bound, or an empty batch: left to protobuf-c. */
        convert_transfers_batch_t batch;
        TEST_CHECK(!convert_create_transfers_decode(body, size, count - 1, &batch));
        if (count > WIRE_BATCH_MAX) {
            free(frame);
            continue;
        }
        uint8_t mutant[4096];
        for (int m = 0; m < WIRE_MUTATIONS && size <= sizeof(mutant) - 8; m++) {
            memcpy(mutant, body, size);
            size_t mutant_size = size;
            uint64_t pick = random_next();
            size_t at = (size_t)(random_next() % size);
            if (pick % 3 == 0) mutant[at] ^= (uint8_t)(1u << (random_next() % 8));
            else if (pick % 3 == 1) mutant_size = at;
            else mutant[at] = (uint8_t)random_next();
            tried_mutants++;
            if (transfers_decode_agree(mutant, mutant_size, 8190)) accepted_mutants++;
        }
        free(frame);
    }
    printf("# %u of %u mutated bodies taken by the hand decoder, all agreeing\n",
           accepted_mutants, tried_mutants);
    /* Not a plain create_transfers: an empty batch, another operation, an
     * unknown field in a transfer, a repeated field. */
    static const uint8_t empty_batch[] = {0x08, 0x01, 0x5a, 0x00};
    static const uint8_t status_op[] = {0x08, 0x01, 0x82, 0x01, 0x00};
    static const uint8_t unknown_field[] = {0x5a, 0x04, 0x0a, 0x02, 0x70, 0x01};
    static const uint8_t repeated_field[] = {0x5a, 0x06, 0x0a, 0x04, 0x20, 0x01, 0x20, 0x02};
    /* protobuf-c reads a key or a length from at most 5 bytes. */
    static const uint8_t long_key[] = {0xda, 0x80, 0x80, 0x80, 0x80, 0x00, 0x02, 0x0a, 0x00};
    static const uint8_t long_length[] = {0x5a, 0x84, 0x80, 0x80, 0x80, 0x80, 0x00,
                                          0x0a, 0x02, 0x20, 0x07};
    /* An unfit event (code 70000) before a malformed one: refused whole. */
    static const uint8_t unfit_then_bad[] = {0x5a, 0x0a, 0x0a, 0x04, 0x58, 0xf0, 0xa2, 0x04,
                                             0x0a, 0x02, 0x20, 0xff};
    convert_transfers_batch_t batch;
    TEST_CHECK(!convert_create_transfers_decode(empty_batch, sizeof(empty_batch), 8190, &batch));
    TEST_CHECK(!convert_create_transfers_decode(status_op, sizeof(status_op), 8190, &batch));
    TEST_CHECK(!convert_create_transfers_decode(unknown_field, sizeof(unknown_field), 8190, &batch));
    TEST_CHECK(!convert_create_transfers_decode(repeated_field, sizeof(repeated_field), 8190, &batch));
    TEST_CHECK(!convert_create_transfers_decode(long_key, sizeof(long_key), 8190, &batch));
    TEST_CHECK(!convert_create_transfers_decode(long_length, sizeof(long_length), 8190, &batch));
    TEST_CHECK(!convert_create_transfers_decode(unfit_then_bad, sizeof(unfit_then_bad), 8190, &batch));
    /* Tiny transfers cost protobuf-c more than its 16-times bound: they
     * are left to it (which refuses them), never taken by hand. */
    enum { TINY = 1000 };
    static uint8_t tiny[3 + 2 * TINY];
    tiny[0] = 0x5a;
    tiny[1] = (uint8_t)(0x80 | ((2 * TINY) & 0x7f));
    tiny[2] = (uint8_t)((2 * TINY) >> 7);
    for (int i = 0; i < TINY; i++) tiny[3 + 2 * i] = 0x0a, tiny[4 + 2 * i] = 0x00;
    TEST_CHECK(!convert_create_transfers_decode(tiny, sizeof(tiny), 8190, &batch));
    TEST_CHECK(frame_request_decode(tiny, sizeof(tiny), NULL) == NULL);
    /* A plain transfer with its ids is taken. */
    ledger_transfer_t one = {0};
    one.id = u128(1, 2);
    one.debit_account_id = u128(0, 3);
    one.credit_account_id = u128(0, 4);
    one.amount = 7;
    one.ledger = 978;
    one.code = 1;
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    TEST_REQUIRE(convert_create_transfers_encode(5, &one, 1, &frame, &frame_size) == FRAME_OK);
    TEST_REQUIRE(convert_create_transfers_decode(frame + FRAME_HEADER_SIZE,
                                                 frame_size - FRAME_HEADER_SIZE, 8190, &batch));
    TEST_CHECK_EQ(batch.count, 1);
    TEST_CHECK(batch.transfers != NULL && memcmp(&batch.transfers[0], &one, sizeof(one)) == 0);
    free(batch.transfers);
    free(frame);
}

/* The client's encoder gives the bytes protobuf-c packs for the same
 * Request when zero ids are left out; decoding them gives the transfers
 * back. */
static void check_transfers_encoded_by_hand(uint32_t count, uint64_t request_id) {
    ledger_transfer_t *transfers = calloc(count, sizeof(*transfers));
    Borsellino__V1__Transfer *items = calloc(count, sizeof(*items));
    Borsellino__V1__Transfer **pointers = calloc(count, sizeof(*pointers));
    convert_transfer_storage_t *storage = calloc(count, sizeof(*storage));
    TEST_REQUIRE(transfers && items && pointers && storage);
    for (uint32_t i = 0; i < count; i++) {
        ledger_transfer_t *t = &transfers[i];
        ledger_u128_t *ids[5] = {&t->id, &t->debit_account_id, &t->credit_account_id,
                                 &t->pending_id, &t->user_data_128};
        for (int f = 0; f < 5; f++) *ids[f] = u128(wire_value(U64_MAX), wire_value(U64_MAX));
        t->amount = wire_value(U64_MAX);
        t->user_data_64 = wire_value(U64_MAX);
        t->user_data_32 = (uint32_t)wire_value(UINT32_MAX);
        t->timeout = (uint32_t)wire_value(UINT32_MAX);
        t->ledger = (uint32_t)wire_value(UINT32_MAX);
        t->code = (uint16_t)wire_value(65535);
        t->flags = (uint16_t)wire_value(65535);
        t->timestamp = wire_value(U64_MAX);
        convert_transfer_to_proto(t, &items[i], &storage[i]);
        Borsellino__V1__U128 **fields[5] = {&items[i].id, &items[i].debit_account_id,
                                            &items[i].credit_account_id, &items[i].pending_id,
                                            &items[i].user_data_128};
        for (int f = 0; f < 5; f++) {
            if (ids[f]->hi == 0 && ids[f]->lo == 0) *fields[f] = NULL;
        }
        pointers[i] = &items[i];
    }
    Borsellino__V1__CreateTransfersRequest op = BORSELLINO__V1__CREATE_TRANSFERS_REQUEST__INIT;
    op.n_transfers = count;
    op.transfers = pointers;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = request_id;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS;
    request.create_transfers = &op;
    uint8_t *expected = NULL, *got = NULL;
    size_t expected_size = 0, got_size = 0;
    TEST_REQUIRE(frame_encode_request(&request, &expected, &expected_size) == FRAME_OK);
    TEST_REQUIRE(convert_create_transfers_encode(request_id, transfers, count, &got, &got_size) ==
                 FRAME_OK);
    TEST_CHECK_EQ(got_size, expected_size);
    TEST_CHECK(got_size == expected_size && memcmp(got, expected, got_size) == 0);
    convert_transfers_batch_t batch;
    TEST_REQUIRE(convert_create_transfers_decode(got + FRAME_HEADER_SIZE,
                                                 got_size - FRAME_HEADER_SIZE, 8190, &batch));
    TEST_CHECK(batch.request_id == request_id);
    TEST_CHECK(batch.transfers != NULL &&
               memcmp(batch.transfers, transfers, count * sizeof(*transfers)) == 0);
    free(batch.transfers);
    free(expected);
    free(got);
    free(transfers);
    free(items);
    free(pointers);
    free(storage);
}

static void test_transfers_encoded_by_hand(void) {
    random_state = 0xe2c0de5eedull;
    for (uint32_t round = 0; round < 200; round++) {
        check_transfers_encoded_by_hand(1 + round % 7, round % 3 == 0 ? 0 : wire_value(U64_MAX));
    }
    check_transfers_encoded_by_hand(8190, 99);
}

/* The client's reading of a plain answer agrees with protobuf-c's, on
 * answers by hand, mutated answers and other responses. */
static void check_results_read(const uint8_t *body, size_t size, uint32_t capacity,
                               uint32_t *taken) {
    frame_event_result_t results[64];
    uint32_t count = 0;
    uint64_t request_id = 0;
    bool of_accounts = false;
    if (!frame_decode_event_results(body, size, results, capacity, &count, &request_id,
                                    &of_accounts)) {
        return;
    }
    (*taken)++;
    Borsellino__V1__Response *response = frame_response_decode(body, size, NULL);
    TEST_REQUIRE(response != NULL);
    TEST_CHECK_EQ(response->status, BORSELLINO__V1__STATUS__STATUS_OK);
    TEST_CHECK(response->request_id == request_id);
    const Borsellino__V1__CreateAccountsResponse *accounts = response->create_accounts;
    const Borsellino__V1__CreateTransfersResponse *transfers = response->create_transfers;
    TEST_CHECK(response->result_case == (of_accounts
                                             ? BORSELLINO__V1__RESPONSE__RESULT_CREATE_ACCOUNTS
                                             : BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS));
    size_t n = of_accounts ? accounts->n_results : transfers->n_results;
    Borsellino__V1__EventResult **items = of_accounts ? accounts->results : transfers->results;
    TEST_CHECK_EQ(n, count);
    for (uint32_t i = 0; i < count && i < n; i++) {
        TEST_CHECK_EQ((uint32_t)items[i]->result, results[i].result);
        TEST_CHECK(items[i]->timestamp == results[i].timestamp);
    }
    frame_response_free(response);
}

static void test_results_read_by_hand(void) {
    random_state = 0x7e5a175ull;
    uint32_t taken = 0, tried = 0;
    frame_event_result_t items[40];
    for (int round = 0; round < 300; round++) {
        uint32_t count = (uint32_t)(random_next() % 40);
        for (uint32_t i = 0; i < count; i++) {
            items[i].result = (uint32_t)wire_value(70);
            items[i].timestamp = wire_value(U64_MAX);
        }
        uint8_t *frame = NULL;
        size_t frame_size = 0;
        TEST_REQUIRE(frame_encode_event_results(wire_value(U64_MAX), round % 2 == 0, items, count,
                                                &frame, &frame_size) == FRAME_OK);
        const uint8_t *body = frame + FRAME_HEADER_SIZE;
        size_t size = frame_size - FRAME_HEADER_SIZE;
        uint32_t before = taken;
        check_results_read(body, size, 64, &taken);
        TEST_CHECK_EQ(taken, before + 1); /* every plain answer is read by hand */
        frame_event_result_t room[1];
        uint32_t n = 0;
        uint64_t id = 0;
        bool accounts = false;
        if (count > 1) {
            TEST_CHECK(!frame_decode_event_results(body, size, room, 1, &n, &id, &accounts));
        }
        uint8_t mutant[1024];
        for (int m = 0; m < 30 && size <= sizeof(mutant) && size > 0; m++) {
            memcpy(mutant, body, size);
            size_t mutant_size = size;
            size_t at = (size_t)(random_next() % size);
            uint64_t pick = random_next();
            if (pick % 3 == 0) mutant[at] ^= (uint8_t)(1u << (random_next() % 8));
            else if (pick % 3 == 1) mutant_size = at;
            else mutant[at] = (uint8_t)random_next();
            tried++;
            check_results_read(mutant, mutant_size, 64, &taken);
        }
        free(frame);
    }
    printf("# read by hand and agreeing: %u answers (300 plain, the rest of %u mutated)\n", taken, tried);
    /* A refusal (status, message) is left to protobuf-c. */
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.request_id = 5;
    response.status = BORSELLINO__V1__STATUS__STATUS_STORAGE_FAULT;
    response.message = (char *)"disk";
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    TEST_REQUIRE(frame_encode_response(&response, &frame, &frame_size) == FRAME_OK);
    frame_event_result_t room[4];
    uint32_t n = 0;
    uint64_t id = 0;
    bool accounts = false;
    TEST_CHECK(!frame_decode_event_results(frame + FRAME_HEADER_SIZE,
                                           frame_size - FRAME_HEADER_SIZE, room, 4, &n, &id,
                                           &accounts));
    free(frame);
    /* The answer to a full batch whose events all failed (4 bytes a
     * result) is read both ways: protobuf-c's bound for responses is 64
     * times the body, not the requests' 16. */
    static frame_event_result_t failed[8190];
    static frame_event_result_t read_back[8190];
    for (int i = 0; i < 8190; i++) failed[i].result = 5, failed[i].timestamp = 0;
    TEST_REQUIRE(frame_encode_event_results(9, false, failed, 8190, &frame, &frame_size) ==
                 FRAME_OK);
    Borsellino__V1__Response *decoded =
        frame_response_decode(frame + FRAME_HEADER_SIZE, frame_size - FRAME_HEADER_SIZE, NULL);
    TEST_CHECK(decoded != NULL && decoded->create_transfers->n_results == 8190);
    frame_response_free(decoded);
    TEST_CHECK(frame_decode_event_results(frame + FRAME_HEADER_SIZE,
                                          frame_size - FRAME_HEADER_SIZE, read_back, 8190, &n,
                                          &id, &accounts));
    TEST_CHECK_EQ(n, 8190);
    free(frame);
}

static void test_response_lookups(void) {
    ledger_account_t account = sample_account(100);
    Borsellino__V1__Account account_message;
    Borsellino__V1__Account *account_pointer = &account_message;
    convert_account_storage_t account_storage;
    convert_account_to_proto(&account, &account_message, &account_storage);
    Borsellino__V1__LookupAccountsResponse accounts = BORSELLINO__V1__LOOKUP_ACCOUNTS_RESPONSE__INIT;
    accounts.n_accounts = 1;
    accounts.accounts = &account_pointer;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.request_id = 13;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_ACCOUNTS;
    response.lookup_accounts = &accounts;
    Borsellino__V1__Response *decoded = response_round_trip(&response);
    TEST_REQUIRE(decoded->result_case == BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_ACCOUNTS);
    TEST_REQUIRE(decoded->lookup_accounts->n_accounts == 1);
    ledger_account_t account_back;
    convert_account_from_proto(decoded->lookup_accounts->accounts[0], &account_back);
    check_account_equal(&account_back, &account);
    frame_response_free(decoded);

    ledger_transfer_t transfer = sample_transfer(200);
    Borsellino__V1__Transfer transfer_message;
    Borsellino__V1__Transfer *transfer_pointer = &transfer_message;
    convert_transfer_storage_t transfer_storage;
    convert_transfer_to_proto(&transfer, &transfer_message, &transfer_storage);
    Borsellino__V1__LookupTransfersResponse transfers = BORSELLINO__V1__LOOKUP_TRANSFERS_RESPONSE__INIT;
    transfers.n_transfers = 1;
    transfers.transfers = &transfer_pointer;
    response.request_id = 14;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_TRANSFERS;
    response.lookup_transfers = &transfers;
    decoded = response_round_trip(&response);
    TEST_CHECK_EQ(decoded->request_id, 14);
    TEST_REQUIRE(decoded->result_case == BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_TRANSFERS);
    TEST_REQUIRE(decoded->lookup_transfers->n_transfers == 1);
    ledger_transfer_t transfer_back;
    convert_transfer_from_proto(decoded->lookup_transfers->transfers[0], &transfer_back);
    check_transfer_equal(&transfer_back, &transfer);
    frame_response_free(decoded);
}

static void test_response_history_and_balance(void) {
    ledger_transfer_t transfer = sample_transfer(300);
    ledger_balance_t balance = {U64_MAX, 1, 2, U64_MAX - 3};
    Borsellino__V1__Transfer transfer_message;
    convert_transfer_storage_t storage;
    convert_transfer_to_proto(&transfer, &transfer_message, &storage);
    Borsellino__V1__Balance balance_message;
    convert_balance_to_proto(&balance, &balance_message);
    Borsellino__V1__HistoryEntry entry = BORSELLINO__V1__HISTORY_ENTRY__INIT;
    entry.kind = BORSELLINO__V1__EVENT_KIND__EVENT_EXPIRY;
    entry.transfer = &transfer_message;
    entry.balance_after = &balance_message;
    Borsellino__V1__HistoryEntry *entry_pointer = &entry;
    Borsellino__V1__AccountHistoryResponse history = BORSELLINO__V1__ACCOUNT_HISTORY_RESPONSE__INIT;
    history.n_entries = 1;
    history.entries = &entry_pointer;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.request_id = 15;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_ACCOUNT_HISTORY;
    response.account_history = &history;
    Borsellino__V1__Response *decoded = response_round_trip(&response);
    TEST_REQUIRE(decoded->result_case == BORSELLINO__V1__RESPONSE__RESULT_ACCOUNT_HISTORY);
    TEST_REQUIRE(decoded->account_history->n_entries == 1);
    const Borsellino__V1__HistoryEntry *entry_back = decoded->account_history->entries[0];
    TEST_CHECK_EQ(entry_back->kind, LEDGER_EVENT_EXPIRY);
    ledger_transfer_t transfer_back;
    convert_transfer_from_proto(entry_back->transfer, &transfer_back);
    check_transfer_equal(&transfer_back, &transfer);
    ledger_balance_t balance_back;
    convert_balance_from_proto(entry_back->balance_after, &balance_back);
    check_balance_equal(&balance_back, &balance);
    frame_response_free(decoded);

    Borsellino__V1__BalanceAtResponse balance_at = BORSELLINO__V1__BALANCE_AT_RESPONSE__INIT;
    balance_at.balance = &balance_message;
    response.request_id = 16;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_BALANCE_AT;
    response.balance_at = &balance_at;
    decoded = response_round_trip(&response);
    TEST_REQUIRE(decoded->result_case == BORSELLINO__V1__RESPONSE__RESULT_BALANCE_AT);
    convert_balance_from_proto(decoded->balance_at->balance, &balance_back);
    check_balance_equal(&balance_back, &balance);
    frame_response_free(decoded);
}

static void test_response_status_result(void) {
    uint8_t chain_head[32];
    for (int i = 0; i < 32; i++) chain_head[i] = (uint8_t)(255 - i);
    Borsellino__V1__StatusResponse status = BORSELLINO__V1__STATUS_RESPONSE__INIT;
    status.version = "0.1.0";
    status.journal_sequence = 1;
    status.checkpoint_sequence = 2;
    status.last_timestamp = 3;
    status.accounts_count = 4;
    status.pending_count = 5;
    status.map_size = 6;
    status.map_used = 7;
    status.connections = 8;
    status.queue_depth = 9;
    status.uptime_seconds = 10;
    status.chain_head.data = chain_head;
    status.chain_head.len = sizeof chain_head;
    status.batch_events_max = 8190;
    status.frame_size_max = FRAME_BODY_SIZE_MAX_DEFAULT;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.request_id = 17;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_STATUS_RESULT;
    response.status_result = &status;
    Borsellino__V1__Response *decoded = response_round_trip(&response);
    TEST_REQUIRE(decoded->result_case == BORSELLINO__V1__RESPONSE__RESULT_STATUS_RESULT);
    const Borsellino__V1__StatusResponse *back = decoded->status_result;
    TEST_CHECK(strcmp(back->version, "0.1.0") == 0);
    TEST_CHECK_EQ(back->journal_sequence, 1);
    TEST_CHECK_EQ(back->checkpoint_sequence, 2);
    TEST_CHECK_EQ(back->last_timestamp, 3);
    TEST_CHECK_EQ(back->accounts_count, 4);
    TEST_CHECK_EQ(back->pending_count, 5);
    TEST_CHECK_EQ(back->map_size, 6);
    TEST_CHECK_EQ(back->map_used, 7);
    TEST_CHECK_EQ(back->connections, 8);
    TEST_CHECK_EQ(back->queue_depth, 9);
    TEST_CHECK_EQ(back->uptime_seconds, 10);
    TEST_REQUIRE(back->chain_head.len == sizeof chain_head);
    TEST_CHECK(memcmp(back->chain_head.data, chain_head, sizeof chain_head) == 0);
    TEST_CHECK_EQ(back->batch_events_max, 8190);
    TEST_CHECK_EQ(back->frame_size_max, FRAME_BODY_SIZE_MAX_DEFAULT);
    frame_response_free(decoded);
}

/* An error response: status and message, no result. */
static void test_response_error_status(void) {
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.request_id = 18;
    response.status = BORSELLINO__V1__STATUS__STATUS_SHUTTING_DOWN;
    response.message = "server is shutting down";
    Borsellino__V1__Response *decoded = response_round_trip(&response);
    TEST_CHECK_EQ(decoded->request_id, 18);
    TEST_CHECK_EQ(decoded->status, BORSELLINO__V1__STATUS__STATUS_SHUTTING_DOWN);
    TEST_CHECK(strcmp(decoded->message, "server is shutting down") == 0);
    TEST_CHECK_EQ(decoded->result_case, BORSELLINO__V1__RESPONSE__RESULT__NOT_SET);
    frame_response_free(decoded);
}

/* ------------------------------------------------------------------------ */
/* The encode size guard                                                    */

/* A response whose packed size is exactly `body_size`: field 3 (message)
 * costs one tag byte and a 4-byte length for strings of 2^21..2^28 bytes. */
static int encode_response_of_size(size_t body_size, size_t *frame_size_out) {
    const size_t overhead = 1 + 4;
    char *text = malloc(body_size - overhead + 1);
    TEST_REQUIRE(text != NULL);
    memset(text, 'x', body_size - overhead);
    text[body_size - overhead] = '\0';
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.message = text;
    TEST_REQUIRE(borsellino__v1__response__get_packed_size(&response) == body_size);
    uint8_t *frame = NULL;
    int result = frame_encode_response(&response, &frame, frame_size_out);
    free(frame);
    free(text);
    return result;
}

static void test_encode_refuses_oversized_message(void) {
    size_t frame_size = 0;
    TEST_CHECK_EQ(encode_response_of_size(FRAME_BODY_SIZE_MAX_LIMIT, &frame_size),
                  FRAME_OK);
    TEST_CHECK_EQ(frame_size, FRAME_HEADER_SIZE + (size_t)FRAME_BODY_SIZE_MAX_LIMIT);
    frame_size = 0;
    TEST_CHECK_EQ(encode_response_of_size(FRAME_BODY_SIZE_MAX_LIMIT + 1, &frame_size),
                  FRAME_ERR_ENCODE);
    TEST_CHECK_EQ(frame_size, 0);
}

/* ------------------------------------------------------------------------ */
/* Conversion                                                               */

static void test_convert_u128_extremes(void) {
    const ledger_u128_t values[] = {u128(0, 0), u128(0, 1), u128(1, 0),
                                    u128(0, U64_MAX), u128(U64_MAX, 0),
                                    u128(U64_MAX, U64_MAX),
                                    u128(0x8000000000000000ull, 0x7FFFFFFFFFFFFFFFull)};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        Borsellino__V1__U128 message;
        convert_u128_to_proto(values[i], &message);
        TEST_CHECK(message.hi == values[i].hi);
        TEST_CHECK(message.lo == values[i].lo);
        TEST_CHECK(ledger_u128_equal(convert_u128_from_proto(&message), values[i]));
    }
    TEST_CHECK(ledger_u128_is_zero(convert_u128_from_proto(NULL)));
}

/* Every field at its maximum, then at zero, through the wire and back. */
static void test_convert_account_every_field(void) {
    ledger_account_t maximum;
    memset(&maximum, 0xFF, sizeof maximum);
    ledger_account_t zero = {0};
    const ledger_account_t *cases[] = {&maximum, &zero};
    for (int i = 0; i < 2; i++) {
        Borsellino__V1__Account message;
        convert_account_storage_t storage;
        convert_account_to_proto(cases[i], &message, &storage);
        TEST_CHECK(convert_account_fits(&message));
        ledger_account_t back;
        memset(&back, 0xA5, sizeof back);
        convert_account_from_proto(&message, &back);
        check_account_equal(&back, cases[i]);
    }
    /* Absent sub-messages read as zero ids. */
    Borsellino__V1__Account absent = BORSELLINO__V1__ACCOUNT__INIT;
    ledger_account_t back;
    memset(&back, 0xA5, sizeof back);
    convert_account_from_proto(&absent, &back);
    check_account_equal(&back, &zero);
}

static void test_convert_transfer_every_field(void) {
    ledger_transfer_t maximum;
    memset(&maximum, 0xFF, sizeof maximum);
    ledger_transfer_t zero = {0};
    const ledger_transfer_t *cases[] = {&maximum, &zero};
    for (int i = 0; i < 2; i++) {
        Borsellino__V1__Transfer message;
        convert_transfer_storage_t storage;
        convert_transfer_to_proto(cases[i], &message, &storage);
        TEST_CHECK(convert_transfer_fits(&message));
        ledger_transfer_t back;
        memset(&back, 0xA5, sizeof back);
        convert_transfer_from_proto(&message, &back);
        check_transfer_equal(&back, cases[i]);
    }
    Borsellino__V1__Transfer absent = BORSELLINO__V1__TRANSFER__INIT;
    ledger_transfer_t back;
    memset(&back, 0xA5, sizeof back);
    convert_transfer_from_proto(&absent, &back);
    check_transfer_equal(&back, &zero);

    ledger_balance_t balance_back = {1, 2, 3, 4};
    ledger_balance_t balance_zero = {0, 0, 0, 0};
    convert_balance_from_proto(NULL, &balance_back);
    check_balance_equal(&balance_back, &balance_zero);
}

static void test_convert_fits_bounds(void) {
    const struct {
        uint32_t code, flags;
        bool fits;
    } cases[] = {
        {0, 0, true},          {65535, 0, true},        {0, 0xFFFF, true},
        {65535, 0xFFFF, true}, {65536, 0, false},       {0, 0x10000, false},
        {UINT32_MAX, 0, false}, {0, UINT32_MAX, false}, {65536, 0x10000, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Borsellino__V1__Account account = BORSELLINO__V1__ACCOUNT__INIT;
        account.code = cases[i].code;
        account.flags = cases[i].flags;
        TEST_CHECK(convert_account_fits(&account) == cases[i].fits);
        Borsellino__V1__Transfer transfer = BORSELLINO__V1__TRANSFER__INIT;
        transfer.code = cases[i].code;
        transfer.flags = cases[i].flags;
        TEST_CHECK(convert_transfer_fits(&transfer) == cases[i].fits);
    }
}

/* The wire enums carry the ledger's numbers: a cast is a conversion. */
static void test_enum_numbers_match_ledger(void) {
    TEST_CHECK_EQ(BORSELLINO__V1__RESULT__RESULT_OK, LEDGER_RESULT_OK);
    TEST_CHECK_EQ(BORSELLINO__V1__RESULT__RESULT_EXISTS, LEDGER_RESULT_EXISTS);
    TEST_CHECK_EQ(BORSELLINO__V1__RESULT__RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED,
                  LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED);
    TEST_CHECK_EQ(BORSELLINO__V1__RESULT__RESULT_WELFARE_TRANSFER_BETWEEN_EMPLOYEES_FORBIDDEN + 1,
                  LEDGER_RESULT_CODE_COUNT);
    /* Every name matches, number by number. */
    const ProtobufCEnumDescriptor *results = &borsellino__v1__result__descriptor;
    TEST_CHECK_EQ(results->n_values, LEDGER_RESULT_CODE_COUNT);
    for (unsigned i = 0; i < results->n_values; i++) {
        const ProtobufCEnumValue *value = &results->values[i];
        const char *name = ledger_result_name((uint32_t)value->value);
        /* "RESULT_LINKED_EVENT_FAILED" vs "linked_event_failed". */
        const char *wire = value->name + strlen("RESULT_");
        bool same = strlen(wire) == strlen(name);
        for (size_t c = 0; same && name[c] != '\0'; c++) {
            same = (wire[c] | 0x20) == (name[c] | 0x20) || (wire[c] == '_' && name[c] == '_');
        }
        if (!same) printf("# result %d: wire %s, ledger %s\n", value->value, value->name, name);
        TEST_CHECK(same);
    }
    TEST_CHECK_EQ(BORSELLINO__V1__ACCOUNT_FLAGS__ACCOUNT_CLOSED, LEDGER_ACCOUNT_CLOSED);
    TEST_CHECK_EQ(BORSELLINO__V1__ACCOUNT_FLAGS__ACCOUNT_HISTORY, LEDGER_ACCOUNT_HISTORY);
    TEST_CHECK_EQ(BORSELLINO__V1__TRANSFER_FLAGS__TRANSFER_CLOSING_CREDIT,
                  LEDGER_TRANSFER_CLOSING_CREDIT);
    TEST_CHECK_EQ(BORSELLINO__V1__TRANSFER_FLAGS__TRANSFER_POST_PENDING,
                  LEDGER_TRANSFER_POST_PENDING);
    TEST_CHECK_EQ(BORSELLINO__V1__HISTORY_FLAGS__HISTORY_REVERSED, LEDGER_HISTORY_REVERSED);
    TEST_CHECK_EQ(BORSELLINO__V1__EVENT_KIND__EVENT_EXPIRY, LEDGER_EVENT_EXPIRY);
}

static void test_strerror_names_every_code(void) {
    const int codes[] = {FRAME_OK, FRAME_NEED_MORE, FRAME_ERR_TOO_LARGE,
                         FRAME_ERR_DECODE, FRAME_ERR_NO_MEMORY, FRAME_ERR_ENCODE};
    const char *unknown = frame_strerror(-1);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        TEST_CHECK(frame_strerror(codes[i]) != NULL);
        TEST_CHECK(strcmp(frame_strerror(codes[i]), unknown) != 0);
        for (size_t j = 0; j < i; j++) {
            TEST_CHECK(strcmp(frame_strerror(codes[i]), frame_strerror(codes[j])) != 0);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Randomized decoding                                                      */

/* A valid request frame body with a bit of everything, to mutate. */
static uint8_t *fuzz_seed_body(size_t *size_out) {
    ledger_transfer_t transfer = sample_transfer(1);
    Borsellino__V1__Transfer message;
    Borsellino__V1__Transfer *pointer = &message;
    convert_transfer_storage_t storage;
    convert_transfer_to_proto(&transfer, &message, &storage);
    Borsellino__V1__CreateTransfersRequest op = BORSELLINO__V1__CREATE_TRANSFERS_REQUEST__INIT;
    op.n_transfers = 1;
    op.transfers = &pointer;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = 123456789;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS;
    request.create_transfers = &op;
    size_t size = borsellino__v1__request__get_packed_size(&request);
    uint8_t *body = malloc(size);
    TEST_REQUIRE(body != NULL);
    TEST_REQUIRE(borsellino__v1__request__pack(&request, body) == size);
    *size_out = size;
    return body;
}

/* Whatever decodes must re-encode and be freed cleanly. */
static void fuzz_decode_one(const uint8_t *bytes, size_t size, uint64_t *decoded_count) {
    int error = 0;
    Borsellino__V1__Request *request = frame_request_decode(bytes, size, &error);
    if (request != NULL) {
        uint8_t *frame = NULL;
        size_t frame_size = 0;
        TEST_CHECK_EQ(frame_encode_request(request, &frame, &frame_size), FRAME_OK);
        free(frame);
        frame_request_free(request);
        (*decoded_count)++;
    } else {
        TEST_CHECK_EQ(error, FRAME_ERR_DECODE);
    }
    Borsellino__V1__Response *response = frame_response_decode(bytes, size, &error);
    if (response != NULL) {
        uint8_t *frame = NULL;
        size_t frame_size = 0;
        TEST_CHECK_EQ(frame_encode_response(response, &frame, &frame_size), FRAME_OK);
        free(frame);
        frame_response_free(response);
    }
    const uint8_t *body = NULL;
    uint32_t body_size = 0;
    size_t consumed = 0;
    int parsed = frame_parse(bytes, size, FRAME_BODY_SIZE_MAX_DEFAULT, &body,
                             &body_size, &consumed);
    TEST_CHECK(parsed == FRAME_OK || parsed == FRAME_NEED_MORE ||
               parsed == FRAME_ERR_TOO_LARGE);
    if (parsed == FRAME_OK) TEST_CHECK(consumed <= size);
}

static void fuzz_mutate(uint8_t *bytes, size_t *size, size_t capacity) {
    uint64_t mutations = 1 + random_next() % 4;
    for (uint64_t m = 0; m < mutations; m++) {
        uint64_t choice = random_next() % 4;
        if (choice == 0 && *size > 0) {
            bytes[random_next() % *size] ^= (uint8_t)(1u << (random_next() % 8));
        } else if (choice == 1 && *size > 0) {
            bytes[random_next() % *size] = (uint8_t)random_next();
        } else if (choice == 2 && *size > 0) {
            *size = random_next() % *size; /* truncate */
        } else if (*size < capacity) {
            bytes[(*size)++] = (uint8_t)random_next(); /* append */
        }
    }
}

static void test_random_bytes_never_crash(void) {
    uint64_t seed = test_seed != 0 ? test_seed : (uint64_t)time(NULL);
    printf("# seed %" PRIu64 " (replay: test_frame test_random_bytes_never_crash --seed %" PRIu64 ")\n",
           seed, seed);
    random_state = seed | 1;
    uint64_t iterations = test_ops != 0 ? test_ops : FUZZ_ITERATIONS_DEFAULT;
    size_t seed_size = 0;
    uint8_t *seed_body = fuzz_seed_body(&seed_size);
    TEST_REQUIRE(seed_size <= FUZZ_BYTES_MAX);
    uint8_t bytes[FUZZ_BYTES_MAX];
    uint64_t decoded_count = 0;
    for (uint64_t i = 0; i < iterations; i++) {
        size_t size;
        if (i % 2 == 0) {
            memcpy(bytes, seed_body, seed_size);
            size = seed_size;
            fuzz_mutate(bytes, &size, sizeof bytes);
        } else {
            size = random_next() % (sizeof bytes + 1);
            for (size_t b = 0; b < size; b++) bytes[b] = (uint8_t)random_next();
        }
        fuzz_decode_one(bytes, size, &decoded_count);
    }
    printf("# %" PRIu64 " byte strings, %" PRIu64 " decoded as a Request\n",
           iterations, decoded_count);
    free(seed_body);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"test_header_bytes", test_header_bytes},
        {"test_event_results_by_hand", test_event_results_by_hand},
        {"test_transfers_decoded_by_hand", test_transfers_decoded_by_hand},
        {"test_transfers_encoded_by_hand", test_transfers_encoded_by_hand},
        {"test_results_read_by_hand", test_results_read_by_hand},
        {"test_header_round_trip_at_bounds", test_header_round_trip_at_bounds},
        {"test_parse_every_prefix_needs_more", test_parse_every_prefix_needs_more},
        {"test_parse_oversized_from_header_alone", test_parse_oversized_from_header_alone},
        {"test_garbage_bodies_rejected", test_garbage_bodies_rejected},
        {"test_empty_body_is_a_request_without_op", test_empty_body_is_a_request_without_op},
        {"test_unknown_fields_ignored", test_unknown_fields_ignored},
        {"test_request_create_accounts", test_request_create_accounts},
        {"test_request_create_transfers", test_request_create_transfers},
        {"test_request_lookups", test_request_lookups},
        {"test_request_account_history", test_request_account_history},
        {"test_request_balance_at_and_status", test_request_balance_at_and_status},
        {"test_response_create_results", test_response_create_results},
        {"test_response_lookups", test_response_lookups},
        {"test_response_history_and_balance", test_response_history_and_balance},
        {"test_response_status_result", test_response_status_result},
        {"test_response_error_status", test_response_error_status},
        {"test_encode_refuses_oversized_message", test_encode_refuses_oversized_message},
        {"test_convert_u128_extremes", test_convert_u128_extremes},
        {"test_convert_account_every_field", test_convert_account_every_field},
        {"test_convert_transfer_every_field", test_convert_transfer_every_field},
        {"test_convert_fits_bounds", test_convert_fits_bounds},
        {"test_enum_numbers_match_ledger", test_enum_numbers_match_ledger},
        {"test_strerror_names_every_code", test_strerror_names_every_code},
        {"test_random_bytes_never_crash", test_random_bytes_never_crash},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
