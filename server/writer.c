/*
 * writer.c — the writer thread and its two queues: group commit.
 *
 * The thread takes everything pending (at most group_events_max events),
 * opens one write group, dispatches each request in order, and commits
 * once: one LMDB write transaction for the whole group. A group whose
 * commit fails answers every one of its requests with an error status
 * (nothing of it was applied); a group that outgrew the map is run again
 * after the ledger grew the map.
 *
 * Pipelined durability (ledger_write_commit_unsynced; --commit-pipelining:
 * by default for a group of several requests or with more waiting, since a
 * lone request commits with one disk sync fewer the plain way): the
 * writer commits
 * group N without waiting for the disk and hands it to the sync thread,
 * which runs ledger_write_sync and only then moves N's requests to the
 * completed queue and wakes the loop, so no response leaves before its
 * data is on disk. Meanwhile the writer runs group N+1; before committing
 * it (or answering anything by itself) it waits until N is synced. So at
 * most one group is committed and not yet durable, as the ledger requires.
 *
 * A failed sync: group N is visible in this process but will be rolled
 * back by the next start (durability.c). Its requests, and every later
 * request, reads included, get STATUS_STORAGE_FAULT until a restart, since
 * any answer would now show money that the restart removes.
 *
 * FIFO order is kept end to end: the pending queue, the group, the sync
 * thread's one group and the completed queue are all first-in first-out,
 * and a group reaches the completed queue only after the one before it,
 * so responses of one connection come back in request order.
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
    pthread_t sync_thread;
    pthread_mutex_t mutex;
    pthread_cond_t work;
    pthread_cond_t sync_work; /* syncing was filled, or sync_stopping */
    pthread_cond_t synced;    /* syncing was emptied */
    request_list_t pending;
    request_list_t syncing; /* committed unsynced, at most one group */
    uint64_t syncing_events;
    uint64_t syncing_start_ns;
    uint64_t syncing_committed; /* journal records it added */
    bool sync_stopping;
    int sync_error; /* set by the sync thread; final */
    request_list_t completed;
    uint32_t depth; /* submitted, not yet taken back */
    uint32_t connections;
    bool stopping;
    /* Set by an I/O error from the disk. After a failed write or fsync the
     * kernel's page cache may no longer match the disk, so the only safe
     * course is to refuse every further write until a restart, when LMDB
     * recovers from its last durable meta page. Reads keep working, unless
     * the failure was the sync of a committed group (reads_refused). */
    int fault_error;
    /* A committed group could not be made durable: answers of any kind
     * would show it, and the next start rolls it back. */
    bool reads_refused;
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

static const char SYNC_FAULT_MESSAGE[] =
    "storage fault: a committed write group could not be made durable; nothing is "
    "answered until the server is restarted (the restart rolls that group back)";

/* Answers every request of the group with STATUS_STORAGE_FAULT. */
static void group_fail_sync_fault(request_list_t *group) {
    for (server_request_t *request = group->head; request != NULL; request = request->next) {
        dispatch_fail_response(request, BORSELLINO__V1__STATUS__STATUS_STORAGE_FAULT,
                               SYNC_FAULT_MESSAGE);
    }
}

/* Waits until the group handed to the sync thread, if any, is durable (or
 * failed). Returns the sync error, 0 if every sync so far succeeded. The
 * first failure is recorded as the writer's fault. Writer thread only. */
static int writer_wait_synced(writer_t *writer) {
    pthread_mutex_lock(&writer->mutex);
    while (writer->syncing.head != NULL) pthread_cond_wait(&writer->synced, &writer->mutex);
    int error = writer->sync_error;
    bool first = error != 0 && !writer->reads_refused;
    if (first) {
        writer->reads_refused = true;
        writer->fault_error = error;
    }
    pthread_mutex_unlock(&writer->mutex);
    if (first) {
        server_log("storage_fault", "error=\"%s\" detail=\"fdatasync of a committed group "
                   "failed\" action=\"everything refused until restart; the restart rolls "
                   "the group back\"", ledger_strerror(error));
    }
    return error;
}

/* No write group could be opened (storage full, I/O error): reads are
 * still answered from the committed state; writes get the error. After a
 * failed sync nothing is answered (reads_refused). */
static int group_run_reads_only(writer_t *writer, dispatch_context_t *context,
                                request_list_t *group, int begin_error) {
    if (writer_wait_synced(writer) != 0) {
        group_fail_sync_fault(group);
        return 0;
    }
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

/* Whether the group being run commits unsynced. Pipelining pays under
 * load: a group of several requests, or more requests waiting behind it.
 * A lone request on an idle server commits the plain way, with two disk
 * syncs instead of three (the marker's two and the data's) on its answer's
 * path. */
static bool group_pipelined(writer_t *writer, const request_list_t *group) {
    switch (writer->config->commit_pipelining) {
    case COMMIT_PIPELINING_ON: return true;
    case COMMIT_PIPELINING_OFF: return false;
    default: break;
    }
    if (group->head != NULL && group->head->next != NULL) return true;
    pthread_mutex_lock(&writer->mutex);
    bool more_waiting = writer->pending.head != NULL;
    pthread_mutex_unlock(&writer->mutex);
    return more_waiting;
}

/* Runs the group once; returns the ledger error of its commit (0 = all
 * responses are final, or the group was committed unsynced: *unsynced_out). */
static int group_run(writer_t *writer, request_list_t *group, bool *answered_out,
                     bool *unsynced_out) {
    pthread_mutex_lock(&writer->mutex);
    dispatch_context_t context = {writer->ledger, writer->config, writer->connections,
                                  writer->depth, writer->started_ns};
    pthread_mutex_unlock(&writer->mutex);
    *answered_out = false;
    *unsynced_out = false;
    if (group_is_exclusive(group)) {
        /* It commits by itself (a signature) or only reads (verify), after
         * the group before it is durable. */
        *answered_out = true;
        if (writer_wait_synced(writer) != 0) {
            group_fail_sync_fault(group);
            return 0;
        }
        int error = writer->fault_error != 0 && dispatch_request_is_write(group->head->request)
                        ? writer->fault_error
                        : dispatch_request(&context, group->head);
        if (error) {
            dispatch_fail_response(group->head, dispatch_status_for_error(error),
                                   ledger_strerror(error));
        }
        return error;
    }
    int error = writer->fault_error;
    if (error == 0) error = ledger_write_begin(writer->ledger);
    if (error) {
        /* No write group: answer every request now, reads from the
         * committed state and writes with the error. */
        group_run_reads_only(writer, &context, group, error);
        *answered_out = true;
        return error;
    }
    for (server_request_t *request = group->head; request != NULL; request = request->next) {
        error = dispatch_request(&context, request);
        if (error) break; /* the group has failed; commit rolls it back */
    }
    /* The group before this one must be durable before this one commits;
     * if it failed, this group saw it and is failed too. */
    if (!error) error = writer_wait_synced(writer);
    if (error) {
        ledger_write_abort(writer->ledger);
        return error;
    }
    if (!group_pipelined(writer, group)) return ledger_write_commit(writer->ledger);
    error = ledger_write_commit_unsynced(writer->ledger);
    *unsynced_out = error == 0;
    return error;
}

/* Runs the group; returns true when it was committed unsynced (its
 * answers wait for the sync thread). */
static bool group_commit(writer_t *writer, request_list_t *group) {
    bool answered = false;
    bool unsynced = false;
    int error = group_run(writer, group, &answered, &unsynced);
    for (int retry = 0; error == LEDGER_ERR_MAP_GROWN && retry < WRITER_GROUP_RETRIES_MAX; retry++) {
        error = group_run(writer, group, &answered, &unsynced);
    }
    writer_note_error(writer, error);
    if (!error || answered) return unsynced;
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
    group_run_reads_only(writer, &context, group, error);
    return false;
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

/* Runs a group and observes it (metrics_group_observe), or hands it to the
 * sync thread, which observes it once durable. Returns true if handed. */
static bool group_commit_counted(writer_t *writer, request_list_t *group) {
    uint64_t events = 0;
    for (server_request_t *request = group->head; request != NULL; request = request->next) {
        events += request->events_count ? request->events_count : 1; /* as take_group */
    }
    uint64_t start_ns = monotonic_ns();
    bool unsynced = group_commit(writer, group);
    uint64_t committed = writer_publish_stats(writer);
    if (!unsynced) {
        metrics_group_observe(writer->metrics, events, monotonic_ns() - start_ns, committed);
        return false;
    }
    pthread_mutex_lock(&writer->mutex);
    assert(writer->syncing.head == NULL);
    list_append(&writer->syncing, group);
    writer->syncing_events = events;
    writer->syncing_start_ns = start_ns;
    writer->syncing_committed = committed;
    pthread_cond_signal(&writer->sync_work);
    pthread_mutex_unlock(&writer->mutex);
    return true;
}

/* The sync thread: makes each handed group durable, then completes it. */
static void *writer_sync_main(void *argument) {
    writer_t *writer = argument;
    pthread_mutex_lock(&writer->mutex);
    for (;;) {
        while (writer->syncing.head == NULL && !writer->sync_stopping) {
            pthread_cond_wait(&writer->sync_work, &writer->mutex);
        }
        if (writer->syncing.head == NULL) break;
        pthread_mutex_unlock(&writer->mutex);
        int error = ledger_write_sync(writer->ledger);
        if (error) group_fail_sync_fault(&writer->syncing);
        /* The writer waits for `synced` before observing anything itself. */
        metrics_group_observe(writer->metrics, writer->syncing_events,
                              monotonic_ns() - writer->syncing_start_ns,
                              writer->syncing_committed);
        pthread_mutex_lock(&writer->mutex);
        if (error && writer->sync_error == 0) writer->sync_error = error;
        list_append(&writer->completed, &writer->syncing);
        uv_async_send(writer->wakeup);
        pthread_cond_broadcast(&writer->synced);
    }
    pthread_mutex_unlock(&writer->mutex);
    return NULL;
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
        if (group_commit_counted(writer, &group)) {
            pthread_mutex_lock(&writer->mutex);
            continue;
        }
        /* Answered here: after the group before it, whose sync must be over
         * (every path above waited for it already). */
        pthread_mutex_lock(&writer->mutex);
        assert(writer->syncing.head == NULL);
        list_append(&writer->completed, &group);
        uv_async_send(writer->wakeup);
    }
    pthread_mutex_unlock(&writer->mutex);
    writer_wait_synced(writer);
    pthread_mutex_lock(&writer->mutex);
    writer->sync_stopping = true;
    pthread_cond_signal(&writer->sync_work);
    pthread_mutex_unlock(&writer->mutex);
    pthread_join(writer->sync_thread, NULL);
    return NULL;
}

static void writer_free(writer_t *writer) {
    pthread_mutex_destroy(&writer->mutex);
    pthread_cond_destroy(&writer->work);
    pthread_cond_destroy(&writer->sync_work);
    pthread_cond_destroy(&writer->synced);
    free(writer);
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
    pthread_cond_init(&writer->sync_work, NULL);
    pthread_cond_init(&writer->synced, NULL);
    if (pthread_create(&writer->sync_thread, NULL, writer_sync_main, writer) != 0) {
        writer_free(writer);
        return UV_EAGAIN;
    }
    if (pthread_create(&writer->thread, NULL, writer_main, writer) != 0) {
        pthread_mutex_lock(&writer->mutex);
        writer->sync_stopping = true;
        pthread_cond_signal(&writer->sync_work);
        pthread_mutex_unlock(&writer->mutex);
        pthread_join(writer->sync_thread, NULL);
        writer_free(writer);
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

bool writer_stop(writer_t *writer) {
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
    /* writer_main waited for the last sync, so its failure is seen here. */
    bool faulted = writer->fault_error != 0 || writer->sync_error != 0;
    writer_free(writer);
    return faulted;
}

