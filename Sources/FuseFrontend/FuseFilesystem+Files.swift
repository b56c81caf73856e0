#if canImport(Glibc)
import Glibc
#endif
import Foundation
import OSSVFS

/// Open files: reads through the read-ahead, writes through the spool.
extension FuseFilesystem {
    /// open(2) of an existing file by `process` (nil: unknown). O_TRUNC starts a new upload at
    /// once; other writable opens copy the file into the spool only when the first change comes.
    public func open(_ path: String, flags: Int32, process: pid_t? = nil) -> (status: Int32, handle: UInt64) {
        let resolved: VFSPath
        do { resolved = try resolve(path) } catch { return (-FuseErrno.code(forAny: error), 0) }
        let writable = flags & O_ACCMODE != O_RDONLY
        let truncating = writable && flags & O_TRUNC != 0
        if !writable && flags & O_TRUNC != 0 {
            // Linux truncates on O_RDONLY|O_TRUNC (POSIX leaves it open), and the mount asks
            // for atomic O_TRUNC, so the kernel leaves that to this open: done as truncate(2)
            // does it, then the file is opened to read (it was opened with nothing cut).
            let status = truncate(path, to: 0, handle: nil)
            if status != 0 { return (status, 0) }
        }
        // Changing in place (appending, rewriting) a file another descriptor is still writing
        // would start from the stored bytes while the kernel counts the pending ones: two `>>`
        // would leave zeros in the gap. That one is waited for (briefly: a loop of `>>` holds
        // it for moments), then EBUSY.
        if writable && !truncating && !handles.waitUntilNoneWriting(resolved) { return (-EBUSY, 0) }
        switch BlockingBridge.run({ [vfs] in try await vfs.stat(resolved) }) {
        case .failure(let error):
            guard case VFSError.notFound = error else { return (-FuseErrno.code(forAny: error), 0) }
            // The kernel saw the name (another descriptor is writing it, or was a moment ago)
            // but nothing is stored yet: a truncating open replaces it anyway, with an upload of
            // its own (the last to close wins, as with two STORs); reading or changing it in
            // place would need what does not exist yet.
            if truncating { return create(path, flags: flags, process: process) }
            guard let source = handles.writing(resolved) else { return (-ENOENT, 0) }
            // Read-only, it reads the writer's pending bytes (git's index-pack reads back the
            // pack it is writing through a second descriptor), past the page cache: the writer
            // may still change what was read. Changing it in place would start from bytes that
            // are not stored.
            guard !writable else { return (-EBUSY, 0) }
            let file = FuseOpenFile(path: resolved, writable: false, size: 0, opener: process)
            file.pendingSource = source
            file.bypassesCache = true
            return (0, handles.insert(file))
        case .success(let entry):
            if entry.kind == .directory { return (-EISDIR, 0) }
            let file = FuseOpenFile(path: resolved, writable: writable, appending: flags & O_APPEND != 0,
                                    replacing: truncating, size: entry.size, opener: process)
            file.storedVersion = entry.etag
            file.keptSentBytes = keptSentBytes(flags)
            if !writable {
                // Readers of two versions at once must not share the kernel's pages of the file:
                // the one that read the new version filled them, and the other, which must fail
                // with EIO once its version is gone, was handed them (the two mixed). This one
                // reads past the cache; the open drops the pages, so the other's next reads come
                // here and find its version replaced.
                file.version = entry.etag
                file.bypassesCache = handles.readers(resolved).contains { $0.version != entry.etag }
            }
            if truncating {
                attributes.changed(resolved)
                switch openStream(resolved, keeping: file.keptSentBytes) {
                case .success(let writer):
                    file.writer = writer
                    file.size = 0
                case .failure(let error):
                    return (-FuseErrno.code(forAny: error), 0)
                }
            }
            return (0, handles.insert(file))
        }
    }

    /// Whether the open file `handle` must be read with direct I/O (``FuseOpenFile/bypassesCache``).
    public func bypassesCache(_ handle: UInt64) -> Bool {
        handles.file(handle)?.bypassesCache ?? false
    }

    /// create(2) with `flags` by `process` (nil: unknown): a new empty file, written by streaming.
    public func create(_ path: String, flags: Int32 = 0, process: pid_t? = nil) -> (status: Int32, handle: UInt64) {
        let resolved: VFSPath
        do { resolved = try resolveNew(path) } catch { return (-FuseErrno.code(forAny: error), 0) }
        attributes.changed(resolved)
        let kept = keptSentBytes(flags)
        // A file created to append to (`>>`, "a" mode) is an APPE that creates it, and one
        // created exclusively (O_EXCL: a lock file) must be new: stored only where nothing was
        // made meanwhile (by another mount), else its close fails with EBUSY and the other's
        // file stays. Stored over it, its lines were lost, or two processes held one lock,
        // with both closes answered 0.
        let onlyIfAbsent = flags & (O_APPEND | O_EXCL) != 0
        switch openStream(resolved, keeping: kept, ifAbsent: onlyIfAbsent) {
        case .success(let writer):
            let file = FuseOpenFile(path: resolved, writable: true, appending: flags & O_APPEND != 0,
                                    replacing: true, onlyIfAbsent: onlyIfAbsent, size: 0, opener: process)
            file.keptSentBytes = kept
            file.writer = writer
            return (0, handles.insert(file))
        case .failure(let error):
            return (-FuseErrno.code(forAny: error), 0)
        }
    }

    public func read(_ handle: UInt64, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Int32 {
        guard let file = handles.file(handle) else { return -EBADF }
        if let status = readFromWriter(file, into: buffer, at: offset) { return status }
        return file.lock.withLock {
            if let failure = file.failure { return -failure }
            if file.writable { forgetIfStoredChanged(file) }
            if let staged = file.staged { return staged.read(into: buffer, at: offset) }
            if let writer = file.writer { return readPending(file, writer, into: buffer, at: offset) }
            if file.readsReplaced { return -EIO }
            let got = readStored(file, into: buffer, at: offset)
            // A short read is the end of what this reader's stream saw. The file may have grown
            // since (appended elsewhere: `tail -f`), and the kernel, told of the new size, asks
            // for it: look again (the VFS's cache answers, usually), and read on from a fresh
            // stream.
            guard got >= 0, Int(got) < buffer.count else { return got }
            guard case .success(let entry) = BlockingBridge.run({ [vfs, path = file.path] in try await vfs.stat(path) }),
                entry.size > offset + UInt64(got)
            else {
                // Ended short of the size the descriptor opened with, which the kernel was told:
                // the object was replaced by a shorter one. The kernel fills the rest of the
                // pages it asked for with zeros, and kept them as the file's when a look at the
                // file's size came in between: a reader got bytes no version held (a file an FTP
                // client kept replacing). It fails as a read of a replaced file does.
                if !file.writable, !file.bypassesCache, offset + UInt64(got) < file.size { return -EIO }
                return got
            }
            // A read-write descriptor reads what another descriptor stored (see
            // forgetIfStoredChanged): it reads on from the new object whatever it is.
            if file.writable {
                file.reader?.close()
                file.reader = nil
                return readStored(file, into: buffer, at: offset)
            }
            return readOnGrown(file, into: buffer, at: offset, kept: Int(got))
        }
    }

    /// A read of a file opened while another descriptor wrote it (``FuseOpenFile/pendingSource``):
    /// from that descriptor's pending bytes while it holds them; nil once they are stored
    /// (read the object then) or dropped (unlinked: the object is not there either).
    private func readFromWriter(_ file: FuseOpenFile, into buffer: UnsafeMutableRawBufferPointer,
                                at offset: UInt64) -> Int32? {
        guard let source = file.lock.withLock({ file.pendingSource }) else { return nil }
        // The writer's lock, never both: a write may be waiting on this reader's path.
        let status = source.lock.withLock { () -> Int32? in
            guard source.isBeingWritten else { return nil }
            if let failure = source.failure { return -failure }
            if let staged = source.staged { return staged.read(into: buffer, at: offset) }
            if let writer = source.writer { return readPending(source, writer, into: buffer, at: offset) }
            return nil
        }
        if status == nil { file.lock.withLock { file.pendingSource = nil } }
        return status
    }

    /// The rest of a read whose stream ended at `offset + kept` while the file is now longer:
    /// from a fresh stream, if the object there now starts with the bytes the old one ended
    /// with (grown: `tail -f`); else it was replaced, and the read fails with EIO rather than
    /// go on with another object's bytes (it went on, mixing the two).
    private func readOnGrown(_ file: FuseOpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64,
                             kept: Int) -> Int32 {
        let end = offset + UInt64(kept)
        // Compared where the old stream ended, which an out-of-order read (the kernel's
        // read-ahead) may lie beyond.
        let anchor = min(end, file.reader?.position ?? end)
        let overlap = file.reader?.heldSuffix(endingAt: anchor, maxCount: Self.grownOverlap) ?? []
        file.reader?.close()
        file.reader = nil
        let from = anchor - UInt64(overlap.count)
        let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[kept...])
        let wanted = rest.count
        let result = BlockingBridge.run { [vfs, path = file.path] () async throws -> (FuseReader, [UInt8]?) in
            let reader = FuseReader(stream: try await vfs.openReader(path, offset: from), offset: from)
            guard try await reader.read(at: from, count: overlap.count) == overlap else { return (reader, nil) }
            return (reader, try await reader.read(at: end, count: wanted))
        }
        switch result {
        case .success((let reader, let bytes?)):
            file.reader = reader
            bytes.withUnsafeBytes { rest.copyMemory(from: $0) }
            return Int32(kept + bytes.count)
        case .success((let reader, nil)):
            reader.close()
            file.readsReplaced = true
            return -EIO
        case .failure(let error):
            return kept > 0 ? Int32(kept) : -FuseErrno.code(forAny: error)
        }
    }

    /// How many of the last bytes read must match before a grown file is read on.
    static let grownOverlap = 64 << 10

    /// Reads a file being streamed: the bytes a continued file kept from the stored object
    /// from the store (`a+`: append, then read from the start), the written ones while they
    /// are still in the spool (else EINVAL, as for a write there), then the zeros a truncate
    /// past them promised.
    private func readPending(_ file: FuseOpenFile, _ writer: any VFSWriter,
                             into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Int32 {
        let end = min(offset + UInt64(buffer.count), max(file.size, file.extendedSize))
        guard offset < end else { return 0 }
        var got = 0
        // The spool first: a kept prefix read back into it (smaller than a store's part) may
        // have been patched there. The store only for what went up by a server-side copy.
        let local = offset < file.size
            ? try? BlockingBridge.run({ try await writer.readBack(at: offset, count: Int(min(end, file.size) - offset)) }).get()
            : nil
        if let local {
            local.withUnsafeBytes { buffer.copyMemory(from: $0) }
            got = local.count
        } else if offset < file.continuedFrom {
            let count = Int(min(end, file.continuedFrom) - offset)
            let read = readStored(file, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]), at: offset)
            // An error, or the stored object ended early: that is what this read returns.
            if read < 0 || Int(read) < count || offset + UInt64(count) == end { return read }
            got = count
        }
        if offset + UInt64(got) < file.size {
            let from = offset + UInt64(got)
            let count = Int(min(end, file.size) - from)
            switch BlockingBridge.run({ try await writer.readBack(at: from, count: count) }) {
            case .success(let bytes):
                bytes.withUnsafeBytes { (buffer.baseAddress! + got).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                got += bytes.count
            case .failure(let error):
                return got > 0 ? Int32(got) : -FuseErrno.code(forAny: error)
            }
        }
        let zeros = Int(end - offset) - got
        if zeros > 0 { (buffer.baseAddress! + got).initializeMemory(as: UInt8.self, repeating: 0, count: zeros) }
        return Int32(got + zeros)
    }

    /// Reads the stored object through the file's read-ahead stream, opened at the first read.
    private func readStored(_ file: FuseOpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64)
        -> Int32
    {
        let reader: FuseReader
        if let open = file.reader {
            reader = open
        } else {
            switch BlockingBridge.run({ [vfs, path = file.path] in try await vfs.openReader(path, offset: offset) }) {
            case .success(let stream):
                reader = FuseReader(stream: stream, offset: offset)
                file.reader = reader
            case .failure(VFSError.invalidRange):
                // Past the object's end: the end of the file (pread(2) gives 0 there), as for
                // a descriptor whose reader was open from the start. A read-write descriptor
                // opens its reader at the offset asked, and got EINVAL.
                return 0
            case .failure(let error):
                return -FuseErrno.code(forAny: error)
            }
        }
        // This thread waits for the task, so libfuse's buffer outlives it.
        let target = KernelBuffer(bytes: buffer)
        switch BlockingBridge.run({ try await reader.read(at: offset, into: target.bytes) }) {
        case .success(let count):
            return Int32(count)
        case .failure(let error):
            return -FuseErrno.code(forAny: error)
        }
    }

    /// write(2). With O_APPEND the bytes go to the file's own end, whatever offset the kernel
    /// passes: it takes that from its idea of the size, which a reader's short read of the
    /// stored bytes shrinks while an append is pending (`tail -f` beside `>>`).
    public func write(_ handle: UInt64, _ bytes: UnsafeRawBufferPointer, at requested: UInt64) -> Int32 {
        guard let file = handles.file(handle) else { return -EBADF }
        // A first change in place claims the path, outside the file's lock: the claim may wait
        // on another descriptor, which must be able to look at this one meanwhile.
        // A store by another descriptor between the two looks makes a claim needed after all:
        // then claim and look again (bounded: each round waited for the others to store).
        for _ in 0..<3 {
            if file.lock.withLock({ file.needsClaim }) && !handles.claim(file.path, for: file) { return -EBUSY }
            let status = file.lock.withLock { () -> Int32? in
                if file.needsClaim && !handles.holdsClaim(file.path, for: file) { return nil }
                return writeHoldingLock(file, bytes, at: requested)
            }
            if let status { return status }
        }
        return -EBUSY
    }

    /// ``write(_:_:at:)`` with the file's lock held (and the claim, when a change needs it).
    private func writeHoldingLock(_ file: FuseOpenFile, _ bytes: UnsafeRawBufferPointer, at requested: UInt64) -> Int32 {
        let status = writeBytes(file, bytes, at: requested)
        // A write marks the modification time for update (POSIX write(2)): a time set before
        // it (utimens while the file was open) no longer holds; the commit's time does.
        if status > 0 { file.pendingModified = nil }
        return status
    }

    private func writeBytes(_ file: FuseOpenFile, _ bytes: UnsafeRawBufferPointer, at requested: UInt64) -> Int32 {
        if let failure = file.failure {
            if !file.hasPendingChanges { handles.unclaim(file.path, for: file) }
            return -failure
        }
        if file.unlinked {
            // Its own file now (see dropUnlinked), or dropped.
            guard let staged = file.staged else { return Int32(bytes.count) }
            let offset = file.appending ? staged.size : requested
            do {
                try staged.reserveBlocking(upTo: offset + UInt64(bytes.count))
                try staged.write(bytes, at: offset)
            } catch {
                return -FuseErrno.code(forAny: error)
            }
            return Int32(bytes.count)
        }
        do {
            if file.needsClaim { try beginChanging(file) }
            let end = file.staged?.size ?? max(file.size, file.extendedSize)
            let offset = file.appending ? end : requested
            if file.staged == nil, let writer = file.writer, offset < file.size {
                // Back into what was streamed (vim patches its swap file's first block): done
                // in the spool while those bytes are still there, else EINVAL.
                let chunk = Array(bytes)
                try BlockingBridge.run { try await writer.overwrite(chunk, at: offset) }.get()
                file.size = max(file.size, offset + UInt64(bytes.count))
                return Int32(bytes.count)
            }
            if file.staged == nil, file.writer != nil, offset > file.size {
                // Past the end of a streamed file (a sparse write, or ftruncate to the final
                // size first): zeros fill the gap, and streaming goes on.
                try padStream(file, to: offset)
            }
            if file.staged == nil && (file.writer == nil || offset != file.size) {
                try prepareWrite(file, at: offset)
            }
            if let staged = file.staged {
                try staged.reserveBlocking(upTo: offset + UInt64(bytes.count))
                try staged.write(bytes, at: offset)
                staged.dirty = true
            } else if let writer = file.writer {
                let chunk = Array(bytes)
                if case .failure(let error) = BlockingBridge.run({ try await writer.write(chunk) }) {
                    // A failure ends the upload (a part the store refused): nothing of it can be
                    // stored now, and every later call, close included, says why with the same
                    // errno (it was EIO from then on, "upload already finished").
                    file.failure = FuseErrno.code(forAny: error)
                    file.writer = nil
                    _ = BlockingBridge.run { await writer.abort() }
                    throw error
                }
                file.size += UInt64(bytes.count)
            }
            return Int32(bytes.count)
        } catch {
            if !file.hasPendingChanges { handles.unclaim(file.path, for: file) }
            return -FuseErrno.code(forAny: error)
        }
    }

    /// The first change through a descriptor opened without O_TRUNC, once it holds the path's
    /// claim (which waited for other descriptors' pending changes to be stored: two writers
    /// starting from the same stored bytes would each drop the other's) starts from the object
    /// as it now is: a staged copy another descriptor's commit made stale is dropped.
    private func beginChanging(_ file: FuseOpenFile) throws {
        if file.storedChanged.take() { file.readsStale.withLock { $0 = true } }
        forgetIfStoredChanged(file)
        if case .success(let entry) = BlockingBridge.run({ [vfs, path = file.path] in try await vfs.stat(path) }) {
            file.size = entry.size
            file.extendedSize = 0
            file.storedVersion = entry.etag
        }
    }

    /// Another descriptor stored the file since this one last looked: with nothing pending
    /// here, what this one holds of the old object (its read-ahead, a clean staged copy) goes,
    /// so it reads and changes the file as stored now. Programs that coordinate by locks
    /// (several sqlite processes on one database) depend on it. Call under its lock.
    func forgetIfStoredChanged(_ file: FuseOpenFile) {
        guard !file.hasPendingChanges, file.readsStale.take() else { return }
        file.reader?.close()
        file.reader = nil
        file.staged?.remove()
        file.staged = nil
    }

    /// Makes a write at `offset` possible: at the stored end a streaming upload continues the
    /// object (its bytes kept server-side); anywhere else the file is staged, within the limit.
    /// A streaming upload is never staged (its bytes may be on their way): writes before its
    /// end go to ``VFSWriter/overwrite(_:at:)`` instead, and past it are padded with zeros.
    private func prepareWrite(_ file: FuseOpenFile, at offset: UInt64) throws {
        if file.writer != nil { throw FuseError(EINVAL) }
        let path = file.path, size = file.size
        guard offset == size else { return try stage(file) }
        file.reader?.close()
        file.reader = nil
        file.continuedFrom = size
        do {
            // Keeping all the stored bytes. None, for a file this descriptor made and stored
            // empty itself, and that no other descriptor stored since, also counts: an account
            // that may not replace files may continue it (a shell's `echo > new` stores the
            // file empty at the close of the descriptor it duplicated, then writes; that write
            // was refused). Any other empty file is replaced, but only over the empty version
            // the descriptor saw: another client's upload stored since (an FTP APPE answered
            // 226) was replaced by this append, whose close said 0.
            let ownEmpty = size == 0 && file.replacing && !file.storedChanged.withLock { $0 }
            // Renamed or removed since it was stored: nothing to continue, as for a longer file
            // below (it was made again under the old name).
            if ownEmpty && isGone(path) { throw FuseError(ENOENT) }
            let keeping: UInt64? = size > 0 || ownEmpty ? size : nil
            let version = size > 0 || !file.replacing ? file.storedVersion : nil
            file.writer = try openStream(path, keeping: file.keptSentBytes, continuingFirst: keeping,
                                         onVersion: version).get()
        } catch let error as VFSError {
            // Nothing to continue: the file was renamed or removed since its descriptor last
            // stored it (open files go by name here), as its reads say too.
            if case .invalidRange = error, size > 0, isGone(path) { throw FuseError(ENOENT) }
            throw error
        }
    }

    /// A streaming upload of `path` (continuing its first `continuingFirst` bytes, of version
    /// `onVersion`, when given) whose first `kept` bytes stay in the spool once sent.
    private func openStream(_ path: VFSPath, keeping kept: Int64, continuingFirst prefix: UInt64? = nil,
                            onVersion version: String? = nil, ifAbsent: Bool = false) -> Result<any VFSWriter, any Error> {
        BlockingBridge.run { [vfs] in
            let writer = try await vfs.openWrite(path, modified: nil, keepingFirst: prefix, ifAbsent: ifAbsent, onVersion: version)
            await writer.keepSentBytes(upTo: kept)
            return writer
        }
    }

    /// How many first bytes of what a descriptor opened with `flags` writes stay in the spool
    /// once sent, until its close (``VFSWriter/keepSentBytes(upTo:)``): all of a file opened to
    /// read and write, up to `--max_rewrite_mb` (git's index-pack reads back and checks the pack
    /// it writes); the first part of one opened only to write, where headers filled in last
    /// are (a video muxer, a WAV writer). Keeping all of every file cost `dd` and `cp` a tenth
    /// of their speed: fresh memory for each GiB they write.
    func keptSentBytes(_ flags: Int32) -> Int64 {
        flags & O_ACCMODE == O_RDWR ? Int64(options.maxRewriteSize) : Self.keptHeaderBytes
    }

    /// The first bytes kept of a file opened only to write: one part.
    public static let keptHeaderBytes: Int64 = 16 << 20

    /// Whether the store has nothing at `path` now.
    private func isGone(_ path: VFSPath) -> Bool {
        if case .failure(VFSError.notFound) = BlockingBridge.run({ [vfs] in try await vfs.stat(path) }) { return true }
        return false
    }

    /// Streams zeros up to `size`.
    func padStream(_ file: FuseOpenFile, to size: UInt64) throws {
        guard let writer = file.writer else { return }
        try requireGrowth(of: file.path.description, from: file.size, to: size)
        while file.size < size {
            let count = Int(min(size - file.size, 1 << 20))
            try BlockingBridge.run { try await writer.write([UInt8](repeating: 0, count: count)) }.get()
            file.size += UInt64(count)
        }
    }

    /// Copies the file into the spool (within the limit) for changes anywhere in it.
    private func stage(_ file: FuseOpenFile) throws {
        // The staged copy replaces the object at commit: refused now, not at close, for an
        // account that may not replace files (a program that ignores close's error thought
        // its change saved).
        guard vfs.permissions.delete else { throw VFSError.permissionDenied("this account may not replace existing files") }
        file.reader?.close()
        file.reader = nil
        let path = file.path
        file.staged = try BlockingBridge.run { [vfs, options] in
            try await FuseStagedCopy.make(of: path, vfs: vfs, directory: options.stagingDirectory,
                                          limit: options.maxRewriteSize, budget: options.spoolBudget)
        }.get()
    }
}

/// libfuse's buffer for one read, handed to the task that fills it while the worker thread
/// that owns it waits (``BlockingBridge``).
private struct KernelBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer
}
