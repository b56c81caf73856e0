import Foundation

/// Carries a response body from a libcurl thread to an async consumer, holding at most
/// `capacity` bytes: when it is full the curl thread waits, so a slow reader slows the
/// download instead of filling memory. With `parkAfter`, a wait that long ends the transfer
/// instead (the thread is one of a few every store request shares): the reader gets what the
/// pipe holds, then ``ParkedBody``, and asks for the rest again when it wants it.
final class BodyPipe: ObjectChunkSource, @unchecked Sendable {
    /// Whether the pipes made for the current task's requests park (see ``BodyPipe``): set by
    /// readers that can ask again for what is left of a range (``ReadAheadStream``); a reader
    /// that cannot (a whole download into a pipe) keeps its transfer waiting.
    @TaskLocal static var parksWhenUnread = false

    /// How long a full pipe that parks keeps its transfer waiting.
    static let parkAfter: Double = 5

    private let condition = NSCondition()
    private let capacity: Int
    private var chunks: [[UInt8]] = []
    private var buffered = 0
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    /// What a read after the stop throws: nil when the reader itself cancelled.
    private var stopError: (any Error)?
    private var waiter: CheckedContinuation<[UInt8]?, any Error>?
    /// Set once the transfer ended because nothing was read for ``parkAfter``.
    private var parked: ParkedBody?

    /// Whether a reading task that is cancelled stops the body (with `CancellationError`).
    private let followsTaskCancellation: Bool
    private let parks: Bool

    init(capacity: Int, followsTaskCancellation: Bool = false, parks: Bool = false) {
        self.capacity = capacity
        self.followsTaskCancellation = followsTaskCancellation
        self.parks = parks
    }

    // MARK: producer (curl thread)

    /// Adds bytes, waiting while the pipe is full. Returns false once the consumer cancelled,
    /// or once a pipe that parks stayed full for ``parkAfter`` (the bytes pushed so far stay
    /// readable; these are not taken).
    func push(_ bytes: [UInt8]) -> Bool {
        condition.lock()
        let deadline = Date(timeIntervalSinceNow: Self.parkAfter)
        while buffered >= capacity && !cancelled {
            if !parks {
                condition.wait()
            } else if !condition.wait(until: deadline) && buffered >= capacity && !cancelled {
                parked = ParkedBody()
                condition.unlock()
                return false
            }
        }
        if cancelled {
            condition.unlock()
            return false
        }
        if let waiter {
            self.waiter = nil
            condition.unlock()
            waiter.resume(returning: bytes)
            return true
        }
        chunks.append(bytes)
        buffered += bytes.count
        condition.unlock()
        return true
    }

    /// Ends the body, with an error if the transfer failed (a parked one ends with
    /// ``ParkedBody``, whatever libcurl made of the refused write).
    func finish(_ error: (any Error)?) {
        condition.lock()
        finished = true
        failure = parked ?? error
        let error = failure
        let waiter = self.waiter
        self.waiter = nil
        condition.unlock()
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    // MARK: consumer

    func nextChunk() async throws -> [UInt8]? {
        guard followsTaskCancellation else { return try await waitForChunk() }
        try Task.checkCancellation()
        return try await withTaskCancellationHandler {
            try await waitForChunk()
        } onCancel: {
            stop(throwing: CancellationError())
        }
    }

    private func waitForChunk() async throws -> [UInt8]? {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            if !chunks.isEmpty {
                let chunk = chunks.removeFirst()
                buffered -= chunk.count
                condition.signal()
                condition.unlock()
                continuation.resume(returning: chunk)
            } else if finished || cancelled {
                let failure = cancelled ? stopError : self.failure
                condition.unlock()
                if let failure { continuation.resume(throwing: failure) } else { continuation.resume(returning: nil) }
            } else {
                waiter = continuation
                condition.unlock()
            }
        }
    }

    func cancel() {
        stop(throwing: nil)
    }

    /// Drops what is held and wakes both sides: the producer stops, and a waiting reader gets
    /// the end of the body, or `error` (a cancelled reader's task must not take a cut body for
    /// a whole one).
    private func stop(throwing error: (any Error)?) {
        condition.lock()
        if !cancelled { stopError = error }
        cancelled = true
        chunks.removeAll()
        buffered = 0
        let waiter = self.waiter
        self.waiter = nil
        condition.broadcast()
        condition.unlock()
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }
}

/// A body whose reader left it unread for ``BodyPipe/parkAfter``: the transfer ended once the
/// bytes the pipe held were read. Not a failure: ask again for the rest.
struct ParkedBody: Error, Equatable {}
