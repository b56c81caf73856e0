#if canImport(Glibc)
import Glibc
#endif
import OSSVFS

/// A local copy of an existing object, for changes object storage cannot make in place
/// (writes into the middle, appends, truncation to a size): the object is copied into the
/// spool when the first change comes, changed there, and uploaded whole when the file is closed.
final class FuseStagedCopy: @unchecked Sendable {
    let path: String
    private let descriptor: Int32
    /// Whether it differs from the stored object.
    var dirty = false
    /// The version (ETag) of the object copied, when known: the upload commits only over it.
    var version: String?
    /// The spool's budget, which the copy's bytes count against, and how much it holds of it.
    private let budget: SpoolBudget?
    private var reserved: Int64 = 0
    /// Growth past the copied size is reserved in steps of this much, not write by write.
    static let reserveStep: Int64 = 1 << 20

    /// Copies `source` (at most `limit` bytes, else EFBIG) into a new file in `directory`, if
    /// `budget` has room for it now (else ENOSPC).
    static func make(of source: VFSPath, vfs: any VFS, directory: String, limit: UInt64,
                     budget: SpoolBudget? = nil) async throws -> FuseStagedCopy {
        let size = try await vfs.stat(source).size
        guard size <= limit else { throw FuseError(EFBIG) }
        // Disk I/O goes to the blocking pool: tasks run on the event loops.
        let copy = try await BlockingIO.run { try FuseStagedCopy(directory: directory, budget: budget) }
        do {
            try await copy.reserve(upTo: size)
            var offset: UInt64 = 0
            // A reader that checks the version it reads: the copy's version is the object it
            // copied, not a cached entry that may be older (its upload would be refused).
            let reader = try await vfs.openReader(source, offset: 0)
            for try await chunk in ObjectByteStream(source: reader) {
                let at = offset
                try await BlockingIO.run { try copy.write(chunk, at: at) }
                offset += UInt64(chunk.count)
            }
            copy.version = reader.etag
        } catch {
            copy.remove()
            // Another client stored a version while it was copied: the change in place meets
            // another version, busy as any such (it gave EIO).
            if case ObjectStoreError.changed = error { throw FuseError(EBUSY) }
            throw error
        }
        return copy
    }

    /// An empty copy.
    init(directory: String, budget: SpoolBudget? = nil) throws {
        self.budget = budget
        _ = mkdir(directory, 0o700)
        path = "\(directory)/fuse-\(UInt64.random(in: 0...UInt64.max))"
        descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FuseError(errno) }
    }

    var size: UInt64 {
        var status = stat()
        return fstat(descriptor, &status) == 0 ? UInt64(status.st_size) : 0
    }

    /// Makes sure the budget covers a copy of `size` bytes, or throws ENOSPC. It never waits
    /// for room: the caller holds its file's lock, and a staged copy gives its share back only
    /// when the file is closed, so two copies waiting for each other would never wake.
    func reserve(upTo size: UInt64) async throws {
        guard let budget, Int64(size) > reserved else { return }
        let stepped = reserved == 0 ? Int64(size) : max(Int64(size), reserved + Self.reserveStep)
        let wanted = min(stepped, await budget.limit)
        guard Int64(size) <= wanted, await budget.tryReserve(wanted - reserved) else { throw FuseError(ENOSPC) }
        reserved = wanted
    }

    /// ``reserve(upTo:)`` from a libfuse worker thread.
    func reserveBlocking(upTo size: UInt64) throws {
        guard budget != nil, Int64(size) > reserved else { return }
        try BlockingBridge.run { try await self.reserve(upTo: size) }.get()
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw FuseError(errno)
            }
            done += count
        }
    }

    func write(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Int32 {
        let count = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
        return count < 0 ? -errno : Int32(count)
    }

    /// Up to `count` bytes at `offset`; empty at the end.
    private func read(count: Int, at offset: UInt64) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let got = pread(descriptor, buffer.baseAddress, count, off_t(offset))
            guard got >= 0 else { throw FuseError(errno) }
            initialized = got
        }
    }

    func truncate(to size: UInt64) throws {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw FuseError(errno) }
    }

    /// Uploads the copy as the new object.
    func upload(to target: VFSPath, vfs: any VFS) async throws {
        let writer = try await vfs.openWrite(target, modified: nil, keepingFirst: nil, ifAbsent: false, onVersion: version)
        do {
            var offset: UInt64 = 0
            while true {
                let at = offset
                let chunk = try await BlockingIO.run { try self.read(count: 1 << 20, at: at) }
                if chunk.isEmpty { break }
                try await writer.write(chunk)
                offset += UInt64(chunk.count)
            }
            try await writer.commit()
        } catch {
            await writer.abort()
            throw error
        }
    }

    func remove() {
        close(descriptor)
        unlink(path)
        if let budget, reserved > 0 {
            let bytes = reserved
            reserved = 0
            Task { await budget.release(bytes) }
        }
    }
}
