import CMalloc
import Glibc
import OSSVFS

/// glibc malloc settings for a process that moves large buffers between threads.
enum MallocTuning {
    /// Runs once the process has gone quiet, before the trim: lets go of what caches hold
    /// past its time, so that the trim can give it back.
    nonisolated(unsafe) static var beforeTrim: @Sendable () async -> Void = {}

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
        startIdleTrim()
    }

    /// How often the process's CPU time is looked at...
    static let idleCheck = Duration.seconds(10)
    /// ...and the CPU time within one look (in seconds) below which the process is quiet.
    static let quietCPU = 0.02

    /// Gives back to the system the memory malloc holds free, once the process goes quiet
    /// (malloc_trim). The settings above keep freed buffers for reuse, and only a free top of
    /// an arena above the threshold ever went back: a mount that had been busy stayed at
    /// 175 MiB when idle, 56 MiB of it free in malloc. Once per quiet spell only: trimming
    /// while busy would make the next transfers fault their buffers in again.
    private static func startIdleTrim() {
        Task.detached(priority: .background) {
            var last = cpuSeconds()
            var trimmed = true
            while true {
                try? await Task.sleep(for: idleCheck)
                let now = cpuSeconds()
                if now - last > quietCPU {
                    trimmed = false
                } else if !trimmed {
                    await MetadataCacheRegistry.sweepAll()
                    LocalStore.sweepIdleCaches()
                    await beforeTrim()
                    _ = malloc_trim(0)
                    trimmed = true
                }
                last = cpuSeconds()  // after the trim, whose own CPU time is no activity
            }
        }
    }

    /// User and system CPU time of the whole process, in seconds.
    private static func cpuSeconds() -> Double {
        var usage = rusage()
        _ = getrusage(RUSAGE_SELF.rawValue, &usage)
        let seconds = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec
        let micros = usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
        return Double(seconds) + Double(micros) / 1e6
    }
}
