/*
 * fault_shim.c — storage faults injected into borsellinod through
 * LD_PRELOAD, for tests/test_storage_faults.c.
 *
 * It wraps the calls by which LMDB reaches the disk (write, pwrite,
 * pwrite64, writev, pwritev, fsync, fdatasync, msync) and fails them
 * according to the control file named by $BORSELLINO_FAULT_CONTROL. The
 * file holds one mode, optionally followed by a count of matching calls to
 * let through first:
 *
 *   none            every call goes through (also: no file, no variable)
 *   eio-write [N]   write-type calls fail with EIO
 *   eio-fsync [N]   fsync/fdatasync/msync fail with EIO
 *   enospc-write [N], enospc-fsync [N]   the same with ENOSPC
 *
 * Only file descriptors whose path (readlink /proc/self/fd/N) ends in
 * "/data.mdb" are failed: the server's log on stderr and its sockets never
 * are. msync has no descriptor; it is failed in the -fsync modes (only
 * LMDB's data map is ever synced by the server).
 *
 * The file is re-read on every call, so that a test can switch modes while
 * the server runs; the count restarts whenever the file's content changes.
 * Every injected failure is reported on stderr (the server's log) as one
 * "fault_shim: ..." line. The workload is a test server's: a few thousand
 * calls per second at most, so the extra open/read/readlink is cheap.
 *
 * Built without sanitizers and linked with nothing but libc (dlsym is in
 * libc since glibc 2.34).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* Meson builds with 64-bit file offsets, which renames pwrite to pwrite64
 * in the headers; the shim defines both names, so it must see neither
 * renamed (off_t is 64 bits on the 64-bit targets we run on anyway). */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
    CONTROL_SIZE_MAX = 64,
    FD_PATH_SIZE_MAX = 4096,
};

enum fault_kind { FAULT_WRITE, FAULT_SYNC };

typedef struct fault {
    enum fault_kind kind;
    int error; /* 0: let the call through */
} fault_t;

/* The last control content seen and how many matching calls went through
 * since it changed. Guarded by a spinlock: the shim may run in any thread. */
static char control_last[CONTROL_SIZE_MAX];
static unsigned long passed_count;
static int control_lock;

static void lock_take(void) {
    while (__atomic_exchange_n(&control_lock, 1, __ATOMIC_ACQUIRE) != 0) {
    }
}

static void lock_give(void) { __atomic_store_n(&control_lock, 0, __ATOMIC_RELEASE); }

/* Reads the control file into `out` (NUL-terminated); "none" if absent. */
static void control_read(char *out, size_t capacity) {
    snprintf(out, capacity, "none");
    const char *path = getenv("BORSELLINO_FAULT_CONTROL");
    if (path == NULL || path[0] == '\0') return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, out, capacity - 1);
    close(fd);
    out[n > 0 ? (size_t)n : 0] = '\0';
    if (n <= 0) snprintf(out, capacity, "none");
}

static int fd_is_data_file(int fd) {
    char link[64];
    char path[FD_PATH_SIZE_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    static const char suffix[] = "/data.mdb";
    size_t suffix_length = sizeof suffix - 1;
    return (size_t)n >= suffix_length &&
           strcmp(path + (size_t)n - suffix_length, suffix) == 0;
}

/* The error to inject into this call of `kind` on `fd` (-1: msync), or 0. */
static int fault_decide(enum fault_kind kind, int fd, const char *call) {
    char control[CONTROL_SIZE_MAX];
    control_read(control, sizeof control);
    char mode[32] = "none";
    unsigned long let_through = 0;
    if (sscanf(control, "%31s %lu", mode, &let_through) < 1) return 0;
    int error = 0;
    enum fault_kind mode_kind = FAULT_WRITE;
    if (strcmp(mode, "eio-write") == 0) error = EIO;
    else if (strcmp(mode, "eio-fsync") == 0) error = EIO, mode_kind = FAULT_SYNC;
    else if (strcmp(mode, "enospc-write") == 0) error = ENOSPC;
    else if (strcmp(mode, "enospc-fsync") == 0) error = ENOSPC, mode_kind = FAULT_SYNC;
    if (error == 0 || mode_kind != kind) return 0;
    if (fd >= 0 && !fd_is_data_file(fd)) return 0;
    lock_take();
    if (strcmp(control, control_last) != 0) {
        memcpy(control_last, control, sizeof control_last);
        passed_count = 0;
    }
    int inject = passed_count >= let_through;
    if (!inject) passed_count++;
    lock_give();
    if (!inject) return 0;
    char line[160];
    int length = snprintf(line, sizeof line, "fault_shim: %s on %s fd=%d (control \"%s\")\n",
                          error == EIO ? "EIO" : "ENOSPC", call, fd, mode);
    ssize_t (*real_write)(int, const void *, size_t) =
        __extension__(ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (real_write != NULL && length > 0) (void)real_write(STDERR_FILENO, line, (size_t)length);
    return error;
}

/* The next definition of a libc function (ASan's, then libc's). A data
 * pointer to function pointer cast is what dlsym is for; __extension__
 * says so to -Wpedantic. */
#define REAL(name, type) (__extension__(type)dlsym(RTLD_NEXT, name))

ssize_t write(int fd, const void *buffer, size_t size) {
    int error = fault_decide(FAULT_WRITE, fd, "write");
    if (error) return errno = error, -1;
    return REAL("write", ssize_t (*)(int, const void *, size_t))(fd, buffer, size);
}

ssize_t pwrite(int fd, const void *buffer, size_t size, off_t offset) {
    int error = fault_decide(FAULT_WRITE, fd, "pwrite");
    if (error) return errno = error, -1;
    return REAL("pwrite", ssize_t (*)(int, const void *, size_t, off_t))(fd, buffer, size,
                                                                         offset);
}

ssize_t pwrite64(int fd, const void *buffer, size_t size, off64_t offset) {
    int error = fault_decide(FAULT_WRITE, fd, "pwrite64");
    if (error) return errno = error, -1;
    return REAL("pwrite64", ssize_t (*)(int, const void *, size_t, off64_t))(fd, buffer, size,
                                                                             offset);
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
    int error = fault_decide(FAULT_WRITE, fd, "writev");
    if (error) return errno = error, -1;
    return REAL("writev", ssize_t (*)(int, const struct iovec *, int))(fd, iov, count);
}

ssize_t pwritev(int fd, const struct iovec *iov, int count, off_t offset) {
    int error = fault_decide(FAULT_WRITE, fd, "pwritev");
    if (error) return errno = error, -1;
    return REAL("pwritev", ssize_t (*)(int, const struct iovec *, int, off_t))(fd, iov, count,
                                                                               offset);
}

int fsync(int fd) {
    int error = fault_decide(FAULT_SYNC, fd, "fsync");
    if (error) return errno = error, -1;
    return REAL("fsync", int (*)(int))(fd);
}

int fdatasync(int fd) {
    int error = fault_decide(FAULT_SYNC, fd, "fdatasync");
    if (error) return errno = error, -1;
    return REAL("fdatasync", int (*)(int))(fd);
}

int msync(void *address, size_t size, int flags) {
    int error = fault_decide(FAULT_SYNC, -1, "msync");
    if (error) return errno = error, -1;
    return REAL("msync", int (*)(void *, size_t, int))(address, size, flags);
}
