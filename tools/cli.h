/*
 * cli.h — what the subcommands of the `borsellino` tool share: exit codes,
 * the common option parsers, the text forms of ids, timestamps, flags and
 * result codes, the network plumbing of the client commands, and each
 * subcommand's entry point.
 *
 * Exit codes (documented in README.md and `borsellino --help`):
 *   0 success, 1 the operation failed, 2 bad usage.
 *
 * Output conventions of the client commands (account, transfer, status):
 *  - human text on stdout by default; --json prints exactly one JSON
 *    object on stdout, also on failure: the command's result when the
 *    server answered (e.g. a refused create with its "result" name), or
 *    {"error": NAME, "message": TEXT} when it did not;
 *  - error sentences always go to stderr, prefixed "borsellino COMMAND: ";
 *  - in JSON, 128-bit ids and user_data_128 are decimal strings (they do
 *    not fit a double), every other number is a JSON number, timestamps
 *    are nanoseconds since the Unix epoch;
 *  - in human text, an id below 2^64 prints in decimal, a larger one (such
 *    as a generated time-ordered id) as 0x and 32 hex digits; both forms
 *    are accepted back as input.
 */
#ifndef BORSELLINO_TOOLS_CLI_H
#define BORSELLINO_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client.h"
#include "ledger.h"

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,
    CLI_EXIT_USAGE = 2,
};

/* Room for a u128 in decimal (39 digits) or 0x + 32 hex digits, and NUL. */
enum { CLI_U128_TEXT_SIZE = 40 };
/* Room for "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" and NUL (and then some). */
enum { CLI_TIMESTAMP_TEXT_SIZE = 48 };
/* Room for every flag name of one account or transfer, comma-separated. */
enum { CLI_FLAGS_TEXT_SIZE = 256 };
/* Room for 2^64-1 cents as euros ("184467440737095516.15") and NUL. */
enum { CLI_EUROS_TEXT_SIZE = 24 };

/* The default data directory: relative to the working directory. */
#define CLI_DATA_PATH_DEFAULT "borsellino-data"

/* Parses a decimal u64 with an optional k/M suffix (1000s); false when it
 * is not a number or overflows. */
bool cli_parse_count(const char *text, uint64_t *value_out);

/* ---- values as text (cli_values.c) ---- */

/* Parses a 128-bit id or user_data_128: decimal, or 0x followed by 1..32
 * hex digits. False when malformed or above 2^128-1. */
bool cli_parse_u128(const char *text, ledger_u128_t *value_out);

/* Parses a decimal u64 (no suffixes; "0x" hex accepted); false when
 * malformed or above `max`. */
bool cli_parse_u64(const char *text, uint64_t max, uint64_t *value_out);

/* Writes `value` in decimal. */
void cli_format_u128(ledger_u128_t value, char text[CLI_U128_TEXT_SIZE]);

/* Writes `value` for people: decimal below 2^64, else 0x + 32 hex digits. */
void cli_format_id(ledger_u128_t value, char text[CLI_U128_TEXT_SIZE]);

/* Parses a timestamp: nanoseconds since the Unix epoch, or UTC date-time
 * "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (also with a space instead of T, or a
 * bare date "YYYY-MM-DD" meaning its midnight). */
bool cli_parse_timestamp(const char *text, uint64_t *nanoseconds_out);

/* Writes a timestamp as UTC "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; 0 as "-". */
void cli_format_timestamp(uint64_t nanoseconds, char text[CLI_TIMESTAMP_TEXT_SIZE]);

/* Parses a time as cli_parse_timestamp does, or relative to `now_ns`:
 * "now", or "+N" and a unit s, m, h or d ("+30d", "+10s"). False when
 * malformed or beyond 2^64-1 ns. */
bool cli_parse_time(const char *text, uint64_t now_ns, uint64_t *nanoseconds_out);

/* The wall clock (CLOCK_REALTIME) in ns since the Unix epoch. */
uint64_t cli_now_ns(void);

/* Parses a calendar date "YYYY-MM-DD" (a real one: no 2025-02-30) into the
 * number YYYYMMDD. */
bool cli_parse_date(const char *text, uint32_t *yyyymmdd_out);

/* Parses an amount of euros into cents, exactly (no floating point):
 * digits, then optionally '.' and one or two decimals ("258.23", "1000",
 * "0.5"). False when malformed, negative, with more decimals, or above
 * 2^64-1 cents. */
bool cli_parse_euros(const char *text, uint64_t *cents_out);

/* Writes cents as euros with two decimals: 25823 -> "258.23". */
void cli_format_euros(uint64_t cents, char text[CLI_EUROS_TEXT_SIZE]);

/* Parses an id that may also be a name: decimal or 0x-hex as
 * cli_parse_u128 (text starting with 0x must be hex), or any other
 * non-empty text, which maps to the first 16 bytes of its SHA-256 read
 * big-endian (hi = bytes 0..7), so "alice" names the same id everywhere.
 * False for "", bad hex after 0x, or a decimal above 2^128-1. */
bool cli_parse_named_id(const char *text, ledger_u128_t *value_out);

/* Parses comma-separated account/transfer flag names (the snake_case names
 * of ledger.h's flags without their prefix, e.g. "pending,linked").
 * False when a name is unknown (the caller then lists the valid ones:
 * cli_account_flag_names / cli_transfer_flag_names). */
bool cli_parse_account_flags(const char *text, uint16_t *flags_out);
bool cli_parse_transfer_flags(const char *text, uint16_t *flags_out);

extern const char cli_account_flag_names[];
extern const char cli_transfer_flag_names[];

/* Writes the names of the set flags, comma-separated; "-" when none. */
void cli_format_account_flags(uint32_t flags, char text[CLI_FLAGS_TEXT_SIZE]);
void cli_format_transfer_flags(uint32_t flags, char text[CLI_FLAGS_TEXT_SIZE]);

/* Writes the output of cli_format_*_flags as a JSON array of names. */
void cli_json_flags(FILE *out, const char *formatted);

/* Writes `text` as a JSON string literal (quotes and escapes). */
void cli_json_string(FILE *out, const char *text);

/* JSON objects of ledger values (keys as in proto/borsellino.proto, flags
 * as arrays of names). cli_json_balance_fields writes the four balance
 * members without braces, to embed in a larger object. */
void cli_json_account(FILE *out, const ledger_account_t *account);
void cli_json_transfer(FILE *out, const ledger_transfer_t *transfer);
void cli_json_balance_fields(FILE *out, const ledger_balance_t *balance);

/* ---- result codes for people (cli_results.c) ---- */

/* A sentence saying what an event result means and, for failures, what to
 * do about it. Static; unknown codes get a generic sentence. */
const char *cli_result_message(uint32_t result);

/* Whether a create result counts as success for the command line: ok, or
 * exists (an identical event is already there: a safe retry). */
bool cli_result_succeeded(uint32_t result);

/* The same for welfare results (WelfareResult): a sentence, and whether it
 * counts as success (ok, or exists: the identical operation was done). */
const char *cli_welfare_result_message(uint32_t result);
bool cli_welfare_result_succeeded(uint32_t result);

/* ---- progress bars of long commands (cli_progress.c) ---- */

/* "LABEL [#####.....] done/total UNIT" on stderr, redrawn in place; only
 * when stderr is a terminal (decided by cli_progress_init). */
typedef struct cli_progress {
    bool enabled;
    uint64_t last_draw_ns;
    const char *label; /* "verifying", "exporting"; not copied */
    const char *unit;  /* "records"; not copied */
} cli_progress_t;

void cli_progress_init(cli_progress_t *progress, const char *label, const char *unit);
/* Redraws at most every 100 ms, and always when done reaches total. */
void cli_progress_draw(cli_progress_t *progress, uint64_t done, uint64_t total);
/* A ledger_progress_fn: context is a cli_progress_t. */
void cli_progress_fn(void *context, uint64_t done, uint64_t total);
/* Replaces the line by a sentence saying what runs now. */
void cli_progress_stage(const cli_progress_t *progress, const char *stage);
/* Clears the line. */
void cli_progress_end(const cli_progress_t *progress);
/* CLOCK_MONOTONIC in ns, for durations the commands report. */
uint64_t cli_monotonic_ns(void);

/* ---- the client commands' plumbing (cli_net.c) ---- */

/* Options every client command takes. */
typedef struct cli_net_options {
    const char *address; /* --addr (or --address), default CLIENT_ADDRESS_DEFAULT */
    bool json;           /* --json */
    uint32_t timeout_ms; /* --timeout-ms, default CLIENT_TIMEOUT_MS_DEFAULT */
    /* --tls-cert, --tls-key, --tls-ca, each defaulting to the environment
     * variable BORSELLINO_TLS_CERT, _KEY, _CA; NULL when neither is set.
     * TLS is used when any of the three is set (then all three must be). */
    client_tls_t tls;
} cli_net_options_t;

/* Help text for the options above, to append to a command's --help. */
extern const char cli_net_options_help[];

/* Defaults, including the TLS files from the environment
 * (cli_net_tls_from_env). */
void cli_net_options_init(cli_net_options_t *options);

/* Sets `tls` from BORSELLINO_TLS_CERT, BORSELLINO_TLS_KEY and
 * BORSELLINO_TLS_CA (NULL for each one unset or empty). */
void cli_net_tls_from_env(client_tls_t *tls);

/* Whether `tls` asks for TLS (any of its files is set). */
bool cli_net_tls_wanted(const client_tls_t *tls);

/*
 * If argv[*index] is one of the common options, consumes it (and its
 * value) and returns 1; returns 0 if it is not one; returns -1 after
 * printing a usage error (missing or bad value).
 */
int cli_net_option(int argc, char **argv, int *index, const char *command,
                   cli_net_options_t *options);

/*
 * Prints a failure: "borsellino COMMAND: MESSAGE" on stderr and, with
 * --json, {"error": NAME, "message": MESSAGE} on stdout. Returns
 * CLI_EXIT_FAILURE.
 */
int cli_fail(const cli_net_options_t *options, const char *command, const char *name,
             const char *format, ...) __attribute__((format(printf, 4, 5)));

/* Prints a usage error on stderr and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Connects to options->address. On failure prints why (with how to start
 * a server when none runs there) and returns CLI_EXIT_FAILURE; else 0. */
int cli_connect(const cli_net_options_t *options, const char *command,
                client_t **client_out);

/*
 * Sends `request`, waits for its response and checks its status. Returns 0
 * with *response_out set (free with frame_response_free) when the status is
 * OK and the result is `expected_result` (a
 * Borsellino__V1__Response__ResultCase); otherwise prints the failure and
 * returns CLI_EXIT_FAILURE with *response_out NULL.
 */
int cli_call(client_t *client, const cli_net_options_t *options, const char *command,
             Borsellino__V1__Request *request, int expected_result,
             Borsellino__V1__Response **response_out);

/* Parses the ID... arguments (1..LEDGER_LOOKUP_IDS_MAX ids into `ids`) and
 * the common options of a lookup command; --help calls `help`. Returns -1
 * to go on, or an exit code. (account.c) */
int cli_parse_lookup_ids(int argc, char **argv, const char *command, int (*help)(void),
                         cli_net_options_t *options, ledger_u128_t *ids, size_t *count_out);

/* The common part of `account lookup` and `transfer lookup` (account.c):
 * inits `options`, parses the ids (into `ids`, LEDGER_LOOKUP_IDS_MAX of
 * room) and options, connects and asks for the accounts (or, with
 * `transfers`, the transfers). Returns -1 to go on, with *response_out set
 * (free with frame_response_free; the connection is closed already), or
 * an exit code (usage, --help, or a failure already printed). */
int cli_lookup_ids_call(int argc, char **argv, const char *command, int (*help)(void),
                        bool transfers, cli_net_options_t *options, ledger_u128_t *ids,
                        size_t *count_out, Borsellino__V1__Response **response_out);

/* ---- subcommands ---- */

int cli_demo(int argc, char **argv);
int cli_bench_welfare(int argc, char **argv);
int cli_bench_ledger(int argc, char **argv);
int cli_account(int argc, char **argv);
int cli_transfer(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_backup(int argc, char **argv);
int cli_certs(int argc, char **argv);
int cli_welfare(int argc, char **argv);

#endif
