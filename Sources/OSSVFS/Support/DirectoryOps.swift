import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Blocking directory calls for ``LocalStore`` and the spool.
enum DirectoryOps {
    struct Entry {
        enum Kind {
            case directory
            case file
            /// A symbolic link, FIFO, socket or device: never an object, never followed.
            case other
        }

        var name: String
        var kind: Kind
        var isDirectory: Bool { kind == .directory }
    }

    /// The entries of a folder (without `.` and `..`), or nil when it does not exist. Names
    /// that are not UTF-8 are left out: no key can name them.
    static func entries(of path: String) throws -> [Entry]? {
        var result: [Entry] = []
        guard try visitEntries(of: path, { result.append($0); return true }) else { return nil }
        return result
    }

    /// Hands the entries of a folder, as ``entries(of:)`` gives them, to `visit` until it
    /// returns false (a folder of many files read only as far as needed); false when the folder
    /// does not exist.
    @discardableResult
    static func visitEntries(of path: String, _ visit: (Entry) throws -> Bool) throws -> Bool {
        guard let dir = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return false }
            throw ObjectStoreError.io(operation: "opendir \(path)", errno: errno)
        }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            guard let name = String(validating: DirectoryEntry.nameBytes(entry), as: UTF8.self) else { continue }
            if name == "." || name == ".." { continue }
            let kind: Entry.Kind
            switch DirectoryEntry.type(entry) {
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_REG): kind = .file
            case Int32(DT_UNKNOWN): kind = try self.kind(of: "\(path)/\(name)") ?? .other
            default: kind = .other
            }
            if try !visit(Entry(name: name, kind: kind)) { break }
        }
        return true
    }

    /// What tells a folder's names apart from before: which folder it is, and when its entries
    /// last changed (ctime: adding, removing or renaming a name sets it, and `utimes` cannot
    /// set it back, as `rsync -a` or `tar` do with the mtime).
    struct FolderStamp: Equatable {
        var device: UInt64
        var inode: UInt64
        var changed: Double
    }

    /// `path`'s stamp when it is a folder itself (not a link to one), else nil.
    static func folderStamp(_ path: String) throws -> FolderStamp? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw ObjectStoreError.io(operation: "stat \(path)", errno: errno)
        }
        guard st.st_mode & S_IFMT == S_IFDIR else { return nil }
        return FolderStamp(device: UInt64(st.st_dev), inode: UInt64(st.st_ino),
                           changed: Double(st.st_ctim.tv_sec) + Double(st.st_ctim.tv_nsec) / 1e9)
    }

    /// What `path` itself is (a link is `.other`, not what it points at), or nil when absent.
    static func kind(of path: String) throws -> Entry.Kind? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw ObjectStoreError.io(operation: "stat \(path)", errno: errno)
        }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .file
        default: return .other
        }
    }

    /// Creates a folder and its parents (those made get `mode`). Throws `conflict` when a file
    /// stands in the way.
    static func makePath(_ path: String, under base: String, mode: mode_t = 0o755) throws {
        guard path.hasBytePrefix(base) else { return }
        var current = base
        for part in path.droppingBytes(base.utf8.count).splitBytes() {
            current += "/" + part
            if mkdir(current, mode) == 0 { continue }
            let code = errno
            if code == EEXIST {
                if try PosixFile.status(current)?.isDirectory == true { continue }
                throw ObjectStoreError.conflict("an object named \(current.dropFirst(base.count + 1)) exists")
            }
            if code == ENOTDIR {
                throw ObjectStoreError.conflict("a parent of \(current.dropFirst(base.count + 1)) is an object")
            }
            throw ObjectStoreError.io(operation: "mkdir \(current)", errno: code)
        }
    }

    /// Removes empty folders from `path` upwards, stopping below `base` or at the first non-empty one.
    static func pruneEmpty(from path: String, stoppingAt base: String) {
        var current = path
        while current.utf8.count > base.utf8.count, current.hasBytePrefix(base) {
            if rmdir(current) != 0 { return }
            guard let parent = current.beforeLastSlashByte() else { return }
            current = parent
        }
    }

    /// Removes a file; a missing file is not an error.
    static func unlinkIfPresent(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT {
            throw ObjectStoreError.io(operation: "unlink \(path)", errno: errno)
        }
    }

    /// Renames atomically; maps a directory in the way to `conflict`.
    static func rename(_ from: String, to: String) throws {
        if Glibc.rename(from, to) != 0 {
            let code = errno
            if code == EISDIR || code == ENOTEMPTY || code == EEXIST {
                throw ObjectStoreError.conflict("a directory with that name exists")
            }
            if code == ENOTDIR { throw ObjectStoreError.conflict("a parent of the key is an object") }
            throw ObjectStoreError.io(operation: "rename \(from)", errno: code)
        }
    }

    /// Renames `from` to a name nothing has (RENAME_NOREPLACE: one step, no window); an
    /// existing one is ``ObjectStoreError/conflict(_:)``. A file system without the flag
    /// refuses the rename (EINVAL) rather than replace.
    static func renameNew(_ from: String, to: String) throws {
        guard clinux_renameat2(from, to, renameNoReplace) != 0 else { return }
        let code = errno
        if code == EEXIST { throw ObjectStoreError.conflict("an object has that name") }
        if code == ENOTDIR { throw ObjectStoreError.conflict("a parent of the key is an object") }
        throw ObjectStoreError.io(operation: "rename \(from)", errno: code)
    }

    /// Syncs a folder itself (fsync on it), so that names just made or changed in it survive a
    /// power loss, not only the files' bytes.
    static func syncFolder(_ path: String) throws {
        let descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ObjectStoreError.io(operation: "open \(path)", errno: errno) }
        defer { Glibc.close(descriptor) }
        guard fsync(descriptor) == 0 else { throw ObjectStoreError.io(operation: "fsync \(path)", errno: errno) }
    }

    /// Moves a finished object's file (`temp`) to `destination`, atomically, as ``rename(_:to:)``.
    ///
    /// Over an existing file the two names are swapped (renameat2 with RENAME_EXCHANGE) and the
    /// old file, now under `temp`, is unlinked. A plain rename over a file makes ext4 start
    /// writing the new file back at once (`auto_da_alloc`, for editors that do not fsync): 5 ms
    /// for each 10 MB object replaced, in the commit, even with `local_no_fsync`, where the swap
    /// took 0.5 ms. Readers see the old file or the new one either way.
    /// renameat2(2)'s flags (linux/fs.h), which Glibc does not export.
    static let renameNoReplace: UInt32 = 1
    static let renameExchange: UInt32 = 2

    static func place(_ temp: String, at destination: String, ifAbsent: Bool = false) throws {
        if ifAbsent {
            // One renameat2 that refuses to replace: no window between a check and the rename.
            guard clinux_renameat2(temp, destination, Self.renameNoReplace) != 0 else { return }
            var code = errno
            if code == EINVAL || code == ENOSYS {
                // A file system or kernel without RENAME_NOREPLACE (NFS, CIFS, old kernels):
                // link(2) refuses an existing name as atomically; then the temporary name goes.
                if Glibc.link(temp, destination) == 0 {
                    _ = unlink(temp)
                    return
                }
                code = errno
            }
            if code == EEXIST { throw ObjectStoreError.conflict("an object has that name") }
            if code == ENOTDIR { throw ObjectStoreError.conflict("a parent of the key is an object") }
            throw ObjectStoreError.io(operation: "rename \(temp)", errno: code)
        }
        var status = stat()
        // Only over a regular file: a folder swapped out would be missing from listings meanwhile.
        guard lstat(destination, &status) == 0, status.st_mode & S_IFMT == S_IFREG,
            clinux_renameat2(temp, destination, Self.renameExchange) == 0
        else {
            return try rename(temp, to: destination)
        }
        guard unlink(temp) != 0 else { return }
        let code = errno
        // The old one goes back and the commit fails as a whole (EISDIR: a folder took the name
        // between the check and the swap).
        _ = clinux_renameat2(temp, destination, Self.renameExchange)
        if code == EISDIR { throw ObjectStoreError.conflict("a directory with that name exists") }
        throw ObjectStoreError.io(operation: "unlink the replaced \(temp)", errno: code)
    }

    /// Removes a folder and everything in it.
    static func removeTree(_ path: String) throws {
        guard let children = try entries(of: path) else { return }
        for child in children {
            let childPath = "\(path)/\(child.name)"
            if child.isDirectory { try removeTree(childPath) } else { try unlinkIfPresent(childPath) }
        }
        if rmdir(path) != 0 && errno != ENOENT {
            throw ObjectStoreError.io(operation: "rmdir \(path)", errno: errno)
        }
    }

    /// Sets a file's access and modification times.
    static func setModificationTime(_ path: String, _ time: Double) throws {
        // To the microsecond, as the mount shows it: the time that was set, not that time
        // off by the Double's last bit (`.123456001`).
        guard let exact = MicrosecondTime(time) else { throw ObjectStoreError.io(operation: "utimensat: \(time) is not a time", errno: EINVAL) }
        try setModificationTime(path, timespec(tv_sec: exact.seconds, tv_nsec: exact.nanoseconds))
    }

    /// Gives `path` the modification time `time` that `stat` read from a file, to the
    /// nanosecond that Double keeps: a copy keeps its source's time, and a multipart part
    /// given back after a refused completion keeps the ETag made from its time.
    static func restoreModificationTime(_ path: String, _ time: Double) throws {
        let seconds = time.rounded(.down)
        try setModificationTime(path, timespec(tv_sec: Int(seconds), tv_nsec: Int((time - seconds) * 1e9)))
    }

    private static func setModificationTime(_ path: String, _ spec: timespec) throws {
        let times = [spec, spec]
        guard utimensat(AT_FDCWD, path, times, 0) == 0 else {
            throw ObjectStoreError.io(operation: "utimensat \(path)", errno: errno)
        }
    }

    /// A random hexadecimal name for temporary files and upload ids.
    static func randomName() -> String {
        var generator = SystemRandomNumberGenerator()
        return hexString((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
