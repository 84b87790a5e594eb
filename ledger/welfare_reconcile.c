/*
 * welfare_reconcile.c — the reconciliation identities auditors check
 * (../shared/DOMAIN.md, docs/welfare.md), over all time, for every funder
 * and every provider at once:
 *   funder:   funded = funds + Σ its employees' pots + spent − refunded
 *                      + reimbursed + forfeited
 *   provider: sales − refunds − (fees − fees_returned) = payouts + payable
 * The flows come from one pass over the journal's welfare postings; the
 * stocks (funds, pots, payables) from the current account balances, pots
 * attributed to funders through the employee records. Since the two sides
 * are computed independently, a journal, balance or registry that does not
 * add up shows as a named entity whose two sides differ.
 *
 * Workload: an audit run; one journal pass plus one employee lookup per
 * pot. Memory: a few counters per funder and provider number.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "welfare_internal.h"

typedef struct funder_flows {
    uint64_t funded, spent, refunded, reimbursed, forfeited, funds, pots;
} funder_flows_t;

typedef struct provider_flows {
    uint64_t sales, refunds, fees, fees_returned, payouts, payable;
} provider_flows_t;

typedef struct reconcile {
    funder_flows_t *funders;     /* by funder number (1..funders_count) */
    provider_flows_t *providers; /* by provider number */
    uint64_t funders_count;
    uint64_t providers_count;
    bool out_of_range; /* a posting named a number the registry never gave */
} reconcile_t;

static void reconcile_visit(void *context, const journal_record_t *record) {
    reconcile_t *r = context;
    uint64_t funder = record->user_data_32;
    uint64_t provider = record->user_data_64 >> 32;
    if (funder > r->funders_count || provider > r->providers_count) {
        r->out_of_range = true;
        return;
    }
    funder_flows_t *f = &r->funders[funder];
    provider_flows_t *p = &r->providers[provider];
    uint64_t amount = record->amount;
    switch (record->code) {
    case WELFARE_POSTING_FUND: f->funded += amount; break;
    case WELFARE_POSTING_PURCHASE:
        if (welfare_posting_spends(record)) {
            f->spent += amount;
            p->sales += amount;
        }
        break;
    case WELFARE_POSTING_REFUND: f->refunded += amount; p->refunds += amount; break;
    case WELFARE_POSTING_FEE: p->fees += amount; break;
    case WELFARE_POSTING_FEE_REFUND: p->fees_returned += amount; break;
    case WELFARE_POSTING_REIMBURSEMENT: f->reimbursed += amount; break;
    case WELFARE_POSTING_FORFEIT: f->forfeited += amount; break;
    case WELFARE_POSTING_PAYOUT: p->payouts += amount; break;
    default: break; /* grants, expiry back and carry-over stay inside a funder */
    }
}

/* Funds, payables and pots from the current balances. */
static int reconcile_stocks(ledger_t *ledger, reconcile_t *r) {
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    for (uint32_t i = 0; i < ledger->accounts.slots_count && !error; i++) {
        const account_slot_t *slot = &ledger->accounts.slots[i];
        if ((uint32_t)(slot->id.hi >> 32) != WELFARE_ACCOUNT_ID_TAG) continue;
        uint64_t balance = slot->balance.credits_posted - slot->balance.debits_posted;
        uint64_t number = slot->id.lo;
        if (slot->code == WELFARE_ACCOUNT_FUNDER && number <= r->funders_count) {
            r->funders[number].funds += balance;
        } else if (slot->code == WELFARE_ACCOUNT_PROVIDER && number <= r->providers_count) {
            r->providers[number].payable += balance;
        } else if (slot->code == WELFARE_ACCOUNT_POT) {
            employee_record_t employee;
            bool found = false;
            error = store_employee_get(ledger, txn, slot->user_data_128, &employee, &found);
            if (!error && (!found || employee.funder_number > r->funders_count)) {
                r->out_of_range = true;
            } else if (!error) {
                r->funders[employee.funder_number].pots += balance;
            }
        }
    }
    ledger_read_end(ledger, txn);
    return error;
}

/* The first entity whose sides differ, into the report. */
static void reconcile_judge(const reconcile_t *r, welfare_reconcile_report_t *report) {
    report->balanced = !r->out_of_range;
    if (r->out_of_range) {
        snprintf(report->message, sizeof(report->message),
                 "a posting or pot names a funder or provider the registry does not have");
        return;
    }
    for (uint64_t n = 1; n <= r->funders_count && report->balanced; n++) {
        const funder_flows_t *f = &r->funders[n];
        uint64_t accounted = f->funds + f->pots + f->spent - f->refunded + f->reimbursed + f->forfeited;
        report->funders_checked++;
        if (accounted != f->funded) {
            report->balanced = false;
            snprintf(report->message, sizeof(report->message),
                     "funder number %" PRIu64 ": funded %" PRIu64 " cents, accounted for %" PRIu64,
                     n, f->funded, accounted);
        }
    }
    for (uint64_t n = 1; n <= r->providers_count && report->balanced; n++) {
        const provider_flows_t *p = &r->providers[n];
        uint64_t left = p->sales - p->refunds - (p->fees - p->fees_returned);
        report->providers_checked++;
        if (left != p->payouts + p->payable) {
            report->balanced = false;
            snprintf(report->message, sizeof(report->message),
                     "provider number %" PRIu64 ": sales - refunds - net fees %" PRIu64
                     " cents, payouts + payable %" PRIu64, n, left, p->payouts + p->payable);
        }
    }
}

int welfare_reconcile(ledger_t *ledger, welfare_reconcile_report_t *report_out) {
    if (ledger == NULL || report_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    memset(report_out, 0, sizeof(*report_out));
    report_out->balanced = true;
    platform_record_t platform;
    bool found = false;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = store_platform_get(ledger, txn, &platform, &found);
    ledger_read_end(ledger, txn);
    if (error || !found) return error; /* no welfare platform: nothing to reconcile */
    reconcile_t r = {calloc(platform.funders_count + 1, sizeof(funder_flows_t)),
                     calloc(platform.providers_count + 1, sizeof(provider_flows_t)),
                     platform.funders_count, platform.providers_count, false};
    error = r.funders && r.providers ? 0 : LEDGER_ERR_NO_MEMORY;
    if (!error) error = welfare_journal_scan(ledger, 0, 0, reconcile_visit, &r);
    if (!error) error = reconcile_stocks(ledger, &r);
    if (!error) reconcile_judge(&r, report_out);
    free(r.funders);
    free(r.providers);
    return error;
}
