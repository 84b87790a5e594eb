/*
 * audit_export.h — what tools/audit_export.c (options, opening, the
 * journal export, `audit export`) and tools/audit_figures.c (trial
 * balance, balance, reconciliation) share. Not a public interface: the
 * entry points are in audit_cli.h.
 *
 * Every command opens its data directory read-only (ledger_options_t
 * .read_only), so it never writes, and is safe while borsellinod runs on
 * the same directory: it sees the state as of the moment it opens.
 */
#ifndef BORSELLINO_TOOLS_AUDIT_EXPORT_H
#define BORSELLINO_TOOLS_AUDIT_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "audit.h"
#include "cli.h"
#include "ledger.h"

/* Output forms. Human text is the default of the display commands, CSV
 * that of `audit export`. */
typedef enum audit_output {
    AUDIT_OUTPUT_HUMAN,
    AUDIT_OUTPUT_JSON,  /* one JSON object */
    AUDIT_OUTPUT_CSV,   /* a header line, then one line per row */
    AUDIT_OUTPUT_JSONL, /* one JSON object per row and line */
} audit_output_t;

/* Which options a command accepts (audit_args_parse). */
enum audit_option {
    AUDIT_OPTION_AT = 1u << 0,      /* --at TIME */
    AUDIT_OPTION_JSON = 1u << 1,    /* --json */
    AUDIT_OPTION_CSV = 1u << 2,     /* --csv */
    AUDIT_OPTION_JSONL = 1u << 3,   /* --jsonl */
    AUDIT_OPTION_ACCOUNT = 1u << 4, /* --account ID */
    AUDIT_OPTION_FORMAT = 1u << 5,  /* --format csv|jsonl (default csv) */
    AUDIT_OPTION_RANGE = 1u << 6,   /* --from SEQ, --to SEQ */
    AUDIT_OPTION_OUT = 1u << 7,     /* --out FILE */
};

typedef struct audit_args {
    const char *command;   /* "audit trial-balance", for messages */
    const char *data_path; /* --data, default CLI_DATA_PATH_DEFAULT */
    audit_output_t output;
    bool at_given;
    uint64_t at;           /* --at, ns since the epoch (never 0) */
    bool account_given;
    ledger_u128_t account; /* --account */
    uint64_t from;         /* --from, 0 = the first record */
    uint64_t to;           /* --to, 0 = the last record */
    const char *out_path;  /* --out, NULL = stdout */
} audit_args_t;

/* Room for a 128-bit value with a sign, in decimal, and NUL. */
enum { AUDIT_SIGNED_TEXT_SIZE = 42 };
/* A SHA-256 as hex, and NUL. */
enum { AUDIT_HEX_DIGEST_SIZE = 2 * LEDGER_DIGEST_SIZE + 1 };

/* Parses argv[1..] for `command` (argv[0] is the subcommand's name):
 * --data, --help (prints `help`) and the options in `allowed`. Returns -1
 * to go on, or an exit code (after printing the help or a usage error). */
int audit_args_parse(int argc, char **argv, const char *command, const char *help,
                     unsigned allowed, audit_args_t *args);

/* Opens args->data_path read-only. Returns 0, or CLI_EXIT_FAILURE after
 * saying why (through audit_fail). */
int audit_open(const audit_args_t *args, ledger_t **ledger_out);

/* Prints "borsellino COMMAND: MESSAGE" on stderr and, with --json, {"error":
 * NAME, "message": MESSAGE} on stdout. Returns CLI_EXIT_FAILURE. */
int audit_fail(const audit_args_t *args, const char *name, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* The file rows go to: args->out_path (created or truncated, mode 0600:
 * it holds the books) or stdout. Returns 0 or CLI_EXIT_FAILURE. */
int audit_output_open(const audit_args_t *args, FILE **out);
/* Closes what audit_output_open opened (flushing stdout); a failed write
 * or close is reported. Returns 0 or CLI_EXIT_FAILURE. */
int audit_output_close(const audit_args_t *args, FILE *out);

/* Text forms. */
void audit_hex(const uint8_t *bytes, size_t size, char *text);
void audit_u128_text(ledger_u128_t value, char text[CLI_U128_TEXT_SIZE]);
/* plus − minus, each a non-negative 128-bit value, as signed decimal. */
void audit_signed_text(ledger_u128_t plus, ledger_u128_t minus,
                       char text[AUDIT_SIGNED_TEXT_SIZE]);

/* The trial balance and reconciliation rows as CSV or JSON Lines (for
 * `audit trial-balance --csv|--jsonl`, `audit reconcile --csv` and `audit
 * export trial-balance|reconcile`). Return an exit code. */
int audit_trial_balance_rows(const audit_args_t *args, ledger_t *ledger, FILE *out);
int audit_reconcile_rows(const audit_args_t *args, ledger_t *ledger, FILE *out);

#endif
