/*
 * client.c — the blocking protocol client (client.h is the manual).
 *
 * The socket is non-blocking and every wait is a poll() bounded by the
 * client's timeout, so no call can hang longer than that without progress.
 * Bytes from the server go into one receive buffer that holds at most one
 * frame plus what arrived after it (CLIENT_RESPONSE_SIZE_MAX + header);
 * frames are decoded only when client_receive() asks for one. Sent request
 * ids wait in a ring (growing by doubling up to CLIENT_IN_FLIGHT_MAX) so
 * each response can be checked against the request it answers.
 *
 * With TLS (client_connect_tls), the same paths go through the SSL object
 * of client_tls.c instead of send()/recv() on the socket; the socket stays
 * non-blocking and the waits are the same polls. OpenSSL reads one record
 * at a time from the socket (no read-ahead), and each read takes all the
 * plaintext that fits, so a poll never waits while decrypted bytes sit
 * unread inside OpenSSL.
 *
 * Workload: the command-line tool sends a handful of requests; the load
 * generator keeps a few requests of up to 8,190 transfers in flight per
 * connection and measures latency one request at a time, so the send path
 * does one encode and usually one send() per request, with TCP_NODELAY.
 */
#include "client.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "client_tls.h"
#include "convert.h"
#include "frame.h"

enum {
    /* The receive buffer starts here and doubles as frames demand. */
    CLIENT_RECEIVE_BUFFER_INITIAL = 64u << 10,
    /* It never grows beyond one largest frame plus its header. */
    CLIENT_RECEIVE_BUFFER_MAX = CLIENT_RESPONSE_SIZE_MAX + FRAME_HEADER_SIZE,
    CLIENT_IN_FLIGHT_INITIAL = 64,
    CLIENT_MESSAGE_SIZE = 512,
};

struct client {
    int fd;
    SSL *ssl; /* NULL: plaintext */
    uint64_t responses_received;
    uint32_t timeout_ms; /* 0 = wait forever */
    bool broken;
    uint64_t request_id_next;
    /* Ring of the ids of requests in flight, oldest at in_flight_head. */
    uint64_t *in_flight_ids;
    uint32_t in_flight_capacity;
    uint32_t in_flight_head;
    uint32_t in_flight_count;
    /* Received bytes not consumed yet: receive_buffer[start, end). */
    uint8_t *receive_buffer;
    size_t receive_capacity;
    size_t receive_start;
    size_t receive_end;
    char address[CLIENT_ADDRESS_LENGTH_MAX + 1];
    char message[CLIENT_MESSAGE_SIZE];
};

/* The message of the last failed client_connect in this thread. */
static _Thread_local char client_connect_message[CLIENT_MESSAGE_SIZE];

static void client_message_set(char *buffer, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void client_message_set(char *buffer, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(buffer, CLIENT_MESSAGE_SIZE, format, arguments);
    va_end(arguments);
}

/* Marks the connection broken and records why; returns `error`. A raw
 * detail (an errno string, a decoding problem) gets the error's name in
 * front; the others are sentences already. */
static int client_fail(client_t *client, int error, const char *detail) {
    assert(error < 0);
    bool raw = error == CLIENT_ERR_IO || error == CLIENT_ERR_PROTOCOL;
    client->broken = true;
    client_message_set(client->message, "%s%s%s (server at %s)", raw ? client_strerror(error) : "",
                       raw ? ": " : "", detail, client->address);
    return error;
}

/* ---- addresses and connecting ---- */

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port buffers. */
static bool client_address_split(const char *address, char *host, size_t host_size,
                                 char *port, size_t port_size) {
    const char *colon = NULL;
    const char *host_start = address;
    size_t host_length = 0;
    if (address[0] == '[') {
        const char *close = strchr(address, ']');
        if (close == NULL || close[1] != ':') return false;
        host_start = address + 1;
        host_length = (size_t)(close - host_start);
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL) return false;
        host_length = (size_t)(colon - address);
    }
    const char *port_text = colon + 1;
    size_t port_length = strlen(port_text);
    if (host_length == 0 || host_length >= host_size) return false;
    if (port_length == 0 || port_length >= port_size) return false;
    if (strspn(port_text, "0123456789") != port_length) return false;
    if (atoi(port_text) < 1 || atoi(port_text) > 65535) return false;
    memcpy(host, host_start, host_length);
    host[host_length] = '\0';
    memcpy(port, port_text, port_length + 1);
    return true;
}

/* Waits until `fd` is ready for `events`; returns the revents, 0 on
 * timeout, or -errno. */
static int client_wait(int fd, short events, uint32_t timeout_ms) {
    struct pollfd entry = {.fd = fd, .events = events};
    for (;;) {
        int ready = poll(&entry, 1, timeout_ms == 0 ? -1 : (int)timeout_ms);
        if (ready > 0) return entry.revents;
        if (ready == 0) return 0;
        if (errno != EINTR) return -errno;
    }
}

/* Connects one resolved address; returns an fd, or -errno (-ETIMEDOUT on
 * timeout). */
static int client_connect_one(const struct addrinfo *info, uint32_t timeout_ms) {
    int fd = socket(info->ai_family, info->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    info->ai_protocol);
    if (fd < 0) return -errno;
    int error = 0;
    if (connect(fd, info->ai_addr, info->ai_addrlen) != 0) {
        error = errno;
        if (error == EINPROGRESS) {
            int ready = client_wait(fd, POLLOUT, timeout_ms);
            socklen_t length = sizeof error;
            if (ready == 0) error = ETIMEDOUT;
            else if (ready < 0) error = -ready;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
        }
    }
    if (error != 0) {
        close(fd);
        return -error;
    }
    /* Requests are whole frames written at once: send them now, not after
     * Nagle's delay, or one-at-a-time latency would be 40 ms. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Resolves and connects; returns an fd or a CLIENT_ERR_* code with
 * client_connect_message filled. */
static int client_open_socket(const char *address, uint32_t timeout_ms) {
    char host[CLIENT_ADDRESS_LENGTH_MAX + 1];
    char port[8];
    if (!client_address_split(address, host, sizeof host, port, sizeof port)) {
        client_message_set(client_connect_message,
                           "bad address \"%s\": expected HOST:PORT, such as %s",
                           address, CLIENT_ADDRESS_DEFAULT);
        return CLIENT_ERR_ADDRESS;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *infos = NULL;
    int resolved = getaddrinfo(host, port, &hints, &infos);
    if (resolved != 0) {
        client_message_set(client_connect_message, "cannot resolve host \"%s\": %s",
                           host, gai_strerror(resolved));
        return CLIENT_ERR_ADDRESS;
    }
    int result = -ECONNREFUSED;
    for (const struct addrinfo *info = infos; info != NULL; info = info->ai_next) {
        result = client_connect_one(info, timeout_ms);
        if (result >= 0) break;
    }
    freeaddrinfo(infos);
    if (result >= 0) return result;
    if (result == -ECONNREFUSED) {
        client_message_set(client_connect_message,
                           "no borsellino server is running at %s (connection refused); "
                           "start one with: borsellinod --data DIR --listen %s",
                           address, address);
        return CLIENT_ERR_REFUSED;
    }
    if (result == -ETIMEDOUT) {
        client_message_set(client_connect_message,
                           "no answer from %s within %u ms (connection timed out)",
                           address, timeout_ms);
        return CLIENT_ERR_TIMEOUT;
    }
    client_message_set(client_connect_message, "cannot connect to %s: %s", address,
                       strerror(-result));
    return CLIENT_ERR_IO;
}

int client_connect(const char *address, uint32_t timeout_ms, client_t **client_out) {
    return client_connect_tls(address, timeout_ms, NULL, client_out);
}

/* Runs the TLS handshake on a connected socket; on failure closes it. */
static int client_start_tls(client_t *client, const char *address, SSL_CTX *context) {
    char host[CLIENT_ADDRESS_LENGTH_MAX + 1];
    char port[8];
    bool split = client_address_split(address, host, sizeof host, port, sizeof port);
    assert(split); /* client_open_socket accepted it */
    (void)split;
    int error = client_tls_start(client->fd, host, context, client->timeout_ms, &client->ssl,
                                 client_connect_message, CLIENT_MESSAGE_SIZE);
    if (error != CLIENT_OK) {
        close(client->fd);
        client->fd = -1;
    }
    return error;
}

int client_connect_tls(const char *address, uint32_t timeout_ms, const client_tls_t *tls,
                       client_t **client_out) {
    client_connect_message[0] = '\0';
    if (address == NULL || client_out == NULL) {
        client_message_set(client_connect_message, "client_connect: NULL argument");
        return CLIENT_ERR_INVALID_ARGUMENT;
    }
    if (strlen(address) > CLIENT_ADDRESS_LENGTH_MAX) {
        client_message_set(client_connect_message, "address longer than %d characters",
                           CLIENT_ADDRESS_LENGTH_MAX);
        return CLIENT_ERR_ADDRESS;
    }
    /* The TLS files first: a bad one never costs the server a connection. */
    SSL_CTX *context = NULL;
    if (tls != NULL) {
        int error = client_tls_context(tls, &context, client_connect_message,
                                       CLIENT_MESSAGE_SIZE);
        if (error != CLIENT_OK) return error;
    }
    client_t *client = calloc(1, sizeof *client);
    uint64_t *ids = calloc(CLIENT_IN_FLIGHT_INITIAL, sizeof *ids);
    uint8_t *buffer = malloc(CLIENT_RECEIVE_BUFFER_INITIAL);
    if (client == NULL || ids == NULL || buffer == NULL) {
        free(client), free(ids), free(buffer);
        SSL_CTX_free(context);
        client_message_set(client_connect_message, "out of memory");
        return CLIENT_ERR_NO_MEMORY;
    }
    int fd = client_open_socket(address, timeout_ms);
    if (fd < 0) {
        free(client), free(ids), free(buffer);
        SSL_CTX_free(context);
        return fd;
    }
    client->fd = fd;
    client->timeout_ms = timeout_ms;
    client->request_id_next = 1;
    client->in_flight_ids = ids;
    client->in_flight_capacity = CLIENT_IN_FLIGHT_INITIAL;
    client->receive_buffer = buffer;
    client->receive_capacity = CLIENT_RECEIVE_BUFFER_INITIAL;
    snprintf(client->address, sizeof client->address, "%s", address);
    if (context != NULL) {
        int error = client_start_tls(client, address, context);
        SSL_CTX_free(context); /* the SSL keeps its own reference */
        if (error != CLIENT_OK) {
            free(client), free(ids), free(buffer);
            return error;
        }
    }
    *client_out = client;
    return CLIENT_OK;
}

void client_close(client_t *client) {
    if (client == NULL) return;
    if (client->ssl != NULL) {
        /* close_notify, best effort: never waits. */
        if (!client->broken) SSL_shutdown(client->ssl);
        SSL_free(client->ssl);
        ERR_clear_error();
    }
    close(client->fd);
    free(client->in_flight_ids);
    free(client->receive_buffer);
    free(client);
}

/* ---- the in-flight ring ---- */

static int client_in_flight_push(client_t *client, uint64_t request_id) {
    if (client->in_flight_count == client->in_flight_capacity) {
        uint32_t capacity = client->in_flight_capacity * 2;
        uint64_t *ids = malloc(capacity * sizeof *ids);
        if (ids == NULL) return CLIENT_ERR_NO_MEMORY;
        for (uint32_t i = 0; i < client->in_flight_count; i++) {
            ids[i] = client->in_flight_ids[(client->in_flight_head + i) %
                                           client->in_flight_capacity];
        }
        free(client->in_flight_ids);
        client->in_flight_ids = ids;
        client->in_flight_capacity = capacity;
        client->in_flight_head = 0;
    }
    uint32_t tail = (client->in_flight_head + client->in_flight_count) %
                    client->in_flight_capacity;
    client->in_flight_ids[tail] = request_id;
    client->in_flight_count++;
    return CLIENT_OK;
}

static uint64_t client_in_flight_pop(client_t *client) {
    assert(client->in_flight_count > 0);
    uint64_t request_id = client->in_flight_ids[client->in_flight_head];
    client->in_flight_head = (client->in_flight_head + 1) % client->in_flight_capacity;
    client->in_flight_count--;
    return request_id;
}

/* ---- receiving bytes ---- */

/* Makes room for at least `wanted` bytes after receive_end, compacting
 * first and growing up to CLIENT_RECEIVE_BUFFER_MAX. Returns false when
 * there is no room (the buffer is as large as it may get and full). */
static bool client_receive_room(client_t *client, size_t wanted) {
    size_t pending = client->receive_end - client->receive_start;
    if (client->receive_capacity - client->receive_end >= wanted) return true;
    if (client->receive_start > 0) {
        memmove(client->receive_buffer, client->receive_buffer + client->receive_start,
                pending);
        client->receive_start = 0;
        client->receive_end = pending;
    }
    if (client->receive_capacity - pending >= wanted) return true;
    size_t capacity = client->receive_capacity;
    while (capacity - pending < wanted && capacity < CLIENT_RECEIVE_BUFFER_MAX) {
        capacity = capacity * 2 > CLIENT_RECEIVE_BUFFER_MAX ? CLIENT_RECEIVE_BUFFER_MAX
                                                           : capacity * 2;
    }
    if (capacity == client->receive_capacity) return pending < capacity;
    uint8_t *buffer = realloc(client->receive_buffer, capacity);
    if (buffer == NULL) return pending < client->receive_capacity;
    client->receive_buffer = buffer;
    client->receive_capacity = capacity;
    return true;
}

/* The server's end of file. Over TLS, before any answer, it is also how
 * the server refuses a valid certificate it does not know: say so. */
static int client_fail_closed(client_t *client, const char *what) {
    char detail[CLIENT_MESSAGE_SIZE - 64];
    const char *hint = "";
    if (client->responses_received == 0 && client->ssl != NULL) {
        hint = " before any answer: over TLS, this is how it refuses a certificate that is "
               "not in its roles file (its log says event=tls_rejected)";
    } else if (client->responses_received == 0) {
        hint = " before any answer (if it requires TLS, give --tls-cert, --tls-key and "
               "--tls-ca)";
    }
    snprintf(detail, sizeof detail, "%s%s", what, hint);
    return client_fail(client, CLIENT_ERR_CLOSED, detail);
}

/* A failed SSL_read or SSL_write: end of file, or a TLS error (such as
 * the server's alert refusing this client's certificate). */
static int client_tls_fail(client_t *client, int code, int saved_errno) {
    if (code == SSL_ERROR_ZERO_RETURN || (code == SSL_ERROR_SYSCALL && saved_errno == 0)) {
        ERR_clear_error();
        return client_fail_closed(client, "the server closed the connection");
    }
    if (code == SSL_ERROR_SYSCALL && (saved_errno == EPIPE || saved_errno == ECONNRESET)) {
        ERR_clear_error();
        return client_fail_closed(client, "the server reset the connection");
    }
    char reason[200];
    char detail[CLIENT_MESSAGE_SIZE - 64];
    errno = saved_errno;
    client_tls_reason(client->ssl, reason, sizeof reason);
    bool alert = strstr(reason, "alert") != NULL;
    snprintf(detail, sizeof detail, "TLS: %s%s", alert ? "the server refused this client: " : "",
             reason);
    return client_fail(client, CLIENT_ERR_TLS, detail);
}

/* Reads what OpenSSL can decrypt, as long as there is room. Returns as
 * client_read_some does. */
static int client_tls_read_some(client_t *client) {
    size_t total = 0;
    while (client_receive_room(client, 1)) {
        size_t room = client->receive_capacity - client->receive_end;
        size_t got = 0;
        ERR_clear_error();
        errno = 0;
        if (SSL_read_ex(client->ssl, client->receive_buffer + client->receive_end, room, &got) == 1) {
            client->receive_end += got;
            total += got;
            if (total >= 1u << 30) break;
            continue;
        }
        int saved_errno = errno;
        int code = SSL_get_error(client->ssl, 0);
        if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            break;
        }
        if (total > 0) break; /* hand over what came; the failure repeats */
        return client_tls_fail(client, code, saved_errno);
    }
    return (int)total;
}

/* Reads what the socket has (one recv). Returns bytes read (> 0), 0 when
 * nothing is available now, or a CLIENT_ERR_* code (connection broken). */
static int client_read_some(client_t *client) {
    if (client->ssl != NULL) return client_tls_read_some(client);
    if (!client_receive_room(client, 1)) return 0;
    size_t room = client->receive_capacity - client->receive_end;
    ssize_t received = recv(client->fd, client->receive_buffer + client->receive_end,
                            room, 0);
    if (received > 0) {
        client->receive_end += (size_t)received;
        return (int)(received > 1 << 30 ? 1 << 30 : received);
    }
    if (received == 0) return client_fail_closed(client, "the server closed the connection");
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    if (errno == ECONNRESET) {
        return client_fail(client, CLIENT_ERR_CLOSED, "the server reset the connection");
    }
    return client_fail(client, CLIENT_ERR_IO, strerror(errno));
}

/* ---- sending ---- */

/* One step of sending: returns bytes sent (> 0), 0 when the socket is
 * full, or a CLIENT_ERR_* code. */
static ssize_t client_send_some(client_t *client, const uint8_t *bytes, size_t size) {
    if (client->ssl == NULL) {
        ssize_t sent = send(client->fd, bytes, size, MSG_NOSIGNAL);
        if (sent >= 0) return sent;
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno == EPIPE || errno == ECONNRESET) {
            return client_fail(client, CLIENT_ERR_CLOSED,
                               "the server closed the connection while a request was sent");
        }
        return client_fail(client, CLIENT_ERR_IO, strerror(errno));
    }
    size_t sent = 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(client->ssl, bytes, size, &sent) == 1) return (ssize_t)sent;
    int saved_errno = errno;
    int code = SSL_get_error(client->ssl, 0);
    if (code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return 0;
    }
    return client_tls_fail(client, code, saved_errno);
}

/* Writes all of `frame`, reading incoming responses while the socket is
 * full (see the invariants in client.h). */
static int client_write_all(client_t *client, const uint8_t *frame, size_t size) {
    size_t written = 0;
    while (written < size) {
        ssize_t sent = client_send_some(client, frame + written, size - written);
        if (sent > 0) {
            written += (size_t)sent;
            continue;
        }
        if (sent < 0) return (int)sent;
        bool can_read = client_receive_room(client, 1);
        int ready = client_wait(client->fd, can_read ? POLLIN | POLLOUT : POLLOUT,
                                client->timeout_ms);
        if (ready == 0) {
            return client_fail(client, CLIENT_ERR_TIMEOUT,
                               "timed out: the server accepted no bytes of the request");
        }
        if (ready < 0) return client_fail(client, CLIENT_ERR_IO, strerror(-ready));
        if (ready & (POLLIN | POLLHUP | POLLERR)) {
            int read = client_read_some(client);
            if (read < 0) return read;
        }
    }
    return CLIENT_OK;
}

/* Whether another request may be sent now. */
static int client_send_ready(client_t *client) {
    if (client->broken) return CLIENT_ERR_BROKEN;
    if (client->in_flight_count >= CLIENT_IN_FLIGHT_MAX) {
        client_message_set(client->message,
                           "%u requests already wait for an answer; receive some first",
                           client->in_flight_count);
        return CLIENT_ERR_TOO_MANY_IN_FLIGHT;
    }
    return CLIENT_OK;
}

/* Sends a frame encoded with result `encoded` (FRAME_*) and frees it. */
static int client_send_encoded(client_t *client, uint64_t request_id, int encoded,
                               uint8_t *frame, size_t frame_size) {
    if (encoded == FRAME_ERR_NO_MEMORY) return CLIENT_ERR_NO_MEMORY;
    if (encoded != FRAME_OK) {
        client_message_set(client->message, "cannot encode the request: %s",
                           frame_strerror(encoded));
        return CLIENT_ERR_ENCODE;
    }
    /* Push first so that a failed push leaves nothing half sent. */
    int error = client_in_flight_push(client, request_id);
    if (error == CLIENT_OK) {
        error = client_write_all(client, frame, frame_size);
    }
    free(frame);
    return error;
}

int client_send(client_t *client, Borsellino__V1__Request *request) {
    if (client == NULL || request == NULL) return CLIENT_ERR_INVALID_ARGUMENT;
    if (client->broken) return CLIENT_ERR_BROKEN;
    if (request->op_case == BORSELLINO__V1__REQUEST__OP__NOT_SET) {
        client_message_set(client->message, "a request needs an operation");
        return CLIENT_ERR_INVALID_ARGUMENT;
    }
    int ready = client_send_ready(client);
    if (ready != CLIENT_OK) return ready;
    if (request->request_id == 0) request->request_id = client->request_id_next++;
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    int encoded = frame_encode_request(request, &frame, &frame_size);
    return client_send_encoded(client, request->request_id, encoded, frame, frame_size);
}

int client_send_transfers(client_t *client, const ledger_transfer_t *transfers, uint32_t count) {
    if (client == NULL || transfers == NULL || count == 0) return CLIENT_ERR_INVALID_ARGUMENT;
    int error = client_send_ready(client);
    if (error != CLIENT_OK) return error;
    uint64_t request_id = client->request_id_next++;
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    int encoded = convert_create_transfers_encode(request_id, transfers, count, &frame,
                                                  &frame_size);
    return client_send_encoded(client, request_id, encoded, frame, frame_size);
}

/* ---- receiving responses ---- */

/* Decodes the frame at the start of the buffer into *response_out, checks
 * its id and consumes it. */
static int client_take_frame(client_t *client, const uint8_t *body, uint32_t body_size,
                             size_t frame_size, Borsellino__V1__Response **response_out) {
    int decode_error = 0;
    Borsellino__V1__Response *response = frame_response_decode(body, body_size, &decode_error);
    client->receive_start += frame_size;
    assert(client->receive_start <= client->receive_end);
    if (response == NULL) {
        if (decode_error == FRAME_ERR_NO_MEMORY) {
            return client_fail(client, CLIENT_ERR_NO_MEMORY, "out of memory decoding a response");
        }
        return client_fail(client, CLIENT_ERR_PROTOCOL, "a response is not valid protobuf");
    }
    uint64_t expected = client_in_flight_pop(client);
    if (response->request_id != expected) {
        char detail[128];
        snprintf(detail, sizeof detail, "response for request %llu, expected %llu",
                 (unsigned long long)response->request_id, (unsigned long long)expected);
        frame_response_free(response);
        return client_fail(client, CLIENT_ERR_PROTOCOL, detail);
    }
    client->responses_received++;
    *response_out = response;
    return CLIENT_OK;
}

/* Waits until a whole response frame is at the start of the buffer. */
static int client_frame_wait(client_t *client, const uint8_t **body_out, uint32_t *body_size_out,
                             size_t *frame_size_out) {
    if (client->broken) return CLIENT_ERR_BROKEN;
    if (client->in_flight_count == 0) {
        client_message_set(client->message, "no request is waiting for an answer");
        return CLIENT_ERR_NOTHING_IN_FLIGHT;
    }
    for (;;) {
        size_t available = client->receive_end - client->receive_start;
        int parsed = frame_parse(client->receive_buffer + client->receive_start, available,
                                 CLIENT_RESPONSE_SIZE_MAX, body_out, body_size_out,
                                 frame_size_out);
        if (parsed == FRAME_OK) return CLIENT_OK;
        if (parsed != FRAME_NEED_MORE) {
            return client_fail(client, CLIENT_ERR_PROTOCOL,
                               "a response frame declares more than 64 MiB");
        }
        size_t wanted = 1;
        if (available >= FRAME_HEADER_SIZE) {
            const uint8_t *header = client->receive_buffer + client->receive_start;
            size_t declared = ((size_t)header[0] << 24) | ((size_t)header[1] << 16) |
                              ((size_t)header[2] << 8) | header[3];
            wanted = FRAME_HEADER_SIZE + declared - available;
        }
        if (!client_receive_room(client, wanted)) {
            return client_fail(client, CLIENT_ERR_NO_MEMORY, "no memory for a response");
        }
        int read = client_read_some(client);
        if (read < 0) return read;
        if (read > 0) continue;
        int ready = client_wait(client->fd, POLLIN, client->timeout_ms);
        if (ready == 0) {
            char detail[96];
            snprintf(detail, sizeof detail, "timed out: no response within %u ms", client->timeout_ms);
            return client_fail(client, CLIENT_ERR_TIMEOUT, detail);
        }
        if (ready < 0) return client_fail(client, CLIENT_ERR_IO, strerror(-ready));
    }
}

int client_receive(client_t *client, Borsellino__V1__Response **response_out) {
    if (client == NULL || response_out == NULL) return CLIENT_ERR_INVALID_ARGUMENT;
    const uint8_t *body = NULL;
    uint32_t body_size = 0;
    size_t frame_size = 0;
    int error = client_frame_wait(client, &body, &body_size, &frame_size);
    if (error != CLIENT_OK) return error;
    return client_take_frame(client, body, body_size, frame_size, response_out);
}

int client_receive_results(client_t *client, frame_event_result_t *results, uint32_t capacity,
                           uint32_t *count_out, Borsellino__V1__Response **response_out) {
    if (client == NULL || count_out == NULL || response_out == NULL ||
        (results == NULL && capacity != 0)) {
        return CLIENT_ERR_INVALID_ARGUMENT;
    }
    *response_out = NULL;
    *count_out = 0;
    const uint8_t *body = NULL;
    uint32_t body_size = 0;
    size_t frame_size = 0;
    int error = client_frame_wait(client, &body, &body_size, &frame_size);
    if (error != CLIENT_OK) return error;
    uint64_t request_id = 0;
    bool of_accounts = false;
    if (!frame_decode_event_results(body, body_size, results, capacity, count_out, &request_id,
                                    &of_accounts)) {
        *count_out = 0;
        return client_take_frame(client, body, body_size, frame_size, response_out);
    }
    client->receive_start += frame_size;
    uint64_t expected = client_in_flight_pop(client);
    if (request_id != expected) {
        char detail[128];
        snprintf(detail, sizeof detail, "response for request %llu, expected %llu",
                 (unsigned long long)request_id, (unsigned long long)expected);
        return client_fail(client, CLIENT_ERR_PROTOCOL, detail);
    }
    client->responses_received++;
    return CLIENT_OK;
}

int client_call(client_t *client, Borsellino__V1__Request *request,
                Borsellino__V1__Response **response_out) {
    if (client != NULL && client->broken) return CLIENT_ERR_BROKEN;
    if (client != NULL && client->in_flight_count > 0) {
        client_message_set(client->message,
                           "client_call with %u earlier requests still in flight",
                           client->in_flight_count);
        return CLIENT_ERR_INVALID_ARGUMENT;
    }
    int error = client_send(client, request);
    if (error != CLIENT_OK) return error;
    return client_receive(client, response_out);
}

uint32_t client_in_flight(const client_t *client) {
    return client->in_flight_count;
}

const char *client_address(const client_t *client) {
    return client->address;
}

bool client_is_tls(const client_t *client) {
    return client->ssl != NULL;
}

/* ---- messages ---- */

const char *client_strerror(int error) {
    switch (error) {
    case CLIENT_OK: return "success";
    case CLIENT_ERR_ADDRESS: return "bad server address";
    case CLIENT_ERR_REFUSED: return "connection refused";
    case CLIENT_ERR_TIMEOUT: return "timed out";
    case CLIENT_ERR_CLOSED: return "connection closed by the server";
    case CLIENT_ERR_IO: return "socket error";
    case CLIENT_ERR_PROTOCOL: return "protocol error";
    case CLIENT_ERR_ENCODE: return "request too large to encode";
    case CLIENT_ERR_NOTHING_IN_FLIGHT: return "no request in flight";
    case CLIENT_ERR_TOO_MANY_IN_FLIGHT: return "too many requests in flight";
    case CLIENT_ERR_BROKEN: return "connection broken by an earlier error";
    case CLIENT_ERR_NO_MEMORY: return "out of memory";
    case CLIENT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case CLIENT_ERR_TLS: return "TLS failed";
    default: return "unknown client error";
    }
}

const char *client_last_error_message(const client_t *client) {
    if (client == NULL) return client_connect_message;
    if (client->message[0] == '\0' && client->broken) {
        return client_strerror(CLIENT_ERR_BROKEN);
    }
    return client->message;
}

/* Indexed by Borsellino__V1__Status; numbers never change. */
static const struct {
    const char *name;
    const char *message;
} client_statuses[] = {
    {"ok", "done"},
    {"bad_request", "the server refused the request as malformed or invalid"},
    {"unknown_operation",
     "the server does not know this operation (is it older than this client?)"},
    {"batch_empty", "the batch is empty: give at least one event"},
    {"batch_too_large",
     "the batch has more events or ids than the server accepts in one request "
     "(see `borsellino status`, batch_events_max); split it"},
    {"account_not_found", "no account has this id"},
    {"invalid_filter",
     "the history filter is invalid (limit 1..8190, --from not after --to)"},
    {"storage_full",
     "the server's storage is full: writes are refused, reads still work; "
     "the operator must free or add disk space"},
    {"internal_error",
     "the server failed to apply the write (nothing was applied); retry later"},
    {"shutting_down",
     "the server is shutting down (nothing was applied); retry once it is back"},
    {"storage_fault",
     "the server's disk failed (I/O error): it refuses writes until an operator "
     "restarts it (nothing was applied); reads still work"},
    {"permission_denied",
     "the server refused the operation for this client's identity (the role and scope "
     "its certificate maps to; docs/security.md, Roles); nothing was done"},
};

enum { CLIENT_STATUS_COUNT = sizeof client_statuses / sizeof client_statuses[0] };

const char *client_status_name(uint32_t status) {
    return status < CLIENT_STATUS_COUNT ? client_statuses[status].name : "unknown";
}

const char *client_status_message(uint32_t status) {
    return status < CLIENT_STATUS_COUNT ? client_statuses[status].message
                                        : "the server answered with a status this client "
                                          "does not know (is it newer?)";
}
