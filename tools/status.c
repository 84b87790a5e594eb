/*
 * status.c — `borsellino status`: what the server says about itself
 * (version, journal position, accounts, storage, connections, limits).
 * Also the quickest way to check that a server runs at an address.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "frame.h"

static int status_help(void) {
    printf("usage: borsellino status [--addr HOST:PORT] [--json]\n\n"
           "Asks the server for its status: version, uptime, journal sequence and\n"
           "checkpoint, last event time, accounts and pending transfers, storage\n"
           "used, connections, queue depth, and its request limits. Exit 1 when no\n"
           "server answers at the address.\n\n%s",
           cli_net_options_help);
    return CLI_EXIT_OK;
}

static void status_print_json(const Borsellino__V1__StatusResponse *status) {
    fputs("{\"version\":", stdout);
    cli_json_string(stdout, status->version);
    printf(",\"uptime_seconds\":%llu,\"journal_sequence\":%llu,\"checkpoint_sequence\":%llu,"
           "\"last_timestamp\":%llu,\"accounts_count\":%llu,\"pending_count\":%llu,"
           "\"map_size\":%llu,\"map_used\":%llu,\"connections\":%u,\"queue_depth\":%u,"
           "\"batch_events_max\":%u,\"frame_size_max\":%u,\"chain_head\":\"",
           (unsigned long long)status->uptime_seconds,
           (unsigned long long)status->journal_sequence,
           (unsigned long long)status->checkpoint_sequence,
           (unsigned long long)status->last_timestamp,
           (unsigned long long)status->accounts_count,
           (unsigned long long)status->pending_count, (unsigned long long)status->map_size,
           (unsigned long long)status->map_used, status->connections, status->queue_depth,
           status->batch_events_max, status->frame_size_max);
    for (size_t i = 0; i < status->chain_head.len; i++) printf("%02x", status->chain_head.data[i]);
    fputs("\"}\n", stdout);
}

static void status_print_human(const char *address, const Borsellino__V1__StatusResponse *status) {
    char when[CLI_TIMESTAMP_TEXT_SIZE];
    cli_format_timestamp(status->last_timestamp, when);
    printf("borsellinod %s at %s, up %llu s\n", status->version, address,
           (unsigned long long)status->uptime_seconds);
    printf("  accounts             %llu\n", (unsigned long long)status->accounts_count);
    printf("  pending transfers    %llu\n", (unsigned long long)status->pending_count);
    printf("  journal sequence     %llu (checkpoint at %llu)\n",
           (unsigned long long)status->journal_sequence,
           (unsigned long long)status->checkpoint_sequence);
    printf("  last event           %s\n", when);
    printf("  storage              %.1f MiB used of a %.1f MiB map\n",
           (double)status->map_used / (1 << 20), (double)status->map_size / (1 << 20));
    printf("  connections          %u\n", status->connections);
    printf("  queue depth          %u\n", status->queue_depth);
    printf("  limits               %u events per request, %u bytes per frame\n",
           status->batch_events_max, status->frame_size_max);
    printf("  chain head           ");
    for (size_t i = 0; i < status->chain_head.len; i++) printf("%02x", status->chain_head.data[i]);
    printf("\n");
}

int cli_status(int argc, char **argv) {
    const char *command = "status";
    cli_net_options_t options;
    cli_net_options_init(&options);
    for (int i = 1; i < argc; i++) {
        int common = cli_net_option(argc, argv, &i, command, &options);
        if (common < 0) return CLI_EXIT_USAGE;
        if (common > 0) continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return status_help();
        return cli_usage_error(command, "unknown option %s", argv[i]);
    }
    Borsellino__V1__StatusRequest status = BORSELLINO__V1__STATUS_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
    request.status = &status;
    client_t *client = NULL;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_connect(&options, command, &client);
    if (exit_code == 0) {
        exit_code = cli_call(client, &options, command, &request,
                             BORSELLINO__V1__RESPONSE__RESULT_STATUS_RESULT, &response);
    }
    if (exit_code == 0 && options.json) status_print_json(response->status_result);
    else if (exit_code == 0) status_print_human(options.address, response->status_result);
    frame_response_free(response);
    client_close(client);
    return exit_code;
}
