/*
 * test_metrics.c — borsellinod --metrics: the Prometheus endpoint
 * (server/metrics.c) scraped over a raw socket, its figures checked
 * exactly against known activity, its HTTP answers to anything but
 * GET /metrics, its request bounds (size, time), and the config key.
 *
 * The activity of the "activity" case, one request at a time on one
 * connection so that every group holds exactly one request: 10 accounts
 * in one request, 100 transfers in two requests of 50, one empty (refused)
 * create_transfers, one status request. Hence 5 groups of 10, 50, 50, 1
 * and 1 events (a request without events counts as 1, as the group bound
 * counts it) and 110 journal records.
 */
#include "server_fixture.h"

enum {
    HTTP_RESPONSE_MAX = 1 << 20,
    HTTP_TIMEOUT_MS = 10000,
    /* server/metrics.h's METRICS_REQUEST_SIZE_MAX and _TIMEOUT_MS, from
     * the documentation rather than the header (a contract test). */
    REQUEST_SIZE_MAX = 8 * 1024,
    REQUEST_TIMEOUT_MS = 5000,
};

static const char *const metrics_args[] = {"--metrics", "127.0.0.1:0", NULL};

/* The port of the "event=metrics_listening address=127.0.0.1:PORT" line. */
static uint16_t metrics_port(const server_t *server) {
    char *text = xcalloc(LOG_READ_MAX, 1);
    uint16_t port = 0;
    uint64_t deadline = now_us() + 5000 * UINT64_C(1000);
    while (port == 0 && now_us() < deadline) {
        file_read(server->log, text, LOG_READ_MAX);
        const char *line = strstr(text, "event=metrics_listening address=127.0.0.1:");
        const char *end = line ? strchr(line, '\n') : NULL;
        if (end != NULL) port = (uint16_t)strtoul(strrchr(line, ':') + 1, NULL, 10);
        if (port == 0) sleep_ms(5);
    }
    free(text);
    TEST_CHECK(port != 0);
    return port;
}

static int http_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    TEST_REQUIRE(fd >= 0);
    struct timeval timeout = {HTTP_TIMEOUT_MS / 1000, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    TEST_REQUIRE(connect(fd, (const struct sockaddr *)&address, sizeof address) == 0);
    return fd;
}

/* Reads until the server closes (or the timeout); returns the text
 * (malloc'd, NUL-terminated). *closed_out: the server closed it. */
static char *http_read_all(int fd, bool *closed_out) {
    char *text = xcalloc(HTTP_RESPONSE_MAX + 1, 1);
    size_t used = 0;
    *closed_out = false;
    while (used < HTTP_RESPONSE_MAX) {
        ssize_t n = recv(fd, text + used, HTTP_RESPONSE_MAX - used, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            *closed_out = true;
            break;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break; /* timeout */
        used += (size_t)n;
    }
    text[used] = '\0';
    return text;
}

/* Sends `request` raw and returns the whole answer (malloc'd). */
static char *http_exchange(uint16_t port, const char *request, size_t size) {
    int fd = http_connect(port);
    TEST_CHECK_EQ((size_t)send(fd, request, size, MSG_NOSIGNAL), size);
    bool closed = false;
    char *answer = http_read_all(fd, &closed);
    TEST_CHECK(closed); /* Connection: close */
    close(fd);
    return answer;
}

static int http_status(const char *answer) {
    if (strncmp(answer, "HTTP/1.1 ", 9) != 0) return -1;
    return atoi(answer + 9);
}

/* GET /metrics; returns the body (malloc'd) after checking the head. */
static char *scrape(uint16_t port) {
    static const char request[] = "GET /metrics HTTP/1.1\r\nHost: test\r\n"
                                  "User-Agent: test_metrics\r\n\r\n";
    char *answer = http_exchange(port, request, sizeof request - 1);
    TEST_CHECK_EQ(http_status(answer), 200);
    TEST_CHECK(strstr(answer, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n")
               != NULL);
    char *body = strstr(answer, "\r\n\r\n");
    TEST_REQUIRE(body != NULL);
    const char *length = strstr(answer, "\r\nContent-Length: ");
    TEST_REQUIRE(length != NULL);
    TEST_CHECK_EQ(strtoull(length + 18, NULL, 10), strlen(body + 4));
    char *copy = strdup(body + 4);
    free(answer);
    return copy;
}

/* The value of the sample `series` (name with labels, exactly as
 * rendered); checks that it appears once. UINT64_MAX when missing. */
static uint64_t sample(const char *body, const char *series) {
    size_t length = strlen(series);
    uint64_t value = UINT64_MAX;
    int found = 0;
    for (const char *line = body; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, series, length) == 0 && line[length] == ' ') {
            value = strtoull(line + length + 1, NULL, 10);
            found++;
        }
        line = end ? end + 1 : NULL;
    }
    if (found != 1) printf("# series %s found %d times\n", series, found);
    TEST_CHECK_EQ(found, 1);
    return value;
}

#define CHECK_SAMPLE(body, series, expected)                                   \
    do {                                                                       \
        uint64_t actual_ = sample((body), (series));                           \
        if (actual_ != (uint64_t)(expected)) {                                 \
            printf("# %s = %llu, expected %llu\n", (series),                   \
                   (unsigned long long)actual_, (unsigned long long)(expected)); \
        }                                                                      \
        TEST_CHECK_EQ(actual_, (uint64_t)(expected));                         \
    } while (0)

/* Every sample line is "NAME[{LABELS}] VALUE" of a family that has HELP
 * and TYPE lines before it; every family named in the docs is there. */
static void check_format(const char *body) {
    static const char *const families[][2] = {
        {"requests_total", "counter"},     {"events_committed_total", "counter"},
        {"group_events", "histogram"},     {"commit_latency_seconds", "histogram"},
        {"queue_depth", "gauge"},          {"connections", "gauge"},
        {"journal_sequence", "gauge"},     {"checkpoint_age_events", "gauge"},
        {"lmdb_map_size_bytes", "gauge"},  {"lmdb_map_used_bytes", "gauge"},
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char help[128], type[128];
        snprintf(help, sizeof help, "# HELP borsellino_%s ", families[i][0]);
        snprintf(type, sizeof type, "# TYPE borsellino_%s %s\n", families[i][0], families[i][1]);
        const char *help_at = strstr(body, help);
        const char *type_at = strstr(body, type);
        TEST_CHECK(help_at != NULL && type_at != NULL && help_at < type_at);
    }
    TEST_CHECK(strlen(body) > 0 && body[strlen(body) - 1] == '\n');
    for (const char *line = body; *line != '\0';) {
        const char *end = strchr(line, '\n');
        TEST_REQUIRE(end != NULL);
        if (line[0] != '#') {
            TEST_CHECK(strncmp(line, "borsellino_", 11) == 0);
            const char *space = memchr(line, ' ', (size_t)(end - line));
            TEST_CHECK(space != NULL && space + 1 < end);
            char *number_end = NULL;
            if (space != NULL) (void)strtod(space + 1, &number_end);
            TEST_CHECK(number_end == end);
        }
        line = end + 1;
    }
}

static void activity(conn_t *conn) {
    TEST_CHECK(create_accounts_range(conn, 1, 10, &case_failures));
    ledger_transfer_t transfers[100];
    for (uint32_t i = 0; i < 100; i++) {
        transfers[i] = transfer_make(1000 + i, 1 + i % 10, 1 + (i + 1) % 10, 1 + i);
    }
    TEST_CHECK(create_transfers_ok(conn, transfers, 50, NULL, &case_failures));
    TEST_CHECK(create_transfers_ok(conn, transfers + 50, 50, NULL, &case_failures));
    uint64_t request_id = ++conn->request_id_last;
    expect_status(conn, request_id, request_create_transfers(request_id, NULL, 0),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY, &case_failures);
    TEST_CHECK(status_ok(conn, &case_failures));
}

static void test_activity(void) {
    server_t server;
    server_init(&server, "metrics-activity", metrics_args);
    if (!server_start(&server)) goto done;
    uint16_t port = metrics_port(&server);
    char *before = scrape(port);
    check_format(before);
    /* Nothing asked yet: no request series, empty histograms. */
    TEST_CHECK(strstr(before, "borsellino_requests_total{") == NULL);
    CHECK_SAMPLE(before, "borsellino_events_committed_total", 0);
    CHECK_SAMPLE(before, "borsellino_group_events_count", 0);
    CHECK_SAMPLE(before, "borsellino_connections", 0);
    uint64_t journal_before = sample(before, "borsellino_journal_sequence");
    conn_t conn;
    TEST_REQUIRE(conn_open(&conn, server.port, &case_failures));
    activity(&conn);
    char *body = scrape(port);
    check_format(body);
    CHECK_SAMPLE(body, "borsellino_requests_total{op=\"create_accounts\",status=\"ok\"}", 1);
    CHECK_SAMPLE(body, "borsellino_requests_total{op=\"create_transfers\",status=\"ok\"}", 2);
    CHECK_SAMPLE(body,
                 "borsellino_requests_total{op=\"create_transfers\",status=\"batch_empty\"}", 1);
    CHECK_SAMPLE(body, "borsellino_requests_total{op=\"status\",status=\"ok\"}", 1);
    CHECK_SAMPLE(body, "borsellino_events_committed_total", 110);
    CHECK_SAMPLE(body, "borsellino_journal_sequence", journal_before + 110);
    CHECK_SAMPLE(body, "borsellino_group_events_count", 5);
    CHECK_SAMPLE(body, "borsellino_group_events_sum", 112);
    CHECK_SAMPLE(body, "borsellino_group_events_bucket{le=\"1\"}", 2);
    CHECK_SAMPLE(body, "borsellino_group_events_bucket{le=\"8\"}", 2);
    CHECK_SAMPLE(body, "borsellino_group_events_bucket{le=\"16\"}", 3);
    CHECK_SAMPLE(body, "borsellino_group_events_bucket{le=\"32\"}", 3);
    CHECK_SAMPLE(body, "borsellino_group_events_bucket{le=\"64\"}", 5);
    CHECK_SAMPLE(body, "borsellino_group_events_bucket{le=\"+Inf\"}", 5);
    CHECK_SAMPLE(body, "borsellino_commit_latency_seconds_count", 5);
    CHECK_SAMPLE(body, "borsellino_commit_latency_seconds_bucket{le=\"+Inf\"}", 5);
    CHECK_SAMPLE(body, "borsellino_queue_depth", 0);
    CHECK_SAMPLE(body, "borsellino_connections", 1);
    uint64_t age = sample(body, "borsellino_checkpoint_age_events");
    TEST_CHECK(age >= 110 && age <= journal_before + 110);
    uint64_t map_size = sample(body, "borsellino_lmdb_map_size_bytes");
    uint64_t map_used = sample(body, "borsellino_lmdb_map_used_bytes");
    TEST_CHECK(map_used > 0 && map_used <= map_size);
    /* The main protocol is unaffected, and a closed connection counts. */
    TEST_CHECK(status_ok(&conn, &case_failures));
    conn_close(&conn);
    uint64_t deadline = now_us() + CLOSE_TIMEOUT_MS * UINT64_C(1000);
    uint64_t connections = 1;
    while (connections != 0 && now_us() < deadline) {
        char *after = scrape(port);
        connections = sample(after, "borsellino_connections");
        free(after);
        if (connections != 0) sleep_ms(10);
    }
    TEST_CHECK_EQ(connections, 0);
    free(before);
    free(body);
    server_stop(&server);
done:
    server_destroy(&server);
}

static void expect_http(uint16_t port, const char *request, size_t size, int status) {
    char *answer = http_exchange(port, request, size);
    if (http_status(answer) != status) {
        printf("# %.40s... answered %.40s, expected %d\n", request, answer, status);
    }
    TEST_CHECK_EQ(http_status(answer), status);
    TEST_CHECK(strstr(answer, "\r\nConnection: close\r\n") != NULL);
    free(answer);
}

#define EXPECT_HTTP(port, text, status) expect_http((port), (text), sizeof(text) - 1, (status))

/* Anything but GET /metrics: 404, 405 or 400; bounds on size and time;
 * the server (both protocols) keeps working; `metrics` as a config key. */
static void test_http_errors(void) {
    server_t server;
    char config_path[PATH_MAX + 32];
    const char *const args[] = {"--config", config_path, NULL};
    server_init(&server, "metrics-http", args);
    snprintf(config_path, sizeof config_path, "%s/borsellinod.conf", server.directory);
    FILE *config = fopen(config_path, "w");
    TEST_REQUIRE(config != NULL);
    fputs("# the metrics listener, from the config file\nmetrics = 127.0.0.1:0\n", config);
    fclose(config);
    if (!server_start(&server)) goto done;
    uint16_t port = metrics_port(&server);
    EXPECT_HTTP(port, "GET / HTTP/1.1\r\n\r\n", 404);
    EXPECT_HTTP(port, "GET /metricsx HTTP/1.1\r\n\r\n", 404);
    EXPECT_HTTP(port, "GET /other HTTP/1.0\r\n\r\n", 404);
    EXPECT_HTTP(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405);
    EXPECT_HTTP(port, "HEAD /metrics HTTP/1.1\r\n\r\n", 405);
    EXPECT_HTTP(port, "GARBAGE\r\n\r\n", 400);
    EXPECT_HTTP(port, "GET /metrics\r\n\r\n", 400);
    EXPECT_HTTP(port, "GET /metrics HTTP/2.0\r\n\r\n", 400);
    EXPECT_HTTP(port, "GET  /metrics HTTP/1.1\r\n\r\n", 400);
    EXPECT_HTTP(port, "\r\n\r\n", 400);
    /* Still fine: HTTP/1.0, a query string, bare line feeds. */
    EXPECT_HTTP(port, "GET /metrics HTTP/1.0\r\n\r\n", 200);
    EXPECT_HTTP(port, "GET /metrics?name[]=x HTTP/1.1\r\n\r\n", 200);
    EXPECT_HTTP(port, "GET /metrics HTTP/1.1\n\n", 200);
    /* A request larger than the bound: 400 once the bound is reached. */
    char *large = xcalloc(REQUEST_SIZE_MAX + 1024, 1);
    memset(large, 'a', REQUEST_SIZE_MAX + 1000);
    memcpy(large, "GET /metrics HTTP/1.1\r\nX: ", 26);
    expect_http(port, large, REQUEST_SIZE_MAX + 1000, 400);
    free(large);
    /* A request that never ends is closed without an answer in time. */
    int fd = http_connect(port);
    static const char partial[] = "GET /metrics HTTP/1.1\r\nHost: slow\r\n";
    TEST_CHECK_EQ(send(fd, partial, sizeof partial - 1, MSG_NOSIGNAL),
                  (ssize_t)(sizeof partial - 1));
    uint64_t start = now_us();
    bool closed = false;
    char *nothing = http_read_all(fd, &closed);
    uint64_t waited_ms = (now_us() - start) / 1000;
    TEST_CHECK(closed);
    TEST_CHECK_EQ(strlen(nothing), 0);
    TEST_CHECK(waited_ms >= REQUEST_TIMEOUT_MS - 100 && waited_ms < HTTP_TIMEOUT_MS);
    free(nothing);
    close(fd);
    /* Both listeners still serve. */
    conn_t conn;
    TEST_REQUIRE(conn_open(&conn, server.port, &case_failures));
    TEST_CHECK(status_ok(&conn, &case_failures));
    conn_close(&conn);
    char *body = scrape(port);
    check_format(body);
    CHECK_SAMPLE(body, "borsellino_requests_total{op=\"status\",status=\"ok\"}", 1);
    free(body);
    server_stop(&server);
done:
    server_destroy(&server);
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (server_binary() == NULL) {
        printf("1..0 # SKIP BORSELLINOD is not set (run through meson test)\n");
        return 0;
    }
    static const test_case_t cases[] = {
        {"activity", test_activity},
        {"http_errors", test_http_errors},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
