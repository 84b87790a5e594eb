/*
 * welfare.c — `borsellino welfare ...`: the welfare layer over the
 * protocol (docs/protocol.md, "Welfare"). This file holds the table of
 * subcommands with their --help, the option parser they all use, one
 * request/response round trip and the printing of a write's outcome; the
 * subcommands themselves are in welfare_registry.c, welfare_money.c and
 * welfare_report.c (welfare_cli.h lists them).
 *
 * Every subcommand is table-driven: it declares its options (name, kind
 * of value, where it goes, whether required) and cli_welfare_parse()
 * checks them all before anything is sent, so a usage error never reaches
 * the server. Most subcommands are one request on one connection; rules
 * files, bulk grants and statements send several on one connection.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "welfare_cli.h"

/* ------------------------------------------------------------------------ */
/* The subcommands                                                          */

#define WELFARE_IDS_HELP                                                                     \
    "IDs are decimal or 0x-hex (up to 128 bits), or any other text, which stands for\n"     \
    "the first 16 bytes of its SHA-256 (so --employee alice is the same id\n"               \
    "everywhere). Amounts are euros with at most two decimals (258.23).\n"
#define WELFARE_TIME_HELP                                                                    \
    "TIME is a UTC time (2026-12-31T23:00:00Z, 2026-12-31 = its midnight), now, or\n"      \
    "now plus +N followed by s, m, h or d (+30d, +10s).\n"
#define WELFARE_OPERATION_ID_HELP                                                            \
    "Without --id a new time-ordered id is generated and printed; send the same\n"         \
    "--id again to retry safely (the answer is then \"exists\").\n"

static const cli_welfare_command_t cli_welfare_commands[] = {
    {"category set", "welfare category set",
     "usage: borsellino welfare category set --id N --basis BASIS --name NAME\n"
     "                                       [--reimbursable]\n"
     "\n"
     "Defines or replaces category N (1..63) of the catalog. BASIS is its fiscal\n"
     "basis (art. 51 TUIR): f (in kind only, never reimbursable), f-bis, f-ter,\n"
     "f-quater, d-bis or fringe (under the yearly fringe-benefit cap). NAME has\n"
     "1..31 printable bytes. --reimbursable allows reimbursements against receipts.\n",
     cli_welfare_category_set, false, 0},
    {"category list", "welfare category list",
     "usage: borsellino welfare category list\n"
     "\n"
     "Shows the category catalog: id, fiscal basis, reimbursable or in kind, name.\n",
     cli_welfare_category_list, false, 0},
    {"cap set", "welfare cap set",
     "usage: borsellino welfare cap set --year Y --standard EUR --with-children EUR\n"
     "\n"
     "Defines or replaces the fringe-benefit cap of fiscal year Y (2000..2199; 0 is\n"
     "the default row, for years without their own): --standard for everyone,\n"
     "--with-children (at least --standard) for employees who declared dependent\n"
     "children. Applies to purchases made after it.\n",
     cli_welfare_cap_set, false, 0},
    {"rules load", "welfare rules load",
     "usage: borsellino welfare rules load FILE\n"
     "\n"
     "Loads categories and caps from FILE, a CSV file with one rule per line:\n"
     "  category,ID,BASIS,NAME,reimbursable|in-kind\n"
     "  cap,YEAR,STANDARD,WITH_CHILDREN            (amounts in euros)\n"
     "Blank lines and lines starting with # are skipped. The whole file is checked\n"
     "first: at the first malformed line it prints FILE:LINE: what is wrong and\n"
     "sends nothing. Then each rule is sent and its result printed; exit 1 if any\n"
     "was refused. data/welfare-rules.csv is the shipped default.\n",
     cli_welfare_rules_load, false, 1},
    {"funder create", "welfare funder create",
     "usage: borsellino welfare funder create --id ID [--public]\n"
     "\n"
     "Registers a funder (a company; --public: a public funder such as a\n"
     "municipality's voucher programme) and its funds account.\n",
     cli_welfare_funder_create, false, 0},
    {"provider create", "welfare provider create",
     "usage: borsellino welfare provider create --id ID --fee-bps N --categories LIST\n"
     "\n"
     "Registers a provider and its payable account: the platform's fee on its\n"
     "sales in basis points (0..10000: 250 = 2.5%), and the categories it sells\n"
     "(LIST: ids separated by commas, e.g. 1,2,9).\n",
     cli_welfare_provider_create, false, 0},
    {"employee create", "welfare employee create",
     "usage: borsellino welfare employee create --id ID --funder ID\n"
     "\n"
     "Registers an employee (an opaque id: no personal data) of a funder.\n",
     cli_welfare_employee_create, false, 0},
    {"employee cap-class", "welfare employee cap-class",
     "usage: borsellino welfare employee cap-class --id ID --year Y standard|with-children\n"
     "\n"
     "Declares the employee's fringe-cap class for fiscal year Y (with-children:\n"
     "fiscally dependent children). May be changed.\n",
     cli_welfare_employee_cap_class, false, 1},
    {"plan create", "welfare plan create",
     "usage: borsellino welfare plan create --id ID --funder ID --from TIME --until TIME\n"
     "                                      --categories LIST\n"
     "                                      --expiry back-to-funder|forfeit|carry-over\n"
     "                                      [--next-plan ID] [--split]\n"
     "                                      [--grant-limit EUR]\n"
     "\n"
     "Creates a welfare plan of a funder: credit granted under it may be spent\n"
     "from --from until --until (exclusive) on the categories of LIST (e.g. 1,2,9).\n"
     "At the end, what is left goes back to the funder, is forfeited, or carries\n"
     "over into the pot of --next-plan (an existing plan of the same funder).\n"
     "--split lets a purchase be split across this plan's pot and other pots whose\n"
     "plans allow it. --grant-limit caps what one employee may be granted.\n",
     cli_welfare_plan_create, false, 0},
    {"fund", "welfare fund",
     "usage: borsellino welfare fund --funder ID --amount EUR [--id ID]\n"
     "\n"
     "Loads a funder's welfare budget (bank -> funder funds).\n",
     cli_welfare_fund, false, 0},
    {"grant", "welfare grant",
     "usage: borsellino welfare grant --plan ID (--employee ID --amount EUR | --file CSV)\n"
     "                               [--id ID]\n"
     "\n"
     "Grants credit under a plan (funder funds -> each employee's pot of the plan).\n"
     "--file grants in bulk: one employee_id,amount per line (amount in euros; an\n"
     "optional first line employee_id,amount; blank lines and # comments skipped),\n"
     "sent in requests of at most 16384 employees. Each employee gets its own\n"
     "result; prints one line per employee and the counts ok/exists/failed; exit\n"
     "1 if any failed. Resending the same file with the same --id is safe: the\n"
     "employees already granted answer \"exists\".\n",
     cli_welfare_grant, false, 0},
    {"purchase", "welfare purchase",
     "usage: borsellino welfare purchase --employee ID --provider ID --category N\n"
     "                                  --amount EUR [--hold SECONDS] [--reference ID]\n"
     "                                  [--id ID]\n"
     "\n"
     "An employee buys from a provider: the employee's pots -> the provider's\n"
     "payable, less the platform's fee. --hold only holds the amount (for at most\n"
     "SECONDS, 1..7776000) until it is captured or voided; held credit is not\n"
     "spendable. --reference is the order or invoice reference. The purchase id\n"
     "(--id) is what capture, void and refund name.\n",
     cli_welfare_purchase, false, 0},
    {"capture", "welfare capture",
     "usage: borsellino welfare capture --purchase ID [--amount EUR] [--id ID]\n"
     "\n"
     "Completes a held purchase: takes --amount (at most the held amount; default\n"
     "all of it) and releases the rest.\n",
     cli_welfare_capture, false, 0},
    {"void", "welfare void",
     "usage: borsellino welfare void --purchase ID [--id ID]\n"
     "\n"
     "Cancels a held purchase: releases the whole held amount.\n",
     cli_welfare_void, false, 0},
    {"refund", "welfare refund",
     "usage: borsellino welfare refund --purchase ID --amount EUR [--id ID]\n"
     "\n"
     "Refunds a purchase, fully or in part (never more than was bought and not yet\n"
     "refunded): the provider's payable -> the pot(s) it came from, with the\n"
     "matching share of the fee.\n",
     cli_welfare_refund, false, 0},
    {"reimburse", "welfare reimburse",
     "usage: borsellino welfare reimburse --employee ID --category N --amount EUR\n"
     "                                   --receipt-amount EUR --receipt-date YYYY-MM-DD\n"
     "                                   (--receipt-file PATH | --receipt-sha256 HEX)\n"
     "                                   [--id ID]\n"
     "\n"
     "Reimburses an expense the employee paid (pot -> bank), at most the receipt's\n"
     "total, in a reimbursable category. The receipt is identified by the SHA-256\n"
     "of its document: --receipt-file computes it, --receipt-sha256 gives it as 64\n"
     "hex digits. The same receipt is never reimbursed twice. The receipt date\n"
     "decides the fiscal year.\n",
     cli_welfare_reimburse, false, 0},
    {"sweep", "welfare sweep",
     "usage: borsellino welfare sweep --plan ID [--id ID]\n"
     "\n"
     "Expiry sweep of a plan that has ended: empties every pot of the plan per its\n"
     "expiry policy and prints what moved. May be run again (with a new id) to\n"
     "sweep what arrived since.\n",
     cli_welfare_sweep, false, 0},
    {"offboard", "welfare offboard",
     "usage: borsellino welfare offboard --employee ID [--id ID]\n"
     "\n"
     "An employee leaves: voids their open holds, empties their pots per each\n"
     "plan's policy (carry-over goes back to the funder), closes the pots and\n"
     "prints what moved.\n",
     cli_welfare_offboard, false, 0},
    {"payout", "welfare payout",
     "usage: borsellino welfare payout --provider ID [--amount EUR] [--reference ID]\n"
     "                                [--id ID]\n"
     "\n"
     "Pays a provider (its payable -> bank): --amount, or all that is payable.\n"
     "--reference (e.g. the bank transfer's id) is kept with the operation.\n"
     "Prints the amount paid.\n",
     cli_welfare_payout, false, 0},
    {"wallet", "welfare wallet",
     "usage: borsellino welfare wallet --employee ID [--movements] [--csv]\n"
     "\n"
     "Shows an employee's pots: per plan what is available, held, the balance, what\n"
     "was granted, the validity window and categories. --movements adds every\n"
     "movement of the pots, oldest first. --csv prints the pots as CSV, or with\n"
     "--movements the movements.\n",
     cli_welfare_wallet, true, 0},
    {"statement funder", "welfare statement funder",
     "usage: borsellino welfare statement funder --funder ID [--from TIME]\n"
     "                                          [--until TIME] [--csv]\n"
     "\n"
     "A funder's statement for the period (default: all time): funded, granted,\n"
     "spent (and by category), refunded, reimbursed, expired back, forfeited,\n"
     "carried over, fees; at the end of the period its funds, the pots, the holds,\n"
     "and the remaining credit of every employee (read page by page).\n"
     "--csv: item,key,amount,held rows.\n",
     cli_welfare_statement_funder, true, 0},
    {"statement provider", "welfare statement provider",
     "usage: borsellino welfare statement provider --provider ID [--from TIME]\n"
     "                                            [--until TIME] [--csv]\n"
     "\n"
     "A provider's statement for the period (default: all time): sales, refunds,\n"
     "fees, payouts, and at its end what is payable and held.\n"
     "--csv: item,key,value rows.\n",
     cli_welfare_statement_provider, true, 0},
    {"statement employee", "welfare statement employee",
     "usage: borsellino welfare statement employee --employee ID --year Y [--csv]\n"
     "\n"
     "An employee's figures for fiscal year Y, by fiscal basis, for the annual tax\n"
     "certificate: spent (net of refunds) and reimbursed per basis, the fringe cap\n"
     "that applies and how much of it is used. --csv: item,key,value rows.\n",
     cli_welfare_statement_employee, true, 0},
};

enum {
    CLI_WELFARE_COMMANDS_COUNT =
        (int)(sizeof(cli_welfare_commands) / sizeof(cli_welfare_commands[0])),
};

static int cli_welfare_family_help(FILE *out) {
    fputs("usage: borsellino welfare COMMAND [OPTIONS]\n\n"
          "The welfare layer: rules, funders, providers, employees, plans, and the\n"
          "money operations on them, over the protocol. Commands:\n",
          out);
    for (int i = 0; i < CLI_WELFARE_COMMANDS_COUNT; i++) {
        fprintf(out, "  %s\n", cli_welfare_commands[i].words);
    }
    fputs("\nRun `borsellino welfare COMMAND --help` for a command's options.\n\n", out);
    fputs(WELFARE_IDS_HELP, out);
    fputs(WELFARE_TIME_HELP, out);
    fputs(WELFARE_OPERATION_ID_HELP, out);
    fputs("Exit codes: 0 ok or exists, 1 refused (stderr: refused: NAME) or no server,\n"
          "2 bad usage.\n\nCommon options:\n",
          out);
    fputs(cli_net_options_help, out);
    return out == stdout ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static int cli_welfare_help(const cli_welfare_command_t *command) {
    fputs(command->usage, stdout);
    fputc('\n', stdout);
    fputs(WELFARE_IDS_HELP, stdout);
    if (strstr(command->usage, "TIME") != NULL) fputs(WELFARE_TIME_HELP, stdout);
    if (strstr(command->usage, "[--id ID]") != NULL) fputs(WELFARE_OPERATION_ID_HELP, stdout);
    fputs("Exit codes: 0 ok or exists, 1 refused (stderr: refused: NAME) or no server,\n"
          "2 bad usage.\n\nOptions of every command:\n",
          stdout);
    fputs(cli_net_options_help, stdout);
    if (command->csv) fputs("  --csv             print CSV instead of a table\n", stdout);
    return CLI_EXIT_OK;
}

/* `welfare GROUP --help` (a two-word family such as `rules` or
 * `statement`): lists the group's commands. False when argv[1] names no
 * group or no --help follows. */
static bool cli_welfare_group_help(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[2], "--help") != 0 && strcmp(argv[2], "-h") != 0)) return false;
    size_t length = strlen(argv[1]);
    bool found = false;
    for (int i = 0; i < CLI_WELFARE_COMMANDS_COUNT; i++) {
        const char *words = cli_welfare_commands[i].words;
        if (strncmp(words, argv[1], length) != 0 || words[length] != ' ') continue;
        if (!found) printf("usage: borsellino welfare %s COMMAND [OPTIONS]\n\n", argv[1]);
        found = true;
        printf("  borsellino welfare %-22s (--help for its options)\n", words);
    }
    return found;
}

/* Finds the command named by argv[1..]; sets *words_count to how many
 * arguments its name took. */
static const cli_welfare_command_t *cli_welfare_find(int argc, char **argv, int *words_count) {
    for (int i = 0; i < CLI_WELFARE_COMMANDS_COUNT; i++) {
        const char *words = cli_welfare_commands[i].words;
        const char *space = strchr(words, ' ');
        if (space == NULL) {
            if (strcmp(argv[1], words) != 0) continue;
            *words_count = 1;
            return &cli_welfare_commands[i];
        }
        size_t first = (size_t)(space - words);
        if (argc < 3 || strlen(argv[1]) != first || strncmp(argv[1], words, first) != 0) continue;
        if (strcmp(argv[2], space + 1) != 0) continue;
        *words_count = 2;
        return &cli_welfare_commands[i];
    }
    return NULL;
}

int cli_welfare(int argc, char **argv) {
    if (argc < 2) return cli_welfare_family_help(stderr);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        return cli_welfare_family_help(stdout);
    }
    int words_count = 0;
    const cli_welfare_command_t *command = cli_welfare_find(argc, argv, &words_count);
    if (command == NULL && cli_welfare_group_help(argc, argv)) return CLI_EXIT_OK;
    if (command == NULL) {
        fprintf(stderr, "borsellino welfare: unknown command %s%s%s (see borsellino welfare "
                        "--help)\n",
                argv[1], argc > 2 && argv[2][0] != '-' ? " " : "",
                argc > 2 && argv[2][0] != '-' ? argv[2] : "");
        return CLI_EXIT_USAGE;
    }
    return command->run(argc - words_count, argv + words_count, command);
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

/* What a value of each kind looks like, for usage errors. */
static const char *cli_welfare_value_hint(cli_welfare_value_kind_t kind) {
    switch (kind) {
    case CLI_WELFARE_VALUE_ID: return "an id: decimal, 0x-hex or a name";
    case CLI_WELFARE_VALUE_EUROS: return "euros with at most two decimals, e.g. 258.23";
    case CLI_WELFARE_VALUE_U32: return "a whole number";
    case CLI_WELFARE_VALUE_TIME: return "a time: 2026-12-31T23:00:00Z, now, +30d or +10s";
    case CLI_WELFARE_VALUE_DATE: return "a date YYYY-MM-DD";
    case CLI_WELFARE_VALUE_CATEGORIES: return "category ids 1..63 separated by commas, e.g. 1,2,9";
    default: return "a value";
    }
}

static bool cli_welfare_value_parse(cli_welfare_option_t *option, const char *text,
                                    uint64_t now_ns) {
    uint64_t number = 0;
    switch (option->kind) {
    case CLI_WELFARE_VALUE_ID: return cli_parse_named_id(text, option->value);
    case CLI_WELFARE_VALUE_EUROS: return cli_parse_euros(text, option->value);
    case CLI_WELFARE_VALUE_U32:
        if (!cli_parse_u64(text, option->max, &number)) return false;
        *(uint32_t *)option->value = (uint32_t)number;
        return true;
    case CLI_WELFARE_VALUE_TIME: return cli_parse_time(text, now_ns, option->value);
    case CLI_WELFARE_VALUE_DATE: return cli_parse_date(text, option->value);
    case CLI_WELFARE_VALUE_CATEGORIES: return cli_welfare_categories_parse(text, option->value);
    case CLI_WELFARE_VALUE_TEXT:
        *(const char **)option->value = text;
        return text[0] != '\0';
    default: return false;
    }
}

/* Parses one option (and its value) at argv[*index]; returns -1 to go on,
 * or CLI_EXIT_USAGE (printed). */
static int cli_welfare_option_parse(int argc, char **argv, int *index,
                                    const cli_welfare_command_t *command,
                                    cli_welfare_option_t *options, size_t options_count,
                                    uint64_t now_ns) {
    const char *name = argv[*index];
    cli_welfare_option_t *option = NULL;
    for (size_t i = 0; i < options_count && option == NULL; i++) {
        if (strcmp(options[i].name, name) == 0) option = &options[i];
    }
    if (option == NULL) return cli_usage_error(command->name, "unknown option %s", name);
    if (option->given) return cli_usage_error(command->name, "%s given twice", name);
    option->given = true;
    option->text = name;
    if (option->kind == CLI_WELFARE_VALUE_FLAG) {
        *(bool *)option->value = true;
        return -1;
    }
    if (*index + 1 >= argc) return cli_usage_error(command->name, "%s needs a value", name);
    const char *text = argv[++*index];
    option->text = text;
    if (!cli_welfare_value_parse(option, text, now_ns)) {
        if (option->kind == CLI_WELFARE_VALUE_U32) {
            return cli_usage_error(command->name, "bad value for %s: %s (a whole number up to %u)",
                                   name, text, option->max);
        }
        return cli_usage_error(command->name, "bad value for %s: %s (%s)", name, text,
                               cli_welfare_value_hint(option->kind));
    }
    return -1;
}

int cli_welfare_parse(int argc, char **argv, const cli_welfare_command_t *command,
                      cli_welfare_option_t *options, size_t options_count,
                      cli_welfare_common_t *common, const char **positionals) {
    uint64_t now_ns = cli_now_ns();
    int positionals_count = 0;
    memset(common, 0, sizeof(*common));
    cli_net_options_init(&common->net);
    for (int i = 1; i < argc; i++) {
        int net = cli_net_option(argc, argv, &i, command->name, &common->net);
        if (net < 0) return CLI_EXIT_USAGE;
        if (net > 0) continue;
        const char *argument = argv[i];
        if (strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0) {
            return cli_welfare_help(command);
        }
        if (strcmp(argument, "--csv") == 0 && command->csv) {
            common->csv = true;
        } else if (argument[0] != '-' || argument[1] == '\0') {
            if (positionals_count == command->positionals) {
                return cli_usage_error(command->name, "unexpected argument %s", argument);
            }
            positionals[positionals_count++] = argument;
        } else {
            int parsed = cli_welfare_option_parse(argc, argv, &i, command, options,
                                                  options_count, now_ns);
            if (parsed >= 0) return parsed;
        }
    }
    for (size_t i = 0; i < options_count; i++) {
        if (options[i].required && !options[i].given) {
            return cli_usage_error(command->name, "%s is required", options[i].name);
        }
    }
    if (positionals_count < command->positionals) {
        return cli_usage_error(command->name, "missing argument (usage: %s)",
                               command->usage + strlen("usage: "));
    }
    if (common->csv && common->net.json) {
        return cli_usage_error(command->name, "--csv and --json exclude each other");
    }
    return -1;
}

const cli_welfare_option_t *cli_welfare_option(const cli_welfare_option_t *options,
                                               size_t options_count, const char *name) {
    for (size_t i = 0; i < options_count; i++) {
        if (strcmp(options[i].name, name) == 0) return &options[i];
    }
    /* A subcommand asked for an option it did not declare: a bug. */
    fprintf(stderr, "borsellino welfare: internal error: no option %s\n", name);
    abort();
}

/* ------------------------------------------------------------------------ */
/* Round trips and outcomes                                                 */

int cli_welfare_exchange(const cli_welfare_common_t *common, const cli_welfare_command_t *command,
                         Borsellino__V1__Request *request, int expected_result,
                         Borsellino__V1__Response **response_out) {
    client_t *client = NULL;
    *response_out = NULL;
    int exit_code = cli_connect(&common->net, command->name, &client);
    if (exit_code == 0) {
        exit_code = cli_call(client, &common->net, command->name, request, expected_result,
                             response_out);
    }
    client_close(client);
    return exit_code;
}

void cli_welfare_json_id(FILE *out, const char *name, ledger_u128_t value) {
    char text[CLI_U128_TEXT_SIZE];
    cli_format_u128(value, text);
    fprintf(out, "\"%s\":\"%s\"", name, text);
}

int cli_welfare_outcome(const cli_welfare_common_t *common, const cli_welfare_command_t *command,
                        const char *subject, ledger_u128_t id, uint32_t result,
                        const char *detail, const char *json_extra) {
    bool succeeded = cli_welfare_result_succeeded(result);
    const char *name = welfare_result_name(result);
    const char *sentence = cli_welfare_result_message(result);
    if (detail == NULL) detail = "";
    if (common->net.json) {
        fputs("{\"operation\":", stdout);
        cli_json_string(stdout, command->words);
        fputc(',', stdout);
        cli_welfare_json_id(stdout, "id", id);
        printf(",\"result\":\"%s\",\"message\":", name);
        cli_json_string(stdout, sentence);
        fputs(",\"detail\":", stdout);
        cli_json_string(stdout, detail);
        if (json_extra != NULL && json_extra[0] != '\0') printf(",%s", json_extra);
        fputs("}\n", stdout);
    } else if (result == WELFARE_RESULT_OK) {
        printf("%s: ok\n", subject);
    } else if (succeeded) {
        printf("%s: %s (%s)\n", subject, name, sentence);
    }
    if (!succeeded) {
        fprintf(stderr, "borsellino %s: %s: refused: %s (%s)%s%s\n", command->name, subject,
                name, sentence, detail[0] ? ": " : "", detail);
    }
    return succeeded ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
