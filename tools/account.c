/*
 * account.c — `borsellino account create | lookup | history | balance`:
 * the account operations of the protocol from the command line.
 *
 * Each subcommand is one request on one connection: parse the options,
 * build the request, call, print (a table, or JSON with --json). A create
 * without --id gets a time-ordered id, printed so the user can refer to the
 * account later. The exit code is 0 only when the operation did what was
 * asked: a refused create, an id not found or a bad status give 1.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "convert.h"
#include "frame.h"

enum {
    /* Default number of history entries shown. */
    ACCOUNT_HISTORY_LIMIT_DEFAULT = 100,
};

static const char account_usage[] =
    "usage: borsellino account create --ledger N --code N [--id ID] [--flags F,...]\n"
    "                                 [--user-data-128 N] [--user-data-64 N]\n"
    "                                 [--user-data-32 N]\n"
    "       borsellino account lookup ID...\n"
    "       borsellino account history ID [--limit N] [--reversed] [--from TS] [--to TS]\n"
    "                                     [--debits | --credits]\n"
    "       borsellino account balance ID [--at TS]\n"
    "\n"
    "  create   create one account; prints its id (a new time-ordered id unless\n"
    "           --id is given). --ledger is the currency or book (e.g. 978 for\n"
    "           EUR), --code the account kind (1..65535). Flags (comma-separated):\n"
    "           debits_must_not_exceed_credits (no overdraft),\n"
    "           credits_must_not_exceed_debits, history. Creating an account that\n"
    "           already exists with the same fields succeeds (\"exists\").\n"
    "  lookup   show accounts and their balances (up to 8190 ids); exit 1 if\n"
    "           any id is not found.\n"
    "  history  the transfers that moved the account and its balances after each,\n"
    "           oldest first (--reversed: newest first), at most --limit entries\n"
    "           (default 100, max 8190), within [--from, --to]; --debits or\n"
    "           --credits keeps only one side.\n"
    "  balance  the account's balances now, or right after the last event at or\n"
    "           before --at.\n"
    "\n"
    "IDs are decimal or 0x-hex, up to 128 bits. TS is nanoseconds since the Unix\n"
    "epoch or a UTC time such as 2025-01-31T12:00:00Z or 2025-01-31.\n"
    "Amounts are integers in minor units (cents).\n"
    "\n";

static int account_help(void) {
    fputs(account_usage, stdout);
    fputs(cli_net_options_help, stdout);
    return CLI_EXIT_OK;
}

/* ---- create ---- */

/* Parses create's own options into `account`; returns -1 to go on, or an
 * exit code. */
static int account_create_parse(int argc, char **argv, cli_net_options_t *options,
                                ledger_account_t *account, bool *id_given) {
    const char *command = "account create";
    bool ledger_given = false, code_given = false;
    for (int i = 1; i < argc; i++) {
        int common = cli_net_option(argc, argv, &i, command, options);
        if (common < 0) return CLI_EXIT_USAGE;
        if (common > 0) continue;
        const char *option = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(option, "--help") == 0) return account_help();
        if (value == NULL) return cli_usage_error(command, "unknown option or missing value: %s", option);
        i++;
        uint64_t number = 0;
        bool ok = true;
        if (strcmp(option, "--id") == 0) {
            ok = cli_parse_u128(value, &account->id);
            *id_given = true;
        } else if (strcmp(option, "--ledger") == 0) {
            ok = cli_parse_u64(value, UINT32_MAX, &number);
            account->ledger = (uint32_t)number;
            ledger_given = true;
        } else if (strcmp(option, "--code") == 0) {
            ok = cli_parse_u64(value, UINT16_MAX, &number);
            account->code = (uint16_t)number;
            code_given = true;
        } else if (strcmp(option, "--flags") == 0) {
            if (!cli_parse_account_flags(value, &account->flags)) {
                return cli_usage_error(command, "unknown flag in %s; flags are: %s", value,
                                       cli_account_flag_names);
            }
        } else if (strcmp(option, "--user-data-128") == 0) {
            ok = cli_parse_u128(value, &account->user_data_128);
        } else if (strcmp(option, "--user-data-64") == 0) {
            ok = cli_parse_u64(value, UINT64_MAX, &account->user_data_64);
        } else if (strcmp(option, "--user-data-32") == 0) {
            ok = cli_parse_u64(value, UINT32_MAX, &number);
            account->user_data_32 = (uint32_t)number;
        } else {
            return cli_usage_error(command, "unknown option %s", option);
        }
        if (!ok) return cli_usage_error(command, "bad value for %s: %s", option, value);
    }
    if (!ledger_given || !code_given) return cli_usage_error(command, "--ledger and --code are required");
    return -1;
}

static void account_print_result(const cli_net_options_t *options, ledger_u128_t id,
                                 const Borsellino__V1__EventResult *result) {
    char id_text[CLI_U128_TEXT_SIZE];
    if (options->json) {
        cli_format_u128(id, id_text);
        printf("{\"id\":\"%s\",\"result\":\"%s\",\"message\":", id_text,
               ledger_result_name(result->result));
        cli_json_string(stdout, cli_result_message(result->result));
        printf(",\"timestamp\":%llu}\n", (unsigned long long)result->timestamp);
        return;
    }
    cli_format_id(id, id_text);
    uint32_t code = (uint32_t)result->result;
    if (code == LEDGER_RESULT_OK) {
        printf("created account %s\n", id_text);
    } else if (code == LEDGER_RESULT_EXISTS) {
        printf("account %s %s\n", id_text, cli_result_message(code));
    }
}

static int account_create(int argc, char **argv) {
    const char *command = "account create";
    cli_net_options_t options;
    cli_net_options_init(&options);
    ledger_account_t account = {0};
    bool id_given = false;
    int parsed = account_create_parse(argc, argv, &options, &account, &id_given);
    if (parsed >= 0) return parsed;
    if (!id_given) account.id = ledger_id_time_ordered();

    Borsellino__V1__Account proto_account;
    convert_account_storage_t storage;
    convert_account_to_proto(&account, &proto_account, &storage);
    Borsellino__V1__Account *accounts[1] = {&proto_account};
    Borsellino__V1__CreateAccountsRequest create = BORSELLINO__V1__CREATE_ACCOUNTS_REQUEST__INIT;
    create.n_accounts = 1;
    create.accounts = accounts;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS;
    request.create_accounts = &create;

    client_t *client = NULL;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_connect(&options, command, &client);
    if (exit_code == 0) {
        exit_code = cli_call(client, &options, command, &request,
                             BORSELLINO__V1__RESPONSE__RESULT_CREATE_ACCOUNTS, &response);
    }
    if (exit_code == 0 && response->create_accounts->n_results != 1) {
        exit_code = cli_fail(&options, command, "protocol_error",
                             "the server returned %zu results for one account",
                             response->create_accounts->n_results);
    } else if (exit_code == 0) {
        const Borsellino__V1__EventResult *result = response->create_accounts->results[0];
        account_print_result(&options, account.id, result);
        if (!cli_result_succeeded(result->result)) {
            char id_text[CLI_U128_TEXT_SIZE];
            cli_format_id(account.id, id_text);
            fprintf(stderr, "borsellino %s: account %s not created: %s (%s)\n", command,
                    id_text, cli_result_message(result->result),
                    ledger_result_name(result->result));
            exit_code = CLI_EXIT_FAILURE;
        }
    }
    frame_response_free(response);
    client_close(client);
    return exit_code;
}

/* ---- lookup ---- */

static void account_print_table(const ledger_account_t *accounts, size_t count) {
    printf("%-34s %8s %5s %15s %15s %15s %15s  %s\n", "ID", "LEDGER", "CODE",
           "DEBITS_POSTED", "CREDITS_POSTED", "DEBITS_PENDING", "CREDITS_PENDING", "FLAGS");
    for (size_t i = 0; i < count; i++) {
        const ledger_account_t *account = &accounts[i];
        char id[CLI_U128_TEXT_SIZE], flags[CLI_FLAGS_TEXT_SIZE];
        cli_format_id(account->id, id);
        cli_format_account_flags(account->flags, flags);
        printf("%-34s %8u %5u %15llu %15llu %15llu %15llu  %s\n", id, account->ledger,
               account->code, (unsigned long long)account->debits_posted,
               (unsigned long long)account->credits_posted,
               (unsigned long long)account->debits_pending,
               (unsigned long long)account->credits_pending, flags);
    }
}

/* Prints what was found and reports the ids that were not; returns the
 * exit code. */
static int account_lookup_print(const cli_net_options_t *options, const ledger_u128_t *ids,
                                size_t ids_count, const Borsellino__V1__LookupAccountsResponse *found) {
    static ledger_account_t accounts[LEDGER_LOOKUP_IDS_MAX];
    size_t count = found->n_accounts < LEDGER_LOOKUP_IDS_MAX ? found->n_accounts
                                                             : LEDGER_LOOKUP_IDS_MAX;
    for (size_t i = 0; i < count; i++) convert_account_from_proto(found->accounts[i], &accounts[i]);
    size_t missing = 0;
    for (size_t i = 0; i < ids_count; i++) {
        bool seen = false;
        for (size_t j = 0; j < count && !seen; j++) seen = ledger_u128_equal(ids[i], accounts[j].id);
        if (seen) continue;
        char id[CLI_U128_TEXT_SIZE];
        cli_format_id(ids[i], id);
        fprintf(stderr, "borsellino account lookup: no account has id %s\n", id);
        missing++;
    }
    if (options->json) {
        fputs("{\"accounts\":[", stdout);
        for (size_t i = 0; i < count; i++) {
            if (i > 0) fputc(',', stdout);
            cli_json_account(stdout, &accounts[i]);
        }
        printf("],\"not_found\":%zu}\n", missing);
    } else if (count > 0) {
        account_print_table(accounts, count);
    }
    return missing == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int cli_parse_lookup_ids(int argc, char **argv, const char *command, int (*help)(void),
                         cli_net_options_t *options, ledger_u128_t *ids, size_t *count_out) {
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        int common = cli_net_option(argc, argv, &i, command, options);
        if (common < 0) return CLI_EXIT_USAGE;
        if (common > 0) continue;
        if (strcmp(argv[i], "--help") == 0) return help();
        if (count == LEDGER_LOOKUP_IDS_MAX) {
            return cli_usage_error(command, "at most %d ids at once", LEDGER_LOOKUP_IDS_MAX);
        }
        if (!cli_parse_u128(argv[i], &ids[count])) {
            return cli_usage_error(command, "%s is not an id (decimal or 0x-hex)", argv[i]);
        }
        count++;
    }
    if (count == 0) return cli_usage_error(command, "give at least one id");
    *count_out = count;
    return -1;
}

/* The common part of `account lookup` and `transfer lookup` (cli.h). */
int cli_lookup_ids_call(int argc, char **argv, const char *command, int (*help)(void),
                        bool transfers, cli_net_options_t *options, ledger_u128_t *ids,
                        size_t *count_out, Borsellino__V1__Response **response_out) {
    static Borsellino__V1__U128 proto_ids[LEDGER_LOOKUP_IDS_MAX];
    static Borsellino__V1__U128 *proto_id_pointers[LEDGER_LOOKUP_IDS_MAX];
    cli_net_options_init(options);
    *response_out = NULL;
    int parsed = cli_parse_lookup_ids(argc, argv, command, help, options, ids, count_out);
    if (parsed >= 0) return parsed;
    for (size_t i = 0; i < *count_out; i++) {
        convert_u128_to_proto(ids[i], &proto_ids[i]);
        proto_id_pointers[i] = &proto_ids[i];
    }
    Borsellino__V1__LookupAccountsRequest accounts = BORSELLINO__V1__LOOKUP_ACCOUNTS_REQUEST__INIT;
    Borsellino__V1__LookupTransfersRequest transfers_lookup =
        BORSELLINO__V1__LOOKUP_TRANSFERS_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    int expected = 0;
    if (transfers) {
        transfers_lookup.n_ids = *count_out;
        transfers_lookup.ids = proto_id_pointers;
        request.op_case = BORSELLINO__V1__REQUEST__OP_LOOKUP_TRANSFERS;
        request.lookup_transfers = &transfers_lookup;
        expected = BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_TRANSFERS;
    } else {
        accounts.n_ids = *count_out;
        accounts.ids = proto_id_pointers;
        request.op_case = BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS;
        request.lookup_accounts = &accounts;
        expected = BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_ACCOUNTS;
    }
    client_t *client = NULL;
    int exit_code = cli_connect(options, command, &client);
    if (exit_code == 0) exit_code = cli_call(client, options, command, &request, expected, response_out);
    client_close(client);
    return exit_code == 0 ? -1 : exit_code;
}

static int account_lookup(int argc, char **argv) {
    static ledger_u128_t ids[LEDGER_LOOKUP_IDS_MAX];
    cli_net_options_t options;
    size_t count = 0;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_lookup_ids_call(argc, argv, "account lookup", account_help, false,
                                        &options, ids, &count, &response);
    if (exit_code >= 0) return exit_code;
    exit_code = account_lookup_print(&options, ids, count, response->lookup_accounts);
    frame_response_free(response);
    return exit_code;
}

/* ---- history ---- */

/* Parses history's options; returns -1 to go on or an exit code. */
static int account_history_parse(int argc, char **argv, cli_net_options_t *options,
                                 Borsellino__V1__AccountHistoryRequest *history,
                                 ledger_u128_t *id_out) {
    const char *command = "account history";
    bool id_given = false;
    history->limit = ACCOUNT_HISTORY_LIMIT_DEFAULT;
    history->flags = LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS;
    for (int i = 1; i < argc; i++) {
        int common = cli_net_option(argc, argv, &i, command, options);
        if (common < 0) return CLI_EXIT_USAGE;
        if (common > 0) continue;
        const char *option = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t number = 0;
        bool ok = true;
        if (strcmp(option, "--help") == 0) return account_help();
        if (strcmp(option, "--reversed") == 0) { history->flags |= LEDGER_HISTORY_REVERSED; continue; }
        if (strcmp(option, "--debits") == 0) { history->flags &= ~(uint32_t)LEDGER_HISTORY_CREDITS; continue; }
        if (strcmp(option, "--credits") == 0) { history->flags &= ~(uint32_t)LEDGER_HISTORY_DEBITS; continue; }
        if (option[0] != '-' && !id_given) {
            if (!cli_parse_u128(option, id_out)) return cli_usage_error(command, "%s is not an id", option);
            id_given = true;
            continue;
        }
        if (value == NULL) return cli_usage_error(command, "unknown option or missing value: %s", option);
        i++;
        if (strcmp(option, "--limit") == 0) {
            ok = cli_parse_u64(value, LEDGER_HISTORY_LIMIT_MAX, &number) && number > 0;
            history->limit = (uint32_t)number;
        } else if (strcmp(option, "--from") == 0) {
            ok = cli_parse_timestamp(value, &history->timestamp_min);
        } else if (strcmp(option, "--to") == 0) {
            ok = cli_parse_timestamp(value, &history->timestamp_max);
        } else {
            return cli_usage_error(command, "unknown option %s", option);
        }
        if (!ok) return cli_usage_error(command, "bad value for %s: %s", option, value);
    }
    if (!id_given) return cli_usage_error(command, "give the account id");
    if ((history->flags & (LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS)) == 0) {
        return cli_usage_error(command, "--debits and --credits together mean both: give at most one");
    }
    return -1;
}

/* A short word for what a history entry is. */
static const char *account_event_word(const ledger_history_entry_t *entry) {
    if (entry->kind == LEDGER_EVENT_EXPIRY) return "expiry";
    if (entry->kind == LEDGER_EVENT_ACCOUNT) return "account";
    if (entry->transfer.flags & LEDGER_TRANSFER_PENDING) return "pending";
    if (entry->transfer.flags & LEDGER_TRANSFER_POST_PENDING) return "post";
    if (entry->transfer.flags & LEDGER_TRANSFER_VOID_PENDING) return "void";
    return "transfer";
}

static void account_history_print_entry(ledger_u128_t account_id, const ledger_history_entry_t *entry) {
    char when[CLI_TIMESTAMP_TEXT_SIZE], id[CLI_U128_TEXT_SIZE], other[CLI_U128_TEXT_SIZE];
    const ledger_transfer_t *transfer = &entry->transfer;
    bool debit = ledger_u128_equal(transfer->debit_account_id, account_id);
    cli_format_timestamp(transfer->timestamp, when);
    cli_format_id(ledger_u128_is_zero(transfer->id) ? transfer->pending_id : transfer->id, id);
    cli_format_id(debit ? transfer->credit_account_id : transfer->debit_account_id, other);
    printf("%-30s %-8s %-34s %-6s %15llu %-34s %15llu %15llu %15llu %15llu\n", when,
           account_event_word(entry), id, debit ? "debit" : "credit",
           (unsigned long long)transfer->amount, other,
           (unsigned long long)entry->balance_after.debits_posted,
           (unsigned long long)entry->balance_after.credits_posted,
           (unsigned long long)entry->balance_after.debits_pending,
           (unsigned long long)entry->balance_after.credits_pending);
}

static void account_history_print(const cli_net_options_t *options, ledger_u128_t account_id,
                                  const Borsellino__V1__AccountHistoryResponse *history) {
    if (options->json) fputs("{\"entries\":[", stdout);
    else if (history->n_entries == 0) printf("no events in that range\n");
    else {
        printf("%-30s %-8s %-34s %-6s %15s %-34s %15s %15s %15s %15s\n", "TIMESTAMP", "EVENT",
               "TRANSFER", "SIDE", "AMOUNT", "OTHER_ACCOUNT", "DEBITS_POSTED",
               "CREDITS_POSTED", "DEBITS_PENDING", "CREDITS_PENDING");
    }
    for (size_t i = 0; i < history->n_entries; i++) {
        const Borsellino__V1__HistoryEntry *proto = history->entries[i];
        ledger_history_entry_t entry = {.kind = proto->kind};
        if (proto->transfer != NULL) convert_transfer_from_proto(proto->transfer, &entry.transfer);
        convert_balance_from_proto(proto->balance_after, &entry.balance_after);
        if (!options->json) {
            account_history_print_entry(account_id, &entry);
            continue;
        }
        printf("%s{\"kind\":\"%s\",\"event\":\"%s\",\"transfer\":", i ? "," : "",
               entry.kind == LEDGER_EVENT_EXPIRY ? "expiry" : "transfer",
               account_event_word(&entry));
        cli_json_transfer(stdout, &entry.transfer);
        fputs(",\"balance_after\":{", stdout);
        cli_json_balance_fields(stdout, &entry.balance_after);
        fputs("}}", stdout);
    }
    if (options->json) fputs("]}\n", stdout);
}

static int account_history(int argc, char **argv) {
    const char *command = "account history";
    cli_net_options_t options;
    cli_net_options_init(&options);
    Borsellino__V1__AccountHistoryRequest history = BORSELLINO__V1__ACCOUNT_HISTORY_REQUEST__INIT;
    ledger_u128_t account_id = {0, 0};
    int parsed = account_history_parse(argc, argv, &options, &history, &account_id);
    if (parsed >= 0) return parsed;
    Borsellino__V1__U128 proto_id;
    convert_u128_to_proto(account_id, &proto_id);
    history.account_id = &proto_id;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_ACCOUNT_HISTORY;
    request.account_history = &history;

    client_t *client = NULL;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_connect(&options, command, &client);
    if (exit_code == 0) {
        exit_code = cli_call(client, &options, command, &request,
                             BORSELLINO__V1__RESPONSE__RESULT_ACCOUNT_HISTORY, &response);
    }
    if (exit_code == 0) account_history_print(&options, account_id, response->account_history);
    frame_response_free(response);
    client_close(client);
    return exit_code;
}

/* ---- balance ---- */

static void account_balance_print(const cli_net_options_t *options, ledger_u128_t id,
                                  bool at_given, uint64_t at, const ledger_balance_t *balance) {
    char id_text[CLI_U128_TEXT_SIZE], when[CLI_TIMESTAMP_TEXT_SIZE];
    if (options->json) {
        cli_format_u128(id, id_text);
        printf("{\"id\":\"%s\",", id_text);
        if (at_given) printf("\"at\":%llu,", (unsigned long long)at);
        cli_json_balance_fields(stdout, balance);
        fputs("}\n", stdout);
        return;
    }
    cli_format_id(id, id_text);
    cli_format_timestamp(at, when);
    printf("account %s%s%s\n", id_text, at_given ? " at " : " now", at_given ? when : "");
    printf("  %-8s %15s %15s\n", "", "POSTED", "PENDING");
    printf("  %-8s %15llu %15llu\n", "debits", (unsigned long long)balance->debits_posted,
           (unsigned long long)balance->debits_pending);
    printf("  %-8s %15llu %15llu\n", "credits", (unsigned long long)balance->credits_posted,
           (unsigned long long)balance->credits_pending);
    uint64_t credits = balance->credits_posted, debits = balance->debits_posted;
    printf("  net posted (credits - debits): %s%llu\n", credits >= debits ? "" : "-",
           (unsigned long long)(credits >= debits ? credits - debits : debits - credits));
}

/* Asks for the current balances (lookup) or those at a time (balance_at). */
static int account_balance_fetch(client_t *client, const cli_net_options_t *options,
                                 ledger_u128_t id, bool at_given, uint64_t at,
                                 ledger_balance_t *balance) {
    const char *command = "account balance";
    Borsellino__V1__U128 proto_id;
    Borsellino__V1__U128 *ids[1] = {&proto_id};
    convert_u128_to_proto(id, &proto_id);
    Borsellino__V1__LookupAccountsRequest lookup = BORSELLINO__V1__LOOKUP_ACCOUNTS_REQUEST__INIT;
    Borsellino__V1__BalanceAtRequest balance_at = BORSELLINO__V1__BALANCE_AT_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    int expected = BORSELLINO__V1__RESPONSE__RESULT_BALANCE_AT;
    if (at_given) {
        balance_at.account_id = &proto_id;
        balance_at.timestamp = at;
        request.op_case = BORSELLINO__V1__REQUEST__OP_BALANCE_AT;
        request.balance_at = &balance_at;
    } else {
        lookup.n_ids = 1;
        lookup.ids = ids;
        request.op_case = BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS;
        request.lookup_accounts = &lookup;
        expected = BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_ACCOUNTS;
    }
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_call(client, options, command, &request, expected, &response);
    if (exit_code != 0) return exit_code;
    if (at_given) {
        convert_balance_from_proto(response->balance_at->balance, balance);
    } else if (response->lookup_accounts->n_accounts == 1) {
        ledger_account_t account;
        convert_account_from_proto(response->lookup_accounts->accounts[0], &account);
        *balance = (ledger_balance_t){account.debits_pending, account.debits_posted,
                                      account.credits_pending, account.credits_posted};
    } else {
        exit_code = cli_fail(options, command, "account_not_found", "%s",
                             client_status_message(BORSELLINO__V1__STATUS__STATUS_ACCOUNT_NOT_FOUND));
    }
    frame_response_free(response);
    return exit_code;
}

static int account_balance(int argc, char **argv) {
    const char *command = "account balance";
    cli_net_options_t options;
    cli_net_options_init(&options);
    ledger_u128_t id = {0, 0};
    bool id_given = false, at_given = false;
    uint64_t at = 0;
    for (int i = 1; i < argc; i++) {
        int common = cli_net_option(argc, argv, &i, command, &options);
        if (common < 0) return CLI_EXIT_USAGE;
        if (common > 0) continue;
        if (strcmp(argv[i], "--help") == 0) return account_help();
        if (strcmp(argv[i], "--at") == 0 && i + 1 < argc) {
            if (!cli_parse_timestamp(argv[++i], &at)) {
                return cli_usage_error(command, "bad time for --at: %s", argv[i]);
            }
            at_given = true;
        } else if (argv[i][0] != '-' && !id_given && cli_parse_u128(argv[i], &id)) {
            id_given = true;
        } else {
            return cli_usage_error(command, "unexpected argument %s", argv[i]);
        }
    }
    if (!id_given) return cli_usage_error(command, "give the account id");
    client_t *client = NULL;
    ledger_balance_t balance = {0, 0, 0, 0};
    int exit_code = cli_connect(&options, command, &client);
    if (exit_code == 0) exit_code = account_balance_fetch(client, &options, id, at_given, at, &balance);
    if (exit_code == 0) account_balance_print(&options, id, at_given, at, &balance);
    client_close(client);
    return exit_code;
}

int cli_account(int argc, char **argv) {
    if (argc < 2) {
        fputs(account_usage, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *action = argv[1];
    if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) return account_help();
    if (strcmp(action, "create") == 0) return account_create(argc - 1, argv + 1);
    if (strcmp(action, "lookup") == 0) return account_lookup(argc - 1, argv + 1);
    if (strcmp(action, "history") == 0) return account_history(argc - 1, argv + 1);
    if (strcmp(action, "balance") == 0) return account_balance(argc - 1, argv + 1);
    return cli_usage_error("account", "unknown action %s (create, lookup, history, balance)", action);
}
