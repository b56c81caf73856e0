/// Keeps write-back uploads of one name in the order their clients were told they were stored.
///
/// Each write-back upload finishes in the background, retrying on its own while the store is
/// away; without an order, an older upload's late retry would complete after a newer one and
/// put the old bytes back. Here the commits of one name run one at a time, and an upload
/// sealed before another of the same name gives way to it: it is dropped, never completed.
/// Seal times come from the journal, so a record left by a previous run is older than any
/// upload of this one.
actor WriteBackOrder {
    /// One per process: the FTP server and the mount each finish their own journal.
    static let shared = WriteBackOrder()

    /// A later upload of the same name was sealed: this one must not be completed.
    struct Superseded: Error {}

    /// The latest seal time seen per name.
    private var latest: [String: Double] = [:]
    private var busy: Set<String> = []
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    /// The name of `key` in `store`, across accounts and stores of the process.
    static func name(_ key: String, in store: StoreDescriptor) -> String {
        switch store {
        case .local(let root, let bucket): "local:\(root)/\(bucket)/\(key)"
        case .http(_, let endpoint, _, _, _, _, let bucket, _, _, _, _): "\(endpoint)/\(bucket)/\(key)"
        }
    }

    /// An upload of `name` was sealed (its client told it is stored) at `time`.
    func sealed(_ name: String, at time: Double) {
        latest[name] = max(latest[name] ?? time, time)
    }

    /// Runs `commit` (the upload's completion) unless an upload of `name` sealed later is
    /// known; then throws ``Superseded``. Commits of one name never overlap.
    func commit(_ name: String, sealedAt time: Double, _ commit: @Sendable () async throws -> Void) async throws {
        sealed(name, at: time)
        await acquire(name)
        do {
            guard latest[name] ?? time <= time else { throw Superseded() }
            try await commit()
            release(name)
        } catch {
            release(name)
            throw error
        }
    }

    private func acquire(_ name: String) async {
        guard busy.contains(name) else {
            busy.insert(name)
            return
        }
        await withCheckedContinuation { waiting[name, default: []].append($0) }
    }

    private func release(_ name: String) {
        if var queue = waiting[name], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[name] = queue.isEmpty ? nil : queue
            next.resume()
        } else {
            busy.remove(name)
        }
    }
}
