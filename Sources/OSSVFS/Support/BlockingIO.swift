import Dispatch

/// Runs blocking work (disk I/O, fsync, hashing large files) off the cooperative thread pool
/// and off every event loop.
public enum BlockingIO {
    // A concurrent queue: several spool writes or local reads proceed at once.
    private static let queue = DispatchQueue(label: "ossvfs.blocking-io", attributes: .concurrent)

    /// Runs `work` on the blocking-I/O queue and returns its result.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result(catching: work))
            }
        }
    }

    /// Starts `work` on the blocking-I/O queue and returns at once.
    public static func detach(_ work: @escaping @Sendable () -> Void) {
        queue.async(execute: work)
    }
}
