#if canImport(Glibc)
import Glibc
#endif
import Foundation
import OSSVFS

/// Where changes end: commit on close and fsync, truncate, a name unlinked while written, and
/// the mount going away with files open.
extension FuseFilesystem {
    /// Its name is gone (unlink while written): nothing of it is ever stored, and its
    /// descriptors go on with a file of their own, as POSIX keeps an unlinked file for whoever
    /// has it open: a temporary file (Python's TemporaryFile, sqlite's temp files: open, unlink,
    /// write, read back) is read back from a local copy in the spool, which goes at release.
    /// When what was streamed cannot be read back any more (parts already sent), later writes
    /// are accepted and dropped, and reads fail. Call under its lock.
    func dropUnlinked(_ file: FuseOpenFile) {
        file.unlinked = true
        handles.unclaim(file.path, for: file)
        if let writer = file.writer {
            file.writer = nil
            if file.staged == nil && file.continuedFrom == 0 {
                file.staged = try? localCopy(of: writer, size: file.size, extendedTo: file.extendedSize)
            }
            _ = BlockingBridge.run { await writer.abort() }
        }
        file.staged?.dirty = true
    }

    /// What `writer` streamed so far, in a spool file of its own; nil unless all of it is
    /// still in the spool.
    private func localCopy(of writer: any VFSWriter, size: UInt64, extendedTo extended: UInt64) throws -> FuseStagedCopy {
        let copy = try FuseStagedCopy(directory: options.stagingDirectory, budget: options.spoolBudget)
        do {
            try copy.reserveBlocking(upTo: max(size, extended))
            var offset: UInt64 = 0
            while offset < size {
                let at = offset, count = Int(min(size - offset, 1 << 20))
                let bytes = try BlockingBridge.run { try await writer.readBack(at: at, count: count) }.get()
                guard bytes.count == count else { throw FuseError(EIO) }
                try copy.write(bytes, at: at)
                offset += UInt64(count)
            }
            if extended > size { try copy.truncate(to: extended) }
        } catch {
            copy.remove()
            throw error
        }
        return copy
    }

    /// Stores what was written; the next write, if any, starts a continuation.
    func commit(_ file: FuseOpenFile) -> Int32 {
        // Stored or failed, its changes are over: another file may change the path now.
        defer { handles.unclaim(file.path, for: file) }
        if let failure = file.failure { return -failure }
        if file.unlinked || !file.hasPendingChanges { return 0 }
        let path = file.path
        // Until the store has it, listings may still show the old object: the size it will
        // have is shown meanwhile, and listings fetched before the end are not trusted.
        attributes.beginCommit(path, size: file.pendingSize, modified: file.pendingModified ?? Date().timeIntervalSince1970)
        defer { attributes.endCommit(path) }
        let result: Result<Void, any Error>
        if let writer = file.writer {
            do {
                try padStream(file, to: file.extendedSize)
                file.extendedSize = 0
                file.writer = nil
                result = BlockingBridge.run { try await writer.commit() }
            } catch {
                file.writer = nil
                _ = BlockingBridge.run { await writer.abort() }
                result = .failure(error)
            }
        } else if let staged = file.staged, staged.dirty {
            result = BlockingBridge.run { [vfs] in try await staged.upload(to: path, vfs: vfs) }
            if case .success = result {
                staged.dirty = false
                staged.version = nil
                file.size = staged.size
            }
        } else {
            return 0
        }
        if case .failure(let error) = result {
            // A creator that appends, or creates exclusively, met a file made meanwhile: busy, as
            // a continuation that met another version (not EEXIST, which close(2) never means).
            if case VFSError.alreadyExists = error, file.onlyIfAbsent { file.failure = EBUSY } else {
                file.failure = FuseErrno.code(forAny: error)
            }
            return -file.failure!
        }
        // Its own version now, whose ETag the upload does not tell.
        file.storedVersion = nil
        // What the other descriptors of the path copied in place is no longer what is stored.
        for other in handles.allWritable(path) where other !== file {
            other.storedChanged.withLock { $0 = true }
            other.readsStale.withLock { $0 = true }
        }
        if let modified = file.pendingModified {
            file.pendingModified = nil
            _ = BlockingBridge.run { [vfs] in try await vfs.setModificationTime(path, modified) }
        }
        return 0
    }

    /// close(2) of one descriptor by `process` (nil: unknown): the upload is committed here,
    /// so its errors reach close. A copy of the descriptor closed by another process (a child
    /// that inherited it, a flush the kernel sends on its own) does not end the opener's
    /// writing: committing then would store the file cut short. The opener's close, fsync and
    /// the release after the last close do; so does any close once the opener holds no
    /// descriptor of it any more (`Popen(stdout=file)` closes the parent's copy first: the
    /// child's exit is then where the file is complete, and the parent's wait must find it
    /// stored). A shell's `exec > file` keeps a duplicate, and its commands' exits do not commit;
    /// nor does the opener's close of one descriptor while it keeps a duplicate of it (a shell's
    /// `cmd > file` opens, dup2s onto 1 and closes the first), when no other open file of the
    /// path exists: its descriptors there are then all this one's.
    // Committing there stored every `echo $i > f` twice, empty first, with a fresh look at the
    // path between: eight requests a file, slower than s3fs at making small files. /proc
    // cannot tell a duplicate from a second open(2) of the path, so with any other open file
    // of the path (the opener's, or one a parent passed down) the close commits as before: a
    // guess there left closes that returned before the store had the file, errors lost.
    public func flush(_ handle: UInt64, process: pid_t? = nil) -> Int32 {
        guard let file = handles.file(handle) else { return -EBADF }
        return file.lock.withLock {
            if let opener = file.opener {
                if process == opener {
                    // One pass over /proc for both counts; the writers only when they matter.
                    let held = descriptorCount(opener, of: file.path, countingWriters: file.writable)
                    file.openerClosed = (held?.all ?? 1) == 0
                    if let writing = held?.writing, writing > 0, handles.isOnlyOpen(file) {
                        return 0
                    }
                } else if !file.openerClosed {
                    return 0
                }
            }
            return commit(file)
        }
    }

    /// How many descriptors `process` has open on `path` of this mount. The kernel takes a
    /// descriptor out of the table before its flush, so during the opener's flush the one being
    /// closed is not counted. Nil when unknown (no mount point, no /proc). With
    /// `countingWriters`, `writing` counts those open for writing, as a duplicate of a writer
    /// is (an O_PATH descriptor is not); else it is 0.
    func descriptorCount(_ process: pid_t, of path: VFSPath, countingWriters: Bool = false) -> (all: Int, writing: Int)? {
        guard let mountpoint = mountpoint.withLock({ $0 }), let folder = Glibc.opendir("/proc/\(process)/fd") else { return nil }
        defer { Glibc.closedir(folder) }
        let wanted = (mountpoint == "/" ? "" : mountpoint) + path.description
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        var found = 0, writing = 0
        while let entry = Glibc.readdir(folder) {
            let name = String(decoding: DirectoryEntry.nameBytes(entry), as: UTF8.self)
            guard name.first?.isNumber == true else { continue }
            let count = readlink("/proc/\(process)/fd/\(name)", &target, target.count - 1)
            guard count > 0 else { continue }
            guard String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) == wanted else { continue }
            found += 1
            if countingWriters && Self.isOpenForWriting(process, descriptor: name) { writing += 1 }
        }
        return (found, writing)
    }

    /// Whether descriptor `descriptor` of `process` is open for writing, from the `flags:` line
    /// (octal) of /proc's fdinfo; false when it cannot be read.
    static func isOpenForWriting(_ process: pid_t, descriptor: String) -> Bool {
        guard let info = try? String(contentsOfFile: "/proc/\(process)/fdinfo/\(descriptor)", encoding: .utf8),
            let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
            let flags = Int(line.dropFirst("flags:".count).trimmingCharacters(in: .whitespaces), radix: 8)
        else { return false }
        // O_PATH (0o10000000; Glibc's module leaves it out): a name held, not an open file.
        return flags & Int(O_ACCMODE) != Int(O_RDONLY) && flags & 0o10000000 == 0
    }

    /// fsync(2): returns once the file is stored.
    public func fsync(_ handle: UInt64) -> Int32 {
        guard let file = handles.file(handle) else { return -EBADF }
        return file.lock.withLock { commit(file) }
    }

    /// The last descriptor is gone: commit what a flush did not, and free the handle.
    public func release(_ handle: UInt64) -> Int32 {
        guard let file = handles.remove(handle) else { return -EBADF }
        return file.lock.withLock {
            let status = commit(file)
            file.reader?.close()
            file.staged?.remove()
            return status
        }
    }

    /// truncate(2) and ftruncate(2). Shrinking keeps the first bytes server-side, growing adds
    /// zeros; an open file being streamed can grow (zeros at commit) but not lose what it sent.
    public func truncate(_ path: String, to size: UInt64, handle: UInt64?) -> Int32 {
        // truncate(2) of a path that is being written cuts what is being written, as POSIX
        // does to the one file all descriptors share; cutting the stored object instead was
        // undone when the writer committed (or, for a new file, was ENOENT).
        var open = handle.flatMap(handles.file)
        let ownDescriptor = open != nil
        if open == nil, let resolved = try? resolve(path) { open = handles.writing(resolved) }
        if let file = open {
            let handled = file.lock.withLock { () -> Int32? in
                if let writer = file.writer {
                    // Growing adds zeros at commit; cutting works while the bytes cut are still
                    // in the spool (sqlite's journal_mode=TRUNCATE), else EINVAL.
                    if size >= file.size {
                        // Not bounded for the writer's own descriptor: a program that sets the
                        // final size first and then writes in order stores no zero (downloaders
                        // do); the zeros still owed are, where they are written (padStream).
                        // Another process's truncate(2) of the path is, at once: it would fail
                        // the writer's close.
                        if !ownDescriptor {
                            do {
                                try requireGrowth(of: file.path.description, from: file.size, to: size)
                            } catch {
                                return -FuseErrno.code(forAny: error)
                            }
                        }
                        file.extendedSize = size
                        return 0
                    }
                    switch BlockingBridge.run({ try await writer.truncate(to: size) }) {
                    case .success:
                        file.size = size
                        file.continuedFrom = min(file.continuedFrom, size)
                        file.extendedSize = 0
                        return 0
                    case .failure(let error):
                        return -FuseErrno.code(forAny: error)
                    }
                }
                // Nothing pending (coreutils' truncate opens the file, then ftruncate): the
                // stored object is cut or grown server-side, as for truncate(2) of the path,
                // instead of copying it whole into the spool. An unlinked file has no object.
                guard let staged = file.staged else { return file.unlinked ? 0 : nil }
                do {
                    try staged.reserveBlocking(upTo: size)
                    try staged.truncate(to: size)
                    staged.dirty = true
                    return 0
                } catch {
                    return -FuseErrno.code(forAny: error)
                }
            }
            if let handled { return handled }
            let status = truncateStored(path, to: size)
            if status == 0 {
                file.lock.withLock {
                    file.size = size
                    file.reader?.close()
                    file.reader = nil
                }
            }
            return status
        }
        return truncateStored(path, to: size)
    }

    /// Cuts or grows the stored object: the kept bytes are copied server-side, zeros added.
    /// Cut, it keeps the first bytes of whatever is stored; grown, it adds the zeros past the
    /// end it saw, so only over that version (EBUSY if another client stored one since).
    private func truncateStored(_ path: String, to size: UInt64) -> Int32 {
        perform(path) { [vfs, self] resolved in try await self.changing(resolved) {
            let current = try await vfs.stat(resolved)
            guard current.kind == .file else { throw VFSError.isDirectory(resolved.description) }
            if current.size == size { return }
            if size > current.size { try self.requireGrowth(of: resolved.description, from: current.size, to: size) }
            let writer = try await vfs.openWrite(resolved, modified: nil,
                                                 keepingFirst: min(size, current.size) > 0 ? min(size, current.size) : nil,
                                                 ifAbsent: false, onVersion: size > current.size ? current.etag : nil)
            do {
                var missing = size > current.size ? size - current.size : 0
                while missing > 0 {
                    let count = Int(min(missing, 1 << 20))
                    try await writer.write([UInt8](repeating: 0, count: count))
                    missing -= UInt64(count)
                }
                try await writer.commit()
            } catch {
                await writer.abort()
                throw error
            }
        } }
    }

    /// Growing a file adds its zeros as bytes to store (object storage has no holes), written
    /// while the caller waits: at most `--max_rewrite_mb` at once, else EFBIG. Unbounded,
    /// `truncate -s 10T` of a small file would have written zeros for hours.
    func requireGrowth(of path: String, from size: UInt64, to newSize: UInt64) throws {
        guard newSize > size, newSize - size > options.maxRewriteSize else { return }
        throw VFSError.tooLarge(
            "\(path): growing it by \(newSize - size) bytes would store as many zeros; at most --max_rewrite_mb (\(options.maxRewriteSize >> 20) MiB) at once")
    }

    /// The mount is going away with files still open: uploads not committed are dropped
    /// (nothing half-written becomes visible) and staged copies removed.
    public func abandonOpenFiles() {
        for file in handles.all() {
            file.lock.withLock {
                if let writer = file.writer {
                    file.writer = nil
                    _ = BlockingBridge.run { await writer.abort() }
                }
                file.reader?.close()
                file.staged?.remove()
                file.staged = nil
            }
        }
    }
}
