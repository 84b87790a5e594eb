/*
 * audit_figures.c — `borsellino audit trial-balance`, `audit balance` and
 * `audit reconcile`: the figures an auditor checks, now or at a past time,
 * from a data directory opened read-only (tools/audit_export.c opens it).
 *
 *  - trial balance: ledger_trial_balance rows per (ledger, code), a total
 *    per ledger, Σ debits = Σ credits checked for pending and posted, the
 *    sequence and time covered, and the digest signed checkpoints carry;
 *  - balance: one account's four balances (ledger_account_balance_at);
 *  - reconcile: per funder and per provider, both sides of the identities
 *    of ../shared/DOMAIN.md from their statements over [0, TIME]:
 *      funded = funds + pots + spent − refunded + reimbursed + forfeited
 *      sales − refunds − (fees − fees_returned) = payouts + payable
 *
 * Outputs: a table for people (welfare amounts in euros), --json (one
 * object; 128-bit values as decimal strings, cents as integers), and rows
 * as CSV or JSON Lines (also `audit export trial-balance|reconcile`).
 * Invariants: the two sides of an identity are computed in 128 bits, so
 * nothing wraps; a command exits 1 whenever a ledger does not balance or
 * an identity does not hold, naming it on stderr.
 *
 * Workload: the trial balance now is O(accounts); at a time, one journal
 * pass. A reconciliation at a time scans the journal once per funder
 * (welfare_funder_statement) and reads each provider's history: meant for
 * audits, not for a hot path.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit_cli.h"
#include "audit_export.h"
#include "welfare.h"

enum {
    /* Ids per welfare_list_* call. */
    RECONCILE_PAGE = 1024,
    /* The four sums of a row, in this order. */
    SUM_DEBITS_PENDING = 0,
    SUM_DEBITS_POSTED = 1,
    SUM_CREDITS_PENDING = 2,
    SUM_CREDITS_POSTED = 3,
    SUMS_COUNT = 4,
};

__extension__ typedef unsigned __int128 wide_t;

static const char *const sum_names[SUMS_COUNT] = {"debits_pending", "debits_posted",
                                                  "credits_pending", "credits_posted"};

static wide_t wide_of(ledger_u128_t value) { return (wide_t)value.hi << 64 | value.lo; }

static ledger_u128_t u128_of(wide_t value) {
    ledger_u128_t out = {(uint64_t)(value >> 64), (uint64_t)value};
    return out;
}

static void time_text(uint64_t ns, char text[CLI_TIMESTAMP_TEXT_SIZE]) {
    cli_format_timestamp(ns, text);
}

/* ------------------------------------------------------------------------ */
/* Trial balance                                                            */

typedef struct trial_balance {
    ledger_trial_balance_row_t *rows; /* LEDGER_TRIAL_BALANCE_ROWS_MAX */
    ledger_trial_balance_info_t info;
} trial_balance_t;

/* The totals of one ledger over its codes. */
typedef struct ledger_sum {
    uint32_t ledger;
    uint64_t accounts;
    ledger_u128_t sums[SUMS_COUNT];
    bool balanced; /* debits = credits, pending and posted */
} ledger_sum_t;

static void row_sums(const ledger_trial_balance_row_t *row, ledger_u128_t sums[SUMS_COUNT]) {
    sums[SUM_DEBITS_PENDING] = row->debits_pending;
    sums[SUM_DEBITS_POSTED] = row->debits_posted;
    sums[SUM_CREDITS_PENDING] = row->credits_pending;
    sums[SUM_CREDITS_POSTED] = row->credits_posted;
}

static int trial_balance_read(const audit_args_t *args, ledger_t *ledger, trial_balance_t *tb) {
    tb->rows = calloc(LEDGER_TRIAL_BALANCE_ROWS_MAX, sizeof(*tb->rows));
    if (tb->rows == NULL) return audit_fail(args, "out of memory", "out of memory");
    uint64_t at = args->at_given ? args->at : 0;
    int error = ledger_trial_balance(ledger, at, tb->rows, LEDGER_TRIAL_BALANCE_ROWS_MAX, &tb->info);
    if (error) {
        return audit_fail(args, ledger_strerror(error), "trial balance: %s: %s",
                          ledger_strerror(error), ledger_last_error_message(ledger));
    }
    if (tb->info.rows_count > LEDGER_TRIAL_BALANCE_ROWS_MAX) {
        /* trial_rows.c refuses more rows than one call returns: not reached. */
        return audit_fail(args, "too many rows", "more than %d trial balance rows",
                          LEDGER_TRIAL_BALANCE_ROWS_MAX);
    }
    return 0;
}

/* Sums the rows of the ledger of rows[first]; returns the index after. */
static uint32_t ledger_sum_from(const trial_balance_t *tb, uint32_t first, ledger_sum_t *sum) {
    memset(sum, 0, sizeof(*sum));
    sum->ledger = tb->rows[first].ledger;
    wide_t totals[SUMS_COUNT] = {0, 0, 0, 0};
    uint32_t i = first;
    for (; i < tb->info.rows_count && tb->rows[i].ledger == sum->ledger; i++) {
        ledger_u128_t sums[SUMS_COUNT];
        row_sums(&tb->rows[i], sums);
        /* At most 2^30 accounts of at most 2^64 - 1 each: < 2^94, no wrap. */
        for (int k = 0; k < SUMS_COUNT; k++) totals[k] += wide_of(sums[k]);
        sum->accounts += tb->rows[i].accounts_count;
    }
    for (int k = 0; k < SUMS_COUNT; k++) sum->sums[k] = u128_of(totals[k]);
    sum->balanced = totals[SUM_DEBITS_PENDING] == totals[SUM_CREDITS_PENDING] &&
                    totals[SUM_DEBITS_POSTED] == totals[SUM_CREDITS_POSTED];
    return i;
}

/* Names every ledger that does not balance on stderr. */
static int trial_balance_judge(const audit_args_t *args, const trial_balance_t *tb) {
    int exit_code = CLI_EXIT_OK;
    for (uint32_t i = 0; i < tb->info.rows_count;) {
        ledger_sum_t sum;
        i = ledger_sum_from(tb, i, &sum);
        if (sum.balanced) continue;
        char text[SUMS_COUNT][CLI_U128_TEXT_SIZE];
        for (int k = 0; k < SUMS_COUNT; k++) audit_u128_text(sum.sums[k], text[k]);
        fprintf(stderr, "borsellino %s: ledger %u does not balance: debits pending %s, "
                "credits pending %s; debits posted %s, credits posted %s\n", args->command,
                sum.ledger, text[0], text[2], text[1], text[3]);
        exit_code = CLI_EXIT_FAILURE;
    }
    return exit_code;
}

static void human_line(const char *ledger, const char *code, uint64_t accounts,
                       const ledger_u128_t sums[SUMS_COUNT], const char *note) {
    char text[SUMS_COUNT][CLI_U128_TEXT_SIZE];
    for (int k = 0; k < SUMS_COUNT; k++) audit_u128_text(sums[k], text[k]);
    printf("%10s %6s %10" PRIu64 " %16s %16s %16s %16s%s\n", ledger, code, accounts, text[0],
           text[1], text[2], text[3], note);
}

static void trial_balance_human(const audit_args_t *args, const trial_balance_t *tb) {
    char when[CLI_TIMESTAMP_TEXT_SIZE], last[CLI_TIMESTAMP_TEXT_SIZE];
    char digest[AUDIT_HEX_DIGEST_SIZE];
    time_text(tb->info.timestamp, last);
    audit_hex(tb->info.digest, LEDGER_DIGEST_SIZE, digest);
    printf("trial balance of %s\n", args->data_path);
    if (args->at_given) {
        time_text(args->at, when);
        printf("  as of     %s\n", when);
    } else {
        printf("  as of     now\n");
    }
    printf("  covers    journal sequence %" PRIu64 ", last event %s\n", tb->info.sequence, last);
    printf("  digest    %s\n\n", digest);
    printf("%10s %6s %10s %16s %16s %16s %16s\n", "ledger", "code", "accounts", "debits pend.",
           "debits posted", "credits pend.", "credits posted");
    for (uint32_t i = 0; i < tb->info.rows_count;) {
        ledger_sum_t sum;
        uint32_t end = ledger_sum_from(tb, i, &sum);
        char ledger_text[12], code_text[8];
        snprintf(ledger_text, sizeof(ledger_text), "%u", sum.ledger);
        for (; i < end; i++) {
            ledger_u128_t sums[SUMS_COUNT];
            row_sums(&tb->rows[i], sums);
            snprintf(code_text, sizeof(code_text), "%u", tb->rows[i].code);
            human_line(ledger_text, code_text, tb->rows[i].accounts_count, sums, "");
        }
        human_line(ledger_text, "total", sum.accounts, sum.sums,
                   sum.balanced ? "  debits = credits" : "  NOT BALANCED");
    }
    if (tb->info.rows_count == 0) printf("  (no accounts)\n");
}

static void json_sums(FILE *out, const ledger_u128_t sums[SUMS_COUNT]) {
    for (int k = 0; k < SUMS_COUNT; k++) {
        char text[CLI_U128_TEXT_SIZE];
        audit_u128_text(sums[k], text);
        fprintf(out, ", \"%s\": \"%s\"", sum_names[k], text);
    }
}

static void trial_balance_json(const audit_args_t *args, const trial_balance_t *tb) {
    char digest[AUDIT_HEX_DIGEST_SIZE];
    audit_hex(tb->info.digest, LEDGER_DIGEST_SIZE, digest);
    fputs("{\"data\": ", stdout);
    cli_json_string(stdout, args->data_path);
    printf(", \"at\": %" PRIu64 ", \"sequence\": %" PRIu64 ", \"timestamp\": %" PRIu64
           ", \"digest\": \"%s\", \"rows\": [", args->at_given ? args->at : 0, tb->info.sequence,
           tb->info.timestamp, digest);
    for (uint32_t i = 0; i < tb->info.rows_count; i++) {
        ledger_u128_t sums[SUMS_COUNT];
        row_sums(&tb->rows[i], sums);
        printf("%s{\"ledger\": %u, \"code\": %u, \"accounts\": %" PRIu64, i ? ", " : "",
               tb->rows[i].ledger, tb->rows[i].code, tb->rows[i].accounts_count);
        json_sums(stdout, sums);
        fputc('}', stdout);
    }
    fputs("], \"ledgers\": [", stdout);
    bool balanced = true;
    for (uint32_t i = 0; i < tb->info.rows_count;) {
        ledger_sum_t sum;
        printf("%s", i ? ", " : "");
        i = ledger_sum_from(tb, i, &sum);
        printf("{\"ledger\": %u, \"accounts\": %" PRIu64, sum.ledger, sum.accounts);
        json_sums(stdout, sum.sums);
        printf(", \"balanced\": %s}", sum.balanced ? "true" : "false");
        balanced &= sum.balanced;
    }
    printf("], \"balanced\": %s}\n", balanced ? "true" : "false");
}

/* CSV: sequence,timestamp,ledger,code,accounts,<4 sums>,digest. */
static void trial_balance_csv(FILE *out, const trial_balance_t *tb, bool json) {
    char digest[AUDIT_HEX_DIGEST_SIZE];
    audit_hex(tb->info.digest, LEDGER_DIGEST_SIZE, digest);
    if (!json) {
        fputs("sequence,timestamp,ledger,code,accounts,debits_pending,debits_posted,"
              "credits_pending,credits_posted,digest\n", out);
    }
    for (uint32_t i = 0; i < tb->info.rows_count; i++) {
        const ledger_trial_balance_row_t *row = &tb->rows[i];
        ledger_u128_t sums[SUMS_COUNT];
        row_sums(row, sums);
        char text[SUMS_COUNT][CLI_U128_TEXT_SIZE];
        for (int k = 0; k < SUMS_COUNT; k++) audit_u128_text(sums[k], text[k]);
        if (json) {
            fprintf(out, "{\"sequence\":%" PRIu64 ",\"timestamp\":%" PRIu64 ",\"ledger\":%u,"
                    "\"code\":%u,\"accounts\":%" PRIu64 ",\"debits_pending\":\"%s\","
                    "\"debits_posted\":\"%s\",\"credits_pending\":\"%s\","
                    "\"credits_posted\":\"%s\",\"digest\":\"%s\"}\n", tb->info.sequence,
                    tb->info.timestamp, row->ledger, row->code, row->accounts_count, text[0],
                    text[1], text[2], text[3], digest);
        } else {
            fprintf(out, "%" PRIu64 ",%" PRIu64 ",%u,%u,%" PRIu64 ",%s,%s,%s,%s,%s\n",
                    tb->info.sequence, tb->info.timestamp, row->ledger, row->code,
                    row->accounts_count, text[0], text[1], text[2], text[3], digest);
        }
    }
}

int audit_trial_balance_rows(const audit_args_t *args, ledger_t *ledger, FILE *out) {
    trial_balance_t tb;
    memset(&tb, 0, sizeof(tb));
    int exit_code = trial_balance_read(args, ledger, &tb);
    if (exit_code == 0) {
        trial_balance_csv(out, &tb, args->output == AUDIT_OUTPUT_JSONL);
        exit_code = trial_balance_judge(args, &tb);
    }
    free(tb.rows);
    return exit_code;
}

static const char trial_balance_help[] =
    "usage: borsellino audit trial-balance [--data DIR] [--at TIME] [--json | --csv | --jsonl]\n"
    "\n"
    "The trial balance: per ledger and account code, the number of accounts\n"
    "and the sums of their balances (debits and credits, pending and posted,\n"
    "in minor units), a total per ledger showing debits = credits, the\n"
    "journal sequence and time it covers, and its SHA-256 digest (the figure\n"
    "signed checkpoints carry; docs/audit.md). DIR is opened read-only: safe\n"
    "while borsellinod runs (the state as of the moment it opens).\n"
    "\n"
    "  --data DIR   data directory (default: ./" CLI_DATA_PATH_DEFAULT ")\n"
    "  --at TIME    the state right after the last event at or before TIME,\n"
    "               rebuilt from the journal (one pass over the records\n"
    "               before TIME); default: now, from memory. TIME is ns since\n"
    "               the Unix epoch, a UTC time 2026-03-31T12:00:00Z (a\n"
    "               fraction of a second allowed) or a date 2026-03-31, which\n"
    "               means its first instant (00:00:00Z): the state at the end\n"
    "               of March 30\n"
    "  --json       one JSON object: {\"data\", \"at\" (0 = now), \"sequence\",\n"
    "               \"timestamp\", \"digest\", \"rows\": [{\"ledger\", \"code\",\n"
    "               \"accounts\", \"debits_pending\", \"debits_posted\",\n"
    "               \"credits_pending\", \"credits_posted\"}], \"ledgers\": [{\"ledger\",\n"
    "               \"accounts\", the four sums, \"balanced\"}], \"balanced\"}; the\n"
    "               sums are decimal strings (they are 128-bit)\n"
    "  --csv        the rows as CSV, columns: sequence,timestamp,ledger,code,\n"
    "               accounts,debits_pending,debits_posted,credits_pending,\n"
    "               credits_posted,digest (the rows are exactly what the digest\n"
    "               covers; the totals per ledger are not rows)\n"
    "  --jsonl      the same rows as JSON Lines (same keys; sums as strings)\n"
    "\n"
    "Exit codes: 0 every ledger balances; 1 a ledger does not balance (named\n"
    "on stderr) or the directory cannot be read; 2 bad usage.\n";

int audit_trial_balance_main(int argc, char **argv) {
    audit_args_t args;
    unsigned allowed = AUDIT_OPTION_AT | AUDIT_OPTION_JSON | AUDIT_OPTION_CSV | AUDIT_OPTION_JSONL;
    int exit_code = audit_args_parse(argc, argv, "audit trial-balance", trial_balance_help,
                                     allowed, &args);
    if (exit_code >= 0) return exit_code;
    ledger_t *ledger = NULL;
    exit_code = audit_open(&args, &ledger);
    if (exit_code != 0) return exit_code;
    if (args.output == AUDIT_OUTPUT_CSV || args.output == AUDIT_OUTPUT_JSONL) {
        exit_code = audit_trial_balance_rows(&args, ledger, stdout);
    } else {
        trial_balance_t tb;
        memset(&tb, 0, sizeof(tb));
        exit_code = trial_balance_read(&args, ledger, &tb);
        if (exit_code == 0 && args.output == AUDIT_OUTPUT_JSON) trial_balance_json(&args, &tb);
        if (exit_code == 0 && args.output == AUDIT_OUTPUT_HUMAN) trial_balance_human(&args, &tb);
        if (exit_code == 0) exit_code = trial_balance_judge(&args, &tb);
        free(tb.rows);
    }
    (void)ledger_close(ledger);
    return exit_code;
}

/* ------------------------------------------------------------------------ */
/* Balance                                                                  */

static const char balance_help[] =
    "usage: borsellino audit balance --account ID [--data DIR] [--at TIME] [--json]\n"
    "\n"
    "One account's four balances (minor units): now, or right after the last\n"
    "event at or before TIME (walking the account's own records back from\n"
    "the newest). Before the account existed they are all zero. DIR is\n"
    "opened read-only: safe while borsellinod runs.\n"
    "\n"
    "  --account ID  the account: decimal, or 0x and up to 32 hex digits\n"
    "  --data DIR    data directory (default: ./" CLI_DATA_PATH_DEFAULT ")\n"
    "  --at TIME     ns since the epoch, 2026-03-31T12:00:00Z, or 2026-03-31\n"
    "                (its first instant, 00:00:00Z); default: now\n"
    "  --json        {\"account\": ID (string), \"ledger\", \"code\", \"at\" (0 = now),\n"
    "                \"debits_pending\", \"debits_posted\", \"credits_pending\",\n"
    "                \"credits_posted\"}\n"
    "\n"
    "Exit codes: 0 shown; 1 no such account, or the directory cannot be read;\n"
    "2 bad usage.\n";

static void balance_print(const audit_args_t *args, const ledger_account_t *account,
                          const ledger_balance_t *balance) {
    char id[CLI_U128_TEXT_SIZE], when[CLI_TIMESTAMP_TEXT_SIZE];
    if (args->output == AUDIT_OUTPUT_JSON) {
        cli_format_u128(account->id, id);
        printf("{\"account\": \"%s\", \"ledger\": %u, \"code\": %u, \"at\": %" PRIu64 ", ", id,
               account->ledger, account->code, args->at_given ? args->at : 0);
        cli_json_balance_fields(stdout, balance);
        fputs("}\n", stdout);
        return;
    }
    cli_format_id(account->id, id);
    time_text(args->at_given ? args->at : 0, when);
    printf("account %s (ledger %u, code %u) as of %s\n", id, account->ledger, account->code,
           args->at_given ? when : "now");
    printf("  debits pending   %20" PRIu64 "\n", balance->debits_pending);
    printf("  debits posted    %20" PRIu64 "\n", balance->debits_posted);
    printf("  credits pending  %20" PRIu64 "\n", balance->credits_pending);
    printf("  credits posted   %20" PRIu64 "\n", balance->credits_posted);
}

static int balance_run(const audit_args_t *args, ledger_t *ledger) {
    ledger_account_t account;
    uint32_t found = 0;
    int error = ledger_lookup_accounts(ledger, &args->account, 1, &account, &found);
    char id[CLI_U128_TEXT_SIZE];
    cli_format_id(args->account, id);
    if (error == 0 && found == 0) {
        return audit_fail(args, ledger_strerror(LEDGER_ERR_ACCOUNT_NOT_FOUND), "no account %s in %s",
                          id, args->data_path);
    }
    ledger_balance_t balance = {account.debits_pending, account.debits_posted,
                                account.credits_pending, account.credits_posted};
    if (error == 0 && args->at_given) {
        error = ledger_account_balance_at(ledger, args->account, args->at, &balance);
    }
    if (error != 0) {
        return audit_fail(args, ledger_strerror(error), "account %s: %s: %s", id,
                          ledger_strerror(error), ledger_last_error_message(ledger));
    }
    balance_print(args, &account, &balance);
    return CLI_EXIT_OK;
}

int audit_balance_main(int argc, char **argv) {
    audit_args_t args;
    unsigned allowed = AUDIT_OPTION_ACCOUNT | AUDIT_OPTION_AT | AUDIT_OPTION_JSON;
    int exit_code = audit_args_parse(argc, argv, "audit balance", balance_help, allowed, &args);
    if (exit_code >= 0) return exit_code;
    if (!args.account_given) return cli_usage_error(args.command, "give --account ID");
    ledger_t *ledger = NULL;
    exit_code = audit_open(&args, &ledger);
    if (exit_code != 0) return exit_code;
    exit_code = balance_run(&args, ledger);
    (void)ledger_close(ledger);
    return exit_code;
}

/* ------------------------------------------------------------------------ */
/* Reconciliation                                                           */

/* One entity's figures and identity: left = left_plus − left_minus, and
 * the same for right; it holds when the two are equal. Fields that do not
 * apply to the entity are 0 (and empty in CSV). */
typedef struct identity {
    bool funder;
    bool holds;
    uint32_t funder_kind;
    ledger_u128_t id;
    /* Funders. */
    uint64_t funded, funds_balance, pots_balance, spent, refunded, reimbursed, forfeited,
        expired_back, carried_over;
    /* Providers. */
    uint64_t sales, refunds, payouts, payable;
    /* Both. */
    uint64_t fees, fees_returned, held;
    wide_t left_plus, left_minus, right_plus, right_minus;
} identity_t;

typedef struct identities {
    identity_t *items;
    size_t count;
    size_t capacity;
} identities_t;

/* Most funders and providers one reconciliation reads (they are kept in
 * memory so that a failure prints no partial document). */
enum { RECONCILE_ENTITIES_MAX = 1000000 };

static const char funder_identity_text[] =
    "funded = funds + pots + spent - refunded + reimbursed + forfeited";
static const char provider_identity_text[] =
    "sales - refunds - (fees - fees_returned) = payouts + payable";

static int funder_identity(ledger_t *ledger, uint64_t at, identity_t *x) {
    welfare_funder_t funder;
    bool found = false;
    int error = welfare_lookup_funder(ledger, x->id, &funder, &found);
    if (error == 0 && !found) error = LEDGER_ERR_ACCOUNT_NOT_FOUND;
    uint32_t rows = 0;
    bool more = false;
    ledger_u128_t none = {0, 0};
    welfare_funder_statement_t s;
    if (error == 0) error = welfare_funder_statement(ledger, x->id, 0, at, &s, none, NULL, 0, &rows, &more);
    if (error) return error;
    x->funder_kind = funder.kind;
    x->funded = s.funded;
    x->funds_balance = s.funds_balance;
    x->pots_balance = s.pots_balance;
    x->spent = s.spent;
    x->refunded = s.refunded;
    x->reimbursed = s.reimbursed;
    x->forfeited = s.forfeited;
    x->expired_back = s.expired_back;
    x->carried_over = s.carried_over;
    x->fees = s.fees;
    x->fees_returned = s.fees_returned;
    x->held = s.held;
    x->left_plus = s.funded;
    x->right_plus = (wide_t)s.funds_balance + s.pots_balance + s.spent + s.reimbursed + s.forfeited;
    x->right_minus = s.refunded;
    return 0;
}

static int provider_identity(ledger_t *ledger, uint64_t at, identity_t *x) {
    welfare_provider_statement_t s;
    int error = welfare_provider_statement(ledger, x->id, 0, at, &s);
    if (error) return error;
    x->sales = s.sales;
    x->refunds = s.refunds;
    x->fees = s.fees;
    x->fees_returned = s.fees_returned;
    x->payouts = s.payouts;
    x->payable = s.payable;
    x->held = s.held;
    x->left_plus = (wide_t)s.sales + s.fees_returned;
    x->left_minus = (wide_t)s.refunds + s.fees;
    x->right_plus = (wide_t)s.payouts + s.payable;
    return 0;
}

/* Whether this handle knows the entity's account. The registry is read
 * in a fresh snapshot, the balances are the handle's (as of its open): a
 * funder or provider that borsellinod created after this command opened
 * the directory is not in the books being reconciled, and is left out. */
static int entity_known(ledger_t *ledger, bool funder, ledger_u128_t id, bool *known_out) {
    ledger_u128_t account = {0, 0};
    bool found = false;
    int error = 0;
    if (funder) {
        welfare_funder_t record;
        error = welfare_lookup_funder(ledger, id, &record, &found);
        account = record.account_id;
    } else {
        welfare_provider_t record;
        error = welfare_lookup_provider(ledger, id, &record, &found);
        account = record.account_id;
    }
    *known_out = false;
    if (error || !found) return error;
    ledger_account_t looked;
    uint32_t count = 0;
    error = ledger_lookup_accounts(ledger, &account, 1, &looked, &count);
    *known_out = error == 0 && count == 1;
    return error;
}

static int identity_fail(const audit_args_t *args, ledger_t *ledger, bool funder,
                         ledger_u128_t id, int error) {
    char text[CLI_U128_TEXT_SIZE];
    cli_format_id(id, text);
    const char *hint = error == LEDGER_ERR_ACCOUNT_NOT_FOUND
                           ? " (created after this command opened the directory? run it again)"
                           : "";
    return audit_fail(args, ledger_strerror(error), "%s %s: %s: %s%s",
                      funder ? "funder" : "provider", text, ledger_strerror(error),
                      ledger_last_error_message(ledger), hint);
}

/* Appends the identity of one funder or provider as of `as_of`. */
static int identities_add(const audit_args_t *args, ledger_t *ledger, uint64_t as_of,
                          identities_t *list, bool funder, ledger_u128_t id) {
    bool known = false;
    int error = entity_known(ledger, funder, id, &known);
    if (error) return identity_fail(args, ledger, funder, id, error);
    if (!known) return 0;
    if (list->count == RECONCILE_ENTITIES_MAX) {
        return audit_fail(args, "too many entities", "more than %d funders and providers",
                          RECONCILE_ENTITIES_MAX);
    }
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : RECONCILE_PAGE;
        identity_t *items = realloc(list->items, capacity * sizeof(*items));
        if (items == NULL) return audit_fail(args, "out of memory", "out of memory");
        list->items = items;
        list->capacity = capacity;
    }
    identity_t *x = &list->items[list->count];
    memset(x, 0, sizeof(*x));
    x->funder = funder;
    x->id = id;
    error = funder ? funder_identity(ledger, as_of, x) : provider_identity(ledger, as_of, x);
    if (error) return identity_fail(args, ledger, funder, id, error);
    x->holds = x->left_plus + x->right_minus == x->right_plus + x->left_minus;
    list->count++;
    return 0;
}

/* Every funder (or provider), page by page, in id order. */
static int identities_collect(const audit_args_t *args, ledger_t *ledger, uint64_t as_of,
                              bool funders, identities_t *list) {
    ledger_u128_t page[RECONCILE_PAGE];
    ledger_u128_t after = {0, 0};
    for (bool more = true; more;) {
        uint32_t count = 0;
        int error = funders ? welfare_list_funders(ledger, after, page, RECONCILE_PAGE, &count, &more)
                            : welfare_list_providers(ledger, after, page, RECONCILE_PAGE, &count, &more);
        if (error) {
            return audit_fail(args, ledger_strerror(error), "listing %s: %s",
                              funders ? "funders" : "providers", ledger_strerror(error));
        }
        for (uint32_t i = 0; i < count; i++) {
            int exit_code = identities_add(args, ledger, as_of, list, funders, page[i]);
            if (exit_code != 0) return exit_code;
        }
        if (count > 0) after = page[count - 1];
    }
    return 0;
}

/* ---- outputs ---- */

static void signed_side(wide_t plus, wide_t minus, char text[AUDIT_SIGNED_TEXT_SIZE]) {
    audit_signed_text(u128_of(plus), u128_of(minus), text);
}

static void euros(uint64_t cents, char text[CLI_EUROS_TEXT_SIZE]) { cli_format_euros(cents, text); }

/* Cents as euros, signed: "-12.50". */
static void signed_euros(wide_t plus, wide_t minus, char text[AUDIT_SIGNED_TEXT_SIZE + 2]) {
    wide_t magnitude = plus >= minus ? plus - minus : minus - plus;
    char whole[CLI_U128_TEXT_SIZE];
    audit_u128_text(u128_of(magnitude / 100), whole);
    snprintf(text, AUDIT_SIGNED_TEXT_SIZE + 2, "%s%s.%02u", plus < minus ? "-" : "", whole,
             (unsigned)(magnitude % 100));
}

static const char *funder_kind_name(uint32_t kind) {
    if (kind == WELFARE_FUNDER_COMPANY) return "company";
    return kind == WELFARE_FUNDER_PUBLIC ? "public" : "unknown";
}

static void human_funder(FILE *out, const identity_t *x) {
    char id[CLI_U128_TEXT_SIZE], left[AUDIT_SIGNED_TEXT_SIZE + 2], right[AUDIT_SIGNED_TEXT_SIZE + 2];
    char figures[7][CLI_EUROS_TEXT_SIZE];
    const uint64_t values[7] = {x->funds_balance, x->pots_balance, x->spent, x->refunded,
                                x->reimbursed, x->forfeited, x->held};
    for (int i = 0; i < 7; i++) euros(values[i], figures[i]);
    cli_format_id(x->id, id);
    signed_euros(x->left_plus, x->left_minus, left);
    signed_euros(x->right_plus, x->right_minus, right);
    fprintf(out, "  %-34s %-7s %13s = %12s %12s %12s %12s %12s %12s  %-5s (held %s)\n", id,
            funder_kind_name(x->funder_kind), left, figures[0], figures[1], figures[2],
            figures[3], figures[4], figures[5], x->holds ? "holds" : "FAILS", figures[6]);
    if (!x->holds) fprintf(out, "  %-34s %-7s %13s   accounted for\n", "", "", right);
}

static void human_provider(FILE *out, const identity_t *x) {
    char id[CLI_U128_TEXT_SIZE], left[AUDIT_SIGNED_TEXT_SIZE + 2], right[AUDIT_SIGNED_TEXT_SIZE + 2];
    char figures[7][CLI_EUROS_TEXT_SIZE];
    const uint64_t values[7] = {x->sales, x->refunds, x->fees, x->fees_returned, x->payouts,
                                x->payable, x->held};
    for (int i = 0; i < 7; i++) euros(values[i], figures[i]);
    cli_format_id(x->id, id);
    signed_euros(x->left_plus, x->left_minus, left);
    signed_euros(x->right_plus, x->right_minus, right);
    fprintf(out, "  %-34s %12s %12s %12s %12s %13s = %12s %12s %13s  %-5s (held %s)\n", id,
            figures[0], figures[1], figures[2], figures[3], left, figures[4], figures[5], right,
            x->holds ? "holds" : "FAILS", figures[6]);
}

static void reconcile_human(const audit_args_t *args, ledger_t *ledger, FILE *out,
                            const identities_t *funders, const identities_t *providers) {
    char when[CLI_TIMESTAMP_TEXT_SIZE];
    ledger_stats_t stats;
    memset(&stats, 0, sizeof(stats));
    (void)ledger_stats(ledger, &stats);
    time_text(args->at_given ? args->at : stats.last_timestamp, when);
    fprintf(out, "reconciliation of %s as of %s%s (welfare amounts in EUR)\n\n", args->data_path,
            args->at_given ? "" : "now, ", when);
    fprintf(out, "funders: %s\n", funder_identity_text);
    fprintf(out, "  %-34s %-7s %13s   %12s %12s %12s %12s %12s %12s\n", "id", "kind", "funded",
            "funds", "pots", "spent", "refunded", "reimbursed", "forfeited");
    for (size_t i = 0; i < funders->count; i++) human_funder(out, &funders->items[i]);
    if (funders->count == 0) fputs("  (none)\n", out);
    fprintf(out, "\nproviders: %s\n", provider_identity_text);
    fprintf(out, "  %-34s %12s %12s %12s %12s %13s   %12s %12s %13s\n", "id", "sales", "refunds",
            "fees", "fees returned", "left", "payouts", "payable", "right");
    for (size_t i = 0; i < providers->count; i++) human_provider(out, &providers->items[i]);
    if (providers->count == 0) fputs("  (none)\n", out);
}

static void json_identity(FILE *out, const identity_t *x) {
    char id[CLI_U128_TEXT_SIZE], left[AUDIT_SIGNED_TEXT_SIZE], right[AUDIT_SIGNED_TEXT_SIZE];
    cli_format_u128(x->id, id);
    signed_side(x->left_plus, x->left_minus, left);
    signed_side(x->right_plus, x->right_minus, right);
    fprintf(out, "{\"entity\": \"%s\", \"id\": \"%s\"", x->funder ? "funder" : "provider", id);
    if (x->funder) {
        fprintf(out, ", \"funder_kind\": \"%s\", \"funded\": %" PRIu64 ", \"funds_balance\": %" PRIu64
                ", \"pots_balance\": %" PRIu64 ", \"spent\": %" PRIu64 ", \"refunded\": %" PRIu64
                ", \"reimbursed\": %" PRIu64 ", \"forfeited\": %" PRIu64 ", \"expired_back\": %" PRIu64
                ", \"carried_over\": %" PRIu64, funder_kind_name(x->funder_kind), x->funded,
                x->funds_balance, x->pots_balance, x->spent, x->refunded, x->reimbursed,
                x->forfeited, x->expired_back, x->carried_over);
    } else {
        fprintf(out, ", \"sales\": %" PRIu64 ", \"refunds\": %" PRIu64 ", \"payouts\": %" PRIu64
                ", \"payable\": %" PRIu64, x->sales, x->refunds, x->payouts, x->payable);
    }
    fprintf(out, ", \"fees\": %" PRIu64 ", \"fees_returned\": %" PRIu64 ", \"held\": %" PRIu64
            ", \"identity\": \"%s\", \"left\": %s, \"right\": %s, \"holds\": %s}",
            x->fees, x->fees_returned, x->held,
            x->funder ? funder_identity_text : provider_identity_text, left, right,
            x->holds ? "true" : "false");
}

static void reconcile_json(const audit_args_t *args, FILE *out, const identities_t *funders,
                           const identities_t *providers, bool balanced) {
    fputs("{\"data\": ", out);
    cli_json_string(out, args->data_path);
    fprintf(out, ", \"at\": %" PRIu64 ", \"funders\": [", args->at_given ? args->at : 0);
    for (size_t i = 0; i < funders->count; i++) {
        if (i > 0) fputs(", ", out);
        json_identity(out, &funders->items[i]);
    }
    fputs("], \"providers\": [", out);
    for (size_t i = 0; i < providers->count; i++) {
        if (i > 0) fputs(", ", out);
        json_identity(out, &providers->items[i]);
    }
    fprintf(out, "], \"balanced\": %s}\n", balanced ? "true" : "false");
}

static const char reconcile_csv_header[] =
    "entity,id,funder_kind,left,right,holds,funded,funds_balance,pots_balance,spent,refunded,"
    "reimbursed,forfeited,expired_back,carried_over,sales,refunds,payouts,payable,fees,"
    "fees_returned,held\n";

static void csv_identity(FILE *out, const identity_t *x) {
    char id[CLI_U128_TEXT_SIZE], left[AUDIT_SIGNED_TEXT_SIZE], right[AUDIT_SIGNED_TEXT_SIZE];
    cli_format_u128(x->id, id);
    signed_side(x->left_plus, x->left_minus, left);
    signed_side(x->right_plus, x->right_minus, right);
    fprintf(out, "%s,%s,%s,%s,%s,%s,", x->funder ? "funder" : "provider", id,
            x->funder ? funder_kind_name(x->funder_kind) : "", left, right,
            x->holds ? "true" : "false");
    if (x->funder) {
        fprintf(out, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",,,,,", x->funded, x->funds_balance,
                x->pots_balance, x->spent, x->refunded, x->reimbursed, x->forfeited,
                x->expired_back, x->carried_over);
    } else {
        fprintf(out, ",,,,,,,,,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",", x->sales,
                x->refunds, x->payouts, x->payable);
    }
    fprintf(out, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", x->fees, x->fees_returned, x->held);
}

static void reconcile_rows_write(FILE *out, bool jsonl, const identities_t *lists[2]) {
    if (!jsonl) fputs(reconcile_csv_header, out);
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < lists[l]->count; i++) {
            if (!jsonl) {
                csv_identity(out, &lists[l]->items[i]);
                continue;
            }
            json_identity(out, &lists[l]->items[i]);
            fputc('\n', out);
        }
    }
}

/* Names every identity that does not hold on stderr. */
static int reconcile_judge(const audit_args_t *args, const identities_t *lists[2]) {
    uint64_t failures = 0, total = 0;
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < lists[l]->count; i++, total++) {
            const identity_t *x = &lists[l]->items[i];
            if (x->holds) continue;
            char id[CLI_U128_TEXT_SIZE], left[AUDIT_SIGNED_TEXT_SIZE], right[AUDIT_SIGNED_TEXT_SIZE];
            cli_format_id(x->id, id);
            signed_side(x->left_plus, x->left_minus, left);
            signed_side(x->right_plus, x->right_minus, right);
            fprintf(stderr, "borsellino %s: %s %s: %s does not hold: %s cents on the left, %s on "
                    "the right\n", args->command, x->funder ? "funder" : "provider", id,
                    x->funder ? funder_identity_text : provider_identity_text, left, right);
            failures++;
        }
    }
    if (failures == 0) return CLI_EXIT_OK;
    fprintf(stderr, "borsellino %s: %" PRIu64 " of %" PRIu64 " identities do not hold\n",
            args->command, failures, total);
    return CLI_EXIT_FAILURE;
}

/* Reads every identity, then writes them in args->output form. */
static int reconcile_write(const audit_args_t *args, ledger_t *ledger, FILE *out) {
    identities_t funders = {NULL, 0, 0}, providers = {NULL, 0, 0};
    const identities_t *lists[2] = {&funders, &providers};
    /* Now is the handle's last event, not 0: the statements then read
     * every balance through the journal as of that event, never an account
     * the handle does not know (one created after it opened). */
    ledger_stats_t stats;
    memset(&stats, 0, sizeof(stats));
    (void)ledger_stats(ledger, &stats);
    uint64_t as_of = args->at_given ? args->at : stats.last_timestamp;
    int exit_code = identities_collect(args, ledger, as_of, true, &funders);
    if (exit_code == 0) exit_code = identities_collect(args, ledger, as_of, false, &providers);
    if (exit_code == 0) {
        bool balanced = reconcile_judge(args, lists) == CLI_EXIT_OK;
        if (args->output == AUDIT_OUTPUT_HUMAN) reconcile_human(args, ledger, out, &funders, &providers);
        else if (args->output == AUDIT_OUTPUT_JSON) reconcile_json(args, out, &funders, &providers, balanced);
        else reconcile_rows_write(out, args->output == AUDIT_OUTPUT_JSONL, lists);
        exit_code = balanced ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    }
    free(funders.items);
    free(providers.items);
    return exit_code;
}

int audit_reconcile_rows(const audit_args_t *args, ledger_t *ledger, FILE *out) {
    return reconcile_write(args, ledger, out);
}

static const char reconcile_help[] =
    "usage: borsellino audit reconcile [--data DIR] [--at TIME] [--json | --csv]\n"
    "\n"
    "The reconciliation identities of the welfare books (../shared/DOMAIN.md),\n"
    "per funder (company or public funder) and per provider, from their\n"
    "statements over [the beginning, TIME], with both sides and whether they\n"
    "hold:\n"
    "  funder:   funded = funds + pots + spent - refunded + reimbursed + forfeited\n"
    "            (credit expired back is in the funds, carried over in the pots;\n"
    "            held credit is still in the pots)\n"
    "  provider: sales - refunds - (fees - fees_returned) = payouts + payable\n"
    "DIR is opened read-only: safe while borsellinod runs. Cost: one journal\n"
    "pass per funder and one history walk per provider.\n"
    "\n"
    "  --data DIR   data directory (default: ./" CLI_DATA_PATH_DEFAULT ")\n"
    "  --at TIME    ns since the epoch, 2026-03-31T12:00:00Z, or 2026-03-31 (its\n"
    "               first instant, 00:00:00Z); default: now\n"
    "  --json       {\"data\", \"at\" (0 = now), \"funders\": [...], \"providers\": [...],\n"
    "               \"balanced\"}; each entry has \"entity\", \"id\" (string), its\n"
    "               figures in cents, \"identity\", \"left\", \"right\" and \"holds\"\n"
    "  --csv        one row per funder, then per provider, columns: entity,id,\n"
    "               funder_kind,left,right,holds,funded,funds_balance,\n"
    "               pots_balance,spent,refunded,reimbursed,forfeited,\n"
    "               expired_back,carried_over,sales,refunds,payouts,payable,fees,\n"
    "               fees_returned,held (cents; a column that does not apply to\n"
    "               the entity is empty)\n"
    "\n"
    "A directory without a welfare platform has nothing to reconcile (exit 0).\n"
    "Exit codes: 0 every identity holds; 1 one does not (each is named on\n"
    "stderr with both sides) or the directory cannot be read; 2 bad usage.\n";

int audit_reconcile_main(int argc, char **argv) {
    audit_args_t args;
    unsigned allowed = AUDIT_OPTION_AT | AUDIT_OPTION_JSON | AUDIT_OPTION_CSV;
    int exit_code = audit_args_parse(argc, argv, "audit reconcile", reconcile_help, allowed, &args);
    if (exit_code >= 0) return exit_code;
    ledger_t *ledger = NULL;
    exit_code = audit_open(&args, &ledger);
    if (exit_code != 0) return exit_code;
    exit_code = reconcile_write(&args, ledger, stdout);
    (void)ledger_close(ledger);
    return exit_code;
}
