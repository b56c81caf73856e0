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
    /// Entries kept (then all are dropped); changed paths and renamed trees remembered (then
    /// every listing older than now counts as stale).
    static let listedLimit = 200_000
    static let changedLimit = 10_000
    static let renamedLimit = 64

    private struct State {
        var generation: UInt64 = 1
        /// The generation of each path's last change.
        var changed: [VFSPath: UInt64] = [:]
        /// Trees renamed (both names), with the generation of the rename: everything under
        /// them changed.
        var renamed: [(tree: VFSPath, generation: UInt64)] = []
        /// Listings fetched before this generation are stale for every path (set when one of
        /// the above was emptied).
        var floor: UInt64 = 0
        var listed: [VFSPath: (entry: VFSEntry, at: Double, generation: UInt64)] = [:]
        /// When entries past ``FuseAttributeCache/listedTTL`` are next dropped.
        var nextSweep: Double = 0
        /// Files whose commit is running: the size and time they will have once stored, and
        /// how many commits of the path run (two descriptors may commit one path at once).
        var committing: [VFSPath: (size: UInt64, modified: Double, count: Int)] = [:]

        mutating func change(_ path: VFSPath) {
            generation += 1
            if changed.count >= FuseAttributeCache.changedLimit {
                changed.removeAll(keepingCapacity: true)
                floor = generation
            }
            changed[path] = generation
            listed[path] = nil
        }

        /// Drops the listed entries past ``FuseAttributeCache/listedTTL`` at `now`.
        mutating func sweep(now: Double) {
            nextSweep = now + 2 * FuseAttributeCache.listedTTL
            listed = listed.filter { now - $0.value.at < FuseAttributeCache.listedTTL }
        }

        func isCurrent(_ path: VFSPath, listedAt listing: UInt64) -> Bool {
            listing >= floor && (changed[path] ?? 0) <= listing && committing[path] == nil
                && !renamed.contains { $0.generation > listing && path.isWithin($0.tree) }
        }
    }

    private let state = LockedValue(State())

    /// The generation now: take it before fetching a listing.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// `path` changes (or just changed) through the mount: what listings said of it is stale.
    func changed(_ path: VFSPath) {
        state.withLock { $0.change(path) }
    }

    /// The tree at `path` moves (a rename): what listings said of anything in it is stale.
    func changedTree(_ path: VFSPath) {
        state.withLock { state in
            state.generation += 1
            if state.renamed.count >= Self.renamedLimit {
                state.renamed.removeAll(keepingCapacity: true)
                state.floor = state.generation
            }
            state.renamed.append((path, state.generation))
        }
    }

    /// A commit of `path` starts: until ``endCommit(_:)`` it shows `size`, what it will have.
    func beginCommit(_ path: VFSPath, size: UInt64, modified: Double) {
        state.withLock { state in
            state.change(path)
            state.committing[path] = (size, modified, (state.committing[path]?.count ?? 0) + 1)
        }
    }

    /// The commit ended, stored or not: the store answers for `path` again once no other
    /// commit of it runs.
    func endCommit(_ path: VFSPath) {
        state.withLock { state in
            if let running = state.committing[path], running.count > 1 {
                state.committing[path]?.count = running.count - 1
            } else {
                state.committing[path] = nil
            }
            state.change(path)
        }
    }

    /// The size and time of `path` while a commit of it runs.
    func committing(_ path: VFSPath) -> (size: UInt64, modified: Double)? {
        state.withLock { $0.committing[path].map { ($0.size, $0.modified) } }
    }

    /// Whether what a listing fetched at `generation` says of `path` still holds.
    func isCurrent(_ path: VFSPath, listedAt generation: UInt64) -> Bool {
        state.withLock { $0.isCurrent(path, listedAt: generation) }
    }

    /// Keeps what a listing fetched at `generation` showed, but for paths changed since.
    func remember(_ entries: [(VFSPath, VFSEntry)], listedAt generation: UInt64, time: Double) {
        state.withLock { state in
            guard generation >= state.floor else { return }
            // Entries that no longer answer go every other TTL: a mount that listed a large
            // tree once would otherwise hold it until the limit.
            if time >= state.nextSweep { state.sweep(now: time) }
            if state.listed.count + entries.count > Self.listedLimit { state.listed.removeAll(keepingCapacity: true) }
            for (path, entry) in entries where state.isCurrent(path, listedAt: generation) {
                state.listed[path] = (entry, time, generation)
            }
        }
    }

    /// Drops the entries past ``listedTTL`` at `now` (a quiet mount, before it gives memory back).
    func sweep(now: Double) {
        state.withLock { $0.sweep(now: now) }
    }

    /// Entries held, expired ones included (tests).
    var listedCount: Int { state.withLock { $0.listed.count } }

    /// A listed entry of `path` younger than ``listedTTL`` and not changed since it was listed.
    func listed(_ path: VFSPath, now: Double) -> VFSEntry? {
        state.withLock { state in
            guard let known = state.listed[path], now - known.at < Self.listedTTL,
                state.isCurrent(path, listedAt: known.generation)
            else { return nil }
            return known.entry
        }
    }
}
