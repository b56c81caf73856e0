import OSSVFS

/// What the mount tells the kernel about names it did not just look up: the entries recent
/// listings showed (so `ls -l` needs no request per file, as s3fs's stat cache), and the files
/// whose changes are being stored right now.
///
/// A listing is a snapshot from the moment the store answered. One that answered before a
/// change through this mount ended (a commit, an unlink) must not outlive it: handed to the
/// kernel by readdirplus, or kept here, it would bring back the old size after `close` had
/// returned, and the next reader would get the file cut short (the kernel keeps what readdirplus
/// gives it unless a write came after its request began). So every change counts a generation,
/// each listing records the generation it was fetched at, and an entry listed before its
/// path's last change is not used.
final class FuseAttributeCache: @unchecked Sendable {
    /// How long a listed entry answers getattr.
    static let listedTTL: Double = 5
    /// Entries kept (then all are dropped), and changed paths remembered (then every listing
    /// older than now counts as stale).
    static let listedLimit = 200_000
    static let changedLimit = 10_000

    private struct State {
        var generation: UInt64 = 1
        /// The generation of each path's last change.
        var changed: [VFSPath: UInt64] = [:]
        /// Listings fetched before this generation are stale for every path (set when
        /// `changed` was emptied, and by a rename, which moves whole trees).
        var floor: UInt64 = 0
        var listed: [VFSPath: (entry: VFSEntry, at: Double)] = [:]
        /// Files whose commit is running: the size and time they will have once stored.
        var committing: [VFSPath: (size: UInt64, modified: Double)] = [:]
    }

    private let state = LockedValue(State())

    /// The generation now: take it before fetching a listing.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// `path` changes (or just changed) through the mount: what listings said of it is stale.
    func changed(_ path: VFSPath) {
        state.withLock { state in
            state.generation += 1
            if state.changed.count >= Self.changedLimit {
                state.changed.removeAll(keepingCapacity: true)
                state.floor = state.generation
            }
            state.changed[path] = state.generation
            state.listed[path] = nil
        }
    }

    /// Anything may have changed (a rename moves whole trees): every listing so far is stale.
    func changedEverything() {
        state.withLock { state in
            state.generation += 1
            state.floor = state.generation
            state.changed.removeAll(keepingCapacity: true)
            state.listed.removeAll(keepingCapacity: true)
        }
    }

    /// A commit of `path` starts: until ``endCommit(_:)`` it shows `size`, what it will have.
    func beginCommit(_ path: VFSPath, size: UInt64, modified: Double) {
        changed(path)
        state.withLock { $0.committing[path] = (size, modified) }
    }

    /// The commit ended, stored or not: the store answers for `path` again.
    func endCommit(_ path: VFSPath) {
        state.withLock { _ = $0.committing.removeValue(forKey: path) }
        changed(path)
    }

    /// The size and time of `path` while its commit runs.
    func committing(_ path: VFSPath) -> (size: UInt64, modified: Double)? {
        state.withLock { $0.committing[path] }
    }

    /// Whether what a listing fetched at `generation` says of `path` still holds.
    func isCurrent(_ path: VFSPath, listedAt generation: UInt64) -> Bool {
        state.withLock { state in
            generation >= state.floor && (state.changed[path] ?? 0) <= generation && state.committing[path] == nil
        }
    }

    /// Keeps what a listing fetched at `generation` showed, but for paths changed since.
    func remember(_ entries: [(VFSPath, VFSEntry)], listedAt generation: UInt64, time: Double) {
        state.withLock { state in
            guard generation >= state.floor else { return }
            if state.listed.count + entries.count > Self.listedLimit { state.listed.removeAll(keepingCapacity: true) }
            for (path, entry) in entries
            where (state.changed[path] ?? 0) <= generation && state.committing[path] == nil {
                state.listed[path] = (entry, time)
            }
        }
    }

    /// A listed entry of `path` younger than ``listedTTL``.
    func listed(_ path: VFSPath, now: Double) -> VFSEntry? {
        state.withLock { state in
            guard let known = state.listed[path], now - known.at < Self.listedTTL else { return nil }
            return known.entry
        }
    }
}
