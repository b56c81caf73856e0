/// A directory's entries as an async sequence that fetches the store's pages as it goes,
/// so a directory of a million keys is shown with one page in memory.
public struct VFSDirectoryListing: AsyncSequence, Sendable {
    public typealias Element = VFSEntry

    /// Fetches a page after the given continuation token.
    public typealias PageFetcher = @Sendable (String?) async throws -> (entries: [VFSEntry], next: String?)

    let firstEntries: [VFSEntry]
    let firstToken: String?
    let fetch: PageFetcher

    /// A listing that starts with an already fetched first page.
    public init(firstEntries: [VFSEntry], next: String?, fetch: @escaping PageFetcher) {
        self.firstEntries = firstEntries
        self.firstToken = next
        self.fetch = fetch
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(buffer: firstEntries[...], token: firstToken, fetch: fetch)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var buffer: ArraySlice<VFSEntry>
        var token: String?
        let fetch: PageFetcher

        public mutating func next() async throws -> VFSEntry? {
            while buffer.isEmpty {
                guard let current = token else { return nil }
                let page = try await fetch(current)
                buffer = page.entries[...]
                token = page.next
            }
            return buffer.popFirst()
        }
    }
}
