/// Reads an object with ranged GETs whose size grows while the reader goes forward, a few of
/// them in flight at once, so a slow link is kept busy without holding the object in memory.
///
/// Memory per stream is bounded by the transport's per-request buffer times
/// `parallelRanges`, whatever the window. A ``seek(to:)`` drops the ranges in flight and starts
/// again from a small window (`seekWindow`), one range at a time until it has grown back. A
/// read of the whole object from offset 0 is checked end to end: CRC-64 when the store reports
/// one, else the MD5 ETag of a single-part object.
public final class ReadAheadStream: ObjectChunkSource, @unchecked Sendable {
    private let store: any ObjectStore
    private var info: ObjectInfo
    /// Looks the object up again, bypassing any cache: used once, when the first range finds
    /// the object replaced since `info` was taken (a cached entry gone stale).
    private var refresh: (@Sendable () async throws -> ObjectInfo)?
    /// Whether any byte has been handed out: until then a replaced object can be read instead.
    private var delivered = false
    private let configuration: ReadAheadConfiguration
    private let lock = Lock()
    // Touched by one reader at a time (an async iterator or one FUSE handle); the lock
    // guards what cancel() and seek() change.
    private var position: UInt64
    private var nextRequestOffset: UInt64
    private var window: Int
    private var ranges: [(start: UInt64, end: UInt64, stream: Task<ObjectByteStream, any Error>)] = []
    private var current: ObjectByteStream?
    /// The last byte of the range `current` reads.
    private var currentEnd: UInt64 = 0
    /// Ranges asked for again after their body broke, without progress in between: the
    /// budget is whole again once `progressRenewingRetries` bytes have come since the last
    /// break, so a long download over a flaky link is not failed by its fourth break.
    private var retriesLeft = ReadAheadStream.retriesWithoutProgress
    private var bytesSinceBreak: UInt64 = 0
    static let retriesWithoutProgress = 3
    static let progressRenewingRetries: UInt64 = 256 << 10
    private var cancelled = false
    /// The error that ended the stream: every later call reports it, so a caller that tries
    /// again (the kernel retries a failed page) gets no bytes from a later range (of maybe
    /// another object) and no end of file either.
    private var failure: (any Error)?
    private var crc: CRC64?
    private var md5: Digest?
    private let startOffset: UInt64

    public var expectedLength: UInt64? { info.size >= startOffset ? info.size - startOffset : 0 }

    /// The ETag of the object read: the one the stream moved to when the entry it was opened
    /// with was stale. Read it from the task that reads the stream.
    public var etag: String { info.etag }

    public init(store: any ObjectStore, info: ObjectInfo, offset: UInt64, configuration: ReadAheadConfiguration,
                refresh: (@Sendable () async throws -> ObjectInfo)? = nil) {
        self.store = store
        self.info = info
        self.refresh = refresh
        self.configuration = configuration
        self.position = offset
        self.startOffset = offset
        self.nextRequestOffset = offset
        self.window = configuration.initialWindow
        if offset == 0 { startVerification() }
    }

    private func startVerification() {
        crc = info.crc64 != nil ? CRC64() : nil
        md5 = info.crc64 == nil && info.contentMD5 != nil ? Digest(.md5) : nil
    }

    /// The offset of the next byte `nextChunk()` returns.
    public var offset: UInt64 { lock.withLock { position } }

    public func nextChunk() async throws -> [UInt8]? {
        if let failure { throw failure }
        do {
            return try await nextChunkOrEnd()
        } catch {
            failure = error
            throw error
        }
    }

    private func nextChunkOrEnd() async throws -> [UInt8]? {
        while true {
            if lock.withLock({ cancelled }) { return nil }
            if let stream = current {
                let chunk: [UInt8]?
                do {
                    chunk = try await stream.source.nextChunk()
                } catch is ParkedBody {
                    // Left unread for a while (a slow or stalled FTP client), its transfer
                    // ended to free the thread it held, one of a few every store request of
                    // the server shares (16 stalled downloads held them all): the rest of the
                    // range now that it is wanted. No failure: no retry is spent.
                    current = try await rangeStream(from: position, to: currentEnd)
                    continue
                } catch let error where retriesLeft > 0 && Self.isBrokenTransfer(error) {
                    // The connection broke mid-range: ask again for the rest of this range
                    // (the store client retries its own connection failures meanwhile).
                    retriesLeft -= 1
                    bytesSinceBreak = 0
                    current = try await rangeStream(from: position, to: currentEnd)
                    continue
                }
                if let chunk {
                    bytesSinceBreak += UInt64(chunk.count)
                    if bytesSinceBreak >= Self.progressRenewingRetries { retriesLeft = Self.retriesWithoutProgress }
                    delivered = true
                    lock.withLock { position += UInt64(chunk.count) }
                    crc?.update(chunk)
                    md5?.update(chunk)
                    return chunk
                }
                current = nil
            }
            guard try await takeNextRange() else {
                if lock.withLock({ cancelled }) { return nil }
                try verify()
                return nil
            }
        }
    }

    /// Starts the first range and waits for the store's answer to it, so that a refusal only a
    /// GET meets (an archived object, a key that may HEAD but not GET) comes before any byte is
    /// promised. Reading goes on from that range.
    public func awaitFirstAnswer() async throws {
        guard current == nil, failure == nil else { return }
        do {
            _ = try await takeNextRange()
        } catch {
            failure = error
            throw error
        }
    }

    /// Makes the next range in flight (started as needed) the one read; false when the object
    /// is covered or the stream cancelled.
    private func takeNextRange() async throws -> Bool {
        while !lock.withLock({ cancelled }) {
            fillRanges()
            guard !ranges.isEmpty else { return false }
            let next = ranges.removeFirst()
            do {
                current = try await next.stream.value
            } catch ObjectStoreError.changed(let key) where !delivered && refresh != nil {
                try await restart(after: key)
                continue
            } catch ObjectStoreError.noSuchKey(let key) where !delivered && refresh != nil {
                // Deleted since the entry was cached: the entry is dropped and looked up
                // again, so this read fails as not found and the next one hears 550 at once.
                try await restart(after: key)
                continue
            }
            currentEnd = next.end
            fillRanges()
            return true
        }
        return false
    }

    /// The object was replaced or deleted before any of its bytes were handed out (the entry
    /// it was opened from was stale): read the new one instead, from the same offset. Once only.
    private func restart(after key: String) async throws {
        guard let refresh else { return }
        self.refresh = nil
        dropRanges()
        info = try await refresh()
        guard info.size >= position else {
            throw VFSError.invalidRange("\(key) now has \(info.size) bytes; cannot start at \(position)")
        }
        nextRequestOffset = position
        window = configuration.initialWindow
        if position == 0 { startVerification() }
    }

    /// A GET of `start...end` of the object the read started on, whose body parks when left
    /// unread (``BodyPipe``).
    private func rangeStream(from start: UInt64, to end: UInt64) async throws -> ObjectByteStream {
        let (store, key, etag) = (self.store, info.key, info.etag)
        return try await BodyPipe.$parksWhenUnread.withValue(true) {
            try await store.get(key, range: .closed(start, end), ifMatch: etag)
        }
    }

    static func isBrokenTransfer(_ error: any Error) -> Bool {
        if error is HTTPTransportError { return true }
        if case ObjectStoreError.transport = error { return true }
        return false
    }

    /// Starts range requests until `parallelRanges` are in flight or the object is covered.
    private func fillRanges() {
        // After a seek, one range at a time, asked for once the last is read, while the window
        // grows back: the reads may jump again, and a range cut off mid-body loses its connection.
        let inFlight = window >= configuration.initialWindow ? configuration.parallelRanges : current == nil ? 1 : 0
        while ranges.count < inFlight && nextRequestOffset < info.size {
            let start = nextRequestOffset
            let end = min(info.size, start + UInt64(window)) - 1
            nextRequestOffset = end + 1
            window = min(configuration.maxWindow, window * 2)
            let store = self.store
            let key = info.key
            // Every range from the object the read started on: a replacement fails the read
            // (ObjectStoreError.changed) instead of mixing two objects' bytes.
            let etag = info.etag
            // The task takes the task-local value along: its body parks when left unread.
            let stream = BodyPipe.$parksWhenUnread.withValue(true) {
                Task { try await store.get(key, range: .closed(start, end), ifMatch: etag) }
            }
            ranges.append((start, end, stream))
        }
    }

    private func verify() throws {
        guard position == info.size else { return }
        if let crc, let expected = info.crc64, crc.value != expected {
            throw ObjectStoreError.checksumMismatch(expected: String(expected), actual: String(crc.value))
        }
        if let digest = md5.take()?.finalize(), let expected = info.contentMD5 {
            if hexString(digest) != expected {
                throw ObjectStoreError.checksumMismatch(expected: expected, actual: hexString(digest))
            }
        }
    }

    /// Continues from `offset`: ranges in flight are dropped and the window starts small again.
    public func seek(to offset: UInt64) {
        dropRanges()
        lock.withLock { position = offset }
        nextRequestOffset = offset
        window = configuration.seekWindow
        crc = nil
        md5 = nil
        if offset == 0 { startVerification() }
    }

    private func dropRanges() {
        current?.cancel()
        current = nil
        for range in ranges {
            Task { (try? await range.stream.value)?.cancel() }
        }
        ranges = []
    }

    public func cancel() {
        lock.withLock { cancelled = true }
        dropRanges()
    }
}
