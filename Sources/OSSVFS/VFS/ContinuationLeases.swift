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
    private var waiting: [String: [(ticket: UInt64, continuation: CheckedContinuation<Bool, Never>)]] = [:]
    private var nextTicket: UInt64 = 0

    /// Takes the lease of `name`, waiting at most `limit` for its holder to release it;
    /// returns whether it was taken.
    func acquire(_ name: String, within limit: Duration) async -> Bool {
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

    /// Releases the lease of `name`, handing it to the first upload waiting for it.
    func release(_ name: String) {
        if var queue = waiting[name], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[name] = queue.isEmpty ? nil : queue
            next.continuation.resume(returning: true)
        } else {
            held.remove(name)
        }
    }

    private func giveUp(_ name: String, ticket: UInt64) {
        guard var queue = waiting[name], let index = queue.firstIndex(where: { $0.ticket == ticket }) else { return }
        let waiter = queue.remove(at: index)
        waiting[name] = queue.isEmpty ? nil : queue
        waiter.continuation.resume(returning: false)
    }
}

/// An upload holding its object's continuation lease, released once it is committed or dropped.
final class LeasedWriter: VFSWriter, @unchecked Sendable {
    private let upload: any VFSWriter
    private let name: String
    private let lock = Lock()
    private var released = false

    init(_ upload: any VFSWriter, lease name: String) {
        self.upload = upload
        self.name = name
    }

    func write(contentsOf chunks: [any VFSBytes]) async throws { try await upload.write(contentsOf: chunks) }
    func overwrite(_ bytes: [UInt8], at offset: UInt64) async throws { try await upload.overwrite(bytes, at: offset) }
    func readBack(at offset: UInt64, count: Int) async throws -> [UInt8] {
        try await upload.readBack(at: offset, count: count)
    }
    func truncate(to size: UInt64) async throws { try await upload.truncate(to: size) }

    func commit() async throws {
        do {
            try await upload.commit()
        } catch {
            await release()
            throw error
        }
        await release()
    }

    func abort() async {
        await upload.abort()
        await release()
    }

    private func release() async {
        guard lock.withLock({ () -> Bool in
            defer { released = true }
            return !released
        }) else { return }
        await ContinuationLeases.shared.release(name)
    }

    deinit {
        // A frontend that drops an upload without ending it must not hold the file for good.
        if !released {
            let name = self.name
            Task { await ContinuationLeases.shared.release(name) }
        }
    }
}
