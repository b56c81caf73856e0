#if canImport(Glibc)
import Glibc
#endif

/// Listing for ``LocalStore``: keys and common prefixes merged in UTF-8 byte order, as S3 and OSS
/// order them, and paged by the last name returned.
extension LocalStore {
    public func listPage(_ request: ListRequest) async throws -> ListPage {
        let layout = self.layout
        let snapshots = folderSnapshots
        return try await BlockingIO.run { try layout.listPage(request, snapshots: snapshots) }
    }
}

/// One listing entry before paging: an object or a common prefix.
private enum ListEntry {
    case object(ObjectInfo)
    case prefix(String)

    var name: String {
        switch self {
        case .object(let info): return info.key
        case .prefix(let prefix): return prefix
        }
    }
}

extension LocalKeyLayout {
    func listPage(_ request: ListRequest, snapshots: LocalFolderSnapshots) throws -> ListPage {
        guard request.maxKeys > 0 else { return ListPage(objects: [], commonPrefixes: [], nextContinuationToken: nil) }
        if request.delimiter == "/" { return try oneLevelPage(request, snapshots: snapshots) }
        var entries = try grouped(keys: try allKeys(under: request.prefix), request: request)
        entries.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        if let token = request.continuationToken {
            entries.removeAll { !token.utf8.lexicographicallyPrecedes($0.name.utf8) }
        }
        let page = entries.prefix(request.maxKeys)
        var objects: [ObjectInfo] = []
        var prefixes: [String] = []
        for entry in page {
            switch entry {
            case .object(let info): objects.append(info)
            case .prefix(let prefix): prefixes.append(prefix)
            }
        }
        let next = entries.count > request.maxKeys ? page.last?.name : nil
        return ListPage(objects: objects, commonPrefixes: prefixes, nextContinuationToken: next)
    }

    /// The folder part (up to the last `/`) and the name part of a prefix.
    private func split(_ prefix: String) -> (folderKey: String, namePrefix: String) {
        guard let folder = prefix.beforeLastSlashByte() else { return ("", prefix) }
        return (folder + "/", prefix.droppingBytes(folder.utf8.count + 1))
    }

    /// The folder of `folderKey` (`a/b/`), or nil when no key can name it or a link lies on the
    /// way (see ``refuseLinks(in:key:)``).
    private func folderPath(_ folderKey: String) -> String? {
        if folderKey.isEmpty { return bucketPath }
        return try? parentFolder(for: folderKey)
    }

    /// A page with delimiter `/`: the folder's sorted children (one reading for all pages, see
    /// ``LocalFolderSnapshots``), from the one after the token; sizes, times and whether a
    /// subfolder holds anything are looked at for this page's entries only.
    private func oneLevelPage(_ request: ListRequest, snapshots: LocalFolderSnapshots) throws -> ListPage {
        let (folderKey, namePrefix) = split(request.prefix)
        var page = ListPage(objects: [], commonPrefixes: [], nextContinuationToken: nil)
        guard let folder = folderPath(folderKey) else { return page }
        guard let children = try snapshots.children(of: folder) else {
            // Gone between two pages (renamed or removed by another session): the pages before
            // were of a folder that is no more here, and the end would tell them complete (226
            // with a part of the names).
            if request.continuationToken != nil { throw ObjectStoreError.io(operation: "list \(folder)", errno: ENOENT) }
            return page
        }
        let token = request.continuationToken.map { Array($0.utf8) }
        let folderBytes = Array(folderKey.utf8)
        var taken = 0
        var lastKey: String?
        // The folder's own marker is the key `folderKey`, before every child; a bare folder
        // (made by another program, holding nothing) is shown with one (``bareFolderMarker``).
        if !folderKey.isEmpty, namePrefix.isEmpty, token == nil {
            let marker: ObjectInfo?
            if children.contains(where: { $0.entry.name == LocalKeyLayout.markerName }) {
                marker = try info(for: folderKey)
            } else if !children.contains(where: { Self.isKeyEntry($0.entry) }) {
                marker = try bareMarker(folderKey, at: folder)
            } else {
                marker = nil
            }
            if let marker {
                page.objects.append(marker)
                (taken, lastKey) = (1, folderKey)
            }
        }
        // The first child after the token (binary search: children are in key order).
        var start = 0
        if let token {
            if token.starts(with: folderBytes) {
                let after = token.dropFirst(folderBytes.count)
                var high = children.count
                while start < high {
                    let middle = (start + high) / 2
                    if after.lexicographicallyPrecedes(children[middle].sortKey) { high = middle } else { start = middle + 1 }
                }
            } else if !token.lexicographicallyPrecedes(folderBytes) {
                return page  // the token lies past this folder
            }
        }
        for child in children[start...].lazy.map(\.entry) {
            guard child.name.hasBytePrefix(namePrefix), Self.isKeyEntry(child) else { continue }
            if taken >= request.maxKeys {
                page.nextContinuationToken = lastKey
                break
            }
            let key = folderKey + child.name
            if child.isDirectory {
                // Every folder is one: it holds a key, or a folder, or it is bare and shown so.
                page.commonPrefixes.append(key + "/")
                lastKey = key + "/"
            } else {
                // Gone since the folder was read: left out, as a listing a moment later would;
                // unless the folder itself went (renamed mid-listing), whose names would all be
                // left out from here, the listing told complete.
                guard let object = try? info(for: key) else {
                    if (try? PosixFile.status(folder)) == nil { throw ObjectStoreError.io(operation: "list \(folder)", errno: ENOENT) }
                    continue
                }
                page.objects.append(object)
                lastKey = key
            }
            taken += 1
        }
        return page
    }

    /// Whether a folder's entry is a file or a folder that a key can name (not reserved, no
    /// link, FIFO, socket or device).
    static func isKeyEntry(_ entry: DirectoryOps.Entry) -> Bool {
        entry.kind != .other && !entry.name.hasPrefix(LocalKeyLayout.reservedPrefix)
    }

    /// Every key that starts with `prefix`, markers included.
    private func allKeys(under prefix: String) throws -> [ObjectInfo] {
        var result: [ObjectInfo] = []
        try walk(folderKey: "", prefix: prefix, into: &result)
        return result
    }

    private func walk(folderKey: String, prefix: String, into result: inout [ObjectInfo]) throws {
        guard let folder = folderPath(folderKey), let children = try DirectoryOps.entries(of: folder) else { return }
        if !folderKey.isEmpty, folderKey.hasBytePrefix(prefix), !children.contains(where: Self.isKeyEntry),
            !children.contains(where: { $0.name == LocalKeyLayout.markerName }),
            let marker = try bareMarker(folderKey, at: folder)
        {
            result.append(marker)
        }
        for child in children {
            if child.name == LocalKeyLayout.markerName {
                if !folderKey.isEmpty && folderKey.hasBytePrefix(prefix) { result.append(try info(for: folderKey)) }
                continue
            }
            if child.name.hasPrefix(LocalKeyLayout.reservedPrefix) || child.kind == .other { continue }
            let key = folderKey + child.name
            if child.isDirectory {
                let subfolder = key + "/"
                if subfolder.hasBytePrefix(prefix) || prefix.hasBytePrefix(subfolder) {
                    try walk(folderKey: subfolder, prefix: prefix, into: &result)
                }
            } else if key.hasBytePrefix(prefix) {
                result.append(try info(for: key))
            }
        }
    }

    /// Groups keys by the delimiter, if any, after the prefix.
    private func grouped(keys: [ObjectInfo], request: ListRequest) throws -> [ListEntry] {
        guard let delimiter = request.delimiter, !delimiter.isEmpty else { return keys.map { .object($0) } }
        var prefixes = Set<ExactName>()
        var result: [ListEntry] = []
        for info in keys {
            let rest = info.key.droppingBytes(request.prefix.utf8.count)
            if let range = rest.range(of: delimiter) {
                let common = request.prefix + rest[..<range.upperBound]
                if prefixes.insert(ExactName(String(common))).inserted { result.append(.prefix(String(common))) }
            } else {
                result.append(.object(info))
            }
        }
        return result
    }
}
