/*
 * welfare_values.c — the text forms of welfare values on the command line
 * (fiscal bases, expiry policies, cap classes, postings, category lists)
 * and the line reader of rules and grant files. Pure functions, except
 * the reader (a FILE).
 *
 * Invariants: every name a *_name function writes is accepted back by the
 * matching *_parse; a category list survives format -> parse; parsers
 * refuse rather than guess (an unknown name, a category outside 1..63, a
 * repeated one, trailing text).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "welfare_cli.h"

/* Names indexed by the enum's number; NULL where no value exists. */
static const char *const cli_welfare_basis_names[WELFARE_BASIS_COUNT] = {
    [WELFARE_BASIS_F] = "f",
    [WELFARE_BASIS_F_BIS] = "f-bis",
    [WELFARE_BASIS_F_TER] = "f-ter",
    [WELFARE_BASIS_F_QUATER] = "f-quater",
    [WELFARE_BASIS_D_BIS] = "d-bis",
    [WELFARE_BASIS_FRINGE] = "fringe",
};

static const char *const cli_welfare_expiry_names[] = {
    [WELFARE_EXPIRY_BACK_TO_FUNDER] = "back-to-funder",
    [WELFARE_EXPIRY_FORFEIT] = "forfeit",
    [WELFARE_EXPIRY_CARRY_OVER] = "carry-over",
};

static const char *const cli_welfare_cap_class_names[] = {
    [WELFARE_CAP_STANDARD] = "standard",
    [WELFARE_CAP_WITH_CHILDREN] = "with-children",
};

static const char *const cli_welfare_posting_names[WELFARE_POSTING_CODE_MAX + 1] = {
    [WELFARE_POSTING_FUND] = "fund",
    [WELFARE_POSTING_GRANT] = "grant",
    [WELFARE_POSTING_PURCHASE] = "purchase",
    [WELFARE_POSTING_FEE] = "fee",
    [WELFARE_POSTING_REFUND] = "refund",
    [WELFARE_POSTING_FEE_REFUND] = "fee-refund",
    [WELFARE_POSTING_REIMBURSEMENT] = "reimbursement",
    [WELFARE_POSTING_EXPIRE_BACK] = "expire-back",
    [WELFARE_POSTING_FORFEIT] = "forfeit",
    [WELFARE_POSTING_CARRY_OVER] = "carry-over",
    [WELFARE_POSTING_PAYOUT] = "payout",
};

static bool cli_welfare_name_parse(const char *const *names, size_t count, const char *text,
                                   uint32_t *value_out) {
    for (size_t i = 0; i < count; i++) {
        if (names[i] != NULL && strcmp(names[i], text) == 0) {
            *value_out = (uint32_t)i;
            return true;
        }
    }
    return false;
}

static const char *cli_welfare_name_of(const char *const *names, size_t count, uint32_t value) {
    return value < count && names[value] != NULL ? names[value] : "?";
}

#define CLI_WELFARE_COUNT(array) (sizeof(array) / sizeof((array)[0]))

bool cli_welfare_basis_parse(const char *text, uint32_t *basis_out) {
    return cli_welfare_name_parse(cli_welfare_basis_names,
                                  CLI_WELFARE_COUNT(cli_welfare_basis_names), text, basis_out);
}

const char *cli_welfare_basis_name(uint32_t basis) {
    return cli_welfare_name_of(cli_welfare_basis_names, CLI_WELFARE_COUNT(cli_welfare_basis_names),
                               basis);
}

bool cli_welfare_expiry_parse(const char *text, uint32_t *policy_out) {
    return cli_welfare_name_parse(cli_welfare_expiry_names,
                                  CLI_WELFARE_COUNT(cli_welfare_expiry_names), text, policy_out);
}

const char *cli_welfare_expiry_name(uint32_t policy) {
    return cli_welfare_name_of(cli_welfare_expiry_names,
                               CLI_WELFARE_COUNT(cli_welfare_expiry_names), policy);
}

bool cli_welfare_cap_class_parse(const char *text, uint32_t *cap_class_out) {
    return cli_welfare_name_parse(cli_welfare_cap_class_names,
                                  CLI_WELFARE_COUNT(cli_welfare_cap_class_names), text,
                                  cap_class_out);
}

const char *cli_welfare_cap_class_name(uint32_t cap_class) {
    return cli_welfare_name_of(cli_welfare_cap_class_names,
                               CLI_WELFARE_COUNT(cli_welfare_cap_class_names), cap_class);
}

const char *cli_welfare_posting_name(uint32_t posting) {
    return cli_welfare_name_of(cli_welfare_posting_names,
                               CLI_WELFARE_COUNT(cli_welfare_posting_names), posting);
}

/* ---- category lists ---- */

bool cli_welfare_categories_parse(const char *text, uint64_t *mask_out) {
    uint64_t mask = 0;
    const char *c = text;
    if (*c == '\0') return false;
    for (;;) {
        size_t digits = strspn(c, "0123456789");
        if (digits == 0 || digits > 2) return false;
        unsigned category = (unsigned)(c[0] - '0');
        if (digits == 2) category = category * 10 + (unsigned)(c[1] - '0');
        if (category < 1 || category > WELFARE_CATEGORY_ID_MAX) return false;
        uint64_t bit = UINT64_C(1) << category;
        if (mask & bit) return false;
        mask |= bit;
        c += digits;
        if (*c == '\0') break;
        if (*c != ',' && *c != '|') return false;
        c++;
    }
    *mask_out = mask;
    return true;
}

void cli_welfare_categories_format(uint64_t mask, char text[CLI_WELFARE_CATEGORIES_TEXT_SIZE]) {
    size_t used = 0;
    text[0] = '\0';
    for (unsigned category = 0; category <= WELFARE_CATEGORY_ID_MAX; category++) {
        if ((mask & (UINT64_C(1) << category)) == 0) continue;
        used += (size_t)snprintf(text + used, CLI_WELFARE_CATEGORIES_TEXT_SIZE - used, "%s%u",
                                 used ? "," : "", category);
    }
    if (used == 0) snprintf(text, CLI_WELFARE_CATEGORIES_TEXT_SIZE, "-");
}

/* ---- files ---- */

/* Trims spaces at both ends, in place. */
static char *cli_welfare_trim(char *text) {
    while (isspace((unsigned char)*text)) text++;
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1])) text[--length] = '\0';
    return text;
}

int cli_welfare_csv_next(FILE *file, const char *path, char line[CLI_WELFARE_LINE_SIZE_MAX],
                         uint32_t *line_number, const char *fields[CLI_WELFARE_FIELDS_MAX],
                         size_t *fields_count, char error[CLI_WELFARE_ERROR_SIZE]) {
    while (fgets(line, CLI_WELFARE_LINE_SIZE_MAX, file) != NULL) {
        (*line_number)++;
        size_t length = strlen(line);
        if (length == CLI_WELFARE_LINE_SIZE_MAX - 1 && line[length - 1] != '\n' && !feof(file)) {
            snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s:%u: line longer than %d bytes", path,
                     *line_number, CLI_WELFARE_LINE_SIZE_MAX - 2);
            return -1;
        }
        char *text = cli_welfare_trim(line);
        if (text[0] == '\0' || text[0] == '#') continue;
        size_t count = 0;
        for (char *field = text;;) {
            char *comma = strchr(field, ',');
            if (comma != NULL) *comma = '\0';
            if (count == CLI_WELFARE_FIELDS_MAX) {
                snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s:%u: more than %d fields", path,
                         *line_number, CLI_WELFARE_FIELDS_MAX);
                return -1;
            }
            fields[count++] = cli_welfare_trim(field);
            if (comma == NULL) break;
            field = comma + 1;
        }
        *fields_count = count;
        return 1;
    }
    if (ferror(file)) {
        snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s:%u: read error", path, *line_number);
        return -1;
    }
    return 0;
}
