/*
 * test_welfare_crash.c — the welfare layer under SIGKILL.
 *
 * A child process opens the ledger and keeps making welfare operations in
 * write groups (purchases, holds, captures, refunds, reimbursements,
 * payouts), reporting over a pipe the number of each group it has seen
 * committed. The parent kills it with SIGKILL at a random moment, reopens
 * the directory and checks, each of KILLS_COUNT times:
 *  - ledger_verify passes (checksums, hash chain, balances, Σ debits = Σ
 *    credits);
 *  - the funder's reconciliation identity holds (funded = funds + pots +
 *    spent − refunded + reimbursed + forfeited) and the provider's
 *    (sales − refunds − net fees = payouts + payable): nothing was
 *    half-applied;
 *  - every operation of every acknowledged group is there: resubmitting it
 *    answers `exists` (durability of acknowledged work).
 * The operations are a deterministic function of their index, so the
 * parent can resubmit exactly what the child submitted.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger_fixture.h"
#include "test.h"
#include "welfare.h"

enum {
    KILLS_COUNT = 15,
    EMPLOYEES_COUNT = 500,
    GROUP_OPERATIONS = 200,
    PURCHASE_AMOUNT_MAX = 3000,
};

#define FUNDER id128(1)
#define PROVIDER id128(2)
#define PLAN id128(3)
#define OPERATION_BASE UINT64_C(1000000)

static uint64_t real_clock(void *context) {
    (void)context;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * FIXTURE_NS_PER_S + (uint64_t)now.tv_nsec;
}

static ledger_t *open_ledger(const char *path) {
    ledger_options_t options = {0};
    options.clock = real_clock;
    options.checkpoint_events = 20000; /* checkpoints happen during the run */
    ledger_t *ledger = NULL;
    int error = ledger_open(path, &options, &ledger);
    if (error) {
        printf("# open %s: %s\n", path, ledger_last_error_message(NULL));
        return NULL;
    }
    return ledger;
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0x7FB5D329728EA185ull;
    x ^= x >> 27;
    return x * 0x81DADEF4BC2DD44Dull;
}

/* Operation `index` (deterministic). Even indexes: purchases; odd ones
 * alternate refunds of the previous purchase and payouts. */
static int operation(ledger_t *ledger, uint64_t index, uint32_t *result_out) {
    uint64_t random = mix(index);
    ledger_u128_t id = id128(OPERATION_BASE + index);
    if (index % 2 == 0) {
        welfare_purchase_t purchase = {
            .id = id,
            .employee_id = id128(100 + random % EMPLOYEES_COUNT),
            .provider_id = PROVIDER,
            .category = (random >> 20) % 3 == 0 ? 9 : 7,
            .amount = 1 + (random >> 32) % PURCHASE_AMOUNT_MAX,
        };
        return welfare_purchase(ledger, &purchase, result_out);
    }
    if (index % 4 == 1) {
        return welfare_refund(ledger, id, id128(OPERATION_BASE + index - 1), 1, result_out);
    }
    uint64_t paid = 0;
    return welfare_payout(ledger, id, PROVIDER, 1 + random % 100, id128(index), result_out, &paid);
}

static int setup(ledger_t *ledger) {
    uint32_t result = 0;
    welfare_funder_t funder = {.id = FUNDER, .kind = WELFARE_FUNDER_COMPANY};
    welfare_provider_t provider = {.id = PROVIDER, .fee_bps = 250,
                                   .categories = (1u << 7) | (1u << 9)};
    welfare_plan_t plan = {.id = PLAN, .funder_id = FUNDER, .valid_from = 0,
                           .valid_until = UINT64_MAX, .categories = (1u << 7) | (1u << 9),
                           .expiry_policy = WELFARE_EXPIRY_BACK_TO_FUNDER};
    int error = welfare_create_funder(ledger, &funder, &result);
    if (!error) error = welfare_create_provider(ledger, &provider, &result);
    if (!error) error = welfare_create_plan(ledger, &plan, &result);
    welfare_fund_t fund = {id128(4), FUNDER, UINT64_C(100000000000)};
    if (!error) error = welfare_fund(ledger, &fund, &result);
    welfare_grant_entry_t entries[EMPLOYEES_COUNT];
    uint32_t results[EMPLOYEES_COUNT];
    for (uint32_t e = 0; e < EMPLOYEES_COUNT && !error; e++) {
        welfare_employee_t employee = {.id = id128(100 + e), .funder_id = FUNDER};
        error = welfare_create_employee(ledger, &employee, &result);
        entries[e] = (welfare_grant_entry_t){id128(100 + e), UINT64_C(100000000)};
    }
    if (!error) error = welfare_grant(ledger, id128(5), PLAN, entries, EMPLOYEES_COUNT, results);
    return error;
}

/* What the child reports after each commit: the group, and which of its
 * operations are in the books: applied now (OK) or already there (EXISTS,
 * when the child was killed after committing the group but before
 * reporting it, and the next child made the group again). Refused ones are
 * not marked. */
typedef struct group_report {
    uint64_t group;
    uint8_t applied[GROUP_OPERATIONS / 8];
} group_report_t;

/* The child: groups of operations forever, reporting each committed group. */
static void child_run(const char *path, int report_fd, uint64_t first_group) {
    ledger_t *ledger = open_ledger(path);
    if (ledger == NULL) _exit(3);
    for (uint64_t group = first_group;; group++) {
        group_report_t report;
        memset(&report, 0, sizeof(report));
        report.group = group;
        if (ledger_write_begin(ledger) != 0) _exit(4);
        for (uint64_t i = 0; i < GROUP_OPERATIONS; i++) {
            uint32_t result = 0;
            if (operation(ledger, group * GROUP_OPERATIONS + i, &result) != 0) _exit(5);
            if (result == WELFARE_RESULT_OK || result == WELFARE_RESULT_EXISTS)
                report.applied[i / 8] |= (uint8_t)(1u << (i % 8));
        }
        if (ledger_write_commit(ledger) != 0) _exit(6);
        if (write(report_fd, &report, sizeof(report)) != (ssize_t)sizeof(report)) _exit(7);
    }
}

/* Reads every report until EOF into *last (the newest); returns the last
 * committed group + 1. */
static uint64_t reports_read(int fd, uint64_t groups_done, group_report_t *last) {
    group_report_t report;
    while (read(fd, &report, sizeof(report)) == (ssize_t)sizeof(report)) {
        groups_done = report.group + 1;
        *last = report;
    }
    return groups_done;
}

static void check_books(ledger_t *ledger) {
    ledger_verify_report_t report;
    int error = ledger_verify(ledger, &report, NULL, NULL);
    TEST_CHECK_EQ(error, 0);
    if (error) printf("# verify: %s\n", report.message);
    welfare_funder_statement_t s;
    uint32_t rows = 0;
    bool more = false;
    TEST_CHECK_EQ(welfare_funder_statement(ledger, FUNDER, 0, 0, &s, id128(0), NULL, 0, &rows, &more), 0);
    TEST_CHECK_EQ(s.funds_balance + s.pots_balance + s.spent - s.refunded + s.reimbursed + s.forfeited,
                  s.funded);
    welfare_provider_statement_t p;
    TEST_CHECK_EQ(welfare_provider_statement(ledger, PROVIDER, 0, 0, &p), 0);
    TEST_CHECK_EQ(p.sales - p.refunds - (p.fees - p.fees_returned), p.payouts + p.payable);
}

/* Every operation the newest acknowledged group applied answers `exists`
 * when submitted again: acknowledged work survived the kill. */
static void check_acknowledged(ledger_t *ledger, const group_report_t *report) {
    uint64_t missing = 0;
    uint64_t applied = 0;
    TEST_CHECK_EQ(ledger_write_begin(ledger), 0);
    for (uint64_t i = 0; i < GROUP_OPERATIONS; i++) {
        if (!(report->applied[i / 8] & (1u << (i % 8)))) continue;
        uint32_t result = 0;
        TEST_CHECK_EQ(operation(ledger, report->group * GROUP_OPERATIONS + i, &result), 0);
        applied++;
        if (result != WELFARE_RESULT_EXISTS) missing++;
    }
    /* The probe must not change anything: roll it back. */
    ledger_write_abort(ledger);
    TEST_CHECK(applied > 0);
    TEST_CHECK_EQ(missing, 0);
}

static void test_sigkill_during_welfare_groups(void) {
    char path[PATH_MAX];
    fixture_tmp_dir_make("welfare_crash", path, sizeof(path));
    uint64_t seed = test_seed != 0 ? test_seed : (uint64_t)time(NULL);
    printf("# seed=%llu dir=%s\n", (unsigned long long)seed, path);
    srand((unsigned)seed);
    uint64_t groups_done = 0;
    group_report_t last;
    memset(&last, 0, sizeof(last));
    ledger_t *first = open_ledger(path);
    TEST_REQUIRE(first != NULL);
    TEST_CHECK_EQ(ledger_write_begin(first), 0);
    TEST_CHECK_EQ(setup(first), 0);
    TEST_CHECK_EQ(ledger_write_commit(first), 0);
    TEST_CHECK_EQ(ledger_close(first), 0);
    for (int kill_number = 0; kill_number < KILLS_COUNT; kill_number++) {
        int fds[2];
        TEST_REQUIRE(pipe(fds) == 0);
        pid_t pid = fork();
        TEST_REQUIRE(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_run(path, fds[1], groups_done);
        }
        close(fds[1]);
        usleep((useconds_t)(50000 + rand() % 400000));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        TEST_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        uint64_t before = groups_done;
        groups_done = reports_read(fds[0], groups_done, &last);
        close(fds[0]);
        ledger_t *ledger = open_ledger(path);
        TEST_REQUIRE(ledger != NULL);
        check_books(ledger);
        if (groups_done > before) check_acknowledged(ledger, &last);
        TEST_CHECK_EQ(ledger_close(ledger), 0);
    }
    printf("# %llu groups of %d operations acknowledged over %d kills\n",
           (unsigned long long)groups_done, GROUP_OPERATIONS, KILLS_COUNT);
    TEST_CHECK(groups_done > 0);
    if (test_failures_in_case == 0) fixture_tmp_dir_remove(path);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"sigkill_during_welfare_groups", test_sigkill_during_welfare_groups},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
