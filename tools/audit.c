/*
 * audit.c — `borsellino audit verify`: checks a data directory from
 * scratch with ledger_verify() (every checksum, sequence and hash-chain
 * link of the journal; balances recomputed from the events; Σ debits =
 * Σ credits per ledger; the checkpoint table), then the welfare
 * reconciliation identities with welfare_reconcile(), and says whether the
 * books hold.
 *
 * The directory is opened read-only (ledger_options_t.read_only): nothing
 * is created, formatted, checkpointed or "repaired", and it is safe while a
 * borsellinod writes to the same directory (the check then sees the
 * journal as of the moment it opened). A directory the engine refuses to
 * open (newer format, bad checksum, truncated file) is reported with the
 * engine's own message and exit 1.
 *
 * This is the minimal first step of the audit work: one subcommand,
 * `verify`. Later audit commands (proofs of single events, exports) will
 * sit next to it in this file.
 *
 * Workload: one run per invocation; the whole journal is read once, so the
 * cost is linear in the number of records (a progress bar on stderr when
 * it is a terminal).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ledger.h"
#include "welfare.h"

/* Width of the progress bar, in characters. */
enum { AUDIT_PROGRESS_BAR_WIDTH = 40 };
/* Redraw the bar at most this often, so a fast verify is not slowed by
 * terminal output. */
#define AUDIT_PROGRESS_INTERVAL_NS UINT64_C(100000000)
/* A chain head as hex: 32 bytes, two digits each, and NUL. */
enum { AUDIT_HASH_TEXT_SIZE = 65 };

static const char audit_help[] =
    "usage: borsellino audit verify [--data DIR] [--json]\n"
    "\n"
    "Verifies a data directory from scratch, trusting nothing cached: every\n"
    "journal record's checksum and sequence, the SHA-256 hash chain, every\n"
    "account's balances recomputed from the events, debits = credits per\n"
    "ledger, the checkpoint table, and the welfare reconciliation identities\n"
    "(per funder: funded = funds + pots + spent - refunded + reimbursed +\n"
    "forfeited; per provider: sales - refunds - net fees = payouts + payable).\n"
    "Opens the directory read-only: it never writes or repairs anything,\n"
    "and is safe while borsellinod runs on the same directory (it checks\n"
    "the journal as of the moment it opens).\n"
    "\n"
    "  --data DIR   data directory (default: ./" CLI_DATA_PATH_DEFAULT ")\n"
    "  --json       one JSON object on stdout: {\"ok\": true, \"records\": N,\n"
    "               \"accounts\": N, \"ledgers\": N, \"chain_head\": HEX,\n"
    "               \"welfare_funders\": N, \"welfare_providers\": N} or\n"
    "               {\"ok\": false, \"error\": NAME, \"first_bad_sequence\": N,\n"
    "               \"message\": TEXT}\n"
    "\n"
    "Exit codes: 0 the books hold; 1 verification failed or the directory\n"
    "cannot be opened (newer format, bad checksum, truncated file: the\n"
    "message says which); 2 bad usage. A progress bar goes to stderr when it\n"
    "is a terminal.\n"
    "\n"
    "This is the minimal first step of the audit tooling: only `verify`\n"
    "exists so far.\n";

typedef struct audit_options {
    const char *data_path;
    bool json;
} audit_options_t;

typedef struct audit_progress {
    bool enabled;
    uint64_t last_draw_ns;
} audit_progress_t;

static uint64_t audit_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* ledger_progress_fn: redraws "[#####.....] done/total" in place. */
static void audit_progress_draw(void *context, uint64_t done, uint64_t total) {
    audit_progress_t *progress = context;
    if (!progress->enabled || total == 0) return;
    uint64_t now_ns = audit_now_ns();
    if (done < total && now_ns - progress->last_draw_ns < AUDIT_PROGRESS_INTERVAL_NS) return;
    progress->last_draw_ns = now_ns;
    uint64_t filled = (done > total ? total : done) * AUDIT_PROGRESS_BAR_WIDTH / total;
    char bar[AUDIT_PROGRESS_BAR_WIDTH + 1];
    for (int i = 0; i < AUDIT_PROGRESS_BAR_WIDTH; i++) bar[i] = (uint64_t)i < filled ? '#' : '.';
    bar[AUDIT_PROGRESS_BAR_WIDTH] = '\0';
    fprintf(stderr, "\rverifying [%s] %" PRIu64 "/%" PRIu64 " records", bar, done, total);
    fflush(stderr);
}

static void audit_progress_end(const audit_progress_t *progress) {
    if (progress->enabled) fputs("\r\033[K", stderr);
}

static void audit_hash_text(const uint8_t hash[32], char text[AUDIT_HASH_TEXT_SIZE]) {
    for (int i = 0; i < 32; i++) snprintf(text + 2 * i, 3, "%02x", hash[i]);
}

/* Parses the options after `verify`. Returns -1 to go on, or an exit code. */
static int audit_parse(int argc, char **argv, audit_options_t *options) {
    options->data_path = CLI_DATA_PATH_DEFAULT;
    options->json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(audit_help, stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            options->json = true;
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            options->data_path = argv[++i];
        } else {
            return cli_usage_error("audit verify", "unknown option %s (see --help)", argv[i]);
        }
    }
    return -1;
}

/* Reports a failure (open or verify): stderr always, JSON with --json. */
static int audit_fail(const audit_options_t *options, int error, uint64_t first_bad_sequence,
                      const char *message) {
    fprintf(stderr, "borsellino audit verify: %s: %s", options->data_path, message);
    if (first_bad_sequence != 0) {
        fprintf(stderr, " (first bad journal sequence %" PRIu64 ")", first_bad_sequence);
    }
    fputc('\n', stderr);
    if (options->json) {
        printf("{\"ok\": false, \"error\": ");
        cli_json_string(stdout, ledger_strerror(error));
        printf(", \"first_bad_sequence\": %" PRIu64 ", \"message\": ", first_bad_sequence);
        cli_json_string(stdout, message);
        printf("}\n");
    }
    return CLI_EXIT_FAILURE;
}

static void audit_print_ok(const audit_options_t *options, const ledger_verify_report_t *report,
                           const ledger_stats_t *stats,
                           const welfare_reconcile_report_t *reconcile) {
    char head[AUDIT_HASH_TEXT_SIZE];
    audit_hash_text(stats->chain_head, head);
    if (options->json) {
        printf("{\"ok\": true, \"records\": %" PRIu64 ", \"accounts\": %" PRIu64
               ", \"ledgers\": %" PRIu64 ", \"journal_sequence\": %" PRIu64
               ", \"chain_head\": \"%s\", \"welfare_funders\": %u"
               ", \"welfare_providers\": %u}\n",
               report->records_checked, report->accounts_checked, report->ledgers_checked,
               stats->journal_sequence, head, reconcile->funders_checked,
               reconcile->providers_checked);
        return;
    }
    printf("books hold: %s\n", options->data_path);
    printf("  records     %" PRIu64 " (journal sequence %" PRIu64 ")\n",
           report->records_checked, stats->journal_sequence);
    printf("  accounts    %" PRIu64 "\n", report->accounts_checked);
    printf("  ledgers     %" PRIu64 "\n", report->ledgers_checked);
    printf("  chain head  %s\n", head);
    printf("  welfare     %u funders and %u providers reconcile\n", reconcile->funders_checked,
           reconcile->providers_checked);
}

/* Opens read-only, verifies, closes. */
static int audit_verify_run(const audit_options_t *options) {
    if (access(options->data_path, F_OK) != 0) {
        /* A read-only open of a missing directory would not create it; say
         * so plainly instead of an LMDB error. */
        return audit_fail(options, LEDGER_ERR_NOT_A_LEDGER, 0, "no such data directory");
    }
    ledger_options_t ledger_options;
    memset(&ledger_options, 0, sizeof ledger_options);
    ledger_options.read_only = true;
    ledger_t *ledger = NULL;
    int error = ledger_open(options->data_path, &ledger_options, &ledger);
    if (error != 0) {
        char message[512];
        snprintf(message, sizeof message, "cannot open (%s): %s", ledger_strerror(error),
                 ledger_last_error_message(NULL));
        return audit_fail(options, error, 0, message);
    }
    ledger_verify_report_t report;
    memset(&report, 0, sizeof report);
    audit_progress_t progress = {isatty(STDERR_FILENO) == 1, 0};
    error = ledger_verify(ledger, &report, audit_progress_draw, &progress);
    audit_progress_end(&progress);
    ledger_stats_t stats;
    memset(&stats, 0, sizeof stats);
    int stats_error = error == 0 ? ledger_stats(ledger, &stats) : 0;
    welfare_reconcile_report_t reconcile;
    memset(&reconcile, 0, sizeof reconcile);
    int reconcile_error = error == 0 && stats_error == 0 ? welfare_reconcile(ledger, &reconcile) : 0;
    (void)ledger_close(ledger);
    if (error == LEDGER_ERR_VERIFY_FAILED) {
        return audit_fail(options, error, report.first_bad_sequence, report.message);
    }
    if (error == 0) error = stats_error ? stats_error : reconcile_error;
    if (error != 0) {
        return audit_fail(options, error, report.first_bad_sequence, ledger_strerror(error));
    }
    if (!reconcile.balanced) {
        char message[320];
        snprintf(message, sizeof message, "welfare books do not reconcile: %s", reconcile.message);
        return audit_fail(options, LEDGER_ERR_VERIFY_FAILED, 0, message);
    }
    audit_print_ok(options, &report, &stats, &reconcile);
    return CLI_EXIT_OK;
}

int cli_audit(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(audit_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "verify") != 0) {
        return cli_usage_error("audit", "unknown subcommand %s (only `verify` exists)", argv[1]);
    }
    audit_options_t options;
    int exit_code = audit_parse(argc - 1, argv + 1, &options);
    if (exit_code >= 0) return exit_code;
    return audit_verify_run(&options);
}
