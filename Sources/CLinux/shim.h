// Linux calls the Glibc module does not export without _GNU_SOURCE.
#ifndef OSSFTP_CLINUX_SHIM_H
#define OSSFTP_CLINUX_SHIM_H
#include <stddef.h>
#include <unistd.h>
#include <sys/syscall.h>

/// copy_file_range(2) from `in` at `*in_offset` (advanced) to `out` at its position.
static inline long clinux_copy_file_range(int in, long long *in_offset, int out, size_t length) {
#ifdef SYS_copy_file_range
    return syscall(SYS_copy_file_range, in, in_offset, out, NULL, length, 0);
#else
    return -1;
#endif
}
#endif
