/*
 * test_server.c — borsellinod under good and hostile clients.
 *
 * Every case starts its own borsellinod (the path comes from $BORSELLINOD,
 * set by meson) on an ephemeral loopback port with its own data directory,
 * talks to it over TCP, and ends it with SIGTERM, asserting exit status 0
 * (SIGKILL only where a case simulates a crash). The client side here is
 * written from the contract alone, proto/frame.h and the protobuf-c code
 * generated from proto/borsellino.proto, and shares no code with the server
 * or tools/client.c: raw-byte attacks need their own sockets anyway, and an
 * independent client cannot hide a bug it shares with the server.
 *
 * Cases:
 *   operations           every operation, every value of the answers checked;
 *   pipelining           1,000 requests sent before any response is read;
 *   concurrent_clients   16 threads, each with its own accounts;
 *   restart_after_*      SIGKILL / SIGTERM in the middle of a client session:
 *                        acknowledged batches survive, a resent batch answers
 *                        `exists`, nothing moves twice;
 *   hostile_*            one attack each (truncated frames, oversized length,
 *                        garbage, no operation, batch limits, connection
 *                        flood, idle connections...), while a "watcher"
 *                        thread keeps a well-behaved session going; it must
 *                        get correct answers during and after the attack,
 *                        each within WATCHER_LATENCY_MAX_MS;
 *   sigterm_in_flight    SIGTERM while clients have requests in flight: every
 *                        answered write is durable, every refused one absent,
 *                        every unanswered one applied whole or not at all.
 *
 * Bounds: every wait has a deadline and every loop a count, so a hung server
 * fails a case instead of hanging the program. The whole program takes a
 * few seconds in an optimized build.
 *
 * Threads: TEST_CHECK is only used by the main thread. Helpers that threads
 * share report into a failures_t (an atomic counter plus one printed line
 * per failure), which the main thread adds to the case when it joins them.
 *
 * Files: under $BORSELLINO_TEST_TMP, one directory per case holding the
 * server's data/ and one server-N.log per start; removed when the case
 * passes, kept (and the logs' tails printed) when it fails.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "frame.h"
#include "ledger.h"
#include "ledger_fixture.h"
#include "test.h"

typedef Borsellino__V1__Request request_t;
typedef Borsellino__V1__Response response_t;

/* ------------------------------------------------------------------------ */
/* Limits                                                                   */

enum {
    /* A sanitized server on a loaded CI machine can be slow to start. */
    SERVER_START_TIMEOUT_MS = 30000,
    /* SIGTERM drains in-flight work and checkpoints; it must end by then. */
    SERVER_STOP_TIMEOUT_MS = 30000,
    /* Extra flags one case passes to the server. */
    SERVER_EXTRA_ARGS_MAX = 8,
    /* How much of a log file is read (looking for the listening line, or
     * to print its tail when a case fails). */
    LOG_READ_MAX = 1 << 20,
    LOG_TAIL_PRINTED = 3000,
    /* Any single response; far above anything a healthy server needs. */
    RESPONSE_TIMEOUT_MS = 10000,
    CONNECT_TIMEOUT_MS = 5000,
    /* How long the server may take to close a connection it must close. */
    CLOSE_TIMEOUT_MS = 5000,
    /* The receive buffer starts here and doubles up to the largest frame. */
    CONN_BUFFER_INITIAL = 64 * 1024,
    /* The ledger and code of every account and transfer unless a case
     * says otherwise (FIXTURE_LEDGER, FIXTURE_CODE of ledger_fixture.h). */
    LEDGER_ID = FIXTURE_LEDGER,
};

/* The well-behaved client that runs during every attack. */
enum {
    /* The bound on every one of its requests' latency. */
    WATCHER_LATENCY_MAX_MS = 1000,
    /* Requests it must complete before an attack, during the moments the
     * attack holds hostile state open, and after it. */
    WATCHER_PROGRESS_REQUESTS = 10,
    /* Hard bounds on its loop, whatever the main thread does. */
    WATCHER_REQUESTS_MAX = 1000000,
    WATCHER_DURATION_MAX_MS = 120000,
    /* Every fourth request is a lookup checking the balance. */
    WATCHER_LOOKUP_EVERY = 4,
};

/* The watcher's accounts and transfers live far above every case's ids. */
#define WATCHER_ID_BASE (UINT64_C(1) << 40)

/* ------------------------------------------------------------------------ */
/* Time and memory                                                          */

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Allocation failure in a test is not a finding: stop at once. */
static void *xcalloc(size_t count, size_t size) {
    void *memory = calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
    if (memory == NULL) {
        printf("Bail out! out of memory\n");
        abort();
    }
    return memory;
}

/* ------------------------------------------------------------------------ */
/* Failures noted by any thread                                             */

typedef struct failures {
    const char *who;
    atomic_int count;
} failures_t;

/* The main thread's sink: added to the running case by failures_collect. */
static failures_t case_failures = {"case", 0};

#define FAIL(failures, ...) failures_note((failures), __LINE__, __VA_ARGS__)

static void failures_note(failures_t *failures, int line, const char *format,
                          ...) __attribute__((format(printf, 3, 4)));

static void failures_note(failures_t *failures, int line, const char *format,
                          ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    atomic_fetch_add(&failures->count, 1);
    /* One printf per line: stdio locks the stream, so lines of different
     * threads never interleave. */
    printf("# %s:%d: %s: %s\n", __FILE__, line, failures->who, message);
    fflush(stdout);
}

/* Main thread only: moves a sink's failures into the running case. */
static void failures_collect(failures_t *failures) {
    test_failures_in_case += atomic_exchange(&failures->count, 0);
}

/* ------------------------------------------------------------------------ */
/* The server under test                                                    */

typedef struct server {
    char directory[PATH_MAX];  /* the case's: data/ and the logs */
    char data[PATH_MAX + 16];
    char log[PATH_MAX + 32];   /* the log of the current (last) start */
    const char *extra_args[SERVER_EXTRA_ARGS_MAX];
    int extra_args_count;
    int starts;
    pid_t pid; /* 0 when not running */
    uint16_t port;
} server_t;

static const char *server_binary(void) {
    const char *path = getenv("BORSELLINOD");
    return path != NULL && path[0] != '\0' ? path : NULL;
}

/* A new case directory; `extra_args` is NULL-terminated, or NULL. */
static void server_init(server_t *server, const char *prefix,
                        const char *const *extra_args) {
    memset(server, 0, sizeof *server);
    fixture_tmp_dir_make(prefix, server->directory, sizeof server->directory);
    snprintf(server->data, sizeof server->data, "%s/data", server->directory);
    for (int i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
        TEST_REQUIRE(i < SERVER_EXTRA_ARGS_MAX);
        server->extra_args[server->extra_args_count++] = extra_args[i];
    }
}

/* Reads the start of a file, NUL-terminated; returns its length. */
static size_t file_read(const char *path, char *buffer, size_t capacity) {
    size_t used = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && used + 1 < capacity) {
        ssize_t n = read(fd, buffer + used, capacity - 1 - used);
        if (n <= 0) break;
        used += (size_t)n;
    }
    if (fd >= 0) close(fd);
    buffer[used] = '\0';
    return used;
}

/* Finds the port in a complete "... event=listening address=HOST:PORT"
 * line of the log text. */
static bool log_listening_port(const char *log, uint16_t *port_out) {
    const char *event = strstr(log, "event=listening");
    if (event == NULL) return false;
    const char *end = strchr(event, '\n');
    if (end == NULL) return false; /* the line is still being written */
    const char *start = event;
    while (start > log && start[-1] != '\n') start--;
    const char *address = strstr(start, "address=");
    if (address == NULL || address > end) return false;
    const char *colon = NULL;
    for (const char *p = address; p < end && *p != ' '; p++) {
        if (*p == ':') colon = p;
    }
    if (colon == NULL) return false;
    unsigned long port = strtoul(colon + 1, NULL, 10);
    if (port == 0 || port > 65535) return false;
    *port_out = (uint16_t)port;
    return true;
}

/* Prints the last LOG_TAIL_PRINTED bytes of every log of the case. */
static void server_logs_print(const server_t *server) {
    char *text = xcalloc(LOG_READ_MAX, 1);
    for (int start = 1; start <= server->starts; start++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/server-%d.log", server->directory, start);
        size_t size = file_read(path, text, LOG_READ_MAX);
        size_t from = size > LOG_TAIL_PRINTED ? size - LOG_TAIL_PRINTED : 0;
        printf("# --- %s (last %zu bytes)\n", path, size - from);
        for (char *line = strtok(text + from, "\n"); line != NULL;
             line = strtok(NULL, "\n")) {
            printf("#   %s\n", line);
        }
    }
    free(text);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void server_exec(const char *log_path, char *const *argv) {
    /* A test program that dies must not leave a server behind. */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (log_fd >= 0) {
        (void)dup2(log_fd, STDERR_FILENO);
        (void)dup2(log_fd, STDOUT_FILENO);
    }
    execv(argv[0], argv);
    _exit(127);
}

/* Waits up to timeout_ms for the server process to end. */
static bool server_wait(server_t *server, uint32_t timeout_ms, int *status_out) {
    uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
    do {
        pid_t pid = waitpid(server->pid, status_out, WNOHANG);
        if (pid == server->pid) {
            server->pid = 0;
            return true;
        }
        sleep_ms(2);
    } while (now_us() < deadline);
    return false;
}

static void server_kill_hard(server_t *server) {
    if (server->pid == 0) return;
    kill(server->pid, SIGKILL);
    int status = 0;
    (void)waitpid(server->pid, &status, 0);
    server->pid = 0;
}

/* Starts the server on its data directory and a new ephemeral port, and
 * waits for its listening line. False (a failed check) if it does not. */
static bool server_start(server_t *server) {
    TEST_REQUIRE(server->pid == 0);
    server->starts++;
    snprintf(server->log, sizeof server->log, "%s/server-%d.log",
             server->directory, server->starts);
    char *argv[6 + SERVER_EXTRA_ARGS_MAX + 1] = {
        (char *)server_binary(), "--data", server->data, "--listen",
        "127.0.0.1:0"};
    for (int i = 0; i < server->extra_args_count; i++) {
        argv[5 + i] = (char *)server->extra_args[i];
    }
    fflush(stdout);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) server_exec(server->log, argv);
    server->pid = pid;
    char *text = xcalloc(LOG_READ_MAX, 1);
    uint64_t deadline = now_us() + SERVER_START_TIMEOUT_MS * UINT64_C(1000);
    bool listening = false;
    int status = 0;
    while (!listening && server->pid != 0 && now_us() < deadline) {
        file_read(server->log, text, LOG_READ_MAX);
        listening = log_listening_port(text, &server->port);
        if (!listening && !server_wait(server, 5, &status)) continue;
    }
    free(text);
    if (!listening) {
        printf("# server start %d failed (%s, status 0x%x)\n", server->starts,
               server->pid != 0 ? "no listening line in time" : "it exited",
               status);
        server_kill_hard(server);
    }
    TEST_CHECK(listening);
    return listening;
}

/* SIGTERM: a graceful stop that must end with exit status 0. */
static void server_stop(server_t *server) {
    if (server->pid == 0) return;
    TEST_CHECK_EQ(kill(server->pid, SIGTERM), 0);
    int status = 0;
    bool ended = server_wait(server, SERVER_STOP_TIMEOUT_MS, &status);
    if (!ended) {
        printf("# server did not stop within %d ms of SIGTERM\n",
               SERVER_STOP_TIMEOUT_MS);
        server_kill_hard(server);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("# server after SIGTERM: %s %d\n",
               WIFEXITED(status) ? "exit status" : "killed by signal",
               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    TEST_CHECK(ended);
    TEST_CHECK(WIFEXITED(status));
    TEST_CHECK_EQ(WEXITSTATUS(status), 0);
}

/* SIGKILL: a crash. The server must not have died on its own before. */
static void server_crash(server_t *server) {
    TEST_REQUIRE(server->pid != 0);
    int status = 0;
    TEST_CHECK(waitpid(server->pid, &status, WNOHANG) == 0);
    TEST_CHECK_EQ(kill(server->pid, SIGKILL), 0);
    TEST_CHECK(waitpid(server->pid, &status, 0) == server->pid);
    TEST_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    server->pid = 0;
}

/* Ends the case's server (if still running), then removes the case
 * directory, or keeps it and prints the logs when the case failed. */
static void server_destroy(server_t *server) {
    failures_collect(&case_failures);
    if (server->pid != 0) {
        int status = 0;
        if (waitpid(server->pid, &status, WNOHANG) == server->pid) {
            printf("# server exited on its own with status 0x%x\n", status);
            server->pid = 0;
            test_failures_in_case++;
        }
        server_kill_hard(server);
    }
    if (test_failures_in_case == 0) {
        fixture_tmp_dir_remove(server->directory);
    } else {
        server_logs_print(server);
        printf("# data and logs kept in %s\n", server->directory);
    }
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

typedef struct conn {
    int fd;
    uint64_t request_id_last; /* the id of the last request built for it */
    size_t last_body_size;    /* of the last response received */
    uint8_t *buffer;          /* received bytes not yet parsed */
    size_t used;
    size_t capacity;
} conn_t;

enum receive_outcome {
    RECEIVE_OK,
    RECEIVE_CLOSED,  /* end of stream or reset by the server */
    RECEIVE_TIMEOUT,
    RECEIVE_ERROR,   /* a socket error, or bytes that are not a Response */
};

static const char *receive_outcome_name(int outcome) {
    switch (outcome) {
    case RECEIVE_OK: return "ok";
    case RECEIVE_CLOSED: return "connection closed by the server";
    case RECEIVE_TIMEOUT: return "no response in time";
    default: return "socket error or undecodable response";
    }
}

/* Waits for `events` on fd until the deadline; returns poll's revents,
 * or 0 at the deadline. */
static short fd_wait(int fd, short events, uint64_t deadline_us) {
    for (;;) {
        uint64_t now = now_us();
        if (now >= deadline_us) return 0;
        struct pollfd pfd = {.fd = fd, .events = events};
        int timeout_ms = (int)((deadline_us - now + 999) / 1000);
        int n = poll(&pfd, 1, timeout_ms);
        if (n > 0) return pfd.revents;
        if (n < 0 && errno != EINTR) return POLLERR;
    }
}

/* Connects to 127.0.0.1:port (non-blocking socket, TCP_NODELAY). */
static bool conn_open(conn_t *conn, uint16_t port, failures_t *failures) {
    memset(conn, 0, sizeof *conn);
    conn->fd = -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        FAIL(failures, "socket: %s", strerror(errno));
        return false;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (const struct sockaddr *)&address, sizeof address);
    int error = rc == 0 ? 0 : errno;
    if (error == EINPROGRESS) {
        uint64_t deadline = now_us() + CONNECT_TIMEOUT_MS * UINT64_C(1000);
        socklen_t length = sizeof error;
        error = fd_wait(fd, POLLOUT, deadline) == 0 ? ETIMEDOUT : 0;
        if (error == 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    }
    if (error != 0) {
        FAIL(failures, "connect to port %u: %s", port, strerror(error));
        close(fd);
        return false;
    }
    conn->fd = fd;
    conn->capacity = CONN_BUFFER_INITIAL;
    conn->buffer = xcalloc(conn->capacity, 1);
    return true;
}

static void conn_close(conn_t *conn) {
    if (conn->fd >= 0) close(conn->fd);
    conn->fd = -1;
    free(conn->buffer);
    conn->buffer = NULL;
    conn->used = 0;
}

/* Closes with a TCP reset instead of an orderly end of stream. */
static void conn_reset(conn_t *conn) {
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(conn->fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    conn_close(conn);
}

/* Sends every byte within timeout_ms. Returns 0 or an errno (EPIPE or
 * ECONNRESET when the server closed, ETIMEDOUT when it stopped reading). */
static int conn_send_within(conn_t *conn, const uint8_t *bytes, size_t size,
                            uint32_t timeout_ms) {
    uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
    size_t sent = 0;
    while (sent < size) {
        ssize_t n = send(conn->fd, bytes + sent, size - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (fd_wait(conn->fd, POLLOUT, deadline) == 0) return ETIMEDOUT;
        } else {
            return n < 0 ? errno : EPIPE;
        }
    }
    return 0;
}

static int conn_send(conn_t *conn, const uint8_t *bytes, size_t size) {
    return conn_send_within(conn, bytes, size, RESPONSE_TIMEOUT_MS);
}

/* Reads what has arrived (waiting until the deadline for something). */
static int conn_read_some(conn_t *conn, uint64_t deadline_us) {
    if (conn->used == conn->capacity) {
        if (conn->capacity >= FRAME_HEADER_SIZE + FRAME_BODY_SIZE_MAX_LIMIT) {
            return RECEIVE_ERROR;
        }
        conn->capacity *= 2;
        uint8_t *bigger = realloc(conn->buffer, conn->capacity);
        if (bigger == NULL) return RECEIVE_ERROR;
        conn->buffer = bigger;
    }
    for (;;) {
        ssize_t n = recv(conn->fd, conn->buffer + conn->used,
                         conn->capacity - conn->used, 0);
        if (n > 0) {
            conn->used += (size_t)n;
            return RECEIVE_OK;
        }
        if (n == 0 || errno == ECONNRESET) return RECEIVE_CLOSED;
        if (errno != EAGAIN && errno != EINTR) return RECEIVE_ERROR;
        if (fd_wait(conn->fd, POLLIN, deadline_us) == 0) return RECEIVE_TIMEOUT;
    }
}

/* Receives one Response (free it with frame_response_free). */
static int conn_receive(conn_t *conn, uint32_t timeout_ms, response_t **out) {
    *out = NULL;
    uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        const uint8_t *body = NULL;
        uint32_t body_size = 0;
        size_t frame_size = 0;
        int rc = frame_parse(conn->buffer, conn->used, FRAME_BODY_SIZE_MAX_LIMIT,
                             &body, &body_size, &frame_size);
        if (rc == FRAME_OK) {
            *out = frame_response_decode(body, body_size, NULL);
            conn->last_body_size = body_size;
            conn->used -= frame_size;
            memmove(conn->buffer, conn->buffer + frame_size, conn->used);
            return *out != NULL ? RECEIVE_OK : RECEIVE_ERROR;
        }
        if (rc != FRAME_NEED_MORE) return RECEIVE_ERROR;
        int outcome = conn_read_some(conn, deadline);
        if (outcome != RECEIVE_OK) return outcome;
    }
}

/* True when the server ends the connection (end of stream or reset)
 * within timeout_ms; whatever it sends before is counted, not parsed. */
static bool conn_wait_closed(conn_t *conn, uint32_t timeout_ms,
                             size_t *bytes_received_out) {
    uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
    *bytes_received_out = 0;
    for (;;) {
        int outcome = conn_read_some(conn, deadline);
        *bytes_received_out += conn->used;
        conn->used = 0;
        if (outcome == RECEIVE_CLOSED) return true;
        if (outcome != RECEIVE_OK) return false;
    }
}

/* ------------------------------------------------------------------------ */
/* Encoding requests                                                        */

/* One frame, header and body, malloc'd. */
typedef struct wire {
    uint8_t *bytes;
    size_t size;
} wire_t;

static wire_t wire_encode(const request_t *request) {
    wire_t wire = {NULL, 0};
    int rc = frame_encode_request(request, &wire.bytes, &wire.size);
    if (rc != FRAME_OK) {
        printf("Bail out! frame_encode_request: %s\n", frame_strerror(rc));
        abort();
    }
    return wire;
}

/* A frame around arbitrary body bytes. */
static wire_t wire_raw(const uint8_t *body, size_t size) {
    wire_t wire = {xcalloc(FRAME_HEADER_SIZE + size, 1), FRAME_HEADER_SIZE + size};
    frame_header_write(wire.bytes, (uint32_t)size);
    if (size > 0) memcpy(wire.bytes + FRAME_HEADER_SIZE, body, size);
    return wire;
}

static void u128_message(Borsellino__V1__U128 *out, ledger_u128_t value) {
    borsellino__v1__u128__init(out);
    out->hi = value.hi;
    out->lo = value.lo;
}

static ledger_u128_t u128_from_message(const Borsellino__V1__U128 *message) {
    ledger_u128_t value = {0, 0};
    if (message != NULL) {
        value.hi = message->hi;
        value.lo = message->lo;
    }
    return value;
}

/* A Transfer message and the storage of its sub-messages. */
typedef struct transfer_message {
    Borsellino__V1__Transfer transfer;
    Borsellino__V1__U128 id, debit, credit, pending, user_data;
} transfer_message_t;

static void transfer_message(const ledger_transfer_t *in, transfer_message_t *m) {
    borsellino__v1__transfer__init(&m->transfer);
    u128_message(&m->id, in->id);
    u128_message(&m->debit, in->debit_account_id);
    u128_message(&m->credit, in->credit_account_id);
    m->transfer.id = &m->id;
    m->transfer.debit_account_id = &m->debit;
    m->transfer.credit_account_id = &m->credit;
    /* Zero ids are left out, as a terse client would: the server must
     * read an absent sub-message as zero. */
    if (!ledger_u128_is_zero(in->pending_id)) {
        u128_message(&m->pending, in->pending_id);
        m->transfer.pending_id = &m->pending;
    }
    if (!ledger_u128_is_zero(in->user_data_128)) {
        u128_message(&m->user_data, in->user_data_128);
        m->transfer.user_data_128 = &m->user_data;
    }
    m->transfer.amount = in->amount;
    m->transfer.user_data_64 = in->user_data_64;
    m->transfer.user_data_32 = in->user_data_32;
    m->transfer.timeout = in->timeout;
    m->transfer.ledger = in->ledger;
    m->transfer.code = in->code;
    m->transfer.flags = in->flags;
    m->transfer.timestamp = in->timestamp;
}

typedef struct account_message {
    Borsellino__V1__Account account;
    Borsellino__V1__U128 id, user_data;
} account_message_t;

static void account_message(const ledger_account_t *in, account_message_t *m) {
    borsellino__v1__account__init(&m->account);
    u128_message(&m->id, in->id);
    m->account.id = &m->id;
    if (!ledger_u128_is_zero(in->user_data_128)) {
        u128_message(&m->user_data, in->user_data_128);
        m->account.user_data_128 = &m->user_data;
    }
    m->account.debits_pending = in->debits_pending;
    m->account.debits_posted = in->debits_posted;
    m->account.credits_pending = in->credits_pending;
    m->account.credits_posted = in->credits_posted;
    m->account.user_data_64 = in->user_data_64;
    m->account.user_data_32 = in->user_data_32;
    m->account.ledger = in->ledger;
    m->account.code = in->code;
    m->account.flags = in->flags;
    m->account.timestamp = in->timestamp;
}

static wire_t request_create_transfers(uint64_t request_id,
                                       const ledger_transfer_t *transfers,
                                       uint32_t count) {
    transfer_message_t *messages = xcalloc(count, sizeof *messages);
    Borsellino__V1__Transfer **pointers = xcalloc(count, sizeof *pointers);
    for (uint32_t i = 0; i < count; i++) {
        transfer_message(&transfers[i], &messages[i]);
        pointers[i] = &messages[i].transfer;
    }
    Borsellino__V1__CreateTransfersRequest body =
        BORSELLINO__V1__CREATE_TRANSFERS_REQUEST__INIT;
    body.n_transfers = count;
    body.transfers = pointers;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = request_id;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS;
    request.create_transfers = &body;
    wire_t wire = wire_encode(&request);
    free(pointers);
    free(messages);
    return wire;
}

static wire_t request_create_accounts(uint64_t request_id,
                                      const ledger_account_t *accounts,
                                      uint32_t count) {
    account_message_t *messages = xcalloc(count, sizeof *messages);
    Borsellino__V1__Account **pointers = xcalloc(count, sizeof *pointers);
    for (uint32_t i = 0; i < count; i++) {
        account_message(&accounts[i], &messages[i]);
        pointers[i] = &messages[i].account;
    }
    Borsellino__V1__CreateAccountsRequest body =
        BORSELLINO__V1__CREATE_ACCOUNTS_REQUEST__INIT;
    body.n_accounts = count;
    body.accounts = pointers;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = request_id;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS;
    request.create_accounts = &body;
    wire_t wire = wire_encode(&request);
    free(pointers);
    free(messages);
    return wire;
}

/* lookup_accounts, or lookup_transfers when `transfers`. */
static wire_t request_lookup(uint64_t request_id, bool transfers,
                             const ledger_u128_t *ids, uint32_t count) {
    Borsellino__V1__U128 *messages = xcalloc(count, sizeof *messages);
    Borsellino__V1__U128 **pointers = xcalloc(count, sizeof *pointers);
    for (uint32_t i = 0; i < count; i++) {
        u128_message(&messages[i], ids[i]);
        pointers[i] = &messages[i];
    }
    Borsellino__V1__LookupAccountsRequest accounts =
        BORSELLINO__V1__LOOKUP_ACCOUNTS_REQUEST__INIT;
    Borsellino__V1__LookupTransfersRequest lookup_transfers =
        BORSELLINO__V1__LOOKUP_TRANSFERS_REQUEST__INIT;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = request_id;
    if (transfers) {
        lookup_transfers.n_ids = count;
        lookup_transfers.ids = pointers;
        request.op_case = BORSELLINO__V1__REQUEST__OP_LOOKUP_TRANSFERS;
        request.lookup_transfers = &lookup_transfers;
    } else {
        accounts.n_ids = count;
        accounts.ids = pointers;
        request.op_case = BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS;
        request.lookup_accounts = &accounts;
    }
    wire_t wire = wire_encode(&request);
    free(pointers);
    free(messages);
    return wire;
}

static wire_t request_history(uint64_t request_id,
                              const ledger_history_filter_t *filter) {
    Borsellino__V1__U128 account_id;
    u128_message(&account_id, filter->account_id);
    Borsellino__V1__AccountHistoryRequest body =
        BORSELLINO__V1__ACCOUNT_HISTORY_REQUEST__INIT;
    body.account_id = &account_id;
    body.timestamp_min = filter->timestamp_min;
    body.timestamp_max = filter->timestamp_max;
    body.limit = filter->limit;
    body.flags = filter->flags;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = request_id;
    request.op_case = BORSELLINO__V1__REQUEST__OP_ACCOUNT_HISTORY;
    request.account_history = &body;
    return wire_encode(&request);
}

static wire_t request_balance_at(uint64_t request_id, ledger_u128_t account_id,
                                 uint64_t timestamp) {
    Borsellino__V1__U128 id;
    u128_message(&id, account_id);
    Borsellino__V1__BalanceAtRequest body = BORSELLINO__V1__BALANCE_AT_REQUEST__INIT;
    body.account_id = &id;
    body.timestamp = timestamp;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = request_id;
    request.op_case = BORSELLINO__V1__REQUEST__OP_BALANCE_AT;
    request.balance_at = &body;
    return wire_encode(&request);
}

static wire_t request_status(uint64_t request_id) {
    Borsellino__V1__StatusRequest body = BORSELLINO__V1__STATUS_REQUEST__INIT;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = request_id;
    request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
    request.status = &body;
    return wire_encode(&request);
}

/* A valid Request with a request id and no operation. */
static wire_t request_no_op(uint64_t request_id) {
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = request_id;
    return wire_encode(&request);
}

/* Appends a protobuf varint; returns the bytes written (at most 10). */
static size_t varint_put(uint8_t *out, uint64_t value) {
    size_t n = 0;
    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

/* Field number of a field no version of the contract uses. */
#define UNKNOWN_FIELD_NUMBER 99u

/*
 * A Request body of exactly `body_size` bytes: request_id, then one
 * unknown length-delimited field (UNKNOWN_FIELD_NUMBER) padding it out.
 * The server must ignore the unknown field, so it reads a Request with no
 * operation. body_size must be at least 16.
 */
static wire_t request_padded(uint64_t request_id, size_t body_size) {
    uint8_t *body = xcalloc(body_size, 1);
    size_t used = varint_put(body, (1u << 3) | 0u); /* request_id, varint */
    used += varint_put(body + used, request_id);
    used += varint_put(body + used, (UNKNOWN_FIELD_NUMBER << 3) | 2u);
    /* The length's own varint size depends on the length: try each. */
    uint8_t length_bytes[10];
    for (size_t width = 1; width <= 5; width++) {
        size_t padding = body_size - used - width;
        if (varint_put(length_bytes, padding) != width) continue;
        memcpy(body + used, length_bytes, width);
        memset(body + used + width, 0xA5, padding);
        break;
    }
    wire_t wire = wire_raw(body, body_size);
    free(body);
    return wire;
}

/* ------------------------------------------------------------------------ */
/* Decoding and checking responses                                          */

static void transfer_from_message(const Borsellino__V1__Transfer *m,
                                  ledger_transfer_t *out) {
    memset(out, 0, sizeof *out);
    out->id = u128_from_message(m->id);
    out->debit_account_id = u128_from_message(m->debit_account_id);
    out->credit_account_id = u128_from_message(m->credit_account_id);
    out->amount = m->amount;
    out->pending_id = u128_from_message(m->pending_id);
    out->user_data_128 = u128_from_message(m->user_data_128);
    out->user_data_64 = m->user_data_64;
    out->user_data_32 = m->user_data_32;
    out->timeout = m->timeout;
    out->ledger = m->ledger;
    out->code = (uint16_t)m->code;
    out->flags = (uint16_t)m->flags;
    out->timestamp = m->timestamp;
}

static void account_from_message(const Borsellino__V1__Account *m,
                                 ledger_account_t *out) {
    memset(out, 0, sizeof *out);
    out->id = u128_from_message(m->id);
    out->debits_pending = m->debits_pending;
    out->debits_posted = m->debits_posted;
    out->credits_pending = m->credits_pending;
    out->credits_posted = m->credits_posted;
    out->user_data_128 = u128_from_message(m->user_data_128);
    out->user_data_64 = m->user_data_64;
    out->user_data_32 = m->user_data_32;
    out->ledger = m->ledger;
    out->code = (uint16_t)m->code;
    out->flags = (uint16_t)m->flags;
    out->timestamp = m->timestamp;
}

static ledger_balance_t balance_from_message(const Borsellino__V1__Balance *m) {
    ledger_balance_t balance = {0, 0, 0, 0};
    if (m != NULL) {
        balance.debits_pending = m->debits_pending;
        balance.debits_posted = m->debits_posted;
        balance.credits_pending = m->credits_pending;
        balance.credits_posted = m->credits_posted;
    }
    return balance;
}

static ledger_balance_t balance_of_account(const ledger_account_t *account) {
    ledger_balance_t balance = {account->debits_pending, account->debits_posted,
                                account->credits_pending, account->credits_posted};
    return balance;
}

static bool balance_equal(ledger_balance_t a, ledger_balance_t b) {
    return a.debits_pending == b.debits_pending &&
           a.debits_posted == b.debits_posted &&
           a.credits_pending == b.credits_pending &&
           a.credits_posted == b.credits_posted;
}

/* Notes a balance mismatch; returns whether they match. */
static bool balance_check(const char *what, ledger_balance_t actual,
                          ledger_balance_t expected, failures_t *failures) {
    if (balance_equal(actual, expected)) return true;
    FAIL(failures,
         "%s: balance dp=%" PRIu64 " dP=%" PRIu64 " cp=%" PRIu64 " cP=%" PRIu64
         ", expected dp=%" PRIu64 " dP=%" PRIu64 " cp=%" PRIu64 " cP=%" PRIu64,
         what, actual.debits_pending, actual.debits_posted,
         actual.credits_pending, actual.credits_posted, expected.debits_pending,
         expected.debits_posted, expected.credits_pending,
         expected.credits_posted);
    return false;
}

#define FIELD_DIFFERS(field, a, b, what, failures)                            \
    do {                                                                      \
        if ((a)->field != (b)->field) {                                       \
            FAIL(failures, "%s: " #field " %" PRIu64 ", expected %" PRIu64,   \
                 what, (uint64_t)(a)->field, (uint64_t)(b)->field);           \
            return false;                                                     \
        }                                                                     \
    } while (0)

/* Field by field (ledger_account_t has padding, so no memcmp). */
static bool account_check(const char *what, const ledger_account_t *actual,
                          const ledger_account_t *expected, failures_t *failures) {
    FIELD_DIFFERS(id.hi, actual, expected, what, failures);
    FIELD_DIFFERS(id.lo, actual, expected, what, failures);
    FIELD_DIFFERS(debits_pending, actual, expected, what, failures);
    FIELD_DIFFERS(debits_posted, actual, expected, what, failures);
    FIELD_DIFFERS(credits_pending, actual, expected, what, failures);
    FIELD_DIFFERS(credits_posted, actual, expected, what, failures);
    FIELD_DIFFERS(user_data_128.hi, actual, expected, what, failures);
    FIELD_DIFFERS(user_data_128.lo, actual, expected, what, failures);
    FIELD_DIFFERS(user_data_64, actual, expected, what, failures);
    FIELD_DIFFERS(user_data_32, actual, expected, what, failures);
    FIELD_DIFFERS(ledger, actual, expected, what, failures);
    FIELD_DIFFERS(code, actual, expected, what, failures);
    FIELD_DIFFERS(flags, actual, expected, what, failures);
    FIELD_DIFFERS(timestamp, actual, expected, what, failures);
    return true;
}

static bool transfer_check(const char *what, const ledger_transfer_t *actual,
                           const ledger_transfer_t *expected, failures_t *failures) {
    FIELD_DIFFERS(id.hi, actual, expected, what, failures);
    FIELD_DIFFERS(id.lo, actual, expected, what, failures);
    FIELD_DIFFERS(debit_account_id.hi, actual, expected, what, failures);
    FIELD_DIFFERS(debit_account_id.lo, actual, expected, what, failures);
    FIELD_DIFFERS(credit_account_id.hi, actual, expected, what, failures);
    FIELD_DIFFERS(credit_account_id.lo, actual, expected, what, failures);
    FIELD_DIFFERS(amount, actual, expected, what, failures);
    FIELD_DIFFERS(pending_id.hi, actual, expected, what, failures);
    FIELD_DIFFERS(pending_id.lo, actual, expected, what, failures);
    FIELD_DIFFERS(user_data_128.hi, actual, expected, what, failures);
    FIELD_DIFFERS(user_data_128.lo, actual, expected, what, failures);
    FIELD_DIFFERS(user_data_64, actual, expected, what, failures);
    FIELD_DIFFERS(user_data_32, actual, expected, what, failures);
    FIELD_DIFFERS(timeout, actual, expected, what, failures);
    FIELD_DIFFERS(ledger, actual, expected, what, failures);
    FIELD_DIFFERS(code, actual, expected, what, failures);
    FIELD_DIFFERS(flags, actual, expected, what, failures);
    FIELD_DIFFERS(timestamp, actual, expected, what, failures);
    return true;
}

/* Receives the response to request `request_id`, which must come next. */
static response_t *response_receive(conn_t *conn, uint64_t request_id,
                                    failures_t *failures) {
    response_t *response = NULL;
    int outcome = conn_receive(conn, RESPONSE_TIMEOUT_MS, &response);
    if (outcome != RECEIVE_OK) {
        FAIL(failures, "request %" PRIu64 ": %s", request_id,
             receive_outcome_name(outcome));
        return NULL;
    }
    if (response->request_id != request_id) {
        FAIL(failures, "response to request %" PRIu64 ", expected %" PRIu64,
             response->request_id, request_id);
        frame_response_free(response);
        return NULL;
    }
    return response;
}

/* Sends one request (freeing its bytes) and receives its response. */
static response_t *exchange(conn_t *conn, uint64_t request_id, wire_t wire,
                            failures_t *failures) {
    int error = conn_send(conn, wire.bytes, wire.size);
    free(wire.bytes);
    if (error != 0) {
        FAIL(failures, "send request %" PRIu64 ": %s", request_id,
             strerror(error));
        return NULL;
    }
    return response_receive(conn, request_id, failures);
}

/* Checks a response's status (and, when OK, which result it carries); an
 * error status must come with a message saying what was wrong. */
static bool response_expect(const response_t *response,
                            Borsellino__V1__Status status, int result_case,
                            failures_t *failures) {
    if (response == NULL) return false;
    if ((int)response->status != (int)status) {
        FAIL(failures, "request %" PRIu64 ": status %d (\"%s\"), expected %d",
             response->request_id, response->status,
             response->message != NULL ? response->message : "", status);
        return false;
    }
    if (status == BORSELLINO__V1__STATUS__STATUS_OK &&
        (int)response->result_case != result_case) {
        FAIL(failures, "request %" PRIu64 ": result %d, expected %d",
             response->request_id, response->result_case, result_case);
        return false;
    }
    if (status != BORSELLINO__V1__STATUS__STATUS_OK &&
        (response->message == NULL || response->message[0] == '\0')) {
        FAIL(failures, "request %" PRIu64 ": status %d without a message",
             response->request_id, status);
        return false;
    }
    return true;
}

/* Copies `count` event results out of a create_* response. */
static bool event_results_copy(Borsellino__V1__EventResult *const *results,
                               size_t results_count, uint32_t count,
                               uint32_t *codes_out, uint64_t *timestamps_out,
                               failures_t *failures) {
    if (results_count != count) {
        FAIL(failures, "%zu results for %u events", results_count, count);
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        codes_out[i] = (uint32_t)results[i]->result;
        if (timestamps_out != NULL) timestamps_out[i] = results[i]->timestamp;
    }
    return true;
}

/* Creates transfers; fills one result code and timestamp per event. */
static bool create_transfers_call(conn_t *conn, const ledger_transfer_t *transfers,
                                  uint32_t count, uint32_t *codes_out,
                                  uint64_t *timestamps_out, failures_t *failures) {
    uint64_t request_id = ++conn->request_id_last;
    response_t *response = exchange(
        conn, request_id, request_create_transfers(request_id, transfers, count),
        failures);
    bool ok = response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                              BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS,
                              failures) &&
              event_results_copy(response->create_transfers->results,
                                 response->create_transfers->n_results, count,
                                 codes_out, timestamps_out, failures);
    if (response != NULL) frame_response_free(response);
    return ok;
}

static bool create_accounts_call(conn_t *conn, const ledger_account_t *accounts,
                                 uint32_t count, uint32_t *codes_out,
                                 uint64_t *timestamps_out, failures_t *failures) {
    uint64_t request_id = ++conn->request_id_last;
    response_t *response = exchange(
        conn, request_id, request_create_accounts(request_id, accounts, count),
        failures);
    bool ok = response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                              BORSELLINO__V1__RESPONSE__RESULT_CREATE_ACCOUNTS,
                              failures) &&
              event_results_copy(response->create_accounts->results,
                                 response->create_accounts->n_results, count,
                                 codes_out, timestamps_out, failures);
    if (response != NULL) frame_response_free(response);
    return ok;
}

/* Every code must be `expected`; returns whether they are. */
static bool codes_all(const uint32_t *codes, uint32_t count, uint32_t expected,
                      const char *what, failures_t *failures) {
    for (uint32_t i = 0; i < count; i++) {
        if (codes[i] != expected) {
            FAIL(failures, "%s: event %u got %s, expected %s", what, i,
                 ledger_result_name(codes[i]), ledger_result_name(expected));
            return false;
        }
    }
    return true;
}

/* Creates transfers that must all be OK; timestamps_out may be NULL. */
static bool create_transfers_ok(conn_t *conn, const ledger_transfer_t *transfers,
                                uint32_t count, uint64_t *timestamps_out,
                                failures_t *failures) {
    uint32_t *codes = xcalloc(count, sizeof *codes);
    bool ok = create_transfers_call(conn, transfers, count, codes,
                                    timestamps_out, failures) &&
              codes_all(codes, count, LEDGER_RESULT_OK, "create_transfers",
                        failures);
    free(codes);
    return ok;
}

static bool create_accounts_ok(conn_t *conn, const ledger_account_t *accounts,
                               uint32_t count, failures_t *failures) {
    uint32_t *codes = xcalloc(count, sizeof *codes);
    bool ok = create_accounts_call(conn, accounts, count, codes, NULL, failures) &&
              codes_all(codes, count, LEDGER_RESULT_OK, "create_accounts",
                        failures);
    free(codes);
    return ok;
}

/* Plain accounts first..first+count-1 on LEDGER_ID. */
static bool create_accounts_range(conn_t *conn, uint64_t first, uint32_t count,
                                  failures_t *failures) {
    ledger_account_t *accounts = xcalloc(count, sizeof *accounts);
    for (uint32_t i = 0; i < count; i++) {
        accounts[i] = account_make(first + i, LEDGER_ID, 0);
    }
    bool ok = create_accounts_ok(conn, accounts, count, failures);
    free(accounts);
    return ok;
}

/* Looks accounts up; *found_out of them are written to out, in order. */
static bool lookup_accounts_call(conn_t *conn, const ledger_u128_t *ids,
                                 uint32_t count, ledger_account_t *out,
                                 uint32_t *found_out, failures_t *failures) {
    uint64_t request_id = ++conn->request_id_last;
    response_t *response = exchange(
        conn, request_id, request_lookup(request_id, false, ids, count), failures);
    bool ok = response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                              BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_ACCOUNTS,
                              failures);
    if (ok && response->lookup_accounts->n_accounts > count) {
        FAIL(failures, "%zu accounts found for %u ids",
             response->lookup_accounts->n_accounts, count);
        ok = false;
    }
    *found_out = 0;
    for (size_t i = 0; ok && i < response->lookup_accounts->n_accounts; i++) {
        account_from_message(response->lookup_accounts->accounts[i], &out[i]);
        *found_out = (uint32_t)(i + 1);
    }
    if (response != NULL) frame_response_free(response);
    return ok;
}

static bool lookup_transfers_call(conn_t *conn, const ledger_u128_t *ids,
                                  uint32_t count, ledger_transfer_t *out,
                                  uint32_t *found_out, failures_t *failures) {
    uint64_t request_id = ++conn->request_id_last;
    response_t *response = exchange(
        conn, request_id, request_lookup(request_id, true, ids, count), failures);
    bool ok = response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                              BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_TRANSFERS,
                              failures);
    if (ok && response->lookup_transfers->n_transfers > count) {
        FAIL(failures, "%zu transfers found for %u ids",
             response->lookup_transfers->n_transfers, count);
        ok = false;
    }
    *found_out = 0;
    for (size_t i = 0; ok && i < response->lookup_transfers->n_transfers; i++) {
        transfer_from_message(response->lookup_transfers->transfers[i], &out[i]);
        *found_out = (uint32_t)(i + 1);
    }
    if (response != NULL) frame_response_free(response);
    return ok;
}

/* The current balance of one account, which must exist. */
static bool account_balance(conn_t *conn, uint64_t id, ledger_balance_t *out,
                            failures_t *failures) {
    ledger_u128_t key = id128(id);
    ledger_account_t account;
    uint32_t found = 0;
    if (!lookup_accounts_call(conn, &key, 1, &account, &found, failures)) {
        return false;
    }
    if (found != 1) {
        FAIL(failures, "account %" PRIu64 " not found", id);
        return false;
    }
    *out = balance_of_account(&account);
    return true;
}

/* Sends a request whose answer must be the given error status. */
static void expect_status(conn_t *conn, uint64_t request_id, wire_t wire,
                          Borsellino__V1__Status status, failures_t *failures) {
    response_t *response = exchange(conn, request_id, wire, failures);
    response_expect(response, status, 0, failures);
    if (response != NULL) frame_response_free(response);
}

/* Asks for the server's status; NULL on failure. */
static response_t *status_call(conn_t *conn, failures_t *failures) {
    uint64_t request_id = ++conn->request_id_last;
    response_t *response =
        exchange(conn, request_id, request_status(request_id), failures);
    if (!response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                         BORSELLINO__V1__RESPONSE__RESULT_STATUS_RESULT,
                         failures)) {
        if (response != NULL) frame_response_free(response);
        return NULL;
    }
    return response;
}

/* The server answers a status request on this connection. */
static bool status_ok(conn_t *conn, failures_t *failures) {
    response_t *response = status_call(conn, failures);
    if (response != NULL) frame_response_free(response);
    return response != NULL;
}

/* Σ debits = Σ credits over accounts first..first+count-1 (one ledger),
 * posted and pending: the books balance as seen through the protocol. */
static void books_check(conn_t *conn, const uint64_t *ids, uint32_t count,
                        failures_t *failures) {
    ledger_balance_t total = {0, 0, 0, 0};
    for (uint32_t i = 0; i < count; i++) {
        ledger_balance_t balance;
        if (!account_balance(conn, ids[i], &balance, failures)) return;
        total.debits_pending += balance.debits_pending;
        total.debits_posted += balance.debits_posted;
        total.credits_pending += balance.credits_pending;
        total.credits_posted += balance.credits_posted;
    }
    if (total.debits_posted != total.credits_posted ||
        total.debits_pending != total.credits_pending) {
        FAIL(failures,
             "books do not balance: posted %" PRIu64 " / %" PRIu64
             ", pending %" PRIu64 " / %" PRIu64,
             total.debits_posted, total.credits_posted, total.debits_pending,
             total.credits_pending);
    }
}

/* ------------------------------------------------------------------------ */
/* The watcher: a well-behaved client running during attacks                */

typedef struct watcher {
    uint16_t port;
    failures_t failures;
    atomic_bool stop;
    _Atomic uint64_t requests; /* answered correctly so far */
    uint64_t latency_bound_us; /* each request must be answered within it */
    uint64_t latency_max_us;   /* read by the main thread after the join */
    pthread_t thread;
} watcher_t;

/* One single-phase transfer of 1 between its two accounts. */
static bool watcher_transfer(watcher_t *watcher, conn_t *conn, uint64_t number) {
    ledger_transfer_t transfer = transfer_make(
        WATCHER_ID_BASE + number, WATCHER_ID_BASE + 1, WATCHER_ID_BASE + 2, 1);
    return create_transfers_ok(conn, &transfer, 1, NULL, &watcher->failures);
}

/* Its debit account must show exactly `posted` transfers. */
static bool watcher_lookup(watcher_t *watcher, conn_t *conn, uint64_t posted) {
    ledger_balance_t balance;
    if (!account_balance(conn, WATCHER_ID_BASE + 1, &balance, &watcher->failures)) {
        return false;
    }
    ledger_balance_t expected = {0, posted, 0, 0};
    return balance_check("watcher account", balance, expected, &watcher->failures);
}

static void *watcher_run(void *argument) {
    watcher_t *watcher = argument;
    conn_t conn;
    if (!conn_open(&conn, watcher->port, &watcher->failures)) return NULL;
    bool ok = create_accounts_range(&conn, WATCHER_ID_BASE + 1, 2,
                                    &watcher->failures);
    uint64_t posted = 0;
    uint64_t deadline = now_us() + WATCHER_DURATION_MAX_MS * UINT64_C(1000);
    for (uint64_t i = 1; ok && i <= WATCHER_REQUESTS_MAX; i++) {
        if (atomic_load(&watcher->stop) || now_us() >= deadline) break;
        uint64_t start = now_us();
        if (i % WATCHER_LOOKUP_EVERY == 0) {
            ok = watcher_lookup(watcher, &conn, posted);
        } else {
            ok = watcher_transfer(watcher, &conn, 1000 + i);
            posted += ok ? 1 : 0;
        }
        uint64_t latency = now_us() - start;
        if (latency > watcher->latency_max_us) watcher->latency_max_us = latency;
        if (latency > watcher->latency_bound_us) {
            FAIL(&watcher->failures, "request %" PRIu64 " took %" PRIu64 " ms", i,
                 latency / 1000);
        }
        if (ok) atomic_fetch_add(&watcher->requests, 1);
    }
    if (ok) watcher_lookup(watcher, &conn, posted);
    conn_close(&conn);
    return NULL;
}

static void watcher_start(watcher_t *watcher, uint16_t port,
                          uint32_t latency_bound_ms) {
    memset(watcher, 0, sizeof *watcher);
    watcher->port = port;
    watcher->latency_bound_us = latency_bound_ms * UINT64_C(1000);
    watcher->failures.who = "watcher";
    atomic_init(&watcher->stop, false);
    atomic_init(&watcher->requests, 0);
    TEST_REQUIRE(pthread_create(&watcher->thread, NULL, watcher_run, watcher) == 0);
}

/* Waits until the watcher has completed `count` more requests. */
static bool watcher_progress(watcher_t *watcher, uint64_t count) {
    uint64_t target = atomic_load(&watcher->requests) + count;
    uint64_t deadline = now_us() + RESPONSE_TIMEOUT_MS * UINT64_C(1000);
    while (atomic_load(&watcher->requests) < target && now_us() < deadline &&
           atomic_load(&watcher->failures.count) == 0) {
        sleep_ms(1);
    }
    bool progressed = atomic_load(&watcher->requests) >= target;
    if (!progressed) printf("# the watcher was not served\n");
    TEST_CHECK(progressed);
    return progressed;
}

static void watcher_finish(watcher_t *watcher) {
    atomic_store(&watcher->stop, true);
    TEST_CHECK_EQ(pthread_join(watcher->thread, NULL), 0);
    printf("# watcher: %" PRIu64 " requests, max latency %.1f ms\n",
           atomic_load(&watcher->requests), watcher->latency_max_us / 1000.0);
    TEST_CHECK(watcher->latency_max_us <= watcher->latency_bound_us);
    failures_collect(&watcher->failures);
}

/*
 * Runs one attack against a fresh server (started with `extra_args`) while
 * the watcher keeps being served: it must make progress before, during
 * (the attack calls watcher_progress while it holds hostile state open)
 * and after the attack, and the server must still stop cleanly.
 */
static void hostile_run_bounded(const char *prefix, const char *const *extra_args,
                                void (*attack)(server_t *, watcher_t *),
                                uint32_t latency_bound_ms) {
    server_t server;
    server_init(&server, prefix, extra_args);
    if (server_start(&server)) {
        watcher_t watcher;
        watcher_start(&watcher, server.port, latency_bound_ms);
        watcher_progress(&watcher, WATCHER_PROGRESS_REQUESTS);
        attack(&server, &watcher);
        watcher_progress(&watcher, WATCHER_PROGRESS_REQUESTS);
        watcher_finish(&watcher);
        server_stop(&server);
    }
    server_destroy(&server);
}

static void hostile_run(const char *prefix, const char *const *extra_args,
                        void (*attack)(server_t *, watcher_t *)) {
    hostile_run_bounded(prefix, extra_args, attack, WATCHER_LATENCY_MAX_MS);
}

/* ------------------------------------------------------------------------ */
/* Case: every operation through the protocol                               */

/* Ids of the operations case: accounts {7, n}, transfers {9, n}. */
static ledger_u128_t ops_account(uint64_t n) {
    ledger_u128_t id = {7, n};
    return id;
}

static ledger_u128_t ops_transfer(uint64_t n) {
    ledger_u128_t id = {9, n};
    return id;
}

static ledger_transfer_t ops_transfer_make(uint64_t n, uint64_t debit,
                                           uint64_t credit, uint64_t amount,
                                           uint16_t flags) {
    ledger_transfer_t transfer = transfer_make(0, 0, 0, amount);
    transfer.id = ops_transfer(n);
    transfer.debit_account_id = ops_account(debit);
    transfer.credit_account_id = ops_account(credit);
    transfer.flags = flags;
    return transfer;
}

/* A: linked to B, history flag, every user data; B plain; C with
 * debits_must_not_exceed_credits; D invalid (ledger 0). */
static void ops_accounts(conn_t *conn, uint64_t *timestamps) {
    ledger_account_t accounts[4];
    for (uint64_t i = 0; i < 4; i++) {
        accounts[i] = account_make(0, LEDGER_ID, 0);
        accounts[i].id = ops_account(i + 1);
        accounts[i].code = (uint16_t)(10 + i);
    }
    accounts[0].flags = LEDGER_ACCOUNT_LINKED | LEDGER_ACCOUNT_HISTORY;
    accounts[0].user_data_128 = (ledger_u128_t){1, 2};
    accounts[0].user_data_64 = 3;
    accounts[0].user_data_32 = 4;
    accounts[2].flags = LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
    accounts[3].ledger = 0;
    uint32_t codes[4];
    TEST_REQUIRE(create_accounts_call(conn, accounts, 4, codes, timestamps,
                                      &case_failures));
    TEST_CHECK_EQ(codes[0], LEDGER_RESULT_OK);
    TEST_CHECK_EQ(codes[1], LEDGER_RESULT_OK);
    TEST_CHECK_EQ(codes[2], LEDGER_RESULT_OK);
    TEST_CHECK_EQ(codes[3], LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO);
    TEST_CHECK(timestamps[0] > 0 && timestamps[1] > timestamps[0]);
    TEST_CHECK(timestamps[2] > timestamps[1]);
    TEST_CHECK_EQ(timestamps[3], 0);
    /* The same account again: exists, with the stored timestamp. */
    uint64_t again = 0;
    TEST_CHECK(create_accounts_call(conn, &accounts[1], 1, codes, &again,
                                    &case_failures));
    TEST_CHECK_EQ(codes[0], LEDGER_RESULT_EXISTS);
    TEST_CHECK_EQ(again, timestamps[1]);
    /* Lookup: found ones in request order, missing ids skipped, the
     * linked flag not stored. */
    ledger_u128_t ids[3] = {ops_account(1), ops_account(4), ops_account(2)};
    ledger_account_t found[3];
    uint32_t found_count = 0;
    TEST_CHECK(lookup_accounts_call(conn, ids, 3, found, &found_count,
                                    &case_failures));
    TEST_CHECK_EQ(found_count, 2);
    accounts[0].flags = LEDGER_ACCOUNT_HISTORY;
    accounts[0].timestamp = timestamps[0];
    accounts[1].timestamp = timestamps[1];
    account_check("A", &found[0], &accounts[0], &case_failures);
    account_check("B", &found[1], &accounts[1], &case_failures);
}

/* Transfer results the operations case expects from its two batches. */
static const uint32_t ops_batch1_codes[8] = {
    LEDGER_RESULT_OK, LEDGER_RESULT_OK, LEDGER_RESULT_OK, LEDGER_RESULT_OK,
    LEDGER_RESULT_LINKED_EVENT_FAILED, LEDGER_RESULT_EXCEEDS_CREDITS,
    LEDGER_RESULT_OK, LEDGER_RESULT_OK};
static const uint32_t ops_batch2_codes[3] = {
    LEDGER_RESULT_OK, LEDGER_RESULT_OK,
    LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED};

/*
 * Batch 1: t1 A→B 100 with user data; t2..t4 a linked chain (A→B 10,
 * B→A 5, A→B 1); t5..t6 a chain failing on t6 (C may not go negative);
 * t7 pending A→B 50 (timeout 1 h), t8 pending A→B 30.
 * Batch 2: t9 posts 20 of t7, t10 voids t8, t11 posts t7 again.
 * timestamps[n] gets t<n>'s timestamp.
 */
static void ops_transfers(conn_t *conn, ledger_transfer_t *t, uint64_t *timestamps) {
    t[1] = ops_transfer_make(1, 1, 2, 100, 0);
    t[1].user_data_128 = (ledger_u128_t){5, 6};
    t[1].user_data_64 = 7;
    t[1].user_data_32 = 8;
    t[1].code = 20;
    t[2] = ops_transfer_make(2, 1, 2, 10, LEDGER_TRANSFER_LINKED);
    t[3] = ops_transfer_make(3, 2, 1, 5, LEDGER_TRANSFER_LINKED);
    t[4] = ops_transfer_make(4, 1, 2, 1, 0);
    t[5] = ops_transfer_make(5, 1, 2, 7, LEDGER_TRANSFER_LINKED);
    t[6] = ops_transfer_make(6, 3, 1, 1, 0);
    t[7] = ops_transfer_make(7, 1, 2, 50, LEDGER_TRANSFER_PENDING);
    t[7].timeout = 3600;
    t[8] = ops_transfer_make(8, 1, 2, 30, LEDGER_TRANSFER_PENDING);
    uint32_t codes[8];
    TEST_REQUIRE(create_transfers_call(conn, &t[1], 8, codes, &timestamps[1],
                                       &case_failures));
    for (int i = 0; i < 8; i++) TEST_CHECK_EQ(codes[i], ops_batch1_codes[i]);
    t[9] = post_make(0, 0, 20);
    t[9].id = ops_transfer(9);
    t[9].pending_id = ops_transfer(7);
    t[10] = void_make(0, 0);
    t[10].id = ops_transfer(10);
    t[10].pending_id = ops_transfer(8);
    t[11] = t[9];
    t[11].id = ops_transfer(11);
    TEST_REQUIRE(create_transfers_call(conn, &t[9], 3, codes, &timestamps[9],
                                       &case_failures));
    for (int i = 0; i < 3; i++) TEST_CHECK_EQ(codes[i], ops_batch2_codes[i]);
    for (int n = 2; n <= 10; n++) {
        if (n == 5 || n == 6) continue;
        TEST_CHECK(timestamps[n] > timestamps[n == 7 ? 4 : n - 1]);
    }
    /* Resubmitted: exists with the stored timestamp; changed: refused. */
    uint64_t again = 0;
    TEST_CHECK(create_transfers_call(conn, &t[1], 1, codes, &again, &case_failures));
    TEST_CHECK_EQ(codes[0], LEDGER_RESULT_EXISTS);
    TEST_CHECK_EQ(again, timestamps[1]);
    ledger_transfer_t changed = t[1];
    changed.amount = 101;
    TEST_CHECK(create_transfers_call(conn, &changed, 1, codes, &again, &case_failures));
    TEST_CHECK_EQ(codes[0], LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT);
}

/* Lookups of transfers: stored values, post/void as the engine stores them. */
static void ops_lookup_transfers(conn_t *conn, const ledger_transfer_t *t,
                                 const uint64_t *timestamps) {
    ledger_u128_t ids[5] = {ops_transfer(1), ops_transfer(5), ops_transfer(9),
                            ops_transfer(10), ops_transfer(7)};
    ledger_transfer_t found[5];
    uint32_t count = 0;
    TEST_CHECK(lookup_transfers_call(conn, ids, 5, found, &count, &case_failures));
    TEST_REQUIRE(count == 4);
    ledger_transfer_t expected = t[1];
    expected.timestamp = timestamps[1];
    transfer_check("t1", &found[0], &expected, &case_failures);
    /* The post takes accounts, ledger and code from t7; carries 20. */
    expected = t[7];
    expected.id = ops_transfer(9);
    expected.pending_id = ops_transfer(7);
    expected.amount = 20;
    expected.flags = LEDGER_TRANSFER_POST_PENDING;
    expected.timeout = 0;
    expected.timestamp = timestamps[9];
    transfer_check("t9", &found[1], &expected, &case_failures);
    /* The void carries the amount it released. */
    expected = t[8];
    expected.id = ops_transfer(10);
    expected.pending_id = ops_transfer(8);
    expected.flags = LEDGER_TRANSFER_VOID_PENDING;
    expected.timestamp = timestamps[10];
    transfer_check("t10", &found[2], &expected, &case_failures);
    expected = t[7];
    expected.timestamp = timestamps[7];
    transfer_check("t7", &found[3], &expected, &case_failures);
}

/* A after everything: debits 100+10+1+20 posted, credits 5. */
static const ledger_balance_t ops_balance_a = {0, 131, 0, 5};
static const ledger_balance_t ops_balance_b = {0, 5, 0, 131};

static void ops_lookup_accounts(conn_t *conn) {
    ledger_u128_t ids[3] = {ops_account(1), ops_account(2), ops_account(3)};
    ledger_account_t found[3];
    uint32_t count = 0;
    TEST_CHECK(lookup_accounts_call(conn, ids, 3, found, &count, &case_failures));
    TEST_REQUIRE(count == 3);
    balance_check("A", balance_of_account(&found[0]), ops_balance_a, &case_failures);
    balance_check("B", balance_of_account(&found[1]), ops_balance_b, &case_failures);
    ledger_balance_t zero = {0, 0, 0, 0};
    balance_check("C", balance_of_account(&found[2]), zero, &case_failures);
}

/* History of A within [timestamp_min, timestamp_max]: the response when
 * `status` is OK and came, else NULL. */
static response_t *ops_history_range(conn_t *conn, uint32_t flags, uint32_t limit,
                                     uint64_t timestamp_min, uint64_t timestamp_max,
                                     Borsellino__V1__Status status) {
    ledger_history_filter_t filter = {ops_account(1), timestamp_min, timestamp_max,
                                      limit, flags};
    uint64_t request_id = ++conn->request_id_last;
    response_t *response =
        exchange(conn, request_id, request_history(request_id, &filter),
                 &case_failures);
    if (!response_expect(response, status,
                         BORSELLINO__V1__RESPONSE__RESULT_ACCOUNT_HISTORY,
                         &case_failures) ||
        status != BORSELLINO__V1__STATUS__STATUS_OK) {
        if (response != NULL) frame_response_free(response);
        return NULL;
    }
    return response;
}

static response_t *ops_history(conn_t *conn, uint32_t flags, uint32_t limit,
                               Borsellino__V1__Status status) {
    return ops_history_range(conn, flags, limit, 0, 0, status);
}

/* Paging as docs/protocol.md describes it: after t4, then before t9. */
static void ops_history_paging(conn_t *conn, const uint64_t *timestamps) {
    response_t *response = ops_history_range(conn, 3, 100, timestamps[4] + 1, 0,
                                             BORSELLINO__V1__STATUS__STATUS_OK);
    if (response != NULL) {
        TEST_CHECK_EQ(response->account_history->n_entries, 4);
        if (response->account_history->n_entries == 4) {
            TEST_CHECK_EQ(response->account_history->entries[0]->transfer->timestamp,
                          timestamps[7]);
        }
        frame_response_free(response);
    }
    response = ops_history_range(conn, 3 | 4, 100, timestamps[2], timestamps[9] - 1,
                                 BORSELLINO__V1__STATUS__STATUS_OK);
    if (response != NULL) {
        TEST_CHECK_EQ(response->account_history->n_entries, 5); /* t8..t2 */
        if (response->account_history->n_entries == 5) {
            TEST_CHECK_EQ(response->account_history->entries[0]->transfer->timestamp,
                          timestamps[8]);
        }
        frame_response_free(response);
    }
    ops_history_range(conn, 3, 100, timestamps[9], timestamps[2],
                      BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
    ops_history(conn, 3 | 8, 10, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
}

static void ops_account_history(conn_t *conn, const uint64_t *timestamps) {
    /* Every event that moved A, oldest first: t1..t4, t7..t10. */
    static const int moved[8] = {1, 2, 3, 4, 7, 8, 9, 10};
    response_t *response = ops_history(conn, 3, 100, BORSELLINO__V1__STATUS__STATUS_OK);
    if (response != NULL) {
        Borsellino__V1__AccountHistoryResponse *history = response->account_history;
        TEST_REQUIRE(history->n_entries == 8);
        for (int i = 0; i < 8; i++) {
            ledger_transfer_t transfer;
            transfer_from_message(history->entries[i]->transfer, &transfer);
            TEST_CHECK_EQ(history->entries[i]->kind,
                          BORSELLINO__V1__EVENT_KIND__EVENT_TRANSFER);
            TEST_CHECK(ledger_u128_equal(transfer.id, ops_transfer((uint64_t)moved[i])));
            TEST_CHECK_EQ(transfer.timestamp, timestamps[moved[i]]);
        }
        ledger_balance_t after_t1 = {0, 100, 0, 0};
        ledger_balance_t after_t8 = {80, 111, 0, 5};
        balance_check("A after t1",
                      balance_from_message(history->entries[0]->balance_after),
                      after_t1, &case_failures);
        balance_check("A after t8",
                      balance_from_message(history->entries[5]->balance_after),
                      after_t8, &case_failures);
        balance_check("A after t10",
                      balance_from_message(history->entries[7]->balance_after),
                      ops_balance_a, &case_failures);
        frame_response_free(response);
    }
    /* Newest first, two entries: t10, t9. Debits only: all but t3. */
    response = ops_history(conn, 1 | 2 | 4, 2, BORSELLINO__V1__STATUS__STATUS_OK);
    if (response != NULL) {
        TEST_REQUIRE(response->account_history->n_entries == 2);
        TEST_CHECK_EQ(u128_from_message(response->account_history->entries[0]
                                            ->transfer->id).lo, 10);
        TEST_CHECK_EQ(u128_from_message(response->account_history->entries[1]
                                            ->transfer->id).lo, 9);
        frame_response_free(response);
    }
    response = ops_history(conn, 1, 100, BORSELLINO__V1__STATUS__STATUS_OK);
    if (response != NULL) {
        TEST_CHECK_EQ(response->account_history->n_entries, 7);
        frame_response_free(response);
    }
    ops_history_paging(conn, timestamps);
    ops_history(conn, 3, 0, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
    ops_history(conn, 0, 10, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
    ops_history(conn, 3, LEDGER_HISTORY_LIMIT_MAX + 1,
                BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
    ledger_history_filter_t missing = {ops_account(99), 0, 0, 10, 3};
    uint64_t request_id = ++conn->request_id_last;
    expect_status(conn, request_id, request_history(request_id, &missing),
                  BORSELLINO__V1__STATUS__STATUS_ACCOUNT_NOT_FOUND, &case_failures);
}

/* A's balance right after the event with `timestamp`. */
static void ops_balance_at_one(conn_t *conn, uint64_t timestamp,
                               ledger_balance_t expected, const char *what) {
    uint64_t request_id = ++conn->request_id_last;
    response_t *response = exchange(
        conn, request_id, request_balance_at(request_id, ops_account(1), timestamp),
        &case_failures);
    if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_BALANCE_AT,
                        &case_failures)) {
        balance_check(what, balance_from_message(response->balance_at->balance),
                      expected, &case_failures);
    }
    if (response != NULL) frame_response_free(response);
}

static void ops_balance_at(conn_t *conn, const uint64_t *timestamps) {
    ledger_balance_t zero = {0, 0, 0, 0};
    ledger_balance_t after_t1 = {0, 100, 0, 0};
    ledger_balance_t after_t8 = {80, 111, 0, 5};
    ops_balance_at_one(conn, timestamps[1] - 1, zero, "A before t1");
    ops_balance_at_one(conn, timestamps[1], after_t1, "A at t1");
    ops_balance_at_one(conn, timestamps[8], after_t8, "A at t8");
    ops_balance_at_one(conn, timestamps[10], ops_balance_a, "A at t10");
    ops_balance_at_one(conn, UINT64_MAX, ops_balance_a, "A now");
    uint64_t request_id = ++conn->request_id_last;
    expect_status(conn, request_id,
                  request_balance_at(request_id, ops_account(99), timestamps[1]),
                  BORSELLINO__V1__STATUS__STATUS_ACCOUNT_NOT_FOUND, &case_failures);
}

static void ops_status(conn_t *conn, const uint64_t *timestamps) {
    response_t *response = status_call(conn, &case_failures);
    if (response == NULL) return;
    Borsellino__V1__StatusResponse *status = response->status_result;
    TEST_CHECK(status->version != NULL && status->version[0] != '\0');
    TEST_CHECK_EQ(status->accounts_count, 3);
    TEST_CHECK_EQ(status->pending_count, 0);
    TEST_CHECK(status->journal_sequence >= 3 + 9);
    TEST_CHECK(status->last_timestamp >= timestamps[10]);
    TEST_CHECK(status->connections >= 1);
    TEST_CHECK_EQ(status->batch_events_max, LEDGER_BATCH_EVENTS_MAX);
    TEST_CHECK_EQ(status->frame_size_max, FRAME_BODY_SIZE_MAX_DEFAULT);
    TEST_CHECK(status->map_size > 0 && status->map_used <= status->map_size);
    TEST_CHECK_EQ(status->chain_head.len, 32);
    frame_response_free(response);
}

static void test_operations(void) {
    server_t server;
    server_init(&server, "server-ops", NULL);
    conn_t conn;
    if (server_start(&server) && conn_open(&conn, server.port, &case_failures)) {
        uint64_t account_timestamps[4];
        ledger_transfer_t transfers[12];
        uint64_t timestamps[12] = {0};
        ops_accounts(&conn, account_timestamps);
        ops_transfers(&conn, transfers, timestamps);
        ops_lookup_transfers(&conn, transfers, timestamps);
        ops_lookup_accounts(&conn);
        ops_account_history(&conn, timestamps);
        ops_balance_at(&conn, timestamps);
        ops_status(&conn, timestamps);
        conn_close(&conn);
        server_stop(&server);
    }
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */
/* Case: pipelining                                                         */

enum {
    PIPELINE_REQUESTS = 1000,
    /* The stream is cut into sends of 1..PIPELINE_CHUNK_MAX bytes, so that
     * frames straddle reads on the server. */
    PIPELINE_CHUNK_MAX = 1500,
    PIPELINE_REQUEST_ID_FIRST = 5000,
    /* The small-limits variant: clients, requests each, and the limits. */
    PIPELINE_SMALL_CLIENTS = 4,
    PIPELINE_SMALL_REQUESTS = 300,
};

/* One pipelining session: `requests` requests, all sent before any
 * response is read, on accounts account_first (debited) and +1. */
typedef struct pipeline {
    uint16_t port;
    uint64_t account_first;
    uint64_t transfer_first;
    uint32_t requests;
    failures_t failures;
    char name[32];
    pthread_t thread;
} pipeline_t;

/* Even requests create one transfer of amount i+1; odd ones look up the
 * debit account, which must show every transfer requested before it
 * (responses come in request order, and reads see acknowledged writes). */
static wire_t pipeline_request(const pipeline_t *p, uint32_t i) {
    uint64_t request_id = PIPELINE_REQUEST_ID_FIRST + i;
    if (i % 2 == 0) {
        ledger_transfer_t transfer = transfer_make(
            p->transfer_first + i, p->account_first, p->account_first + 1, i + 1);
        return request_create_transfers(request_id, &transfer, 1);
    }
    ledger_u128_t id = id128(p->account_first);
    return request_lookup(request_id, false, &id, 1);
}

/* All requests, concatenated, then sent in uneven chunks. */
static bool pipeline_send_all(pipeline_t *p, conn_t *conn) {
    size_t size = 0;
    size_t capacity = 64 * 1024;
    uint8_t *stream = xcalloc(capacity, 1);
    for (uint32_t i = 0; i < p->requests; i++) {
        wire_t wire = pipeline_request(p, i);
        while (size + wire.size > capacity) {
            uint8_t *bigger = xcalloc(capacity * 2, 1);
            memcpy(bigger, stream, size);
            free(stream);
            stream = bigger;
            capacity *= 2;
        }
        memcpy(stream + size, wire.bytes, wire.size);
        size += wire.size;
        free(wire.bytes);
    }
    size_t sent = 0;
    int error = 0;
    for (uint32_t chunk = 0; sent < size && error == 0; chunk++) {
        size_t length = 1 + (chunk * 7919u) % PIPELINE_CHUNK_MAX;
        if (length > size - sent) length = size - sent;
        error = conn_send(conn, stream + sent, length);
        sent += length;
    }
    free(stream);
    if (error != 0) FAIL(&p->failures, "send: %s", strerror(error));
    return error == 0;
}

/* Checks the answer to request i; `posted` is the sum of the amounts of
 * the transfers requested before it. */
static bool pipeline_check(pipeline_t *p, const response_t *response, uint32_t i,
                           uint64_t posted) {
    if (i % 2 == 0) {
        uint32_t code = LEDGER_RESULT_CODE_COUNT;
        return response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                                BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS,
                                &p->failures) &&
               event_results_copy(response->create_transfers->results,
                                  response->create_transfers->n_results, 1, &code,
                                  NULL, &p->failures) &&
               codes_all(&code, 1, LEDGER_RESULT_OK, "pipelined transfer",
                         &p->failures);
    }
    if (!response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                         BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_ACCOUNTS,
                         &p->failures)) {
        return false;
    }
    if (response->lookup_accounts->n_accounts != 1) {
        FAIL(&p->failures, "lookup %u: %zu accounts", i,
             response->lookup_accounts->n_accounts);
        return false;
    }
    uint64_t actual = response->lookup_accounts->accounts[0]->debits_posted;
    if (actual != posted) {
        FAIL(&p->failures, "lookup %u: debits_posted %" PRIu64 ", expected %" PRIu64,
             i, actual, posted);
        return false;
    }
    return true;
}

/* Sends everything, then reads every answer in order; returns how many
 * were right. */
static uint32_t pipeline_session(pipeline_t *p, conn_t *conn) {
    if (!create_accounts_range(conn, p->account_first, 2, &p->failures) ||
        !pipeline_send_all(p, conn)) {
        return 0;
    }
    uint64_t posted = 0;
    uint32_t answered = 0;
    for (uint32_t i = 0; i < p->requests; i++) {
        response_t *response =
            response_receive(conn, PIPELINE_REQUEST_ID_FIRST + i, &p->failures);
        if (response == NULL) break;
        bool ok = pipeline_check(p, response, i, posted);
        frame_response_free(response);
        if (!ok) break;
        if (i % 2 == 0) posted += i + 1;
        answered++;
    }
    ledger_balance_t balance, expected = {0, 0, 0, posted};
    if (account_balance(conn, p->account_first + 1, &balance, &p->failures)) {
        balance_check(p->name, balance, expected, &p->failures);
    }
    return answered;
}

static void *pipeline_run(void *argument) {
    pipeline_t *p = argument;
    conn_t conn;
    if (!conn_open(&conn, p->port, &p->failures)) return NULL;
    uint32_t answered = pipeline_session(p, &conn);
    if (answered != p->requests) {
        FAIL(&p->failures, "%u of %u requests answered", answered, p->requests);
    }
    conn_close(&conn);
    return NULL;
}

static void pipeline_init(pipeline_t *p, uint16_t port, uint32_t index,
                          uint32_t requests) {
    memset(p, 0, sizeof *p);
    p->port = port;
    p->account_first = 1 + 10u * index;
    p->transfer_first = 100000 + 10000u * index;
    p->requests = requests;
    snprintf(p->name, sizeof p->name, "pipeline %u", index);
    p->failures.who = p->name;
}

/* 1,000 requests (more than --in-flight-max) before reading anything. */
static void test_pipelining(void) {
    server_t server;
    server_init(&server, "server-pipeline", NULL);
    if (server_start(&server)) {
        pipeline_t p;
        pipeline_init(&p, server.port, 0, PIPELINE_REQUESTS);
        uint64_t start = now_us();
        pipeline_run(&p);
        printf("# %u pipelined requests in %.1f ms\n", PIPELINE_REQUESTS,
               (now_us() - start) / 1000.0);
        failures_collect(&p.failures);
        server_stop(&server);
    }
    server_destroy(&server);
}

/* The same from several clients at once, with 3 requests in flight per
 * connection and a writer queue of 2: reading pauses and resumes all the
 * time, and must never stall or reorder. */
static void test_pipelining_small_limits(void) {
    static const char *const args[] = {"--in-flight-max", "3", "--queue-depth-max",
                                       "2", NULL};
    server_t server;
    server_init(&server, "server-smalllimits", args);
    if (server_start(&server)) {
        static pipeline_t pipelines[PIPELINE_SMALL_CLIENTS];
        for (uint32_t c = 0; c < PIPELINE_SMALL_CLIENTS; c++) {
            pipeline_init(&pipelines[c], server.port, c, PIPELINE_SMALL_REQUESTS);
            TEST_REQUIRE(pthread_create(&pipelines[c].thread, NULL, pipeline_run,
                                        &pipelines[c]) == 0);
        }
        for (uint32_t c = 0; c < PIPELINE_SMALL_CLIENTS; c++) {
            TEST_CHECK_EQ(pthread_join(pipelines[c].thread, NULL), 0);
            failures_collect(&pipelines[c].failures);
        }
        server_stop(&server);
    }
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */
/* Case: many concurrent clients                                            */

enum {
    CONCURRENT_CLIENTS = 16,
    CONCURRENT_ACCOUNTS = 4,
    CONCURRENT_BATCHES = 30,
    CONCURRENT_BATCH_EVENTS = 25,
    /* Every fifth event is a pending transfer, left pending. */
    CONCURRENT_PENDING_EVERY = 5,
};

typedef struct concurrent_client {
    uint16_t port;
    uint32_t index;
    failures_t failures;
    char name[32];
    pthread_t thread;
} concurrent_client_t;

/* Client c owns accounts (c+1)*1000 + 1..CONCURRENT_ACCOUNTS. */
static uint64_t concurrent_account(uint32_t client, uint32_t n) {
    return (uint64_t)(client + 1) * 1000u + 1u + n;
}

/* Event k of batch b of client c; applies it to the expected balances. */
static ledger_transfer_t concurrent_event(uint32_t c, uint32_t b, uint32_t k,
                                          ledger_balance_t *expected) {
    uint32_t debit = (b + k) % CONCURRENT_ACCOUNTS;
    uint32_t credit = (debit + 1 + k % (CONCURRENT_ACCOUNTS - 1)) % CONCURRENT_ACCOUNTS;
    uint64_t id = ((uint64_t)(c + 1) << 32) | (b * 100u + k + 1u);
    uint64_t amount = (c * 31u + b * 7u + k) % 50u + 1u;
    ledger_transfer_t transfer = transfer_make(id, concurrent_account(c, debit),
                                               concurrent_account(c, credit), amount);
    if (k % CONCURRENT_PENDING_EVERY == 0) {
        transfer.flags = LEDGER_TRANSFER_PENDING;
        expected[debit].debits_pending += amount;
        expected[credit].credits_pending += amount;
    } else {
        expected[debit].debits_posted += amount;
        expected[credit].credits_posted += amount;
    }
    return transfer;
}

static void concurrent_session(concurrent_client_t *client, conn_t *conn) {
    ledger_balance_t expected[CONCURRENT_ACCOUNTS] = {{0, 0, 0, 0}};
    if (!create_accounts_range(conn, concurrent_account(client->index, 0),
                               CONCURRENT_ACCOUNTS, &client->failures)) {
        return;
    }
    for (uint32_t b = 0; b < CONCURRENT_BATCHES; b++) {
        ledger_transfer_t batch[CONCURRENT_BATCH_EVENTS];
        for (uint32_t k = 0; k < CONCURRENT_BATCH_EVENTS; k++) {
            batch[k] = concurrent_event(client->index, b, k, expected);
        }
        if (!create_transfers_ok(conn, batch, CONCURRENT_BATCH_EVENTS, NULL,
                                 &client->failures)) {
            return;
        }
    }
    for (uint32_t n = 0; n < CONCURRENT_ACCOUNTS; n++) {
        ledger_balance_t balance;
        char what[64];
        snprintf(what, sizeof what, "account %" PRIu64,
                 concurrent_account(client->index, n));
        if (account_balance(conn, concurrent_account(client->index, n), &balance,
                            &client->failures)) {
            balance_check(what, balance, expected[n], &client->failures);
        }
    }
}

static void *concurrent_run(void *argument) {
    concurrent_client_t *client = argument;
    conn_t conn;
    if (!conn_open(&conn, client->port, &client->failures)) return NULL;
    concurrent_session(client, &conn);
    conn_close(&conn);
    return NULL;
}

static void test_concurrent_clients(void) {
    server_t server;
    server_init(&server, "server-concurrent", NULL);
    if (server_start(&server)) {
        static concurrent_client_t clients[CONCURRENT_CLIENTS];
        uint64_t start = now_us();
        for (uint32_t c = 0; c < CONCURRENT_CLIENTS; c++) {
            memset(&clients[c], 0, sizeof clients[c]);
            clients[c].port = server.port;
            clients[c].index = c;
            snprintf(clients[c].name, sizeof clients[c].name, "client %u", c);
            clients[c].failures.who = clients[c].name;
            TEST_REQUIRE(pthread_create(&clients[c].thread, NULL, concurrent_run,
                                        &clients[c]) == 0);
        }
        for (uint32_t c = 0; c < CONCURRENT_CLIENTS; c++) {
            TEST_CHECK_EQ(pthread_join(clients[c].thread, NULL), 0);
            failures_collect(&clients[c].failures);
        }
        printf("# %d clients x %d batches in %.1f ms\n", CONCURRENT_CLIENTS,
               CONCURRENT_BATCHES, (now_us() - start) / 1000.0);
        conn_t conn;
        if (conn_open(&conn, server.port, &case_failures)) {
            uint64_t ids[CONCURRENT_CLIENTS * CONCURRENT_ACCOUNTS];
            for (uint32_t i = 0; i < CONCURRENT_CLIENTS * CONCURRENT_ACCOUNTS; i++) {
                ids[i] = concurrent_account(i / CONCURRENT_ACCOUNTS,
                                            i % CONCURRENT_ACCOUNTS);
            }
            books_check(&conn, ids, CONCURRENT_CLIENTS * CONCURRENT_ACCOUNTS,
                        &case_failures);
            response_t *status = status_call(&conn, &case_failures);
            if (status != NULL) {
                TEST_CHECK_EQ(status->status_result->accounts_count,
                              CONCURRENT_CLIENTS * CONCURRENT_ACCOUNTS);
                TEST_CHECK_EQ(status->status_result->pending_count,
                              CONCURRENT_CLIENTS * CONCURRENT_BATCHES *
                                  (CONCURRENT_BATCH_EVENTS / CONCURRENT_PENDING_EVERY));
                frame_response_free(status);
            }
            conn_close(&conn);
        }
        server_stop(&server);
    }
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */
/* Cases: restart in the middle of a client session                         */

enum {
    RESTART_ACCOUNTS = 8,
    RESTART_BATCHES = 24,
    RESTART_BATCH_EVENTS = 40,
    RESTART_ID_STRIDE = 1000,
    /* Batches resent after a restart to see them answer `exists`. */
    RESTART_RESEND = 2,
};

/* Batch b, event k: id b*STRIDE+k+1. Every fourth event is a pending
 * transfer; from the second batch on, the next event posts the pending
 * transfer at the same place of the previous batch; the rest are
 * single-phase. Accounts 1..RESTART_ACCOUNTS. */
static ledger_transfer_t restart_event(uint32_t b, uint32_t k) {
    uint64_t id = (uint64_t)b * RESTART_ID_STRIDE + k + 1;
    uint64_t debit = k % RESTART_ACCOUNTS + 1;
    uint64_t credit = (k + b + 1) % RESTART_ACCOUNTS + 1;
    if (credit == debit) credit = debit % RESTART_ACCOUNTS + 1;
    uint64_t amount = (b * 7u + k * 13u) % 100u + 1u;
    if (k % 4 == 0) return pending_make(id, debit, credit, amount, 0);
    if (k % 4 == 1 && b > 0) {
        return post_make(id, (uint64_t)(b - 1) * RESTART_ID_STRIDE + k, 0);
    }
    return transfer_make(id, debit, credit, amount);
}

/* What a lookup must return for event (b, k): a post as the engine stores
 * it (accounts, ledger, code and full amount from the pending transfer). */
static ledger_transfer_t restart_stored(uint32_t b, uint32_t k) {
    ledger_transfer_t event = restart_event(b, k);
    if (event.flags != LEDGER_TRANSFER_POST_PENDING) return event;
    ledger_transfer_t pending = restart_event(b - 1, k - 1);
    pending.id = event.id;
    pending.pending_id = event.pending_id;
    pending.flags = LEDGER_TRANSFER_POST_PENDING;
    pending.timeout = 0;
    return pending;
}

/* The session's state: which batches are applied, and their timestamps. */
typedef struct restart_session {
    server_t server;
    conn_t conn;
    bool applied[RESTART_BATCHES];
    uint64_t timestamps[RESTART_BATCHES][RESTART_BATCH_EVENTS];
    ledger_balance_t expected[RESTART_ACCOUNTS + 1]; /* by account id */
} restart_session_t;

static void restart_apply(restart_session_t *session, uint32_t b) {
    TEST_REQUIRE(!session->applied[b]);
    session->applied[b] = true;
    for (uint32_t k = 0; k < RESTART_BATCH_EVENTS; k++) {
        ledger_transfer_t t = restart_stored(b, k);
        ledger_balance_t *debit = &session->expected[t.debit_account_id.lo];
        ledger_balance_t *credit = &session->expected[t.credit_account_id.lo];
        if (t.flags == LEDGER_TRANSFER_PENDING) {
            debit->debits_pending += t.amount;
            credit->credits_pending += t.amount;
            continue;
        }
        if (t.flags == LEDGER_TRANSFER_POST_PENDING) {
            debit->debits_pending -= t.amount;
            credit->credits_pending -= t.amount;
        }
        debit->debits_posted += t.amount;
        credit->credits_posted += t.amount;
    }
}

static void restart_batch(uint32_t b, ledger_transfer_t *out) {
    for (uint32_t k = 0; k < RESTART_BATCH_EVENTS; k++) out[k] = restart_event(b, k);
}

/* Sends batch b, which must be applied whole now. */
static bool restart_send_ok(restart_session_t *session, uint32_t b) {
    ledger_transfer_t batch[RESTART_BATCH_EVENTS];
    restart_batch(b, batch);
    if (!create_transfers_ok(&session->conn, batch, RESTART_BATCH_EVENTS,
                             session->timestamps[b], &case_failures)) {
        return false;
    }
    restart_apply(session, b);
    return true;
}

/* How many events of batch b are stored; checks each one found, and
 * records their timestamps when the batch was in doubt. */
static uint32_t restart_batch_stored(restart_session_t *session, uint32_t b) {
    ledger_u128_t ids[RESTART_BATCH_EVENTS];
    ledger_transfer_t found[RESTART_BATCH_EVENTS];
    for (uint32_t k = 0; k < RESTART_BATCH_EVENTS; k++) ids[k] = restart_event(b, k).id;
    uint32_t count = 0;
    if (!lookup_transfers_call(&session->conn, ids, RESTART_BATCH_EVENTS, found,
                               &count, &case_failures)) {
        return 0;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t k = (uint32_t)(found[i].id.lo - 1 - (uint64_t)b * RESTART_ID_STRIDE);
        TEST_REQUIRE(k < RESTART_BATCH_EVENTS);
        ledger_transfer_t expected = restart_stored(b, k);
        if (!session->applied[b]) session->timestamps[b][k] = found[i].timestamp;
        expected.timestamp = session->timestamps[b][k];
        char what[64];
        snprintf(what, sizeof what, "batch %u event %u", b, k);
        transfer_check(what, &found[i], &expected, &case_failures);
    }
    return count;
}

/* After a restart: every applied batch is there with its timestamps, no
 * other batch is, and the balances are those of the applied batches. */
static void restart_verify(restart_session_t *session, uint32_t batches) {
    for (uint32_t b = 0; b < batches; b++) {
        uint32_t stored = restart_batch_stored(session, b);
        uint32_t expected = session->applied[b] ? RESTART_BATCH_EVENTS : 0;
        if (stored != expected) {
            FAIL(&case_failures, "batch %u: %u of %u events stored, expected %u",
                 b, stored, RESTART_BATCH_EVENTS, expected);
        }
    }
    uint64_t ids[RESTART_ACCOUNTS];
    for (uint64_t id = 1; id <= RESTART_ACCOUNTS; id++) {
        ledger_balance_t balance;
        char what[32];
        snprintf(what, sizeof what, "account %" PRIu64, id);
        if (account_balance(&session->conn, id, &balance, &case_failures)) {
            balance_check(what, balance, session->expected[id], &case_failures);
        }
        ids[id - 1] = id;
    }
    books_check(&session->conn, ids, RESTART_ACCOUNTS, &case_failures);
}

/* Resends batch b, applied before the restart: every event answers
 * `exists` with its original timestamp, and nothing moves. */
static void restart_resend_exists(restart_session_t *session, uint32_t b) {
    ledger_transfer_t batch[RESTART_BATCH_EVENTS];
    uint32_t codes[RESTART_BATCH_EVENTS];
    uint64_t timestamps[RESTART_BATCH_EVENTS];
    restart_batch(b, batch);
    if (!create_transfers_call(&session->conn, batch, RESTART_BATCH_EVENTS, codes,
                               timestamps, &case_failures)) {
        return;
    }
    codes_all(codes, RESTART_BATCH_EVENTS, LEDGER_RESULT_EXISTS, "resent batch",
              &case_failures);
    TEST_CHECK(memcmp(timestamps, session->timestamps[b], sizeof timestamps) == 0);
}

/* Restarts on the same data directory (a new port) and reconnects. */
static bool restart_reconnect(restart_session_t *session) {
    conn_close(&session->conn);
    return server_start(&session->server) &&
           conn_open(&session->conn, session->server.port, &case_failures);
}

static bool restart_begin(restart_session_t *session, const char *prefix) {
    memset(session, 0, sizeof *session);
    session->conn.fd = -1;
    server_init(&session->server, prefix, NULL);
    return server_start(&session->server) &&
           conn_open(&session->conn, session->server.port, &case_failures) &&
           create_accounts_range(&session->conn, 1, RESTART_ACCOUNTS, &case_failures);
}

/* Sends batches [first, end) that must all be applied. */
static bool restart_send_range(restart_session_t *session, uint32_t first,
                               uint32_t end) {
    for (uint32_t b = first; b < end; b++) {
        if (!restart_send_ok(session, b)) return false;
    }
    return true;
}

/* Verifies, resends the last RESTART_RESEND applied batches. */
static void restart_check_after(restart_session_t *session, uint32_t batches) {
    restart_verify(session, batches);
    for (uint32_t b = batches - RESTART_RESEND; b < batches; b++) {
        restart_resend_exists(session, b);
    }
    restart_verify(session, batches);
}

/*
 * Pipelines batches [first, first+count), reads only the first answer,
 * then kills the server: the others are in flight. After the restart each
 * in-flight batch must be stored whole or not at all, in order; resending
 * gives `exists` for stored ones and applies the others.
 */
static bool restart_kill_in_flight(restart_session_t *session, uint32_t first,
                                   uint32_t count) {
    uint64_t request_id_first = session->conn.request_id_last + 1;
    for (uint32_t b = first; b < first + count; b++) {
        ledger_transfer_t batch[RESTART_BATCH_EVENTS];
        restart_batch(b, batch);
        uint64_t request_id = ++session->conn.request_id_last;
        wire_t wire = request_create_transfers(request_id, batch, RESTART_BATCH_EVENTS);
        TEST_CHECK_EQ(conn_send(&session->conn, wire.bytes, wire.size), 0);
        free(wire.bytes);
    }
    response_t *response =
        response_receive(&session->conn, request_id_first, &case_failures);
    uint32_t codes[RESTART_BATCH_EVENTS];
    bool ok = response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                              BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS,
                              &case_failures) &&
              event_results_copy(response->create_transfers->results,
                                 response->create_transfers->n_results,
                                 RESTART_BATCH_EVENTS, codes,
                                 session->timestamps[first], &case_failures) &&
              codes_all(codes, RESTART_BATCH_EVENTS, LEDGER_RESULT_OK,
                        "acknowledged batch", &case_failures);
    if (response != NULL) frame_response_free(response);
    server_crash(&session->server);
    if (!ok || !restart_reconnect(session)) return false;
    restart_apply(session, first); /* acknowledged: verified below */
    bool stored_before = true;
    for (uint32_t b = first + 1; b < first + count; b++) {
        uint32_t stored = restart_batch_stored(session, b);
        printf("# in-flight batch %u: %u of %u events stored\n", b, stored,
               RESTART_BATCH_EVENTS);
        TEST_CHECK(stored == 0 || stored == RESTART_BATCH_EVENTS);
        TEST_CHECK(stored_before || stored == 0); /* applied in order */
        stored_before = stored == RESTART_BATCH_EVENTS;
        if (stored == RESTART_BATCH_EVENTS) {
            restart_apply(session, b);
            restart_resend_exists(session, b);
        } else if (!restart_send_ok(session, b)) {
            return false;
        }
    }
    return true;
}

static void test_restart_after_sigkill(void) {
    restart_session_t *session = xcalloc(1, sizeof *session);
    if (restart_begin(session, "server-sigkill")) {
        /* Killed right after an acknowledged batch. */
        bool ok = restart_send_range(session, 0, 8);
        server_crash(&session->server);
        ok = ok && restart_reconnect(session);
        if (ok) restart_check_after(session, 8);
        /* Killed with batches in flight. */
        ok = ok && restart_send_range(session, 8, 14) &&
             restart_kill_in_flight(session, 14, 3);
        if (ok) restart_verify(session, 17);
        /* And once more after the session went on. */
        ok = ok && restart_send_range(session, 17, RESTART_BATCHES);
        if (ok) server_crash(&session->server);
        if (ok && restart_reconnect(session)) {
            restart_check_after(session, RESTART_BATCHES);
        }
        server_stop(&session->server);
    }
    conn_close(&session->conn);
    server_destroy(&session->server);
    free(session);
}

static void test_restart_after_sigterm(void) {
    restart_session_t *session = xcalloc(1, sizeof *session);
    if (restart_begin(session, "server-sigterm")) {
        bool ok = restart_send_range(session, 0, 10);
        server_stop(&session->server);
        ok = ok && restart_reconnect(session);
        if (ok) restart_check_after(session, 10);
        ok = ok && restart_send_range(session, 10, RESTART_BATCHES);
        server_stop(&session->server);
        if (ok && restart_reconnect(session)) {
            restart_check_after(session, RESTART_BATCHES);
        }
        server_stop(&session->server);
    }
    conn_close(&session->conn);
    server_destroy(&session->server);
    free(session);
}

/* ------------------------------------------------------------------------ */
/* Hostile cases                                                            */

/* Expects the server to close `conn` (EOF or reset) in time, without
 * sending anything first (docs/protocol.md: framing violations close the
 * connection without a response). */
static void expect_closed(conn_t *conn, const char *what) {
    size_t received = 0;
    uint64_t start = now_us();
    bool closed = conn_wait_closed(conn, CLOSE_TIMEOUT_MS, &received);
    if (!closed || received != 0) {
        printf("# %s: %s after %.1f ms, %zu bytes received\n", what,
               closed ? "closed" : "still open", (now_us() - start) / 1000.0,
               received);
    }
    TEST_CHECK(closed);
    TEST_CHECK_EQ(received, 0);
}

/* A fresh connection is still served. */
static void expect_server_serves(const server_t *server) {
    conn_t conn;
    if (conn_open(&conn, server->port, &case_failures)) {
        TEST_CHECK(status_ok(&conn, &case_failures));
        conn_close(&conn);
    }
}

static void send_raw(conn_t *conn, const uint8_t *bytes, size_t size) {
    int error = conn_send(conn, bytes, size);
    if (error != 0) printf("# send: %s\n", strerror(error));
    TEST_CHECK_EQ(error, 0);
}

/* Half a header; a header and part of its body; a good frame followed by
 * a truncated one: each then closed while the watcher is served. */
static void attack_truncated(server_t *server, watcher_t *watcher) {
    static const uint8_t half_header[2] = {0x00, 0x00};
    conn_t conn;
    if (conn_open(&conn, server->port, &case_failures)) {
        send_raw(&conn, half_header, sizeof half_header);
        watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
        conn_close(&conn);
    }
    uint8_t partial[FRAME_HEADER_SIZE + 10] = {0};
    frame_header_write(partial, 64);
    if (conn_open(&conn, server->port, &case_failures)) {
        send_raw(&conn, partial, sizeof partial);
        watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
        conn_close(&conn);
    }
    if (conn_open(&conn, server->port, &case_failures)) {
        uint64_t request_id = ++conn.request_id_last;
        wire_t wire = request_status(request_id);
        send_raw(&conn, wire.bytes, wire.size);
        free(wire.bytes);
        send_raw(&conn, partial, sizeof partial);
        response_t *response = response_receive(&conn, request_id, &case_failures);
        response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_STATUS_RESULT,
                        &case_failures);
        if (response != NULL) frame_response_free(response);
        conn_close(&conn);
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    expect_server_serves(server);
}

static void test_hostile_truncated_frame(void) {
    hostile_run("server-truncated", NULL, attack_truncated);
}

/* Transfer ids the attacks use; accounts 1 and 2 are created for them. */
enum { ATTACK_TRANSFER_ID = 500 };

/* A create_transfers frame cut in the middle of its body and closed (FIN,
 * then reset): the transfer must not be applied. */
static void attack_mid_frame(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&conn, 1, 2, &case_failures));
    conn_close(&conn);
    for (int reset = 0; reset < 2; reset++) {
        ledger_transfer_t transfer =
            transfer_make(ATTACK_TRANSFER_ID + (uint64_t)reset, 1, 2, 10);
        wire_t wire = request_create_transfers(1, &transfer, 1);
        if (conn_open(&conn, server->port, &case_failures)) {
            send_raw(&conn, wire.bytes, wire.size - 5);
            watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
            if (reset) {
                conn_reset(&conn);
            } else {
                conn_close(&conn);
            }
        }
        free(wire.bytes);
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    if (conn_open(&conn, server->port, &case_failures)) {
        ledger_u128_t ids[2] = {id128(ATTACK_TRANSFER_ID), id128(ATTACK_TRANSFER_ID + 1)};
        ledger_transfer_t found[2];
        uint32_t count = 99;
        TEST_CHECK(lookup_transfers_call(&conn, ids, 2, found, &count, &case_failures));
        TEST_CHECK_EQ(count, 0);
        ledger_balance_t balance, zero = {0, 0, 0, 0};
        if (account_balance(&conn, 1, &balance, &case_failures)) {
            balance_check("account 1", balance, zero, &case_failures);
        }
        conn_close(&conn);
    }
}

static void test_hostile_closed_mid_frame(void) {
    hostile_run("server-midframe", NULL, attack_mid_frame);
}

/* The frame limit of the oversized-length case. */
#define ATTACK_FRAME_SIZE_MAX 65536u

/* A frame of exactly the limit is served; one byte more, or a huge
 * declared length, closes the connection before any body arrives. */
static void attack_oversized(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (conn_open(&conn, server->port, &case_failures)) {
        wire_t wire = request_padded(77, ATTACK_FRAME_SIZE_MAX);
        conn.request_id_last = 77;
        expect_status(&conn, 77, wire, BORSELLINO__V1__STATUS__STATUS_UNKNOWN_OPERATION,
                      &case_failures);
        TEST_CHECK(status_ok(&conn, &case_failures));
        conn_close(&conn);
    }
    static const uint32_t declared[3] = {ATTACK_FRAME_SIZE_MAX + 1,
                                         FRAME_BODY_SIZE_MAX_DEFAULT, UINT32_MAX};
    for (int i = 0; i < 3; i++) {
        uint8_t header[FRAME_HEADER_SIZE + 8] = {0};
        frame_header_write(header, declared[i]);
        if (!conn_open(&conn, server->port, &case_failures)) continue;
        send_raw(&conn, header, sizeof header);
        char what[64];
        snprintf(what, sizeof what, "declared length %u", declared[i]);
        expect_closed(&conn, what);
        conn_close(&conn);
    }
    /* The same with the whole body sent: still closed, not answered. */
    if (conn_open(&conn, server->port, &case_failures)) {
        wire_t wire = request_padded(78, ATTACK_FRAME_SIZE_MAX + 1);
        (void)conn_send(&conn, wire.bytes, wire.size); /* may be cut short */
        free(wire.bytes);
        expect_closed(&conn, "a body one byte over the limit");
        conn_close(&conn);
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
}

static void test_hostile_oversized_length(void) {
    static const char *const args[] = {"--frame-size-max", "65536", NULL};
    hostile_run("server-oversized", args, attack_oversized);
}

/* Bodies that are not valid protobuf (checked against the decoder first). */
typedef struct garbage {
    const char *what;
    uint8_t bytes[16];
    size_t size;
} garbage_t;

static const garbage_t garbage_bodies[] = {
    {"an 11-byte varint tag", {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 11},
    {"wire type 7", {0x0F, 0x00}, 2},
    {"a varint field with no value", {0x08}, 1},
    {"field number 0", {0x00, 0x01}, 2},
    {"a length past the end", {0x5A, 0x05, 0x01}, 3},
    {"a truncated nested transfer", {0x5A, 0x03, 0x0A, 0x05, 0x00}, 5},
    {"a group start with no end", {0x0B, 0x08, 0x01}, 3},
    {"a wrong wire type for request_id", {0x0A, 0x01, 0x00}, 3},
};

static void attack_garbage(server_t *server, watcher_t *watcher) {
    size_t count = sizeof garbage_bodies / sizeof garbage_bodies[0];
    for (size_t i = 0; i < count; i++) {
        const garbage_t *garbage = &garbage_bodies[i];
        request_t *decoded = frame_request_decode(garbage->bytes, garbage->size, NULL);
        if (decoded != NULL) {
            /* Not garbage to protobuf-c: not a test of the server. */
            printf("# skipped %s: it decodes\n", garbage->what);
            frame_request_free(decoded);
            continue;
        }
        conn_t conn;
        if (!conn_open(&conn, server->port, &case_failures)) continue;
        wire_t wire = wire_raw(garbage->bytes, garbage->size);
        send_raw(&conn, wire.bytes, wire.size);
        free(wire.bytes);
        expect_closed(&conn, garbage->what);
        conn_close(&conn);
        watcher_progress(watcher, 1);
    }
    /* Seeded random bodies that do not decode. */
    uint64_t state = test_seed != 0 ? test_seed : 0x9E3779B97F4A7C15u;
    for (int i = 0, sent = 0; i < 200 && sent < 8; i++) {
        uint8_t body[64];
        for (size_t j = 0; j < sizeof body; j++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            body[j] = (uint8_t)(state >> 56);
        }
        request_t *decoded = frame_request_decode(body, sizeof body, NULL);
        if (decoded != NULL) {
            frame_request_free(decoded);
            continue;
        }
        conn_t conn;
        if (!conn_open(&conn, server->port, &case_failures)) continue;
        wire_t wire = wire_raw(body, sizeof body);
        send_raw(&conn, wire.bytes, wire.size);
        free(wire.bytes);
        expect_closed(&conn, "random bytes");
        conn_close(&conn);
        sent++;
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    expect_server_serves(server);
}

static void test_hostile_garbage_protobuf(void) {
    hostile_run("server-garbage", NULL, attack_garbage);
}

/* An empty body, a request id alone, an unknown field: each a valid
 * Request with no operation, answered UNKNOWN_OPERATION; the connection
 * stays usable. Pipelined, to check order too. */
static void attack_no_operation(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    wire_t empty = wire_raw(NULL, 0);
    wire_t alone = request_no_op(42);
    wire_t padded = request_padded(43, 40);
    send_raw(&conn, empty.bytes, empty.size);
    send_raw(&conn, alone.bytes, alone.size);
    send_raw(&conn, padded.bytes, padded.size);
    free(empty.bytes);
    free(alone.bytes);
    free(padded.bytes);
    static const uint64_t request_ids[3] = {0, 42, 43};
    for (int i = 0; i < 3; i++) {
        response_t *response = response_receive(&conn, request_ids[i], &case_failures);
        response_expect(response, BORSELLINO__V1__STATUS__STATUS_UNKNOWN_OPERATION, 0,
                        &case_failures);
        if (response != NULL) frame_response_free(response);
    }
    conn.request_id_last = 43;
    TEST_CHECK(status_ok(&conn, &case_failures));
    conn_close(&conn);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
}

static void test_hostile_no_operation(void) {
    hostile_run("server-noop", NULL, attack_no_operation);
}

#define ATTACK_BATCH_MAX 100u

/* Nothing of batch (first .. first+count-1) exists. */
static void expect_transfers_absent(conn_t *conn, uint64_t first, uint32_t count) {
    ledger_u128_t ids[ATTACK_BATCH_MAX];
    ledger_transfer_t found[ATTACK_BATCH_MAX];
    for (uint32_t done = 0; done < count;) {
        uint32_t n = count - done < ATTACK_BATCH_MAX ? count - done : ATTACK_BATCH_MAX;
        for (uint32_t i = 0; i < n; i++) ids[i] = id128(first + done + i);
        uint32_t found_count = 99;
        TEST_CHECK(lookup_transfers_call(conn, ids, n, found, &found_count,
                                         &case_failures));
        TEST_CHECK_EQ(found_count, 0);
        done += n;
    }
}

/* Over --batch-events-max: refused whole (transfers, accounts), nothing
 * applied; at the limit: accepted. Lookups are bound by the ledger's 8,190
 * ids, not by this flag (docs/protocol.md, "Limits"). */
static void attack_batch_too_large(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&conn, 1, 2, &case_failures));
    ledger_transfer_t transfers[ATTACK_BATCH_MAX + 1];
    ledger_account_t accounts[ATTACK_BATCH_MAX + 1];
    ledger_u128_t ids[ATTACK_BATCH_MAX + 1];
    for (uint32_t i = 0; i <= ATTACK_BATCH_MAX; i++) {
        transfers[i] = transfer_make(ATTACK_TRANSFER_ID + i, 1, 2, 1);
        accounts[i] = account_make(1000 + i, LEDGER_ID, 0);
        ids[i] = id128(1000 + i);
    }
    uint64_t request_id = ++conn.request_id_last;
    expect_status(&conn, request_id,
                  request_create_transfers(request_id, transfers, ATTACK_BATCH_MAX + 1),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    request_id = ++conn.request_id_last;
    expect_status(&conn, request_id,
                  request_create_accounts(request_id, accounts, ATTACK_BATCH_MAX + 1),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    expect_transfers_absent(&conn, ATTACK_TRANSFER_ID, ATTACK_BATCH_MAX + 1);
    ledger_account_t found[ATTACK_BATCH_MAX + 1];
    uint32_t found_count = 99;
    TEST_CHECK(lookup_accounts_call(&conn, ids, ATTACK_BATCH_MAX + 1, found,
                                    &found_count, &case_failures));
    TEST_CHECK_EQ(found_count, 0);
    /* At the limit. */
    TEST_CHECK(create_transfers_ok(&conn, transfers, ATTACK_BATCH_MAX, NULL,
                                   &case_failures));
    ledger_balance_t balance, expected = {0, ATTACK_BATCH_MAX, 0, 0};
    if (account_balance(&conn, 1, &balance, &case_failures)) {
        balance_check("account 1", balance, expected, &case_failures);
    }
    response_t *status = status_call(&conn, &case_failures);
    if (status != NULL) {
        TEST_CHECK_EQ(status->status_result->batch_events_max, ATTACK_BATCH_MAX);
        frame_response_free(status);
    }
    conn_close(&conn);
}

static void test_hostile_batch_too_large(void) {
    static const char *const args[] = {"--batch-events-max", "100", NULL};
    hostile_run("server-batchmax", args, attack_batch_too_large);
}

/* create_* with no events: BATCH_EMPTY; the connection stays usable. */
static void attack_batch_empty(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    uint64_t request_id = ++conn.request_id_last;
    expect_status(&conn, request_id, request_create_transfers(request_id, NULL, 0),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY, &case_failures);
    request_id = ++conn.request_id_last;
    expect_status(&conn, request_id, request_create_accounts(request_id, NULL, 0),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY, &case_failures);
    TEST_CHECK(status_ok(&conn, &case_failures));
    conn_close(&conn);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
}

static void test_hostile_batch_empty(void) {
    hostile_run("server-batchempty", NULL, attack_batch_empty);
}

/* Values that do not fit the ledger's types (a code above 65535, flags
 * above 16 bits) are a bad request: refused whole, with a message. */
static void attack_bad_values(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&conn, 1, 2, &case_failures));
    ledger_transfer_t transfers[2] = {transfer_make(ATTACK_TRANSFER_ID, 1, 2, 5),
                                      transfer_make(ATTACK_TRANSFER_ID + 1, 1, 2, 5)};
    transfer_message_t messages[2];
    Borsellino__V1__Transfer *pointers[2];
    for (int i = 0; i < 2; i++) {
        transfer_message(&transfers[i], &messages[i]);
        pointers[i] = &messages[i].transfer;
    }
    messages[1].transfer.code = 70000;
    Borsellino__V1__CreateTransfersRequest body =
        BORSELLINO__V1__CREATE_TRANSFERS_REQUEST__INIT;
    body.n_transfers = 2;
    body.transfers = pointers;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = ++conn.request_id_last;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS;
    request.create_transfers = &body;
    expect_status(&conn, request.request_id, wire_encode(&request),
                  BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST, &case_failures);
    messages[1].transfer.code = 1;
    messages[1].transfer.flags = 1u << 16;
    request.request_id = ++conn.request_id_last;
    expect_status(&conn, request.request_id, wire_encode(&request),
                  BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST, &case_failures);
    expect_transfers_absent(&conn, ATTACK_TRANSFER_ID, 2);
    TEST_CHECK(status_ok(&conn, &case_failures));
    conn_close(&conn);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
}

static void test_hostile_bad_values(void) {
    hostile_run("server-badvalues", NULL, attack_bad_values);
}

enum {
    FLOOD_CONNECTIONS_MAX = 8,
    /* Connections opened beyond the limit. */
    FLOOD_EXTRA = 24,
};

/* Opens connections up to the limit (the watcher holds one), each served;
 * every further one is closed unanswered; once some close, new ones are
 * served again. */
static void attack_flood(server_t *server, watcher_t *watcher) {
    conn_t allowed[FLOOD_CONNECTIONS_MAX - 1];
    conn_t extra[FLOOD_EXTRA];
    int allowed_open = 0;
    for (int i = 0; i < FLOOD_CONNECTIONS_MAX - 1; i++) {
        if (!conn_open(&allowed[i], server->port, &case_failures)) break;
        allowed_open++;
        TEST_CHECK(status_ok(&allowed[i], &case_failures));
    }
    int extra_open = 0;
    for (int i = 0; i < FLOOD_EXTRA; i++) {
        if (!conn_open(&extra[i], server->port, &case_failures)) break;
        extra_open++;
        uint64_t request_id = ++extra[i].request_id_last;
        wire_t wire = request_status(request_id);
        (void)conn_send(&extra[i], wire.bytes, wire.size); /* may be refused */
        free(wire.bytes);
    }
    for (int i = 0; i < extra_open; i++) {
        char what[64];
        snprintf(what, sizeof what, "connection %d over the limit",
                 FLOOD_CONNECTIONS_MAX + 1 + i);
        expect_closed(&extra[i], what);
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    for (int i = 0; i < allowed_open; i++) {
        TEST_CHECK(status_ok(&allowed[i], &case_failures)); /* still served */
    }
    for (int i = 0; i < extra_open; i++) conn_close(&extra[i]);
    for (int i = 0; i < allowed_open; i++) conn_close(&allowed[i]);
    /* The server notices closes asynchronously: retry for a while. */
    bool served = false;
    uint64_t deadline = now_us() + CLOSE_TIMEOUT_MS * UINT64_C(1000);
    while (!served && now_us() < deadline) {
        failures_t quiet = {"retry", 0};
        conn_t conn;
        if (conn_open(&conn, server->port, &quiet)) {
            response_t *response = NULL;
            wire_t wire = request_status(1);
            if (conn_send(&conn, wire.bytes, wire.size) == 0 &&
                conn_receive(&conn, RESPONSE_TIMEOUT_MS, &response) == RECEIVE_OK) {
                served = response->status == BORSELLINO__V1__STATUS__STATUS_OK;
                frame_response_free(response);
            }
            free(wire.bytes);
            conn_close(&conn);
        }
        if (!served) sleep_ms(20);
    }
    TEST_CHECK(served);
}

static void test_hostile_connection_flood(void) {
    static const char *const args[] = {"--connections-max", "8", NULL};
    hostile_run("server-flood", args, attack_flood);
}

#define ATTACK_IDLE_TIMEOUT_MS 300u

/* A silent connection and one stalled in the middle of a frame are both
 * closed after the idle timeout; the busy watcher is not. */
static void attack_idle(server_t *server, watcher_t *watcher) {
    conn_t silent, stalled;
    if (!conn_open(&silent, server->port, &case_failures)) return;
    if (!conn_open(&stalled, server->port, &case_failures)) {
        conn_close(&silent);
        return;
    }
    uint64_t start = now_us();
    uint8_t partial[FRAME_HEADER_SIZE + 3] = {0};
    frame_header_write(partial, 50);
    send_raw(&stalled, partial, sizeof partial);
    expect_closed(&silent, "idle connection");
    expect_closed(&stalled, "connection stalled mid-frame");
    uint64_t elapsed_ms = (now_us() - start) / 1000;
    printf("# idle connections closed after %" PRIu64 " ms\n", elapsed_ms);
    TEST_CHECK(elapsed_ms + 50 >= ATTACK_IDLE_TIMEOUT_MS);
    conn_close(&silent);
    conn_close(&stalled);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
}

static void test_hostile_idle_timeout(void) {
    static const char *const args[] = {"--idle-timeout-ms", "300", NULL};
    hostile_run("server-idle", args, attack_idle);
}

enum { ABANDON_REQUESTS = 50 };

/* Clients that pipeline requests and go away without reading (a reset,
 * then an orderly close): the server must drop their answers, and every
 * transfer is applied whole or not at all. */
static void attack_abandon(server_t *server, watcher_t *watcher) {
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&conn, 1, 2, &case_failures));
    conn_close(&conn);
    for (int round = 0; round < 2; round++) {
        if (!conn_open(&conn, server->port, &case_failures)) continue;
        for (uint32_t i = 0; i < ABANDON_REQUESTS; i++) {
            uint64_t id = ATTACK_TRANSFER_ID + (uint64_t)round * ABANDON_REQUESTS + i;
            ledger_transfer_t transfer = transfer_make(id, 1, 2, 1 + i);
            wire_t wire = request_create_transfers(i + 1, &transfer, 1);
            send_raw(&conn, wire.bytes, wire.size);
            free(wire.bytes);
        }
        if (round == 0) {
            conn_reset(&conn);
        } else {
            conn_close(&conn);
        }
        watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    }
    if (!conn_open(&conn, server->port, &case_failures)) return;
    ledger_u128_t ids[2 * ABANDON_REQUESTS];
    ledger_transfer_t found[2 * ABANDON_REQUESTS];
    for (uint32_t i = 0; i < 2 * ABANDON_REQUESTS; i++) {
        ids[i] = id128(ATTACK_TRANSFER_ID + i);
    }
    uint32_t count = 0;
    uint64_t sum = 0;
    TEST_CHECK(lookup_transfers_call(&conn, ids, 2 * ABANDON_REQUESTS, found, &count,
                                     &case_failures));
    for (uint32_t i = 0; i < count; i++) sum += found[i].amount;
    ledger_balance_t balance, expected = {0, sum, 0, 0};
    if (account_balance(&conn, 1, &balance, &case_failures)) {
        balance_check("account 1", balance, expected, &case_failures);
    }
    printf("# %u of %d abandoned transfers were applied\n", count,
           2 * ABANDON_REQUESTS);
    conn_close(&conn);
}

static void test_hostile_abandoned_requests(void) {
    hostile_run("server-abandon", NULL, attack_abandon);
}

/* ------------------------------------------------------------------------ */
/* Cases: the documented limits at the bound, and a client that never reads */

enum {
    /* First ids of the events refused at the bound + 1. */
    BOUND_REFUSED_ACCOUNT = 10001,
    BOUND_REFUSED_TRANSFER = 20001,
    /* The slow reader: requests pipelined without reading, how long a
     * send may block before the server is taken to have stopped reading,
     * how long the server's memory is watched, and the growth allowed. */
    SLOW_READER_IN_FLIGHT_MAX = 64,
    SLOW_READER_REQUESTS_MAX = 256,
    /* Under ASan memory is not checked, so a few pages show liveness. */
    SLOW_READER_SANITIZED_REQUESTS = 8,
    SLOW_READER_SEND_TIMEOUT_MS = 300,
    SLOW_READER_SETTLE_MS = 5000,
    SLOW_READER_GROWTH_MAX_MB = 48,
    SLOW_READER_LATENCY_MAX_MS = 10000,
};

/* Accounts {3, n} and transfers {4, n}: both halves of every id set, and
 * every optional field large, so that messages are near their largest
 * encoding and a full page of history is above 1 MiB. */
static ledger_u128_t bound_account(uint64_t n) {
    ledger_u128_t id = {3, n};
    return id;
}

static ledger_account_t bound_account_make(uint64_t n) {
    ledger_account_t account = account_make(0, LEDGER_ID, 0);
    account.id = bound_account(n);
    account.user_data_128 = id128_max();
    account.user_data_64 = UINT64_MAX;
    account.user_data_32 = UINT32_MAX;
    account.code = UINT16_MAX;
    return account;
}

/* From {3,1} to {3,2}; 8,190 of them sum to less than 2^63. */
static ledger_transfer_t bound_transfer_make(uint64_t n) {
    ledger_transfer_t transfer = transfer_make(0, 0, 0, (UINT64_C(1) << 50) + n);
    transfer.id = (ledger_u128_t){4, n};
    transfer.debit_account_id = bound_account(1);
    transfer.credit_account_id = bound_account(2);
    transfer.user_data_128 = id128_max();
    transfer.user_data_64 = UINT64_MAX;
    transfer.user_data_32 = UINT32_MAX;
    transfer.code = UINT16_MAX;
    return transfer;
}

/* Creates LEDGER_BATCH_EVENTS_MAX accounts, then as many transfers, each
 * in one request (the documented maximum); returns the sum moved. */
static bool bound_fill(conn_t *conn, uint64_t *sum_out) {
    ledger_account_t *accounts = xcalloc(LEDGER_BATCH_EVENTS_MAX, sizeof *accounts);
    ledger_transfer_t *transfers = xcalloc(LEDGER_BATCH_EVENTS_MAX, sizeof *transfers);
    *sum_out = 0;
    for (uint32_t i = 0; i < LEDGER_BATCH_EVENTS_MAX; i++) {
        accounts[i] = bound_account_make(i + 1);
        transfers[i] = bound_transfer_make(i + 1);
        *sum_out += transfers[i].amount;
    }
    wire_t wire = request_create_transfers(1, transfers, LEDGER_BATCH_EVENTS_MAX);
    TEST_REQUIRE(wire.size <= FRAME_HEADER_SIZE + FRAME_BODY_SIZE_MAX_DEFAULT);
    free(wire.bytes);
    bool ok = create_accounts_ok(conn, accounts, LEDGER_BATCH_EVENTS_MAX,
                                 &case_failures) &&
              create_transfers_ok(conn, transfers, LEDGER_BATCH_EVENTS_MAX, NULL,
                                  &case_failures);
    free(transfers);
    free(accounts);
    return ok;
}

/* One event over the bound: refused whole, the first event not stored. */
static void bound_refuse_one_more(conn_t *conn) {
    uint32_t count = LEDGER_BATCH_EVENTS_MAX + 1;
    ledger_account_t *accounts = xcalloc(count, sizeof *accounts);
    ledger_transfer_t *transfers = xcalloc(count, sizeof *transfers);
    for (uint32_t i = 0; i < count; i++) {
        accounts[i] = account_make(BOUND_REFUSED_ACCOUNT + i, LEDGER_ID, 0);
        /* Small transfers: refused for their number, not their size. */
        transfers[i] = transfer_make(BOUND_REFUSED_TRANSFER + i, 0, 0, 1);
        transfers[i].debit_account_id = bound_account(1);
        transfers[i].credit_account_id = bound_account(2);
    }
    uint64_t request_id = ++conn->request_id_last;
    expect_status(conn, request_id, request_create_accounts(request_id, accounts, count),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    request_id = ++conn->request_id_last;
    expect_status(conn, request_id,
                  request_create_transfers(request_id, transfers, count),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    ledger_u128_t ids[2] = {id128(BOUND_REFUSED_ACCOUNT),
                            id128(BOUND_REFUSED_ACCOUNT + count - 1)};
    ledger_account_t found_accounts[2];
    uint32_t found = 99;
    TEST_CHECK(lookup_accounts_call(conn, ids, 2, found_accounts, &found,
                                    &case_failures));
    TEST_CHECK_EQ(found, 0);
    ids[0] = id128(BOUND_REFUSED_TRANSFER);
    ids[1] = id128(BOUND_REFUSED_TRANSFER + count - 1);
    ledger_transfer_t found_transfers[2];
    TEST_CHECK(lookup_transfers_call(conn, ids, 2, found_transfers, &found,
                                     &case_failures));
    TEST_CHECK_EQ(found, 0);
    free(transfers);
    free(accounts);
}

/* Lookups of LEDGER_LOOKUP_IDS_MAX ids find them all; one more is refused. */
static void bound_lookups(conn_t *conn) {
    uint32_t count = LEDGER_LOOKUP_IDS_MAX + 1;
    ledger_u128_t *ids = xcalloc(count, sizeof *ids);
    ledger_account_t *accounts = xcalloc(count, sizeof *accounts);
    ledger_transfer_t *transfers = xcalloc(count, sizeof *transfers);
    for (uint32_t i = 0; i < count; i++) ids[i] = bound_account(i + 1);
    uint32_t found = 0;
    TEST_CHECK(lookup_accounts_call(conn, ids, LEDGER_LOOKUP_IDS_MAX, accounts, &found,
                                    &case_failures));
    TEST_CHECK_EQ(found, LEDGER_LOOKUP_IDS_MAX);
    ledger_account_t expected = bound_account_make(LEDGER_LOOKUP_IDS_MAX);
    expected.timestamp = accounts[LEDGER_LOOKUP_IDS_MAX - 1].timestamp;
    account_check("the last account", &accounts[LEDGER_LOOKUP_IDS_MAX - 1], &expected,
                  &case_failures);
    uint64_t request_id = ++conn->request_id_last;
    expect_status(conn, request_id, request_lookup(request_id, false, ids, count),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    for (uint32_t i = 0; i < count; i++) ids[i] = (ledger_u128_t){4, i + 1};
    TEST_CHECK(lookup_transfers_call(conn, ids, LEDGER_LOOKUP_IDS_MAX, transfers,
                                     &found, &case_failures));
    TEST_CHECK_EQ(found, LEDGER_LOOKUP_IDS_MAX);
    ledger_transfer_t expected_transfer = bound_transfer_make(LEDGER_LOOKUP_IDS_MAX);
    expected_transfer.timestamp = transfers[LEDGER_LOOKUP_IDS_MAX - 1].timestamp;
    transfer_check("the last transfer", &transfers[LEDGER_LOOKUP_IDS_MAX - 1],
                   &expected_transfer, &case_failures);
    request_id = ++conn->request_id_last;
    expect_status(conn, request_id, request_lookup(request_id, true, ids, count),
                  BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, &case_failures);
    free(transfers);
    free(accounts);
    free(ids);
}

/* A full page of history: a response above 1 MiB, which the protocol
 * allows (docs/protocol.md, "Response size"). */
static void bound_history(conn_t *conn, uint64_t sum) {
    ledger_history_filter_t filter = {bound_account(1), 0, 0, LEDGER_HISTORY_LIMIT_MAX,
                                      LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS};
    uint64_t request_id = ++conn->request_id_last;
    response_t *response =
        exchange(conn, request_id, request_history(request_id, &filter), &case_failures);
    if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_ACCOUNT_HISTORY,
                        &case_failures)) {
        Borsellino__V1__AccountHistoryResponse *history = response->account_history;
        printf("# history of %zu entries: a %zu-byte response\n", history->n_entries,
               conn->last_body_size);
        TEST_CHECK(conn->last_body_size > FRAME_BODY_SIZE_MAX_DEFAULT);
        TEST_REQUIRE(history->n_entries == LEDGER_HISTORY_LIMIT_MAX);
        ledger_balance_t last =
            balance_from_message(history->entries[LEDGER_HISTORY_LIMIT_MAX - 1]->balance_after);
        ledger_balance_t expected = {0, sum, 0, 0};
        balance_check("after the last entry", last, expected, &case_failures);
    }
    if (response != NULL) frame_response_free(response);
}

static void test_limits_at_bounds(void) {
    server_t server;
    server_init(&server, "server-bounds", NULL);
    conn_t conn;
    if (server_start(&server) && conn_open(&conn, server.port, &case_failures)) {
        uint64_t sum = 0;
        if (bound_fill(&conn, &sum)) {
            bound_refuse_one_more(&conn);
            bound_lookups(&conn);
            bound_history(&conn, sum);
        }
        conn_close(&conn);
        server_stop(&server);
    }
    server_destroy(&server);
}

/* A number from /proc/PID/status ("VmRSS:", "VmHWM:"), in kB. */
static uint64_t process_memory_kb(pid_t pid, const char *key) {
    char path[64];
    char text[16384];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    file_read(path, text, sizeof text);
    const char *line = strstr(text, key);
    return line != NULL ? strtoull(line + strlen(key), NULL, 10) : 0;
}

/* Under AddressSanitizer freed memory stays resident in its quarantine,
 * so the server's memory says nothing about what it holds on to. */
static bool process_is_sanitized(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    char *text = xcalloc(LOG_READ_MAX, 1);
    file_read(path, text, LOG_READ_MAX);
    bool sanitized = strstr(text, "libasan") != NULL || strstr(text, "libclang_rt.asan") != NULL;
    free(text);
    return sanitized;
}

/* Waits until the server's resident memory stops growing; returns its
 * peak (kB). */
static uint64_t slow_reader_settle(const server_t *server) {
    uint64_t deadline = now_us() + SLOW_READER_SETTLE_MS * UINT64_C(1000);
    uint64_t last = 0;
    int stable = 0;
    while (stable < 10 && now_us() < deadline) {
        uint64_t rss = process_memory_kb(server->pid, "VmRSS:");
        stable = rss <= last + 256 ? stable + 1 : 0;
        last = rss;
        sleep_ms(50);
    }
    return process_memory_kb(server->pid, "VmHWM:");
}

/*
 * A client pipelines requests for full history pages (over 1 MiB each)
 * and never reads. The server must stop reading that connection and hold
 * a bounded amount of unsent output (docs/protocol.md: it stops reading
 * past 16 MiB unsent), not one response per request in flight.
 */
static void attack_slow_reader(server_t *server, watcher_t *watcher) {
    conn_t conn;
    uint64_t sum = 0;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    if (!bound_fill(&conn, &sum)) {
        conn_close(&conn);
        return;
    }
    uint64_t before_kb = process_memory_kb(server->pid, "VmRSS:");
    bool sanitized = process_is_sanitized(server->pid);
    uint32_t requests =
        sanitized ? SLOW_READER_SANITIZED_REQUESTS : SLOW_READER_REQUESTS_MAX;
    ledger_history_filter_t filter = {bound_account(1), 0, 0, LEDGER_HISTORY_LIMIT_MAX,
                                      LEDGER_HISTORY_DEBITS};
    uint32_t sent = 0;
    for (int error = 0; error == 0 && sent < requests;) {
        wire_t wire = request_history(sent + 1, &filter);
        error = conn_send_within(&conn, wire.bytes, wire.size,
                                 SLOW_READER_SEND_TIMEOUT_MS);
        free(wire.bytes);
        sent += error == 0 ? 1 : 0;
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    uint64_t peak_kb = slow_reader_settle(server);
    printf("# slow reader: %u requests sent; server memory %" PRIu64 " kB, then peak "
           "%" PRIu64 " kB%s\n",
           sent, before_kb, peak_kb, sanitized ? " (sanitized: not checked)" : "");
    if (!sanitized) {
        TEST_CHECK(peak_kb < before_kb + SLOW_READER_GROWTH_MAX_MB * 1024u);
    }
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    conn_reset(&conn);
    watcher_progress(watcher, WATCHER_PROGRESS_REQUESTS);
    expect_server_serves(server);
}

/* Reads are served by the writer thread in arrival order, so the
 * watcher's requests wait behind the slow reader's queued history pages
 * (about 10 ms each, optimized): its bound here is that queue, not
 * WATCHER_LATENCY_MAX_MS. */
static void test_hostile_slow_reader(void) {
    static const char *const args[] = {"--in-flight-max", "64", NULL};
    hostile_run_bounded("server-slowreader", args, attack_slow_reader,
                        SLOW_READER_LATENCY_MAX_MS);
}

/* ------------------------------------------------------------------------ */
/* Case: SIGTERM while clients have requests in flight                      */

enum {
    INFLIGHT_CLIENTS = 4,
    INFLIGHT_ACCOUNTS = 4,
    INFLIGHT_WINDOW = 8,
    INFLIGHT_BATCH_EVENTS = 20,
    INFLIGHT_BATCHES_MAX = 5000,
    /* Each client has this many answered batches before the SIGTERM. */
    INFLIGHT_ACKED_BEFORE_SIGTERM = 20,
    INFLIGHT_DURATION_MAX_MS = 30000,
};

enum batch_state {
    BATCH_UNSENT = 0,
    BATCH_SENT,     /* no answer: not taken, so not applied */
    BATCH_ACKED,    /* answered OK: must be durable */
    BATCH_REFUSED,  /* answered SHUTTING_DOWN: must not be applied */
};

typedef struct inflight_client {
    uint16_t port;
    uint32_t index;
    failures_t failures;
    char name[32];
    _Atomic uint32_t acked;
    uint32_t sent;
    uint8_t state[INFLIGHT_BATCHES_MAX];
    pthread_t thread;
} inflight_client_t;

static uint64_t inflight_account(uint32_t client, uint32_t n) {
    return (uint64_t)(client + 1) * 1000u + 1u + n;
}

static ledger_transfer_t inflight_event(uint32_t c, uint32_t b, uint32_t k) {
    uint64_t id = ((uint64_t)(c + 1) << 32) | ((uint64_t)b * 64u + k + 1u);
    return transfer_make(id, inflight_account(c, k % INFLIGHT_ACCOUNTS),
                         inflight_account(c, (k + 1) % INFLIGHT_ACCOUNTS),
                         (b + k) % 9u + 1u);
}

static bool inflight_send(inflight_client_t *client, conn_t *conn, uint32_t b) {
    ledger_transfer_t batch[INFLIGHT_BATCH_EVENTS];
    for (uint32_t k = 0; k < INFLIGHT_BATCH_EVENTS; k++) {
        batch[k] = inflight_event(client->index, b, k);
    }
    wire_t wire = request_create_transfers(b + 1, batch, INFLIGHT_BATCH_EVENTS);
    int error = conn_send(conn, wire.bytes, wire.size);
    free(wire.bytes);
    if (error == 0) client->state[b] = BATCH_SENT;
    return error == 0;
}

/* Records the answer to batch b; false when the session should end. */
static bool inflight_receive(inflight_client_t *client, conn_t *conn, uint32_t b) {
    response_t *response = NULL;
    int outcome = conn_receive(conn, RESPONSE_TIMEOUT_MS, &response);
    if (outcome == RECEIVE_CLOSED) return false;
    if (outcome != RECEIVE_OK) {
        FAIL(&client->failures, "batch %u: %s", b, receive_outcome_name(outcome));
        return false;
    }
    bool ok = true;
    if (response->request_id != b + 1) {
        FAIL(&client->failures, "answer to %" PRIu64 ", expected %u",
             response->request_id, b + 1);
        ok = false;
    } else if (response->status == BORSELLINO__V1__STATUS__STATUS_SHUTTING_DOWN) {
        client->state[b] = BATCH_REFUSED;
    } else if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                               BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS,
                               &client->failures)) {
        uint32_t codes[INFLIGHT_BATCH_EVENTS];
        ok = event_results_copy(response->create_transfers->results,
                                response->create_transfers->n_results,
                                INFLIGHT_BATCH_EVENTS, codes, NULL, &client->failures) &&
             codes_all(codes, INFLIGHT_BATCH_EVENTS, LEDGER_RESULT_OK, "batch",
                       &client->failures);
        client->state[b] = BATCH_ACKED;
        atomic_fetch_add(&client->acked, 1);
    } else {
        ok = false;
    }
    frame_response_free(response);
    return ok;
}

/* Keeps INFLIGHT_WINDOW batches in flight until the server goes away. */
static void *inflight_run(void *argument) {
    inflight_client_t *client = argument;
    conn_t conn;
    if (!conn_open(&conn, client->port, &client->failures)) return NULL;
    if (!create_accounts_range(&conn, inflight_account(client->index, 0),
                               INFLIGHT_ACCOUNTS, &client->failures)) {
        conn_close(&conn);
        return NULL;
    }
    conn.request_id_last = 0;
    uint64_t deadline = now_us() + INFLIGHT_DURATION_MAX_MS * UINT64_C(1000);
    bool sending = true;
    for (uint32_t answered = 0; answered < INFLIGHT_BATCHES_MAX; answered++) {
        while (sending && client->sent < INFLIGHT_BATCHES_MAX &&
               client->sent - answered < INFLIGHT_WINDOW) {
            sending = inflight_send(client, &conn, client->sent);
            client->sent += sending ? 1 : 0;
        }
        if (answered == client->sent || now_us() >= deadline) break;
        if (!inflight_receive(client, &conn, answered)) break;
    }
    conn_close(&conn);
    return NULL;
}

/* After the restart: acked batches whole; refused and unanswered ones
 * absent (docs/protocol.md: on SIGTERM the server answers every request it
 * took, so one without an answer was not taken); the client's balances
 * match what is stored. */
static void inflight_verify(inflight_client_t *client, conn_t *conn,
                            uint32_t *counts_out) {
    ledger_balance_t expected[INFLIGHT_ACCOUNTS] = {{0, 0, 0, 0}};
    for (uint32_t b = 0; b < client->sent; b++) {
        ledger_u128_t ids[INFLIGHT_BATCH_EVENTS];
        ledger_transfer_t found[INFLIGHT_BATCH_EVENTS];
        for (uint32_t k = 0; k < INFLIGHT_BATCH_EVENTS; k++) {
            ids[k] = inflight_event(client->index, b, k).id;
        }
        uint32_t count = 0;
        if (!lookup_transfers_call(conn, ids, INFLIGHT_BATCH_EVENTS, found, &count,
                                   &case_failures)) {
            return;
        }
        counts_out[client->state[b]]++;
        bool whole = count == INFLIGHT_BATCH_EVENTS;
        bool allowed = client->state[b] == BATCH_ACKED ? whole : count == 0;
        if (!allowed) {
            FAIL(&case_failures, "%s batch %u (state %d): %u of %d events stored",
                 client->name, b, client->state[b], count, INFLIGHT_BATCH_EVENTS);
        }
        for (uint32_t k = 0; whole && k < INFLIGHT_BATCH_EVENTS; k++) {
            ledger_transfer_t t = inflight_event(client->index, b, k);
            expected[k % INFLIGHT_ACCOUNTS].debits_posted += t.amount;
            expected[(k + 1) % INFLIGHT_ACCOUNTS].credits_posted += t.amount;
        }
    }
    for (uint32_t n = 0; n < INFLIGHT_ACCOUNTS; n++) {
        ledger_balance_t balance;
        if (account_balance(conn, inflight_account(client->index, n), &balance,
                            &case_failures)) {
            balance_check(client->name, balance, expected[n], &case_failures);
        }
    }
}

static void inflight_wait_acked(inflight_client_t *clients) {
    uint64_t deadline = now_us() + RESPONSE_TIMEOUT_MS * UINT64_C(1000);
    for (uint32_t c = 0; c < INFLIGHT_CLIENTS; c++) {
        while (atomic_load(&clients[c].acked) < INFLIGHT_ACKED_BEFORE_SIGTERM &&
               now_us() < deadline) {
            sleep_ms(1);
        }
        TEST_CHECK(atomic_load(&clients[c].acked) >= INFLIGHT_ACKED_BEFORE_SIGTERM);
    }
}

static void test_sigterm_in_flight(void) {
    server_t server;
    server_init(&server, "server-inflight", NULL);
    static inflight_client_t clients[INFLIGHT_CLIENTS];
    if (server_start(&server)) {
        for (uint32_t c = 0; c < INFLIGHT_CLIENTS; c++) {
            memset(&clients[c], 0, sizeof clients[c]);
            clients[c].port = server.port;
            clients[c].index = c;
            snprintf(clients[c].name, sizeof clients[c].name, "client %u", c);
            clients[c].failures.who = clients[c].name;
            TEST_REQUIRE(pthread_create(&clients[c].thread, NULL, inflight_run,
                                        &clients[c]) == 0);
        }
        inflight_wait_acked(clients);
        server_stop(&server);
        for (uint32_t c = 0; c < INFLIGHT_CLIENTS; c++) {
            TEST_CHECK_EQ(pthread_join(clients[c].thread, NULL), 0);
            failures_collect(&clients[c].failures);
        }
        conn_t conn;
        if (server_start(&server) && conn_open(&conn, server.port, &case_failures)) {
            uint32_t counts[4] = {0};
            uint64_t ids[INFLIGHT_CLIENTS * INFLIGHT_ACCOUNTS];
            for (uint32_t c = 0; c < INFLIGHT_CLIENTS; c++) {
                inflight_verify(&clients[c], &conn, counts);
                for (uint32_t n = 0; n < INFLIGHT_ACCOUNTS; n++) {
                    ids[c * INFLIGHT_ACCOUNTS + n] = inflight_account(c, n);
                }
            }
            books_check(&conn, ids, INFLIGHT_CLIENTS * INFLIGHT_ACCOUNTS, &case_failures);
            printf("# batches: %u acknowledged, %u refused (shutting down), %u "
                   "unanswered\n",
                   counts[BATCH_ACKED], counts[BATCH_REFUSED], counts[BATCH_SENT]);
            conn_close(&conn);
            server_stop(&server);
        }
    }
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv) {
    /* A write to a connection the server closed must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (server_binary() == NULL) {
        printf("1..0 # SKIP BORSELLINOD is not set (run through meson test)\n");
        return 0;
    }
    static const test_case_t cases[] = {
        {"operations", test_operations},
        {"pipelining", test_pipelining},
        {"pipelining_small_limits", test_pipelining_small_limits},
        {"concurrent_clients", test_concurrent_clients},
        {"restart_after_sigkill", test_restart_after_sigkill},
        {"restart_after_sigterm", test_restart_after_sigterm},
        {"hostile_truncated_frame", test_hostile_truncated_frame},
        {"hostile_closed_mid_frame", test_hostile_closed_mid_frame},
        {"hostile_oversized_length", test_hostile_oversized_length},
        {"hostile_garbage_protobuf", test_hostile_garbage_protobuf},
        {"hostile_no_operation", test_hostile_no_operation},
        {"hostile_batch_too_large", test_hostile_batch_too_large},
        {"hostile_batch_empty", test_hostile_batch_empty},
        {"hostile_bad_values", test_hostile_bad_values},
        {"hostile_connection_flood", test_hostile_connection_flood},
        {"hostile_idle_timeout", test_hostile_idle_timeout},
        {"hostile_abandoned_requests", test_hostile_abandoned_requests},
        {"limits_at_bounds", test_limits_at_bounds},
        {"hostile_slow_reader", test_hostile_slow_reader},
        {"sigterm_in_flight", test_sigterm_in_flight},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
