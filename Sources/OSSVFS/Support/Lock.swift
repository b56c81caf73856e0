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

    /// Runs `body` with the lock held if it is free now; nil without waiting otherwise.
    public func withLockIfFree<T>(_ body: () throws -> T) rethrows -> T? {
        guard mutex.try() else { return nil }
        defer { mutex.unlock() }
        return try body()
    }
}

/// A value behind a ``Lock``: read whole, or changed in place.
public final class LockedBox<Value>: @unchecked Sendable {
    private let lock = Lock()
    private var stored: Value

    public init(_ value: Value) {
        stored = value
    }

    public var value: Value { lock.withLock { stored } }

    @discardableResult
    public func withValue<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try lock.withLock { try body(&stored) }
    }
}
