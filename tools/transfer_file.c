/*
 * transfer_file.c — the CSV and JSON Lines readers of transfer batches
 * (transfer_file.h is the manual).
 *
 * Both formats funnel into one setter, transfer_file_set(row, name, text),
 * so a field means the same thing in either and is validated in one place.
 * Invariants: a file is taken whole or refused whole (any bad line refuses
 * the file before anything is sent); rows keep file order; every bound
 * (rows, line length) is checked, never truncated.
 */
#include "transfer_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    /* Most columns a CSV header may name (each field once, and then some). */
    TRANSFER_FILE_COLUMNS_MAX = 32,
    TRANSFER_FILE_ROWS_INITIAL = 1024,
    /* Longest key or value in a JSON line. */
    TRANSFER_FILE_TOKEN_SIZE_MAX = 512,
};

/* Sets one named field of `row` from its text; returns false with `error`
 * filled when the name or the value is bad. */
static bool transfer_file_set(transfer_file_row_t *row, const char *name, const char *text,
                              char error[TRANSFER_FILE_ERROR_SIZE]) {
    ledger_transfer_t *transfer = &row->transfer;
    uint64_t number = 0;
    bool ok = true;
    if (text[0] == '\0') return true;
    if (strcmp(name, "id") == 0) {
        ok = cli_parse_u128(text, &transfer->id);
        row->id_generated = false;
    } else if (strcmp(name, "debit_account_id") == 0) ok = cli_parse_u128(text, &transfer->debit_account_id);
    else if (strcmp(name, "credit_account_id") == 0) ok = cli_parse_u128(text, &transfer->credit_account_id);
    else if (strcmp(name, "pending_id") == 0) ok = cli_parse_u128(text, &transfer->pending_id);
    else if (strcmp(name, "user_data_128") == 0) ok = cli_parse_u128(text, &transfer->user_data_128);
    else if (strcmp(name, "amount") == 0) ok = cli_parse_u64(text, UINT64_MAX, &transfer->amount);
    else if (strcmp(name, "user_data_64") == 0) ok = cli_parse_u64(text, UINT64_MAX, &transfer->user_data_64);
    else if (strcmp(name, "user_data_32") == 0) {
        ok = cli_parse_u64(text, UINT32_MAX, &number);
        transfer->user_data_32 = (uint32_t)number;
    } else if (strcmp(name, "timeout") == 0) {
        ok = cli_parse_u64(text, UINT32_MAX, &number);
        transfer->timeout = (uint32_t)number;
    } else if (strcmp(name, "ledger") == 0) {
        ok = cli_parse_u64(text, UINT32_MAX, &number);
        transfer->ledger = (uint32_t)number;
    } else if (strcmp(name, "code") == 0) {
        ok = cli_parse_u64(text, UINT16_MAX, &number);
        transfer->code = (uint16_t)number;
    } else if (strcmp(name, "flags") == 0) {
        if (!cli_parse_transfer_flags(text, &transfer->flags)) {
            snprintf(error, TRANSFER_FILE_ERROR_SIZE, "unknown flag in \"%s\" (flags are: %s)",
                     text, cli_transfer_flag_names);
            return false;
        }
    } else {
        snprintf(error, TRANSFER_FILE_ERROR_SIZE,
                 "unknown field \"%s\" (see borsellino transfer --help)", name);
        return false;
    }
    if (!ok) snprintf(error, TRANSFER_FILE_ERROR_SIZE, "bad value for %s: \"%s\"", name, text);
    return ok;
}

/* Removes surrounding white space in place; returns the start. */
static char *transfer_file_trim(char *text) {
    while (isspace((unsigned char)*text)) text++;
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1])) text[--length] = '\0';
    return text;
}

/* ---- CSV ---- */

/* Splits a CSV line in place into at most `max` cells; returns the count,
 * or -1 when there are more. */
static int transfer_file_csv_split(char *line, char **cells, int max) {
    int count = 0;
    char *cursor = line;
    for (;;) {
        if (count == max) return -1;
        char *comma = strchr(cursor, ',');
        if (comma != NULL) *comma = '\0';
        cells[count++] = transfer_file_trim(cursor);
        if (comma == NULL) return count;
        cursor = comma + 1;
    }
}

typedef struct transfer_file_csv {
    char *columns[TRANSFER_FILE_COLUMNS_MAX];
    char header[TRANSFER_FILE_LINE_SIZE_MAX];
    int columns_count; /* 0 until the header was read */
} transfer_file_csv_t;

/* Reads one CSV line: the header, or one row into `row` (*is_row set). */
static bool transfer_file_csv_line(transfer_file_csv_t *csv, char *line, transfer_file_row_t *row,
                                   bool *is_row, char error[TRANSFER_FILE_ERROR_SIZE]) {
    char *cells[TRANSFER_FILE_COLUMNS_MAX];
    *is_row = false;
    if (csv->columns_count == 0) {
        snprintf(csv->header, sizeof csv->header, "%s", line);
        csv->columns_count = transfer_file_csv_split(csv->header, csv->columns,
                                                     TRANSFER_FILE_COLUMNS_MAX);
        if (csv->columns_count < 0) {
            snprintf(error, TRANSFER_FILE_ERROR_SIZE, "too many columns in the header");
            return false;
        }
        return true;
    }
    int count = transfer_file_csv_split(line, cells, TRANSFER_FILE_COLUMNS_MAX);
    if (count != csv->columns_count) {
        snprintf(error, TRANSFER_FILE_ERROR_SIZE, "%d cells, but the header names %d columns",
                 count, csv->columns_count);
        return false;
    }
    for (int i = 0; i < count; i++) {
        if (!transfer_file_set(row, csv->columns[i], cells[i], error)) return false;
    }
    *is_row = true;
    return true;
}

/* ---- JSON Lines ---- */

/* Reads a JSON string at *cursor (after its opening quote) into `out`;
 * only the escapes \" \\ \/ are needed for our values. */
static bool transfer_file_json_string(const char **cursor, char *out, size_t size) {
    const char *c = *cursor;
    size_t used = 0;
    for (; *c != '"'; c++) {
        if (*c == '\0' || used + 1 >= size) return false;
        if (*c == '\\') {
            c++;
            if (*c != '"' && *c != '\\' && *c != '/') return false;
        }
        out[used++] = *c;
    }
    out[used] = '\0';
    *cursor = c + 1;
    return true;
}

static void transfer_file_json_space(const char **cursor) {
    while (isspace((unsigned char)**cursor)) (*cursor)++;
}

/* Reads one value: a string, a number, true/false/null (as "1"/"0"/""),
 * or an array of strings (joined with '|'). */
static bool transfer_file_json_value(const char **cursor, char *out, size_t size) {
    const char *c = *cursor;
    out[0] = '\0';
    if (*c == '"') {
        c++;
        if (!transfer_file_json_string(&c, out, size)) return false;
    } else if (*c == '[') {
        size_t used = 0;
        for (c++, transfer_file_json_space(&c); *c != ']';) {
            char name[TRANSFER_FILE_TOKEN_SIZE_MAX];
            if (*c++ != '"' || !transfer_file_json_string(&c, name, sizeof name)) return false;
            int written = snprintf(out + used, size - used, "%s%s", used ? "|" : "", name);
            if (written < 0 || (size_t)written >= size - used) return false;
            used += (size_t)written;
            transfer_file_json_space(&c);
            if (*c == ',') c++, transfer_file_json_space(&c);
            else if (*c != ']') return false;
        }
        c++;
    } else if (strncmp(c, "true", 4) == 0 || strncmp(c, "null", 4) == 0) {
        snprintf(out, size, "%s", c[0] == 't' ? "1" : "");
        c += 4;
    } else if (strncmp(c, "false", 5) == 0) {
        snprintf(out, size, "0");
        c += 5;
    } else {
        size_t length = strspn(c, "0123456789");
        if (length == 0 || length >= size) return false;
        memcpy(out, c, length);
        out[length] = '\0';
        c += length;
    }
    *cursor = c;
    return true;
}

static bool transfer_file_json_line(const char *line, transfer_file_row_t *row,
                                    char error[TRANSFER_FILE_ERROR_SIZE]) {
    const char *c = line;
    char key[TRANSFER_FILE_TOKEN_SIZE_MAX], value[TRANSFER_FILE_TOKEN_SIZE_MAX];
    transfer_file_json_space(&c);
    if (*c++ != '{') goto malformed;
    transfer_file_json_space(&c);
    while (*c != '}') {
        if (*c++ != '"' || !transfer_file_json_string(&c, key, sizeof key)) goto malformed;
        transfer_file_json_space(&c);
        if (*c++ != ':') goto malformed;
        transfer_file_json_space(&c);
        if (!transfer_file_json_value(&c, value, sizeof value)) goto malformed;
        if (!transfer_file_set(row, key, value, error)) return false;
        transfer_file_json_space(&c);
        if (*c == ',') c++, transfer_file_json_space(&c);
        else if (*c != '}') goto malformed;
    }
    c++;
    transfer_file_json_space(&c);
    if (*c == '\0') return true;
malformed:
    snprintf(error, TRANSFER_FILE_ERROR_SIZE,
             "not a flat JSON object of numbers and strings (near column %d)",
             (int)(c - line) + 1);
    return false;
}

/* ---- the file ---- */

typedef struct transfer_file_reader {
    bool json;
    transfer_file_csv_t csv;
    transfer_file_row_t *rows;
    size_t count;
    size_t capacity;
} transfer_file_reader_t;

/* Appends an empty row; NULL when out of memory or over the limit. */
static transfer_file_row_t *transfer_file_row_add(transfer_file_reader_t *reader,
                                                  char error[TRANSFER_FILE_ERROR_SIZE]) {
    if (reader->count == TRANSFER_FILE_ROWS_MAX) {
        snprintf(error, TRANSFER_FILE_ERROR_SIZE, "more than %d transfers in one file",
                 TRANSFER_FILE_ROWS_MAX);
        return NULL;
    }
    if (reader->count == reader->capacity) {
        size_t capacity = reader->capacity ? reader->capacity * 2 : TRANSFER_FILE_ROWS_INITIAL;
        transfer_file_row_t *rows = realloc(reader->rows, capacity * sizeof *rows);
        if (rows == NULL) {
            snprintf(error, TRANSFER_FILE_ERROR_SIZE, "out of memory");
            return NULL;
        }
        reader->rows = rows;
        reader->capacity = capacity;
    }
    transfer_file_row_t *row = &reader->rows[reader->count];
    memset(row, 0, sizeof *row);
    row->id_generated = true;
    return row;
}

static bool transfer_file_line(transfer_file_reader_t *reader, char *line, uint32_t number,
                               char error[TRANSFER_FILE_ERROR_SIZE]) {
    char *text = transfer_file_trim(line);
    if (text[0] == '\0' || (!reader->json && text[0] == '#')) return true;
    bool is_row = true;
    transfer_file_row_t scratch;
    transfer_file_row_t *row = transfer_file_row_add(reader, error);
    if (row == NULL) return false;
    scratch = *row;
    bool ok = reader->json ? transfer_file_json_line(text, &scratch, error)
                           : transfer_file_csv_line(&reader->csv, text, &scratch, &is_row, error);
    if (!ok || !is_row) return ok;
    scratch.line = number;
    *row = scratch;
    reader->count++;
    return true;
}

/* Chooses the format by extension; false for an unknown one. */
static bool transfer_file_format(const char *path, bool *json_out) {
    const char *dot = strrchr(path, '.');
    if (dot == NULL) return false;
    if (strcmp(dot, ".csv") == 0) *json_out = false;
    else if (strcmp(dot, ".jsonl") == 0 || strcmp(dot, ".ndjson") == 0 || strcmp(dot, ".json") == 0)
        *json_out = true;
    else return false;
    return true;
}

bool transfer_file_read(const char *path, transfer_file_row_t **rows_out, size_t *count_out,
                        char error[TRANSFER_FILE_ERROR_SIZE]) {
    char detail[TRANSFER_FILE_ERROR_SIZE];
    transfer_file_reader_t reader = {0};
    char line[TRANSFER_FILE_LINE_SIZE_MAX + 2];
    *rows_out = NULL;
    if (!transfer_file_format(path, &reader.json)) {
        snprintf(error, TRANSFER_FILE_ERROR_SIZE, "%s: the name must end in .csv or .jsonl", path);
        return false;
    }
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        snprintf(error, TRANSFER_FILE_ERROR_SIZE, "%s: %s", path, strerror(errno));
        return false;
    }
    bool ok = true;
    for (uint32_t number = 1; ok && fgets(line, sizeof line, file) != NULL; number++) {
        size_t length = strlen(line);
        if (length == sizeof line - 1 && line[length - 1] != '\n') {
            snprintf(detail, sizeof detail, "longer than %d bytes", TRANSFER_FILE_LINE_SIZE_MAX);
            ok = false;
        } else {
            ok = transfer_file_line(&reader, line, number, detail);
        }
        /* The detail may be cut to fit: it is a message, not data. */
        if (!ok) snprintf(error, TRANSFER_FILE_ERROR_SIZE, "%s:%u: %.160s", path, number, detail);
    }
    if (ok && ferror(file)) {
        snprintf(error, TRANSFER_FILE_ERROR_SIZE, "%s: read error", path);
        ok = false;
    }
    fclose(file);
    if (ok && reader.count == 0) {
        snprintf(error, TRANSFER_FILE_ERROR_SIZE, "%s: no transfers in the file", path);
        ok = false;
    }
    if (!ok) {
        free(reader.rows);
        return false;
    }
    for (size_t i = 0; i < reader.count; i++) {
        if (reader.rows[i].id_generated) reader.rows[i].transfer.id = ledger_id_time_ordered();
    }
    *rows_out = reader.rows;
    *count_out = reader.count;
    return true;
}
