/// One upload at a time continues a given object, in this process.
///
/// An upload that keeps an object's first bytes (APPE, REST then STOR, the mount's writes at
/// the end of a file) copies them from the version it found when it began, and its commit
/// replaces whatever is stored then. Two such uploads of one file at once would each start
/// from the same version, and the one committed last would drop the other's bytes after its
/// client had been told they were stored. Here the second waits for the first to finish, and
/// then continues what it stored; one that waits too long is refused (``VFSError/busy(_:)``)
/// before it takes any byte.
actor ContinuationLeases {
    /// One per process: every session and account continuing a file of the same store meets here.
    static let shared = ContinuationLeases()

    private var held: Set<String> = []
    /// The uploads holding leases, once they are made (``attach(_:to:)``).
    private var holders: [String: WeakHolder] = [:]
    private var waiting: [String: [(ticket: UInt64, continuation: CheckedContinuation<Bool, Never>)]] = [:]
    private var nextTicket: UInt64 = 0

    /// How long a holder that takes no byte keeps its lease from an upload that wants it. A
    /// client whose connection died silently mid-APPE holds its upload until the stall
    /// watchdog ends it (minutes): its resume, on a new connection, takes over instead.
    static let idleTakeover = Duration.seconds(20)

    private struct WeakHolder {
        weak var writer: LeasedWriter?
    }

    /// Takes the lease of `name`, waiting at most `limit` for its holder to release it (or
    /// dropping a holder idle for ``idleTakeover``); returns whether it was taken.
    func acquire(_ name: String, within limit: Duration) async -> Bool {
        if held.contains(name), let holder = holders[name]?.writer, holder.idle(for: Self.idleTakeover) {
            // Its upload is dropped (nothing of it was acknowledged); the release that follows
            // frees the lease, or hands it to an upload already waiting.
            await holder.abort()
        }
        guard held.contains(name) else {
            held.insert(name)
            return true
        }
        nextTicket += 1
        let ticket = nextTicket
        return await withCheckedContinuation { continuation in
            waiting[name, default: []].append((ticket, continuation))
            Task { [weak self] in
                try? await Task.sleep(for: limit)
                await self?.giveUp(name, ticket: ticket)
            }
        }
    }

    /// Notes the upload that holds the lease of `name`.
    func attach(_ writer: LeasedWriter, to name: String) {
        holders[name] = WeakHolder(writer: writer)
    }

    /// Releases the lease of `name`, handing it to the first upload waiting for it.
    func release(_ name: String) {
        holders[name] = nil
        if var queue = waiting[name], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[name] = queue.isEmpty ? nil : queue
            next.continuation.resume(returning: true)
        } else {
            held.remove(name)
        }
    }

    /// A waiter's time ran out: it leaves the queue, and its acquire answers false.
    private func giveUp(_ name: String, ticket: UInt64) {
        guard var queue = waiting[name], let index = queue.firstIndex(where: { $0.ticket == ticket }) else { return }
        let waiter = queue.remove(at: index)
        waiting[name] = queue.isEmpty ? nil : queue
        waiter.continuation.resume(returning: false)
    }
}
