/*
 * audit_report.c — `borsellino audit report`: the books of a data
 * directory as one self-contained HTML file for an auditor. This file is
 * the command: its options and --help, the run (open read-only, collect,
 * judge, write, say how it went) and its exit codes. The figures are
 * collected and judged by tools/audit_report_data.c, the page is written
 * by tools/audit_report_html.c and tools/audit_report_chart.c
 * (tools/audit_report.h says what they share; the HTML file's top comment
 * lists the figures for machines, as --help does below).
 *
 * The page shows the chain and signature status (ledger_verify_signed)
 * and the welfare reconciliation (welfare_reconcile), the trial balance
 * (ledger_trial_balance), the reconciliation identities per funder and per
 * provider (their statements over [0, TIME]), and charts of the money
 * funded, spent and expired by month (one pass over the journal).
 *
 * Exit codes: 0 the report is written and the books hold; 1 written but a
 * check failed (stderr and the page say which, in red), or an error
 * before anything was written (a half-written file is never left: the
 * page goes to a temporary file renamed over --out); 2 bad usage.
 *
 * Workload: one run per audit. The directory is opened read-only (safe
 * while borsellinod runs: everything is as of the moment it opens); the
 * cost and memory of a run are those of tools/audit_report_data.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_cli.h"
#include "audit_report.h"
#include "cli.h"

#define REPORT_COMMAND "audit report"

static const char report_help[] =
    "usage: borsellino audit report --out FILE [--data DIR] [--at TIME] [--pubkey FILE] [--json]\n"
    "\n"
    "Writes one self-contained HTML file (inline CSS and SVG; it loads\n"
    "nothing, so it can be mailed or archived) for an auditor:\n"
    "  - the chain and signature status: `audit verify` (records checked,\n"
    "    chain head, signed checkpoints checked, the last signed sequence,\n"
    "    the unsigned tail; or the failure with the first bad sequence) and\n"
    "    the welfare reconciliation of the whole journal;\n"
    "  - the trial balance per ledger and account code (`audit\n"
    "    trial-balance`), with debits = credits checked per ledger;\n"
    "  - per funder: funded = funds + pots + spent - refunded + reimbursed +\n"
    "    forfeited; per provider: sales - refunds - (fees - fees_returned) =\n"
    "    payouts + payable; both sides from the statements over [0, TIME]\n"
    "    (`audit reconcile`);\n"
    "  - a bar chart and a table of the money funded, spent and expired per\n"
    "    calendar month in Europe/Rome time. spent is gross: captured and\n"
    "    immediate purchases, before refunds (a column of their own); a hold\n"
    "    counts when captured; expired = expired back to the funder +\n"
    "    forfeited. The months add up to the funder statements' totals, and\n"
    "    the page says whether they do.\n"
    "\n"
    "  --out FILE     the HTML file to write (required); replaced whole, mode\n"
    "                 0600 (it holds the books), never left half-written\n"
    "  --data DIR     data directory (default: ./" CLI_DATA_PATH_DEFAULT "), opened\n"
    "                 read-only: safe while borsellinod runs on it (the report\n"
    "                 is as of the moment it opens)\n"
    "  --at TIME      trial balance, statements and months as of TIME: ns since\n"
    "                 the epoch, 2026-03-31T12:00:00Z, a date 2026-03-31 (its\n"
    "                 first instant, UTC), now, or +N s|m|h|d; default now. The\n"
    "                 verification always covers the whole journal\n"
    "  --pubkey FILE  check the signed checkpoints under this public key (PEM,\n"
    "                 from `audit pubkey`, obtained independently), as `audit\n"
    "                 verify --pubkey` does; default: the directory's own key\n"
    "  --json         print {\"ok\", \"out\", \"verified\", \"reconciled\",\n"
    "                 \"trial_balanced\", \"identities_hold\", \"months_match\",\n"
    "                 \"records\", \"journal_sequence\", \"funders\", \"providers\",\n"
    "                 \"months\"} on stdout; on an error without a report\n"
    "                 {\"ok\": false, \"error\": NAME, \"message\": TEXT}\n"
    "\n"
    "Figures for programs: every figure on the page is an element with\n"
    "data-figure=\"NAME\" (unique) and data-cents=\"N\" (an amount, exact\n"
    "integer minor units: cents for EUR; '-' when negative) or\n"
    "data-value=\"V\" (counts, hashes, true/false, text). NAMEs, with ids and\n"
    "codes in decimal as the CLI's --json prints them:\n"
    "  report.{ok,data,at,generated_at}\n"
    "  verify.{ok,records,accounts,ledgers,journal_sequence,chain_head,key,\n"
    "    signatures_checked,last_signed_sequence,unsigned_tail}, and when it\n"
    "    fails verify.{first_bad_sequence,message}\n"
    "  reconcile.{ok,funders_checked,providers_checked}, and when the books\n"
    "    do not reconcile reconcile.message\n"
    "  trial.{ok,sequence,timestamp,digest,rows}\n"
    "  trial.LEDGER.CODE.{accounts,debits_pending,debits_posted,\n"
    "    credits_pending,credits_posted}, trial.LEDGER.total.{the same},\n"
    "    trial.LEDGER.balanced\n"
    "  identities.ok, funders.count, providers.count\n"
    "  funder.ID.{kind,funded,granted,spent,refunded,reimbursed,expired_back,\n"
    "    forfeited,carried_over,fees,fees_returned,funds_balance,pots_balance,\n"
    "    held,left,right,holds}\n"
    "  provider.ID.{sales,refunds,fees,fees_returned,payouts,payable,held,\n"
    "    left,right,holds}\n"
    "  month.YYYY-MM.{funded,spent,refunded,expired_back,forfeited,expired},\n"
    "    months.total.{the same}, months.matches_statements\n"
    "  SECTION.error (reconcile, trial, identities, months): why that part\n"
    "    could not be computed, when it could not\n"
    "\n"
    "Exit codes: 0 the report is written and the books hold; 1 it is written\n"
    "but a check failed (stderr and the page, in red, say which), or an\n"
    "error before writing anything; 2 bad usage. A progress bar goes to\n"
    "stderr when it is a terminal.\n";

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

/* An error before any report was written: stderr, and JSON with --json. */
static int report_fail(const report_options_t *options, const char *name, const char *format,
                       ...) __attribute__((format(printf, 3, 4)));

static int report_fail(const report_options_t *options, const char *name, const char *format,
                       ...) {
    char message[REPORT_MESSAGE_SIZE];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof(message), format, arguments);
    va_end(arguments);
    fprintf(stderr, "borsellino " REPORT_COMMAND ": %s\n", message);
    if (options->json) {
        fputs("{\"ok\": false, \"error\": ", stdout);
        cli_json_string(stdout, name);
        fputs(", \"message\": ", stdout);
        cli_json_string(stdout, message);
        fputs("}\n", stdout);
    }
    return CLI_EXIT_FAILURE;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

/* Parses argv[1..]. Returns -1 to go on, or an exit code. */
static int report_parse(int argc, char **argv, report_options_t *options) {
    memset(options, 0, sizeof(*options));
    options->data_path = CLI_DATA_PATH_DEFAULT;
    const char *at_text = NULL;
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            fputs(report_help, stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(name, "--json") == 0) {
            options->json = true;
            continue;
        }
        const char **value = strcmp(name, "--data") == 0     ? &options->data_path
                             : strcmp(name, "--out") == 0    ? &options->out_path
                             : strcmp(name, "--pubkey") == 0 ? &options->pubkey_path
                             : strcmp(name, "--at") == 0     ? &at_text
                                                             : NULL;
        if (value == NULL) return cli_usage_error(REPORT_COMMAND, "unknown option %s", name);
        if (i + 1 >= argc) return cli_usage_error(REPORT_COMMAND, "%s needs a value", name);
        *value = argv[++i];
    }
    if (options->out_path == NULL || options->out_path[0] == '\0') {
        return cli_usage_error(REPORT_COMMAND, "give --out FILE");
    }
    if (at_text != NULL) {
        if (!cli_parse_time(at_text, cli_now_ns(), &options->at) || options->at == 0) {
            return cli_usage_error(REPORT_COMMAND,
                                   "--at %s: give ns since the epoch (> 0), "
                                   "2026-03-31T12:00:00Z, 2026-03-31, now or +N s|m|h|d",
                                   at_text);
        }
        options->at_given = true;
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* The page's file                                                          */

/* Writes the page to a temporary file beside --out, then renames it over
 * --out: a reader never sees half a report. Returns 0 or an exit code. */
static int report_write(const report_t *report, const report_verdict_t *v) {
    const report_options_t *options = &report->options;
    size_t size = strlen(options->out_path) + 32;
    char *temporary = malloc(size);
    if (temporary == NULL) return report_fail(options, "out of memory", "out of memory");
    snprintf(temporary, size, "%s.tmp-%ld", options->out_path, (long)getpid());
    int fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *out = fd < 0 ? NULL : fdopen(fd, "w");
    if (out == NULL) {
        int exit_code = report_fail(options, "cannot write", "%s: %s", temporary, strerror(errno));
        if (fd >= 0) {
            (void)close(fd);
            (void)unlink(temporary);
        }
        free(temporary);
        return exit_code;
    }
    report_page_write(out, report, v);
    bool written = fflush(out) == 0 && !ferror(out) && fsync(fd) == 0;
    int saved = errno;
    written = fclose(out) == 0 && written;
    if (!written || rename(temporary, options->out_path) != 0) {
        int exit_code = report_fail(options, "cannot write", "%s: %s", options->out_path,
                                    strerror(written ? errno : saved));
        (void)unlink(temporary);
        free(temporary);
        return exit_code;
    }
    free(temporary);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */

/* Says how it went, once the page is written: one line on stdout (or the
 * --json summary) and, when a check failed, which on stderr. */
static void report_announce(const report_t *report, const report_verdict_t *v) {
    const report_options_t *options = &report->options;
    uint32_t months = report->months.any ? report->months.last - report->months.first + 1 : 0;
    if (options->json) {
        printf("{\"ok\": %s, \"out\": ", v->ok ? "true" : "false");
        cli_json_string(stdout, options->out_path);
        printf(", \"verified\": %s, \"reconciled\": %s, \"trial_balanced\": %s, "
               "\"identities_hold\": %s, \"months_match\": %s, \"records\": %" PRIu64
               ", \"journal_sequence\": %" PRIu64 ", \"funders\": %zu, \"providers\": %zu, "
               "\"months\": %" PRIu32 "}\n", v->verified ? "true" : "false",
               v->reconciled ? "true" : "false", v->trial_balanced ? "true" : "false",
               v->identities_hold ? "true" : "false", v->months_match ? "true" : "false",
               report->verify.records_checked, report->stats.journal_sequence,
               report->funders_count, report->providers_count, months);
    } else {
        printf("report written to %s: %s\n", options->out_path,
               v->ok ? "the books hold" : "the books do NOT hold");
    }
    if (v->ok) return;
    fprintf(stderr, "borsellino " REPORT_COMMAND ": %s written, but the books do not hold:",
            options->out_path);
    if (!v->verified) fprintf(stderr, " verification failed (%s);", report->verify_failure.message);
    if (!v->reconciled) fputs(" the welfare books do not reconcile;", stderr);
    if (!v->trial_balanced) fputs(" the trial balance does not balance;", stderr);
    if (!v->identities_hold) fputs(" a funder or provider identity does not hold;", stderr);
    if (!v->months_match) fputs(" the monthly figures do not match the statements;", stderr);
    fputs(" see the report\n", stderr);
}

/* Opens the directory read-only, collects, writes, says how it went. */
static int report_run(report_t *report, const uint8_t *public_key) {
    const report_options_t *options = &report->options;
    if (access(options->data_path, F_OK) != 0) {
        return report_fail(options, ledger_strerror(LEDGER_ERR_NOT_A_LEDGER),
                           "%s: no such data directory", options->data_path);
    }
    ledger_options_t ledger_options;
    memset(&ledger_options, 0, sizeof(ledger_options));
    ledger_options.read_only = true;
    ledger_t *ledger = NULL;
    int error = ledger_open(options->data_path, &ledger_options, &ledger);
    if (error != 0) {
        return report_fail(options, ledger_strerror(error), "%s: cannot open (%s): %s",
                           options->data_path, ledger_strerror(error),
                           ledger_last_error_message(NULL));
    }
    error = report_collect(ledger, public_key, report);
    (void)ledger_close(ledger);
    if (error != 0) {
        return report_fail(options, ledger_strerror(error), "%s: %s", options->data_path,
                           ledger_strerror(error));
    }
    report_verdict_t verdict = report_judge(report);
    int exit_code = report_write(report, &verdict);
    if (exit_code != 0) return exit_code;
    report_announce(report, &verdict);
    return verdict.ok ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int audit_report_main(int argc, char **argv) {
    report_t *report = calloc(1, sizeof(*report));
    if (report == NULL) {
        fputs("borsellino " REPORT_COMMAND ": out of memory\n", stderr);
        return CLI_EXIT_FAILURE;
    }
    int exit_code = report_parse(argc, argv, &report->options);
    uint8_t key[LEDGER_PUBLIC_KEY_SIZE];
    const uint8_t *public_key = NULL;
    if (exit_code < 0 && report->options.pubkey_path != NULL) {
        if (ledger_public_key_read(report->options.pubkey_path, key) != 0) {
            exit_code = report_fail(&report->options, ledger_strerror(LEDGER_ERR_SIGNING_KEY),
                                    "--pubkey %s: %s", report->options.pubkey_path,
                                    ledger_last_error_message(NULL));
        }
        public_key = key;
    }
    if (exit_code < 0) {
        report->generated_ns = cli_now_ns();
        cli_progress_init(&report->progress, "verifying", "records");
        exit_code = report_run(report, public_key);
    }
    report_free(report);
    free(report);
    return exit_code;
}
