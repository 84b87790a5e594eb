/*
 * cli_net.c — the plumbing every client command shares: the common
 * options (--addr, --json, --timeout-ms, and the TLS files --tls-cert,
 * --tls-key, --tls-ca or their environment variables), connecting (over
 * TLS when its files are given) with a useful message
 * when no server runs, one request/response round trip with its status
 * turned into a sentence, and the failure output (stderr text, plus one
 * JSON object on stdout with --json so scripts always get a document).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "frame.h"

enum { CLI_FAIL_MESSAGE_SIZE = 1024 };

const char cli_net_options_help[] =
    "  --addr HOST:PORT  the server (default " CLIENT_ADDRESS_DEFAULT "; --address\n"
    "                    is the same option)\n"
    "  --json            print JSON for scripts instead of a table\n"
    "  --timeout-ms N    give up when the server does not answer within N ms\n"
    "                    (default 10000; 0 = wait forever)\n"
    "  --tls-cert FILE   connect with TLS 1.3, presenting this client certificate\n"
    "                    (PEM; default $BORSELLINO_TLS_CERT); needs the two below\n"
    "  --tls-key FILE    its private key, mode 0600 (default $BORSELLINO_TLS_KEY)\n"
    "  --tls-ca FILE     the CA the server's certificate must chain to (and that\n"
    "                    certificate must name the --addr host; default\n"
    "                    $BORSELLINO_TLS_CA)\n";

static const char *cli_env(const char *name) {
    const char *value = getenv(name);
    return value != NULL && value[0] != '\0' ? value : NULL;
}

void cli_net_tls_from_env(client_tls_t *tls) {
    tls->cert_path = cli_env("BORSELLINO_TLS_CERT");
    tls->key_path = cli_env("BORSELLINO_TLS_KEY");
    tls->ca_path = cli_env("BORSELLINO_TLS_CA");
}

bool cli_net_tls_wanted(const client_tls_t *tls) {
    return tls->cert_path != NULL || tls->key_path != NULL || tls->ca_path != NULL;
}

void cli_net_options_init(cli_net_options_t *options) {
    options->address = CLIENT_ADDRESS_DEFAULT;
    options->json = false;
    options->timeout_ms = CLIENT_TIMEOUT_MS_DEFAULT;
    cli_net_tls_from_env(&options->tls);
}

int cli_net_option(int argc, char **argv, int *index, const char *command,
                   cli_net_options_t *options) {
    const char *option = argv[*index];
    const char *value = *index + 1 < argc ? argv[*index + 1] : NULL;
    if (strcmp(option, "--json") == 0) {
        options->json = true;
        return 1;
    }
    bool address = strcmp(option, "--addr") == 0 || strcmp(option, "--address") == 0;
    const char **file = strcmp(option, "--tls-cert") == 0  ? &options->tls.cert_path
                        : strcmp(option, "--tls-key") == 0 ? &options->tls.key_path
                        : strcmp(option, "--tls-ca") == 0  ? &options->tls.ca_path
                                                           : NULL;
    if (!address && file == NULL && strcmp(option, "--timeout-ms") != 0) return 0;
    if (value == NULL) {
        cli_usage_error(command, "%s needs a value", option);
        return -1;
    }
    if (file != NULL) {
        *file = value;
    } else if (address) {
        options->address = value;
    } else {
        uint64_t timeout_ms = 0;
        if (!cli_parse_u64(value, UINT32_MAX, &timeout_ms)) {
            cli_usage_error(command, "--timeout-ms wants milliseconds, not %s", value);
            return -1;
        }
        options->timeout_ms = (uint32_t)timeout_ms;
    }
    (*index)++;
    return 1;
}

int cli_usage_error(const char *command, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "borsellino %s: ", command);
    vfprintf(stderr, format, arguments);
    fprintf(stderr, " (see borsellino %s --help)\n", command);
    va_end(arguments);
    return CLI_EXIT_USAGE;
}

int cli_fail(const cli_net_options_t *options, const char *command, const char *name,
             const char *format, ...) {
    char message[CLI_FAIL_MESSAGE_SIZE];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    fprintf(stderr, "borsellino %s: %s\n", command, message);
    if (options != NULL && options->json) {
        fputs("{\"error\":", stdout);
        cli_json_string(stdout, name);
        fputs(",\"message\":", stdout);
        cli_json_string(stdout, message);
        fputs("}\n", stdout);
    }
    return CLI_EXIT_FAILURE;
}

/* The error name used in JSON for a client error. */
static const char *cli_client_error_name(int error) {
    switch (error) {
    case CLIENT_ERR_ADDRESS: return "bad_address";
    case CLIENT_ERR_REFUSED: return "server_not_running";
    case CLIENT_ERR_TIMEOUT: return "timeout";
    case CLIENT_ERR_CLOSED: return "connection_closed";
    case CLIENT_ERR_PROTOCOL: return "protocol_error";
    case CLIENT_ERR_TLS: return "tls_error";
    default: return "client_error";
    }
}

int cli_connect(const cli_net_options_t *options, const char *command,
                client_t **client_out) {
    const client_tls_t *tls = &options->tls;
    if (cli_net_tls_wanted(tls) &&
        (tls->cert_path == NULL || tls->key_path == NULL || tls->ca_path == NULL)) {
        return cli_fail(options, command, "tls_error",
                        "TLS needs --tls-cert, --tls-key and --tls-ca together (or "
                        "BORSELLINO_TLS_CERT, BORSELLINO_TLS_KEY, BORSELLINO_TLS_CA); %s is "
                        "missing",
                        tls->cert_path == NULL ? "--tls-cert"
                        : tls->key_path == NULL ? "--tls-key" : "--tls-ca");
    }
    int error = client_connect_tls(options->address, options->timeout_ms,
                                   cli_net_tls_wanted(tls) ? tls : NULL, client_out);
    if (error == CLIENT_OK) return 0;
    return cli_fail(options, command, cli_client_error_name(error), "%s",
                    client_last_error_message(NULL));
}

int cli_call(client_t *client, const cli_net_options_t *options, const char *command,
             Borsellino__V1__Request *request, int expected_result,
             Borsellino__V1__Response **response_out) {
    Borsellino__V1__Response *response = NULL;
    *response_out = NULL;
    int error = client_call(client, request, &response);
    if (error != CLIENT_OK) {
        return cli_fail(options, command, cli_client_error_name(error), "%s",
                        client_last_error_message(client));
    }
    if (response->status != BORSELLINO__V1__STATUS__STATUS_OK) {
        const char *detail = response->message ? response->message : "";
        cli_fail(options, command, client_status_name(response->status), "%s%s%s",
                 client_status_message(response->status), detail[0] ? ": " : "", detail);
        frame_response_free(response);
        return CLI_EXIT_FAILURE;
    }
    if ((int)response->result_case != expected_result) {
        cli_fail(options, command, "protocol_error",
                 "the server answered with a different kind of result (%d, expected %d)",
                 (int)response->result_case, expected_result);
        frame_response_free(response);
        return CLI_EXIT_FAILURE;
    }
    *response_out = response;
    return 0;
}
