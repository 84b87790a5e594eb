/*
 * cli_values.c — the text forms of the ledger's values on the command line:
 * 128-bit ids (also named ones: "alice"), timestamps (also relative ones:
 * "now", "+30d"), dates, amounts in euros, flag names, JSON strings. Pure
 * functions, except cli_now_ns (the clock).
 *
 * Invariants: every formatter's output is accepted back by the matching
 * parser and yields the same value (ids in both decimal and hex, timestamps
 * to the nanosecond, euros to the cent); parsers reject rather than
 * truncate or round (an id above 2^128-1, a u64 above its bound, a third
 * decimal of euros, trailing characters).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cli.h"

__extension__ typedef unsigned __int128 cli_u128_native_t;

enum {
    CLI_U128_HEX_DIGITS_MAX = 32,
    CLI_NANOSECONDS_PER_SECOND = 1000000000,
    CLI_FRACTION_DIGITS_MAX = 9,
};

static cli_u128_native_t cli_u128_to_native(ledger_u128_t value) {
    return ((cli_u128_native_t)value.hi << 64) | value.lo;
}

static ledger_u128_t cli_u128_from_native(cli_u128_native_t value) {
    ledger_u128_t out = {(uint64_t)(value >> 64), (uint64_t)value};
    return out;
}

static int cli_hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool cli_parse_u128(const char *text, ledger_u128_t *value_out) {
    cli_u128_native_t value = 0;
    if (text == NULL || text[0] == '\0') return false;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        size_t digits = strlen(text + 2);
        if (digits == 0 || digits > CLI_U128_HEX_DIGITS_MAX) return false;
        for (const char *c = text + 2; *c; c++) {
            int digit = cli_hex_digit(*c);
            if (digit < 0) return false;
            value = (value << 4) | (cli_u128_native_t)digit;
        }
        *value_out = cli_u128_from_native(value);
        return true;
    }
    const cli_u128_native_t max = ~(cli_u128_native_t)0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9') return false;
        unsigned digit = (unsigned)(*c - '0');
        if (value > (max - digit) / 10) return false;
        value = value * 10 + digit;
    }
    *value_out = cli_u128_from_native(value);
    return true;
}

bool cli_parse_u64(const char *text, uint64_t max, uint64_t *value_out) {
    ledger_u128_t value;
    if (!cli_parse_u128(text, &value) || value.hi != 0 || value.lo > max) return false;
    *value_out = value.lo;
    return true;
}

void cli_format_u128(ledger_u128_t value, char text[CLI_U128_TEXT_SIZE]) {
    char digits[CLI_U128_TEXT_SIZE];
    size_t count = 0;
    cli_u128_native_t rest = cli_u128_to_native(value);
    do {
        digits[count++] = (char)('0' + (int)(rest % 10));
        rest /= 10;
    } while (rest != 0);
    for (size_t i = 0; i < count; i++) text[i] = digits[count - 1 - i];
    text[count] = '\0';
}

void cli_format_id(ledger_u128_t value, char text[CLI_U128_TEXT_SIZE]) {
    if (value.hi == 0) {
        cli_format_u128(value, text);
        return;
    }
    snprintf(text, CLI_U128_TEXT_SIZE, "0x%016llx%016llx", (unsigned long long)value.hi,
             (unsigned long long)value.lo);
}

/* ---- timestamps ---- */

/* Parses ".fraction" (1..9 digits) into nanoseconds; advances *cursor. */
static bool cli_parse_fraction(const char **cursor, uint64_t *nanoseconds_out) {
    const char *c = *cursor;
    uint64_t nanoseconds = 0;
    int digits = 0;
    if (*c != '.') {
        *nanoseconds_out = 0;
        return true;
    }
    for (c++; isdigit((unsigned char)*c); c++) {
        if (++digits > CLI_FRACTION_DIGITS_MAX) return false;
        nanoseconds = nanoseconds * 10 + (uint64_t)(*c - '0');
    }
    if (digits == 0) return false;
    for (int i = digits; i < CLI_FRACTION_DIGITS_MAX; i++) nanoseconds *= 10;
    *cursor = c;
    *nanoseconds_out = nanoseconds;
    return true;
}

bool cli_parse_timestamp(const char *text, uint64_t *nanoseconds_out) {
    if (text != NULL && strspn(text, "0123456789") == strlen(text)) {
        return cli_parse_u64(text, UINT64_MAX, nanoseconds_out);
    }
    struct tm fields = {0};
    int consumed = 0;
    if (sscanf(text, "%4d-%2d-%2d%n", &fields.tm_year, &fields.tm_mon, &fields.tm_mday,
               &consumed) != 3) {
        return false;
    }
    const char *c = text + consumed;
    uint64_t fraction_ns = 0;
    if (*c == 'T' || *c == ' ') {
        if (sscanf(c + 1, "%2d:%2d:%2d%n", &fields.tm_hour, &fields.tm_min, &fields.tm_sec,
                   &consumed) != 3) {
            return false;
        }
        c += 1 + consumed;
        if (!cli_parse_fraction(&c, &fraction_ns)) return false;
        if (*c++ != 'Z') return false;
    }
    if (*c != '\0') return false;
    if (fields.tm_year < 1970 || fields.tm_mon < 1 || fields.tm_mon > 12) return false;
    if (fields.tm_mday < 1 || fields.tm_mday > 31 || fields.tm_hour > 23) return false;
    if (fields.tm_min > 59 || fields.tm_sec > 60) return false;
    fields.tm_year -= 1900;
    fields.tm_mon -= 1;
    time_t seconds = timegm(&fields);
    if (seconds < 0) return false;
    if ((uint64_t)seconds > (UINT64_MAX - fraction_ns) / CLI_NANOSECONDS_PER_SECOND) return false;
    *nanoseconds_out = (uint64_t)seconds * CLI_NANOSECONDS_PER_SECOND + fraction_ns;
    return true;
}

void cli_format_timestamp(uint64_t nanoseconds, char text[CLI_TIMESTAMP_TEXT_SIZE]) {
    if (nanoseconds == 0) {
        snprintf(text, CLI_TIMESTAMP_TEXT_SIZE, "-");
        return;
    }
    time_t seconds = (time_t)(nanoseconds / CLI_NANOSECONDS_PER_SECOND);
    struct tm fields;
    gmtime_r(&seconds, &fields);
    snprintf(text, CLI_TIMESTAMP_TEXT_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ",
             fields.tm_year + 1900, fields.tm_mon + 1, fields.tm_mday, fields.tm_hour,
             fields.tm_min, fields.tm_sec,
             (unsigned long long)(nanoseconds % CLI_NANOSECONDS_PER_SECOND));
}

/* ---- relative times and dates ---- */

uint64_t cli_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * CLI_NANOSECONDS_PER_SECOND + (uint64_t)now.tv_nsec;
}

bool cli_parse_time(const char *text, uint64_t now_ns, uint64_t *nanoseconds_out) {
    if (text == NULL) return false;
    if (strcmp(text, "now") == 0) {
        *nanoseconds_out = now_ns;
        return true;
    }
    if (text[0] != '+') return cli_parse_timestamp(text, nanoseconds_out);
    size_t digits = strspn(text + 1, "0123456789");
    const char *unit = text + 1 + digits;
    uint64_t seconds_per_unit = 0;
    if (strcmp(unit, "s") == 0) seconds_per_unit = 1;
    else if (strcmp(unit, "m") == 0) seconds_per_unit = 60;
    else if (strcmp(unit, "h") == 0) seconds_per_unit = 3600;
    else if (strcmp(unit, "d") == 0) seconds_per_unit = 86400;
    if (digits == 0 || digits > 19 || seconds_per_unit == 0) return false;
    uint64_t count = 0;
    for (size_t i = 0; i < digits; i++) {
        unsigned digit = (unsigned)(text[1 + i] - '0');
        if (count > (UINT64_MAX - digit) / 10) return false;
        count = count * 10 + digit;
    }
    uint64_t unit_ns = seconds_per_unit * CLI_NANOSECONDS_PER_SECOND;
    if (count > (UINT64_MAX - now_ns) / unit_ns) return false;
    *nanoseconds_out = now_ns + count * unit_ns;
    return true;
}

bool cli_parse_date(const char *text, uint32_t *yyyymmdd_out) {
    static const int days_in_month[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (text == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-') return false;
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && !isdigit((unsigned char)text[i])) return false;
    }
    int year = atoi(text), month = atoi(text + 5), day = atoi(text + 8);
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 1 || month < 1 || month > 12 || day < 1) return false;
    if (day > days_in_month[month - 1] || (month == 2 && day == 29 && !leap)) return false;
    *yyyymmdd_out = (uint32_t)year * 10000u + (uint32_t)month * 100u + (uint32_t)day;
    return true;
}

/* ---- euros ---- */

enum { CLI_CENTS_PER_EURO = 100 };

bool cli_parse_euros(const char *text, uint64_t *cents_out) {
    if (text == NULL) return false;
    size_t whole_digits = strspn(text, "0123456789");
    const char *rest = text + whole_digits;
    size_t decimals = 0;
    if (*rest == '.') {
        decimals = strspn(rest + 1, "0123456789");
        if (decimals == 0 || decimals > 2 || rest[1 + decimals] != '\0') return false;
    } else if (*rest != '\0') {
        return false;
    }
    if (whole_digits == 0) return false;
    uint64_t euros = 0;
    for (size_t i = 0; i < whole_digits; i++) {
        unsigned digit = (unsigned)(text[i] - '0');
        if (euros > (UINT64_MAX - digit) / 10) return false;
        euros = euros * 10 + digit;
    }
    uint64_t cents = 0;
    for (size_t i = 0; i < 2; i++) {
        cents = cents * 10 + (i < decimals ? (uint64_t)(rest[1 + i] - '0') : 0);
    }
    if (euros > (UINT64_MAX - cents) / CLI_CENTS_PER_EURO) return false;
    *cents_out = euros * CLI_CENTS_PER_EURO + cents;
    return true;
}

void cli_format_euros(uint64_t cents, char text[CLI_EUROS_TEXT_SIZE]) {
    snprintf(text, CLI_EUROS_TEXT_SIZE, "%llu.%02llu",
             (unsigned long long)(cents / CLI_CENTS_PER_EURO),
             (unsigned long long)(cents % CLI_CENTS_PER_EURO));
}

/* ---- ids that may be names ---- */

bool cli_parse_named_id(const char *text, ledger_u128_t *value_out) {
    if (text == NULL || text[0] == '\0') return false;
    bool hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    if (hex || strspn(text, "0123456789") == strlen(text)) return cli_parse_u128(text, value_out);
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    if (EVP_Digest(text, strlen(text), digest, &digest_size, EVP_sha256(), NULL) != 1) return false;
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) {
        hi = (hi << 8) | digest[i];
        lo = (lo << 8) | digest[8 + i];
    }
    value_out->hi = hi;
    value_out->lo = lo;
    return true;
}

/* ---- flags ---- */

typedef struct cli_flag_name {
    const char *name;
    uint16_t bit;
} cli_flag_name_t;

/* In bit order; the names are ledger.h's without their prefix. */
static const cli_flag_name_t cli_account_flag_table[] = {
    {"linked", LEDGER_ACCOUNT_LINKED},
    {"debits_must_not_exceed_credits", LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS},
    {"credits_must_not_exceed_debits", LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS},
    {"history", LEDGER_ACCOUNT_HISTORY},
    {"closed", LEDGER_ACCOUNT_CLOSED},
    {NULL, 0},
};

static const cli_flag_name_t cli_transfer_flag_table[] = {
    {"linked", LEDGER_TRANSFER_LINKED},
    {"pending", LEDGER_TRANSFER_PENDING},
    {"post_pending", LEDGER_TRANSFER_POST_PENDING},
    {"void_pending", LEDGER_TRANSFER_VOID_PENDING},
    {"balancing_debit", LEDGER_TRANSFER_BALANCING_DEBIT},
    {"balancing_credit", LEDGER_TRANSFER_BALANCING_CREDIT},
    {"closing_debit", LEDGER_TRANSFER_CLOSING_DEBIT},
    {"closing_credit", LEDGER_TRANSFER_CLOSING_CREDIT},
    {NULL, 0},
};

const char cli_account_flag_names[] =
    "linked, debits_must_not_exceed_credits, credits_must_not_exceed_debits, history";
const char cli_transfer_flag_names[] =
    "linked, pending, post_pending, void_pending, balancing_debit, balancing_credit, "
    "closing_debit, closing_credit";

/* Parses names separated by ',' or '|' (CSV cells cannot hold commas
 * without quoting, so files may use '|'); "" and "-" mean none. */
static bool cli_parse_flags(const cli_flag_name_t *table, const char *text,
                            uint16_t *flags_out) {
    uint16_t flags = 0;
    const char *c = text;
    if (strcmp(text, "-") == 0) c = "";
    while (*c != '\0') {
        size_t length = strcspn(c, ",|");
        bool found = false;
        for (const cli_flag_name_t *entry = table; entry->name != NULL; entry++) {
            if (strlen(entry->name) == length && strncmp(entry->name, c, length) == 0) {
                flags |= entry->bit;
                found = true;
            }
        }
        if (!found && length > 0) return false;
        c += length;
        if (*c != '\0') c++;
    }
    *flags_out = flags;
    return true;
}

bool cli_parse_account_flags(const char *text, uint16_t *flags_out) {
    return cli_parse_flags(cli_account_flag_table, text, flags_out);
}

bool cli_parse_transfer_flags(const char *text, uint16_t *flags_out) {
    return cli_parse_flags(cli_transfer_flag_table, text, flags_out);
}

static void cli_format_flags(const cli_flag_name_t *table, uint32_t flags,
                             char text[CLI_FLAGS_TEXT_SIZE]) {
    size_t used = 0;
    text[0] = '\0';
    for (const cli_flag_name_t *entry = table; entry->name != NULL; entry++) {
        if ((flags & entry->bit) == 0) continue;
        used += (size_t)snprintf(text + used, CLI_FLAGS_TEXT_SIZE - used, "%s%s",
                                 used ? "," : "", entry->name);
        flags &= ~(uint32_t)entry->bit;
    }
    if (flags != 0) {
        snprintf(text + used, CLI_FLAGS_TEXT_SIZE - used, "%s0x%x", used ? "," : "", flags);
    } else if (used == 0) {
        snprintf(text, CLI_FLAGS_TEXT_SIZE, "-");
    }
}

void cli_format_account_flags(uint32_t flags, char text[CLI_FLAGS_TEXT_SIZE]) {
    cli_format_flags(cli_account_flag_table, flags, text);
}

void cli_format_transfer_flags(uint32_t flags, char text[CLI_FLAGS_TEXT_SIZE]) {
    cli_format_flags(cli_transfer_flag_table, flags, text);
}

void cli_json_string(FILE *out, const char *text) {
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') {
            fputc('\\', out);
            fputc(*c, out);
        } else if (*c == '\n') {
            fputs("\\n", out);
        } else if (*c < 0x20) {
            fprintf(out, "\\u%04x", *c);
        } else {
            fputc(*c, out);
        }
    }
    fputc('"', out);
}

void cli_json_flags(FILE *out, const char *formatted) {
    fputc('[', out);
    if (strcmp(formatted, "-") != 0) {
        const char *c = formatted;
        while (*c != '\0') {
            size_t length = strcspn(c, ",");
            fprintf(out, "%s\"%.*s\"", c == formatted ? "" : ",", (int)length, c);
            c += length;
            if (*c == ',') c++;
        }
    }
    fputc(']', out);
}

/* ---- JSON objects of ledger values ---- */

static void cli_json_u128_field(FILE *out, const char *name, ledger_u128_t value) {
    char text[CLI_U128_TEXT_SIZE];
    cli_format_u128(value, text);
    fprintf(out, "\"%s\":\"%s\"", name, text);
}

void cli_json_balance_fields(FILE *out, const ledger_balance_t *balance) {
    fprintf(out,
            "\"debits_pending\":%llu,\"debits_posted\":%llu,"
            "\"credits_pending\":%llu,\"credits_posted\":%llu",
            (unsigned long long)balance->debits_pending,
            (unsigned long long)balance->debits_posted,
            (unsigned long long)balance->credits_pending,
            (unsigned long long)balance->credits_posted);
}

void cli_json_account(FILE *out, const ledger_account_t *account) {
    char flags[CLI_FLAGS_TEXT_SIZE];
    ledger_balance_t balance = {account->debits_pending, account->debits_posted,
                                account->credits_pending, account->credits_posted};
    fputc('{', out);
    cli_json_u128_field(out, "id", account->id);
    fputc(',', out);
    cli_json_balance_fields(out, &balance);
    fputc(',', out);
    cli_json_u128_field(out, "user_data_128", account->user_data_128);
    fprintf(out, ",\"user_data_64\":%llu,\"user_data_32\":%u,\"ledger\":%u,\"code\":%u,",
            (unsigned long long)account->user_data_64, account->user_data_32,
            account->ledger, account->code);
    cli_format_account_flags(account->flags, flags);
    fputs("\"flags\":", out);
    cli_json_flags(out, flags);
    fprintf(out, ",\"timestamp\":%llu}", (unsigned long long)account->timestamp);
}

void cli_json_transfer(FILE *out, const ledger_transfer_t *transfer) {
    char flags[CLI_FLAGS_TEXT_SIZE];
    fputc('{', out);
    cli_json_u128_field(out, "id", transfer->id);
    fputc(',', out);
    cli_json_u128_field(out, "debit_account_id", transfer->debit_account_id);
    fputc(',', out);
    cli_json_u128_field(out, "credit_account_id", transfer->credit_account_id);
    fprintf(out, ",\"amount\":%llu,", (unsigned long long)transfer->amount);
    cli_json_u128_field(out, "pending_id", transfer->pending_id);
    fputc(',', out);
    cli_json_u128_field(out, "user_data_128", transfer->user_data_128);
    fprintf(out,
            ",\"user_data_64\":%llu,\"user_data_32\":%u,\"timeout\":%u,\"ledger\":%u,"
            "\"code\":%u,",
            (unsigned long long)transfer->user_data_64, transfer->user_data_32,
            transfer->timeout, transfer->ledger, transfer->code);
    cli_format_transfer_flags(transfer->flags, flags);
    fputs("\"flags\":", out);
    cli_json_flags(out, flags);
    fprintf(out, ",\"timestamp\":%llu}", (unsigned long long)transfer->timestamp);
}
