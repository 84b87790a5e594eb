/*
 * demo.c — `borsellino demo`: an in-process tour of the ledger engine on a
 * real data directory. Creates a welfare-shaped set of accounts, posts
 * transfers (a single transfer, a linked chain, a pending transfer that is
 * then posted, a refused overdraft), prints the results and the balances,
 * and verifies the ledger from scratch.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ledger.h"

enum { DEMO_LEDGER_EUR = 978 };

enum demo_account {
    DEMO_BANK = 1,
    DEMO_COMPANY_FUNDS = 2,
    DEMO_EMPLOYEE_POT = 3,
    DEMO_PROVIDER_PAYABLE = 4,
    DEMO_PLATFORM_FEES = 5,
};

static const char *const demo_account_names[] = {
    "", "platform bank", "company funds", "employee pot", "provider payable",
    "platform fees",
};

static ledger_account_t demo_account(uint64_t id, uint16_t flags) {
    ledger_account_t account;
    memset(&account, 0, sizeof(account));
    account.id = ledger_u128_from_u64(id);
    account.ledger = DEMO_LEDGER_EUR;
    account.code = (uint16_t)id;
    account.flags = flags;
    return account;
}

static ledger_transfer_t demo_transfer(uint64_t id, uint64_t debit, uint64_t credit,
                                       uint64_t amount_cents, uint16_t flags) {
    ledger_transfer_t transfer;
    memset(&transfer, 0, sizeof(transfer));
    transfer.id = ledger_u128_from_u64(id);
    transfer.debit_account_id = ledger_u128_from_u64(debit);
    transfer.credit_account_id = ledger_u128_from_u64(credit);
    transfer.amount = amount_cents;
    transfer.ledger = DEMO_LEDGER_EUR;
    transfer.code = 1;
    transfer.flags = flags;
    return transfer;
}

static int demo_submit(ledger_t *ledger, const char *title,
                       const ledger_transfer_t *transfers, uint32_t count) {
    ledger_result_t results[8];
    int error = ledger_create_transfers(ledger, transfers, count, results);
    if (error) {
        fprintf(stderr, "borsellino demo: %s: %s\n", title, ledger_strerror(error));
        return error;
    }
    printf("%s\n", title);
    for (uint32_t i = 0; i < count; i++) {
        const ledger_transfer_t *transfer = &transfers[i];
        /* A post names its pending transfer, not the accounts. */
        const char *from = ledger_u128_is_zero(transfer->debit_account_id)
                               ? "the hold"
                               : demo_account_names[transfer->debit_account_id.lo];
        const char *to = ledger_u128_is_zero(transfer->credit_account_id)
                             ? "its payee"
                             : demo_account_names[transfer->credit_account_id.lo];
        printf("  transfer %" PRIu64 ": %8" PRIu64 ".%02" PRIu64 " EUR  %s -> %s: %s\n",
               transfer->id.lo, transfer->amount / 100, transfer->amount % 100, from,
               to, ledger_result_name(results[i].result));
    }
    return 0;
}

static void demo_print_balances(ledger_t *ledger) {
    ledger_u128_t ids[5];
    ledger_account_t accounts[5];
    uint32_t found = 0;
    for (uint64_t i = 0; i < 5; i++) ids[i] = ledger_u128_from_u64(i + 1);
    if (ledger_lookup_accounts(ledger, ids, 5, accounts, &found) != 0) return;
    printf("\n%-18s %14s %14s %14s %14s\n", "account", "debits posted",
           "credits posted", "debits pending", "credits pending");
    for (uint32_t i = 0; i < found; i++) {
        printf("%-18s %14.2f %14.2f %14.2f %14.2f\n",
               demo_account_names[accounts[i].id.lo], accounts[i].debits_posted / 100.0,
               accounts[i].credits_posted / 100.0, accounts[i].debits_pending / 100.0,
               accounts[i].credits_pending / 100.0);
    }
}

static int demo_transfers(ledger_t *ledger, uint64_t base) {
    ledger_transfer_t fund = demo_transfer(base + 1, DEMO_BANK, DEMO_COMPANY_FUNDS, 100000, 0);
    /* A grant and a purchase with its platform fee, as one linked chain. */
    ledger_transfer_t chain[3] = {
        demo_transfer(base + 2, DEMO_COMPANY_FUNDS, DEMO_EMPLOYEE_POT, 50000, LEDGER_TRANSFER_LINKED),
        demo_transfer(base + 3, DEMO_EMPLOYEE_POT, DEMO_PROVIDER_PAYABLE, 12000, LEDGER_TRANSFER_LINKED),
        demo_transfer(base + 4, DEMO_PROVIDER_PAYABLE, DEMO_PLATFORM_FEES, 600, 0),
    };
    ledger_transfer_t hold = demo_transfer(base + 5, DEMO_EMPLOYEE_POT, DEMO_PROVIDER_PAYABLE,
                                           8000, LEDGER_TRANSFER_PENDING);
    hold.timeout = 3600;
    ledger_transfer_t capture = demo_transfer(base + 6, 0, 0, 7500, LEDGER_TRANSFER_POST_PENDING);
    capture.pending_id = hold.id;
    capture.ledger = 0;
    capture.code = 0;
    ledger_transfer_t overdraft = demo_transfer(base + 7, DEMO_EMPLOYEE_POT,
                                                DEMO_PROVIDER_PAYABLE, 1000000, 0);
    int error = demo_submit(ledger, "fund the company:", &fund, 1);
    if (!error) error = demo_submit(ledger, "grant + purchase + fee (linked chain):", chain, 3);
    if (!error) error = demo_submit(ledger, "hold an order (pending, 1 h timeout):", &hold, 1);
    if (!error) error = demo_submit(ledger, "capture 75.00 of the 80.00 held:", &capture, 1);
    if (!error) error = demo_submit(ledger, "spend more than the pot holds:", &overdraft, 1);
    return error;
}

int cli_demo(int argc, char **argv) {
    cli_options_t options;
    int status = cli_parse_data_options(argc, argv, "demo", &options);
    if (status >= 0) return status;
    ledger_t *ledger = NULL;
    int error = ledger_open(options.data_path, NULL, &ledger);
    if (error) {
        fprintf(stderr, "borsellino demo: %s\n", ledger_last_error_message(NULL));
        return CLI_EXIT_FAILURE;
    }
    ledger_account_t accounts[5] = {
        demo_account(DEMO_BANK, 0),
        demo_account(DEMO_COMPANY_FUNDS, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS),
        demo_account(DEMO_EMPLOYEE_POT, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS),
        demo_account(DEMO_PROVIDER_PAYABLE, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS),
        demo_account(DEMO_PLATFORM_FEES, LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS),
    };
    ledger_result_t results[5];
    ledger_stats_t stats;
    error = ledger_stats(ledger, &stats);
    printf("data directory %s: %" PRIu64 " journal records before this run\n\n",
           options.data_path, stats.journal_sequence);
    /* Accounts get `exists` on later runs: creation is idempotent. */
    if (!error) error = ledger_create_accounts(ledger, accounts, 5, results);
    /* Transfer ids continue across runs, so the demo can be run again. */
    if (!error) error = demo_transfers(ledger, stats.journal_sequence * 10 + 100);
    if (!error) demo_print_balances(ledger);
    ledger_verify_report_t report;
    if (!error) error = ledger_verify(ledger, &report, NULL, NULL);
    if (!error) {
        printf("\nverified: %" PRIu64 " journal records, hash chain intact, "
               "debits = credits in %" PRIu64 " ledger(s)\n",
               report.records_checked, report.ledgers_checked);
    } else if (error == LEDGER_ERR_VERIFY_FAILED) {
        fprintf(stderr, "borsellino demo: verification failed at %" PRIu64 ": %s\n",
                report.first_bad_sequence, report.message);
    } else {
        fprintf(stderr, "borsellino demo: %s\n", ledger_strerror(error));
    }
    int close_error = ledger_close(ledger);
    return error || close_error ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}
