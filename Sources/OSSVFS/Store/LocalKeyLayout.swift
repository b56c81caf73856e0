#if canImport(Glibc)
import Glibc
#endif

/// How ``LocalStore`` lays keys out as files, so the tree stays readable by people:
///
/// - object `a/b/c` is the file `<bucket>/a/b/c`;
/// - the directory marker `a/b/` is the empty file `<bucket>/a/b/.ossftp-dir`;
/// - staging lives in `<bucket>/.ossftp-tmp/` and `<bucket>/.ossftp-uploads/<upload id>/`.
///
/// Names starting with `.ossftp-` are reserved, and keys a directory tree cannot hold
/// (empty, `.` or `..` components, `a//b`) are refused with ``ObjectStoreError/invalidKey(_:)``.
/// A key `a` and a key `a/b` cannot both exist here; the second put fails with
/// ``ObjectStoreError/conflict(_:)`` (an object store would accept both).
struct LocalKeyLayout: Sendable {
    static let reservedPrefix = ".ossftp-"
    static let markerName = ".ossftp-dir"
    static let tempFolder = ".ossftp-tmp"
    static let uploadsFolder = ".ossftp-uploads"

    /// `<root>/<bucket>`.
    let bucketPath: String
    let maxKeyLength: Int
    /// Whether finished objects are synced to disk before they become visible.
    var syncsWrites = true

    /// Whether `key` is a directory marker (`dir/`).
    static func isMarker(_ key: String) -> Bool {
        key.utf8.last == UInt8(ascii: "/")
    }

    /// Checks that `key` can be represented and returns its components (without the marker's empty tail).
    func components(of key: String) throws -> [String] {
        guard !key.isEmpty else { throw ObjectStoreError.invalidKey("empty key") }
        guard key.utf8.count <= maxKeyLength else {
            throw ObjectStoreError.keyTooLong("key longer than \(maxKeyLength) bytes")
        }
        guard !key.utf8.contains(0) else { throw ObjectStoreError.invalidKey("NUL in key") }
        // By bytes: the kernel cuts at every `/` byte, whatever character it is part of.
        var parts = key.splitBytes(omittingEmpty: false)
        if Self.isMarker(key) { parts.removeLast() }
        for part in parts {
            if part.isEmpty || part.utf8.elementsEqual(".".utf8) || part.utf8.elementsEqual("..".utf8) {
                throw ObjectStoreError.invalidKey("a name has an empty, '.' or '..' component")
            }
            if part.hasBytePrefix(Self.reservedPrefix) {
                throw ObjectStoreError.invalidKey("names starting with \(Self.reservedPrefix) are reserved")
            }
        }
        return parts
    }

    /// The file that holds `key`'s bytes.
    func filePath(for key: String) throws -> String {
        let parts = try components(of: key)
        let joined = parts.joined(separator: "/")
        let path = Self.isMarker(key) ? "\(bucketPath)/\(joined)/\(Self.markerName)" : "\(bucketPath)/\(joined)"
        try refuseLinks(in: path, key: key)
        return path
    }

    /// The folder a key's file sits in.
    func parentFolder(for key: String) throws -> String {
        let parts = try components(of: key)
        let folder: String
        if Self.isMarker(key) {
            folder = "\(bucketPath)/\(parts.joined(separator: "/"))"
        } else {
            let parents = parts.dropLast()
            folder = parents.isEmpty ? bucketPath : "\(bucketPath)/\(parents.joined(separator: "/"))"
        }
        try refuseLinks(in: folder, key: key)
        return folder
    }

    /// The local store follows no link and opens no FIFO, socket or device: a link that another
    /// program put in the bucket folder would reach files outside it, or outside an account's
    /// home, and a FIFO would hang the read. Each part of `path` below the bucket folder that
    /// exists is checked; one that is none of a folder or a file makes the key absent.
    /// (A link swapped in after this check is still not followed by the final open, which
    /// uses O_NOFOLLOW; one swapped in above it is, for that one call.)
    private func refuseLinks(in path: String, key: String) throws {
        var current = bucketPath
        for part in path.droppingBytes(bucketPath.utf8.count).splitBytes() {
            current += "/" + part
            switch try DirectoryOps.kind(of: current) {
            case nil, .file?: return
            case .directory?: continue
            case .other?: throw ObjectStoreError.noSuchKey(key)
            }
        }
    }

    var tempFolderPath: String { "\(bucketPath)/\(Self.tempFolder)" }
    var uploadsFolderPath: String { "\(bucketPath)/\(Self.uploadsFolder)" }
}

extension LocalKeyLayout {
    /// Puts `temp` in place as the object at `destination` under `condition`: the check and
    /// the rename as one step toward every other upload, copy or append of ossftp on this
    /// machine (of this process or another: two mounts, or serve and a mount, of one folder),
    /// which takes the same lock on the destination's folder (renames and deletes do not).
    /// Checked and renamed apart, another process's upload stored in between was replaced, its
    /// client told it was stored (two mounts appending to one file lost a quarter of their
    /// acknowledged lines). An `.absent` write needs no lock: its rename itself refuses an
    /// existing name.
    func place(_ temp: String, at destination: String, key: String, condition: WriteCondition) throws {
        let folder = destination.beforeLastSlashByte() ?? bucketPath
        // One descriptor of the folder for its lock and its sync. flock is released when the
        // descriptor closes, also if the process dies holding it; two descriptors of one
        // process exclude each other as two processes do. A folder ossftp may write into but
        // not read (a drop box, mode 0733) cannot be opened: its writes go unlocked and its
        // names unsynced, as before.
        var descriptor: Int32 = -1
        if condition != .absent || syncsWrites {
            descriptor = Glibc.open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if descriptor < 0 && errno != EACCES { throw ObjectStoreError.io(operation: "open \(folder)", errno: errno) }
        }
        defer { if descriptor >= 0 { Glibc.close(descriptor) } }
        if condition == .absent {
            try DirectoryOps.place(temp, at: destination, ifAbsent: true)
        } else {
            if descriptor >= 0 { try Self.lock(descriptor, folder: folder) }
            try check(condition, of: key, at: destination)
            try DirectoryOps.place(temp, at: destination)
            if descriptor >= 0 { flock(descriptor, LOCK_UN) }
        }
        // The new name on disk too before the 226 that `local_fsync` promises: the file's own
        // fsync (at staging) keeps its bytes, not the rename that names it. The object is in
        // place whatever the sync says: a failure is logged, not answered (a 451 would have the
        // client send again what was stored, and an APPE sent twice doubles its bytes). Some
        // file systems sync no folder (EINVAL): their names are left to their own commit.
        guard syncsWrites, descriptor >= 0, fsync(descriptor) != 0 else { return }
        let code = errno
        guard ![EINVAL, EBADF, EROFS].contains(code) else { return }
        VFSMetrics.storeLogger.error(
            "stored \(key), but its folder could not be synced: its name may not survive a power loss: \(String(cString: strerror(code)))")
    }

    /// How long a write waits for another's lock on its folder: a holder only checks and
    /// renames, so a lock held longer is a process stopped in between (SIGSTOP) or another
    /// program's, and the write fails rather than holding a thread of the shared I/O pool.
    static let lockWait: Duration = .seconds(10)

    private static func lock(_ descriptor: Int32, folder: String) throws {
        let deadline = ContinuousClock.now + lockWait
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else { throw ObjectStoreError.io(operation: "lock \(folder)", errno: code) }
            guard ContinuousClock.now < deadline else {
                throw ObjectStoreError.io(operation: "lock \(folder): held by another process for \(lockWait)", errno: EBUSY)
            }
            usleep(2_000)
        }
    }

    /// Refuses a write made on `.matching` when the file at `path` is another version, or
    /// gone (``ObjectStoreError/changed(_:)``).
    func check(_ condition: WriteCondition, of key: String, at path: String) throws {
        guard case .matching(let etag) = condition else { return }
        guard let status = try PosixFile.status(path), status.isRegular,
            Self.etag(size: status.size, modified: status.modified) == etag
        else { throw ObjectStoreError.changed(key) }
    }
}

extension LocalKeyLayout {
    /// The folder that a new key's entry goes into: a file's folder, or the one above a
    /// marker's own folder.
    func receivingFolder(for key: String) throws -> String {
        let folder = try parentFolder(for: key)
        return Self.isMarker(key) ? (folder.beforeLastSlashByte() ?? bucketPath) : folder
    }

    /// The marker a bare folder is shown with: a folder another program made (`mkdir` on the
    /// server) that holds no marker, file or folder. An object store has no such thing (a
    /// prefix with no key under it is nothing), but on disk it is where an administrator means
    /// uploads to go: it is shown, entered and listed (empty) as if it had its marker. Nil for
    /// anything else.
    func bareFolderMarker(_ folderKey: String, at folder: String) throws -> ObjectInfo? {
        guard try PosixFile.status("\(folder)/\(Self.markerName)") == nil else { return nil }
        var holdsKeys = false
        try DirectoryOps.visitEntries(of: folder) { entry in
            holdsKeys = Self.isKeyEntry(entry)
            return !holdsKeys
        }
        return holdsKeys ? nil : try bareMarker(folderKey, at: folder)
    }

    /// The marker of a folder already read and found bare (no marker, no key entry): made from
    /// the folder's own status, with its time.
    func bareMarker(_ folderKey: String, at folder: String) throws -> ObjectInfo? {
        guard !folderKey.isEmpty, let status = try PosixFile.status(folder), status.isDirectory else { return nil }
        return Self.info(folderKey, size: 0, modified: status.modified)
    }

    /// Before a write puts a new entry under `folder` (or under the nearest of its parents that
    /// exists): a bare folder there gets its marker, so that it stays when that entry goes, as
    /// a folder made with MKD does. Otherwise it would become a prefix of the new key only, and
    /// go with its last object.
    func adoptBareFolder(above folder: String) throws {
        var existing = folder
        while try PosixFile.status(existing) == nil {
            guard let parent = existing.beforeLastSlashByte(), parent.utf8.count >= bucketPath.utf8.count else { return }
            existing = parent
        }
        guard existing.utf8.count > bucketPath.utf8.count, existing.hasBytePrefix(bucketPath + "/") else { return }
        let folderKey = existing.droppingBytes(bucketPath.utf8.count + 1) + "/"
        guard try bareFolderMarker(folderKey, at: existing) != nil else { return }
        do {
            try PosixFile.createExclusive("\(existing)/\(Self.markerName)", mode: 0o644).close()
        } catch ObjectStoreError.io(_, EEXIST) {
            // Made meanwhile by another write into it.
        }
    }
}
