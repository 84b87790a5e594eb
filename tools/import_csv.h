/*
 * import_csv.h — the RFC 4180 CSV reader of `borsellino import`: the manual.
 *
 * Records are separated by LF or CRLF; fields by ','. A field may be
 * quoted with '"': inside quotes, commas and line ends are data and '""'
 * is one quote. Spaces and tabs around an unquoted field, and around the
 * quotes of a quoted one, are not part of the field. Blank lines are
 * skipped (they are not records). There are no comment lines.
 *
 * Bounds (named, each tested at the bound by tests/import.py):
 *  - a record is at most IMPORT_CSV_RECORD_SIZE_MAX bytes, not counting
 *    its line end (a quoted line end inside counts); a longer one is an
 *    error of that record, and the reader skips to the end of its line;
 *  - a record has at most IMPORT_CSV_FIELDS_MAX fields.
 *
 * A malformed record (too long, too many fields, a stray quote, a quote
 * never closed) is reported with "PATH:LINE: what is wrong" and the reader
 * goes on with the next record, so that one bad line does not hide the
 * others. LINE is the first line of the record (1-based, every physical
 * line counted).
 *
 * Workload: one pass over files of up to millions of lines, at hundreds of
 * MB/s: the reader buffers its own reads and copies each byte once.
 */
#ifndef BORSELLINO_TOOLS_IMPORT_CSV_H
#define BORSELLINO_TOOLS_IMPORT_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    /* Longest record, bytes (without its line end). */
    IMPORT_CSV_RECORD_SIZE_MAX = 4096,
    /* Most fields in one record. */
    IMPORT_CSV_FIELDS_MAX = 16,
    /* Room for "PATH:LINE: what is wrong". */
    IMPORT_CSV_ERROR_SIZE = 1024,
    /* Bytes read from the file at a time. */
    IMPORT_CSV_BUFFER_SIZE = 1u << 16,
};

/* What import_csv_next() found. */
typedef enum import_csv_status {
    IMPORT_CSV_RECORD = 1,     /* a record: fields and fields_count are set */
    IMPORT_CSV_END = 0,        /* no more records */
    IMPORT_CSV_BAD_RECORD = -1, /* a malformed record (error set); go on */
    IMPORT_CSV_IO_ERROR = -2,  /* reading failed (error set); stop */
} import_csv_status_t;

/* One reader. Caller-allocated (it is about 70 KB: allocate it, do not put
 * it on a small stack); fields fenced by role. */
typedef struct import_csv {
    /* Read-only for the caller, valid until the next import_csv_next(): */
    const char *fields[IMPORT_CSV_FIELDS_MAX]; /* NUL-terminated, decoded */
    bool quoted[IMPORT_CSV_FIELDS_MAX];        /* whether the field was quoted */
    size_t fields_count;
    uint32_t line;                             /* first line of the record */
    /* Private: */
    FILE *file;
    const char *path;
    uint32_t next_line;
    size_t buffer_used, buffer_next;
    bool end_of_file;
    char record[IMPORT_CSV_RECORD_SIZE_MAX + 2];
    char buffer[IMPORT_CSV_BUFFER_SIZE];
} import_csv_t;

/* Starts reading `file` (not closed by the reader); `path` names it in
 * messages and must outlive the reader. */
void import_csv_init(import_csv_t *csv, FILE *file, const char *path);

/*
 * Reads the next record. Returns IMPORT_CSV_RECORD with csv->fields set,
 * IMPORT_CSV_END, IMPORT_CSV_BAD_RECORD with `error` set to
 * "PATH:LINE: what is wrong" (the record is skipped; call again for the
 * next one), or IMPORT_CSV_IO_ERROR with `error` set (stop).
 */
import_csv_status_t import_csv_next(import_csv_t *csv, char error[IMPORT_CSV_ERROR_SIZE]);

#endif
