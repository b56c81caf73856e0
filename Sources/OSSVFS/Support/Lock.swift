import Foundation

/// A mutex for the few places that guard shared state without an actor.
public final class Lock: @unchecked Sendable {
    private let mutex = NSLock()

    public init() {}

    /// Runs `body` with the lock held.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        mutex.lock()
        defer { mutex.unlock() }
        return try body()
    }
}
