/*
 * audit_report_data.c — the figures of `borsellino audit report`, from one
 * read-only handle: the chain and signature status (ledger_verify_signed)
 * and the welfare reconciliation (welfare_reconcile), the trial balance
 * (ledger_trial_balance), every funder's and provider's statement over
 * [0, TIME] with its reconciliation identity, and the money funded, spent
 * and expired by month (one pass over the journal); then the verdict on
 * them (report_judge). Nothing here writes the page: tools/audit_report.h
 * says who does what.
 *
 * Invariants:
 *  - a section that cannot be computed says why in its report_failure_t,
 *    and the others are still computed; only running out of memory stops
 *    the run (a page with holes for want of memory would say nothing true);
 *  - every scan stops at the handle's own last record
 *    (report->stats.journal_sequence) and at --at, so the trial balance,
 *    the statements and the months describe the same books.
 *
 * The monthly figures classify welfare postings (ledger 978, ids in the
 * WELFARE_TRANSFER_ID_TAG range) by their code exactly as
 * welfare_funder_statement does: FUND is funded; PURCHASE is spent unless
 * it is a hold (PENDING) or its release (VOID_PENDING) — a captured hold
 * counts once, at its capture (the POST_PENDING record, which carries code
 * PURCHASE and the captured amount); spent is gross, refunds (REFUND) are
 * their own column; EXPIRE_BACK + FORFEIT is expired. So Σ months = Σ
 * funder statements, which the page checks (months.matches_statements).
 * A month is the calendar month of the event in Europe/Rome: UTC+1, UTC+2
 * from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
 * Sunday of October (the EU rule, Italy's since 1996; applied to earlier
 * times too), as welfare_fiscal_year handles Italian time.
 *
 * Workload: one run per audit. Cost: the verification reads the whole
 * journal once, the monthly scan once more, each funder's statement once
 * more (welfare_funder_statement), and each provider's history: linear in
 * the journal per funder, meant for audits, not for a hot path. Memory:
 * the trial balance rows, one row per funder and provider (at most
 * REPORT_ENTITIES_MAX), and a fixed table of every month a u64 timestamp
 * can name (REPORT_MONTHS_COUNT rows of five sums, about 550 KiB).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_report.h"

#define NS_PER_SECOND UINT64_C(1000000000)

enum {
    /* Funders, and providers, one report holds (one row each, in memory). */
    REPORT_ENTITIES_MAX = 1000000,
    /* Ids per welfare_list_* call. */
    REPORT_LIST_PAGE = 1024,
    /* ledger_trial_balance calls before asking for the most rows there are. */
    REPORT_TRIAL_ATTEMPTS = 3,
};

/* ------------------------------------------------------------------------ */
/* Europe/Rome months                                                       */

/* Days since 1970-01-01 of a civil date, and back (Howard Hinnant's
 * algorithms, as welfare_fiscal_year uses). Years >= 1970 only. */
static int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
    year -= month <= 2;
    int64_t era = year / 400;
    unsigned year_of_era = (unsigned)(year - era * 400);
    unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + (int64_t)day_of_era - 719468;
}

static void civil_from_days(int64_t days, int64_t *year_out, unsigned *month_out) {
    days += 719468;
    int64_t era = days / 146097;
    unsigned day_of_era = (unsigned)(days - era * 146097);
    unsigned year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    unsigned month_index = (5 * day_of_year + 2) / 153;
    unsigned month = month_index < 10 ? month_index + 3 : month_index - 9;
    *year_out = (int64_t)year_of_era + era * 400 + (month <= 2 ? 1 : 0);
    *month_out = month;
}

/* The day of the last Sunday of a 31-day month (March, October). */
static int64_t last_sunday(int64_t year, unsigned month) {
    int64_t last = days_from_civil(year, month, 31);
    int64_t weekday = (last + 4) % 7; /* 1970-01-01 was a Thursday; 0 = Sunday */
    return last - weekday;
}

/* The index of the Europe/Rome calendar month of an instant:
 * (year - 1970) * 12 + month - 1. */
static uint32_t rome_month_index(uint64_t timestamp_ns) {
    int64_t seconds = (int64_t)(timestamp_ns / NS_PER_SECOND);
    int64_t year = 0;
    unsigned month = 0;
    civil_from_days(seconds / 86400, &year, &month);
    int64_t summer_from = last_sunday(year, 3) * 86400 + 3600;
    int64_t summer_until = last_sunday(year, 10) * 86400 + 3600;
    int64_t offset = seconds >= summer_from && seconds < summer_until ? 7200 : 3600;
    civil_from_days((seconds + offset) / 86400, &year, &month);
    if (year < REPORT_YEAR_FIRST || year > REPORT_YEAR_LAST) abort(); /* see REPORT_YEAR_LAST */
    uint32_t index = (uint32_t)(year - REPORT_YEAR_FIRST) * 12 + month - 1;
    if (index >= REPORT_MONTHS_COUNT) abort();
    return index;
}

void report_month_label(uint32_t index, char text[REPORT_MONTH_TEXT_SIZE]) {
    assert(index < REPORT_MONTHS_COUNT);
    snprintf(text, REPORT_MONTH_TEXT_SIZE, "%04u-%02u", REPORT_YEAR_FIRST + index / 12,
             index % 12 + 1);
}

void report_month_figures(const report_months_t *months, uint32_t index,
                          report_wide_t figures[MONTH_FIGURES]) {
    assert(index < REPORT_MONTHS_COUNT);
    for (int k = 0; k < MONTH_SUMMED; k++) figures[k] = months->sums[index][k];
    figures[MONTH_EXPIRED] = figures[MONTH_EXPIRED_BACK] + figures[MONTH_FORFEITED];
}

/* ------------------------------------------------------------------------ */
/* Failures and progress                                                    */

static void failure_set(report_failure_t *failure, ledger_t *ledger, int error, const char *what) {
    failure->error = error;
    snprintf(failure->message, sizeof(failure->message), "%s: %s (%s)", what,
             ledger_strerror(error), ledger_last_error_message(ledger));
}

/* Out of memory, ours or the engine's, ends the run without a report: a
 * page with holes for want of memory would say nothing true. */
static bool error_is_fatal(int error) { return error == LEDGER_ERR_NO_MEMORY; }

/* ------------------------------------------------------------------------ */
/* Collecting the figures                                                   */

static void collect_verify(ledger_t *ledger, const uint8_t *public_key, report_t *report) {
    cli_progress_stage(&report->progress, "verifying");
    int error = ledger_verify_signed(ledger, public_key, &report->verify, cli_progress_fn,
                                     &report->progress);
    if (error == LEDGER_ERR_VERIFY_FAILED) {
        report->verify_failure.error = error;
        snprintf(report->verify_failure.message, sizeof(report->verify_failure.message), "%s",
                 report->verify.message);
    } else if (error != 0) {
        failure_set(&report->verify_failure, ledger, error, "verification could not run");
    }
}

static void collect_reconcile(ledger_t *ledger, report_t *report) {
    cli_progress_stage(&report->progress, "reconciling the welfare books");
    int error = welfare_reconcile(ledger, &report->reconcile);
    if (error != 0) failure_set(&report->reconcile_failure, ledger, error, "welfare_reconcile");
}

/* The trial balance; its rows in report->trial_rows (caller frees). */
static int collect_trial(ledger_t *ledger, report_t *report) {
    cli_progress_stage(&report->progress, "reading the trial balance");
    uint32_t capacity = 0;
    for (int attempt = 0;; attempt++) {
        int error = ledger_trial_balance(ledger, report->options.at, report->trial_rows, capacity,
                                         &report->trial_info);
        if (error != 0) {
            failure_set(&report->trial_failure, ledger, error, "ledger_trial_balance");
            return error_is_fatal(error) ? error : 0;
        }
        if (report->trial_info.rows_count <= capacity) return 0;
        /* More rows than room: a concurrent writer may add rows between
         * calls (a time in the future), so the last try takes them all. */
        if (attempt + 1 >= REPORT_TRIAL_ATTEMPTS) {
            if (capacity == LEDGER_TRIAL_BALANCE_ROWS_MAX) abort(); /* the engine's contract */
            capacity = LEDGER_TRIAL_BALANCE_ROWS_MAX;
        } else {
            capacity = report->trial_info.rows_count;
        }
        ledger_trial_balance_row_t *rows = realloc(report->trial_rows, capacity * sizeof(*rows));
        if (rows == NULL) return LEDGER_ERR_NO_MEMORY;
        report->trial_rows = rows;
    }
}

static void funder_judge(report_funder_t *f) {
    f->left = report_side_of(f->funded);
    f->right.plus = (report_wide_t)f->funds_balance + f->pots_balance + f->spent +
                    f->reimbursed + f->forfeited;
    f->right.minus = f->refunded;
    f->holds = f->left.plus + f->right.minus == f->right.plus + f->left.minus;
}

static int funder_read(ledger_t *ledger, uint64_t at, report_funder_t *f) {
    welfare_funder_t funder;
    bool found = false;
    int error = welfare_lookup_funder(ledger, f->id, &funder, &found);
    if (error == 0 && !found) error = LEDGER_ERR_ACCOUNT_NOT_FOUND;
    welfare_funder_statement_t s;
    uint32_t rows = 0;
    bool more = false;
    ledger_u128_t none = {0, 0};
    if (error == 0) {
        error = welfare_funder_statement(ledger, f->id, 0, at, &s, none, NULL, 0, &rows, &more);
    }
    if (error != 0) return error;
    f->kind = funder.kind;
    f->funded = s.funded;
    f->granted = s.granted;
    f->spent = s.spent;
    f->refunded = s.refunded;
    f->reimbursed = s.reimbursed;
    f->expired_back = s.expired_back;
    f->forfeited = s.forfeited;
    f->carried_over = s.carried_over;
    f->fees = s.fees;
    f->fees_returned = s.fees_returned;
    f->funds_balance = s.funds_balance;
    f->pots_balance = s.pots_balance;
    f->held = s.held;
    funder_judge(f);
    return 0;
}

static int provider_read(ledger_t *ledger, uint64_t at, report_provider_t *p) {
    int error = welfare_provider_statement(ledger, p->id, 0, at, &p->statement);
    if (error != 0) return error;
    const welfare_provider_statement_t *s = &p->statement;
    p->left.plus = (report_wide_t)s->sales + s->fees_returned;
    p->left.minus = (report_wide_t)s->refunds + s->fees;
    p->right = report_side_of((report_wide_t)s->payouts + s->payable);
    p->holds = p->left.plus + p->right.minus == p->right.plus + p->left.minus;
    return 0;
}

/* entities_list's answer when there are more than REPORT_ENTITIES_MAX. */
enum { ENTITIES_TOO_MANY = 1 };

/* Every funder's (funders true) or provider's id, page by page, into a
 * growing array of rows of `row_size` bytes whose first member is the id.
 * Returns 0, ENTITIES_TOO_MANY or the engine's error. */
static int entities_list(ledger_t *ledger, bool funders, size_t row_size, void **rows_out,
                         size_t *count_out) {
    ledger_u128_t page[REPORT_LIST_PAGE];
    ledger_u128_t after = {0, 0};
    size_t capacity = 0;
    for (bool more = true; more;) {
        uint32_t count = 0;
        int error = funders
                        ? welfare_list_funders(ledger, after, page, REPORT_LIST_PAGE, &count, &more)
                        : welfare_list_providers(ledger, after, page, REPORT_LIST_PAGE, &count,
                                                 &more);
        if (error != 0) return error;
        if (*count_out + count > REPORT_ENTITIES_MAX) return ENTITIES_TOO_MANY;
        if (*count_out + count > capacity) {
            capacity = *count_out + count + capacity;
            void *rows = realloc(*rows_out, capacity * row_size);
            if (rows == NULL) return LEDGER_ERR_NO_MEMORY;
            *rows_out = rows;
        }
        for (uint32_t i = 0; i < count; i++) {
            char *row = (char *)*rows_out + (*count_out + i) * row_size;
            memset(row, 0, row_size);
            memcpy(row, &page[i], sizeof(page[i]));
        }
        *count_out += count;
        if (count > 0) after = page[count - 1];
    }
    return 0;
}

/* Funders and providers with their statements over [0, at]. */
static int collect_identities(ledger_t *ledger, report_t *report) {
    cli_progress_stage(&report->progress, "reading the funder and provider statements");
    void *funders = NULL;
    void *providers = NULL;
    int error =
        entities_list(ledger, true, sizeof(report_funder_t), &funders, &report->funders_count);
    report->funders = funders;
    if (error == 0) {
        error = entities_list(ledger, false, sizeof(report_provider_t), &providers,
                              &report->providers_count);
        report->providers = providers;
    }
    if (error == ENTITIES_TOO_MANY) {
        report->identities_failure.error = LEDGER_ERR_INVALID_ARGUMENT;
        snprintf(report->identities_failure.message, sizeof(report->identities_failure.message),
                 "more than %d funders or providers: too many for one report", REPORT_ENTITIES_MAX);
        return 0;
    }
    for (size_t i = 0; error == 0 && i < report->funders_count; i++) {
        error = funder_read(ledger, report->options.at, &report->funders[i]);
    }
    for (size_t i = 0; error == 0 && i < report->providers_count; i++) {
        error = provider_read(ledger, report->options.at, &report->providers[i]);
    }
    if (error != 0) failure_set(&report->identities_failure, ledger, error, "statements");
    return error_is_fatal(error) ? error : 0;
}

/* Positive values of the scan callback: the scan passed --at; a
 * timestamp went back to an earlier month. */
enum { MONTHS_SCAN_DONE = 1, MONTHS_SCAN_BACKWARDS = 2 };

typedef struct months_scan {
    report_months_t *months;
    uint64_t at; /* 0 = no bound */
} months_scan_t;

/* ledger_journal_fn: classifies one welfare posting into its month. */
static int months_visit(void *context, const ledger_journal_entry_t *entry) {
    months_scan_t *scan = context;
    const ledger_transfer_t *t = &entry->transfer;
    if (scan->at != 0 && t->timestamp > scan->at) return MONTHS_SCAN_DONE;
    if (entry->kind != LEDGER_EVENT_TRANSFER || t->ledger != WELFARE_LEDGER) return 0;
    if ((uint32_t)(t->id.hi >> 32) != WELFARE_TRANSFER_ID_TAG) return 0;
    int figure = -1;
    bool settled = !(t->flags & (LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_VOID_PENDING));
    switch (t->code) {
    case WELFARE_POSTING_FUND: figure = MONTH_FUNDED; break;
    case WELFARE_POSTING_PURCHASE: figure = settled ? MONTH_SPENT : -1; break;
    case WELFARE_POSTING_REFUND: figure = MONTH_REFUNDED; break;
    case WELFARE_POSTING_EXPIRE_BACK: figure = MONTH_EXPIRED_BACK; break;
    case WELFARE_POSTING_FORFEIT: figure = MONTH_FORFEITED; break;
    default: break;
    }
    if (figure < 0) return 0;
    report_months_t *months = scan->months;
    uint32_t index = rome_month_index(t->timestamp);
    assert(index < REPORT_MONTHS_COUNT);
    /* Timestamps grow with sequences, and so do months. */
    if (months->any && index < months->last) return MONTHS_SCAN_BACKWARDS;
    if (!months->any) months->first = index;
    months->any = true;
    months->last = index;
    months->sums[index][figure] += t->amount;
    months->totals[figure] += t->amount;
    return 0;
}

static int collect_months(ledger_t *ledger, report_t *report) {
    cli_progress_stage(&report->progress, "summing the months");
    report_months_t *months = &report->months;
    months->sums = calloc(REPORT_MONTHS_COUNT, sizeof(*months->sums));
    if (months->sums == NULL) return LEDGER_ERR_NO_MEMORY;
    /* Up to the handle's own last record (sequence_max 0 would mean the
     * end of a journal a running server may have grown since), the one
     * the statements and the trial balance see. */
    if (report->stats.journal_sequence == 0) return 0;
    months_scan_t scan = {months, report->options.at};
    int error = ledger_journal_scan(ledger, 1, report->stats.journal_sequence, months_visit, &scan);
    if (error == MONTHS_SCAN_DONE) error = 0;
    if (error == MONTHS_SCAN_BACKWARDS) {
        report->months_failure.error = LEDGER_ERR_CORRUPT;
        snprintf(report->months_failure.message, sizeof(report->months_failure.message),
                 "journal timestamps go back to an earlier month");
        error = 0;
    } else if (error != 0) {
        failure_set(&report->months_failure, ledger, error, "ledger_journal_scan");
    }
    months->totals[MONTH_EXPIRED] = months->totals[MONTH_EXPIRED_BACK] +
                                    months->totals[MONTH_FORFEITED];
    return error_is_fatal(error) ? error : 0;
}

/* Everything the page shows, from one read-only handle (audit_report.h). */
int report_collect(ledger_t *ledger, const uint8_t *public_key, report_t *report) {
    int error = ledger_stats(ledger, &report->stats);
    if (error != 0) return error;
    collect_verify(ledger, public_key, report);
    collect_reconcile(ledger, report);
    error = collect_trial(ledger, report);
    if (error == 0) error = collect_identities(ledger, report);
    if (error == 0) error = collect_months(ledger, report);
    cli_progress_stage(&report->progress, "");
    return error;
}

/* ------------------------------------------------------------------------ */
/* Judging                                                                  */

uint32_t report_ledger_totals(const ledger_trial_balance_row_t *rows, uint32_t count,
                              uint32_t first, report_wide_t totals[REPORT_TRIAL_FIGURES],
                              bool *balanced_out) {
    assert(first < count);
    memset(totals, 0, REPORT_TRIAL_FIGURES * sizeof(totals[0]));
    uint32_t i = first;
    for (; i < count && rows[i].ledger == rows[first].ledger; i++) {
        totals[0] += rows[i].accounts_count;
        totals[1] += report_wide_of(rows[i].debits_pending);
        totals[2] += report_wide_of(rows[i].debits_posted);
        totals[3] += report_wide_of(rows[i].credits_pending);
        totals[4] += report_wide_of(rows[i].credits_posted);
    }
    *balanced_out = totals[1] == totals[3] && totals[2] == totals[4];
    return i;
}

static bool trial_balanced(const report_t *report) {
    if (report->trial_failure.error != 0) return false;
    uint32_t count = report->trial_info.rows_count;
    for (uint32_t i = 0; i < count;) {
        report_wide_t totals[REPORT_TRIAL_FIGURES];
        bool balanced = false;
        i = report_ledger_totals(report->trial_rows, count, i, totals, &balanced);
        if (!balanced) return false;
    }
    return true;
}

/* Σ over the funders of one monthly figure's statement counterpart. */
static report_wide_t funders_sum(const report_t *report, int figure) {
    report_wide_t sum = 0;
    for (size_t i = 0; i < report->funders_count; i++) {
        const report_funder_t *f = &report->funders[i];
        const uint64_t values[MONTH_FIGURES] = {f->funded, f->spent, f->refunded, f->expired_back,
                                                f->forfeited, 0};
        sum += figure == MONTH_EXPIRED ? (report_wide_t)f->expired_back + f->forfeited
                                       : values[figure];
    }
    return sum;
}

static bool months_match(const report_t *report) {
    if (report->months_failure.error != 0 || report->identities_failure.error != 0) return false;
    for (int k = 0; k < MONTH_FIGURES; k++) {
        if (report->months.totals[k] != funders_sum(report, k)) return false;
    }
    return true;
}

report_verdict_t report_judge(const report_t *report) {
    report_verdict_t v;
    memset(&v, 0, sizeof(v));
    v.verified = report->verify_failure.error == 0;
    v.reconciled = report->reconcile_failure.error == 0 && report->reconcile.balanced;
    v.trial_balanced = trial_balanced(report);
    v.identities_hold = report->identities_failure.error == 0;
    for (size_t i = 0; i < report->funders_count; i++) {
        v.identities_hold = v.identities_hold && report->funders[i].holds;
    }
    for (size_t i = 0; i < report->providers_count; i++) {
        v.identities_hold = v.identities_hold && report->providers[i].holds;
    }
    v.months_match = months_match(report);
    v.ok = v.verified && v.reconciled && v.trial_balanced && v.identities_hold && v.months_match;
    return v;
}

/* ------------------------------------------------------------------------ */
/* Freeing                                                                  */

void report_free(report_t *report) {
    free(report->trial_rows);
    free(report->funders);
    free(report->providers);
    free(report->months.sums);
}

