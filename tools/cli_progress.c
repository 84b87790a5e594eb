/*
 * cli_progress.c — the progress bar of long commands (audit verify,
 * export, report): "LABEL [#####.....] done/total UNIT" redrawn in place
 * on stderr, only when stderr is a terminal, at most every
 * CLI_PROGRESS_INTERVAL_NS so that drawing never slows the work, and
 * always once at the end. cli_progress_end clears the line, so what the
 * command prints next starts clean.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Width of the bar, in characters. */
enum { CLI_PROGRESS_BAR_WIDTH = 40 };
/* Redraw at most this often. */
#define CLI_PROGRESS_INTERVAL_NS UINT64_C(100000000)

uint64_t cli_monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * UINT64_C(1000000000) + (uint64_t)now.tv_nsec;
}

void cli_progress_init(cli_progress_t *progress, const char *label, const char *unit) {
    progress->enabled = isatty(STDERR_FILENO) == 1;
    progress->last_draw_ns = 0;
    progress->label = label;
    progress->unit = unit;
}

void cli_progress_draw(cli_progress_t *progress, uint64_t done, uint64_t total) {
    if (!progress->enabled || total == 0) return;
    uint64_t now_ns = cli_monotonic_ns();
    if (done < total && now_ns - progress->last_draw_ns < CLI_PROGRESS_INTERVAL_NS) return;
    progress->last_draw_ns = now_ns;
    uint64_t filled = (done > total ? total : done) * CLI_PROGRESS_BAR_WIDTH / total;
    char bar[CLI_PROGRESS_BAR_WIDTH + 1];
    for (int i = 0; i < CLI_PROGRESS_BAR_WIDTH; i++) bar[i] = (uint64_t)i < filled ? '#' : '.';
    bar[CLI_PROGRESS_BAR_WIDTH] = '\0';
    fprintf(stderr, "\r\033[K%s [%s] %" PRIu64 "/%" PRIu64 " %s", progress->label, bar, done,
            total, progress->unit);
    fflush(stderr);
}

void cli_progress_fn(void *context, uint64_t done, uint64_t total) {
    cli_progress_draw(context, done, total);
}

void cli_progress_stage(const cli_progress_t *progress, const char *stage) {
    if (!progress->enabled) return;
    fprintf(stderr, "\r\033[K%s", stage);
    fflush(stderr);
}

void cli_progress_end(const cli_progress_t *progress) {
    if (!progress->enabled) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
}
