import Foundation

/// The spool's disk budget, shared by every upload of the process. An upload reserves the
/// space of each part before writing it and gives it back once the part is uploaded; when the
/// budget is used up, writers wait, which stops ossftp reading from the clients' sockets.
///
/// A wait ends with ``VFSError/noSpace(_:)`` when for `stallLimit` nothing was given back and
/// no part was on its way to the store: one program writing more files at once than the budget
/// holds parts of (each file's part is sealed only once full) would otherwise wait forever for
/// itself. While parts are being sent (a slow link, a store retrying), waiters wait, as before.
public actor SpoolBudget {
    /// Bytes the spool may hold at once.
    public let limit: Int64
    /// Bytes reserved now.
    public private(set) var used: Int64 = 0
    /// The most ever reserved at once.
    public private(set) var peak: Int64 = 0
    /// How long a reservation waits with nothing given back before it fails.
    public let stallLimit: Duration
    private var waiters: [Waiter] = []
    private var nextWaiter = 0
    /// When space was last given back, or a part's upload last ended.
    private var lastProgress = ContinuousClock.now
    /// Why reservations fail at once from now on (the process is ending), if it is.
    private var closedReason: String?
    /// Parts being sent to the store now: space will come back when they end.
    private var sendingParts = 0

    private struct Waiter {
        var id: Int
        var bytes: Int64
        var continuation: CheckedContinuation<Void, any Error>
    }

    public init(limit: Int64, stallLimit: Duration = .seconds(30)) {
        self.limit = limit
        self.stallLimit = stallLimit
        VFSMetrics.spoolBudget.record(limit)
        VFSMetrics.spoolBytes.record(0)
    }

    /// Reserves `bytes`, waiting while the budget is used up. Throws when `bytes` alone
    /// exceeds the whole budget, when nothing was given back for `stallLimit` while it waited,
    /// or once ``close(reason:)`` was called.
    public func reserve(_ bytes: Int64) async throws {
        if let closedReason { throw VFSError.storeUnavailable(closedReason) }
        guard bytes <= limit else {
            throw VFSError.noSpace("a part of \(bytes) bytes does not fit the spool budget of \(limit) bytes")
        }
        if used + bytes <= limit && waiters.isEmpty {
            take(bytes)
            return
        }
        nextWaiter += 1
        let id = nextWaiter
        let watchdog = Task { [stallLimit] in
            while !Task.isCancelled {
                try await Task.sleep(for: stallLimit)
                if self.giveUpIfStalled(id) { return }
            }
        }
        defer { watchdog.cancel() }
        try await withCheckedThrowingContinuation { continuation in
            waiters.append(Waiter(id: id, bytes: bytes, continuation: continuation))
        }
    }

    /// Fails waiter `id` if nothing was given back for `stallLimit`; whether it is gone.
    private func giveUpIfStalled(_ id: Int) -> Bool {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return true }
        guard sendingParts == 0, ContinuousClock.now - lastProgress >= stallLimit else { return false }
        let waiter = waiters.remove(at: index)
        waiter.continuation.resume(throwing: VFSError.noSpace(
            "the spool budget of \(limit >> 20) MiB has been full for \(stallLimit) with nothing being stored; "
                + "too many files are being written at once for it (raise spool_budget_mb)"))
        // The next in line may fit now that this one left the queue.
        admitWaiters()
        return true
    }

    /// Reserves `bytes` if they are free now, without waiting.
    public func tryReserve(_ bytes: Int64) -> Bool {
        guard closedReason == nil, used + bytes <= limit && waiters.isEmpty else { return false }
        take(bytes)
        return true
    }

    /// Gives back `bytes`.
    public func release(_ bytes: Int64) {
        used -= bytes
        lastProgress = .now
        VFSMetrics.spoolBytes.record(used)
        admitWaiters()
    }

    /// A part's upload to the store starts (`true`) or ends (`false`). The end counts as
    /// progress for the stall limit even before the part's space is given back.
    public func sending(_ started: Bool) {
        sendingParts += started ? 1 : -1
        if !started { lastProgress = .now }
    }

    /// Runs `upload`, a part's upload to the store, counted as being sent (``sending(_:)``)
    /// while it runs, whatever its outcome.
    nonisolated func whileSending<T: Sendable>(_ upload: @Sendable () async throws -> T) async throws -> T {
        await sending(true)
        do {
            let result = try await upload()
            await sending(false)
            return result
        } catch {
            await sending(false)
            throw error
        }
    }

    /// Fails every reservation waiting now and every later one: the process is ending, and a
    /// writer waiting for space would hold its end up.
    public func close(reason: String) {
        closedReason = reason
        let waiting = waiters
        waiters = []
        for waiter in waiting { waiter.continuation.resume(throwing: VFSError.storeUnavailable(reason)) }
    }

    // First come, first served, so a large part is not starved by small ones.
    private func admitWaiters() {
        while let first = waiters.first, used + first.bytes <= limit {
            waiters.removeFirst()
            take(first.bytes)
            first.continuation.resume()
        }
    }

    private func take(_ bytes: Int64) {
        used += bytes
        peak = max(peak, used)
        VFSMetrics.spoolBytes.record(used)
    }
}
