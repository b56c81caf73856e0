import Foundation

/// Folders of the local store as one `readdir` saw them, sorted as the listing orders keys, so
/// the pages of one listing come from one reading: a folder of n entries costs one read and
/// one sort, not one of each per page of 1000 (which made listing 60,000 files quadratic).
///
/// A snapshot holds names and kinds only; sizes and times are read for the entries of each
/// page. It stands while the folder's own modification time is unchanged (a name added,
/// removed or renamed in it changes that time), for at most `maxAge` seconds, and only when
/// that time was well before the reading: the kernel stamps times from a coarse clock, so a
/// change within the same tick as an earlier one can keep the same time.
final class LocalFolderSnapshots: Sendable {
    struct Child {
        let entry: DirectoryOps.Entry
        /// The name as the listing orders it: a folder's with its `/` (`a/` sorts after `a-b`).
        let sortKey: [UInt8]
    }

    private struct Snapshot {
        let modified: Double
        let taken: Double
        let children: [Child]
    }

    static let maxAge = 30.0
    static let maxFolders = 16
    /// How far before a reading the folder's time must lie for the reading to be kept.
    static let clockTick = 0.1

    private let snapshots = LockedBox<[String: Snapshot]>([:])

    /// The children of `folder` in key order, or nil when it is no folder.
    func children(of folder: String) throws -> [Child]? {
        guard let status = try PosixFile.status(folder), status.isDirectory else { return nil }
        let now = Date().timeIntervalSince1970
        if let known = snapshots.value[folder], known.modified == status.modified, now - known.taken < Self.maxAge {
            return known.children
        }
        guard let entries = try DirectoryOps.entries(of: folder) else { return nil }
        let children = entries.map { entry in
            Child(entry: entry, sortKey: Array(entry.name.utf8) + (entry.isDirectory ? [UInt8(ascii: "/")] : []))
        }.sorted { $0.sortKey.lexicographicallyPrecedes($1.sortKey) }
        if now - status.modified > Self.clockTick {
            snapshots.withValue { table in
                if table.count >= Self.maxFolders, let oldest = table.min(by: { $0.value.taken < $1.value.taken }) {
                    table[oldest.key] = nil
                }
                table[folder] = Snapshot(modified: status.modified, taken: now, children: children)
            }
        }
        return children
    }
}
