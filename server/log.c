/*
 * log.c — structured logs: one line per event, key=value, on stderr, with
 * a UTC timestamp first. One fprintf per line, so lines from the two
 * threads never interleave (stdio locks the stream per call).
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "server.h"

void server_log(const char *event, const char *format, ...) {
    char line[1024];
    struct timespec now;
    struct tm utc;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    int used = snprintf(line, sizeof(line), "time=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ event=%s",
                        utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                        utc.tm_min, utc.tm_sec, now.tv_nsec / 1000000, event);
    if (used > 0 && (size_t)used < sizeof(line) && format != NULL && format[0] != '\0') {
        line[used++] = ' ';
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(line + used, sizeof(line) - (size_t)used, format, arguments);
        va_end(arguments);
    }
    fprintf(stderr, "%s\n", line);
}
