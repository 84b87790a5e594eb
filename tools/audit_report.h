/*
 * audit_report.h — what the files of `borsellino audit report` share. Not
 * a public interface: the entry point is audit_report_main (audit_cli.h).
 *
 *   tools/audit_report.c        the command: options, --help, the run, the
 *                               page's file (temporary, renamed), exit codes
 *   tools/audit_report_data.c   the figures: collected from one read-only
 *                               handle (report_collect), then judged
 *                               (report_judge); the Europe/Rome months
 *   tools/audit_report_html.c   the page: escaping, figure cells, every
 *                               section but the months (report_page_write)
 *   tools/audit_report_chart.c  the months section: SVG bar chart and table
 *
 * The flow is one way: the command fills the options of a report_t, the
 * data file fills the rest, the verdict is computed once from it, and the HTML files
 * only read both. Every figure the page shows is in report_t; nothing is
 * read from the ledger while writing.
 *
 * Memory: report_t is the caller's (audit_report_main callocs it: a few
 * KiB, most of it the messages); the arrays in it
 * are allocated by report_collect and freed by report_free, whatever
 * report_collect returned. All pointers below are borrowed for the call.
 */
#ifndef BORSELLINO_TOOLS_AUDIT_REPORT_H
#define BORSELLINO_TOOLS_AUDIT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit.h"
#include "cli.h"
#include "ledger.h"
#include "welfare.h"

/* Sums of many amounts pass 2^64: they are kept in 128 bits. */
__extension__ typedef unsigned __int128 report_wide_t;

enum {
    /* Every calendar month from 1970-01 to 2554-12: a u64 of nanoseconds
     * ends in July 2554, two hours later in Rome too. */
    REPORT_YEAR_FIRST = 1970,
    REPORT_YEAR_LAST = 2554,
    REPORT_MONTHS_COUNT = (REPORT_YEAR_LAST - REPORT_YEAR_FIRST + 1) * 12,
    /* Room for a figure's name ("funder.ID.fees_returned": an id is at
     * most 39 digits). */
    REPORT_FIGURE_NAME_SIZE = 128,
    /* Room for an error sentence of one section, or of the command. */
    REPORT_MESSAGE_SIZE = 512,
    /* An amount for people: a sign, the 39 digits of 2^128 - 1, point, two
     * decimals, NUL (and then some). */
    REPORT_AMOUNT_TEXT_SIZE = 48,
    /* Room for a month's label "YYYY-MM" and NUL (and then some). */
    REPORT_MONTH_TEXT_SIZE = 24,
    /* A trial balance line: accounts, then the four sums (the order of
     * ledger_trial_balance_row_t: debits pending, debits posted, credits
     * pending, credits posted). */
    REPORT_TRIAL_FIGURES = 5,
};

/* The monthly figures: the first five are summed, the last is their
 * EXPIRED_BACK + FORFEITED. */
enum {
    MONTH_FUNDED,
    MONTH_SPENT,
    MONTH_REFUNDED,
    MONTH_EXPIRED_BACK,
    MONTH_FORFEITED,
    MONTH_SUMMED,
    MONTH_EXPIRED = MONTH_SUMMED,
    MONTH_FIGURES,
};

/* ------------------------------------------------------------------------ */
/* The report                                                               */

/* The command line, parsed by tools/audit_report.c. */
typedef struct report_options {
    const char *data_path;   /* --data, default CLI_DATA_PATH_DEFAULT */
    const char *out_path;    /* --out, required */
    const char *pubkey_path; /* --pubkey, NULL = the directory's own key */
    bool at_given;
    uint64_t at; /* --at, ns since the epoch; 0 = now (no bound) */
    bool json;   /* --json */
} report_options_t;

/* A section that could not be computed: the page says why. */
typedef struct report_failure {
    int error; /* 0 = computed; else a LEDGER_ERR_* code */
    char message[REPORT_MESSAGE_SIZE];
} report_failure_t;

/* value = plus − minus, for the two sides of an identity. */
typedef struct report_side {
    report_wide_t plus;
    report_wide_t minus;
} report_side_t;

/* One funder's statement over [0, at], with its identity
 * funded = funds + pots + spent − refunded + reimbursed + forfeited. */
typedef struct report_funder {
    ledger_u128_t id; /* the first member: entities_list (audit_report_data.c) */
    uint32_t kind;    /* WELFARE_FUNDER_* */
    uint64_t funded, granted, spent, refunded, reimbursed, expired_back, forfeited, carried_over,
        fees, fees_returned, funds_balance, pots_balance, held;
    report_side_t left, right;
    bool holds; /* left = right */
} report_funder_t;

/* One provider's statement over [0, at], with its identity
 * sales − refunds − (fees − fees_returned) = payouts + payable. */
typedef struct report_provider {
    ledger_u128_t id; /* the first member: entities_list (audit_report_data.c) */
    welfare_provider_statement_t statement;
    report_side_t left, right;
    bool holds; /* left = right */
} report_provider_t;

/* The welfare postings summed by Europe/Rome calendar month. */
typedef struct report_months {
    report_wide_t (*sums)[MONTH_SUMMED]; /* REPORT_MONTHS_COUNT rows, by month index */
    bool any;             /* a welfare posting was found */
    uint32_t first, last; /* indexes of the first and last month with a posting (when any) */
    report_wide_t totals[MONTH_FIGURES];
} report_months_t;

/* Everything the page shows. The options, generated_ns and progress are
 * the command's; the rest is report_collect's. */
typedef struct report {
    report_options_t options;
    uint64_t generated_ns; /* the wall clock when the run began */
    cli_progress_t progress; /* drawn on stderr when it is a terminal */
    ledger_stats_t stats; /* as of the open: journal_sequence bounds every scan */
    ledger_verify_report_t verify;
    report_failure_t verify_failure;
    welfare_reconcile_report_t reconcile;
    report_failure_t reconcile_failure;
    ledger_trial_balance_row_t *trial_rows; /* trial_info.rows_count rows */
    ledger_trial_balance_info_t trial_info;
    report_failure_t trial_failure;
    report_funder_t *funders;
    size_t funders_count;
    report_provider_t *providers;
    size_t providers_count;
    report_failure_t identities_failure;
    report_months_t months;
    report_failure_t months_failure;
} report_t;

/* Which checks hold, once everything is computed. */
typedef struct report_verdict {
    bool verified;        /* chain, balances, signatures */
    bool reconciled;      /* welfare_reconcile */
    bool trial_balanced;  /* Σ debits = Σ credits in every ledger */
    bool identities_hold; /* every funder and provider identity */
    bool months_match;    /* Σ months = Σ funder statements */
    bool ok;              /* all of the above */
} report_verdict_t;

static inline report_wide_t report_wide_of(ledger_u128_t value) {
    return (report_wide_t)value.hi << 64 | value.lo;
}

static inline report_side_t report_side_of(report_wide_t value) {
    report_side_t side = {value, 0};
    return side;
}

/* ------------------------------------------------------------------------ */
/* The figures (tools/audit_report_data.c)                                  */

/*
 * Fills everything in `report` but options, generated_ns and progress
 * (which the caller sets first), from one read-only `ledger`: the
 * verification (ledger_verify_signed under `public_key`, 32 raw bytes, or
 * NULL for the directory's own key), welfare_reconcile, the trial balance
 * and the statements as of report->options.at, and the monthly sums. With
 * report->progress, says on stderr what it is doing, and ends with an
 * empty line of it.
 *
 * A section that cannot be computed gets its report_failure_t set and the
 * others go on. Returns 0, or a fatal error after which nothing should be
 * written: LEDGER_ERR_NO_MEMORY (ours or the engine's; a page with holes
 * for want of memory would say nothing true), or ledger_stats's error.
 * Either way the caller frees with report_free.
 */
int report_collect(ledger_t *ledger, const uint8_t *public_key, report_t *report);

/* Frees the arrays report_collect allocated (not `report` itself); safe on
 * a zeroed report and after any return of report_collect. */
void report_free(report_t *report);

/* Which checks hold: a pure function of what report_collect filled. */
report_verdict_t report_judge(const report_t *report);

/*
 * Sums the rows of one ledger, from rows[first] (first < count) to the
 * first row of another ledger or rows[count]: totals[0] the accounts,
 * totals[1..4] the four sums in the row's order. *balanced_out says
 * whether debits = credits, pending and posted. Returns the index after
 * the ledger's last row (> first).
 */
uint32_t report_ledger_totals(const ledger_trial_balance_row_t *rows, uint32_t count,
                              uint32_t first, report_wide_t totals[REPORT_TRIAL_FIGURES],
                              bool *balanced_out);

/* The six figures of the month `index` (< REPORT_MONTHS_COUNT) into
 * `figures`, the sixth (MONTH_EXPIRED) derived from the others. */
void report_month_figures(const report_months_t *months, uint32_t index,
                          report_wide_t figures[MONTH_FIGURES]);

/* The label "YYYY-MM" of the month `index` (< REPORT_MONTHS_COUNT). */
void report_month_label(uint32_t index, char text[REPORT_MONTH_TEXT_SIZE]);

/* ------------------------------------------------------------------------ */
/* The page (tools/audit_report_html.c, tools/audit_report_chart.c)         */

/* Writes the whole page of `report` and `verdict` to `out`. Write errors
 * are left in `out` for the caller to find (ferror). */
void report_page_write(FILE *out, const report_t *report, const report_verdict_t *verdict);

/* The months section, from its heading to its check
 * (months.matches_statements). (audit_report_chart.c) */
void report_page_months(FILE *out, const report_t *report, const report_verdict_t *verdict);

/* The building blocks both page files use (audit_report_html.c). Every
 * `name` is a figure name (unique on the page); every text is escaped but
 * the HTML literals of this program (`columns`). */

/* Writes `text` escaped for HTML text and attribute values. Control
 * characters other than tab and newline become U+FFFD. */
void report_html_text(FILE *out, const char *text);

/* Writes a figure's name into `name` from a printf format; aborts if it
 * does not fit (names are short by construction). */
void report_figure_name(char name[REPORT_FIGURE_NAME_SIZE], const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* plus − minus for people: with `euros`, euros with two decimals ("-12.50"),
 * else in minor units ("-1250"). */
void report_side_amount(report_side_t side, bool euros, char text[REPORT_AMOUNT_TEXT_SIZE]);

/* <td class="num" data-figure="NAME" data-cents="N">AMOUNT</td>: the exact
 * signed minor units for machines, report_side_amount for people. */
void report_cell_amount(FILE *out, const char *name, report_side_t side, bool euros);

/* A line of a two-column table, <tr><th>LABEL</th><td …>…</td></tr>: a
 * yes/no figure, data-value "true" or "false", with `yes` in green or `no`
 * in red for people. */
void report_row_flag(FILE *out, const char *label, const char *name, bool value, const char *yes,
                     const char *no);

/* When `failure` is set, a red table saying why the section could not be
 * computed, under the figure SECTION.error; else nothing. */
void report_section_failure(FILE *out, const char *section, const report_failure_t *failure);

/* Opens a scrolling table with a header line: `columns` is the HTML of its
 * <th> cells (trusted text, from this program). The caller writes the
 * body's lines, then calls report_table_close. */
void report_table_open(FILE *out, const char *columns);
void report_table_close(FILE *out);

#endif
