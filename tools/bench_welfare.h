/*
 * bench_welfare.h — the options of `borsellino bench-welfare`, shared by
 * its in-process part (bench_welfare.c) and its protocol part
 * (bench_welfare_net.c).
 */
#ifndef BORSELLINO_TOOLS_BENCH_WELFARE_H
#define BORSELLINO_TOOLS_BENCH_WELFARE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct welfare_bench_options {
    const char *directory; /* in-process: where the data directory goes */
    const char *address;   /* NULL: in-process; else HOST:PORT of a server */
    uint64_t employees;
    uint64_t purchases;
    uint32_t group;        /* in-process: purchases per commit */
    uint32_t connections;  /* protocol: connections (one thread each) */
    uint32_t in_flight;    /* protocol: requests in flight per connection */
    uint32_t batch;        /* protocol: purchases per request (1: WelfarePurchase) */
    uint32_t refund_permille; /* protocol: full refunds per 1,000 purchases (0..1000) */
    bool keep;
    bool json;             /* one JSON object per stage (JSON Lines) */
} welfare_bench_options_t;

/* Runs the protocol benchmark; returns the exit status. */
int bench_welfare_net(const welfare_bench_options_t *options);

#endif
