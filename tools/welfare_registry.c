/*
 * welfare_registry.c — `borsellino welfare category|cap|rules|funder|
 * provider|employee|plan ...`: the rules (category catalog, fringe-cap
 * table, rules files) and the registry of funders, providers, employees
 * and plans. Each is one request (a rules file: one per rule, on one
 * connection) whose result is printed by cli_welfare_outcome().
 *
 * Registry entities are keyed by their own --id (required): creating the
 * same entity again answers "exists", a different one under a used id
 * "exists_with_different_fields".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "frame.h"
#include "welfare_cli.h"

enum { CLI_WELFARE_SUBJECT_SIZE = 256, CLI_WELFARE_RULES_MAX = 4096 };

#define OPTIONS_COUNT(options) (sizeof(options) / sizeof((options)[0]))

/* ------------------------------------------------------------------------ */
/* Categories and caps                                                      */

/* Sends one set_category on `client`; *result_out and the detail. */
static int category_send(client_t *client, const cli_welfare_common_t *common,
                         const cli_welfare_command_t *command,
                         Borsellino__V1__WelfareCategory *category, uint32_t *result_out,
                         char *detail, size_t detail_size) {
    Borsellino__V1__WelfareSetCategoryRequest set =
        BORSELLINO__V1__WELFARE_SET_CATEGORY_REQUEST__INIT;
    set.category = category;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_SET_CATEGORY;
    request.welfare_set_category = &set;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_call(client, &common->net, command->name, &request,
                             BORSELLINO__V1__RESPONSE__RESULT_WELFARE_SET_CATEGORY, &response);
    if (exit_code != 0) return exit_code;
    *result_out = response->welfare_set_category->result;
    snprintf(detail, detail_size, "%s", response->welfare_set_category->message);
    frame_response_free(response);
    return 0;
}

/* Sends one set_fringe_cap on `client`. */
static int cap_send(client_t *client, const cli_welfare_common_t *common,
                    const cli_welfare_command_t *command, const welfare_fringe_cap_t *cap,
                    uint32_t *result_out, char *detail, size_t detail_size) {
    Borsellino__V1__WelfareFringeCap cap_message;
    convert_welfare_fringe_cap_to_proto(cap, &cap_message);
    Borsellino__V1__WelfareSetFringeCapRequest set =
        BORSELLINO__V1__WELFARE_SET_FRINGE_CAP_REQUEST__INIT;
    set.cap = &cap_message;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_SET_FRINGE_CAP;
    request.welfare_set_fringe_cap = &set;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_call(client, &common->net, command->name, &request,
                             BORSELLINO__V1__RESPONSE__RESULT_WELFARE_SET_FRINGE_CAP, &response);
    if (exit_code != 0) return exit_code;
    *result_out = response->welfare_set_fringe_cap->result;
    snprintf(detail, detail_size, "%s", response->welfare_set_fringe_cap->message);
    frame_response_free(response);
    return 0;
}

/* Connects, sends the category (or else the cap), prints the outcome. */
static int single_rule(const cli_welfare_common_t *common, const cli_welfare_command_t *command,
                       const char *subject, ledger_u128_t id,
                       Borsellino__V1__WelfareCategory *category,
                       const welfare_fringe_cap_t *cap) {
    client_t *client = NULL;
    uint32_t result = 0;
    char detail[CLI_WELFARE_ERROR_SIZE] = "";
    int exit_code = cli_connect(&common->net, command->name, &client);
    if (exit_code == 0 && category != NULL) {
        exit_code = category_send(client, common, command, category, &result, detail,
                                  sizeof(detail));
    } else if (exit_code == 0) {
        exit_code = cap_send(client, common, command, cap, &result, detail, sizeof(detail));
    }
    client_close(client);
    if (exit_code != 0) return exit_code;
    return cli_welfare_outcome(common, command, subject, id, result, detail, NULL);
}

int cli_welfare_category_set(int argc, char **argv, const cli_welfare_command_t *command) {
    uint32_t id = 0;
    const char *basis_text = NULL, *name = NULL;
    bool reimbursable = false;
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_U32, &id, true, UINT32_MAX, false, NULL},
        {"--basis", CLI_WELFARE_VALUE_TEXT, &basis_text, true, 0, false, NULL},
        {"--name", CLI_WELFARE_VALUE_TEXT, &name, true, 0, false, NULL},
        {"--reimbursable", CLI_WELFARE_VALUE_FLAG, &reimbursable, false, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    uint32_t basis = 0;
    if (!cli_welfare_basis_parse(basis_text, &basis)) {
        return cli_usage_error(command->name, "unknown --basis %s (f, f-bis, f-ter, f-quater, "
                               "d-bis or fringe)", basis_text);
    }
    Borsellino__V1__WelfareCategory category = BORSELLINO__V1__WELFARE_CATEGORY__INIT;
    category.id = id;
    category.fiscal_basis = (Borsellino__V1__WelfareFiscalBasis)basis;
    category.reimbursable = reimbursable;
    category.name = (char *)name;
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    snprintf(subject, sizeof(subject), "category %u (%s)", id, name);
    return single_rule(&common, command, subject, ledger_u128_from_u64(id), &category, NULL);
}

int cli_welfare_cap_set(int argc, char **argv, const cli_welfare_command_t *command) {
    welfare_fringe_cap_t cap = {0, 0, 0};
    cli_welfare_option_t options[] = {
        {"--year", CLI_WELFARE_VALUE_U32, &cap.year, true, UINT32_MAX, false, NULL},
        {"--standard", CLI_WELFARE_VALUE_EUROS, &cap.standard, true, 0, false, NULL},
        {"--with-children", CLI_WELFARE_VALUE_EUROS, &cap.with_children, true, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    snprintf(subject, sizeof(subject), "fringe cap of %s%u", cap.year ? "" : "default year ",
             cap.year);
    return single_rule(&common, command, subject, ledger_u128_from_u64(cap.year), NULL, &cap);
}

static void category_print_human(const Borsellino__V1__WelfareListCategoriesResponse *list) {
    printf("%-3s %-9s %-13s %s\n", "ID", "BASIS", "KIND", "NAME");
    for (size_t i = 0; i < list->n_categories; i++) {
        const Borsellino__V1__WelfareCategory *category = list->categories[i];
        printf("%-3u %-9s %-13s %s\n", category->id,
               cli_welfare_basis_name((uint32_t)category->fiscal_basis),
               category->reimbursable ? "reimbursable" : "in-kind", category->name);
    }
}

int cli_welfare_category_list(int argc, char **argv, const cli_welfare_command_t *command) {
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, NULL, 0, &common, NULL);
    if (parsed >= 0) return parsed;
    Borsellino__V1__WelfareListCategoriesRequest list =
        BORSELLINO__V1__WELFARE_LIST_CATEGORIES_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_LIST_CATEGORIES;
    request.welfare_list_categories = &list;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_welfare_exchange(&common, command, &request,
                                         BORSELLINO__V1__RESPONSE__RESULT_WELFARE_LIST_CATEGORIES,
                                         &response);
    if (exit_code != 0) return exit_code;
    const Borsellino__V1__WelfareListCategoriesResponse *found = response->welfare_list_categories;
    if (!common.net.json) {
        category_print_human(found);
    } else {
        fputs("{\"categories\":[", stdout);
        for (size_t i = 0; i < found->n_categories; i++) {
            const Borsellino__V1__WelfareCategory *category = found->categories[i];
            printf("%s{\"id\":%u,\"basis\":\"%s\",\"reimbursable\":%s,\"name\":", i ? "," : "",
                   category->id, cli_welfare_basis_name((uint32_t)category->fiscal_basis),
                   category->reimbursable ? "true" : "false");
            cli_json_string(stdout, category->name);
            fputc('}', stdout);
        }
        fputs("]}\n", stdout);
    }
    frame_response_free(response);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* Rules files                                                              */

typedef struct rule {
    uint32_t line;
    bool is_cap;
    welfare_category_t category;
    welfare_fringe_cap_t cap;
} rule_t;

/* Parses one rule line's fields; false with `error` ("PATH:LINE: ..."). */
static bool rule_parse(const char *path, uint32_t line, const char **fields, size_t count,
                       rule_t *rule, char error[CLI_WELFARE_ERROR_SIZE]) {
    uint64_t number = 0;
    memset(rule, 0, sizeof(*rule));
    rule->line = line;
    const char *wrong = NULL;
    if (strcmp(fields[0], "category") == 0) {
        if (count != 5) {
            wrong = "a category rule has 5 fields: category,ID,BASIS,NAME,reimbursable|in-kind";
        } else if (!cli_parse_u64(fields[1], UINT32_MAX, &number)) {
            wrong = "the category id is not a number";
        } else if (!cli_welfare_basis_parse(fields[2], &rule->category.fiscal_basis)) {
            wrong = "unknown fiscal basis (f, f-bis, f-ter, f-quater, d-bis or fringe)";
        } else if (fields[3][0] == '\0' || strlen(fields[3]) >= WELFARE_NAME_SIZE) {
            wrong = "the name must have 1..31 bytes";
        } else if (strcmp(fields[4], "reimbursable") != 0 && strcmp(fields[4], "in-kind") != 0) {
            wrong = "the last field is reimbursable or in-kind";
        }
        if (wrong == NULL) {
            rule->category.id = (uint32_t)number;
            rule->category.reimbursable = strcmp(fields[4], "reimbursable") == 0;
            memcpy(rule->category.name, fields[3], strlen(fields[3]) + 1);
        }
    } else if (strcmp(fields[0], "cap") == 0) {
        rule->is_cap = true;
        if (count != 4) wrong = "a cap rule has 4 fields: cap,YEAR,STANDARD,WITH_CHILDREN";
        else if (!cli_parse_u64(fields[1], UINT32_MAX, &number)) wrong = "the year is not a number";
        else if (!cli_parse_euros(fields[2], &rule->cap.standard) ||
                 !cli_parse_euros(fields[3], &rule->cap.with_children)) {
            wrong = "amounts are euros with at most two decimals, e.g. 258.23";
        }
        rule->cap.year = (uint32_t)number;
    } else {
        wrong = "unknown rule: lines start with category or cap";
    }
    if (wrong != NULL) snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s:%u: %s", path, line, wrong);
    return wrong == NULL;
}

/* Reads and checks the whole file; false with `error` at the first
 * malformed line. *rules_out is malloc'd (caller frees). */
static bool rules_read(const char *path, rule_t **rules_out, size_t *count_out,
                       char error[CLI_WELFARE_ERROR_SIZE]) {
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s: %s", path, strerror(errno));
        return false;
    }
    rule_t *rules = malloc(CLI_WELFARE_RULES_MAX * sizeof(*rules));
    char line[CLI_WELFARE_LINE_SIZE_MAX];
    const char *fields[CLI_WELFARE_FIELDS_MAX];
    size_t fields_count = 0, count = 0;
    uint32_t line_number = 0;
    int status = rules == NULL ? -1 : 1;
    if (rules == NULL) snprintf(error, CLI_WELFARE_ERROR_SIZE, "out of memory");
    while (status == 1) {
        status = cli_welfare_csv_next(file, path, line, &line_number, fields, &fields_count, error);
        if (status != 1) break;
        if (count == CLI_WELFARE_RULES_MAX) {
            snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s:%u: more than %d rules", path,
                     line_number, CLI_WELFARE_RULES_MAX);
            status = -1;
        } else if (!rule_parse(path, line_number, fields, fields_count, &rules[count], error)) {
            status = -1;
        } else {
            count++;
        }
    }
    fclose(file);
    if (status == 0 && count == 0) {
        snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s: no rules in the file", path);
        status = -1;
    }
    if (status != 0) {
        free(rules);
        return false;
    }
    *rules_out = rules;
    *count_out = count;
    return true;
}

/* What the server answered to one rule. */
typedef struct rule_outcome {
    uint32_t result;
    char detail[CLI_WELFARE_ERROR_SIZE];
} rule_outcome_t;

/* Sends every rule on one connection; fills `outcomes`. */
static int rules_send(const cli_welfare_common_t *common, const cli_welfare_command_t *command,
                      const rule_t *rules, size_t count, rule_outcome_t *outcomes) {
    client_t *client = NULL;
    int exit_code = cli_connect(&common->net, command->name, &client);
    for (size_t i = 0; exit_code == 0 && i < count; i++) {
        rule_outcome_t *outcome = &outcomes[i];
        if (rules[i].is_cap) {
            exit_code = cap_send(client, common, command, &rules[i].cap, &outcome->result,
                                 outcome->detail, sizeof(outcome->detail));
        } else {
            Borsellino__V1__WelfareCategory category;
            convert_welfare_category_to_proto(&rules[i].category, &category);
            exit_code = category_send(client, common, command, &category, &outcome->result,
                                      outcome->detail, sizeof(outcome->detail));
        }
    }
    client_close(client);
    return exit_code;
}

/* Prints one line (or JSON member) per rule and the counts; returns the
 * exit code: 1 when any rule was refused. */
static int rules_print(const cli_welfare_common_t *common, const cli_welfare_command_t *command,
                       const char *path, const rule_t *rules, const rule_outcome_t *outcomes,
                       size_t count) {
    size_t tally[3] = {0, 0, 0}; /* ok, exists, refused */
    if (common->net.json) {
        fputs("{\"file\":", stdout);
        cli_json_string(stdout, path);
        fputs(",\"results\":[", stdout);
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t result = outcomes[i].result;
        const char *detail = outcomes[i].detail;
        tally[result == WELFARE_RESULT_OK ? 0 : result == WELFARE_RESULT_EXISTS ? 1 : 2]++;
        uint32_t key = rules[i].is_cap ? rules[i].cap.year : rules[i].category.id;
        const char *kind = rules[i].is_cap ? "cap" : "category";
        if (common->net.json) {
            printf("%s{\"line\":%u,\"rule\":\"%s\",\"key\":%u,\"result\":\"%s\",\"detail\":",
                   i ? "," : "", rules[i].line, kind, key, welfare_result_name(result));
            cli_json_string(stdout, detail);
            fputc('}', stdout);
        } else {
            printf("%s:%u: %s %u%s%s: %s\n", path, rules[i].line, kind, key,
                   rules[i].is_cap ? "" : " ", rules[i].is_cap ? "" : rules[i].category.name,
                   welfare_result_name(result));
        }
        if (!cli_welfare_result_succeeded(result)) {
            fprintf(stderr, "borsellino %s: %s:%u: refused: %s (%s)%s%s\n", command->name, path,
                    rules[i].line, welfare_result_name(result), cli_welfare_result_message(result),
                    detail[0] ? ": " : "", detail);
        }
    }
    if (common->net.json) {
        printf("],\"rules\":%zu,\"ok\":%zu,\"exists\":%zu,\"refused\":%zu}\n", count, tally[0],
               tally[1], tally[2]);
    } else {
        printf("%zu rules: %zu ok, %zu already existed, %zu refused\n", count, tally[0], tally[1],
               tally[2]);
    }
    return tally[2] == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int cli_welfare_rules_load(int argc, char **argv, const cli_welfare_command_t *command) {
    const char *positionals[1] = {NULL};
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, NULL, 0, &common, positionals);
    if (parsed >= 0) return parsed;
    const char *path = positionals[0];
    rule_t *rules = NULL;
    size_t count = 0;
    char error[CLI_WELFARE_ERROR_SIZE];
    if (!rules_read(path, &rules, &count, error)) {
        return cli_fail(&common.net, command->name, "bad_file", "%s; nothing was sent", error);
    }
    rule_outcome_t *outcomes = calloc(count, sizeof(*outcomes));
    if (outcomes == NULL) {
        free(rules);
        return cli_fail(&common.net, command->name, "no_memory", "out of memory");
    }
    int exit_code = rules_send(&common, command, rules, count, outcomes);
    if (exit_code == 0) exit_code = rules_print(&common, command, path, rules, outcomes, count);
    free(rules);
    free(outcomes);
    return exit_code;
}

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */

/* The result and detail of a registry create, then the printed outcome. */
static int registry_outcome(const cli_welfare_common_t *common,
                            const cli_welfare_command_t *command, Borsellino__V1__Request *request,
                            const char *subject, ledger_u128_t id) {
    int expected = (int)request->op_case; /* the result field has the op's number */
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_welfare_exchange(common, command, request, expected, &response);
    if (exit_code != 0) return exit_code;
    uint32_t result = 0;
    const char *detail = "";
    switch (response->result_case) {
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_FUNDER:
        result = response->welfare_create_funder->result;
        detail = response->welfare_create_funder->message;
        break;
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_PROVIDER:
        result = response->welfare_create_provider->result;
        detail = response->welfare_create_provider->message;
        break;
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_EMPLOYEE:
        result = response->welfare_create_employee->result;
        detail = response->welfare_create_employee->message;
        break;
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_PLAN:
        result = response->welfare_create_plan->result;
        detail = response->welfare_create_plan->message;
        break;
    default:
        result = response->welfare_set_cap_class->result;
        detail = response->welfare_set_cap_class->message;
        break;
    }
    exit_code = cli_welfare_outcome(common, command, subject, id, result, detail, NULL);
    frame_response_free(response);
    return exit_code;
}

int cli_welfare_funder_create(int argc, char **argv, const cli_welfare_command_t *command) {
    welfare_funder_t funder = {0};
    bool public_funder = false;
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &funder.id, true, 0, false, NULL},
        {"--public", CLI_WELFARE_VALUE_FLAG, &public_funder, false, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    funder.kind = public_funder ? WELFARE_FUNDER_PUBLIC : WELFARE_FUNDER_COMPANY;
    Borsellino__V1__WelfareFunder message;
    convert_welfare_funder_storage_t storage;
    convert_welfare_funder_to_proto(&funder, &message, &storage);
    Borsellino__V1__WelfareCreateFunderRequest create =
        BORSELLINO__V1__WELFARE_CREATE_FUNDER_REQUEST__INIT;
    create.funder = &message;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_FUNDER;
    request.welfare_create_funder = &create;
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    snprintf(subject, sizeof(subject), "funder %s", options[0].text);
    return registry_outcome(&common, command, &request, subject, funder.id);
}

int cli_welfare_provider_create(int argc, char **argv, const cli_welfare_command_t *command) {
    welfare_provider_t provider = {0};
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &provider.id, true, 0, false, NULL},
        {"--fee-bps", CLI_WELFARE_VALUE_U32, &provider.fee_bps, true, UINT32_MAX, false, NULL},
        {"--categories", CLI_WELFARE_VALUE_CATEGORIES, &provider.categories, true, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    Borsellino__V1__WelfareProvider message;
    convert_welfare_provider_storage_t storage;
    convert_welfare_provider_to_proto(&provider, &message, &storage);
    Borsellino__V1__WelfareCreateProviderRequest create =
        BORSELLINO__V1__WELFARE_CREATE_PROVIDER_REQUEST__INIT;
    create.provider = &message;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_PROVIDER;
    request.welfare_create_provider = &create;
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    snprintf(subject, sizeof(subject), "provider %s", options[0].text);
    return registry_outcome(&common, command, &request, subject, provider.id);
}

int cli_welfare_employee_create(int argc, char **argv, const cli_welfare_command_t *command) {
    welfare_employee_t employee = {0};
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &employee.id, true, 0, false, NULL},
        {"--funder", CLI_WELFARE_VALUE_ID, &employee.funder_id, true, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    Borsellino__V1__WelfareEmployee message;
    convert_welfare_employee_storage_t storage;
    convert_welfare_employee_to_proto(&employee, &message, &storage);
    Borsellino__V1__WelfareCreateEmployeeRequest create =
        BORSELLINO__V1__WELFARE_CREATE_EMPLOYEE_REQUEST__INIT;
    create.employee = &message;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_EMPLOYEE;
    request.welfare_create_employee = &create;
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    snprintf(subject, sizeof(subject), "employee %s", options[0].text);
    return registry_outcome(&common, command, &request, subject, employee.id);
}

int cli_welfare_employee_cap_class(int argc, char **argv, const cli_welfare_command_t *command) {
    ledger_u128_t id = {0, 0};
    uint32_t year = 0, cap_class = 0;
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &id, true, 0, false, NULL},
        {"--year", CLI_WELFARE_VALUE_U32, &year, true, UINT32_MAX, false, NULL},
    };
    const char *positionals[1] = {NULL};
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   positionals);
    if (parsed >= 0) return parsed;
    if (!cli_welfare_cap_class_parse(positionals[0], &cap_class)) {
        return cli_usage_error(command->name, "the class is standard or with-children, not %s",
                               positionals[0]);
    }
    Borsellino__V1__U128 employee_id;
    convert_u128_to_proto(id, &employee_id);
    Borsellino__V1__WelfareSetCapClassRequest set =
        BORSELLINO__V1__WELFARE_SET_CAP_CLASS_REQUEST__INIT;
    set.employee_id = &employee_id;
    set.year = year;
    set.cap_class = (Borsellino__V1__WelfareCapClass)cap_class;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_SET_CAP_CLASS;
    request.welfare_set_cap_class = &set;
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    snprintf(subject, sizeof(subject), "employee %s cap class %u %s", options[0].text, year,
             positionals[0]);
    return registry_outcome(&common, command, &request, subject, id);
}

int cli_welfare_plan_create(int argc, char **argv, const cli_welfare_command_t *command) {
    welfare_plan_t plan = {0};
    const char *expiry_text = NULL;
    bool split = false;
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &plan.id, true, 0, false, NULL},
        {"--funder", CLI_WELFARE_VALUE_ID, &plan.funder_id, true, 0, false, NULL},
        {"--from", CLI_WELFARE_VALUE_TIME, &plan.valid_from, true, 0, false, NULL},
        {"--until", CLI_WELFARE_VALUE_TIME, &plan.valid_until, true, 0, false, NULL},
        {"--categories", CLI_WELFARE_VALUE_CATEGORIES, &plan.categories, true, 0, false, NULL},
        {"--expiry", CLI_WELFARE_VALUE_TEXT, &expiry_text, true, 0, false, NULL},
        {"--next-plan", CLI_WELFARE_VALUE_ID, &plan.next_plan_id, false, 0, false, NULL},
        {"--split", CLI_WELFARE_VALUE_FLAG, &split, false, 0, false, NULL},
        {"--grant-limit", CLI_WELFARE_VALUE_EUROS, &plan.grant_limit_per_employee, false, 0,
         false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    if (!cli_welfare_expiry_parse(expiry_text, &plan.expiry_policy)) {
        return cli_usage_error(command->name, "--expiry is back-to-funder, forfeit or carry-over, "
                               "not %s", expiry_text);
    }
    plan.flags = split ? WELFARE_PLAN_SPLIT_ALLOWED : 0;
    Borsellino__V1__WelfarePlan message;
    convert_welfare_plan_storage_t storage;
    convert_welfare_plan_to_proto(&plan, &message, &storage);
    Borsellino__V1__WelfareCreatePlanRequest create =
        BORSELLINO__V1__WELFARE_CREATE_PLAN_REQUEST__INIT;
    create.plan = &message;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_PLAN;
    request.welfare_create_plan = &create;
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    snprintf(subject, sizeof(subject), "plan %s", options[0].text);
    return registry_outcome(&common, command, &request, subject, plan.id);
}
