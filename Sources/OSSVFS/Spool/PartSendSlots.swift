/// At most `count` part uploads of one upload at a time; the others wait their turn.
///
/// Without write-back the writer itself waits for a part to end before it seals another, so
/// the client is held to the store's pace and the wait after its last byte stays within a few
/// parts. With write-back the client is told its file is stored once it is in the spool, so
/// its sealed parts wait here instead, on disk, bounded by the spool budget: over a slow link
/// the writer had been held to the link's pace after five parts all the same, and write-back
/// took only files of up to about 80 MiB off the link (the audit's finding).
actor PartSendSlots {
    private var free: Int
    private var waiting: [(ticket: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextTicket: UInt64 = 0

    init(_ count: Int) {
        free = max(1, count)
    }

    /// Runs `body` once a slot is free; a task cancelled while it waits throws
    /// `CancellationError` and takes no slot.
    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async throws {
        try Task.checkCancellation()
        if free > 0 {
            free -= 1
            return
        }
        nextTicket += 1
        let ticket = nextTicket
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { waiting.append((ticket, $0)) }
        } onCancel: {
            Task { await self.giveUp(ticket) }
        }
    }

    /// A waiter was cancelled: it leaves the queue.
    private func giveUp(_ ticket: UInt64) {
        guard let index = waiting.firstIndex(where: { $0.ticket == ticket }) else { return }
        waiting.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    /// Hands the slot to the first waiter, or frees it.
    private func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().continuation.resume()
        }
    }
}
