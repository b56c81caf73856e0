/// A directory's entries as an async sequence that fetches the store's pages as it goes,
/// one page ahead, so a directory of a million keys is shown with two pages in memory.
///
/// When a file `a` and a directory `a` (the prefix `a/`) both exist, only the directory is
/// yielded: a file is held back until the listing has passed the point where `a/` would
/// appear (entries arrive in UTF-8 byte order of their keys).
public struct VFSDirectoryListing: AsyncSequence, Sendable {
    public typealias Element = VFSEntry

    /// Fetches the page after the given continuation token.
    public typealias PageFetcher = @Sendable (String?) async throws -> (entries: [VFSEntry], next: String?)

    let firstEntries: [VFSEntry]
    let firstToken: String?
    let fetch: PageFetcher

    /// Files held back at most, waiting for a same-named directory (past that, one may show twice).
    static let maxHeldBack = 10_000

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
        var prefetch: Task<(entries: [VFSEntry], next: String?), any Error>?
        var heldBack: [VFSEntry] = []
        var ready: [VFSEntry] = []
        var lastKey = ""

        init(buffer: ArraySlice<VFSEntry>, token: String?, fetch: @escaping PageFetcher) {
            self.buffer = buffer
            self.token = token
            self.fetch = fetch
            if let token { prefetch = Task { try await fetch(token) } }
        }

        public mutating func next() async throws -> VFSEntry? {
            while true {
                if !ready.isEmpty { return ready.removeFirst() }
                if let first = heldBack.first,
                    heldBack.count > VFSDirectoryListing.maxHeldBack
                        || (first.name + "/").utf8.lexicographicallyPrecedes(lastKey.utf8)
                {
                    return heldBack.removeFirst()
                }
                guard let entry = try await nextFromStore() else {
                    return heldBack.isEmpty ? nil : heldBack.removeFirst()
                }
                lastKey = entry.sortKey
                switch entry.kind {
                case .file:
                    heldBack.append(entry)
                case .directory:
                    // The same-named file is shadowed; files before the directory go out first.
                    heldBack.removeAll { $0.name.utf8.elementsEqual(entry.name.utf8) }
                    while let first = heldBack.first, first.name.utf8.lexicographicallyPrecedes(entry.sortKey.utf8) {
                        ready.append(heldBack.removeFirst())
                    }
                    ready.append(entry)
                }
            }
        }

        private mutating func nextFromStore() async throws -> VFSEntry? {
            while buffer.isEmpty {
                guard let current = token else { return nil }
                let page = try await (prefetch ?? Task { [fetch] in try await fetch(current) }).value
                prefetch = nil
                buffer = page.entries[...]
                token = page.next
                if let following = token {
                    let fetch = self.fetch
                    // The next page is on its way while this one is shown.
                    prefetch = Task { try await fetch(following) }
                }
            }
            return buffer.popFirst()
        }
    }
}
