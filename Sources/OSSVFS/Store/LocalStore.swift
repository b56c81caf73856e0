#if canImport(Glibc)
import Glibc
#endif

/// An ``ObjectStore`` over a folder: `local_root/bucket/key`, with object-store semantics.
///
/// Keys are flat; `dir/` markers are objects; a put or a completed multipart upload becomes
/// visible atomically (written to a temporary file, synced, then renamed into place).
/// It is the embedded default of `make run` and the store of the fast tests.
/// Every call does its disk work through ``BlockingIO``.
///
/// ETags here are weak (`"<size>-<mtime in ns>"`), not MD5: they change whenever the content does.
/// The only user metadata kept is `mtime` (seconds since 1970), stored as the file's own
/// modification time; other metadata is refused, never dropped.
public final class LocalStore: ObjectStore {
    public let capabilities = ObjectStoreCapabilities(maxParts: 10_000, minPartSize: 1, maxKeyLength: 1023,
                                                      nativeRename: true, localReads: true)
    public var identity: StoreIdentity { StoreIdentity(bucket: "local:" + layout.bucketPath, principal: "") }
    let layout: LocalKeyLayout
    private let root: String
    private let bucket: String
    public var descriptor: StoreDescriptor { .local(root: root, bucket: bucket) }
    /// Size of the chunks read from files.
    let chunkSize: Int
    /// ``adoptsFiles(in:)``'s answers, by folder.
    private let adoptionByFolder = LockedBox<[String: Bool]>([:])
    /// Bucket and spool folders known to take links, for the whole process: a login makes its
    /// own store, and probing again cost each session's first upload four file operations. A
    /// stale yes does no harm (``LocalKeyLayout/stage(_:sync:)`` copies when the link fails);
    /// a no, which may have been a passing failure, is kept by one store only.
    private static let adoptingFolders = LockedBox<Set<String>>([])
    /// Folders as listings last read them (the process's one set).
    let folderSnapshots = LocalFolderSnapshots.shared

    /// Drops what the local stores of the process keep past its time (folder snapshots): called
    /// once the process has gone quiet, before malloc gives free memory back.
    public static func sweepIdleCaches() {
        LocalFolderSnapshots.shared.sweep()
    }

    /// A store over the folder `root/bucket`, which must exist. With `syncsWrites` (the
    /// default) a put, a copy or a completed upload is on disk (fsync) before it returns;
    /// without, it is visible and atomic but may be lost if the machine fails, as with
    /// FTP servers that write plain files.
    public init(root: String, bucket: String, chunkSize: Int = 256 * 1024, syncsWrites: Bool = true) throws {
        guard !bucket.isEmpty, !bucket.contains("/"), bucket != ".", bucket != ".." else {
            throw ObjectStoreError.noSuchBucket(bucket)
        }
        let bucketPath = root.hasSuffix("/") ? root + bucket : root + "/" + bucket
        guard try PosixFile.status(bucketPath)?.isDirectory == true else {
            throw ObjectStoreError.noSuchBucket(bucket)
        }
        layout = LocalKeyLayout(bucketPath: bucketPath, maxKeyLength: capabilities.maxKeyLength,
                                syncsWrites: syncsWrites)
        self.root = root
        self.bucket = bucket
        self.chunkSize = chunkSize
        LocalLeftovers.sweepRegularly(layout)
    }

    /// Keys the local layout refuses (`..`, empty parts, ossftp's own `.ossftp-` names).
    public func validate(_ key: String) throws {
        _ = try layout.filePath(for: key)
    }

    /// True when a file in `directory` can be hard-linked into the bucket folder:
    /// ``LocalKeyLayout/stage(_:sync:)`` then links a spool file instead of copying it.
    /// Tried for real once per folder (two bind mounts of one file system share a device
    /// number, yet refuse links between them).
    public func adoptsFiles(in directory: String) -> Bool {
        let layout = self.layout
        let folders = "\(layout.bucketPath)\u{0}\(directory)"
        if Self.adoptingFolders.value.contains(folders) { return true }
        if let known = adoptionByFolder.value[directory] { return known }
        let probe = "\(directory)/.ossftp-link-probe-\(DirectoryOps.randomName())"
        var linked = false
        if (try? DirectoryOps.makePath(layout.tempFolderPath, under: layout.bucketPath)) != nil,
            let file = try? PosixFile.createExclusive(probe)
        {
            try? file.close()
            let target = "\(layout.tempFolderPath)/\(DirectoryOps.randomName())"
            linked = link(probe, target) == 0
            try? DirectoryOps.unlinkIfPresent(target)
            try? DirectoryOps.unlinkIfPresent(probe)
        }
        if linked { Self.adoptingFolders.withValue { _ = $0.insert(folders) } }
        adoptionByFolder.withValue { $0[directory] = linked }
        return linked
    }

    /// Drops a large object's pages from the page cache as an upload that may replace it
    /// begins. Otherwise the cache holds the old object and the new one at once, and the
    /// upload's pages are fresh memory: on a VM whose host takes back freed memory (free page
    /// reporting), fresh memory costs a host fault per page: 2.4 GB written next to a cached
    /// 2.4 GB file went at 420 MB/s, and at 4.5 GB/s with that file's pages dropped first.
    /// Readers of the old object read it from disk until the upload commits.
    public func uploadBegins(_ key: String) {
        guard let path = try? layout.filePath(for: key), let status = try? PosixFile.status(path),
            status.isRegular, status.size >= LocalKeyLayout.largeObjectSize
        else { return }
        PosixFile.dropCachedPages(path)
    }

    public func freeSpace() -> UInt64? {
        var space = statvfs()
        guard statvfs(layout.bucketPath, &space) == 0 else { return nil }
        // Root may write into the blocks kept back for it, as it would on this disk directly.
        let blocks = geteuid() == 0 ? space.f_bfree : space.f_bavail
        return UInt64(blocks) * UInt64(space.f_frsize)
    }

    public func head(_ key: String) async throws -> ObjectInfo {
        let layout = self.layout
        return try await BlockingIO.run { try layout.info(for: key) }
    }

    public func get(_ key: String, range: ByteRange?, ifMatch: String?) async throws -> ObjectByteStream {
        let layout = self.layout
        let chunkSize = self.chunkSize
        return try await BlockingIO.run {
            let file = try PosixFile.openObjectForReading(try layout.filePath(for: key), key: key)
            // The ETag of the file opened, not of whatever the name points at by now.
            let info = try layout.info(for: key, of: file)
            if let ifMatch, !ifMatch.isEmpty, info.etag != ifMatch {
                try? file.close()
                throw ObjectStoreError.changed(key)
            }
            let (start, end) = try Self.bounds(of: range, size: info.size)
            return ObjectByteStream(source: LocalChunkSource(file: file, start: start, end: end, chunkSize: chunkSize))
        }
    }

    /// Resolves a range against an object's size into `start..<end`.
    static func bounds(of range: ByteRange?, size: UInt64) throws -> (UInt64, UInt64) {
        switch range {
        case nil: return (0, size)
        case .from(let start):
            guard start <= size else { throw Self.invalidRange(size) }
            return (start, size)
        case .closed(let start, let last):
            guard start <= last, start < size else { throw Self.invalidRange(size) }
            return (start, min(last + 1, size))
        case .suffix(let count):
            return (size - min(count, size), size)
        }
    }

    private static func invalidRange(_ size: UInt64) -> ObjectStoreError {
        .service(status: 416, code: "InvalidRange", message: "range outside an object of \(size) bytes", requestID: nil)
    }

    @discardableResult
    public func put(_ key: String, body: ObjectBody, metadata: [String: String], contentHeaders: [String: String],
                    condition: WriteCondition) async throws -> String
    {
        let ifAbsent = condition == .absent
        let modified = try Self.modificationTime(from: metadata)
        let layout = self.layout
        return try await BlockingIO.run {
            let destination = try layout.filePath(for: key)
            try layout.adoptBareFolder(above: try layout.receivingFolder(for: key))
            try DirectoryOps.makePath(try layout.parentFolder(for: key), under: layout.bucketPath)
            if LocalKeyLayout.isMarker(key) {
                // A folder's marker is an empty file here: bytes for it would be lost.
                guard body.length == 0 else {
                    throw ObjectStoreError.invalidKey("a folder here cannot hold bytes")
                }
                do {
                    try PosixFile.createExclusive(destination, mode: 0o644).close()
                } catch ObjectStoreError.io(_, EEXIST) {
                    // There already, or made meanwhile by another client's MKD of the same
                    // folder (rclone makes a parent folder once per file it copies into it).
                    if ifAbsent { throw ObjectStoreError.conflict("\(key) exists") }
                }
            } else {
                let temp = try layout.stage(body, sync: layout.syncsWrites)
                do {
                    if let modified { try DirectoryOps.setModificationTime(temp, modified) }
                    try layout.place(temp, at: destination, key: key, condition: condition)
                } catch {
                    try? DirectoryOps.unlinkIfPresent(temp)
                    throw error
                }
                layout.settle(destination, size: body.length)
            }
            return try layout.info(for: key).etag
        }
    }

    /// The `mtime` entry of user metadata; any other entry is refused.
    static func modificationTime(from metadata: [String: String]) throws -> Double? {
        guard metadata.keys.allSatisfy({ $0 == "mtime" }) else {
            throw ObjectStoreError.service(
                status: 501, code: "NotImplemented", message: "the local store keeps only the mtime metadata",
                requestID: nil)
        }
        guard let text = metadata["mtime"] else { return nil }
        guard let value = Double(text) else {
            throw ObjectStoreError.service(status: 400, code: "InvalidArgument", message: "mtime \(text)", requestID: nil)
        }
        return value
    }

    public func replaceMetadata(_ key: String, metadata: [String: String]) async throws {
        let modified = try Self.modificationTime(from: metadata)
        let layout = self.layout
        try await BlockingIO.run {
            _ = try layout.info(for: key)
            if let modified { try DirectoryOps.setModificationTime(try layout.filePath(for: key), modified) }
        }
    }

    /// Renames a file (`a` to `b`) or a whole folder (`a/` to `b/`) with one rename(2).
    public func rename(from source: String, to destination: String, replacing: Bool) async throws {
        let layout = self.layout
        try await BlockingIO.run {
            let isFolder = LocalKeyLayout.isMarker(source)
            guard isFolder == LocalKeyLayout.isMarker(destination) else {
                throw ObjectStoreError.invalidKey("a folder renames only to a folder")
            }
            let from = isFolder ? try layout.parentFolder(for: source) : try layout.filePath(for: source)
            let to = isFolder ? try layout.parentFolder(for: destination) : try layout.filePath(for: destination)
            guard try PosixFile.status(from) != nil else { throw ObjectStoreError.noSuchKey(source) }
            try layout.adoptBareFolder(above: try layout.receivingFolder(for: destination))
            try DirectoryOps.makePath(to.beforeLastSlashByte() ?? to, under: layout.bucketPath)
            if replacing {
                try DirectoryOps.rename(from, to: to)
            } else {
                try DirectoryOps.renameNew(from, to: to)
            }
            if let fromParent = from.beforeLastSlashByte() {
                DirectoryOps.pruneEmpty(from: fromParent, stoppingAt: layout.bucketPath)
            }
        }
    }

    public func delete(_ key: String) async throws {
        let layout = self.layout
        try await BlockingIO.run {
            let path = try layout.filePath(for: key)
            if try PosixFile.status(path)?.isDirectory == true { return }
            try DirectoryOps.unlinkIfPresent(path)
            let folder = try layout.parentFolder(for: key)
            guard LocalKeyLayout.isMarker(key) else {
                // Folders that were only the prefix of this object go with it, as in a bucket.
                DirectoryOps.pruneEmpty(from: folder, stoppingAt: layout.bucketPath)
                return
            }
            // A folder's marker takes its folder along, if nothing else is in it, and nothing
            // above it: those are folders on disk, shown as such (an administrator's
            // `mkdir -p incoming/cam1` lost `incoming` with an RMD of `cam1`).
            _ = rmdir(folder)
            // Still there with no key in it: it holds only what no listing shows (a link, a
            // FIFO, a name that is not UTF-8), which an RMD reported removed and left.
            if try layout.bareFolderMarker(key, at: folder) != nil {
                throw ObjectStoreError.io(operation: "rmdir \(folder)", errno: ENOTEMPTY)
            }
        }
    }

    public func deleteMany(_ keys: [String]) async throws -> [String: ObjectStoreError] {
        var failures: [String: ObjectStoreError] = [:]
        for key in keys {
            do { try await delete(key) } catch let error as ObjectStoreError { failures[key] = error }
        }
        return failures
    }

    public func copy(from source: String, to destination: String, condition: WriteCondition) async throws {
        let layout = self.layout
        try await BlockingIO.run {
            let info = try layout.info(for: source)
            let target = try layout.filePath(for: destination)
            try layout.adoptBareFolder(above: try layout.receivingFolder(for: destination))
            try DirectoryOps.makePath(try layout.parentFolder(for: destination), under: layout.bucketPath)
            let temp = try layout.stage(.file(path: try layout.filePath(for: source), offset: 0, length: info.size),
                                        sync: layout.syncsWrites)
            do {
                // A copy keeps the source's metadata, and here the mtime is the metadata.
                try DirectoryOps.restoreModificationTime(temp, info.lastModified)
                try layout.place(temp, at: target, key: destination, condition: condition)
            } catch {
                try? DirectoryOps.unlinkIfPresent(temp)
                throw error
            }
            layout.settle(target, size: info.size)
        }
    }
}

extension LocalKeyLayout {
    /// Metadata of a key, from its file.
    func info(for key: String) throws -> ObjectInfo {
        let path = try filePath(for: key)
        let status = try PosixFile.status(path)
        guard let status, status.isRegular else {
            if status == nil, Self.isMarker(key), let marker = try bareFolderMarker(key, at: try parentFolder(for: key)) {
                return marker
            }
            throw ObjectStoreError.noSuchKey(key)
        }
        return Self.info(key, size: status.size, modified: status.modified)
    }

    /// Metadata of a key, from a file already opened for it.
    func info(for key: String, of file: PosixFile) throws -> ObjectInfo {
        var st = stat()
        guard fstat(file.descriptor, &st) == 0 else {
            throw ObjectStoreError.io(operation: "stat \(key)", errno: errno)
        }
        guard st.st_mode & S_IFMT == S_IFREG else { throw ObjectStoreError.noSuchKey(key) }
        return Self.info(key, size: UInt64(st.st_size), modified: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }

    // The ETag is the size and the nanosecond mtime: a replacement (a new file linked in) differs.
    static func info(_ key: String, size: UInt64, modified: Double) -> ObjectInfo {
        ObjectInfo(key: key, size: size, lastModified: modified, etag: etag(size: size, modified: modified))
    }

    /// A file's ETag: its size and its mtime's exact bits. (Nanoseconds as an integer trapped
    /// for times before 1970 or after 2554, which MFMT or `touch -d` can set.)
    static func etag(size: UInt64, modified: Double) -> String {
        "\"\(size)-\(String(modified.bitPattern, radix: 16))\""
    }

    /// After a large object's file got its name: without `syncsWrites`, starts the disk write
    /// now rather than leaving it to the kernel, which writes dirty pages back only down to its
    /// background threshold (10 % of memory) and leaves the rest for 30 s. A second large upload
    /// on top of them would be slowed to the disk's pace (the kernel throttles writers near the
    /// dirty limit). Returns at once; the 226 does not wait for it. Small objects are left to
    /// the kernel: started at each of 200 uploads of 10 MB at once, the disk writes slowed them
    /// (bench/ftpbench.py, 200 to distinct names: 1.65 s to the last 226, against 1.06 s).
    func settle(_ path: String, size: UInt64) {
        guard !syncsWrites, size >= Self.largeObjectSize else { return }
        BlockingIO.detach { PosixFile.startWriteback(path) }
    }

    /// Objects from this size on have their disk write started at commit (see
    /// ``settle(_:size:)``) and their cached pages dropped when an upload that may replace them
    /// begins (``LocalStore/uploadBegins(_:)``).
    static let largeObjectSize: UInt64 = 256 << 20

    /// Copies a body into a new temporary file (synced when `sync`) and returns its path. A
    /// whole disposable file on the same file system (a spool file) is hard-linked instead;
    /// never an object's own file or a user's, whose later changes a link would share.
    func stage(_ body: ObjectBody, sync: Bool) throws -> String {
        try DirectoryOps.makePath(tempFolderPath, under: bucketPath)
        let path = "\(tempFolderPath)/\(DirectoryOps.randomName())"
        if case .file(let source, 0, let length, true) = body, (try? PosixFile.status(source))??.size == length,
            link(source, path) == 0
        {
            // Spool files are the owner's alone; an object's file is readable as a copied one is
            // (the spool folder, 700, keeps it private while it has that name too).
            guard chmod(path, PosixFile.objectMode) == 0 else { throw ObjectStoreError.io(operation: "chmod \(path)", errno: errno) }
            if sync {
                let linked = try PosixFile.openForReading(path)
                try linked.sync()
                try linked.close()
            }
            return path
        }
        let output = try PosixFile.createExclusive(path, mode: 0o644)
        do {
            switch body {
            case .bytes(let bytes):
                try output.writeAll(bytes)
            case .file(let source, let offset, let length, _):
                let input = try PosixFile.openForReading(source)
                defer { try? input.close() }
                try output.append(contentsOf: input, from: offset, length: length)
            }
            if sync { try output.sync() }
            try output.close()
        } catch {
            try? DirectoryOps.unlinkIfPresent(path)
            throw error
        }
        return path
    }
}
