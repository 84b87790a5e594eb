/*
 * transfer.c — `borsellino transfer create | post | void | lookup`: the
 * transfer operations of the protocol from the command line.
 *
 * Every write goes through one path: a list of rows (one for create, post
 * and void; many from --file) sent in requests of at most --batch-size
 * events, then one result per row printed. A request boundary never cuts a
 * linked chain, so a chain stays all-or-nothing even in a file larger than
 * one request. Ids not given are time-ordered ids, printed with the result.
 * Exit 1 when any row failed; "exists" (an identical transfer is already
 * there) counts as success so that a rerun of the same file is safe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "convert.h"
#include "frame.h"
#include "transfer_file.h"

static const char transfer_usage[] =
    "usage: borsellino transfer create --debit ID --credit ID --amount N --ledger N\n"
    "                                  --code N [--id ID] [--pending [--timeout S]]\n"
    "                                  [--linked] [--user-data-128 N]\n"
    "                                  [--user-data-64 N] [--user-data-32 N]\n"
    "       borsellino transfer create --file F.csv|F.jsonl [--linked] [--pending]\n"
    "                                  [--batch-size N]\n"
    "       borsellino transfer post PENDING_ID [--amount N] [--id ID]\n"
    "       borsellino transfer void PENDING_ID [--id ID]\n"
    "       borsellino transfer lookup ID...\n"
    "\n"
    "  create  move --amount minor units (cents) from the --debit account to the\n"
    "          --credit account, both in --ledger; --code (1..65535) says why.\n"
    "          --pending only reserves the amount until posted or voided (or until\n"
    "          --timeout seconds pass; 0 = never). Prints the transfer id (a new\n"
    "          time-ordered id unless --id is given).\n"
    "          --file sends a batch: one transfer per line, in requests of at most\n"
    "          --batch-size transfers (default and max 8190; linked chains are\n"
    "          never split). --linked links the whole batch into one chain: every\n"
    "          transfer succeeds or none does (then at most --batch-size). --pending\n"
    "          makes every transfer of the file pending.\n"
    "  post    complete a pending transfer: move its amount (or the smaller\n"
    "          --amount; the rest is released).\n"
    "  void    cancel a pending transfer: release its whole amount.\n"
    "  lookup  show transfers (up to 8190 ids); exit 1 if any id is not found.\n"
    "\n"
    "Batch files: fields id, debit_account_id, credit_account_id, amount, ledger,\n"
    "code, flags, pending_id, timeout, user_data_128, user_data_64, user_data_32.\n"
    "A missing field is 0; a missing id is generated. flags are names joined by\n"
    "'|': linked, pending, post_pending, void_pending, balancing_debit,\n"
    "balancing_credit, closing_debit, closing_credit.\n"
    "  CSV (.csv): a header line naming the columns, then one line per transfer;\n"
    "    no quoting; blank lines and lines starting with # are skipped. Example:\n"
    "      debit_account_id,credit_account_id,amount,ledger,code,flags\n"
    "      1,2,1500,978,1,linked\n"
    "      1,3,250,978,1,\n"
    "  JSON Lines (.jsonl): one object per line, ids as strings. Example:\n"
    "      {\"debit_account_id\":\"1\",\"credit_account_id\":\"2\",\"amount\":1500,\n"
    "       \"ledger\":978,\"code\":1,\"flags\":[\"pending\"],\"timeout\":3600}\n"
    "Output: a line per transfer with its result; --json prints one object with\n"
    "counts and a result per transfer.\n"
    "\n"
    "IDs are decimal or 0x-hex, up to 128 bits. Exit 0 when every transfer was\n"
    "created or already existed identically, 1 otherwise.\n"
    "\n";

static int transfer_help(void) {
    fputs(transfer_usage, stdout);
    fputs(cli_net_options_help, stdout);
    return CLI_EXIT_OK;
}

typedef struct transfer_options {
    cli_net_options_t net;
    const char *file_path;
    bool linked;
    bool pending;
    uint32_t batch_size;
    /* Fields given on the command line (single create, post, void). */
    ledger_transfer_t transfer;
    bool id_given;
    uint32_t required_seen; /* bits of TRANSFER_REQUIRED_* seen */
} transfer_options_t;

enum {
    TRANSFER_REQUIRED_DEBIT = 1u << 0,
    TRANSFER_REQUIRED_CREDIT = 1u << 1,
    TRANSFER_REQUIRED_AMOUNT = 1u << 2,
    TRANSFER_REQUIRED_LEDGER = 1u << 3,
    TRANSFER_REQUIRED_CODE = 1u << 4,
    TRANSFER_REQUIRED_ALL = (1u << 5) - 1,
};

/* One row's outcome. */
typedef struct transfer_outcome {
    uint32_t result;
    uint64_t timestamp;
} transfer_outcome_t;

/* ---- options ---- */

/* Parses an option taking a value into `options`; returns false when the
 * option is unknown or the value bad (usage error printed). */
static bool transfer_value_option(const char *command, const char *option, const char *value,
                                  transfer_options_t *options) {
    ledger_transfer_t *transfer = &options->transfer;
    uint64_t number = 0;
    bool ok = true;
    if (strcmp(option, "--id") == 0) ok = cli_parse_u128(value, &transfer->id), options->id_given = true;
    else if (strcmp(option, "--debit") == 0) {
        ok = cli_parse_u128(value, &transfer->debit_account_id);
        options->required_seen |= TRANSFER_REQUIRED_DEBIT;
    } else if (strcmp(option, "--credit") == 0) {
        ok = cli_parse_u128(value, &transfer->credit_account_id);
        options->required_seen |= TRANSFER_REQUIRED_CREDIT;
    } else if (strcmp(option, "--amount") == 0) {
        ok = cli_parse_u64(value, UINT64_MAX, &transfer->amount);
        options->required_seen |= TRANSFER_REQUIRED_AMOUNT;
    } else if (strcmp(option, "--ledger") == 0) {
        ok = cli_parse_u64(value, UINT32_MAX, &number), transfer->ledger = (uint32_t)number;
        options->required_seen |= TRANSFER_REQUIRED_LEDGER;
    } else if (strcmp(option, "--code") == 0) {
        ok = cli_parse_u64(value, UINT16_MAX, &number), transfer->code = (uint16_t)number;
        options->required_seen |= TRANSFER_REQUIRED_CODE;
    } else if (strcmp(option, "--timeout") == 0) {
        ok = cli_parse_u64(value, UINT32_MAX, &number), transfer->timeout = (uint32_t)number;
    } else if (strcmp(option, "--user-data-128") == 0) ok = cli_parse_u128(value, &transfer->user_data_128);
    else if (strcmp(option, "--user-data-64") == 0) ok = cli_parse_u64(value, UINT64_MAX, &transfer->user_data_64);
    else if (strcmp(option, "--user-data-32") == 0) {
        ok = cli_parse_u64(value, UINT32_MAX, &number), transfer->user_data_32 = (uint32_t)number;
    } else if (strcmp(option, "--file") == 0) options->file_path = value;
    else if (strcmp(option, "--batch-size") == 0) {
        ok = cli_parse_u64(value, LEDGER_BATCH_EVENTS_MAX, &number) && number > 0;
        options->batch_size = (uint32_t)number;
    } else {
        cli_usage_error(command, "unknown option %s", option);
        return false;
    }
    if (!ok) cli_usage_error(command, "bad value for %s: %s", option, value);
    return ok;
}

/* Parses the arguments of any transfer action. `positional` receives the
 * one non-option argument (PENDING_ID for post/void), if any. Returns -1 to
 * go on, or an exit code. */
static int transfer_parse(int argc, char **argv, const char *command, transfer_options_t *options,
                          const char **positional) {
    memset(options, 0, sizeof *options);
    cli_net_options_init(&options->net);
    options->batch_size = LEDGER_BATCH_EVENTS_MAX;
    *positional = NULL;
    for (int i = 1; i < argc; i++) {
        int common = cli_net_option(argc, argv, &i, command, &options->net);
        if (common < 0) return CLI_EXIT_USAGE;
        if (common > 0) continue;
        const char *option = argv[i];
        if (strcmp(option, "--help") == 0 || strcmp(option, "-h") == 0) return transfer_help();
        if (strcmp(option, "--linked") == 0) { options->linked = true; continue; }
        if (strcmp(option, "--pending") == 0) { options->pending = true; continue; }
        if (option[0] != '-' && *positional == NULL) { *positional = option; continue; }
        if (option[0] != '-') return cli_usage_error(command, "unexpected argument %s", option);
        if (i + 1 >= argc) return cli_usage_error(command, "%s needs a value", option);
        if (!transfer_value_option(command, option, argv[++i], options)) return CLI_EXIT_USAGE;
    }
    return -1;
}

/* ---- sending rows ---- */

/* Where the request starting at `start` ends: at most batch_size rows, and
 * never inside a linked chain (it ends before the chain that would be cut).
 * Returns `start` when one chain alone is longer than batch_size. */
static size_t transfer_chunk_end(const transfer_file_row_t *rows, size_t start, size_t count,
                                 uint32_t batch_size) {
    size_t end = start + batch_size < count ? start + batch_size : count;
    if (end == count) return end;
    size_t chain_start = end;
    while (chain_start > start && (rows[chain_start - 1].transfer.flags & LEDGER_TRANSFER_LINKED)) {
        chain_start--;
    }
    return chain_start;
}

/* Sends rows[start, end) as one create_transfers request; fills their
 * outcomes. Returns 0 or an exit code (failure printed). */
static int transfer_send_chunk(client_t *client, const cli_net_options_t *options,
                               const char *command, const transfer_file_row_t *rows,
                               size_t start, size_t end, transfer_outcome_t *outcomes) {
    static Borsellino__V1__Transfer proto[LEDGER_BATCH_EVENTS_MAX];
    static Borsellino__V1__Transfer *pointers[LEDGER_BATCH_EVENTS_MAX];
    static convert_transfer_storage_t storage[LEDGER_BATCH_EVENTS_MAX];
    size_t count = end - start;
    for (size_t i = 0; i < count; i++) {
        convert_transfer_to_proto(&rows[start + i].transfer, &proto[i], &storage[i]);
        pointers[i] = &proto[i];
    }
    Borsellino__V1__CreateTransfersRequest create = BORSELLINO__V1__CREATE_TRANSFERS_REQUEST__INIT;
    create.n_transfers = count;
    create.transfers = pointers;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS;
    request.create_transfers = &create;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_call(client, options, command, &request,
                             BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS, &response);
    if (exit_code != 0) return exit_code;
    if (response->create_transfers->n_results != count) {
        exit_code = cli_fail(options, command, "protocol_error",
                             "the server returned %zu results for %zu transfers",
                             response->create_transfers->n_results, count);
    } else {
        for (size_t i = 0; i < count; i++) {
            outcomes[start + i].result = response->create_transfers->results[i]->result;
            outcomes[start + i].timestamp = response->create_transfers->results[i]->timestamp;
        }
    }
    frame_response_free(response);
    return exit_code;
}

/* Sends every row, request by request. Returns 0 or an exit code. The
 * request boundaries are all checked before anything is sent, so a chain
 * too long for one request refuses the whole file. */
static int transfer_send_rows(const transfer_options_t *options, const char *command,
                              const transfer_file_row_t *rows, size_t count,
                              transfer_outcome_t *outcomes) {
    for (size_t start = 0; start < count;) {
        size_t end = transfer_chunk_end(rows, start, count, options->batch_size);
        if (end == start) {
            return cli_fail(&options->net, command, "chain_too_long",
                            "line %u: a linked chain longer than --batch-size %u cannot be "
                            "sent in one request; nothing was sent",
                            rows[start].line, options->batch_size);
        }
        start = end;
    }
    client_t *client = NULL;
    int exit_code = cli_connect(&options->net, command, &client);
    for (size_t start = 0; exit_code == 0 && start < count;) {
        size_t end = transfer_chunk_end(rows, start, count, options->batch_size);
        exit_code = transfer_send_chunk(client, &options->net, command, rows, start, end, outcomes);
        start = end;
    }
    client_close(client);
    return exit_code;
}

/* ---- printing outcomes ---- */

static void transfer_print_json(const transfer_file_row_t *rows, const transfer_outcome_t *outcomes,
                                size_t count, const size_t tally[3]) {
    printf("{\"transfers\":%zu,\"created\":%zu,\"exists\":%zu,\"failed\":%zu,\"results\":[", count,
           tally[0], tally[1], tally[2]);
    for (size_t i = 0; i < count; i++) {
        char id[CLI_U128_TEXT_SIZE];
        cli_format_u128(rows[i].transfer.id, id);
        printf("%s{\"line\":%u,\"id\":\"%s\",\"id_generated\":%s,\"result\":\"%s\",\"message\":",
               i ? "," : "", rows[i].line, id, rows[i].id_generated ? "true" : "false",
               ledger_result_name(outcomes[i].result));
        cli_json_string(stdout, cli_result_message(outcomes[i].result));
        printf(",\"timestamp\":%llu}", (unsigned long long)outcomes[i].timestamp);
    }
    fputs("]}\n", stdout);
}

/* Prints the outcome of every row; returns the exit code. `what` names a
 * one-row action ("created transfer", "posted pending transfer"...). */
static int transfer_print_outcomes(const transfer_options_t *options, const char *command,
                                   const char *what, const transfer_file_row_t *rows,
                                   const transfer_outcome_t *outcomes, size_t count) {
    size_t tally[3] = {0, 0, 0}; /* created, exists, failed */
    for (size_t i = 0; i < count; i++) {
        uint32_t result = outcomes[i].result;
        tally[result == LEDGER_RESULT_OK ? 0 : result == LEDGER_RESULT_EXISTS ? 1 : 2]++;
        char id[CLI_U128_TEXT_SIZE];
        cli_format_id(rows[i].transfer.id, id);
        if (!cli_result_succeeded(result)) {
            char where[32] = "";
            if (options->file_path) snprintf(where, sizeof where, "line %u: ", rows[i].line);
            fprintf(stderr, "borsellino %s: %stransfer %s failed: %s (%s)\n", command, where, id,
                    cli_result_message(result), ledger_result_name(result));
        }
        if (options->net.json) continue;
        if (options->file_path == NULL && result == LEDGER_RESULT_OK) printf("%s %s\n", what, id);
        else if (options->file_path == NULL && result == LEDGER_RESULT_EXISTS) {
            printf("transfer %s %s\n", id, cli_result_message(result));
        } else if (options->file_path != NULL) {
            printf("line %-6u %-34s %s\n", rows[i].line, id, ledger_result_name(result));
        }
    }
    if (options->net.json) transfer_print_json(rows, outcomes, count, tally);
    else if (options->file_path != NULL) {
        printf("%zu transfers: %zu created, %zu already existed, %zu failed\n", count, tally[0],
               tally[1], tally[2]);
    }
    return tally[2] == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* Sends the rows and prints their outcomes; frees nothing. */
static int transfer_run(const transfer_options_t *options, const char *command, const char *what,
                        transfer_file_row_t *rows, size_t count) {
    if (options->linked) {
        if (count > options->batch_size) {
            return cli_usage_error(command, "--linked batches hold at most --batch-size (%u) "
                                   "transfers; this one has %zu", options->batch_size, count);
        }
        for (size_t i = 0; i + 1 < count; i++) rows[i].transfer.flags |= LEDGER_TRANSFER_LINKED;
        rows[count - 1].transfer.flags &= (uint16_t)~LEDGER_TRANSFER_LINKED;
    }
    transfer_outcome_t *outcomes = calloc(count, sizeof *outcomes);
    if (outcomes == NULL) return cli_fail(&options->net, command, "no_memory", "out of memory");
    int exit_code = transfer_send_rows(options, command, rows, count, outcomes);
    if (exit_code == 0) exit_code = transfer_print_outcomes(options, command, what, rows, outcomes, count);
    free(outcomes);
    return exit_code;
}

/* ---- actions ---- */

static int transfer_create(int argc, char **argv) {
    const char *command = "transfer create";
    transfer_options_t options;
    const char *positional = NULL;
    int parsed = transfer_parse(argc, argv, command, &options, &positional);
    if (parsed >= 0) return parsed;
    if (positional != NULL) return cli_usage_error(command, "unexpected argument %s", positional);
    if (options.file_path != NULL) {
        if (options.required_seen != 0 || options.id_given) {
            return cli_usage_error(command, "--file takes the transfers' fields from the file only");
        }
        transfer_file_row_t *rows = NULL;
        size_t count = 0;
        char error[TRANSFER_FILE_ERROR_SIZE];
        if (!transfer_file_read(options.file_path, &rows, &count, error)) {
            return cli_fail(&options.net, command, "bad_file", "%s", error);
        }
        for (size_t i = 0; i < count && options.pending; i++) {
            rows[i].transfer.flags |= LEDGER_TRANSFER_PENDING;
        }
        int exit_code = transfer_run(&options, command, NULL, rows, count);
        free(rows);
        return exit_code;
    }
    if (options.required_seen != TRANSFER_REQUIRED_ALL) {
        return cli_usage_error(command, "--debit, --credit, --amount, --ledger and --code are "
                               "required (or --file)");
    }
    if (options.transfer.timeout != 0 && !options.pending) {
        return cli_usage_error(command, "--timeout applies to --pending transfers only");
    }
    transfer_file_row_t row = {.transfer = options.transfer, .line = 0};
    if (options.pending) row.transfer.flags |= LEDGER_TRANSFER_PENDING;
    row.id_generated = !options.id_given;
    if (!options.id_given) row.transfer.id = ledger_id_time_ordered();
    return transfer_run(&options, command,
                        options.pending ? "created pending transfer" : "created transfer", &row, 1);
}

/* post and void: one transfer naming the pending one. */
static int transfer_resolve(int argc, char **argv, bool post) {
    const char *command = post ? "transfer post" : "transfer void";
    transfer_options_t options;
    const char *positional = NULL;
    int parsed = transfer_parse(argc, argv, command, &options, &positional);
    if (parsed >= 0) return parsed;
    if (positional == NULL) return cli_usage_error(command, "give the pending transfer's id");
    uint32_t allowed = post ? TRANSFER_REQUIRED_AMOUNT : 0;
    if ((options.required_seen & ~allowed) != 0 || options.file_path || options.pending ||
        options.transfer.timeout != 0) {
        return cli_usage_error(command, "only %s--id are allowed here", post ? "--amount and " : "");
    }
    transfer_file_row_t row = {.transfer = options.transfer};
    if (!cli_parse_u128(positional, &row.transfer.pending_id)) {
        return cli_usage_error(command, "%s is not an id", positional);
    }
    row.transfer.flags = post ? LEDGER_TRANSFER_POST_PENDING : LEDGER_TRANSFER_VOID_PENDING;
    row.id_generated = !options.id_given;
    if (!options.id_given) row.transfer.id = ledger_id_time_ordered();
    return transfer_run(&options, command, post ? "posted pending transfer with transfer"
                                                : "voided pending transfer with transfer",
                        &row, 1);
}

/* ---- lookup ---- */

static void transfer_print_table(const Borsellino__V1__LookupTransfersResponse *found) {
    printf("%-34s %-34s %-34s %15s %8s %5s %-30s %-34s %s\n", "ID", "DEBIT_ACCOUNT",
           "CREDIT_ACCOUNT", "AMOUNT", "LEDGER", "CODE", "TIMESTAMP", "PENDING_ID", "FLAGS");
    for (size_t i = 0; i < found->n_transfers; i++) {
        ledger_transfer_t transfer;
        convert_transfer_from_proto(found->transfers[i], &transfer);
        char id[CLI_U128_TEXT_SIZE], debit[CLI_U128_TEXT_SIZE], credit[CLI_U128_TEXT_SIZE];
        char pending[CLI_U128_TEXT_SIZE], when[CLI_TIMESTAMP_TEXT_SIZE], flags[CLI_FLAGS_TEXT_SIZE];
        cli_format_id(transfer.id, id);
        cli_format_id(transfer.debit_account_id, debit);
        cli_format_id(transfer.credit_account_id, credit);
        if (ledger_u128_is_zero(transfer.pending_id)) snprintf(pending, sizeof pending, "-");
        else cli_format_id(transfer.pending_id, pending);
        cli_format_timestamp(transfer.timestamp, when);
        cli_format_transfer_flags(transfer.flags, flags);
        printf("%-34s %-34s %-34s %15llu %8u %5u %-30s %-34s %s\n", id, debit, credit,
               (unsigned long long)transfer.amount, transfer.ledger, transfer.code, when,
               pending, flags);
    }
}

static int transfer_lookup_print(const cli_net_options_t *options, const ledger_u128_t *ids,
                                 size_t count, const Borsellino__V1__LookupTransfersResponse *found) {
    size_t missing = 0;
    for (size_t i = 0; i < count; i++) {
        bool seen = false;
        for (size_t j = 0; j < found->n_transfers && !seen; j++) {
            seen = ledger_u128_equal(ids[i], convert_u128_from_proto(found->transfers[j]->id));
        }
        if (seen) continue;
        char id[CLI_U128_TEXT_SIZE];
        cli_format_id(ids[i], id);
        fprintf(stderr, "borsellino transfer lookup: no transfer has id %s\n", id);
        missing++;
    }
    if (options->json) {
        fputs("{\"transfers\":[", stdout);
        for (size_t i = 0; i < found->n_transfers; i++) {
            ledger_transfer_t transfer;
            convert_transfer_from_proto(found->transfers[i], &transfer);
            if (i > 0) fputc(',', stdout);
            cli_json_transfer(stdout, &transfer);
        }
        printf("],\"not_found\":%zu}\n", missing);
    } else if (found->n_transfers > 0) {
        transfer_print_table(found);
    }
    return missing == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

static int transfer_lookup(int argc, char **argv) {
    static ledger_u128_t ids[LEDGER_LOOKUP_IDS_MAX];
    cli_net_options_t options;
    size_t count = 0;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_lookup_ids_call(argc, argv, "transfer lookup", transfer_help, true,
                                        &options, ids, &count, &response);
    if (exit_code >= 0) return exit_code;
    exit_code = transfer_lookup_print(&options, ids, count, response->lookup_transfers);
    frame_response_free(response);
    return exit_code;
}

int cli_transfer(int argc, char **argv) {
    if (argc < 2) {
        fputs(transfer_usage, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *action = argv[1];
    if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) return transfer_help();
    if (strcmp(action, "create") == 0) return transfer_create(argc - 1, argv + 1);
    if (strcmp(action, "post") == 0) return transfer_resolve(argc - 1, argv + 1, true);
    if (strcmp(action, "void") == 0) return transfer_resolve(argc - 1, argv + 1, false);
    if (strcmp(action, "lookup") == 0) return transfer_lookup(argc - 1, argv + 1);
    return cli_usage_error("transfer", "unknown action %s (create, post, void, lookup)", action);
}
