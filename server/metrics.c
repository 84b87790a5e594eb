/*
 * metrics.c — the figures of borsellinod and their HTTP endpoint.
 *
 * Counting: the writer thread adds to atomic counters once per group and
 * stores the ledger's figures after each group; the loop thread adds once
 * per answered request, as the answer goes out, and reads them all when a
 * scrape comes. Relaxed atomics are enough: every figure is independent, and a
 * scrape is a sample, not a transaction. A histogram is rendered from one
 * load of each bucket, and its _count is the sum of those loads, so that
 * the +Inf bucket always equals _count as Prometheus requires.
 *
 * Serving: a second libuv TCP listener in the server's loop. A scrape
 * connection reads at most METRICS_REQUEST_SIZE_MAX bytes, must send its
 * whole request (up to the blank line after the headers) within
 * METRICS_REQUEST_TIMEOUT_MS of accept, gets one answer and is closed
 * (Connection: close). At most METRICS_CONNECTIONS_MAX are open at once.
 * Expected workload: one scrape every few seconds, a body of a few KiB.
 *
 * Lifetime: a scrape connection's memory is freed when both its handles
 * (socket, timer) are closed; the server's when its listener is closed and
 * every scrape connection is freed.
 */
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "borsellino.pb-c.h"
#include "metrics.h"
#include "server.h"

enum {
    GROUP_EVENTS_BUCKETS = 15,  /* 14 bounds and +Inf */
    LATENCY_BUCKETS = 15,       /* 14 bounds and +Inf */
    LISTEN_BACKLOG = 64,
};

/* Events per group: powers of two up to 1024, then by four up to 65536
 * (the default group_events_max). */
static const uint64_t group_events_bounds[GROUP_EVENTS_BUCKETS - 1] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536};

/* Commit latency, nanoseconds: 100 µs to 2.5 s, 1-2.5-5 steps (a durable
 * commit on an SSD is about 0.1 to 2 ms; seconds mean trouble). */
static const uint64_t latency_bounds_ns[LATENCY_BUCKETS - 1] = {
    100000,   250000,    500000,    1000000,   2500000,   5000000,    10000000,
    25000000, 50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000};

static const char *const latency_bounds_text[LATENCY_BUCKETS - 1] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025",  "0.05",    "0.1",    "0.25",  "0.5",    "1",     "2.5"};

struct metrics {
    atomic_uint_fast64_t requests[METRICS_OPS_MAX][METRICS_STATUSES_MAX];
    atomic_uint_fast64_t events_committed;
    atomic_uint_fast64_t group_events_buckets[GROUP_EVENTS_BUCKETS];
    atomic_uint_fast64_t group_events_sum;
    atomic_uint_fast64_t latency_buckets[LATENCY_BUCKETS];
    atomic_uint_fast64_t latency_sum_ns;
    atomic_uint_fast64_t queue_depth;
    atomic_uint_fast64_t connections;
    atomic_uint_fast64_t journal_sequence;
    atomic_uint_fast64_t checkpoint_sequence;
    atomic_uint_fast64_t map_size;
    atomic_uint_fast64_t map_used;
};

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define ADD(x, v) atomic_fetch_add_explicit(&(x), (v), memory_order_relaxed)

int metrics_create(metrics_t **metrics_out) {
    metrics_t *metrics = calloc(1, sizeof(*metrics));
    if (metrics == NULL) return UV_ENOMEM;
    /* calloc's zero bytes are a valid zero for lock-free atomics, which
     * every 64-bit target we build on has; say so rather than assume. */
    static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
    *metrics_out = metrics;
    return 0;
}

void metrics_free(metrics_t *metrics) {
    free(metrics);
}

void metrics_request_count(metrics_t *metrics, uint32_t op_case, uint32_t status) {
    if (metrics == NULL) return;
    /* Index 0 of each dimension is "unknown" (op 0 is "no operation";
     * status 0 is OK, so unknown statuses take the last index). */
    uint32_t op = op_case < METRICS_OPS_MAX ? op_case : 0;
    uint32_t status_index = status < METRICS_STATUSES_MAX - 1 ? status : METRICS_STATUSES_MAX - 1;
    ADD(metrics->requests[op][status_index], 1);
}

void metrics_group_observe(metrics_t *metrics, uint64_t events, uint64_t latency_ns,
                           uint64_t events_committed) {
    if (metrics == NULL) return;
    size_t bucket = 0;
    while (bucket < GROUP_EVENTS_BUCKETS - 1 && events > group_events_bounds[bucket]) bucket++;
    ADD(metrics->group_events_buckets[bucket], 1);
    ADD(metrics->group_events_sum, events);
    bucket = 0;
    while (bucket < LATENCY_BUCKETS - 1 && latency_ns > latency_bounds_ns[bucket]) bucket++;
    ADD(metrics->latency_buckets[bucket], 1);
    ADD(metrics->latency_sum_ns, latency_ns);
    ADD(metrics->events_committed, events_committed);
}

void metrics_ledger_publish(metrics_t *metrics, const ledger_stats_t *stats) {
    if (metrics == NULL) return;
    assert(stats->checkpoint_sequence <= stats->journal_sequence);
    STORE(metrics->journal_sequence, stats->journal_sequence);
    STORE(metrics->checkpoint_sequence, stats->checkpoint_sequence);
    STORE(metrics->map_size, stats->map_size);
    STORE(metrics->map_used, stats->map_used);
}

void metrics_queue_depth_set(metrics_t *metrics, uint32_t depth) {
    if (metrics != NULL) STORE(metrics->queue_depth, depth);
}

void metrics_connections_set(metrics_t *metrics, uint32_t connections) {
    if (metrics != NULL) STORE(metrics->connections, connections);
}

/* ---- rendering ---- */

typedef struct text {
    char *data;
    size_t used;
    size_t capacity;
    bool failed; /* out of memory, or past METRICS_BODY_SIZE_MAX */
} text_t;

static void text_append(text_t *text, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void text_append(text_t *text, const char *format, ...) {
    if (text->failed) return;
    for (;;) {
        va_list arguments;
        va_start(arguments, format);
        size_t room = text->capacity - text->used;
        int length = vsnprintf(text->data ? text->data + text->used : NULL, room, format,
                               arguments);
        va_end(arguments);
        assert(length >= 0);
        if ((size_t)length < room) {
            text->used += (size_t)length;
            return;
        }
        size_t capacity = text->capacity ? text->capacity * 2 : 4096;
        while (capacity < text->used + (size_t)length + 1) capacity *= 2;
        char *grown = capacity <= METRICS_BODY_SIZE_MAX ? realloc(text->data, capacity) : NULL;
        if (grown == NULL) {
            text->failed = true;
            return;
        }
        text->data = grown;
        text->capacity = capacity;
    }
}

static void header(text_t *text, const char *name, const char *type, const char *help) {
    text_append(text, "# HELP borsellino_%s %s\n# TYPE borsellino_%s %s\n", name, help, name,
                type);
}

static void single(text_t *text, const char *name, const char *type, const char *help,
                   uint64_t value) {
    header(text, name, type, help);
    text_append(text, "borsellino_%s %llu\n", name, (unsigned long long)value);
}

/* The proto field name of an operation ("create_transfers"). */
static const char *op_name(uint32_t op) {
    if (op <= 1) return "unknown"; /* 0: none; 1 is request_id */
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field(&borsellino__v1__request__descriptor, op);
    return field != NULL ? field->name : "unknown";
}

/* The proto Status name without "STATUS_", lowercased ("batch_empty"). */
static void status_name(uint32_t status, char *out, size_t size) {
    const ProtobufCEnumValue *value =
        status < METRICS_STATUSES_MAX - 1
            ? protobuf_c_enum_descriptor_get_value(&borsellino__v1__status__descriptor,
                                                   (int)status)
            : NULL;
    const char *name = value != NULL ? value->name : "unknown";
    if (strncmp(name, "STATUS_", 7) == 0) name += 7;
    size_t i = 0;
    for (; name[i] != '\0' && i + 1 < size; i++) out[i] = (char)tolower((unsigned char)name[i]);
    out[i] = '\0';
}

static void render_requests(text_t *text, metrics_t *metrics) {
    header(text, "requests_total", "counter",
           "Requests answered, by operation and response status.");
    for (uint32_t op = 0; op < METRICS_OPS_MAX; op++) {
        for (uint32_t status = 0; status < METRICS_STATUSES_MAX; status++) {
            uint64_t count = LOAD(metrics->requests[op][status]);
            if (count == 0) continue;
            char name[64];
            status_name(status, name, sizeof(name));
            text_append(text, "borsellino_requests_total{op=\"%s\",status=\"%s\"} %llu\n",
                        op_name(op), name, (unsigned long long)count);
        }
    }
}

static void render_group_events(text_t *text, metrics_t *metrics) {
    header(text, "group_events", "histogram", "Events per group commit.");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < GROUP_EVENTS_BUCKETS; b++) {
        cumulative += LOAD(metrics->group_events_buckets[b]);
        if (b < GROUP_EVENTS_BUCKETS - 1) {
            text_append(text, "borsellino_group_events_bucket{le=\"%llu\"} %llu\n",
                        (unsigned long long)group_events_bounds[b],
                        (unsigned long long)cumulative);
        } else {
            text_append(text, "borsellino_group_events_bucket{le=\"+Inf\"} %llu\n",
                        (unsigned long long)cumulative);
        }
    }
    text_append(text, "borsellino_group_events_sum %llu\nborsellino_group_events_count %llu\n",
                (unsigned long long)LOAD(metrics->group_events_sum),
                (unsigned long long)cumulative);
}

static void render_latency(text_t *text, metrics_t *metrics) {
    header(text, "commit_latency_seconds", "histogram",
           "Seconds from opening a write group to its durable commit.");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < LATENCY_BUCKETS; b++) {
        cumulative += LOAD(metrics->latency_buckets[b]);
        text_append(text, "borsellino_commit_latency_seconds_bucket{le=\"%s\"} %llu\n",
                    b < LATENCY_BUCKETS - 1 ? latency_bounds_text[b] : "+Inf",
                    (unsigned long long)cumulative);
    }
    uint64_t sum_ns = LOAD(metrics->latency_sum_ns);
    text_append(text, "borsellino_commit_latency_seconds_sum %llu.%09llu\n"
                      "borsellino_commit_latency_seconds_count %llu\n",
                (unsigned long long)(sum_ns / 1000000000u),
                (unsigned long long)(sum_ns % 1000000000u), (unsigned long long)cumulative);
}

int metrics_render(metrics_t *metrics, char **text_out, size_t *size_out) {
    assert(metrics != NULL);
    text_t text = {NULL, 0, 0, false};
    render_requests(&text, metrics);
    single(&text, "events_committed_total", "counter",
           "Journal records (events) committed by group commits.",
           LOAD(metrics->events_committed));
    render_group_events(&text, metrics);
    render_latency(&text, metrics);
    single(&text, "queue_depth", "gauge", "Requests submitted to the writer and not yet answered.",
           LOAD(metrics->queue_depth));
    single(&text, "connections", "gauge", "Protocol connections open.",
           LOAD(metrics->connections));
    uint64_t journal = LOAD(metrics->journal_sequence);
    uint64_t checkpoint = LOAD(metrics->checkpoint_sequence);
    single(&text, "journal_sequence", "gauge", "Sequence of the last journal record.", journal);
    single(&text, "checkpoint_age_events", "gauge",
           "Journal records written since the last account checkpoint.",
           journal >= checkpoint ? journal - checkpoint : 0);
    single(&text, "lmdb_map_size_bytes", "gauge", "Current LMDB map size.",
           LOAD(metrics->map_size));
    single(&text, "lmdb_map_used_bytes", "gauge", "Bytes of the LMDB map in use.",
           LOAD(metrics->map_used));
    if (text.failed) {
        free(text.data);
        return UV_ENOMEM;
    }
    *text_out = text.data;
    *size_out = text.used;
    return 0;
}

/* ---- HTTP ---- */

struct metrics_server {
    uv_tcp_t listener;
    uv_loop_t *loop;
    metrics_t *metrics;
    struct scrape *scrapes; /* open, not closing */
    uint32_t scrapes_open;  /* in the list */
    uint32_t scrapes_alive; /* not yet freed */
    bool listener_closed;
    bool closing;
};

typedef struct scrape {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write;
    uv_shutdown_t shutdown;
    metrics_server_t *server;
    struct scrape *previous, *next;
    char *response;  /* the answer, until the scrape is freed */
    size_t used;
    int handles_open;
    bool closing;
    bool answered;
    char buffer[METRICS_REQUEST_SIZE_MAX];
} scrape_t;

static void server_free_if_done(metrics_server_t *server) {
    if (server->listener_closed && server->scrapes_alive == 0) free(server);
}

static void scrape_handle_closed(uv_handle_t *handle) {
    scrape_t *scrape = handle->data;
    if (--scrape->handles_open > 0) return;
    metrics_server_t *server = scrape->server;
    free(scrape->response);
    free(scrape);
    server->scrapes_alive--;
    server_free_if_done(server);
}

static void scrape_close(scrape_t *scrape) {
    if (scrape->closing) return;
    scrape->closing = true;
    metrics_server_t *server = scrape->server;
    if (scrape->previous) scrape->previous->next = scrape->next;
    else server->scrapes = scrape->next;
    if (scrape->next) scrape->next->previous = scrape->previous;
    server->scrapes_open--;
    uv_close((uv_handle_t *)&scrape->tcp, scrape_handle_closed);
    uv_close((uv_handle_t *)&scrape->timer, scrape_handle_closed);
}

/* After our end of stream, the peer is expected to close its side; until
 * then (bounded by the timer) what it sends is read and dropped. Closing
 * with unread bytes would send a reset, which can destroy the answer in
 * the peer's receive buffer before it reads it. */
static void on_scrape_shutdown(uv_shutdown_t *request, int status) {
    if (status < 0) scrape_close(request->data);
}

static void on_scrape_write(uv_write_t *request, int status) {
    scrape_t *scrape = request->data;
    if (status < 0 || scrape->closing) {
        scrape_close(scrape);
        return;
    }
    /* Shut our side down before closing, so the peer reads the whole
     * answer even if it sent more than we read. */
    scrape->shutdown.data = scrape;
    if (uv_shutdown(&scrape->shutdown, (uv_stream_t *)&scrape->tcp, on_scrape_shutdown) != 0) {
        scrape_close(scrape);
    }
}

static void on_scrape_timeout(uv_timer_t *timer);

/* Sends one answer; then the scrape shuts its side down and closes when
 * the peer closes its own, or METRICS_REQUEST_TIMEOUT_MS after the answer. */
static void scrape_answer(scrape_t *scrape, const char *status_line, const char *extra_headers,
                          const char *content_type, const char *body, size_t body_size) {
    assert(!scrape->answered);
    scrape->answered = true;
    scrape->used = 0; /* from now on the buffer only drops what comes */
    uv_timer_start(&scrape->timer, on_scrape_timeout, METRICS_REQUEST_TIMEOUT_MS, 0);
    char head[512];
    int head_size = snprintf(head, sizeof(head),
                             "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                             "%sConnection: close\r\n\r\n",
                             status_line, content_type, body_size, extra_headers);
    assert(head_size > 0 && (size_t)head_size < sizeof(head));
    scrape->response = malloc((size_t)head_size + body_size);
    if (scrape->response == NULL) {
        scrape_close(scrape);
        return;
    }
    memcpy(scrape->response, head, (size_t)head_size);
    memcpy(scrape->response + head_size, body, body_size);
    uv_buf_t buffer = uv_buf_init(scrape->response, (unsigned int)((size_t)head_size + body_size));
    scrape->write.data = scrape;
    if (uv_write(&scrape->write, (uv_stream_t *)&scrape->tcp, &buffer, 1, on_scrape_write) != 0) {
        scrape_close(scrape);
    }
}

static void scrape_error(scrape_t *scrape, const char *status_line, const char *extra_headers,
                         const char *message) {
    scrape_answer(scrape, status_line, extra_headers, "text/plain; charset=utf-8", message,
                  strlen(message));
}

/* A token of the request line: printable ASCII without spaces. */
static bool token_ok(const char *start, size_t length) {
    if (length == 0) return false;
    for (size_t i = 0; i < length; i++) {
        if (start[i] <= ' ' || start[i] > '~') return false;
    }
    return true;
}

/* Answers the request line `line` (without its line end). */
static void scrape_route(scrape_t *scrape, const char *line, size_t length) {
    const char *space1 = memchr(line, ' ', length);
    const char *space2 = space1 ? memchr(space1 + 1, ' ', length - (size_t)(space1 + 1 - line))
                                : NULL;
    const char *version = space2 ? space2 + 1 : NULL;
    size_t version_length = version ? length - (size_t)(version - line) : 0;
    if (space2 == NULL || !token_ok(line, (size_t)(space1 - line)) ||
        !token_ok(space1 + 1, (size_t)(space2 - space1 - 1)) ||
        version_length != 8 ||
        (memcmp(version, "HTTP/1.1", 8) != 0 && memcmp(version, "HTTP/1.0", 8) != 0)) {
        scrape_error(scrape, "400 Bad Request", "", "bad request line\n");
        return;
    }
    if ((size_t)(space1 - line) != 3 || memcmp(line, "GET", 3) != 0) {
        scrape_error(scrape, "405 Method Not Allowed", "Allow: GET\r\n", "only GET\n");
        return;
    }
    const char *target = space1 + 1;
    size_t path_length = (size_t)(space2 - target);
    const char *query = memchr(target, '?', path_length);
    if (query != NULL) path_length = (size_t)(query - target);
    if (path_length != 8 || memcmp(target, "/metrics", 8) != 0) {
        scrape_error(scrape, "404 Not Found", "", "only /metrics\n");
        return;
    }
    char *body = NULL;
    size_t body_size = 0;
    if (metrics_render(scrape->server->metrics, &body, &body_size) != 0) {
        scrape_error(scrape, "500 Internal Server Error", "", "out of memory\n");
        return;
    }
    scrape_answer(scrape, "200 OK", "", "text/plain; version=0.0.4; charset=utf-8", body,
                  body_size);
    free(body);
}

/* The end of the headers ("\r\n\r\n", or a bare "\n\n"), or NULL. */
static const char *headers_end(const char *buffer, size_t size) {
    for (size_t i = 0; i + 1 < size; i++) {
        if (buffer[i] == '\n' && buffer[i + 1] == '\n') return buffer + i;
        if (i + 3 < size && memcmp(buffer + i, "\r\n\r\n", 4) == 0) return buffer + i;
    }
    return NULL;
}

static void on_scrape_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer) {
    (void)suggested;
    scrape_t *scrape = handle->data;
    /* Never empty while reading: a full buffer is answered at once. */
    assert(scrape->used < sizeof(scrape->buffer));
    buffer->base = scrape->buffer + scrape->used;
    buffer->len = sizeof(scrape->buffer) - scrape->used;
}

static void on_scrape_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buffer) {
    (void)buffer;
    scrape_t *scrape = stream->data;
    if (scrape->closing) return;
    if (nread < 0) {
        scrape_close(scrape); /* gone: before a whole request, or after the answer */
        return;
    }
    if (scrape->answered) return; /* dropped; scrape->used stays 0 */
    scrape->used += (size_t)nread;
    assert(scrape->used <= sizeof(scrape->buffer));
    if (headers_end(scrape->buffer, scrape->used) == NULL) {
        if (scrape->used == sizeof(scrape->buffer)) {
            scrape_error(scrape, "400 Bad Request", "", "request larger than 8192 bytes\n");
        }
        return;
    }
    const char *line_end = memchr(scrape->buffer, '\n', scrape->used);
    assert(line_end != NULL);
    size_t length = (size_t)(line_end - scrape->buffer);
    if (length > 0 && scrape->buffer[length - 1] == '\r') length--;
    scrape_route(scrape, scrape->buffer, length);
}

static void on_scrape_timeout(uv_timer_t *timer) {
    scrape_close(timer->data);
}

static void on_scrape_connection(uv_stream_t *listener, int status) {
    metrics_server_t *server = listener->data;
    if (status < 0 || server->closing) return;
    scrape_t *scrape = calloc(1, sizeof(*scrape));
    if (scrape == NULL) return;
    scrape->server = server;
    uv_tcp_init(server->loop, &scrape->tcp);
    uv_timer_init(server->loop, &scrape->timer);
    scrape->tcp.data = scrape;
    scrape->timer.data = scrape;
    scrape->handles_open = 2;
    scrape->next = server->scrapes;
    if (server->scrapes) server->scrapes->previous = scrape;
    server->scrapes = scrape;
    server->scrapes_open++;
    server->scrapes_alive++;
    if (uv_accept(listener, (uv_stream_t *)&scrape->tcp) != 0 ||
        server->scrapes_open > METRICS_CONNECTIONS_MAX) {
        scrape_close(scrape);
        return;
    }
    uv_timer_start(&scrape->timer, on_scrape_timeout, METRICS_REQUEST_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)&scrape->tcp, on_scrape_alloc, on_scrape_read) != 0) {
        scrape_close(scrape);
    }
}

static void on_listener_closed(uv_handle_t *handle) {
    metrics_server_t *server = handle->data;
    server->listener_closed = true;
    server_free_if_done(server);
}

static void log_bound_address(metrics_server_t *server) {
    struct sockaddr_storage address;
    int length = sizeof(address);
    char host[64] = "";
    uv_tcp_getsockname(&server->listener, (struct sockaddr *)&address, &length);
    if (address.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&address, host, sizeof(host));
        server_log("metrics_listening", "address=[%s]:%d", host,
                   ntohs(((struct sockaddr_in6 *)&address)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&address, host, sizeof(host));
        server_log("metrics_listening", "address=%s:%d", host,
                   ntohs(((struct sockaddr_in *)&address)->sin_port));
    }
}

int metrics_server_start(uv_loop_t *loop, const char *address_text,
                         const struct sockaddr *address, metrics_t *metrics,
                         metrics_server_t **server_out) {
    assert(loop != NULL && metrics != NULL);
    metrics_server_t *server = calloc(1, sizeof(*server));
    if (server == NULL) return UV_ENOMEM;
    server->loop = loop;
    server->metrics = metrics;
    uv_tcp_init(loop, &server->listener);
    server->listener.data = server;
    int error = uv_tcp_bind(&server->listener, address, 0);
    if (!error) {
        error = uv_listen((uv_stream_t *)&server->listener, LISTEN_BACKLOG, on_scrape_connection);
    }
    if (error) {
        server_log("metrics_listen_failed", "address=%s error=\"%s\"", address_text,
                   uv_strerror(error));
        server->closing = true;
        uv_close((uv_handle_t *)&server->listener, on_listener_closed);
        return error;
    }
    log_bound_address(server);
    *server_out = server;
    return 0;
}

void metrics_server_close(metrics_server_t *server) {
    if (server == NULL || server->closing) return;
    server->closing = true;
    uv_close((uv_handle_t *)&server->listener, on_listener_closed);
    while (server->scrapes != NULL) scrape_close(server->scrapes);
}
