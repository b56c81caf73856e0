/// Directory listings: one request for existence and the first page, then page by page.
extension ObjectVFS {
    public func list(_ path: VFSPath) async throws -> VFSDirectoryListing {
        let prefix = try await existingDirectoryPrefix(for: path)
        let store = self.store
        let pageSize = self.pageSize
        let description = path.description
        let cache = self.cache
        let fetch: VFSDirectoryListing.PageFetcher = { [self] token in
            do {
                let page = try await Self.hidingEmptied(
                    store.listPage(ListRequest(prefix: prefix, delimiter: "/", continuationToken: token, maxKeys: pageSize)),
                    store: store, cache: cache)
                return (await withOwnTimes(Self.entries(of: page, under: prefix), in: path), page.nextContinuationToken)
            } catch let error as ObjectStoreError {
                throw VFSError(error, path: description)
            }
        }
        let isRoot = path.isRoot
        let first = try await storeCall(path) {
            // A folder emptied lately that holds nothing is gone, whatever the store lists.
            if !isRoot, try await Self.isEmptiedFolder(prefix, store: store, cache: cache) {
                return ListPage(objects: [], commonPrefixes: [], nextContinuationToken: nil)
            }
            return try await Self.hidingEmptied(
                store.listPage(ListRequest(prefix: prefix, delimiter: "/", maxKeys: pageSize)), store: store, cache: cache)
        }
        let exists = path.isRoot || !first.objects.isEmpty || !first.commonPrefixes.isEmpty
        if !path.isRoot { await cache.setDirectory(prefix, exists: exists) }
        // An empty directory still holds its own marker, so an empty page means no directory;
        // unless it went with its last object lately (``directoryExists(_:)``) and stays, empty.
        if !exists, await !cache.vanishedWithItsObjects(prefix) {
            if try await fileInfo(path) != nil { throw VFSError.notDirectory(path.description) }
            throw VFSError.notFound(path.description)
        }
        return VFSDirectoryListing(
            firstEntries: await withOwnTimes(Self.entries(of: first, under: prefix), in: path),
            next: first.nextContinuationToken, fetch: fetch)
    }

    /// HEADs at once of a listing page with exact times.
    static let exactTimeRequests = 16

    /// With ``Options/exactListingTimes``, `entries` with each file's own time (its `mtime`
    /// metadata), asked of the store (``exactTimeRequests`` at once, each kept in the cache for
    /// MDTM and MLST): a listing gives only Last-Modified, the upload's time, so a client that
    /// set a time (MFMT) saw another in MLSD and LIST, and rclone sent every file again on each
    /// run. A file the store cannot be asked about keeps the listing's time.
    func withOwnTimes(_ entries: [VFSEntry], in path: VFSPath) async -> [VFSEntry] {
        guard exactListingTimes, !store.capabilities.localReads else { return entries }
        var shown = entries
        await withTaskGroup(of: (Int, Double?).self) { group in
            var next = 0
            func askNext() {
                while next < shown.count, shown[next].kind != .file { next += 1 }
                guard next < shown.count else { return }
                let (index, file) = (next, path.appending(shown[next].name))
                next += 1
                group.addTask { [self] in
                    let info = try? await fileInfo(file)
                    return (index, info.map(Self.modified))
                }
            }
            for _ in 0..<Self.exactTimeRequests { askNext() }
            while let (index, time) = await group.next() {
                if let time { shown[index].modified = time }
                askNext()
            }
        }
        return shown
    }

    /// `page` without the folders ossftp emptied lately that hold nothing now: SeaweedFS's
    /// filer lists a folder for seconds after its last object is deleted
    /// (``MetadataCache/noteEmptied(_:)``). One request for each such folder a page shows.
    static func hidingEmptied(_ page: ListPage, store: any ObjectStore, cache: MetadataCache) async throws -> ListPage {
        // The local store never lists a folder with nothing in it; and asking it reads the
        // whole folder (each `rm` in a large folder read it all again).
        guard !page.commonPrefixes.isEmpty, !store.capabilities.localReads else { return page }
        var gone = Set<String>()
        for candidate in await cache.mayBeEmptied(page.commonPrefixes)
        where try await holdsNothing(candidate, store: store, cache: cache) {
            gone.insert(candidate)
        }
        guard !gone.isEmpty else { return page }
        var shown = page
        shown.commonPrefixes.removeAll { gone.contains($0) }
        return shown
    }

    /// Whether `prefix` is a folder ossftp emptied that holds no key now.
    static func isEmptiedFolder(_ prefix: String, store: any ObjectStore, cache: MetadataCache) async throws -> Bool {
        guard !store.capabilities.localReads, await !cache.mayBeEmptied([prefix]).isEmpty else { return false }
        return try await holdsNothing(prefix, store: store, cache: cache)
    }

    /// Asks the store whether any key is under `prefix`, a folder ossftp emptied lately; when
    /// one is, listings show it again without asking. Asked without a delimiter: with one,
    /// SeaweedFS answers for such a folder with its own name as a key, as if it had a marker.
    private static func holdsNothing(_ prefix: String, store: any ObjectStore, cache: MetadataCache) async throws -> Bool {
        let inside = try await store.listPage(ListRequest(prefix: prefix, delimiter: nil, maxKeys: 1))
        if inside.objects.isEmpty { return true }
        await cache.clearEmptied(prefix)
        return false
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
