// Linux calls the Glibc module does not export without _GNU_SOURCE.
#ifndef OSSFTP_CLINUX_SHIM_H
#define OSSFTP_CLINUX_SHIM_H
#include <stddef.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <errno.h>

/// copy_file_range(2) from `in` at `*in_offset` (advanced) to `out` at its position.
static inline long clinux_copy_file_range(int in, long long *in_offset, int out, size_t length) {
#ifdef SYS_copy_file_range
    return syscall(SYS_copy_file_range, in, in_offset, out, NULL, length, 0);
#else
    return -1;
#endif
}

#include <sys/uio.h>
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/// preadv2(2) with RWF_NOWAIT: reads only what the page cache already holds; -1 with EAGAIN
/// when the read would wait for the disk.
static inline long clinux_pread_nowait(int fd, void *buffer, size_t count, long long offset) {
#ifdef SYS_preadv2
    struct iovec vector = { buffer, count };
    return syscall(SYS_preadv2, fd, &vector, 1, (unsigned long)offset, 0UL, RWF_NOWAIT);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE over the whole file: starts writing its dirty
/// pages back, waits for no completion.
static inline long clinux_start_writeback(int fd) {
#ifdef SYS_sync_file_range
    return syscall(SYS_sync_file_range, fd, 0LL, 0LL, 2U /* SYNC_FILE_RANGE_WRITE */);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// renameat2(2): `flags` RENAME_NOREPLACE (1: refuse an existing new name, EEXIST) or
/// RENAME_EXCHANGE (2: swap two names atomically, both must exist).
static inline long clinux_renameat2(const char *from, const char *to, unsigned int flags) {
#ifdef SYS_renameat2
    return syscall(SYS_renameat2, -100 /* AT_FDCWD */, from, -100 /* AT_FDCWD */, to, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

#include <stdint.h>

/// cachestat(2) (Linux 6.5): how many pages of `length` bytes at `offset` the page cache
/// holds; -1 when the kernel cannot say (older kernels: ENOSYS).
static inline long long clinux_cached_pages(int fd, unsigned long long offset, unsigned long long length) {
    struct { uint64_t offset, length; } range = { offset, length };
    struct { uint64_t cache, dirty, writeback, evicted, recently_evicted; } status;
    // 451 on every architecture (the numbers are shared from 424 on).
    if (syscall(451, fd, &range, &status, 0U) != 0) return -1;
    return (long long)status.cache;
}
#endif
