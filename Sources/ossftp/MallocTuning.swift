import CMalloc

/// glibc malloc settings for a process that moves large buffers between threads.
enum MallocTuning {
    static func apply() {
        // Few arenas: the curl and NIO threads would otherwise each keep their own, and the
        // memory they hold shows as RSS long after a transfer.
        _ = mallopt(M_ARENA_MAX, 2)
        // Socket reads land in buffers of 64 KiB to 1 MiB, one per read. Above the mmap
        // threshold each would be a fresh mapping: mmap, a page fault per 4 KiB, munmap and a
        // TLB shootdown, which took more CPU than the bytes themselves with 200 uploads at once.
        // From the heap they are reused; a free top above 32 MiB still goes back to the system.
        _ = mallopt(M_MMAP_THRESHOLD, 4 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 32 << 20)
    }
}
