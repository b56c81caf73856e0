import Foundation

/// Folders of the local store as one `readdir` saw them, sorted as the listing orders keys, so
/// the pages of one listing come from one reading: a folder of n entries costs one read and
/// one sort, not one of each per page of 1000 (which made listing 60,000 files quadratic).
///
/// A snapshot holds names and kinds only; sizes and times are read for the entries of each
/// page. It stands while the folder is the same one with the same ctime (adding, removing or
/// renaming a name sets it; unlike the mtime, no tool sets it back), for at most `maxAge`
/// seconds, and only when that ctime lay `settleTime` before the reading: file systems stamp
/// times from a coarse clock (whole seconds, two on FAT), and a change within the same tick as
/// the one before keeps the same time. Snapshots are kept by the folder's path bytes, and at most
/// `maxNames` names in all: a bigger folder is read again for each page.
final class LocalFolderSnapshots: Sendable {
    struct Child {
        let entry: DirectoryOps.Entry
        /// The name as the listing orders it: a folder's with its `/` (`a/` sorts after `a-b`).
        let sortKey: [UInt8]
    }

    private struct Snapshot {
        let stamp: DirectoryOps.FolderStamp
        let taken: Double
        let children: [Child]
    }

    static let maxAge = 30.0
    static let maxNames = 200_000

    /// The process's one set: keyed by the folder's own path, it serves every store and session
    /// alike. Each login's store had its own, so each session that listed a folder of 100,000
    /// names held its own 26 MB copy for as long as it stayed open.
    static let shared = LocalFolderSnapshots()
    private let settleTime: Double

    /// `settleTime`: how long before a reading a folder's last change must lie for the reading
    /// to be kept (2.5 s covers whole-second and FAT's two-second times).
    init(settleTime: Double = 2.5) {
        self.settleTime = settleTime
    }

    private let snapshots = LockedBox<[ExactName: Snapshot]>([:])
    /// Folders read so far (for tests: pages that reuse a reading do not count).
    let readings = LockedBox(0)

    /// Drops the snapshots past their age, which readings otherwise drop only as they come.
    func sweep() {
        let now = Date().timeIntervalSince1970
        snapshots.withValue { table in table = table.filter { now - $0.value.taken < Self.maxAge } }
    }

    /// The children of `folder` in key order, or nil when it is no folder (a link to one is none).
    func children(of folder: String) throws -> [Child]? {
        guard let stamp = try DirectoryOps.folderStamp(folder) else { return nil }
        let now = Date().timeIntervalSince1970
        let key = ExactName(folder)
        let known = snapshots.withValue { table -> Snapshot? in
            table = table.filter { now - $0.value.taken < Self.maxAge }
            return table[key]
        }
        if let known, known.stamp == stamp { return known.children }
        guard let entries = try DirectoryOps.entries(of: folder) else { return nil }
        readings.withValue { $0 += 1 }
        let children = entries.map { entry in
            Child(entry: entry, sortKey: Array(entry.name.utf8) + (entry.isDirectory ? [UInt8(ascii: "/")] : []))
        }.sorted { $0.sortKey.lexicographicallyPrecedes($1.sortKey) }
        guard now - stamp.changed > settleTime, children.count <= Self.maxNames else { return children }
        snapshots.withValue { table in
            table[key] = nil
            var held = table.values.reduce(0) { $0 + $1.children.count }
            while held + children.count > Self.maxNames, let oldest = table.min(by: { $0.value.taken < $1.value.taken }) {
                held -= oldest.value.children.count
                table[oldest.key] = nil
            }
            table[key] = Snapshot(stamp: stamp, taken: now, children: children)
        }
        return children
    }
}
