#if canImport(Glibc)
import Glibc
#endif
import OSSVFS

/// One open directory (opendir to releasedir): the store's listing, handed to the kernel a
/// buffer at a time as its pages arrive, so `ls` of a huge directory starts at once and
/// neither ossftp nor libfuse holds the whole listing.
///
/// Entries are numbered from 1 (`.` and `..` first); the number of the last entry a buffer
/// took is the offset the kernel asks from next. The kernel may pass on only part of a buffer
/// (a program reading with a buffer smaller than a page: musl's readdir uses 2 KiB) and then
/// asks again from within it: the last buffer's entries are kept and handed out again. Any
/// other offset (`seekdir`, `rewinddir`) restarts the listing and skips to it.
///
/// Files being written in the directory and not stored yet (which getattr already shows) come
/// after the store's entries, so `ls` sees a copy in progress as stat does.
///
/// A store entry's attributes are made as the kernel takes it, from the entry and the
/// generation it was fetched at (``FuseAttributeCache``): a file changed since gets its
/// attributes anew.
final class FuseDirectoryStream: @unchecked Sendable {
    /// An entry ready for the kernel: its attributes, or the store's entry they are made from.
    struct Item {
        enum Attributes {
            case fixed(stat)
            case listed(VFSEntry)
        }

        var name: String
        var attributes: Attributes
    }

    let path: VFSPath
    let lock = Lock()
    private let vfs: any VFS
    private let dots: stat
    /// The attributes of a store entry fetched at a generation.
    private let fill: @Sendable (VFSEntry, UInt64) -> stat
    /// The generation now, taken before each fetch.
    private let generation: @Sendable () -> UInt64
    /// The directory's files being written, looked up as a listing starts.
    private let pending: @Sendable () -> [ExactName: stat]
    /// Those not met in the store's listing so far, handed out once it ends.
    private var unlisted: [ExactName: stat] = [:]
    /// The files being written when the directory was first read: a restart (`seekdir`, or the
    /// kernel resuming a buffer) lists the same ones, so offsets keep meaning the same entries.
    private var pendingAtStart: [ExactName: stat]?
    private var listing: Listing?
    /// The generation when the listing started: its entries are judged against it (pages
    /// fetched later are newer; judging them as older only costs a stat for a path changed
    /// through the mount meanwhile).
    private var listedAt: UInt64 = 0
    /// Entries handed out so far (the offset of the last one).
    private var position: Int64 = 0
    /// Entries fetched from the store and not yet taken by the kernel.
    private var ready: [Item] = []
    /// The entries handed out by the last read, the first of them at offset `recentStart + 1`.
    private var recent: [Item] = []
    private var recentStart: Int64 = 0
    private var ended = false

    /// Store entries fetched per trip to the VFS: a trip costs a thread hop.
    static let batch = 256

    init(path: VFSPath, vfs: any VFS, dots: stat, pending: @escaping @Sendable () -> [ExactName: stat] = { [:] },
         generation: @escaping @Sendable () -> UInt64 = { 0 }, fill: @escaping @Sendable (VFSEntry, UInt64) -> stat) {
        self.path = path
        self.vfs = vfs
        self.dots = dots
        self.pending = pending
        self.generation = generation
        self.fill = fill
    }

    /// Hands entries from `offset` on to `add` (name, attributes, the entry's offset) until it
    /// returns false (the kernel's buffer is full) or the listing ends. `fetched` sees each
    /// batch of store entries with the generation it was fetched at (for the attribute cache).
    /// Call under ``lock``.
    func read(from offset: Int64, add: (String, stat, Int64) -> Bool,
              fetched: ([VFSEntry], UInt64) -> Void) throws {
        if offset != position {
            if offset > 0, offset >= recentStart, offset < position {
                // Part of the last buffer was not passed on: the same entries again, so that
                // none is lost or repeated and the folder is not listed again from its start.
                // (Offset 0 is rewinddir, which must see the folder as it is now.)
                ready = Array(recent[Int(offset - recentStart)...]) + ready
                position = offset
            } else {
                try restart(skippingTo: offset, fetched: fetched)
            }
        }
        recent = []
        recentStart = position
        while true {
            if ready.isEmpty {
                guard try refill(fetched: fetched) else { return }
            }
            let item = ready[0]
            let status = switch item.attributes {
            case .fixed(let status): status
            case .listed(let entry): fill(entry, listedAt)
            }
            guard add(item.name, status, position + 1) else { return }
            recent.append(ready.removeFirst())
            position += 1
        }
    }

    /// Starts over and drops entries up to `offset`.
    private func restart(skippingTo offset: Int64, fetched: ([VFSEntry], UInt64) -> Void) throws {
        listing = nil
        ready = []
        recent = []
        recentStart = 0
        ended = false
        position = 0
        while position < offset {
            if ready.isEmpty {
                guard try refill(fetched: fetched) else { return }
            }
            ready.removeFirst()
            position += 1
        }
    }

    /// Fetches the next entries; false at the end.
    private func refill(fetched: ([VFSEntry], UInt64) -> Void) throws -> Bool {
        if listing == nil {
            listedAt = generation()
            listing = Listing(try BlockingBridge.run { [vfs, path] in try await vfs.list(path) }.get().makeAsyncIterator())
            ready = [Item(name: ".", attributes: .fixed(dots)), Item(name: "..", attributes: .fixed(dots))]
            if pendingAtStart == nil { pendingAtStart = pending() }
            unlisted = pendingAtStart ?? [:]
            return true
        }
        guard !ended, let listing else { return false }
        let entries = try BlockingBridge.run { try await listing.next(Self.batch) }.get()
        fetched(entries, listedAt)
        ready = entries.map { entry in
            // Stored already and being replaced or changed: listed as stat shows it, with the
            // size so far (a directory of the same name shadows it, as in stat).
            if let being = unlisted.removeValue(forKey: ExactName(entry.name)), entry.kind == .file {
                return Item(name: entry.name, attributes: .fixed(being))
            }
            return Item(name: entry.name, attributes: .listed(entry))
        }
        if entries.count < Self.batch {
            ended = true
            ready += unlisted.sorted { $0.key.text.utf8.lexicographicallyPrecedes($1.key.text.utf8) }
                .map { Item(name: $0.key.text, attributes: .fixed($0.value)) }
            unlisted = [:]
        }
        return !ready.isEmpty
    }

    /// The VFS's listing iterator, advanced from one worker thread at a time.
    private final class Listing: @unchecked Sendable {
        private var iterator: VFSDirectoryListing.Iterator

        init(_ iterator: VFSDirectoryListing.Iterator) { self.iterator = iterator }

        func next(_ count: Int) async throws -> [VFSEntry] {
            var entries: [VFSEntry] = []
            while entries.count < count, let entry = try await iterator.next() { entries.append(entry) }
            return entries
        }
    }
}
