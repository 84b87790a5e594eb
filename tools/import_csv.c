/*
 * import_csv.c — the RFC 4180 CSV reader of `borsellino import`
 * (import_csv.h is the manual).
 *
 * One byte at a time through a state machine; every raw byte of a record
 * yields at most one byte of decoded text (a separator becomes the NUL
 * ending its field, a doubled quote one quote), so decoded text plus the
 * last NUL always fits IMPORT_CSV_RECORD_SIZE_MAX + 1 bytes.
 */
#include "import_csv.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

typedef enum csv_state {
    CSV_FIELD_START,  /* before a field: spaces skipped */
    CSV_UNQUOTED,     /* inside an unquoted field */
    CSV_QUOTED,       /* inside quotes */
    CSV_QUOTE_SEEN,   /* a quote inside quotes: closing, or the first of "" */
    CSV_AFTER_QUOTED, /* spaces after a closing quote */
    CSV_SKIP,         /* a malformed record: up to the end of its line */
} csv_state_t;

void import_csv_init(import_csv_t *csv, FILE *file, const char *path) {
    assert(csv != NULL);
    assert(file != NULL && path != NULL);
    memset(csv, 0, offsetof(import_csv_t, record));
    csv->file = file;
    csv->path = path;
    csv->next_line = 1;
}

/* The next byte, or EOF (then ferror tells a failure from the end). */
static int csv_getc(import_csv_t *csv) {
    if (csv->buffer_next == csv->buffer_used) {
        if (csv->end_of_file) return EOF;
        csv->buffer_used = fread(csv->buffer, 1, sizeof(csv->buffer), csv->file);
        csv->buffer_next = 0;
        if (csv->buffer_used == 0) {
            csv->end_of_file = true;
            return EOF;
        }
    }
    return (unsigned char)csv->buffer[csv->buffer_next++];
}

/* The next byte without taking it, or EOF. */
static int csv_peek(import_csv_t *csv) {
    int c = csv_getc(csv);
    if (c != EOF) csv->buffer_next--;
    return c;
}

/* The record being decoded. */
typedef struct csv_work {
    size_t raw;        /* raw bytes of the record so far */
    size_t out;        /* decoded bytes in csv->record */
    size_t trim_mark;  /* end of an unquoted field without trailing spaces */
    csv_state_t state;
    const char *problem; /* the first thing wrong, or NULL */
} csv_work_t;

/* Ends the current field at work->out (trimmed when unquoted). */
static void csv_end_field(import_csv_t *csv, csv_work_t *work) {
    assert(csv->fields_count < IMPORT_CSV_FIELDS_MAX);
    if (!csv->quoted[csv->fields_count]) work->out = work->trim_mark;
    csv->record[work->out++] = '\0';
    assert(work->out <= sizeof(csv->record));
    csv->fields_count++;
    work->trim_mark = work->out;
    if (csv->fields_count < IMPORT_CSV_FIELDS_MAX) {
        csv->fields[csv->fields_count] = &csv->record[work->out];
        csv->quoted[csv->fields_count] = false;
    }
}

static void csv_append(import_csv_t *csv, csv_work_t *work, char c) {
    assert(work->out < sizeof(csv->record) - 1);
    csv->record[work->out++] = c;
}

static void csv_fail(csv_work_t *work, const char *problem) {
    if (work->problem == NULL) work->problem = problem;
    work->state = CSV_SKIP;
}

/* A separator: ends the field, unless that makes too many. */
static void csv_separator(import_csv_t *csv, csv_work_t *work) {
    csv_end_field(csv, work);
    work->state = CSV_FIELD_START;
    if (csv->fields_count == IMPORT_CSV_FIELDS_MAX) {
        csv_fail(work, "more fields than the " "most a line may have (16)");
    }
}

/* After a closing quote: a separator, spaces, or nothing else. */
static void csv_after_quote(import_csv_t *csv, csv_work_t *work, char c, bool space) {
    if (c == ',') {
        csv_separator(csv, work);
    } else if (space) {
        work->state = CSV_AFTER_QUOTED;
    } else {
        csv_fail(work, "text after the closing quote of a field");
    }
}

/* One byte of the record (not the line end that ends it). */
static void csv_step(import_csv_t *csv, csv_work_t *work, char c) {
    bool space = c == ' ' || c == '\t' || c == '\r';
    switch (work->state) {
    case CSV_FIELD_START:
        if (space) break;
        if (c == '"') {
            csv->quoted[csv->fields_count] = true;
            work->state = CSV_QUOTED;
        } else if (c == ',') {
            csv_separator(csv, work);
        } else {
            csv_append(csv, work, c);
            work->trim_mark = work->out;
            work->state = CSV_UNQUOTED;
        }
        break;
    case CSV_UNQUOTED:
        if (c == ',') {
            csv_separator(csv, work);
        } else if (c == '"') {
            csv_fail(work, "a quote inside an unquoted field (quote the whole field and "
                           "double the quotes in it: \"a \"\"b\"\"\")");
        } else {
            csv_append(csv, work, c);
            if (!space) work->trim_mark = work->out;
        }
        break;
    case CSV_QUOTED:
        if (c == '"') work->state = CSV_QUOTE_SEEN;
        else csv_append(csv, work, c);
        break;
    case CSV_QUOTE_SEEN:
        if (c == '"') {
            csv_append(csv, work, c);
            work->state = CSV_QUOTED;
        } else {
            csv_after_quote(csv, work, c, space);
        }
        break;
    case CSV_AFTER_QUOTED:
        csv_after_quote(csv, work, c, space);
        break;
    case CSV_SKIP:
        break;
    }
}

/* Skips the rest of an over-long record's physical line. */
static void csv_skip_line(import_csv_t *csv) {
    for (int c = csv_getc(csv); c != EOF; c = csv_getc(csv)) {
        if (c == '\n') {
            csv->next_line++;
            return;
        }
    }
}

/* Reads one record's bytes; returns false at the end of the file before
 * any byte (or on a read error: ferror). */
static bool csv_read_record(import_csv_t *csv, csv_work_t *work) {
    for (;;) {
        int c = csv_getc(csv);
        if (c == EOF) {
            if (work->raw == 0) return false;
            if (work->state == CSV_QUOTED) csv_fail(work, "a quoted field is not closed");
            return true;
        }
        if (c == '\n') {
            csv->next_line++;
            if (work->state != CSV_QUOTED) return true;
        }
        if (c == '\r' && work->state != CSV_QUOTED && csv_peek(csv) == '\n') {
            continue; /* the CR of a CRLF line end: not part of the record */
        }
        if (++work->raw > IMPORT_CSV_RECORD_SIZE_MAX) {
            csv_fail(work, "the line is longer than the " "most a line may have (4096 bytes)");
            if (c != '\n') csv_skip_line(csv);
            return true;
        }
        csv_step(csv, work, (char)c);
    }
}

import_csv_status_t import_csv_next(import_csv_t *csv, char error[IMPORT_CSV_ERROR_SIZE]) {
    assert(csv != NULL && csv->file != NULL);
    _Static_assert(IMPORT_CSV_RECORD_SIZE_MAX == 4096, "messages name the bound");
    _Static_assert(IMPORT_CSV_FIELDS_MAX == 16, "messages name the bound");
    for (;;) {
        csv->line = csv->next_line;
        csv->fields_count = 0;
        csv->fields[0] = csv->record;
        csv->quoted[0] = false;
        csv_work_t work = {.state = CSV_FIELD_START};
        bool any = csv_read_record(csv, &work);
        if (ferror(csv->file)) {
            snprintf(error, IMPORT_CSV_ERROR_SIZE, "%s:%u: cannot read: %s", csv->path,
                     csv->line, strerror(errno));
            return IMPORT_CSV_IO_ERROR;
        }
        if (!any) return IMPORT_CSV_END;
        if (work.problem != NULL) {
            snprintf(error, IMPORT_CSV_ERROR_SIZE, "%s:%u: %s", csv->path, csv->line,
                     work.problem);
            return IMPORT_CSV_BAD_RECORD;
        }
        csv_end_field(csv, &work);
        bool blank = csv->fields_count == 1 && !csv->quoted[0] && csv->fields[0][0] == '\0';
        if (!blank) return IMPORT_CSV_RECORD;
    }
}
