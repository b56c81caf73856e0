// CRC-32C (Castagnoli) with the processor's own instruction: SSE 4.2 on x86-64, the CRC
// extension on 64-bit ARM. Swift has no intrinsics for them; the software table in
// CRC32C.swift covers processors without them.
#ifndef OSSFTP_CCHECKSUM_SHIM_H
#define OSSFTP_CCHECKSUM_SHIM_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

/// Whether this processor has the instruction.
static inline int cchecksum_crc32c_hardware(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & bit_SSE4_2) != 0;
}

/// Continues `crc` (the register, not inverted) over `length` bytes at `bytes`.
__attribute__((target("sse4.2")))
static inline uint32_t cchecksum_crc32c_update(uint32_t crc, const void *bytes, size_t length) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t wide = crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        wide = __builtin_ia32_crc32di(wide, word);
        p += 8;
        length -= 8;
    }
    uint32_t narrow = (uint32_t)wide;
    while (length > 0) {
        narrow = __builtin_ia32_crc32qi(narrow, *p);
        p += 1;
        length -= 1;
    }
    return narrow;
}

#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif

static inline int cchecksum_crc32c_hardware(void) {
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}

__attribute__((target("crc")))
static inline uint32_t cchecksum_crc32c_update(uint32_t crc, const void *bytes, size_t length) {
    const unsigned char *p = (const unsigned char *)bytes;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        crc = __builtin_arm_crc32cd(crc, word);
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        crc = __builtin_arm_crc32cb(crc, *p);
        p += 1;
        length -= 1;
    }
    return crc;
}

#else
static inline int cchecksum_crc32c_hardware(void) { return 0; }
static inline uint32_t cchecksum_crc32c_update(uint32_t crc, const void *bytes, size_t length) {
    (void)bytes; (void)length;
    return crc;
}
#endif
#endif
