import Foundation

/// Keeps write-back uploads of one name in the order their clients were told they were stored.
///
/// Each write-back upload finishes in the background, retrying on its own while the store is
/// away; without an order, an older upload's late retry would complete after a newer one and
/// put the old bytes back. Here each upload gets a seal time that only grows per name (the
/// clock may step back, or a previous run's may have been ahead), commits of one name run one
/// at a time, and an upload sealed before one that is already **stored** gives way: it is
/// dropped, never completed. (An older upload is not dropped for a newer one that was merely
/// sealed: that one may still fail, and the older client was told its file is stored.)
actor WriteBackOrder {
    /// One per process: the FTP server finishes its journal's uploads through it.
    static let shared = WriteBackOrder()

    /// A later upload of the same name is stored: this one must not be completed.
    struct Superseded: Error {}

    private struct State {
        /// The latest seal time handed out or seen.
        var latestSeal = -Double.infinity
        /// The seal time of the latest upload stored.
        var storedUpTo = -Double.infinity
        /// Uploads sealed and not yet done (stored or dropped): the state is kept while any is.
        var pending = 0
    }

    private var names: [String: State] = [:]
    private var busy: Set<String> = []
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    /// The name of `key` in `store`, across accounts, credentials and stores of the process.
    static func name(_ key: String, in store: StoreDescriptor) -> String {
        switch store {
        case .local(let root, let bucket): "local:\(root)/\(bucket)/\(key)"
        case .http(_, let endpoint, _, _, _, _, let bucket, _, _, _, _): "\(endpoint)/\(bucket)/\(key)"
        }
    }

    /// Seals a new upload of `name`: its seal time, later than any seen for the name.
    func seal(_ name: String) -> Double {
        var state = names[name] ?? State()
        let time = max(Date().timeIntervalSince1970, state.latestSeal.nextUp)
        state.latestSeal = time
        state.pending += 1
        names[name] = state
        return time
    }

    /// A pending upload of `name` sealed at `time` by an earlier run (from the journal).
    func sealedEarlier(_ name: String, at time: Double) {
        var state = names[name] ?? State()
        state.latestSeal = max(state.latestSeal, time)
        state.pending += 1
        names[name] = state
    }

    /// An upload of `name` sealed at `time` was stored by an earlier run (a journal mark).
    func storedEarlier(_ name: String, at time: Double) {
        var state = names[name] ?? State()
        state.latestSeal = max(state.latestSeal, time)
        state.storedUpTo = max(state.storedUpTo, time)
        names[name] = state
    }

    /// Whether an upload of `name` is sealed (its client got 226) and not yet done.
    func isPending(_ name: String) -> Bool {
        (names[name]?.pending ?? 0) > 0
    }

    /// Waits until no upload of `name` is pending, at most `limit`; returns whether none is.
    func settled(_ name: String, within limit: Duration) async -> Bool {
        await settled(within: limit) { isPending(name) }
    }

    /// Whether an upload of a name that begins with `prefix` (the files of a folder) is pending.
    func isPending(under prefix: String) -> Bool {
        names.contains { $0.key.hasBytePrefix(prefix) && $0.value.pending > 0 }
    }

    /// Waits until no upload of a name under `prefix` is pending, at most `limit`; returns
    /// whether none is.
    func settled(under prefix: String, within limit: Duration) async -> Bool {
        await settled(within: limit) { isPending(under: prefix) }
    }

    private func settled(within limit: Duration, while pending: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while pending() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }

    /// A pending upload of `name` is done without being stored (dropped or refused).
    func done(_ name: String) {
        guard var state = names[name] else { return }
        state.pending -= 1
        names[name] = state.pending > 0 ? state : nil
    }

    /// Runs `commit` (the upload's completion) unless an upload of `name` sealed later is
    /// stored; then throws ``Superseded``. Commits of one name never overlap. The upload is
    /// done once this returns, stored, or throws ``Superseded``. Returns whether other
    /// uploads of the name are still pending (older ones then need the journal's mark).
    @discardableResult
    func commit(_ name: String, sealedAt time: Double, _ commit: @Sendable () async throws -> Void) async throws -> Bool {
        await acquire(name)
        do {
            guard (names[name]?.storedUpTo ?? -.infinity) < time else { throw Superseded() }
            try await commit()
            let othersPending = (names[name]?.pending ?? 1) > 1
            if var state = names[name] {
                state.storedUpTo = max(state.storedUpTo, time)
                names[name] = state
            }
            release(name)
            done(name)
            return othersPending
        } catch let error as Superseded {
            release(name)
            done(name)
            throw error
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
