/*
 * audit_export.c — `borsellino audit export journal|trial-balance|
 * reconcile`, and what every offline audit command shares: option
 * parsing, the read-only open, failures, the output file, text forms.
 * (The trial balance, balance and reconciliation themselves are in
 * tools/audit_figures.c.)
 *
 * `audit export journal` streams every journal record (ledger_journal_scan:
 * one snapshot, constant memory, every checksum checked) as CSV or JSON
 * Lines, one row per record, with stable columns (journal_columns below,
 * printed by --help; docs/audit.md). Target: >= 500,000 records/s to a
 * file, so rows are formatted with hand-written integer and hex
 * formatters into a 1 MiB buffer written with write(2): no printf per
 * field, no allocation per record.
 *
 * Invariants: the columns of a row are those of the header, in its order;
 * a failed export (damaged record, full disk) exits 1, and with --out
 * removes the partial file, so a file that exists after exit 0 is whole.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit_cli.h"
#include "audit_export.h"

enum {
    /* Bytes buffered before a write(2). */
    EXPORT_BUFFER_SIZE = 1 << 20,
    /* Room one journal row needs at most: 5 u128 quoted (42 each), 18
     * integers (20 each), a hash (66), names (< 60), 25 keys (< 30 each)
     * and separators come to about 1,700 bytes as JSON. */
    EXPORT_ROW_SIZE_MAX = 2048,
    /* Records between two looks at the clock for the progress bar. */
    EXPORT_PROGRESS_EVERY = 1 << 16,
    EXPORT_MESSAGE_SIZE = 512,
    /* The u128 formatter works in chunks of 19 decimal digits. */
    EXPORT_CHUNK_DIGITS = 19,
};

#define EXPORT_CHUNK UINT64_C(10000000000000000000) /* 10^19 */

__extension__ typedef unsigned __int128 export_u128_t;

/* ------------------------------------------------------------------------ */
/* Options, opening, failures, output                                       */

enum { PARSE_GO_ON = -1, PARSE_UNKNOWN = -2 };

static bool option_takes_value(unsigned allowed, const char *name) {
    return strcmp(name, "--data") == 0 ||
           ((allowed & AUDIT_OPTION_AT) && strcmp(name, "--at") == 0) ||
           ((allowed & AUDIT_OPTION_ACCOUNT) && strcmp(name, "--account") == 0) ||
           ((allowed & AUDIT_OPTION_FORMAT) && strcmp(name, "--format") == 0) ||
           ((allowed & AUDIT_OPTION_RANGE) &&
            (strcmp(name, "--from") == 0 || strcmp(name, "--to") == 0)) ||
           ((allowed & AUDIT_OPTION_OUT) && strcmp(name, "--out") == 0);
}

/* --json, --csv, --jsonl; one output form at most. */
static int parse_flag(audit_args_t *args, unsigned allowed, const char *name, bool *chosen) {
    audit_output_t output;
    if ((allowed & AUDIT_OPTION_JSON) && strcmp(name, "--json") == 0) {
        output = AUDIT_OUTPUT_JSON;
    } else if ((allowed & AUDIT_OPTION_CSV) && strcmp(name, "--csv") == 0) {
        output = AUDIT_OUTPUT_CSV;
    } else if ((allowed & AUDIT_OPTION_JSONL) && strcmp(name, "--jsonl") == 0) {
        output = AUDIT_OUTPUT_JSONL;
    } else {
        return PARSE_UNKNOWN;
    }
    if (*chosen && args->output != output) {
        return cli_usage_error(args->command, "choose one output form (%s)", name);
    }
    *chosen = true;
    args->output = output;
    return PARSE_GO_ON;
}

static int parse_sequence(const audit_args_t *args, const char *name, const char *value,
                          uint64_t *out) {
    if (!cli_parse_u64(value, UINT64_MAX, out) || *out == 0) {
        return cli_usage_error(args->command, "%s wants a journal sequence (1 or more), not %s",
                               name, value);
    }
    return PARSE_GO_ON;
}

static int parse_value(audit_args_t *args, const char *name, const char *value) {
    if (strcmp(name, "--data") == 0) {
        args->data_path = value;
    } else if (strcmp(name, "--at") == 0) {
        if (!cli_parse_time(value, cli_now_ns(), &args->at) || args->at == 0) {
            return cli_usage_error(args->command, "bad time for --at: %s (ns since the epoch, "
                                   "2026-03-31, 2026-03-31T12:00:00Z or now)", value);
        }
        args->at_given = true;
    } else if (strcmp(name, "--account") == 0) {
        if (!cli_parse_u128(value, &args->account)) {
            return cli_usage_error(args->command, "--account wants an id (decimal or 0x hex), "
                                   "not %s", value);
        }
        args->account_given = true;
    } else if (strcmp(name, "--format") == 0) {
        if (strcmp(value, "csv") == 0) args->output = AUDIT_OUTPUT_CSV;
        else if (strcmp(value, "jsonl") == 0) args->output = AUDIT_OUTPUT_JSONL;
        else return cli_usage_error(args->command, "--format is csv or jsonl, not %s", value);
    } else if (strcmp(name, "--from") == 0) {
        return parse_sequence(args, name, value, &args->from);
    } else if (strcmp(name, "--to") == 0) {
        return parse_sequence(args, name, value, &args->to);
    } else {
        args->out_path = value; /* --out: option_takes_value admitted nothing else */
    }
    return PARSE_GO_ON;
}

int audit_args_parse(int argc, char **argv, const char *command, const char *help,
                     unsigned allowed, audit_args_t *args) {
    memset(args, 0, sizeof(*args));
    args->command = command;
    args->data_path = CLI_DATA_PATH_DEFAULT;
    args->output = (allowed & AUDIT_OPTION_FORMAT) ? AUDIT_OUTPUT_CSV : AUDIT_OUTPUT_HUMAN;
    bool chosen = false;
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            fputs(help, stdout);
            return CLI_EXIT_OK;
        }
        int status = parse_flag(args, allowed, name, &chosen);
        if (status == PARSE_UNKNOWN && option_takes_value(allowed, name)) {
            if (i + 1 >= argc) return cli_usage_error(command, "%s needs a value", name);
            status = parse_value(args, name, argv[++i]);
        }
        if (status == PARSE_UNKNOWN) return cli_usage_error(command, "unknown option %s", name);
        if (status != PARSE_GO_ON) return status;
    }
    if (args->from != 0 && args->to != 0 && args->from > args->to) {
        return cli_usage_error(command, "--from %" PRIu64 " is after --to %" PRIu64, args->from,
                               args->to);
    }
    return PARSE_GO_ON;
}

int audit_fail(const audit_args_t *args, const char *name, const char *format, ...) {
    char message[EXPORT_MESSAGE_SIZE];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof(message), format, arguments);
    va_end(arguments);
    fprintf(stderr, "borsellino %s: %s\n", args->command, message);
    if (args->output == AUDIT_OUTPUT_JSON) {
        fputs("{\"error\": ", stdout);
        cli_json_string(stdout, name);
        fputs(", \"message\": ", stdout);
        cli_json_string(stdout, message);
        fputs("}\n", stdout);
    }
    return CLI_EXIT_FAILURE;
}

int audit_open(const audit_args_t *args, ledger_t **ledger_out) {
    *ledger_out = NULL;
    if (access(args->data_path, F_OK) != 0) {
        /* A read-only open never creates a directory: say so plainly. */
        return audit_fail(args, ledger_strerror(LEDGER_ERR_NOT_A_LEDGER),
                          "%s: no such data directory", args->data_path);
    }
    ledger_options_t options;
    memset(&options, 0, sizeof(options));
    options.read_only = true;
    int error = ledger_open(args->data_path, &options, ledger_out);
    if (error == 0) return 0;
    *ledger_out = NULL;
    return audit_fail(args, ledger_strerror(error), "%s: cannot open (%s): %s", args->data_path,
                      ledger_strerror(error), ledger_last_error_message(NULL));
}

int audit_output_open(const audit_args_t *args, FILE **out) {
    *out = stdout;
    if (args->out_path == NULL) return 0;
    int fd = open(args->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (*out != NULL) return 0;
    int saved = errno;
    if (fd >= 0) close(fd);
    return audit_fail(args, "output", "cannot write %s: %s", args->out_path, strerror(saved));
}

int audit_output_close(const audit_args_t *args, FILE *out) {
    bool failed = ferror(out) != 0;
    failed |= (out == stdout ? fflush(out) : fclose(out)) != 0;
    if (!failed) return 0;
    const char *where = args->out_path != NULL ? args->out_path : "stdout";
    return audit_fail(args, "output", "writing %s failed: %s", where, strerror(errno));
}

/* ------------------------------------------------------------------------ */
/* Text forms                                                               */

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
static const char hex_digits[] = "0123456789abcdef";

static char *format_u64(char *p, uint64_t value) {
    char digits[20];
    char *start = digits + sizeof(digits);
    while (value >= 100) {
        start -= 2;
        memcpy(start, digit_pairs + 2 * (value % 100), 2);
        value /= 100;
    }
    if (value >= 10) {
        start -= 2;
        memcpy(start, digit_pairs + 2 * value, 2);
    } else {
        *--start = (char)('0' + value);
    }
    size_t length = (size_t)(digits + sizeof(digits) - start);
    memcpy(p, start, length);
    return p + length;
}

/* Exactly 19 digits, zero-padded: the lower chunks of a u128. */
static char *format_chunk(char *p, uint64_t value) {
    for (int i = EXPORT_CHUNK_DIGITS - 1; i >= 0; i--) {
        p[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return p + EXPORT_CHUNK_DIGITS;
}

static char *format_u128(char *p, ledger_u128_t value) {
    if (value.hi == 0) return format_u64(p, value.lo);
    export_u128_t number = (export_u128_t)value.hi << 64 | value.lo;
    export_u128_t upper = number / EXPORT_CHUNK;
    uint64_t lowest = (uint64_t)(number - upper * EXPORT_CHUNK);
    if (upper < EXPORT_CHUNK) {
        p = format_u64(p, (uint64_t)upper);
    } else {
        p = format_u64(p, (uint64_t)(upper / EXPORT_CHUNK));
        p = format_chunk(p, (uint64_t)(upper % EXPORT_CHUNK));
    }
    return format_chunk(p, lowest);
}

static char *format_hex(char *p, const uint8_t *bytes, size_t size) {
    for (size_t i = 0; i < size; i++) {
        *p++ = hex_digits[bytes[i] >> 4];
        *p++ = hex_digits[bytes[i] & 0xF];
    }
    return p;
}

static char *format_text(char *p, const char *text) {
    size_t length = strlen(text);
    memcpy(p, text, length);
    return p + length;
}

void audit_hex(const uint8_t *bytes, size_t size, char *text) {
    *format_hex(text, bytes, size) = '\0';
}

void audit_u128_text(ledger_u128_t value, char text[CLI_U128_TEXT_SIZE]) {
    *format_u128(text, value) = '\0';
}

void audit_signed_text(ledger_u128_t plus, ledger_u128_t minus,
                       char text[AUDIT_SIGNED_TEXT_SIZE]) {
    export_u128_t a = (export_u128_t)plus.hi << 64 | plus.lo;
    export_u128_t b = (export_u128_t)minus.hi << 64 | minus.lo;
    export_u128_t magnitude = a >= b ? a - b : b - a;
    char *p = text;
    if (a < b) *p++ = '-';
    ledger_u128_t value = {(uint64_t)(magnitude >> 64), (uint64_t)magnitude};
    *format_u128(p, value) = '\0';
}

/* ------------------------------------------------------------------------ */
/* The journal's columns                                                    */

typedef enum column_type {
    COLUMN_U64,
    COLUMN_U32,
    COLUMN_U16,
    COLUMN_U128,   /* decimal; a JSON string */
    COLUMN_KIND,   /* account, transfer, expiry, failed */
    COLUMN_RESULT, /* ok, or the transient result of a failure marker */
    COLUMN_HASH,   /* 64 hex digits */
} column_type_t;

typedef struct column {
    const char *name;     /* the CSV header's */
    size_t name_length;
    const char *json_key; /* "name": */
    size_t json_key_length;
    column_type_t type;
    size_t offset;        /* in ledger_journal_entry_t */
} column_t;

/* A column of `member`: lengths computed at compile time, so that a row
 * costs no strlen. */
#define COLUMN(name, type, member)                                                  \
    {name, sizeof(name) - 1, "\"" name "\":", sizeof("\"" name "\":") - 1, type,  \
     offsetof(ledger_journal_entry_t, member)}

/* The stable columns of `audit export journal`, in order. Never reorder
 * or rename: add new columns at the end (docs/audit.md). */
static const column_t journal_columns[] = {
    COLUMN("sequence", COLUMN_U64, sequence),
    COLUMN("timestamp", COLUMN_U64, transfer.timestamp),
    COLUMN("kind", COLUMN_KIND, kind),
    COLUMN("result", COLUMN_RESULT, result),
    COLUMN("id", COLUMN_U128, transfer.id),
    COLUMN("debit_account_id", COLUMN_U128, transfer.debit_account_id),
    COLUMN("credit_account_id", COLUMN_U128, transfer.credit_account_id),
    COLUMN("amount", COLUMN_U64, transfer.amount),
    COLUMN("pending_id", COLUMN_U128, transfer.pending_id),
    COLUMN("user_data_128", COLUMN_U128, transfer.user_data_128),
    COLUMN("user_data_64", COLUMN_U64, transfer.user_data_64),
    COLUMN("user_data_32", COLUMN_U32, transfer.user_data_32),
    COLUMN("timeout", COLUMN_U32, transfer.timeout),
    COLUMN("ledger", COLUMN_U32, transfer.ledger),
    COLUMN("code", COLUMN_U16, transfer.code),
    COLUMN("flags", COLUMN_U16, transfer.flags),
    COLUMN("debit_debits_pending", COLUMN_U64, debit_after.debits_pending),
    COLUMN("debit_debits_posted", COLUMN_U64, debit_after.debits_posted),
    COLUMN("debit_credits_pending", COLUMN_U64, debit_after.credits_pending),
    COLUMN("debit_credits_posted", COLUMN_U64, debit_after.credits_posted),
    COLUMN("credit_debits_pending", COLUMN_U64, credit_after.debits_pending),
    COLUMN("credit_debits_posted", COLUMN_U64, credit_after.debits_posted),
    COLUMN("credit_credits_pending", COLUMN_U64, credit_after.credits_pending),
    COLUMN("credit_credits_posted", COLUMN_U64, credit_after.credits_posted),
    COLUMN("chain_hash", COLUMN_HASH, chain_hash),
};

enum { JOURNAL_COLUMNS_COUNT = sizeof(journal_columns) / sizeof(journal_columns[0]) };

static const char *kind_name(uint32_t kind) {
    switch (kind) {
    case LEDGER_EVENT_ACCOUNT: return "account";
    case LEDGER_EVENT_TRANSFER: return "transfer";
    case LEDGER_EVENT_EXPIRY: return "expiry";
    case LEDGER_EVENT_FAILED: return "failed";
    default: return "unknown";
    }
}

static char *format_column(char *p, const column_t *column, const ledger_journal_entry_t *entry,
                           bool json) {
    const char *field = (const char *)entry + column->offset;
    uint64_t u64 = 0;
    uint32_t u32 = 0;
    uint16_t u16 = 0;
    ledger_u128_t u128;
    const char *text = NULL;
    switch (column->type) {
    case COLUMN_U64: memcpy(&u64, field, sizeof(u64)); return format_u64(p, u64);
    case COLUMN_U32: memcpy(&u32, field, sizeof(u32)); return format_u64(p, u32);
    case COLUMN_U16: memcpy(&u16, field, sizeof(u16)); return format_u64(p, u16);
    case COLUMN_KIND: text = kind_name(entry->kind); break;
    case COLUMN_RESULT: text = ledger_result_name(entry->result); break;
    case COLUMN_U128: memcpy(&u128, field, sizeof(u128)); break;
    case COLUMN_HASH: break;
    }
    if (json) *p++ = '"';
    if (text != NULL) p = format_text(p, text);
    else if (column->type == COLUMN_U128) p = format_u128(p, u128);
    else p = format_hex(p, (const uint8_t *)field, LEDGER_DIGEST_SIZE);
    if (json) *p++ = '"';
    return p;
}

static char *format_row(char *p, const ledger_journal_entry_t *entry, bool json) {
    if (json) *p++ = '{';
    for (int i = 0; i < JOURNAL_COLUMNS_COUNT; i++) {
        if (i > 0) *p++ = ',';
        if (json) {
            memcpy(p, journal_columns[i].json_key, journal_columns[i].json_key_length);
            p += journal_columns[i].json_key_length;
        }
        p = format_column(p, &journal_columns[i], entry, json);
    }
    if (json) *p++ = '}';
    *p++ = '\n';
    return p;
}

/* ------------------------------------------------------------------------ */
/* The buffered writer                                                      */

typedef struct export_writer {
    int fd;
    char *buffer; /* EXPORT_BUFFER_SIZE bytes */
    size_t used;
    int error;    /* errno of the first failed write; nothing written after */
    uint64_t bytes;
} export_writer_t;

static void writer_flush(export_writer_t *writer) {
    size_t done = 0;
    while (done < writer->used && writer->error == 0) {
        ssize_t n = write(writer->fd, writer->buffer + done, writer->used - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) writer->error = n < 0 ? errno : EIO;
        else done += (size_t)n;
    }
    writer->bytes += done;
    writer->used = 0;
}

/* Room for one row; NULL once a write failed. */
static char *writer_reserve(export_writer_t *writer) {
    if (EXPORT_BUFFER_SIZE - writer->used < EXPORT_ROW_SIZE_MAX) writer_flush(writer);
    return writer->error == 0 ? writer->buffer + writer->used : NULL;
}

static void writer_commit(export_writer_t *writer, const char *end) {
    writer->used = (size_t)(end - writer->buffer);
}

/* ------------------------------------------------------------------------ */
/* audit export journal                                                     */

typedef struct journal_export {
    export_writer_t writer;
    bool json;
    uint64_t count;
    uint64_t first, last; /* sequences exported */
    uint64_t progress_first, progress_total;
    cli_progress_t progress;
} journal_export_t;

/* ledger_journal_fn: one row. Stops the scan (1) after a failed write. */
static int journal_export_entry(void *context, const ledger_journal_entry_t *entry) {
    journal_export_t *export = context;
    char *p = writer_reserve(&export->writer);
    if (p == NULL) return 1;
    char *end = format_row(p, entry, export->json);
    /* The buffer had EXPORT_ROW_SIZE_MAX bytes free: a longer row would
     * have overrun it. */
    assert(end - p <= EXPORT_ROW_SIZE_MAX);
    writer_commit(&export->writer, end);
    if (export->count++ == 0) export->first = entry->sequence;
    export->last = entry->sequence;
    if ((export->count & (EXPORT_PROGRESS_EVERY - 1)) == 0) {
        cli_progress_draw(&export->progress, entry->sequence - export->progress_first + 1,
                          export->progress_total);
    }
    return 0;
}

static void journal_header(export_writer_t *writer) {
    char *p = writer_reserve(writer);
    if (p == NULL) return;
    for (int i = 0; i < JOURNAL_COLUMNS_COUNT; i++) {
        if (i > 0) *p++ = ',';
        p = format_text(p, journal_columns[i].name);
    }
    *p++ = '\n';
    writer_commit(writer, p);
}

/* Where the rows go: --out (created or truncated, 0600) or stdout. */
static int journal_output_open(const audit_args_t *args, int *fd_out) {
    *fd_out = STDOUT_FILENO;
    if (args->out_path == NULL) return 0;
    *fd_out = open(args->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (*fd_out >= 0) return 0;
    return audit_fail(args, "output", "cannot write %s: %s", args->out_path, strerror(errno));
}

/* Flushes and closes; on failure removes a partial --out file. */
static int journal_output_finish(const audit_args_t *args, ledger_t *ledger,
                                 journal_export_t *export, int scan_error) {
    writer_flush(&export->writer);
    cli_progress_end(&export->progress);
    int error = export->writer.error;
    if (args->out_path != NULL && close(export->writer.fd) != 0 && error == 0) error = errno;
    if (scan_error == 0 && error == 0) return 0;
    if (args->out_path != NULL) unlink(args->out_path);
    const char *removed = args->out_path != NULL ? " (the partial file was removed)" : "";
    if (error != 0) {
        return audit_fail(args, "output", "writing %s failed: %s%s",
                          args->out_path ? args->out_path : "stdout", strerror(error), removed);
    }
    return audit_fail(args, ledger_strerror(scan_error), "reading the journal: %s: %s%s",
                      ledger_strerror(scan_error), ledger_last_error_message(ledger), removed);
}

static void journal_summary(const audit_args_t *args, const journal_export_t *export,
                            uint64_t elapsed_ns) {
    if (args->out_path == NULL) return; /* stdout holds the rows only */
    double seconds = (double)elapsed_ns / 1e9;
    printf("exported %" PRIu64 " records (sequence %" PRIu64 "..%" PRIu64 ") to %s as %s, "
           "%" PRIu64 " bytes, in %.3f s (%.0f records/s)\n",
           export->count, export->first, export->last, args->out_path,
           export->json ? "JSON Lines" : "CSV", export->writer.bytes, seconds,
           seconds > 0 ? (double)export->count / seconds : 0.0);
}

static int journal_export_run(const audit_args_t *args, ledger_t *ledger) {
    ledger_stats_t stats;
    memset(&stats, 0, sizeof(stats));
    (void)ledger_stats(ledger, &stats);
    journal_export_t export;
    memset(&export, 0, sizeof(export));
    export.json = args->output == AUDIT_OUTPUT_JSONL;
    cli_progress_init(&export.progress, "exporting", "records");
    export.progress_first = args->from == 0 ? 1 : args->from;
    uint64_t last = args->to != 0 ? args->to : stats.journal_sequence;
    export.progress_total = last >= export.progress_first ? last - export.progress_first + 1 : 0;
    export.writer.buffer = malloc(EXPORT_BUFFER_SIZE);
    if (export.writer.buffer == NULL) return audit_fail(args, "out of memory", "out of memory");
    int exit_code = journal_output_open(args, &export.writer.fd);
    if (exit_code != 0) {
        free(export.writer.buffer);
        return exit_code;
    }
    uint64_t started_ns = cli_monotonic_ns();
    if (!export.json) journal_header(&export.writer);
    int error = ledger_journal_scan(ledger, args->from, args->to, journal_export_entry, &export);
    if (error == 1 && export.writer.error != 0) error = 0; /* reported as a write error */
    exit_code = journal_output_finish(args, ledger, &export, error);
    if (exit_code == 0) journal_summary(args, &export, cli_monotonic_ns() - started_ns);
    free(export.writer.buffer);
    return exit_code;
}

/* ------------------------------------------------------------------------ */
/* audit export: the dispatcher                                             */

static const char export_help[] =
    "usage: borsellino audit export journal [--data DIR] [--from SEQ] [--to SEQ]\n"
    "                                       [--format csv|jsonl] [--out FILE]\n"
    "       borsellino audit export trial-balance [--data DIR] [--at TIME]\n"
    "                                       [--format csv|jsonl] [--out FILE]\n"
    "       borsellino audit export reconcile [--data DIR] [--at TIME]\n"
    "                                       [--format csv|jsonl] [--out FILE]\n"
    "\n"
    "Exports for auditors' own tools, one row per line, with stable columns\n"
    "(new columns are only ever added at the end). The data directory is\n"
    "opened read-only: safe while borsellinod runs on it (the export is of\n"
    "the state, and the journal snapshot, as of the moment it starts).\n"
    "\n"
    "  journal         every journal record in sequence order, streamed in\n"
    "                  constant memory, every record's checksum checked\n"
    "  trial-balance   the rows of `audit trial-balance` (see its --help)\n"
    "  reconcile       the rows of `audit reconcile` (see its --help)\n"
    "\n"
    "  --data DIR      data directory (default: ./" CLI_DATA_PATH_DEFAULT ")\n"
    "  --from SEQ      journal: the first sequence to export (default 1)\n"
    "  --to SEQ        journal: the last sequence to export (default: the end)\n"
    "  --at TIME       trial-balance, reconcile: as of TIME (see `audit\n"
    "                  trial-balance --help`); default now\n"
    "  --format F      csv (default: a header line, then rows) or jsonl (one\n"
    "                  JSON object per line, keys = the CSV column names)\n"
    "  --out FILE      write FILE (created or truncated, mode 0600) instead of\n"
    "                  stdout, and print a one-line summary (records, bytes,\n"
    "                  records/s); a failed export removes the partial file\n"
    "\n"
    "Journal columns, in order:\n"
    "  sequence, timestamp (ns since the epoch), kind (account, transfer,\n"
    "  expiry, failed), result (ok, or the transient result name of a failed\n"
    "  transfer), id, debit_account_id, credit_account_id, amount, pending_id,\n"
    "  user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags\n"
    "  (the number: account flags for kind account, transfer flags otherwise),\n"
    "  debit_debits_pending, debit_debits_posted, debit_credits_pending,\n"
    "  debit_credits_posted (the debit account's balances after the event; for\n"
    "  kind account: the new account's), credit_debits_pending,\n"
    "  credit_debits_posted, credit_credits_pending, credit_credits_posted (the\n"
    "  credit account's after; zero for kind account), chain_hash (64 hex\n"
    "  digits: SHA-256 of the previous record's chain_hash and this record's\n"
    "  bytes 4..231, docs/audit.md).\n"
    "  Ids and user_data_128 are decimal (JSON: strings); every other number is\n"
    "  a plain integer. Fields that do not apply to a kind are 0. An expiry's\n"
    "  id is 0 and its pending_id the expired transfer.\n"
    "\n"
    "Exit codes: 0 exported; 1 the directory cannot be read, a record is\n"
    "damaged (named by sequence) or the output cannot be written; 2 bad usage.\n"
    "A progress bar goes to stderr when it is a terminal.\n";

typedef int (*export_rows_fn)(const audit_args_t *args, ledger_t *ledger, FILE *out);

/* trial-balance and reconcile: rows to a FILE. */
static int export_rows(const audit_args_t *args, ledger_t *ledger, export_rows_fn rows) {
    FILE *out = NULL;
    int exit_code = audit_output_open(args, &out);
    if (exit_code != 0) return exit_code;
    exit_code = rows(args, ledger, out);
    int close_code = audit_output_close(args, out);
    if (exit_code == 0) exit_code = close_code;
    if (exit_code != 0 && args->out_path != NULL) unlink(args->out_path);
    return exit_code;
}

int audit_export_main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(export_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *what = argv[1];
    unsigned common = AUDIT_OPTION_FORMAT | AUDIT_OPTION_OUT;
    const char *command = NULL;
    unsigned allowed = common | AUDIT_OPTION_AT;
    if (strcmp(what, "journal") == 0) {
        command = "audit export journal";
        allowed = common | AUDIT_OPTION_RANGE;
    } else if (strcmp(what, "trial-balance") == 0) {
        command = "audit export trial-balance";
    } else if (strcmp(what, "reconcile") == 0) {
        command = "audit export reconcile";
    } else {
        return cli_usage_error("audit export", "unknown export %s (journal, trial-balance, "
                               "reconcile)", what);
    }
    audit_args_t args;
    int exit_code = audit_args_parse(argc - 1, argv + 1, command, export_help, allowed, &args);
    if (exit_code >= 0) return exit_code;
    ledger_t *ledger = NULL;
    exit_code = audit_open(&args, &ledger);
    if (exit_code != 0) return exit_code;
    if (strcmp(what, "journal") == 0) exit_code = journal_export_run(&args, ledger);
    else if (strcmp(what, "trial-balance") == 0) exit_code = export_rows(&args, ledger, audit_trial_balance_rows);
    else exit_code = export_rows(&args, ledger, audit_reconcile_rows);
    (void)ledger_close(ledger);
    return exit_code;
}
