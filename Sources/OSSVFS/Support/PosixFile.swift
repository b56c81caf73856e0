#if canImport(Glibc)
import Glibc
import CLinux
#elseif canImport(Darwin)
import Darwin
#endif

/// A file descriptor with the few calls the stores and the spool need. Every call blocks:
/// use it inside ``BlockingIO/run(_:)``.
public final class PosixFile: @unchecked Sendable {
    /// The descriptor; -1 once closed.
    public private(set) var descriptor: Int32
    private let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
    }

    /// A descriptor of its own for standard input (0) or output (1), for `ossftp cp -`:
    /// closing it leaves the process's own descriptor open.
    public static func duplicating(standard descriptor: Int32) throws -> PosixFile {
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 3)
        let name = descriptor == 0 ? "standard input" : "standard output"
        guard copy >= 0 else { throw ObjectStoreError.io(operation: "open \(name)", errno: errno) }
        return PosixFile(descriptor: copy, path: name)
    }

    /// Reads at the current position until `buffer` is full or the input ends (a pipe gives
    /// a little at a time); the count read, less than `buffer.count` only at the end.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = Glibc.read(descriptor, buffer.baseAddress! + done, buffer.count - done)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.io(operation: "read \(path)", errno: errno)
            }
            done += n
        }
        return done
    }

    /// Opens an existing file for reading.
    public static func openForReading(_ path: String) throws -> PosixFile {
        try open(path, flags: O_RDONLY | O_CLOEXEC, mode: 0)
    }

    /// Opens an existing file for reading, but not through a link at its last part, and
    /// without waiting on a FIFO: for the local store's objects (the caller checks with fstat
    /// what it opened). A link there is absent.
    public static func openObjectForReading(_ path: String, key: String) throws -> PosixFile {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0)
        guard fd >= 0 else {
            if errno == ELOOP || errno == ENOENT || errno == ENOTDIR { throw ObjectStoreError.noSuchKey(key) }
            throw ObjectStoreError.io(operation: "open \(path)", errno: errno)
        }
        return PosixFile(descriptor: fd, path: path)
    }

    /// Opens an existing file, device or FIFO for writing from its start (cut to nothing with
    /// `truncating`).
    public static func openForWriting(_ path: String, truncating: Bool) throws -> PosixFile {
        try open(path, flags: O_WRONLY | O_CLOEXEC | (truncating ? O_TRUNC : 0), mode: 0)
    }

    /// Creates a new file (failing if it exists) for writing, readable only by its owner.
    public static func createExclusive(_ path: String, mode: mode_t = 0o600) throws -> PosixFile {
        try open(path, flags: O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: mode)
    }

    /// The mode of an object's file on the local store: 0644 less the process's umask, as a
    /// file created with 0644 gets. Files linked from the spool (0600) or reopened are set to
    /// it; set to 0644 itself, a large upload was readable by every local user under umask 077
    /// while a small one was not. Read from /proc, since umask(2) can only be read by setting
    /// it, which other threads creating files meanwhile would see.
    public static let objectMode: mode_t = {
        var umask: mode_t = 0o022
        if let status = try? openForReading("/proc/self/status"), let bytes = try? status.read(at: 0, count: 8192) {
            try? status.close()
            let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("Umask:") }
            if let value = line.flatMap({ mode_t($0.dropFirst(6).filter { $0 != " " && $0 != "\t" }, radix: 8) }) {
                umask = value
            }
        }
        return 0o644 & ~umask
    }()

    /// Opens an existing file for writing at its end, with ``objectMode`` (an object's file).
    /// Not O_APPEND: copy_file_range refuses such a descriptor.
    public static func openAtEnd(_ path: String) throws -> PosixFile {
        let file = try open(path, flags: O_WRONLY | O_CLOEXEC, mode: 0)
        guard lseek(file.descriptor, 0, SEEK_END) >= 0, fchmod(file.descriptor, objectMode) == 0 else {
            throw ObjectStoreError.io(operation: "open \(path) at its end", errno: errno)
        }
        return file
    }

    /// How many names the file at `path` has, or nil when there is none.
    public static func linkCount(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_nlink)
    }

    /// Cuts the file at `path` to `size` bytes.
    public static func truncate(_ path: String, to size: UInt64) throws {
        guard Glibc.truncate(path, off_t(size)) == 0 else {
            throw ObjectStoreError.io(operation: "truncate \(path)", errno: errno)
        }
    }

    private static func open(_ path: String, flags: Int32, mode: mode_t) throws -> PosixFile {
        let fd = Glibc.open(path, flags, mode)
        guard fd >= 0 else { throw ObjectStoreError.io(operation: "open \(path)", errno: errno) }
        return PosixFile(descriptor: fd, path: path)
    }

    /// Reads up to `count` bytes at `offset`; an empty array means end of file.
    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        // Uninitialized: pread fills it, and zeroing it first cost as much as the copy.
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = try read(at: offset, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Reads up to `buffer.count` bytes at `offset` straight into `buffer`; 0 means end of file.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw ObjectStoreError.io(operation: "read \(path)", errno: errno)
        }
    }

    /// Writes all of `bytes` at the current position.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.io(operation: "write \(path)", errno: errno)
            }
            done += n
        }
    }

    /// Reads up to `buffer.count` bytes at `offset` only if the page cache holds them, never
    /// waiting for the disk (preadv2 with RWF_NOWAIT); nil when it would wait or the kernel
    /// cannot say. 0 means end of file.
    public func readIfCached(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        while true {
            let n = clinux_pread_nowait(descriptor, buffer.baseAddress, buffer.count, Int64(offset))
            if n >= 0 { return n }
            switch errno {
            case EINTR: continue
            case EAGAIN, EOPNOTSUPP, ENOSYS, EINVAL: return nil
            default: throw ObjectStoreError.io(operation: "read \(path)", errno: errno)
            }
        }
    }

    /// Whether `count` bytes at `offset` lie within the file and the page cache holds them, so
    /// that sending them straight from there (sendfile) does not wait for the disk. False when
    /// the kernel cannot say (no cachestat before Linux 6.5; refused for another user's file).
    ///
    /// cachestat(2) counts the pages present, also those another reader's disk read is still
    /// filling; a one-byte RWF_NOWAIT read at each end of the range, which fails on a page not
    /// yet read, narrows that (readahead fills a range's pages together).
    public func isCached(at offset: UInt64, count: UInt64) -> Bool {
        guard count > 0, let size = try? size(), offset + count <= size else { return false }
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (offset + count + page - 1) / page - offset / page
        guard clinux_cached_pages(descriptor, offset, count) == Int64(pages) else { return false }
        var byte: UInt8 = 0
        return withUnsafeMutableBytes(of: &byte) { probe in
            [offset, offset + count - 1].allSatisfy { (try? readIfCached(at: $0, into: probe)) == 1 }
        }
    }

    /// The file's size now (fstat).
    public func size() throws -> UInt64 {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { throw ObjectStoreError.io(operation: "stat \(path)", errno: errno) }
        return UInt64(st.st_size)
    }

    /// A new descriptor of the same open file, for a caller that owns and closes it.
    public func duplicateDescriptor() throws -> CInt {
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw ObjectStoreError.io(operation: "dup \(path)", errno: errno) }
        return copy
    }

    /// Writes `range` of the concatenation of `buffers` at the current position, with
    /// vectored writes (no copy into one buffer first).
    public func writeAll(_ buffers: [UnsafeRawBufferPointer], range: Range<Int>) throws {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffers.reduce(0) { $0 + $1.count },
                     "the range lies beyond the buffers")
        var vectors: [iovec] = []
        vectors.reserveCapacity(buffers.count)
        var position = 0
        for buffer in buffers {
            let start = max(range.lowerBound, position), end = min(range.upperBound, position + buffer.count)
            if start < end, let base = buffer.baseAddress {
                vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: base + (start - position)),
                                     iov_len: end - start))
            }
            position += buffer.count
        }
        var first = 0
        while first < vectors.count {
            // At most IOV_MAX (1024 on Linux) vectors per call.
            let written = vectors.withUnsafeBufferPointer { all in
                Glibc.writev(descriptor, all.baseAddress! + first, Int32(min(all.count - first, 1024)))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.io(operation: "write \(path)", errno: errno)
            }
            guard written > 0 else { throw ObjectStoreError.io(operation: "write \(path): nothing written", errno: EIO) }
            // A short write ends mid-vector: go on from there.
            var left = written
            while left > 0 {
                if left >= vectors[first].iov_len {
                    left -= vectors[first].iov_len
                    first += 1
                } else {
                    vectors[first].iov_base += left
                    vectors[first].iov_len -= left
                    left = 0
                }
            }
        }
    }

    /// Writes all of `bytes` at `offset`, leaving the position where it is (pwrite).
    public func writeAll(_ bytes: [UInt8], at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.pwrite(descriptor, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.io(operation: "write \(path)", errno: errno)
            }
            done += n
        }
    }

    /// Cuts the file to `size` bytes and puts the position there, so that writes go on from
    /// the new end.
    public func truncate(to size: UInt64) throws {
        guard ftruncate(descriptor, off_t(size)) == 0, lseek(descriptor, off_t(size), SEEK_SET) >= 0 else {
            throw ObjectStoreError.io(operation: "truncate \(path)", errno: errno)
        }
    }

    /// Opens an existing spool file for writing on at its end (after ``truncate(to:)``).
    public static func openForAppending(_ path: String) throws -> PosixFile {
        let file = try open(path, flags: O_WRONLY | O_CLOEXEC, mode: 0)
        guard lseek(file.descriptor, 0, SEEK_END) >= 0 else {
            throw ObjectStoreError.io(operation: "open \(path) at its end", errno: errno)
        }
        return file
    }

    /// Opens an existing file for writing anywhere in it (``writeAll(_:at:)``).
    public static func openForChanging(_ path: String) throws -> PosixFile {
        try open(path, flags: O_WRONLY | O_CLOEXEC, mode: 0)
    }

    /// Writes all of `bytes` at the current position.
    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    /// Appends `length` bytes of `input` from `offset` at this file's position, in the kernel
    /// where it can (copy_file_range, which may share blocks on file systems that reflink).
    public func append(contentsOf input: PosixFile, from offset: UInt64 = 0, length: UInt64) throws {
        var remaining = length
        var inputOffset = Int64(offset)
        while remaining > 0 {
            let copied = clinux_copy_file_range(input.descriptor, &inputOffset, descriptor, Int(min(remaining, 1 << 30)))
            if copied > 0 {
                remaining -= UInt64(copied)
                continue
            }
            if copied < 0 && errno == EINTR { continue }
            if copied < 0 && [EXDEV, EINVAL, ENOSYS, EOPNOTSUPP].contains(errno) || copied == 0 { break }
            throw ObjectStoreError.io(operation: "copy_file_range \(path)", errno: errno)
        }
        // Not supported here, or the input was shorter than said: finish by reading and writing.
        var position = UInt64(inputOffset)
        while remaining > 0 {
            let chunk = try input.read(at: position, count: Int(min(remaining, 1 << 20)))
            if chunk.isEmpty {
                throw ObjectStoreError.io(operation: "read \(input.path): shorter than expected", errno: EIO)
            }
            try writeAll(chunk)
            position += UInt64(chunk.count)
            remaining -= UInt64(chunk.count)
        }
    }

    /// Flushes the file's data to stable storage.
    public func sync() throws {
        guard fsync(descriptor) == 0 else { throw ObjectStoreError.io(operation: "fsync \(path)", errno: errno) }
    }

    /// Asks the kernel to start writing a file's dirty pages to disk, without waiting for the
    /// disk (it may wait while the I/O is queued). Advisory: a failure changes nothing.
    public static func startWriteback(_ path: String) {
        guard let file = try? openForReading(path) else { return }
        _ = clinux_start_writeback(file.descriptor)
        try? file.close()
    }

    /// Asks the kernel to drop a file's clean pages from its page cache; dirty ones are
    /// written first and stay until they are clean. Advisory: a failure changes nothing.
    public static func dropCachedPages(_ path: String) {
        guard let file = try? openForReading(path) else { return }
        _ = posix_fadvise(file.descriptor, 0, 0, POSIX_FADV_DONTNEED)
        try? file.close()
    }

    /// Closes the descriptor.
    public func close() throws {
        guard descriptor >= 0 else { return }
        let result = Glibc.close(descriptor)
        descriptor = -1
        guard result == 0 else { throw ObjectStoreError.io(operation: "close \(path)", errno: errno) }
    }

    /// Size and modification time of a path itself (a link is no file), or of what it links to
    /// with `followingLinks`; nil when it does not exist.
    /// The inode number of `path` itself (not following a link); nil when it does not exist.
    public static func inode(_ path: String) -> UInt64? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }

    public static func status(_ path: String, followingLinks: Bool = false) throws
        -> (isDirectory: Bool, isRegular: Bool, size: UInt64, modified: Double)?
    {
        var st = stat()
        guard (followingLinks ? stat(path, &st) : lstat(path, &st)) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw ObjectStoreError.io(operation: "stat \(path)", errno: errno)
        }
        let modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        return ((st.st_mode & S_IFMT) == S_IFDIR, (st.st_mode & S_IFMT) == S_IFREG, UInt64(st.st_size), modified)
    }
}
