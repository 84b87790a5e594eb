/*
 * server_fixture.h — a borsellinod started by a test, and a minimal
 * protocol client written from the contract alone (proto/frame.h and the
 * protobuf-c code generated from proto/borsellino.proto), sharing no code
 * with the server or tools/client.c, so that it cannot hide a bug it
 * shares with them and can also send raw, hostile bytes.
 *
 * The server: server_init() makes a case directory under
 * $BORSELLINO_TEST_TMP (data/ and one server-N.log per start);
 * server_start() runs $BORSELLINOD on 127.0.0.1:0 and reads the port from
 * its "event=listening address=HOST:PORT" log line; server_stop() is a
 * SIGTERM that must end in exit status 0, server_crash() a SIGKILL;
 * server_destroy() removes the directory of a passing case, or keeps it
 * and prints the logs' tails.
 *
 * The client: conn_t is one non-blocking TCP connection; request_*()
 * encode frames; exchange() sends one and receives its response; the
 * *_call() helpers wrap whole operations. Every wait has a deadline.
 *
 * Threads: helpers report protocol problems into a failures_t (an atomic
 * count, and one printed line per failure) instead of TEST_CHECK, so that
 * client threads can use them; the main thread adds a sink to the running
 * case with failures_collect(). TEST_CHECK is for the main thread only.
 *
 * Every function is static inline, as in ledger_fixture.h, so that a
 * program using some of them gets no unused-function warning.
 */
#ifndef BORSELLINO_SERVER_FIXTURE_H
#define BORSELLINO_SERVER_FIXTURE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

/* ------------------------------------------------------------------------ */
/* Time and memory                                                          */

static inline uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline void sleep_ms(uint32_t ms) {
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Allocation failure in a test is not a finding: stop at once. */
static inline void *xcalloc(size_t count, size_t size) {
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

static inline void failures_note(failures_t *failures, int line, const char *format,
                          ...) __attribute__((format(printf, 3, 4)));

static inline void failures_note(failures_t *failures, int line, const char *format,
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
static inline void failures_collect(failures_t *failures) {
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

static inline const char *server_binary(void) {
    const char *path = getenv("BORSELLINOD");
    return path != NULL && path[0] != '\0' ? path : NULL;
}

/* A new case directory; `extra_args` is NULL-terminated, or NULL. */
static inline void server_init(server_t *server, const char *prefix,
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
static inline size_t file_read(const char *path, char *buffer, size_t capacity) {
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
static inline bool log_listening_port(const char *log, uint16_t *port_out) {
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
static inline void server_logs_print(const server_t *server) {
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
static inline void server_exec(const char *log_path, char *const *argv) {
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
static inline bool server_wait(server_t *server, uint32_t timeout_ms, int *status_out) {
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

static inline void server_kill_hard(server_t *server) {
    if (server->pid == 0) return;
    kill(server->pid, SIGKILL);
    int status = 0;
    (void)waitpid(server->pid, &status, 0);
    server->pid = 0;
}

/* Starts the server on its data directory and a new ephemeral port, and
 * waits for its listening line. False (a failed check) if it does not. */
static inline bool server_start(server_t *server) {
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
static inline void server_stop(server_t *server) {
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
static inline void server_crash(server_t *server) {
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
static inline void server_destroy(server_t *server) {
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

static inline const char *receive_outcome_name(int outcome) {
    switch (outcome) {
    case RECEIVE_OK: return "ok";
    case RECEIVE_CLOSED: return "connection closed by the server";
    case RECEIVE_TIMEOUT: return "no response in time";
    default: return "socket error or undecodable response";
    }
}

/* Waits for `events` on fd until the deadline; returns poll's revents,
 * or 0 at the deadline. */
static inline short fd_wait(int fd, short events, uint64_t deadline_us) {
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
static inline bool conn_open(conn_t *conn, uint16_t port, failures_t *failures) {
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

static inline void conn_close(conn_t *conn) {
    if (conn->fd >= 0) close(conn->fd);
    conn->fd = -1;
    free(conn->buffer);
    conn->buffer = NULL;
    conn->used = 0;
}

/* Closes with a TCP reset instead of an orderly end of stream. */
static inline void conn_reset(conn_t *conn) {
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(conn->fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    conn_close(conn);
}

/* Sends every byte within timeout_ms. Returns 0 or an errno (EPIPE or
 * ECONNRESET when the server closed, ETIMEDOUT when it stopped reading). */
static inline int conn_send_within(conn_t *conn, const uint8_t *bytes, size_t size,
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

static inline int conn_send(conn_t *conn, const uint8_t *bytes, size_t size) {
    return conn_send_within(conn, bytes, size, RESPONSE_TIMEOUT_MS);
}

/* Reads what has arrived (waiting until the deadline for something). */
static inline int conn_read_some(conn_t *conn, uint64_t deadline_us) {
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
static inline int conn_receive(conn_t *conn, uint32_t timeout_ms, response_t **out) {
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
        /* Checked here too: a peer trickling bytes never hits the wait. */
        if (now_us() >= deadline) return RECEIVE_TIMEOUT;
        int outcome = conn_read_some(conn, deadline);
        if (outcome != RECEIVE_OK) return outcome;
    }
}

/* True when the server ends the connection (end of stream or reset)
 * within timeout_ms; whatever it sends before is counted, not parsed. */
static inline bool conn_wait_closed(conn_t *conn, uint32_t timeout_ms,
                             size_t *bytes_received_out) {
    uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
    *bytes_received_out = 0;
    while (now_us() < deadline) {
        int outcome = conn_read_some(conn, deadline);
        *bytes_received_out += conn->used;
        conn->used = 0;
        if (outcome == RECEIVE_CLOSED) return true;
        if (outcome != RECEIVE_OK) return false;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Encoding requests                                                        */

/* One frame, header and body, malloc'd. */
typedef struct wire {
    uint8_t *bytes;
    size_t size;
} wire_t;

static inline wire_t wire_encode(const request_t *request) {
    wire_t wire = {NULL, 0};
    int rc = frame_encode_request(request, &wire.bytes, &wire.size);
    if (rc != FRAME_OK) {
        printf("Bail out! frame_encode_request: %s\n", frame_strerror(rc));
        abort();
    }
    return wire;
}

/* A frame around arbitrary body bytes. */
static inline wire_t wire_raw(const uint8_t *body, size_t size) {
    wire_t wire = {xcalloc(FRAME_HEADER_SIZE + size, 1), FRAME_HEADER_SIZE + size};
    frame_header_write(wire.bytes, (uint32_t)size);
    if (size > 0) memcpy(wire.bytes + FRAME_HEADER_SIZE, body, size);
    return wire;
}

static inline void u128_message(Borsellino__V1__U128 *out, ledger_u128_t value) {
    borsellino__v1__u128__init(out);
    out->hi = value.hi;
    out->lo = value.lo;
}

static inline ledger_u128_t u128_from_message(const Borsellino__V1__U128 *message) {
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

static inline void transfer_message(const ledger_transfer_t *in, transfer_message_t *m) {
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

static inline void account_message(const ledger_account_t *in, account_message_t *m) {
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

static inline wire_t request_create_transfers(uint64_t request_id,
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

static inline wire_t request_create_accounts(uint64_t request_id,
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
static inline wire_t request_lookup(uint64_t request_id, bool transfers,
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

static inline wire_t request_history(uint64_t request_id,
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

static inline wire_t request_balance_at(uint64_t request_id, ledger_u128_t account_id,
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

static inline wire_t request_status(uint64_t request_id) {
    Borsellino__V1__StatusRequest body = BORSELLINO__V1__STATUS_REQUEST__INIT;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = request_id;
    request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
    request.status = &body;
    return wire_encode(&request);
}

/* A valid Request with a request id and no operation. */
static inline wire_t request_no_op(uint64_t request_id) {
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = request_id;
    return wire_encode(&request);
}

/* Appends a protobuf varint; returns the bytes written (at most 10). */
static inline size_t varint_put(uint8_t *out, uint64_t value) {
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
static inline wire_t request_padded(uint64_t request_id, size_t body_size) {
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

static inline void transfer_from_message(const Borsellino__V1__Transfer *m,
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

static inline void account_from_message(const Borsellino__V1__Account *m,
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

static inline ledger_balance_t balance_from_message(const Borsellino__V1__Balance *m) {
    ledger_balance_t balance = {0, 0, 0, 0};
    if (m != NULL) {
        balance.debits_pending = m->debits_pending;
        balance.debits_posted = m->debits_posted;
        balance.credits_pending = m->credits_pending;
        balance.credits_posted = m->credits_posted;
    }
    return balance;
}

static inline ledger_balance_t balance_of_account(const ledger_account_t *account) {
    ledger_balance_t balance = {account->debits_pending, account->debits_posted,
                                account->credits_pending, account->credits_posted};
    return balance;
}

static inline bool balance_equal(ledger_balance_t a, ledger_balance_t b) {
    return a.debits_pending == b.debits_pending &&
           a.debits_posted == b.debits_posted &&
           a.credits_pending == b.credits_pending &&
           a.credits_posted == b.credits_posted;
}

/* Notes a balance mismatch; returns whether they match. */
static inline bool balance_check(const char *what, ledger_balance_t actual,
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
static inline bool account_check(const char *what, const ledger_account_t *actual,
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

static inline bool transfer_check(const char *what, const ledger_transfer_t *actual,
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
static inline response_t *response_receive(conn_t *conn, uint64_t request_id,
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
static inline response_t *exchange(conn_t *conn, uint64_t request_id, wire_t wire,
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
static inline bool response_expect(const response_t *response,
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
static inline bool event_results_copy(Borsellino__V1__EventResult *const *results,
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
static inline bool create_transfers_call(conn_t *conn, const ledger_transfer_t *transfers,
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

static inline bool create_accounts_call(conn_t *conn, const ledger_account_t *accounts,
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
static inline bool codes_all(const uint32_t *codes, uint32_t count, uint32_t expected,
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
static inline bool create_transfers_ok(conn_t *conn, const ledger_transfer_t *transfers,
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

static inline bool create_accounts_ok(conn_t *conn, const ledger_account_t *accounts,
                               uint32_t count, failures_t *failures) {
    uint32_t *codes = xcalloc(count, sizeof *codes);
    bool ok = create_accounts_call(conn, accounts, count, codes, NULL, failures) &&
              codes_all(codes, count, LEDGER_RESULT_OK, "create_accounts",
                        failures);
    free(codes);
    return ok;
}

/* Plain accounts first..first+count-1 on LEDGER_ID. */
static inline bool create_accounts_range(conn_t *conn, uint64_t first, uint32_t count,
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
static inline bool lookup_accounts_call(conn_t *conn, const ledger_u128_t *ids,
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

static inline bool lookup_transfers_call(conn_t *conn, const ledger_u128_t *ids,
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
static inline bool account_balance(conn_t *conn, uint64_t id, ledger_balance_t *out,
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
static inline void expect_status(conn_t *conn, uint64_t request_id, wire_t wire,
                          Borsellino__V1__Status status, failures_t *failures) {
    response_t *response = exchange(conn, request_id, wire, failures);
    response_expect(response, status, 0, failures);
    if (response != NULL) frame_response_free(response);
}

/* Asks for the server's status; NULL on failure. */
static inline response_t *status_call(conn_t *conn, failures_t *failures) {
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
static inline bool status_ok(conn_t *conn, failures_t *failures) {
    response_t *response = status_call(conn, failures);
    if (response != NULL) frame_response_free(response);
    return response != NULL;
}

/* Σ debits = Σ credits over accounts first..first+count-1 (one ledger),
 * posted and pending: the books balance as seen through the protocol. */
static inline void books_check(conn_t *conn, const uint64_t *ids, uint32_t count,
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

#endif /* BORSELLINO_SERVER_FIXTURE_H */
