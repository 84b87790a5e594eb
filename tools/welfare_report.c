/*
 * welfare_report.c — `borsellino welfare wallet` and `borsellino welfare
 * statement funder|provider|employee`: what an employee holds, and the
 * statements funders, providers and payroll offices need. Read-only.
 *
 * Three outputs: a table for people (euros with two decimals), --json (one
 * object; amounts in cents, ids as decimal strings) and --csv (one row per
 * figure or per pot, movement or employee; amounts in euros). Lists that
 * take several requests (wallet movements, the employees of a funder
 * statement) are read page by page on one connection before anything is
 * printed, so a failure mid-way prints no partial document.
 */
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "frame.h"
#include "welfare_cli.h"

enum {
    /* Most movements one wallet --movements reads (pages of
     * WELFARE_MOVEMENTS_MAX). */
    CLI_WELFARE_MOVEMENTS_TOTAL_MAX = 1000000,
    /* Most employees one funder statement reads (pages of at most
     * WELFARE_STATEMENT_EMPLOYEES_MAX). */
    CLI_WELFARE_EMPLOYEES_TOTAL_MAX = 10000000,
    CLI_WELFARE_SIGNED_EUROS_SIZE = CLI_EUROS_TEXT_SIZE + 1,
};

#define OPTIONS_COUNT(options) (sizeof(options) / sizeof((options)[0]))

/* A signed amount of cents as euros: -1250 -> "-12.50". */
static void signed_euros(int64_t cents, char text[CLI_WELFARE_SIGNED_EUROS_SIZE]) {
    uint64_t magnitude = cents < 0 ? (uint64_t)(-(cents + 1)) + 1 : (uint64_t)cents;
    char digits[CLI_EUROS_TEXT_SIZE];
    cli_format_euros(magnitude, digits);
    snprintf(text, CLI_WELFARE_SIGNED_EUROS_SIZE, "%s%s", cents < 0 ? "-" : "", digits);
}

static void print_euros_row(const char *label, uint64_t cents) {
    char text[CLI_EUROS_TEXT_SIZE];
    cli_format_euros(cents, text);
    printf("  %-16s %15s EUR\n", label, text);
}

/* A category list for a CSV cell: '|' instead of ','. */
static void categories_cell(uint64_t mask, char text[CLI_WELFARE_CATEGORIES_TEXT_SIZE]) {
    cli_welfare_categories_format(mask, text);
    for (char *c = text; *c != '\0'; c++) {
        if (*c == ',') *c = '|';
    }
}

/* ------------------------------------------------------------------------ */
/* wallet                                                                   */

/* Reads every movement of the employee, page by page. */
static int movements_read(client_t *client, const cli_welfare_common_t *common,
                          const cli_welfare_command_t *command, ledger_u128_t employee_id,
                          welfare_movement_t **movements_out, size_t *count_out) {
    Borsellino__V1__U128 id;
    convert_u128_to_proto(employee_id, &id);
    welfare_movement_t *movements = NULL;
    size_t count = 0;
    uint64_t timestamp_min = 0;
    int exit_code = 0;
    for (bool more = true; more && exit_code == 0;) {
        Borsellino__V1__WelfareMovementsRequest page =
            BORSELLINO__V1__WELFARE_MOVEMENTS_REQUEST__INIT;
        page.employee_id = &id;
        page.timestamp_min = timestamp_min;
        page.limit = WELFARE_MOVEMENTS_MAX;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_MOVEMENTS;
        request.welfare_movements = &page;
        Borsellino__V1__Response *response = NULL;
        exit_code = cli_call(client, &common->net, command->name, &request,
                             BORSELLINO__V1__RESPONSE__RESULT_WELFARE_MOVEMENTS, &response);
        if (exit_code != 0) break;
        size_t got = response->welfare_movements->n_movements;
        welfare_movement_t *grown = count + got <= CLI_WELFARE_MOVEMENTS_TOTAL_MAX
                                        ? realloc(movements, (count + got + 1) * sizeof(*grown))
                                        : NULL;
        if (grown == NULL) {
            exit_code = cli_fail(&common->net, command->name, "too_many_movements",
                                 "more than %d movements (or out of memory)",
                                 CLI_WELFARE_MOVEMENTS_TOTAL_MAX);
        } else {
            movements = grown;
            for (size_t i = 0; i < got; i++) {
                convert_welfare_movement_from_proto(response->welfare_movements->movements[i],
                                                    &movements[count + i]);
            }
            count += got;
            more = response->welfare_movements->more;
            if (got > 0) timestamp_min = movements[count - 1].timestamp + 1;
        }
        frame_response_free(response);
    }
    if (exit_code != 0) {
        free(movements);
        return exit_code;
    }
    *movements_out = movements;
    *count_out = count;
    return 0;
}

static void wallet_print_json(const welfare_wallet_t *wallet, const welfare_movement_t *movements,
                              size_t movements_count, bool with_movements) {
    uint64_t available = 0, held = 0, balance = 0;
    for (uint32_t i = 0; i < wallet->pots_count; i++) {
        available += wallet->pots[i].available;
        held += wallet->pots[i].held;
        balance += wallet->pots[i].balance;
    }
    fputc('{', stdout);
    cli_welfare_json_id(stdout, "employee_id", wallet->employee_id);
    fputc(',', stdout);
    cli_welfare_json_id(stdout, "funder_id", wallet->funder_id);
    printf(",\"offboarded\":%s,\"available\":%llu,\"held\":%llu,\"balance\":%llu,\"pots\":[",
           wallet->offboarded ? "true" : "false", (unsigned long long)available,
           (unsigned long long)held, (unsigned long long)balance);
    for (uint32_t i = 0; i < wallet->pots_count; i++) {
        const welfare_pot_t *pot = &wallet->pots[i];
        char categories[CLI_WELFARE_CATEGORIES_TEXT_SIZE];
        cli_welfare_categories_format(pot->categories, categories);
        printf("%s{", i ? "," : "");
        cli_welfare_json_id(stdout, "plan_id", pot->plan_id);
        fputc(',', stdout);
        cli_welfare_json_id(stdout, "account_id", pot->account_id);
        printf(",\"available\":%llu,\"held\":%llu,\"balance\":%llu,\"granted\":%llu,"
               "\"valid_from\":%llu,\"valid_until\":%llu,\"categories\":[%s],\"expired\":%s,"
               "\"closed\":%s}",
               (unsigned long long)pot->available, (unsigned long long)pot->held,
               (unsigned long long)pot->balance, (unsigned long long)pot->granted,
               (unsigned long long)pot->valid_from, (unsigned long long)pot->valid_until,
               pot->categories ? categories : "", pot->expired ? "true" : "false",
               pot->closed ? "true" : "false");
    }
    fputc(']', stdout);
    if (with_movements) {
        fputs(",\"movements\":[", stdout);
        for (size_t i = 0; i < movements_count; i++) {
            const welfare_movement_t *movement = &movements[i];
            printf("%s{\"timestamp\":%llu,", i ? "," : "", (unsigned long long)movement->timestamp);
            cli_welfare_json_id(stdout, "operation_id", movement->operation_id);
            fputc(',', stdout);
            cli_welfare_json_id(stdout, "plan_id", movement->plan_id);
            printf(",\"posting\":\"%s\",\"category\":%u,\"amount\":%lld,\"held\":%s,"
                   "\"pot_balance_after\":%llu}",
                   cli_welfare_posting_name(movement->posting), movement->category,
                   (long long)movement->amount, movement->held ? "true" : "false",
                   (unsigned long long)movement->pot_balance_after);
        }
        fputc(']', stdout);
    }
    fputs("}\n", stdout);
}

static const char *pot_state(const welfare_pot_t *pot) {
    return pot->closed ? "closed" : pot->expired ? "expired" : "open";
}

static void wallet_print_pots(const welfare_wallet_t *wallet, bool csv) {
    if (csv) {
        puts("plan_id,available,held,balance,granted,valid_from,valid_until,categories,state");
    } else {
        printf("%-34s %12s %12s %12s %12s %-30s %-30s %-12s %s\n", "PLAN", "AVAILABLE", "HELD",
               "BALANCE", "GRANTED", "VALID_FROM", "VALID_UNTIL", "CATEGORIES", "STATE");
    }
    for (uint32_t i = 0; i < wallet->pots_count; i++) {
        const welfare_pot_t *pot = &wallet->pots[i];
        char plan[CLI_U128_TEXT_SIZE], categories[CLI_WELFARE_CATEGORIES_TEXT_SIZE];
        char from[CLI_TIMESTAMP_TEXT_SIZE], until[CLI_TIMESTAMP_TEXT_SIZE];
        char available[CLI_EUROS_TEXT_SIZE], held[CLI_EUROS_TEXT_SIZE];
        char balance[CLI_EUROS_TEXT_SIZE], granted[CLI_EUROS_TEXT_SIZE];
        cli_format_id(pot->plan_id, plan);
        cli_format_timestamp(pot->valid_from, from);
        cli_format_timestamp(pot->valid_until, until);
        cli_format_euros(pot->available, available);
        cli_format_euros(pot->held, held);
        cli_format_euros(pot->balance, balance);
        cli_format_euros(pot->granted, granted);
        if (csv) categories_cell(pot->categories, categories);
        else cli_welfare_categories_format(pot->categories, categories);
        if (csv) {
            printf("%s,%s,%s,%s,%s,%s,%s,%s,%s\n", plan, available, held, balance, granted, from,
                   until, categories, pot_state(pot));
        } else {
            printf("%-34s %12s %12s %12s %12s %-30s %-30s %-12s %s\n", plan, available, held,
                   balance, granted, from, until, categories, pot_state(pot));
        }
    }
}

static void wallet_print_movements(const welfare_movement_t *movements, size_t count, bool csv) {
    if (csv) {
        puts("timestamp,operation_id,plan_id,posting,category,amount,held,pot_balance_after");
    } else {
        printf("%-30s %-13s %-34s %-34s %8s %13s %-4s %13s\n", "TIMESTAMP", "POSTING", "OPERATION",
               "PLAN", "CATEGORY", "AMOUNT", "HELD", "POT_BALANCE");
    }
    for (size_t i = 0; i < count; i++) {
        const welfare_movement_t *movement = &movements[i];
        char when[CLI_TIMESTAMP_TEXT_SIZE], operation[CLI_U128_TEXT_SIZE], plan[CLI_U128_TEXT_SIZE];
        char amount[CLI_WELFARE_SIGNED_EUROS_SIZE], after[CLI_EUROS_TEXT_SIZE];
        cli_format_timestamp(movement->timestamp, when);
        cli_format_id(movement->operation_id, operation);
        cli_format_id(movement->plan_id, plan);
        signed_euros(movement->amount, amount);
        cli_format_euros(movement->pot_balance_after, after);
        const char *posting = cli_welfare_posting_name(movement->posting);
        const char *held = movement->held ? "yes" : "no";
        if (csv) {
            printf("%s,%s,%s,%s,%u,%s,%s,%s\n", when, operation, plan, posting, movement->category,
                   amount, held, after);
        } else {
            printf("%-30s %-13s %-34s %-34s %8u %13s %-4s %13s\n", when, posting, operation, plan,
                   movement->category, amount, held, after);
        }
    }
}

static void wallet_print_human(const char *employee_text, const welfare_wallet_t *wallet) {
    char funder[CLI_U128_TEXT_SIZE], total[CLI_EUROS_TEXT_SIZE], held[CLI_EUROS_TEXT_SIZE];
    uint64_t available = 0, held_total = 0;
    for (uint32_t i = 0; i < wallet->pots_count; i++) {
        available += wallet->pots[i].available;
        held_total += wallet->pots[i].held;
    }
    cli_format_id(wallet->funder_id, funder);
    cli_format_euros(available, total);
    cli_format_euros(held_total, held);
    printf("employee %s of funder %s%s: %s EUR available, %s EUR held, %u pots\n", employee_text,
           funder, wallet->offboarded ? " (offboarded)" : "", total, held, wallet->pots_count);
    if (wallet->pots_count > 0) wallet_print_pots(wallet, false);
}

/* Asks for the wallet; *found_out false (and exit 0) when there is no such
 * employee. */
static int wallet_read(client_t *client, const cli_welfare_common_t *common,
                       const cli_welfare_command_t *command, ledger_u128_t employee_id,
                       welfare_wallet_t *wallet, bool *found_out) {
    Borsellino__V1__U128 id;
    convert_u128_to_proto(employee_id, &id);
    Borsellino__V1__WelfareWalletRequest ask = BORSELLINO__V1__WELFARE_WALLET_REQUEST__INIT;
    ask.employee_id = &id;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_WALLET;
    request.welfare_wallet = &ask;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_call(client, &common->net, command->name, &request,
                             BORSELLINO__V1__RESPONSE__RESULT_WELFARE_WALLET, &response);
    if (exit_code != 0) return exit_code;
    const Borsellino__V1__WelfareWalletResponse *answer = response->welfare_wallet;
    memset(wallet, 0, sizeof(*wallet));
    *found_out = answer->found;
    if (answer->n_pots > WELFARE_POTS_PER_EMPLOYEE_MAX) {
        exit_code = cli_fail(&common->net, command->name, "protocol_error",
                             "the server returned %zu pots (at most %d)", answer->n_pots,
                             WELFARE_POTS_PER_EMPLOYEE_MAX);
    } else if (answer->found) {
        wallet->employee_id = convert_u128_from_proto(answer->employee_id);
        wallet->funder_id = convert_u128_from_proto(answer->funder_id);
        wallet->offboarded = answer->offboarded;
        wallet->pots_count = (uint32_t)answer->n_pots;
        for (size_t i = 0; i < answer->n_pots; i++) {
            convert_welfare_pot_from_proto(answer->pots[i], &wallet->pots[i]);
        }
    }
    frame_response_free(response);
    return exit_code;
}

int cli_welfare_wallet(int argc, char **argv, const cli_welfare_command_t *command) {
    ledger_u128_t employee_id = {0, 0};
    bool with_movements = false;
    cli_welfare_option_t options[] = {
        {"--employee", CLI_WELFARE_VALUE_ID, &employee_id, true, 0, false, NULL},
        {"--movements", CLI_WELFARE_VALUE_FLAG, &with_movements, false, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    welfare_wallet_t wallet;
    welfare_movement_t *movements = NULL;
    size_t movements_count = 0;
    bool found = false;
    client_t *client = NULL;
    int exit_code = cli_connect(&common.net, command->name, &client);
    if (exit_code == 0) {
        exit_code = wallet_read(client, &common, command, employee_id, &wallet, &found);
    }
    if (exit_code == 0 && !found) {
        exit_code = cli_fail(&common.net, command->name, "employee_not_found",
                             "no employee has id %s", options[0].text);
    }
    if (exit_code == 0 && with_movements) {
        exit_code = movements_read(client, &common, command, employee_id, &movements,
                                   &movements_count);
    }
    client_close(client);
    if (exit_code != 0) return exit_code;
    if (common.net.json) {
        wallet_print_json(&wallet, movements, movements_count, with_movements);
    } else if (common.csv) {
        if (with_movements) wallet_print_movements(movements, movements_count, true);
        else wallet_print_pots(&wallet, true);
    } else {
        wallet_print_human(options[0].text, &wallet);
        if (with_movements) {
            printf("%zu movements\n", movements_count);
            if (movements_count > 0) wallet_print_movements(movements, movements_count, false);
        }
    }
    free(movements);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* statement funder                                                         */

typedef struct funder_statement {
    welfare_funder_statement_t figures;
    welfare_employee_balance_t *employees;
    size_t employees_count;
} funder_statement_t;

/* Copies the figures of one response. */
static void funder_figures_from_proto(const Borsellino__V1__WelfareFunderStatementResponse *in,
                                      welfare_funder_statement_t *out) {
    memset(out, 0, sizeof(*out));
    out->funded = in->funded;
    out->granted = in->granted;
    out->spent = in->spent;
    for (size_t i = 0; i < in->n_spent_by_category && i <= WELFARE_CATEGORY_ID_MAX; i++) {
        out->spent_by_category[i] = in->spent_by_category[i];
    }
    out->refunded = in->refunded;
    out->reimbursed = in->reimbursed;
    out->expired_back = in->expired_back;
    out->forfeited = in->forfeited;
    out->carried_over = in->carried_over;
    out->fees = in->fees;
    out->fees_returned = in->fees_returned;
    out->funds_balance = in->funds_balance;
    out->pots_balance = in->pots_balance;
    out->held = in->held;
}

/* Appends one page's employees; false when the total bound is passed. */
static bool funder_employees_append(funder_statement_t *statement,
                                    const Borsellino__V1__WelfareFunderStatementResponse *page) {
    size_t total = statement->employees_count + page->n_employees;
    if (total > CLI_WELFARE_EMPLOYEES_TOTAL_MAX) return false;
    welfare_employee_balance_t *grown =
        realloc(statement->employees, (total ? total : 1) * sizeof(*grown));
    if (grown == NULL) return false;
    statement->employees = grown;
    for (size_t i = 0; i < page->n_employees; i++) {
        welfare_employee_balance_t *row = &grown[statement->employees_count + i];
        row->employee_id = convert_u128_from_proto(page->employees[i]->employee_id);
        row->balance = page->employees[i]->balance;
        row->held = page->employees[i]->held;
    }
    statement->employees_count = total;
    return true;
}

/* Reads the statement: the first page's figures, every page's employees. */
static int funder_statement_read(const cli_welfare_common_t *common,
                                 const cli_welfare_command_t *command, ledger_u128_t funder_id,
                                 uint64_t from, uint64_t until, funder_statement_t *statement) {
    client_t *client = NULL;
    int exit_code = cli_connect(&common->net, command->name, &client);
    Borsellino__V1__U128 funder, after;
    convert_u128_to_proto(funder_id, &funder);
    ledger_u128_t after_id = {0, 0};
    for (bool more = true, first = true; exit_code == 0 && more; first = false) {
        convert_u128_to_proto(after_id, &after);
        Borsellino__V1__WelfareFunderStatementRequest page =
            BORSELLINO__V1__WELFARE_FUNDER_STATEMENT_REQUEST__INIT;
        page.funder_id = &funder;
        page.timestamp_min = from;
        page.timestamp_max = until;
        page.employees_after = &after;
        page.employees_limit = WELFARE_STATEMENT_EMPLOYEES_MAX;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_FUNDER_STATEMENT;
        request.welfare_funder_statement = &page;
        Borsellino__V1__Response *response = NULL;
        exit_code = cli_call(client, &common->net, command->name, &request,
                             BORSELLINO__V1__RESPONSE__RESULT_WELFARE_FUNDER_STATEMENT, &response);
        if (exit_code != 0) break;
        const Borsellino__V1__WelfareFunderStatementResponse *answer =
            response->welfare_funder_statement;
        if (first) funder_figures_from_proto(answer, &statement->figures);
        more = answer->more;
        if (more && answer->n_employees == 0) {
            exit_code = cli_fail(&common->net, command->name, "protocol_error",
                                 "the server said more employees follow but sent none");
        } else if (!funder_employees_append(statement, answer)) {
            exit_code = cli_fail(&common->net, command->name, "too_many_employees",
                                 "more than %d employees (or out of memory)",
                                 CLI_WELFARE_EMPLOYEES_TOTAL_MAX);
        } else if (statement->employees_count > 0) {
            after_id = statement->employees[statement->employees_count - 1].employee_id;
        }
        frame_response_free(response);
    }
    client_close(client);
    return exit_code;
}

/* The figures of a funder statement in order, for the three outputs. */
typedef struct figure {
    const char *name;
    uint64_t cents;
} figure_t;

enum { FUNDER_FIGURES_COUNT = 14 };

static void funder_figures(const welfare_funder_statement_t *s,
                           figure_t figures[FUNDER_FIGURES_COUNT]) {
    const figure_t list[FUNDER_FIGURES_COUNT] = {
        {"funded", s->funded},         {"granted", s->granted},
        {"spent", s->spent},           {"refunded", s->refunded},
        {"reimbursed", s->reimbursed}, {"expired_back", s->expired_back},
        {"forfeited", s->forfeited},   {"carried_over", s->carried_over},
        {"fees", s->fees},             {"fees_returned", s->fees_returned},
        {"funds_balance", s->funds_balance},
        {"pots_balance", s->pots_balance}, {"held", s->held},
        {NULL, 0},
    };
    memcpy(figures, list, sizeof(list));
}

static void funder_statement_json(ledger_u128_t funder_id, uint64_t from, uint64_t until,
                                  const funder_statement_t *statement) {
    figure_t figures[FUNDER_FIGURES_COUNT];
    funder_figures(&statement->figures, figures);
    fputc('{', stdout);
    cli_welfare_json_id(stdout, "funder_id", funder_id);
    printf(",\"timestamp_min\":%llu,\"timestamp_max\":%llu", (unsigned long long)from,
           (unsigned long long)until);
    for (const figure_t *figure = figures; figure->name != NULL; figure++) {
        printf(",\"%s\":%llu", figure->name, (unsigned long long)figure->cents);
    }
    fputs(",\"spent_by_category\":{", stdout);
    bool any = false;
    for (int category = 1; category <= WELFARE_CATEGORY_ID_MAX; category++) {
        uint64_t cents = statement->figures.spent_by_category[category];
        if (cents == 0) continue;
        printf("%s\"%d\":%llu", any ? "," : "", category, (unsigned long long)cents);
        any = true;
    }
    fputs("},\"employees\":[", stdout);
    for (size_t i = 0; i < statement->employees_count; i++) {
        const welfare_employee_balance_t *row = &statement->employees[i];
        printf("%s{", i ? "," : "");
        cli_welfare_json_id(stdout, "employee_id", row->employee_id);
        printf(",\"balance\":%llu,\"held\":%llu}", (unsigned long long)row->balance,
               (unsigned long long)row->held);
    }
    fputs("]}\n", stdout);
}

static void funder_statement_csv(const funder_statement_t *statement) {
    figure_t figures[FUNDER_FIGURES_COUNT];
    funder_figures(&statement->figures, figures);
    char amount[CLI_EUROS_TEXT_SIZE], held[CLI_EUROS_TEXT_SIZE], id[CLI_U128_TEXT_SIZE];
    puts("item,key,amount,held");
    for (const figure_t *figure = figures; figure->name != NULL; figure++) {
        cli_format_euros(figure->cents, amount);
        printf("%s,,%s,\n", figure->name, amount);
    }
    for (int category = 1; category <= WELFARE_CATEGORY_ID_MAX; category++) {
        if (statement->figures.spent_by_category[category] == 0) continue;
        cli_format_euros(statement->figures.spent_by_category[category], amount);
        printf("spent_by_category,%d,%s,\n", category, amount);
    }
    for (size_t i = 0; i < statement->employees_count; i++) {
        cli_format_id(statement->employees[i].employee_id, id);
        cli_format_euros(statement->employees[i].balance, amount);
        cli_format_euros(statement->employees[i].held, held);
        printf("employee,%s,%s,%s\n", id, amount, held);
    }
}

static void funder_statement_human(const char *funder_text, uint64_t from, uint64_t until,
                                   const funder_statement_t *statement) {
    char from_text[CLI_TIMESTAMP_TEXT_SIZE], until_text[CLI_TIMESTAMP_TEXT_SIZE];
    cli_format_timestamp(from, from_text);
    cli_format_timestamp(until, until_text);
    printf("funder %s, from %s until %s\n", funder_text, from ? from_text : "the beginning",
           until ? until_text : "now");
    figure_t figures[FUNDER_FIGURES_COUNT];
    funder_figures(&statement->figures, figures);
    for (const figure_t *figure = figures; figure->name != NULL; figure++) {
        if (strcmp(figure->name, "funds_balance") == 0) printf("at the end of the period:\n");
        print_euros_row(figure->name, figure->cents);
        if (strcmp(figure->name, "spent") != 0) continue;
        for (int category = 1; category <= WELFARE_CATEGORY_ID_MAX; category++) {
            if (statement->figures.spent_by_category[category] == 0) continue;
            char label[32];
            snprintf(label, sizeof(label), "  category %d", category);
            print_euros_row(label, statement->figures.spent_by_category[category]);
        }
    }
    printf("%zu employees\n", statement->employees_count);
    if (statement->employees_count > 0) printf("%-34s %15s %15s\n", "EMPLOYEE", "BALANCE", "HELD");
    for (size_t i = 0; i < statement->employees_count; i++) {
        char id[CLI_U128_TEXT_SIZE], balance[CLI_EUROS_TEXT_SIZE], held[CLI_EUROS_TEXT_SIZE];
        cli_format_id(statement->employees[i].employee_id, id);
        cli_format_euros(statement->employees[i].balance, balance);
        cli_format_euros(statement->employees[i].held, held);
        printf("%-34s %15s %15s\n", id, balance, held);
    }
}

int cli_welfare_statement_funder(int argc, char **argv, const cli_welfare_command_t *command) {
    ledger_u128_t funder_id = {0, 0};
    uint64_t from = 0, until = 0;
    cli_welfare_option_t options[] = {
        {"--funder", CLI_WELFARE_VALUE_ID, &funder_id, true, 0, false, NULL},
        {"--from", CLI_WELFARE_VALUE_TIME, &from, false, 0, false, NULL},
        {"--until", CLI_WELFARE_VALUE_TIME, &until, false, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    funder_statement_t statement;
    memset(&statement, 0, sizeof(statement));
    int exit_code = funder_statement_read(&common, command, funder_id, from, until, &statement);
    if (exit_code == 0 && common.net.json) {
        funder_statement_json(funder_id, from, until, &statement);
    } else if (exit_code == 0 && common.csv) {
        funder_statement_csv(&statement);
    } else if (exit_code == 0) {
        funder_statement_human(options[0].text, from, until, &statement);
    }
    free(statement.employees);
    return exit_code;
}

/* ------------------------------------------------------------------------ */
/* statement provider, statement employee                                   */

int cli_welfare_statement_provider(int argc, char **argv, const cli_welfare_command_t *command) {
    ledger_u128_t provider_id = {0, 0};
    uint64_t from = 0, until = 0;
    cli_welfare_option_t options[] = {
        {"--provider", CLI_WELFARE_VALUE_ID, &provider_id, true, 0, false, NULL},
        {"--from", CLI_WELFARE_VALUE_TIME, &from, false, 0, false, NULL},
        {"--until", CLI_WELFARE_VALUE_TIME, &until, false, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    Borsellino__V1__U128 id;
    convert_u128_to_proto(provider_id, &id);
    Borsellino__V1__WelfareProviderStatementRequest ask =
        BORSELLINO__V1__WELFARE_PROVIDER_STATEMENT_REQUEST__INIT;
    ask.provider_id = &id;
    ask.timestamp_min = from;
    ask.timestamp_max = until;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_PROVIDER_STATEMENT;
    request.welfare_provider_statement = &ask;
    Borsellino__V1__Response *response = NULL;
    int expected = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_PROVIDER_STATEMENT;
    int exit_code = cli_welfare_exchange(&common, command, &request, expected, &response);
    if (exit_code != 0) return exit_code;
    const Borsellino__V1__WelfareProviderStatementResponse *s =
        response->welfare_provider_statement;
    const figure_t figures[] = {{"sales", s->sales},
                                {"refunds", s->refunds},
                                {"fees", s->fees},
                                {"fees_returned", s->fees_returned},
                                {"payouts", s->payouts},
                                {"payable", s->payable},
                                {"held", s->held},
                                {NULL, 0}};
    if (common.net.json) {
        fputc('{', stdout);
        cli_welfare_json_id(stdout, "provider_id", provider_id);
        printf(",\"timestamp_min\":%llu,\"timestamp_max\":%llu", (unsigned long long)from,
               (unsigned long long)until);
    } else if (common.csv) {
        puts("item,key,value");
    } else {
        printf("provider %s\n", options[0].text);
    }
    for (const figure_t *figure = figures; figure->name != NULL; figure++) {
        char amount[CLI_EUROS_TEXT_SIZE];
        cli_format_euros(figure->cents, amount);
        if (common.net.json) {
            printf(",\"%s\":%llu", figure->name, (unsigned long long)figure->cents);
        } else if (common.csv) {
            printf("%s,,%s\n", figure->name, amount);
        } else {
            print_euros_row(figure->name, figure->cents);
        }
    }
    if (common.net.json) fputs("}\n", stdout);
    frame_response_free(response);
    return CLI_EXIT_OK;
}

/* The per-basis figure of an annual statement (0 when the server sent
 * fewer entries). */
static uint64_t annual_value(const uint64_t *values, size_t count, uint32_t basis) {
    return basis < count ? values[basis] : 0;
}

static void annual_print_json(ledger_u128_t employee_id,
                              const Borsellino__V1__WelfareAnnualStatementResponse *s) {
    fputc('{', stdout);
    cli_welfare_json_id(stdout, "employee_id", employee_id);
    printf(",\"year\":%u,\"cap_class\":\"%s\",\"fringe_cap\":%llu,\"fringe_used\":%llu", s->year,
           cli_welfare_cap_class_name((uint32_t)s->cap_class), (unsigned long long)s->fringe_cap,
           (unsigned long long)s->fringe_used);
    fputs(",\"spent\":{", stdout);
    for (uint32_t basis = 1; basis < WELFARE_BASIS_COUNT; basis++) {
        printf("%s\"%s\":%llu", basis > 1 ? "," : "", cli_welfare_basis_name(basis),
               (unsigned long long)annual_value(s->spent, s->n_spent, basis));
    }
    fputs("},\"reimbursed\":{", stdout);
    for (uint32_t basis = 1; basis < WELFARE_BASIS_COUNT; basis++) {
        printf("%s\"%s\":%llu", basis > 1 ? "," : "", cli_welfare_basis_name(basis),
               (unsigned long long)annual_value(s->reimbursed, s->n_reimbursed, basis));
    }
    fputs("}}\n", stdout);
}

static void annual_print_csv(const Borsellino__V1__WelfareAnnualStatementResponse *s) {
    char cap[CLI_EUROS_TEXT_SIZE], used[CLI_EUROS_TEXT_SIZE], amount[CLI_EUROS_TEXT_SIZE];
    cli_format_euros(s->fringe_cap, cap);
    cli_format_euros(s->fringe_used, used);
    printf("item,key,value\nyear,,%u\ncap_class,,%s\nfringe_cap,,%s\nfringe_used,,%s\n", s->year,
           cli_welfare_cap_class_name((uint32_t)s->cap_class), cap, used);
    for (uint32_t basis = 1; basis < WELFARE_BASIS_COUNT; basis++) {
        cli_format_euros(annual_value(s->spent, s->n_spent, basis), amount);
        printf("spent,%s,%s\n", cli_welfare_basis_name(basis), amount);
    }
    for (uint32_t basis = 1; basis < WELFARE_BASIS_COUNT; basis++) {
        cli_format_euros(annual_value(s->reimbursed, s->n_reimbursed, basis), amount);
        printf("reimbursed,%s,%s\n", cli_welfare_basis_name(basis), amount);
    }
}

static void annual_print_human(const char *employee_text,
                               const Borsellino__V1__WelfareAnnualStatementResponse *s) {
    char cap[CLI_EUROS_TEXT_SIZE], used[CLI_EUROS_TEXT_SIZE];
    cli_format_euros(s->fringe_cap, cap);
    cli_format_euros(s->fringe_used, used);
    printf("employee %s, fiscal year %u, cap class %s\n", employee_text, s->year,
           cli_welfare_cap_class_name((uint32_t)s->cap_class));
    printf("  fringe cap %s EUR, used %s EUR\n", cap, used);
    printf("  %-10s %15s %15s\n", "BASIS", "SPENT", "REIMBURSED");
    for (uint32_t basis = 1; basis < WELFARE_BASIS_COUNT; basis++) {
        char spent[CLI_EUROS_TEXT_SIZE], reimbursed[CLI_EUROS_TEXT_SIZE];
        cli_format_euros(annual_value(s->spent, s->n_spent, basis), spent);
        cli_format_euros(annual_value(s->reimbursed, s->n_reimbursed, basis), reimbursed);
        printf("  %-10s %15s %15s\n", cli_welfare_basis_name(basis), spent, reimbursed);
    }
}

int cli_welfare_statement_employee(int argc, char **argv, const cli_welfare_command_t *command) {
    ledger_u128_t employee_id = {0, 0};
    uint32_t year = 0;
    cli_welfare_option_t options[] = {
        {"--employee", CLI_WELFARE_VALUE_ID, &employee_id, true, 0, false, NULL},
        {"--year", CLI_WELFARE_VALUE_U32, &year, true, UINT32_MAX, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    Borsellino__V1__U128 id;
    convert_u128_to_proto(employee_id, &id);
    Borsellino__V1__WelfareAnnualStatementRequest ask =
        BORSELLINO__V1__WELFARE_ANNUAL_STATEMENT_REQUEST__INIT;
    ask.employee_id = &id;
    ask.year = year;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_ANNUAL_STATEMENT;
    request.welfare_annual_statement = &ask;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_welfare_exchange(&common, command, &request,
                                         BORSELLINO__V1__RESPONSE__RESULT_WELFARE_ANNUAL_STATEMENT,
                                         &response);
    if (exit_code != 0) return exit_code;
    const Borsellino__V1__WelfareAnnualStatementResponse *statement =
        response->welfare_annual_statement;
    if (common.net.json) annual_print_json(employee_id, statement);
    else if (common.csv) annual_print_csv(statement);
    else annual_print_human(options[0].text, statement);
    frame_response_free(response);
    return CLI_EXIT_OK;
}
