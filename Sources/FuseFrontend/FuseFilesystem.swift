#if canImport(Glibc)
import Glibc
#endif
import Foundation
import OSSVFS

/// The FUSE operations over the VFS, in Swift terms: each returns 0 or a negative errno (or a
/// byte count), as libfuse wants. ``FuseOperations`` binds them to libfuse's C table; tests
/// call them directly. The semantics are those of docs/SEMANTICS.md, the same as FTP's.
public final class FuseFilesystem: @unchecked Sendable {
    let vfs: any VFS
    let options: FuseMountOptions
    let handles = FuseHandleTable()
    /// Open directories, by the handle number libfuse carries.
    let directories = LockedValue<(next: UInt64, open: [UInt64: FuseDirectoryStream])>((0, [:]))
    /// Shown as the time of directories, which object storage keeps none for.
    let mountedAt = Date().timeIntervalSince1970
    /// libfuse's session, once mounted (to notice a signal-requested exit).
    let session = LockedValue<OpaquePointer?>(nil)
    /// Where it is mounted (its real path), once mounted: descriptors of its files are found
    /// under it in /proc.
    let mountpoint = LockedValue<String?>(nil)
    /// Set once libfuse tore the file system down in order.
    let endedCleanly = LockedValue(false)
    /// What recent listings showed, for the getattr that follows each name (`ls -l`), and
    /// what changes through the mount made stale.
    let attributes = FuseAttributeCache()

    /// Runs `work`, a change of `path` through the mount: what listings said of it is stale
    /// from its start, and stays so for listings fetched while it ran.
    func changing<T>(_ path: VFSPath, _ work: () async throws -> T) async rethrows -> T {
        attributes.changed(path)
        defer { attributes.changed(path) }
        return try await work()
    }

    public init(vfs: any VFS, options: FuseMountOptions) {
        self.vfs = vfs
        self.options = options
    }

    /// The VFS path of a FUSE path (always absolute, `/` separated). A backslash is refused
    /// (EINVAL): FTP clients use it as a separator, so such a name would be another path there.
    func resolve(_ path: String) throws -> VFSPath {
        guard !path.contains("\\") else { throw FuseError(EINVAL) }
        do { return try VFSPath(resolving: path) } catch { throw FuseError(EINVAL) }
    }

    /// A path for a name being made (create, mkdir, a rename's destination). statfs promises
    /// names of at most 255 bytes (NAME_MAX); the kernel lets FUSE have up to 1,024, and some
    /// stores would take them only to refuse the upload at its end. Longer names made by
    /// other tools can still be looked up, read and removed.
    func resolveNew(_ path: String) throws -> VFSPath {
        let resolved = try resolve(path)
        guard resolved.components.last.map({ $0.utf8.count <= Self.nameMax }) ?? true else { throw FuseError(ENAMETOOLONG) }
        return resolved
    }

    /// The longest name, in bytes, that the mount takes (and statfs reports).
    static let nameMax = 255

    /// Runs VFS work for a callback: 0, or the negative errno of its error.
    func perform(_ path: String, _ work: @escaping @Sendable (VFSPath) async throws -> Void) -> Int32 {
        do {
            let resolved = try resolve(path)
            return BlockingBridge.status { try await work(resolved) }
        } catch {
            return -FuseErrno.code(forAny: error)
        }
    }

    // MARK: - Attributes

    /// `time` to the microsecond (``MicrosecondTime``): exact when set to the microsecond, else
    /// rounded up, so that a copy made with its source's time is never the older of the two.
    static func shownTime(_ time: Double) -> timespec {
        guard let shown = MicrosecondTime(time) else { return Glibc.timespec(tv_sec: 0, tv_nsec: 0) }
        return Glibc.timespec(tv_sec: shown.seconds, tv_nsec: shown.nanoseconds)
    }

    /// Fills `status` for an entry.
    func fill(_ status: inout stat, kind: VFSEntry.Kind, size: UInt64, modified: Double?) {
        status = stat()
        status.st_mode = kind == .directory ? S_IFDIR | options.directoryMode : S_IFREG | options.fileMode
        status.st_nlink = kind == .directory ? 2 : 1
        status.st_uid = options.uid
        status.st_gid = options.gid
        status.st_size = off_t(size)
        status.st_blksize = 1 << 20
        status.st_blocks = blkcnt_t((size + 511) / 512)
        let spec = Self.shownTime(modified ?? mountedAt)
        status.st_mtim = spec
        status.st_ctim = spec
        status.st_atim = spec
    }

    public func getattr(_ path: String, _ status: inout stat) -> Int32 {
        let resolved: VFSPath
        do { resolved = try resolve(path) } catch { return -FuseErrno.code(forAny: error) }
        // Being stored (its lock is held meanwhile): what it will be once stored (the store may still show the old one).
        if let committing = attributes.committing(resolved) {
            fill(&status, kind: .file, size: committing.size, modified: committing.modified)
            return 0
        }
        // A file being written shows its size so far, before anything is stored.
        if let open = handles.writing(resolved) {
            let pending = open.lock.withLock { open.hasPendingChanges ? open.pendingSize : nil }
            if let pending {
                fill(&status, kind: .file, size: pending, modified: open.pendingModified ?? Date().timeIntervalSince1970)
                return 0
            }
        }
        if let known = attributes.listed(resolved, now: MonotonicTime.now),
            known.kind == .directory || !options.exactTimes
        {
            fill(&status, kind: known.kind, size: known.size, modified: known.modified)
            return 0
        }
        switch BlockingBridge.run({ [vfs] in try await vfs.stat(resolved) }) {
        case .success(let entry):
            fill(&status, kind: entry.kind, size: entry.size, modified: entry.modified)
            return 0
        case .failure(let error):
            return -FuseErrno.code(forAny: error)
        }
    }

    /// The attributes of the file open as `handle`, by what it holds.
    public func getattr(handle: UInt64, _ status: inout stat) -> Int32 {
        guard let file = handles.file(handle) else { return -EBADF }
        let (size, modified) = file.lock.withLock { (file.hasPendingChanges ? file.pendingSize : file.size, file.pendingModified) }
        fill(&status, kind: .file, size: size, modified: modified)
        return 0
    }

    /// opendir(3): a stream over the directory's listing, started at the first readdir.
    public func opendir(_ path: String) -> (status: Int32, handle: UInt64) {
        let resolved: VFSPath
        do { resolved = try resolve(path) } catch { return (-FuseErrno.code(forAny: error), 0) }
        var dots = stat()
        fill(&dots, kind: .directory, size: 0, modified: nil)
        // libfuse's "unknown" inode: a 0 would make readdir(3) skip . and .. (readdirplus
        // passes these attributes as they are).
        dots.st_ino = 0xFFFF_FFFF
        let stream = FuseDirectoryStream(path: resolved, vfs: vfs, dots: dots, pending: { [self] in
            handles.writingIn(resolved).mapValues { file in
                var status = stat()
                fill(&status, kind: .file, size: file.size, modified: file.modified ?? Date().timeIntervalSince1970)
                return status
            }
        }, generation: { [attributes] in attributes.generation }) { [self] entry, listedAt in
            listedStatus(of: resolved.appending(entry.name), entry, listedAt: listedAt)
        }
        return (0, directories.withLock { table in
            table.next += 1
            table.open[table.next] = stream
            return table.next
        })
    }

    /// The attributes of a listed entry as the kernel is handed it: as listed, unless the file
    /// changed through the mount since the listing was fetched (then as it is now).
    private func listedStatus(of path: VFSPath, _ entry: VFSEntry, listedAt: UInt64) -> stat {
        var status = stat()
        var shown = entry
        if !attributes.isCurrent(path, listedAt: listedAt) {
            if let committing = attributes.committing(path) {
                shown = VFSEntry(name: entry.name, kind: .file, size: committing.size, modified: committing.modified)
            } else if case .success(let now) = BlockingBridge.run({ [vfs] in try await vfs.stat(path) }) {
                shown = now
            }
        }
        fill(&status, kind: shown.kind, size: shown.size, modified: shown.modified)
        return status
    }

    /// Entries from `offset` on, as the store's pages arrive; `add` gets each name with its
    /// attributes (for readdirplus: `ls -l` then needs no request per file) and the offset to
    /// resume after it, and returns false when the kernel's buffer is full.
    public func readdir(_ handle: UInt64, from offset: Int64, add: (String, stat, Int64) -> Bool) -> Int32 {
        guard let stream = directories.withLock({ $0.open[handle] }) else { return -EBADF }
        let now = MonotonicTime.now
        return stream.lock.withLock {
            do {
                try stream.read(from: offset, add: add) { entries, listedAt in
                    attributes.remember(entries.map { (stream.path.appending($0.name), $0) }, listedAt: listedAt, time: now)
                }
                return 0
            } catch {
                return -FuseErrno.code(forAny: error)
            }
        }
    }

    /// releasedir(3).
    public func releasedir(_ handle: UInt64) -> Int32 {
        directories.withLock { _ = $0.open.removeValue(forKey: handle) }
        return 0
    }

    public func statfs(_ status: inout statvfs) -> Int32 {
        switch BlockingBridge.run({ [vfs] in try await vfs.space() }) {
        case .success(let space):
            let block: UInt64 = 4096
            status = statvfs()
            status.f_bsize = UInt(block)
            status.f_frsize = UInt(block)
            status.f_blocks = fsblkcnt_t(space.totalBytes / block)
            status.f_bfree = fsblkcnt_t(space.freeBytes / block)
            status.f_bavail = fsblkcnt_t(space.freeBytes / block)
            status.f_files = 1 << 32
            status.f_ffree = 1 << 32
            status.f_favail = 1 << 32
            status.f_namemax = UInt(Self.nameMax)
            return 0
        case .failure(let error):
            return -FuseErrno.code(forAny: error)
        }
    }

    // MARK: - Names

    public func mkdir(_ path: String) -> Int32 {
        do { _ = try resolveNew(path) } catch { return -FuseErrno.code(forAny: error) }
        return perform(path) { [vfs, self] resolved in try await self.changing(resolved) { try await vfs.makeDirectory(resolved) } }
    }

    public func rmdir(_ path: String) -> Int32 {
        // A file being written inside is not listed yet, but the directory is not empty: its
        // commit would bring the directory back.
        if let resolved = try? resolve(path), handles.writingUnder(resolved) { return -ENOTEMPTY }
        return perform(path) { [vfs, self] resolved in try await self.changing(resolved) { try await vfs.removeDirectory(resolved) } }
    }

    /// unlink(2). A file still being written loses its name at once: what its writers send
    /// is dropped at their close, never stored (as POSIX drops an unlinked file's data).
    public func unlink(_ path: String) -> Int32 {
        let resolved: VFSPath
        do { resolved = try resolve(path) } catch { return -FuseErrno.code(forAny: error) }
        let writers = handles.allWritable(resolved)
        let pending = handles.writing(resolved) != nil
        let status = perform(path) { [vfs, self] resolved in try await self.changing(resolved) { try await vfs.removeFile(resolved) } }
        // Refused (a no-delete account) or failed: the writers keep what they write. Nothing
        // stored yet under that name: unlinking the upload is all there is to do.
        guard status == 0 || (status == -ENOENT && pending) else { return status }
        for file in writers { file.lock.withLock { dropUnlinked(file) } }
        return 0
    }

    /// rename(2) by the mount's rename policy. Refused renames answer EXDEV, as between two
    /// file systems, so `mv` falls back to copy and delete. RENAME_NOREPLACE is honoured;
    /// RENAME_EXCHANGE cannot be done on object storage (EINVAL).
    public func rename(_ source: String, _ destination: String, flags: UInt32) -> Int32 {
        // renameat2(2): only RENAME_NOREPLACE is kept; RENAME_EXCHANGE (2) and RENAME_WHITEOUT
        // (4, an overlay's marker device, which object storage cannot hold) are refused, not
        // done as a plain rename.
        let noReplace: UInt32 = 1
        if flags & ~noReplace != 0 { return -EINVAL }
        do {
            let from = try resolve(source), to = try resolveNew(destination)
            // A file still being written has no object to rename yet, and one being written in
            // a directory would be stored under the old name once committed.
            if handles.writing(from) != nil || handles.writingUnder(from) { return -EBUSY }
            // A directory with a file being written in it is not empty, stored or not.
            if handles.writingUnder(to) { return -ENOTEMPTY }
            // A file being written under the new name loses it, as to unlink(2): what its
            // writers still send is dropped at their close. Stored, it would replace the
            // renamed file's bytes (POSIX: they wrote to the replaced file, which is gone).
            let replaced = handles.allWritable(to)
            if flags & noReplace != 0, handles.writing(to) != nil { return -EEXIST }
            // Everything under either name changes (a renamed directory's children too).
            attributes.changedTree(from)
            attributes.changedTree(to)
            defer {
                attributes.changedTree(from)
                attributes.changedTree(to)
            }
            let status = BlockingBridge.status { [vfs] in
                do {
                    // RENAME_NOREPLACE: the store is asked, not the cache, and the copy made only
                    // where nothing is.
                    try await vfs.rename(from, to: to, replacing: flags & noReplace == 0)
                } catch VFSError.unsupported {
                    throw FuseError(EXDEV)
                }
            }
            if status == 0 { for file in replaced { file.lock.withLock { dropUnlinked(file) } } }
            return status
        } catch {
            return -FuseErrno.code(forAny: error)
        }
    }

    /// Drops what the mount's listings told it that no longer answers anything (a quiet
    /// mount, before it gives memory back).
    public func sweepExpiredEntries() {
        attributes.sweep(now: MonotonicTime.now)
    }

    /// Times: the modification time is kept (mtime metadata); the access time is not.
    public func utimens(_ path: String, modified: Double?, handle: UInt64?) -> Int32 {
        guard let modified else { return 0 }
        let resolved: VFSPath
        do { resolved = try resolve(path) } catch { return -FuseErrno.code(forAny: error) }
        attributes.changed(resolved)
        defer { attributes.changed(resolved) }
        if let open = handle.flatMap(handles.file) ?? handles.writing(resolved) {
            let pending = open.lock.withLock { () -> Bool in
                guard open.hasPendingChanges else { return false }
                open.pendingModified = modified
                return true
            }
            if pending { return 0 }
        }
        let status = BlockingBridge.status { [vfs] in try await vfs.setModificationTime(resolved, modified) }
        // Directories keep no time: ENOTSUP, unless the mount was asked to let that pass.
        return status == -ENOTSUP && options.ignoresModeChanges ? 0 : status
    }

    /// chmod and chown: object storage keeps no modes or owners. Asking for what is already
    /// shown succeeds (so `cp -p` of ordinary files works); anything else is EPERM, unless
    /// the mount ignores such changes (`--ignore_chmod`).
    public func chmod(_ path: String, mode: UInt32) -> Int32 {
        var status = stat()
        let found = getattr(path, &status)
        guard found == 0 else { return found }
        return mode & 0o7777 == status.st_mode & 0o7777 || options.ignoresModeChanges ? 0 : -EPERM
    }

    public func chown(_ path: String, uid: UInt32, gid: UInt32) -> Int32 {
        var status = stat()
        let found = getattr(path, &status)
        guard found == 0 else { return found }
        let sameUser = uid == UInt32.max || uid == options.uid
        let sameGroup = gid == UInt32.max || gid == options.gid
        return sameUser && sameGroup || options.ignoresModeChanges ? 0 : -EPERM
    }
}
