import OSSVFS

/// Reads of one open file at any offset over a sequential read-ahead stream.
///
/// The kernel sends reads a little out of order (its own read-ahead runs several at once), so
/// the last few MiB read are kept: a read just behind the stream is served from them, and one
/// a little ahead skips forward by reading; only a real jump seeks, which restarts the ranged
/// GETs. Callers serialize calls (the open file's lock).
final class FuseReader: @unchecked Sendable {
    private let stream: ReadAheadStream
    /// Chunks held, in order, with the offset of their first byte.
    private var chunks: [(start: UInt64, bytes: [UInt8])] = []
    private var heldBytes = 0
    /// The offset of the stream's next byte.
    private var streamPosition: UInt64
    private var atEnd = false

    /// Bytes kept behind the stream, and how far ahead a read may be before it seeks.
    static let keepBehind = 8 << 20
    static let skipAhead: UInt64 = 8 << 20

    init(stream: ReadAheadStream, offset: UInt64) {
        self.stream = stream
        self.streamPosition = offset
    }

    private var heldStart: UInt64 { chunks.first?.start ?? streamPosition }

    /// The offset of the stream's next byte: the end of what it gave.
    var position: UInt64 { streamPosition }

    /// Up to `target.count` bytes at `offset`, written into `target`; how many (fewer only at
    /// the end of the file). The bytes go straight into libfuse's buffer: a sequential read of
    /// 1 GiB made a 1 MiB array per kernel read and copied it once more.
    func read(at offset: UInt64, into target: UnsafeMutableRawBufferPointer) async throws -> Int {
        let end = try await fill(from: offset, count: target.count)
        defer { dropBehind() }
        return copyHeld(from: offset, to: end, into: target)
    }

    /// Up to `count` bytes at `offset`; fewer only at the end of the file.
    func read(at offset: UInt64, count: Int) async throws -> [UInt8] {
        let end = try await fill(from: offset, count: count)
        defer { dropBehind() }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = copyHeld(from: offset, to: end, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Copies the held bytes from `offset` to `end` into `target`; how many.
    private func copyHeld(from offset: UInt64, to end: UInt64, into target: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        for (start, bytes) in chunks where start + UInt64(bytes.count) > offset && start < end {
            let from = Int(max(offset, start) - start)
            let to = Int(min(end, start + UInt64(bytes.count)) - start)
            bytes.withUnsafeBytes { source in
                (target.baseAddress! + written).copyMemory(from: source.baseAddress! + from, byteCount: to - from)
            }
            written += to - from
        }
        return written
    }

    /// Seeks when `offset` is outside what is held or just ahead, then reads the stream up to
    /// `offset + count` (or its end); that end.
    private func fill(from offset: UInt64, count: Int) async throws -> UInt64 {
        if offset < heldStart || offset > streamPosition + Self.skipAhead {
            stream.seek(to: offset)
            chunks = []
            heldBytes = 0
            streamPosition = offset
            atEnd = false
        }
        let end = offset + UInt64(count)
        while streamPosition < end && !atEnd {
            guard let chunk = try await stream.nextChunk(), !chunk.isEmpty else {
                atEnd = true
                break
            }
            chunks.append((streamPosition, chunk))
            heldBytes += chunk.count
            streamPosition += UInt64(chunk.count)
        }
        return min(end, streamPosition)
    }

    /// Lets go of chunks further behind than ``keepBehind``.
    private func dropBehind() {
        while heldBytes - (chunks.first?.bytes.count ?? 0) >= Self.keepBehind, chunks.count > 1 {
            heldBytes -= chunks.removeFirst().bytes.count
        }
    }

    /// Up to `maxCount` of the bytes this reader gave that end at `end`, from those it still
    /// holds; fewer (or none) when it holds less.
    func heldSuffix(endingAt end: UInt64, maxCount: Int) -> [UInt8] {
        let start = max(heldStart, end >= UInt64(maxCount) ? end - UInt64(maxCount) : 0)
        guard start < end, end <= streamPosition else { return [] }
        var out: [UInt8] = []
        for (chunkStart, bytes) in chunks where chunkStart + UInt64(bytes.count) > start && chunkStart < end {
            let from = Int(max(start, chunkStart) - chunkStart)
            let to = Int(min(end, chunkStart + UInt64(bytes.count)) - chunkStart)
            out.append(contentsOf: bytes[from..<to])
        }
        return out
    }

    func close() {
        stream.cancel()
    }
}
