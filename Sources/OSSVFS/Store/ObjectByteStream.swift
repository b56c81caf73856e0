/// Something that hands out an object's bytes one chunk at a time, when asked.
///
/// Pull-based on purpose: nothing is read from disk or the network before the consumer asks
/// for it, so a slow FTP or FUSE client holds back the store instead of filling memory.
public protocol ObjectChunkSource: AnyObject, Sendable {
    /// The next chunk, or nil at the end of the object.
    func nextChunk() async throws -> [UInt8]?
    /// Releases the source early; later calls to ``nextChunk()`` return nil.
    func cancel()
    /// The bytes the whole stream will hand out, when known (a progress bar's end).
    var expectedLength: UInt64? { get }
}

extension ObjectChunkSource {
    public var expectedLength: UInt64? { nil }
}

/// A chunk source that can sometimes hand over its next bytes at once, without waiting (the
/// local store, when the kernel already holds the pages): a frontend then reads them straight
/// into its own buffer, on its own thread.
public protocol ImmediateChunkSource: ObjectChunkSource {
    /// Copies the next bytes into `buffer` if no wait is needed and returns how many (0 at the
    /// end); nil when they must be waited for, through ``ObjectChunkSource/nextChunk()``.
    func nextChunkIfReady(into buffer: UnsafeMutableRawBufferPointer) throws -> Int?
}

/// A chunk source over an open local file: its bytes that the page cache holds can go to a
/// socket straight from there (sendfile(2)), with no copy through the frontend's buffers.
public protocol FileRegionSource: ImmediateChunkSource {
    /// A new descriptor of the file, which the caller owns and closes.
    func duplicateDescriptor() throws -> CInt
    /// The next bytes, at most `maxLength`, as offsets in the file, if the page cache holds
    /// them all (sending them cannot wait for the disk); the source moves past them. An empty
    /// range at the end; nil when they must be read instead, by ``ImmediateChunkSource`` or
    /// ``ObjectChunkSource/nextChunk()``.
    func nextCachedRange(maxLength: Int) -> Range<UInt64>?
    /// Whether the file now ends before `offset`: another program cut it shorter while a range
    /// was being sent (sendfile then sends nothing, and would be retried for ever).
    func endsBefore(_ offset: UInt64) -> Bool
}

/// An object's bytes as an async sequence of chunks.
public struct ObjectByteStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    /// Where the chunks come from.
    public let source: any ObjectChunkSource

    public init(source: any ObjectChunkSource) {
        self.source = source
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(source: source)
    }

    /// Stops the stream and releases what it holds.
    public func cancel() {
        source.cancel()
    }

    public struct Iterator: AsyncIteratorProtocol {
        let source: any ObjectChunkSource

        public mutating func next() async throws -> [UInt8]? {
            try await source.nextChunk()
        }
    }
}
