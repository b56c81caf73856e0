#if canImport(Glibc)
import Glibc
#endif

/// Reads a byte range of a file chunk by chunk, on demand.
final class LocalChunkSource: FileRegionSource, @unchecked Sendable {
    private let file: PosixFile
    private let start: UInt64
    private let end: UInt64
    private let chunkSize: Int
    // Touched by one consumer at a time (an async iterator); the lock guards cancel().
    private var position: UInt64
    private let lock = Lock()
    private var cancelled = false

    init(file: PosixFile, start: UInt64, end: UInt64, chunkSize: Int) {
        self.file = file
        self.start = start
        self.position = start
        self.end = end
        self.chunkSize = chunkSize
    }

    func nextChunk() async throws -> [UInt8]? {
        let next: (offset: UInt64, count: Int)? = lock.withLock {
            guard !cancelled, position < end else { return nil }
            return (position, Int(min(UInt64(chunkSize), end - position)))
        }
        guard let offset = next?.offset, let count = next?.count else { return nil }
        let file = self.file
        let chunk = try await BlockingIO.run { try file.read(at: offset, count: count) }
        guard !chunk.isEmpty else {
            throw ObjectStoreError.io(operation: "read: object shrank while being read", errno: EIO)
        }
        lock.withLock { position += UInt64(chunk.count) }
        return chunk
    }

    func cancel() {
        lock.withLock { cancelled = true }
    }

    var expectedLength: UInt64? { end - start }

    func duplicateDescriptor() throws -> CInt {
        try file.duplicateDescriptor()
    }

    func nextCachedRange(maxLength: Int) -> Range<UInt64>? {
        lock.withLock {
            guard !cancelled, position < end else { return position..<position }
            let count = min(UInt64(maxLength), end - position)
            // A file cut shorter meanwhile is read instead, and the read says so.
            guard file.isCached(at: position, count: count) else { return nil }
            defer { position += count }
            return position..<position + count
        }
    }

    func endsBefore(_ offset: UInt64) -> Bool {
        ((try? file.size()) ?? 0) < offset
    }

    func nextChunkIfReady(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        try lock.withLock {
            guard !cancelled, position < end else { return 0 }
            let count = Int(min(UInt64(min(buffer.count, chunkSize)), end - position))
            guard let got = try file.readIfCached(at: position, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]))
            else { return nil }
            guard got > 0 else { throw ObjectStoreError.io(operation: "read: object shrank while being read", errno: EIO) }
            position += UInt64(got)
            return got
        }
    }
}
