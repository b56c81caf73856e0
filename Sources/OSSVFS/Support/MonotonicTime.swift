#if canImport(Glibc)
import Glibc
#endif

/// Seconds on a clock that only moves forward, at the pace of real time, whatever is done to
/// the wall clock (an NTP step, `date -s`, a virtual machine's clock set on resume): for
/// timeouts, bans and how long cached answers live. With the wall clock, a step forward
/// aborted uploads as stalled and lifted bans at once, and a step back kept a stalled upload,
/// a ban and stale cached sizes for as long as the step.
///
/// It counts the time a suspended machine sleeps (CLOCK_BOOTTIME), so that a cached answer
/// or a ban does not outlive its time across a suspend.
public enum MonotonicTime {
    /// Seconds since an arbitrary start (the machine's boot).
    public static var now: Double {
        var spec = timespec()
        clock_gettime(CLOCK_BOOTTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
