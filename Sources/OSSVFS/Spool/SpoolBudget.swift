/// The spool's disk budget, shared by every upload of the process. An upload reserves the
/// space of each part before writing it and gives it back once the part is uploaded; when the
/// budget is used up, writers wait, which stops ossftp reading from the clients' sockets.
public actor SpoolBudget {
    /// Bytes the spool may hold at once.
    public let limit: Int64
    /// Bytes reserved now.
    public private(set) var used: Int64 = 0
    /// The most ever reserved at once.
    public private(set) var peak: Int64 = 0
    private var waiters: [(bytes: Int64, continuation: CheckedContinuation<Void, Never>)] = []

    public init(limit: Int64) {
        self.limit = limit
        VFSMetrics.spoolBudget.record(limit)
        VFSMetrics.spoolBytes.record(0)
    }

    /// Reserves `bytes`, waiting while the budget is used up. Throws when `bytes` alone
    /// exceeds the whole budget.
    public func reserve(_ bytes: Int64) async throws {
        guard bytes <= limit else {
            throw VFSError.noSpace("a part of \(bytes) bytes does not fit the spool budget of \(limit) bytes")
        }
        if used + bytes <= limit && waiters.isEmpty {
            take(bytes)
            return
        }
        await withCheckedContinuation { continuation in
            waiters.append((bytes, continuation))
        }
    }

    /// Reserves `bytes` if they are free now, without waiting.
    public func tryReserve(_ bytes: Int64) -> Bool {
        guard used + bytes <= limit && waiters.isEmpty else { return false }
        take(bytes)
        return true
    }

    /// Gives back `bytes`.
    public func release(_ bytes: Int64) {
        used -= bytes
        defer { VFSMetrics.spoolBytes.record(used) }
        // First come, first served, so a large part is not starved by small ones.
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
