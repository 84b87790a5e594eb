/*
 * fuzz_dispatch.c — libFuzzer target for request decoding and the
 * server's dispatch (server/dispatch.c, compiled into this target with
 * server/log.c).
 *
 * The input is a Request body (what follows the 4-byte frame header). If
 * frame_request_decode accepts it, it is run exactly as the writer thread
 * runs one request of a group (server/writer.c): ledger_write_begin,
 * dispatch_request, then ledger_write_commit or ledger_write_abort. The
 * configuration is borsellinod's defaults (server/main.c).
 *
 * The ledger is real (LMDB), in a temporary directory made once per
 * process by LLVMFuzzerInitialize — under /dev/shm when it exists, so that
 * the commit's fsync costs nothing — and seeded with a few accounts (ids
 * 1..8, ledger 1, with each account flag) and funding transfers, so that
 * transfers, lookups, history and balance_at reach real data; and with a
 * welfare platform (funder 101, provider 102, employees 103 and 104 with
 * pots under plan 105, an open hold 106), so that welfare requests reach
 * the layer's success paths too.
 *
 * Bounded growth: most groups are aborted; one input in
 * FUZZ_COMMIT_EVERY is committed, so that the state does move (ids that
 * exist, pending transfers to post or void). When the journal passes
 * FUZZ_JOURNAL_EVENTS_MAX events, the directory is deleted and a fresh,
 * seeded one replaces it. A 60 s run therefore holds at most a few tens of
 * MB. The price: an input's outcome depends on the committed state left
 * by earlier inputs, so a crash may need its predecessors to reproduce
 * (it seldom does: the seeded state is usually enough).
 *
 * Requests come from the operator, except one input in eight (by a hash
 * of the input) from another role (fuzz_identity), for authz.c.
 *
 * Invariants asserted: every decoded request gets one response frame, it
 * parses as one whole frame and decodes as a Response that echoes the
 * request_id; dispatch itself returns no error (a hostile request must not
 * fail the group of the other clients' requests) except for map growth.
 *
 * Build and run: tools/dev fuzz [SECONDS] (build-fuzz/, clang, libFuzzer).
 */
#include <assert.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"
#include "frame.h"
#include "ledger.h"
#include "welfare.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    FUZZ_COMMIT_EVERY = 16,
    FUZZ_JOURNAL_EVENTS_MAX = 50000,
    FUZZ_ACCOUNTS_COUNT = 8,
    FUZZ_SEED_AMOUNT = 1000000,
    FUZZ_OTHER_ROLE_EVERY = 8,
};

static ledger_t *fuzz_ledger;
static char fuzz_directory[256];
static uint64_t fuzz_inputs_count;
static server_config_t fuzz_config;

static int remove_entry(const char *path, const struct stat *status, int flag,
                        struct FTW *walk) {
    (void)status;
    (void)flag;
    (void)walk;
    return remove(path);
}

static void fuzz_ledger_close(void) {
    if (fuzz_ledger != NULL) {
        ledger_close(fuzz_ledger);
        fuzz_ledger = NULL;
    }
    if (fuzz_directory[0] != '\0') {
        nftw(fuzz_directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        fuzz_directory[0] = '\0';
    }
}

/* Accounts 1..8 on ledger 1, one with each flag, and transfers that give
 * every account debits and credits. */
static void fuzz_ledger_seed(void) {
    static const uint16_t flags[FUZZ_ACCOUNTS_COUNT] = {
        0, LEDGER_ACCOUNT_HISTORY, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS,
        LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS, LEDGER_ACCOUNT_HISTORY,
        0, LEDGER_ACCOUNT_HISTORY, 0};
    ledger_account_t accounts[FUZZ_ACCOUNTS_COUNT];
    ledger_result_t results[FUZZ_ACCOUNTS_COUNT];
    memset(accounts, 0, sizeof(accounts));
    for (uint32_t i = 0; i < FUZZ_ACCOUNTS_COUNT; i++) {
        accounts[i].id.lo = i + 1;
        accounts[i].ledger = 1;
        accounts[i].code = 1;
        accounts[i].flags = flags[i];
    }
    int error = ledger_create_accounts(fuzz_ledger, accounts, FUZZ_ACCOUNTS_COUNT, results);
    assert(error == 0);
    for (uint32_t i = 0; i < FUZZ_ACCOUNTS_COUNT; i++) assert(results[i].result == 0);
    ledger_transfer_t transfers[FUZZ_ACCOUNTS_COUNT];
    memset(transfers, 0, sizeof(transfers));
    for (uint32_t i = 0; i < FUZZ_ACCOUNTS_COUNT; i++) {
        transfers[i].id.lo = 1000 + i;
        /* Account 1 (no flags) funds every other; 8 pays 1 back. */
        transfers[i].debit_account_id.lo = i == 0 ? 8 : 1;
        transfers[i].credit_account_id.lo = i == 0 ? 1 : i + 1;
        transfers[i].amount = FUZZ_SEED_AMOUNT;
        transfers[i].ledger = 1;
        transfers[i].code = 1;
    }
    /* One pending transfer left open, for post/void inputs. */
    transfers[FUZZ_ACCOUNTS_COUNT - 1].flags = LEDGER_TRANSFER_PENDING;
    transfers[FUZZ_ACCOUNTS_COUNT - 1].timeout = 3600;
    error = ledger_create_transfers(fuzz_ledger, transfers, FUZZ_ACCOUNTS_COUNT, results);
    assert(error == 0);
}

static ledger_u128_t fuzz_id(uint64_t lo) {
    ledger_u128_t id = {0, lo};
    return id;
}

/* The welfare state the corpus's welfare seeds refer to. */
static void fuzz_welfare_seed(void) {
    uint32_t result = 0;
    uint64_t categories = (UINT64_C(1) << 7) | (UINT64_C(1) << 9) | (UINT64_C(1) << 1);
    welfare_funder_t funder = {.id = fuzz_id(101), .kind = WELFARE_FUNDER_COMPANY};
    welfare_provider_t provider = {.id = fuzz_id(102), .fee_bps = 250, .categories = categories};
    welfare_plan_t plan = {.id = fuzz_id(105), .funder_id = fuzz_id(101), .valid_from = 0,
                           .valid_until = UINT64_MAX, .categories = categories,
                           .expiry_policy = WELFARE_EXPIRY_BACK_TO_FUNDER,
                           .flags = WELFARE_PLAN_SPLIT_ALLOWED};
    int error = welfare_create_funder(fuzz_ledger, &funder, &result);
    if (!error) error = welfare_create_provider(fuzz_ledger, &provider, &result);
    if (!error) error = welfare_create_plan(fuzz_ledger, &plan, &result);
    welfare_grant_entry_t entries[2] = {{fuzz_id(103), 500000}, {fuzz_id(104), 500000}};
    for (int i = 0; i < 2 && !error; i++) {
        welfare_employee_t employee = {.id = entries[i].employee_id, .funder_id = fuzz_id(101)};
        error = welfare_create_employee(fuzz_ledger, &employee, &result);
    }
    welfare_fund_t fund = {fuzz_id(107), fuzz_id(101), 10000000};
    uint32_t results[2];
    if (!error) error = welfare_fund(fuzz_ledger, &fund, &result);
    if (!error) error = welfare_grant(fuzz_ledger, fuzz_id(108), fuzz_id(105), entries, 2, results);
    welfare_purchase_t hold = {.id = fuzz_id(106), .employee_id = fuzz_id(103),
                               .provider_id = fuzz_id(102), .category = 7,
                               .hold_timeout_s = 3600, .amount = 1000};
    if (!error) error = welfare_purchase(fuzz_ledger, &hold, &result);
    assert(error == 0);
    assert(result == WELFARE_RESULT_OK);
}

static void fuzz_ledger_open(void) {
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (base == NULL) base = "/tmp";
    snprintf(fuzz_directory, sizeof(fuzz_directory), "%s/borsellino-fuzz.XXXXXX", base);
    if (mkdtemp(fuzz_directory) == NULL) {
        perror("fuzz_dispatch: mkdtemp");
        abort();
    }
    /* A small map that may grow to 1 GiB; the journal is reset long before. */
    ledger_options_t options = {.map_size_initial = 64u << 20, .map_size_max = 1ull << 30};
    char path[300];
    snprintf(path, sizeof(path), "%s/data", fuzz_directory);
    int error = ledger_open(path, &options, &fuzz_ledger);
    if (error != 0) {
        fprintf(stderr, "fuzz_dispatch: ledger_open %s: %s\n", path,
                ledger_last_error_message(NULL));
        abort();
    }
    fuzz_ledger_seed();
    fuzz_welfare_seed();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    /* borsellinod's defaults (server/main.c parse_arguments). */
    fuzz_config = (server_config_t){
        .data_path = NULL, .listen_address = SERVER_LISTEN_DEFAULT,
        .connections_max = 1024, .in_flight_max = 256,
        .frame_size_max = FRAME_BODY_SIZE_MAX_DEFAULT,
        .batch_events_max = LEDGER_BATCH_EVENTS_MAX, .queue_depth_max = 8192,
        .idle_timeout_ms = 300000, .group_events_max = 65536,
        .shutdown_timeout_ms = 10000};
    fuzz_ledger_open();
    atexit(fuzz_ledger_close);
    return 0;
}

/* The response frame must be one whole frame holding a Response for the
 * request's id. */
static void response_check(const server_request_t *request) {
    assert(request->response_frame != NULL);
    const uint8_t *body = NULL;
    uint32_t body_size = 0;
    size_t frame_size = 0;
    int error = frame_parse(request->response_frame, request->response_size,
                            FRAME_BODY_SIZE_MAX_LIMIT, &body, &body_size, &frame_size);
    assert(error == FRAME_OK);
    assert(frame_size == request->response_size);
    Borsellino__V1__Response *response = frame_response_decode(body, body_size, NULL);
    assert(response != NULL);
    assert(response->request_id == request->request->request_id);
    frame_response_free(response);
}

/* Replaces the ledger by a fresh one once the journal is long. */
static void fuzz_ledger_bound(void) {
    ledger_stats_t stats;
    int error = ledger_stats(fuzz_ledger, &stats);
    assert(error == 0);
    if (stats.journal_sequence < FUZZ_JOURNAL_EVENTS_MAX) return;
    fuzz_ledger_close();
    fuzz_ledger_open();
}

/* Who sends the input: the operator (everything reaches its operation),
 * except one input in FUZZ_OTHER_ROLE_EVERY, which — chosen by a hash of
 * the input, so that a crash replays — comes from another role, scoped to
 * the seeded funder 101 or provider 102, so that authz.c's scope checks
 * (and its denials) are fuzzed too. */
static void fuzz_identity(const uint8_t *data, size_t size, server_identity_t *identity) {
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < size; i++) hash = (hash ^ data[i]) * 16777619u;
    memset(identity, 0, sizeof(*identity));
    identity->role = SERVER_ROLE_OPERATOR;
    snprintf(identity->name, sizeof(identity->name), "fuzz");
    if (hash % FUZZ_OTHER_ROLE_EVERY != 0) return;
    static const server_role_t others[] = {SERVER_ROLE_NONE, SERVER_ROLE_COMPANY,
                                           SERVER_ROLE_APP, SERVER_ROLE_PROVIDER,
                                           SERVER_ROLE_AUDITOR};
    identity->role = others[(hash / FUZZ_OTHER_ROLE_EVERY) % 5];
    if (identity->role == SERVER_ROLE_COMPANY) identity->scope_id = fuzz_id(101);
    if (identity->role == SERVER_ROLE_PROVIDER) identity->scope_id = fuzz_id(102);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Borsellino__V1__Request *decoded = frame_request_decode(data, size, NULL);
    if (decoded == NULL) return 0;
    fuzz_inputs_count++;
    server_request_t request;
    memset(&request, 0, sizeof(request));
    request.request = decoded;
    fuzz_identity(data, size, &request.identity);
    dispatch_context_t context = {fuzz_ledger, &fuzz_config, 1, 1, 0};

    if (dispatch_request_is_exclusive(decoded)) {
        /* As writer.c does: alone, outside any write group. */
        int error = dispatch_request(&context, &request);
        if (error != 0) {
            fprintf(stderr, "fuzz_dispatch: an audit request failed: %s (%d): %s\n",
                    ledger_strerror(error), error, ledger_last_error_message(fuzz_ledger));
            abort();
        }
        dispatch_finish(&request); /* the loop's share, as net.c does */
        response_check(&request);
        free(request.response_frame);
        frame_request_free(decoded);
        return 0;
    }
    int error = ledger_write_begin(fuzz_ledger);
    assert(error == 0);
    error = dispatch_request(&context, &request);
    if (error != 0 && error != LEDGER_ERR_MAP_GROWN) {
        fprintf(stderr, "fuzz_dispatch: dispatch_request failed the group: %s (%d): %s\n",
                ledger_strerror(error), error, ledger_last_error_message(fuzz_ledger));
        abort();
    }
    bool commit = error == 0 && fuzz_inputs_count % FUZZ_COMMIT_EVERY == 0;
    if (commit) {
        error = ledger_write_commit(fuzz_ledger);
        if (error != 0 && error != LEDGER_ERR_MAP_GROWN) {
            fprintf(stderr, "fuzz_dispatch: commit: %s (%d): %s\n", ledger_strerror(error),
                    error, ledger_last_error_message(fuzz_ledger));
            abort();
        }
    } else {
        ledger_write_abort(fuzz_ledger);
    }
    if (error != 0) {
        /* As writer.c does after a failed group: the response says so. */
        dispatch_fail_response(&request, dispatch_status_for_error(error),
                               ledger_strerror(error));
    }
    dispatch_finish(&request); /* the loop's share, as net.c does */
    response_check(&request);
    free(request.response_frame);
    frame_request_free(decoded);
    if (commit) fuzz_ledger_bound();
    return 0;
}
