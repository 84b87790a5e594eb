/*
 * test.h — the project's tiny test harness (TAP output).
 *
 * Each test program lists its cases in one table and calls test_main().
 * Every case runs in order; a failed check prints its file, line and
 * expression as a TAP diagnostic (and on stderr) and marks the case
 * failed, and the case goes on (so one run shows every broken check).
 * The program prints one "ok N - name" or "not ok N - name" line per case,
 * and exits 1 if any case failed. .ci/run counts those lines across all
 * programs.
 *
 * Arguments: a case name runs only that case; "--seed N" is stored in
 * test_seed for randomized cases (0 when not given: the case picks one and
 * prints it, so any failure can be replayed).
 */
#ifndef BORSELLINO_TEST_H
#define BORSELLINO_TEST_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_case {
    const char *name;
    void (*run)(void);
} test_case_t;

/* Set while a case runs: how many checks failed in it. */
static int test_failures_in_case;
/* From --seed, else 0. */
static uint64_t test_seed;
/* From --ops, else 0 (a randomized case then uses its default size). */
static uint64_t test_ops;

/* A failure's message goes to stdout, as a TAP diagnostic, and to stderr:
 * meson's console and the CI log show a failing test's stderr, not its
 * stdout, and the cause of a failure must reach them. */
__attribute__((format(printf, 1, 2))) static inline void test_failure_print(const char *format,
                                                                           ...) {
    va_list arguments;
    va_start(arguments, format);
    vprintf(format, arguments);
    va_end(arguments);
    fflush(stdout);
    va_start(arguments, format);
    vfprintf(stderr, format, arguments);
    va_end(arguments);
}

#define TEST_CHECK(condition)                                                 \
    do {                                                                      \
        if (!(condition)) {                                                   \
            test_failures_in_case++;                                          \
            test_failure_print("# %s:%d: check failed: %s\n", __FILE__,      \
                               __LINE__, #condition);                         \
        }                                                                     \
    } while (0)

/* Compares two integers and prints both on failure. */
#define TEST_CHECK_EQ(actual, expected)                                       \
    do {                                                                      \
        long long test_actual_ = (long long)(actual);                         \
        long long test_expected_ = (long long)(expected);                     \
        if (test_actual_ != test_expected_) {                                 \
            test_failures_in_case++;                                          \
            test_failure_print("# %s:%d: %s == %lld, expected %s == %lld\n", \
                               __FILE__, __LINE__, #actual, test_actual_,     \
                               #expected, test_expected_);                    \
        }                                                                     \
    } while (0)

/* Stops the whole program: for setup failures after which nothing useful
 * can be checked. */
#define TEST_REQUIRE(condition)                                               \
    do {                                                                      \
        if (!(condition)) {                                                   \
            test_failure_print("# %s:%d: required check failed: %s\n",       \
                               __FILE__, __LINE__, #condition);               \
            printf("Bail out!\n");                                            \
            fflush(stdout);                                                   \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static inline int test_main(int argc, char **argv, const test_case_t *cases,
                            int cases_count) {
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            test_seed = strtoull(argv[++i], NULL, 0);
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            test_ops = strtoull(argv[++i], NULL, 0);
        } else {
            only = argv[i];
        }
    }
    int selected = 0;
    for (int i = 0; i < cases_count; i++) {
        if (only == NULL || strcmp(only, cases[i].name) == 0) selected++;
    }
    if (selected == 0) {
        fprintf(stderr, "no test case named %s\n", only ? only : "(none)");
        return 2;
    }
    printf("1..%d\n", selected);
    int failed = 0;
    int number = 0;
    for (int i = 0; i < cases_count; i++) {
        if (only != NULL && strcmp(only, cases[i].name) != 0) continue;
        number++;
        test_failures_in_case = 0;
        cases[i].run();
        if (test_failures_in_case == 0) {
            printf("ok %d - %s\n", number, cases[i].name);
        } else {
            printf("not ok %d - %s\n", number, cases[i].name);
            failed++;
        }
        fflush(stdout);
    }
    return failed == 0 ? 0 : 1;
}

#endif /* BORSELLINO_TEST_H */
