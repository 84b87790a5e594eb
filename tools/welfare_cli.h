/*
 * welfare_cli.h — what the files of `borsellino welfare` share:
 *
 *   welfare.c           the subcommand table, their --help, the option
 *                       parser, one round trip, printing an outcome;
 *   welfare_values.c    the text forms of welfare values (fiscal bases,
 *                       expiry policies, cap classes, postings, category
 *                       lists) and the small CSV reader of rule and grant
 *                       files;
 *   welfare_registry.c  rules (categories, caps, rules files) and the
 *                       registry (funders, providers, employees, plans);
 *   welfare_money.c     fund, grant, purchase, capture, void, refund,
 *                       reimburse, sweep, offboard, payout;
 *   welfare_report.c    wallet and statements.
 *
 * Conventions (on top of cli.h's): amounts are typed and printed as euros
 * with two decimals (exact, no floating point) and are cents in JSON;
 * ids may be names (cli_parse_named_id); an operation without --id gets a
 * new time-ordered id, printed so that it can be retried or referred to.
 * Exit codes: 0 when the result is ok or exists, 1 when the operation was
 * refused (stderr says "refused: NAME") or the server could not be
 * reached, 2 on bad usage.
 */
#ifndef BORSELLINO_TOOLS_WELFARE_CLI_H
#define BORSELLINO_TOOLS_WELFARE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "welfare.h"

enum {
    /* Longest line of a rules or grant file, bytes. */
    CLI_WELFARE_LINE_SIZE_MAX = 1024,
    /* Most fields on one line of such a file. */
    CLI_WELFARE_FIELDS_MAX = 8,
    /* Most rows of one grant file (sent in requests of at most
     * WELFARE_GRANT_EMPLOYEES_MAX entries). */
    CLI_WELFARE_GRANT_ROWS_MAX = 1000000,
    /* Room for "FILE:LINE: what is wrong". */
    CLI_WELFARE_ERROR_SIZE = 512,
    /* Room for a category list "1,2,...,63". */
    CLI_WELFARE_CATEGORIES_TEXT_SIZE = 192,
};

/* ---- options (welfare.c) ---- */

typedef struct cli_welfare_common {
    cli_net_options_t net; /* --addr, --json, --timeout-ms */
    bool csv;              /* --csv (statements and wallet) */
} cli_welfare_common_t;

typedef enum cli_welfare_value_kind {
    CLI_WELFARE_VALUE_ID,         /* ledger_u128_t: decimal, 0x-hex or a name */
    CLI_WELFARE_VALUE_EUROS,      /* uint64_t cents, from "258.23" */
    CLI_WELFARE_VALUE_U32,        /* uint32_t, at most `max` */
    CLI_WELFARE_VALUE_TIME,       /* uint64_t ns: RFC 3339 UTC, now, +30d */
    CLI_WELFARE_VALUE_DATE,       /* uint32_t YYYYMMDD from YYYY-MM-DD */
    CLI_WELFARE_VALUE_CATEGORIES, /* uint64_t bit mask from "1,2,9" */
    CLI_WELFARE_VALUE_TEXT,       /* const char * */
    CLI_WELFARE_VALUE_FLAG,       /* bool; takes no value */
} cli_welfare_value_kind_t;

/* One option of a subcommand: the parser writes its value through `value`
 * (of the kind's type) and sets `given` and `text` (the text typed). */
typedef struct cli_welfare_option {
    const char *name;
    cli_welfare_value_kind_t kind;
    void *value;
    bool required;
    uint32_t max; /* CLI_WELFARE_VALUE_U32 only */
    bool given;
    const char *text;
} cli_welfare_option_t;

typedef struct cli_welfare_command cli_welfare_command_t;

struct cli_welfare_command {
    const char *words; /* after `borsellino welfare`: "category set" */
    const char *name;  /* for messages: "welfare category set" */
    const char *usage; /* the synopsis and what it does */
    /* argv[0] is the last word of `words`; options follow. */
    int (*run)(int argc, char **argv, const cli_welfare_command_t *command);
    bool csv;        /* takes --csv */
    int positionals; /* positional arguments it requires */
};

/*
 * Parses a subcommand's arguments: the common options, --help (prints the
 * command's help), --csv when the command takes it, `options` (each at
 * most once; required ones must be there) and exactly
 * command->positionals positional arguments into `positionals`. Returns
 * -1 to go on, or an exit code (after printing help or a usage error).
 */
int cli_welfare_parse(int argc, char **argv, const cli_welfare_command_t *command,
                      cli_welfare_option_t *options, size_t options_count,
                      cli_welfare_common_t *common, const char **positionals);

/* The option named `name` of a parsed table (it must be there). */
const cli_welfare_option_t *cli_welfare_option(const cli_welfare_option_t *options,
                                               size_t options_count, const char *name);

/* ---- round trips and outcomes (welfare.c) ---- */

/*
 * Connects, sends `request`, receives its response and closes: as
 * cli_call (*response_out set, free with frame_response_free, when the
 * status is OK and the result is `expected_result`). Returns 0 or
 * CLI_EXIT_FAILURE (printed).
 */
int cli_welfare_exchange(const cli_welfare_common_t *common, const cli_welfare_command_t *command,
                         Borsellino__V1__Request *request, int expected_result,
                         Borsellino__V1__Response **response_out);

/*
 * Prints the outcome of a write. Human: "SUBJECT: ok" or "SUBJECT:
 * exists (...)" on stdout; a refusal "borsellino welfare X: refused: NAME
 * (sentence)[: detail]" on stderr. --json: one object {"operation",
 * "id", "result", "message", "detail"} plus `json_extra` (members without
 * braces, e.g. "\"paid\":100", or NULL). Returns 0 for ok and exists,
 * CLI_EXIT_FAILURE otherwise.
 */
int cli_welfare_outcome(const cli_welfare_common_t *common, const cli_welfare_command_t *command,
                        const char *subject, ledger_u128_t id, uint32_t result,
                        const char *detail, const char *json_extra);

/* Writes "\"name\":\"DECIMAL\"" (a JSON member holding a u128). */
void cli_welfare_json_id(FILE *out, const char *name, ledger_u128_t value);

/* ---- text forms (welfare_values.c) ---- */

/* Fiscal bases: "f", "f-bis", "f-ter", "f-quater", "d-bis", "fringe". */
bool cli_welfare_basis_parse(const char *text, uint32_t *basis_out);
const char *cli_welfare_basis_name(uint32_t basis); /* "?" when unknown */

/* Expiry policies: "back-to-funder", "forfeit", "carry-over". */
bool cli_welfare_expiry_parse(const char *text, uint32_t *policy_out);
const char *cli_welfare_expiry_name(uint32_t policy);

/* Cap classes: "standard", "with-children". */
bool cli_welfare_cap_class_parse(const char *text, uint32_t *cap_class_out);
const char *cli_welfare_cap_class_name(uint32_t cap_class);

/* Postings (movement kinds): "fund", "grant", "purchase", ... */
const char *cli_welfare_posting_name(uint32_t posting);

/* Category lists: ids 1..63 separated by ',' or '|' ("1,2,9") <-> a bit
 * mask; an empty list or a repeated id is refused. Formatting writes "-"
 * for an empty mask. */
bool cli_welfare_categories_parse(const char *text, uint64_t *mask_out);
void cli_welfare_categories_format(uint64_t mask, char text[CLI_WELFARE_CATEGORIES_TEXT_SIZE]);

/*
 * Reads the next data line of a rules or grant file: skips blank lines
 * and lines starting with '#', strips the line end, splits on ',' and
 * trims spaces around each field. Returns 1 with the fields (pointing
 * into `line`), 0 at the end of the file, or -1 with `error` set to
 * "PATH:LINE: what is wrong" (a line too long, too many fields).
 * *line_number counts every line read.
 */
int cli_welfare_csv_next(FILE *file, const char *path, char line[CLI_WELFARE_LINE_SIZE_MAX],
                         uint32_t *line_number, const char *fields[CLI_WELFARE_FIELDS_MAX],
                         size_t *fields_count, char error[CLI_WELFARE_ERROR_SIZE]);

/* ---- subcommands ---- */

int cli_welfare_category_set(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_category_list(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_cap_set(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_rules_load(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_funder_create(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_provider_create(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_employee_create(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_employee_cap_class(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_plan_create(int argc, char **argv, const cli_welfare_command_t *command);

int cli_welfare_fund(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_grant(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_purchase(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_capture(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_void(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_refund(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_reimburse(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_sweep(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_offboard(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_payout(int argc, char **argv, const cli_welfare_command_t *command);

int cli_welfare_wallet(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_statement_funder(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_statement_provider(int argc, char **argv, const cli_welfare_command_t *command);
int cli_welfare_statement_employee(int argc, char **argv, const cli_welfare_command_t *command);

#endif
