/*
 * audit_report_html.c — the page of `borsellino audit report`: the HTML
 * building blocks (escaping, figure names, figure cells) and every section
 * but the months (tools/audit_report_chart.c): the head and its style, the
 * summary with the verdict, the chain and signatures, the welfare
 * reconciliation, the trial balance, the identities per funder and per
 * provider, and the footer. It only reads a report_t that
 * tools/audit_report_data.c filled.
 *
 * Self-contained: inline CSS and inline SVG, no script, no image, no font,
 * no link to anything; a Content-Security-Policy in the page forbids the
 * browser to load anything even if some text in it looked like a URL.
 * Every text taken from the data or the command line is HTML-escaped
 * (report_html_text); only this program's own literals are written raw.
 *
 * The figures for machines. Every figure on the page is in an element
 * carrying data-figure="NAME" (each NAME appears once) and either
 *   data-cents="N"  an amount: N is the exact integer in minor units (cents
 *                   for ledger 978, EUR), in decimal, with a leading '-'
 *                   when negative (only the sides of an identity can be).
 *                   The element's text shows the same amount for people:
 *                   euros with two decimals (as cli_format_euros writes
 *                   them) for welfare and ledger 978 figures, minor units
 *                   for other ledgers;
 *   data-value="V"  anything else: counts and sequences in decimal, hashes
 *                   in lowercase hex, "true"/"false", names and messages.
 * Ids and account codes in names are decimal, as the CLI's --json prints
 * them (`audit verify|trial-balance|reconcile --json`). The names:
 *   report.ok  report.data  report.at (ns, 0 = now)  report.generated_at (ns)
 *   verify.{ok, records, accounts, ledgers, journal_sequence, chain_head,
 *           key, signatures_checked, last_signed_sequence, unsigned_tail},
 *   and when it fails verify.{first_bad_sequence, message}
 *   reconcile.{ok, funders_checked, providers_checked}, and when the
 *   books do not reconcile reconcile.message
 *   trial.{ok, sequence, timestamp, digest, rows}
 *   trial.LEDGER.CODE.{accounts, debits_pending, debits_posted,
 *                      credits_pending, credits_posted}
 *   trial.LEDGER.total.{the same five}  trial.LEDGER.balanced
 *   identities.ok  funders.count  providers.count
 *   funder.ID.{kind, funded, granted, spent, refunded, reimbursed,
 *              expired_back, forfeited, carried_over, fees, fees_returned,
 *              funds_balance, pots_balance, held, left, right, holds}
 *   provider.ID.{sales, refunds, fees, fees_returned, payouts, payable,
 *                held, left, right, holds}
 *   month.YYYY-MM.{funded, spent, refunded, expired_back, forfeited,
 *                  expired}   (every month from the first to the last with
 *                              a welfare posting, empty ones included;
 *                              written by tools/audit_report_chart.c)
 *   months.total.{the same six}  months.matches_statements
 *   SECTION.error (reconcile, trial, identities, months): why a section
 *   could not be computed, when it could not (a verification that could
 *   not run says why in verify.message).
 * `borsellino audit report --help` lists the same names (tools/
 * audit_report.c): a new figure goes in both places.
 *
 * Workload: one page per run, written through stdio; the page grows by one
 * table line per trial balance row, funder, provider and month.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit_export.h"
#include "audit_report.h"
#include "cli.h"


/* ------------------------------------------------------------------------ */
/* Numbers as text                                                          */

static ledger_u128_t u128_of(report_wide_t value) {
    ledger_u128_t out = {(uint64_t)(value >> 64), (uint64_t)value};
    return out;
}

/* plus − minus as signed decimal cents: "-1250". */
static void side_cents(report_side_t side, char text[AUDIT_SIGNED_TEXT_SIZE]) {
    audit_signed_text(u128_of(side.plus), u128_of(side.minus), text);
}

void report_side_amount(report_side_t side, bool euros, char text[REPORT_AMOUNT_TEXT_SIZE]) {
    bool negative = side.plus < side.minus;
    report_wide_t magnitude = negative ? side.minus - side.plus : side.plus - side.minus;
    char digits[CLI_U128_TEXT_SIZE];
    if (!euros) {
        cli_format_u128(u128_of(magnitude), digits);
        snprintf(text, REPORT_AMOUNT_TEXT_SIZE, "%s%s", negative ? "-" : "", digits);
    } else if (magnitude <= UINT64_MAX) {
        char cents[CLI_EUROS_TEXT_SIZE];
        cli_format_euros((uint64_t)magnitude, cents);
        snprintf(text, REPORT_AMOUNT_TEXT_SIZE, "%s%s", negative ? "-" : "", cents);
    } else {
        /* Beyond cli_format_euros: the same form, from 128 bits. */
        cli_format_u128(u128_of(magnitude / 100), digits);
        snprintf(text, REPORT_AMOUNT_TEXT_SIZE, "%s%s.%02u", negative ? "-" : "", digits,
                 (unsigned)(magnitude % 100));
    }
}

/* ------------------------------------------------------------------------ */
/* Building blocks: escaping, figure names, cells and lines                 */

/* Writes `text` escaped for HTML text and attribute values. Control
 * characters other than tab and newline become U+FFFD. */
void report_html_text(FILE *out, const char *text) {
    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        switch (*c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            if ((*c < 0x20 && *c != '\t' && *c != '\n') || *c == 0x7f) {
                fputs("&#xFFFD;", out);
            } else {
                fputc(*c, out);
            }
        }
    }
}

void report_figure_name(char name[REPORT_FIGURE_NAME_SIZE], const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(name, REPORT_FIGURE_NAME_SIZE, format, arguments);
    va_end(arguments);
    if (length < 0 || length >= REPORT_FIGURE_NAME_SIZE) abort();
}

/* <td class="num" data-figure="NAME" data-cents="N">AMOUNT</td> */
void report_cell_amount(FILE *out, const char *name, report_side_t side, bool euros) {
    char cents[AUDIT_SIGNED_TEXT_SIZE], amount[REPORT_AMOUNT_TEXT_SIZE];
    side_cents(side, cents);
    report_side_amount(side, euros, amount);
    fputs("<td class=\"num\" data-figure=\"", out);
    report_html_text(out, name);
    fprintf(out, "\" data-cents=\"%s\">%s</td>", cents, amount);
}

/* <td data-figure="NAME" data-value="VALUE">TEXT</td>; text NULL = value. */
static void cell_value(FILE *out, const char *css_class, const char *name, const char *value,
                       const char *text) {
    if (css_class[0] != '\0') {
        fprintf(out, "<td class=\"%s\" data-figure=\"", css_class);
    } else {
        fputs("<td data-figure=\"", out);
    }
    report_html_text(out, name);
    fputs("\" data-value=\"", out);
    report_html_text(out, value);
    fputs("\">", out);
    report_html_text(out, text != NULL ? text : value);
    fputs("</td>", out);
}

static void cell_count(FILE *out, const char *name, uint64_t value) {
    char text[24];
    snprintf(text, sizeof(text), "%" PRIu64, value);
    cell_value(out, "num", name, text, NULL);
}

/* A yes/no figure, green or red. */
static void cell_flag(FILE *out, const char *name, bool value, const char *yes, const char *no) {
    cell_value(out, value ? "ok" : "bad", name, value ? "true" : "false", value ? yes : no);
}

/* <tr><th>LABEL</th> ... the caller's cells ... </tr> */
static void row_label(FILE *out, const char *label) {
    fputs("<tr><th>", out);
    report_html_text(out, label);
    fputs("</th>", out);
}

/* The lines of a two-column table: a label, then one figure. */

static void row_value(FILE *out, const char *label, const char *css_class, const char *name,
                      const char *value, const char *text) {
    row_label(out, label);
    cell_value(out, css_class, name, value, text);
    fputs("</tr>\n", out);
}

static void row_count(FILE *out, const char *label, const char *name, uint64_t value) {
    row_label(out, label);
    cell_count(out, name, value);
    fputs("</tr>\n", out);
}

/* An instant: ns since the epoch for machines, `text` for people. */
static void row_instant(FILE *out, const char *label, const char *name, uint64_t ns,
                        const char *text) {
    char number[24];
    snprintf(number, sizeof(number), "%" PRIu64, ns);
    row_value(out, label, "", name, number, text);
}

void report_row_flag(FILE *out, const char *label, const char *name, bool value, const char *yes,
                     const char *no) {
    row_label(out, label);
    cell_flag(out, name, value, yes, no);
    fputs("</tr>\n", out);
}

void report_section_failure(FILE *out, const char *section, const report_failure_t *failure) {
    if (failure->error == 0) return;
    char name[REPORT_FIGURE_NAME_SIZE];
    report_figure_name(name, "%s.error", section);
    fputs("<table><tr><th>Could not be computed</th>", out);
    cell_value(out, "bad", name, failure->message, NULL);
    fputs("</tr></table>\n", out);
}

void report_table_open(FILE *out, const char *columns) {
    fprintf(out, "<div class=\"scroll\"><table>\n<thead><tr>%s</tr></thead>\n<tbody>\n", columns);
}

void report_table_close(FILE *out) { fputs("</tbody></table></div>\n", out); }

/* ------------------------------------------------------------------------ */
/* The head and the summary                                                 */

static const char html_style[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a202c;"
    "margin:2em auto;max-width:1280px;padding:0 1em}\n"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #cbd5e0;"
    "padding-bottom:.2em;margin-top:2em}\n"
    "table{border-collapse:collapse;margin:.6em 0}th,td{padding:.25em .7em;text-align:left;"
    "border-bottom:1px solid #e2e8f0;vertical-align:top}thead th{background:#f7fafc;"
    "border-bottom:2px solid #a0aec0}\n"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "td.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;"
    "word-break:break-all}\n"
    "tr.total td{font-weight:600;border-top:2px solid #a0aec0}\n"
    ".ok{color:#276749}.bad{color:#c53030;font-weight:600}\n"
    ".banner{padding:.8em 1em;border-radius:4px;font-weight:600;margin:1em 0}"
    ".banner.ok{background:#f0fff4;border:1px solid #9ae6b4}"
    ".banner.bad{background:#fff5f5;border:1px solid #feb2b2}\n"
    ".scroll{overflow-x:auto}.note{color:#4a5568;font-size:.92em;max-width:60em}\n"
    ".legend span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;"
    "vertical-align:-.1em}\n"
    "svg text{font:11px sans-serif;fill:#2d3748}svg text.figure{font-size:10px}\n"
    "td.id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;white-space:nowrap}\n"
    "@media print{.scroll{overflow:visible}body{margin:0}}\n";

static void page_head(FILE *out, const report_t *report) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", out);
    /* The page must load nothing: say so to the browser too. */
    fputs("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\">\n", out);
    fputs("<meta name=\"generator\" content=\"borsellino audit report\">\n<title>Audit report: ",
          out);
    report_html_text(out, report->options.data_path);
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", html_style);
}

/* The title, what the report covers, and the verdict. */
static void page_summary(FILE *out, const report_t *report, const report_verdict_t *v) {
    char generated[CLI_TIMESTAMP_TEXT_SIZE], at[CLI_TIMESTAMP_TEXT_SIZE];
    cli_format_timestamp(report->generated_ns, generated);
    cli_format_timestamp(report->options.at, at);
    fputs("<h1>Audit report</h1>\n<table>\n", out);
    row_value(out, "Data directory", "", "report.data", report->options.data_path, NULL);
    row_instant(out, "Generated at (UTC)", "report.generated_at", report->generated_ns, generated);
    row_instant(out, "Figures as of (UTC)", "report.at", report->options.at,
                report->options.at_given ? at : "now");
    fputs("</table>\n", out);
    fprintf(out, "<div class=\"banner %s\" data-figure=\"report.ok\" data-value=\"%s\">",
            v->ok ? "ok" : "bad", v->ok ? "true" : "false");
    if (v->ok) {
        fputs("The books hold: the journal verifies, every ledger balances, the welfare books "
              "reconcile and every funder and provider identity holds.", out);
    } else {
        fputs("The books do NOT hold:", out);
        if (!v->verified) fputs(" the journal does not verify;", out);
        if (!v->reconciled) fputs(" the welfare books do not reconcile;", out);
        if (!v->trial_balanced) fputs(" the trial balance does not balance;", out);
        if (!v->identities_hold) fputs(" a funder or provider identity does not hold;", out);
        if (!v->months_match) fputs(" the monthly figures do not add up to the statements;", out);
        fputs(" see below.", out);
    }
    fputs("</div>\n<p class=\"note\">The verification and the welfare reconciliation cover the "
          "whole journal as it was when the report was made. The trial balance, the statements "
          "and the monthly figures are as of the time above. Amounts are in euros (EUR, "
          "ledger 978) unless a ledger's rows say minor units.</p>\n", out);
}

/* ------------------------------------------------------------------------ */
/* Chain, signatures and the welfare reconciliation                         */

static const char *key_name(uint32_t source) {
    return source == LEDGER_VERIFY_KEY_GIVEN       ? "given"
           : source == LEDGER_VERIFY_KEY_DIRECTORY ? "directory"
                                                   : "none";
}

static void verify_counts(FILE *out, const report_t *report) {
    const ledger_verify_report_t *r = &report->verify;
    row_count(out, "Journal records checked", "verify.records", r->records_checked);
    row_count(out, "Accounts checked", "verify.accounts", r->accounts_checked);
    row_count(out, "Ledgers checked", "verify.ledgers", r->ledgers_checked);
    row_count(out, "Journal sequence (last record)", "verify.journal_sequence",
              report->stats.journal_sequence);
    char head[AUDIT_HEX_DIGEST_SIZE];
    audit_hex(report->stats.chain_head, LEDGER_DIGEST_SIZE, head);
    row_value(out, "Chain head (SHA-256 of the last record)", "hash", "verify.chain_head", head,
              NULL);
}

static void verify_signatures(FILE *out, const report_t *report) {
    const ledger_verify_report_t *r = &report->verify;
    /* A verification that stopped early may not have got to the key. */
    uint32_t source = report->options.pubkey_path != NULL ? (uint32_t)LEDGER_VERIFY_KEY_GIVEN
                                                          : r->key_source;
    bool unknown = source == LEDGER_VERIFY_KEY_NONE && report->verify_failure.error != 0;
    const char *key = unknown ? "unknown" : key_name(source);
    const char *key_text = unknown ? "unknown: the verification stopped before the signatures"
                           : source == LEDGER_VERIFY_KEY_GIVEN
                               ? "given (--pubkey): an independently obtained key"
                           : source == LEDGER_VERIFY_KEY_DIRECTORY
                               ? "directory: the key the directory records (proves nothing "
                                 "against someone who could replace both)"
                               : "none: the directory has no signing key";
    row_value(out, "Signing key used", "", "verify.key", key, key_text);
    row_count(out, "Signed checkpoints checked", "verify.signatures_checked",
              r->signatures_checked);
    row_count(out, "Last signed sequence", "verify.last_signed_sequence", r->last_signed_sequence);
    uint64_t sequence = report->stats.journal_sequence;
    uint64_t tail = sequence > r->last_signed_sequence ? sequence - r->last_signed_sequence : 0;
    row_count(out, "Unsigned tail (records after it, covered by the chain only)",
              "verify.unsigned_tail", tail);
}

static void page_verify(FILE *out, const report_t *report, const report_verdict_t *v) {
    fputs("<h2 id=\"chain\">Chain and signatures</h2>\n<p class=\"note\">Every record's checksum "
          "and sequence, the SHA-256 hash chain, every balance recomputed from the events, "
          "debits = credits per ledger, the checkpoint table, and every signed checkpoint "
          "(its chain head and trial balance digest against the journal, its Ed25519 "
          "signature), as <code>borsellino audit verify</code> does.</p>\n<table>\n", out);
    report_row_flag(out, "Result", "verify.ok", v->verified, "OK: the journal verifies",
                    "FAILED: the journal does not verify");
    if (!v->verified) {
        char sequence[24];
        snprintf(sequence, sizeof(sequence), "%" PRIu64, report->verify.first_bad_sequence);
        row_value(out, "First bad sequence", "num bad", "verify.first_bad_sequence", sequence,
                  report->verify.first_bad_sequence != 0 ? sequence
                                                         : "none: not tied to one record");
        row_value(out, "What is wrong", "bad", "verify.message", report->verify_failure.message,
                  NULL);
        fputs("<tr><td colspan=\"2\" class=\"note\">The counts below are as far as the "
              "verification got before it stopped.</td></tr>\n", out);
    }
    verify_counts(out, report);
    verify_signatures(out, report);
    fputs("</table>\n", out);
}

static void page_reconcile(FILE *out, const report_t *report, const report_verdict_t *v) {
    fputs("<h2 id=\"welfare-reconciliation\">Welfare reconciliation</h2>\n<p class=\"note\">The "
          "identities of every funder and provider over all time, from one pass over the journal "
          "and the current balances (welfare_reconcile, as <code>audit verify</code>).</p>\n",
          out);
    report_section_failure(out, "reconcile", &report->reconcile_failure);
    fputs("<table>\n", out);
    report_row_flag(out, "Result", "reconcile.ok", v->reconciled, "OK: the welfare books reconcile",
                    "FAILED: the welfare books do not reconcile");
    row_count(out, "Funders checked", "reconcile.funders_checked",
              report->reconcile.funders_checked);
    row_count(out, "Providers checked", "reconcile.providers_checked",
              report->reconcile.providers_checked);
    if (report->reconcile_failure.error == 0 && !report->reconcile.balanced) {
        row_value(out, "First difference", "bad", "reconcile.message", report->reconcile.message,
                  NULL);
    }
    fputs("</table>\n", out);
}

/* ------------------------------------------------------------------------ */
/* The trial balance                                                        */

static const char *account_code_name(uint32_t ledger, uint32_t code) {
    if (ledger != WELFARE_LEDGER) return "";
    switch (code) {
    case WELFARE_ACCOUNT_BANK: return "welfare: platform bank";
    case WELFARE_ACCOUNT_FEES: return "welfare: platform fees";
    case WELFARE_ACCOUNT_FORFEITED: return "welfare: platform forfeited";
    case WELFARE_ACCOUNT_FUNDER: return "welfare: funder funds";
    case WELFARE_ACCOUNT_POT: return "welfare: employee pots";
    case WELFARE_ACCOUNT_PROVIDER: return "welfare: provider payable";
    default: return "";
    }
}

/* The five figures of a trial balance line: accounts, then four sums. */
static const char *const trial_figure_names[REPORT_TRIAL_FIGURES] = {
    "accounts", "debits_pending", "debits_posted", "credits_pending", "credits_posted"};

/* One line: ledger, code (or "total"), kind, accounts and four sums. */
static void trial_line(FILE *out, uint32_t ledger, const char *code, const char *kind,
                       const report_wide_t figures[REPORT_TRIAL_FIGURES]) {
    char name[REPORT_FIGURE_NAME_SIZE];
    bool euros = ledger == WELFARE_LEDGER;
    fprintf(out, "<td class=\"num\">%" PRIu32 "</td><td class=\"num\">", ledger);
    report_html_text(out, code);
    fputs("</td><td>", out);
    report_html_text(out, kind);
    fputs("</td>", out);
    report_figure_name(name, "trial.%" PRIu32 ".%s.accounts", ledger, code);
    char accounts[CLI_U128_TEXT_SIZE];
    cli_format_u128(u128_of(figures[0]), accounts);
    cell_value(out, "num", name, accounts, NULL);
    for (int k = 1; k < REPORT_TRIAL_FIGURES; k++) {
        report_figure_name(name, "trial.%" PRIu32 ".%s.%s", ledger, code, trial_figure_names[k]);
        report_cell_amount(out, name, report_side_of(figures[k]), euros);
    }
}

/* The rows of the ledger of rows[first] and its total; returns the index after. */
static uint32_t trial_ledger(FILE *out, const report_t *report, uint32_t first) {
    const ledger_trial_balance_row_t *rows = report->trial_rows;
    uint32_t count = report->trial_info.rows_count;
    report_wide_t totals[REPORT_TRIAL_FIGURES];
    bool balanced = false;
    assert(first < count);
    uint32_t end = report_ledger_totals(rows, count, first, totals, &balanced);
    assert(end > first);
    assert(end <= count);
    uint32_t ledger = rows[first].ledger;
    for (uint32_t i = first; i < end; i++) {
        char code[12];
        snprintf(code, sizeof(code), "%u", (unsigned)rows[i].code);
        const report_wide_t figures[REPORT_TRIAL_FIGURES] = {
            rows[i].accounts_count, report_wide_of(rows[i].debits_pending),
            report_wide_of(rows[i].debits_posted), report_wide_of(rows[i].credits_pending),
            report_wide_of(rows[i].credits_posted)};
        fputs("<tr>", out);
        trial_line(out, ledger, code, account_code_name(ledger, rows[i].code), figures);
        fputs("<td></td></tr>\n", out);
    }
    char name[REPORT_FIGURE_NAME_SIZE];
    fputs("<tr class=\"total\">", out);
    trial_line(out, ledger, "total", ledger == WELFARE_LEDGER ? "EUR" : "minor units", totals);
    report_figure_name(name, "trial.%" PRIu32 ".balanced", ledger);
    cell_flag(out, name, balanced, "debits = credits", "NOT BALANCED");
    fputs("</tr>\n", out);
    return end;
}

static void trial_info(FILE *out, const report_t *report, const report_verdict_t *v) {
    const ledger_trial_balance_info_t *info = &report->trial_info;
    char digest[AUDIT_HEX_DIGEST_SIZE], when[CLI_TIMESTAMP_TEXT_SIZE];
    audit_hex(info->digest, LEDGER_DIGEST_SIZE, digest);
    cli_format_timestamp(info->timestamp, when);
    fputs("<table>\n", out);
    report_row_flag(out, "Result", "trial.ok", v->trial_balanced,
                    "OK: debits = credits in every ledger", "FAILED: a ledger does not balance");
    row_count(out, "Covers journal records up to", "trial.sequence", info->sequence);
    row_instant(out, "Last event covered (UTC)", "trial.timestamp", info->timestamp, when);
    row_value(out, "Digest (what signed checkpoints sign)", "hash", "trial.digest", digest, NULL);
    row_count(out, "Rows (ledger, code)", "trial.rows", info->rows_count);
    fputs("</table>\n", out);
}

static void page_trial(FILE *out, const report_t *report, const report_verdict_t *v) {
    fputs("<h2 id=\"trial-balance\">Trial balance</h2>\n<p class=\"note\">Per ledger and "
          "account code: the number of accounts and the sums of their balances, with the total "
          "per ledger, where the debits must equal the credits, pending and posted "
          "(<code>borsellino audit trial-balance</code>). Ledger 978 is in euros; other ledgers "
          "are in their minor units.</p>\n", out);
    report_section_failure(out, "trial", &report->trial_failure);
    if (report->trial_failure.error != 0) return;
    trial_info(out, report, v);
    report_table_open(out, "<th class=\"num\">Ledger</th><th class=\"num\">Code</th><th>Kind</th>"
                           "<th class=\"num\">Accounts</th><th class=\"num\">Debits pending</th>"
                           "<th class=\"num\">Debits posted</th>"
                           "<th class=\"num\">Credits pending</th>"
                           "<th class=\"num\">Credits posted</th><th>Check</th>");
    for (uint32_t i = 0; i < report->trial_info.rows_count;) i = trial_ledger(out, report, i);
    if (report->trial_info.rows_count == 0) {
        fputs("<tr><td colspan=\"9\">No accounts.</td></tr>\n", out);
    }
    report_table_close(out);
}

/* ------------------------------------------------------------------------ */
/* Per funder and per provider                                              */

static const char *funder_kind_name(uint32_t kind) {
    if (kind == WELFARE_FUNDER_COMPANY) return "company";
    return kind == WELFARE_FUNDER_PUBLIC ? "public" : "unknown";
}

/* The first cell of an entity's row: its id for people, with its name
 * prefix for machines in every figure of the row. */
static void entity_cell(FILE *out, ledger_u128_t id, const char *entity,
                        char prefix[REPORT_FIGURE_NAME_SIZE]) {
    char decimal[CLI_U128_TEXT_SIZE], shown[CLI_U128_TEXT_SIZE];
    cli_format_u128(id, decimal);
    cli_format_id(id, shown);
    report_figure_name(prefix, "%s.%s", entity, decimal);
    fputs("<td class=\"id\">", out);
    report_html_text(out, shown);
    fputs("</td>", out);
}

/* A figure PREFIX.PART of an entity's row. */
static void entity_amount(FILE *out, const char *prefix, const char *part, report_side_t side) {
    char name[REPORT_FIGURE_NAME_SIZE];
    report_figure_name(name, "%s.%s", prefix, part);
    report_cell_amount(out, name, side, true);
}

static void entity_euros(FILE *out, const char *prefix, const char *part, uint64_t cents) {
    entity_amount(out, prefix, part, report_side_of(cents));
}

/* PREFIX.holds: whether the entity's identity holds. */
static void entity_holds(FILE *out, const char *prefix, bool holds) {
    char name[REPORT_FIGURE_NAME_SIZE];
    report_figure_name(name, "%s.holds", prefix);
    cell_flag(out, name, holds, "holds", "DOES NOT HOLD");
}

static void funder_row(FILE *out, const report_funder_t *f) {
    char prefix[REPORT_FIGURE_NAME_SIZE], name[REPORT_FIGURE_NAME_SIZE];
    fputs("<tr>", out);
    entity_cell(out, f->id, "funder", prefix);
    report_figure_name(name, "%s.kind", prefix);
    cell_value(out, "", name, funder_kind_name(f->kind), NULL);
    entity_amount(out, prefix, "left", f->left);
    /* The right side's parts, in the identity's order. */
    static const char *const parts[] = {"funds_balance", "pots_balance", "spent", "refunded",
                                        "reimbursed", "forfeited"};
    const uint64_t values[] = {f->funds_balance, f->pots_balance, f->spent, f->refunded,
                               f->reimbursed, f->forfeited};
    for (int k = 0; k < 6; k++) entity_euros(out, prefix, parts[k], values[k]);
    entity_amount(out, prefix, "right", f->right);
    entity_holds(out, prefix, f->holds);
    static const char *const others[] = {"funded", "granted", "expired_back", "carried_over",
                                         "held", "fees", "fees_returned"};
    const uint64_t other_values[] = {f->funded, f->granted, f->expired_back, f->carried_over,
                                     f->held, f->fees, f->fees_returned};
    for (int k = 0; k < 7; k++) entity_euros(out, prefix, others[k], other_values[k]);
    fputs("</tr>\n", out);
}

static void provider_row(FILE *out, const report_provider_t *p) {
    char prefix[REPORT_FIGURE_NAME_SIZE];
    const welfare_provider_statement_t *s = &p->statement;
    fputs("<tr>", out);
    entity_cell(out, p->id, "provider", prefix);
    entity_euros(out, prefix, "sales", s->sales);
    entity_euros(out, prefix, "refunds", s->refunds);
    entity_euros(out, prefix, "fees", s->fees);
    entity_euros(out, prefix, "fees_returned", s->fees_returned);
    entity_amount(out, prefix, "left", p->left);
    entity_euros(out, prefix, "payouts", s->payouts);
    entity_euros(out, prefix, "payable", s->payable);
    entity_amount(out, prefix, "right", p->right);
    entity_holds(out, prefix, p->holds);
    entity_euros(out, prefix, "held", s->held);
    fputs("</tr>\n", out);
}

/* The heading and note of a list of funders or providers (`intro`, this
 * program's HTML), their count as the figure `count_name`, and when there
 * are any, the opening of their table. Returns whether rows follow. */
static bool entities_open(FILE *out, const char *intro, const char *label,
                          const char *count_name, size_t count, const char *columns) {
    fputs(intro, out);
    fprintf(out, "<p>%s: <span data-figure=\"%s\" data-value=\"%zu\">%zu</span></p>\n", label,
            count_name, count, count);
    if (count == 0) return false;
    report_table_open(out, columns);
    return true;
}

static const char funders_intro[] =
    "<h3>Per company and public funder</h3>\n<p class=\"note\">funded = funds + pots + spent "
    "&#8722; refunded + reimbursed + forfeited (credit expired back to the funder is in its "
    "funds, credit carried over is in the pots; held credit is still in the pots).</p>\n";

static const char funders_columns[] =
    "<th>Funder</th><th>Kind</th><th class=\"num\">Funded</th><th class=\"num\">= Funds</th>"
    "<th class=\"num\">+ Pots</th><th class=\"num\">+ Spent</th>"
    "<th class=\"num\">&#8722; Refunded</th><th class=\"num\">+ Reimbursed</th>"
    "<th class=\"num\">+ Forfeited</th><th class=\"num\">Right side</th><th>Identity</th>"
    "<th class=\"num\">Granted</th><th class=\"num\">Expired back</th>"
    "<th class=\"num\">Carried over</th><th class=\"num\">Held</th><th class=\"num\">Fees</th>"
    "<th class=\"num\">Fees returned</th>";

static const char providers_intro[] =
    "<h3>Per provider</h3>\n<p class=\"note\">sales &#8722; refunds &#8722; (fees &#8722; fees "
    "returned) = payouts + payable (open holds towards the provider are not sales yet).</p>\n";

static const char providers_columns[] =
    "<th>Provider</th><th class=\"num\">Sales</th><th class=\"num\">&#8722; Refunds</th>"
    "<th class=\"num\">&#8722; Fees</th><th class=\"num\">+ Fees returned</th>"
    "<th class=\"num\">Left side</th><th class=\"num\">= Payouts</th>"
    "<th class=\"num\">+ Payable</th><th class=\"num\">Right side</th><th>Identity</th>"
    "<th class=\"num\">Held</th>";

static void page_funders(FILE *out, const report_t *report) {
    size_t count = report->funders_count;
    if (!entities_open(out, funders_intro, "Funders", "funders.count", count, funders_columns)) {
        return;
    }
    for (size_t i = 0; i < count; i++) funder_row(out, &report->funders[i]);
    report_table_close(out);
}

static void page_providers(FILE *out, const report_t *report) {
    size_t count = report->providers_count;
    if (!entities_open(out, providers_intro, "Providers", "providers.count", count,
                       providers_columns)) {
        return;
    }
    for (size_t i = 0; i < count; i++) provider_row(out, &report->providers[i]);
    report_table_close(out);
}

static void page_identities(FILE *out, const report_t *report, const report_verdict_t *v) {
    fputs("<h2 id=\"reconciliation\">Reconciliation per funder and provider</h2>\n<p "
          "class=\"note\">From each statement over [0, the time above] "
          "(<code>borsellino audit reconcile</code>).</p>\n", out);
    report_section_failure(out, "identities", &report->identities_failure);
    fputs("<table>\n", out);
    report_row_flag(out, "Result", "identities.ok", v->identities_hold, "OK: every identity holds",
                    "FAILED: an identity does not hold");
    fputs("</table>\n", out);
    page_funders(out, report);
    page_providers(out, report);
}

/* ------------------------------------------------------------------------ */
/* The footer, and the whole page                                           */

static void page_footer(FILE *out) {
    fputs("<h2 id=\"figures\">Reading the figures with a program</h2>\n<p class=\"note\">Every "
          "figure above is an element with a unique <code>data-figure</code> name and either "
          "<code>data-cents</code> (an amount: the exact integer in minor units, cents for EUR) "
          "or <code>data-value</code> (counts, hashes, true/false, text). "
          "<code>borsellino audit report --help</code> lists the names.</p>\n</body>\n</html>\n",
          out);
}

void report_page_write(FILE *out, const report_t *report, const report_verdict_t *v) {
    page_head(out, report);
    page_summary(out, report, v);
    page_verify(out, report, v);
    page_reconcile(out, report, v);
    page_trial(out, report, v);
    page_identities(out, report, v);
    report_page_months(out, report, v);
    page_footer(out);
}
