/*
 * writer.c — the writer thread and its two queues: group commit.
 *
 * The thread takes everything pending (at most group_events_max events),
 * opens one write group, dispatches each request in order, and commits
 * once: one LMDB write transaction and one durable commit for the whole
 * group. Only then are the requests moved to the completed queue and the
 * loop woken, so no response leaves before its data is on disk. A group
 * whose commit fails answers every one of its requests with an error
 * status (nothing of it was applied); a group that outgrew the map is run
 * again after the ledger grew the map.
 *
 * FIFO order is kept end to end: the pending queue, the group, and the
 * completed queue are all first-in first-out, so responses of one
 * connection come back in request order.
 *
 * Metrics (metrics.h): after each group the thread observes its size and
 * latency and publishes the ledger's figures (ledger_stats is cheap: no
 * transaction), all as atomics that the loop reads when scraped, so a
 * scrape never waits on the writer. Requests are counted by the loop as
 * their answers go out (net.c), with the status the answer has.
 */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errno.h>
#include <lmdb.h>

#include "dispatch.h"
#include "frame.h"
#include "metrics.h"

typedef struct request_list {
    server_request_t *head;
    server_request_t *tail;
} request_list_t;

struct writer {
    ledger_t *ledger;
    const server_config_t *config;
    uv_async_t *wakeup;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t work;
    request_list_t pending;
    request_list_t completed;
    uint32_t depth; /* submitted, not yet taken back */
    uint32_t connections;
    bool stopping;
    /* Set by an I/O error from the disk. After a failed write or fsync the
     * kernel's page cache may no longer match the disk, so the only safe
     * course is to refuse every further write until a restart, when LMDB
     * recovers from its last durable meta page. Reads keep working. */
    int fault_error;
    bool storage_full; /* the last write group failed for lack of space */
    uint64_t started_ns;
    metrics_t *metrics;            /* NULL: nothing counted */
    uint64_t journal_sequence;     /* as last published (writer thread only) */
};

enum { WRITER_GROUP_RETRIES_MAX = 8 };

static void list_push(request_list_t *list, server_request_t *request) {
    request->next = NULL;
    if (list->tail) list->tail->next = request;
    else list->head = request;
    list->tail = request;
}

static bool group_is_exclusive(const request_list_t *group) {
    return group->head != NULL && dispatch_request_is_exclusive(group->head->request);
}

static void list_append(request_list_t *list, request_list_t *other) {
    if (other->head == NULL) return;
    if (list->tail) list->tail->next = other->head;
    else list->head = other->head;
    list->tail = other->tail;
    other->head = other->tail = NULL;
}

/* Takes pending requests up to the group's event bound (at least one). An
 * exclusive request (dispatch_request_is_exclusive) is a group of its own. */
static request_list_t take_group(writer_t *writer) {
    request_list_t group = {NULL, NULL};
    uint64_t events = 0;
    while (writer->pending.head != NULL) {
        server_request_t *request = writer->pending.head;
        uint64_t request_events = request->events_count ? request->events_count : 1;
        bool exclusive = dispatch_request_is_exclusive(request->request);
        if (group.head != NULL && (exclusive || group_is_exclusive(&group))) break;
        if (group.head != NULL && events + request_events > writer->config->group_events_max) break;
        writer->pending.head = request->next;
        if (writer->pending.head == NULL) writer->pending.tail = NULL;
        list_push(&group, request);
        events += request_events;
    }
    return group;
}

static uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* An error from the disk itself (errno, or LMDB's own fatal codes) rather
 * than a full disk or a logical refusal. */
static bool error_is_storage_fault(int error) {
    return error == EIO || error == MDB_PANIC || error == MDB_CORRUPTED;
}

/* No write group could be opened (storage full, I/O error): reads are
 * still answered from the committed state; writes get the error. */
static int group_run_reads_only(dispatch_context_t *context, request_list_t *group,
                                int begin_error) {
    Borsellino__V1__Status status = error_is_storage_fault(begin_error)
                                        ? BORSELLINO__V1__STATUS__STATUS_STORAGE_FAULT
                                        : dispatch_status_for_error(begin_error);
    for (server_request_t *request = group->head; request != NULL; request = request->next) {
        bool write = dispatch_request_is_write(request->request);
        int error = write ? begin_error : dispatch_request(context, request);
        if (error == begin_error) {
            dispatch_fail_response(request, status, ledger_strerror(error));
        } else if (error) {
            dispatch_fail_response(request, dispatch_status_for_error(error),
                                   ledger_strerror(error));
        }
    }
    return 0;
}

/* Logs storage trouble once per change of state: a fault is final (until
 * restart); storage full clears when a group commits again. */
static void writer_note_error(writer_t *writer, int error) {
    if (error_is_storage_fault(error) && writer->fault_error == 0) {
        writer->fault_error = error;
        server_log("storage_fault", "error=\"%s\" detail=\"%s\" action=\"writes refused until "
                   "restart; reads still served\"", ledger_strerror(error),
                   ledger_last_error_message(writer->ledger));
    }
    bool full = error == LEDGER_ERR_STORAGE_FULL;
    if (full != writer->storage_full) {
        writer->storage_full = full;
        server_log(full ? "storage_full" : "storage_writable",
                   full ? "action=\"writes refused; reads still served; free disk space\""
                        : "action=\"writes accepted again\"");
    }
}

/* Runs the group once; returns the ledger error of its commit (0 = all
 * responses are final). */
static int group_run(writer_t *writer, request_list_t *group, bool *answered_out) {
    pthread_mutex_lock(&writer->mutex);
    dispatch_context_t context = {writer->ledger, writer->config, writer->connections,
                                  writer->depth, writer->started_ns};
    pthread_mutex_unlock(&writer->mutex);
    *answered_out = false;
    if (group_is_exclusive(group)) {
        /* It commits by itself (a signature) or only reads (verify). */
        int error = writer->fault_error != 0 && dispatch_request_is_write(group->head->request)
                        ? writer->fault_error
                        : dispatch_request(&context, group->head);
        if (error) {
            dispatch_fail_response(group->head, dispatch_status_for_error(error),
                                   ledger_strerror(error));
        }
        *answered_out = true;
        return error;
    }
    int error = writer->fault_error;
    if (error == 0) error = ledger_write_begin(writer->ledger);
    if (error) {
        /* No write group: answer every request now, reads from the
         * committed state and writes with the error. */
        group_run_reads_only(&context, group, error);
        *answered_out = true;
        return error;
    }
    for (server_request_t *request = group->head; request != NULL; request = request->next) {
        error = dispatch_request(&context, request);
        if (error) break; /* the group has failed; commit rolls it back */
    }
    if (error) {
        ledger_write_abort(writer->ledger);
        return error;
    }
    return ledger_write_commit(writer->ledger);
}

static void group_commit(writer_t *writer, request_list_t *group) {
    bool answered = false;
    int error = group_run(writer, group, &answered);
    for (int retry = 0; error == LEDGER_ERR_MAP_GROWN && retry < WRITER_GROUP_RETRIES_MAX; retry++) {
        error = group_run(writer, group, &answered);
    }
    writer_note_error(writer, error);
    if (!error || answered) return;
    uint32_t requests = 0;
    for (server_request_t *request = group->head; request != NULL; request = request->next) {
        requests++;
    }
    server_log("group_failed", "requests=%u error=\"%s\" detail=\"%s\"", requests,
               ledger_strerror(error), ledger_last_error_message(writer->ledger));
    /* Nothing of the group was applied. Its writes get the error; its reads
     * are answered again from the committed state (the answers computed
     * inside the failed group saw writes that never happened). */
    pthread_mutex_lock(&writer->mutex);
    dispatch_context_t context = {writer->ledger, writer->config, writer->connections,
                                  writer->depth, writer->started_ns};
    pthread_mutex_unlock(&writer->mutex);
    group_run_reads_only(&context, group, error);
}

/* Publishes the ledger's figures; returns the journal records added since
 * the last call. */
static uint64_t writer_publish_stats(writer_t *writer) {
    ledger_stats_t stats;
    if (ledger_stats(writer->ledger, &stats) != 0) return 0;
    assert(stats.journal_sequence >= writer->journal_sequence);
    uint64_t added = stats.journal_sequence - writer->journal_sequence;
    writer->journal_sequence = stats.journal_sequence;
    metrics_ledger_publish(writer->metrics, &stats);
    return added;
}

/* Runs a group and observes it (metrics_group_observe). */
static void group_commit_counted(writer_t *writer, request_list_t *group) {
    uint64_t events = 0;
    for (server_request_t *request = group->head; request != NULL; request = request->next) {
        events += request->events_count ? request->events_count : 1; /* as take_group */
    }
    uint64_t start_ns = monotonic_ns();
    group_commit(writer, group);
    uint64_t latency_ns = monotonic_ns() - start_ns;
    uint64_t committed = writer_publish_stats(writer);
    metrics_group_observe(writer->metrics, events, latency_ns, committed);
}

static void *writer_main(void *argument) {
    writer_t *writer = argument;
    writer_publish_stats(writer); /* the figures of the ledger as opened */
    pthread_mutex_lock(&writer->mutex);
    for (;;) {
        while (writer->pending.head == NULL && !writer->stopping) {
            pthread_cond_wait(&writer->work, &writer->mutex);
        }
        if (writer->pending.head == NULL && writer->stopping) break;
        request_list_t group = take_group(writer);
        pthread_mutex_unlock(&writer->mutex);
        group_commit_counted(writer, &group);
        pthread_mutex_lock(&writer->mutex);
        list_append(&writer->completed, &group);
        uv_async_send(writer->wakeup);
    }
    pthread_mutex_unlock(&writer->mutex);
    return NULL;
}

int writer_start(ledger_t *ledger, const server_config_t *config, uv_async_t *wakeup,
                 metrics_t *metrics, writer_t **writer_out) {
    writer_t *writer = calloc(1, sizeof(*writer));
    if (writer == NULL) return UV_ENOMEM;
    writer->ledger = ledger;
    writer->config = config;
    writer->wakeup = wakeup;
    writer->metrics = metrics;
    writer->started_ns = monotonic_ns();
    pthread_mutex_init(&writer->mutex, NULL);
    pthread_cond_init(&writer->work, NULL);
    if (pthread_create(&writer->thread, NULL, writer_main, writer) != 0) {
        free(writer);
        return UV_EAGAIN;
    }
    *writer_out = writer;
    return 0;
}

void writer_submit(writer_t *writer, server_request_t *request) {
    pthread_mutex_lock(&writer->mutex);
    list_push(&writer->pending, request);
    writer->depth++;
    metrics_queue_depth_set(writer->metrics, writer->depth);
    pthread_cond_signal(&writer->work);
    pthread_mutex_unlock(&writer->mutex);
}

server_request_t *writer_take_completed(writer_t *writer) {
    pthread_mutex_lock(&writer->mutex);
    server_request_t *head = writer->completed.head;
    for (server_request_t *request = head; request != NULL; request = request->next) {
        assert(writer->depth > 0);
        writer->depth--;
    }
    writer->completed.head = writer->completed.tail = NULL;
    metrics_queue_depth_set(writer->metrics, writer->depth);
    pthread_mutex_unlock(&writer->mutex);
    return head;
}

uint32_t writer_queue_depth(writer_t *writer) {
    pthread_mutex_lock(&writer->mutex);
    uint32_t depth = writer->depth;
    pthread_mutex_unlock(&writer->mutex);
    return depth;
}

void writer_set_connections(writer_t *writer, uint32_t connections) {
    pthread_mutex_lock(&writer->mutex);
    writer->connections = connections;
    metrics_connections_set(writer->metrics, connections);
    pthread_mutex_unlock(&writer->mutex);
}

void writer_stop(writer_t *writer) {
    pthread_mutex_lock(&writer->mutex);
    writer->stopping = true;
    pthread_cond_signal(&writer->work);
    pthread_mutex_unlock(&writer->mutex);
    pthread_join(writer->thread, NULL);
    /* Requests completed after the loop stopped are freed here. */
    server_request_t *request = writer->completed.head;
    while (request != NULL) {
        server_request_t *next = request->next;
        dispatch_release(request);
        frame_request_free(request->request);
        free(request->response_frame);
        free(request);
        request = next;
    }
    pthread_mutex_destroy(&writer->mutex);
    pthread_cond_destroy(&writer->work);
    free(writer);
}

bool writer_storage_faulted(writer_t *writer) {
    pthread_mutex_lock(&writer->mutex);
    bool faulted = writer->fault_error != 0;
    pthread_mutex_unlock(&writer->mutex);
    return faulted;
}
