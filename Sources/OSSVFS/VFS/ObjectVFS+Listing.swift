/// Directory listings: one request for existence and the first page, then page by page.
extension ObjectVFS {
    public func list(_ path: VFSPath) async throws -> VFSDirectoryListing {
        let prefix = try directoryPrefix(for: path)
        let store = self.store
        let pageSize = self.pageSize
        let description = path.description
        let fetch: VFSDirectoryListing.PageFetcher = { token in
            do {
                let page = try await store.listPage(
                    ListRequest(prefix: prefix, delimiter: "/", continuationToken: token, maxKeys: pageSize))
                return (Self.entries(of: page, under: prefix), page.nextContinuationToken)
            } catch let error as ObjectStoreError {
                throw VFSError(error, path: description)
            }
        }
        let first = try await storeCall(path) {
            try await store.listPage(ListRequest(prefix: prefix, delimiter: "/", maxKeys: pageSize))
        }
        let exists = path.isRoot || !first.objects.isEmpty || !first.commonPrefixes.isEmpty
        if !path.isRoot { await cache.setDirectory(prefix, exists: exists) }
        if !exists {
            // An empty directory still holds its own marker, so an empty page means no directory.
            if try await fileInfo(path) != nil { throw VFSError.notDirectory(path.description) }
            throw VFSError.notFound(path.description)
        }
        return VFSDirectoryListing(
            firstEntries: Self.entries(of: first, under: prefix), next: first.nextContinuationToken, fetch: fetch)
    }

    /// The entries a page shows, in key order: names below `prefix` that a path can name.
    static func entries(of page: ListPage, under prefix: String) -> [VFSEntry] {
        var files: [VFSEntry] = []
        files.reserveCapacity(page.objects.count)
        for object in page.objects {
            let name = object.key.droppingBytes(prefix.utf8.count)
            guard isNameable(name) else { continue }
            files.append(VFSEntry(name: name, kind: .file, size: object.size, modified: modified(object)))
        }
        var directories: [VFSEntry] = []
        directories.reserveCapacity(page.commonPrefixes.count)
        for common in page.commonPrefixes {
            let name = common.droppingBytes(prefix.utf8.count).droppingLastByte()
            guard isNameable(name) else { continue }
            directories.append(VFSEntry(name: name, kind: .directory, size: 0, modified: nil))
        }
        if directories.isEmpty { return files }
        if files.isEmpty { return directories }
        // Objects and prefixes come in two lists, each in key order; the listing relies on one order.
        var merged: [VFSEntry] = []
        merged.reserveCapacity(files.count + directories.count)
        var (i, j) = (0, 0)
        while i < files.count || j < directories.count {
            if j == directories.count
                || (i < files.count && files[i].sortKey.utf8.lexicographicallyPrecedes(directories[j].sortKey.utf8))
            {
                merged.append(files[i])
                i += 1
            } else {
                merged.append(directories[j])
                j += 1
            }
        }
        return merged
    }

    /// Whether a path can name a listed name: not empty, `.` or `..`, and without `/`, `\`
    /// (a path's other separator), NUL, CR or LF (refused in paths). Shown, the others would be
    /// names that reach another key (`a\b` is `a/b`), or raw line breaks that forge listing lines.
    static func isNameable(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".."
            && !name.utf8.contains { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") || $0 == 0 || $0 == 10 || $0 == 13 }
    }
}
