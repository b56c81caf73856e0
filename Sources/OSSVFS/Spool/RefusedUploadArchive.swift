import Foundation

/// Where the bytes of a write-back upload go when the store refuses it for good after its
/// client was told it is stored (a policy changed, the bucket deleted, the multipart upload
/// aborted by another program): `<spool>/refused/<time>-<upload>/`, for an administrator to
/// store again by hand, rather than deleted with nothing but a line in the log.
///
/// The folder holds the file under its own name when every byte was still in the spool (a
/// file of one part, or parts that all failed), otherwise the parts still there
/// (`name.part-00003`): parts the store had taken are not kept once sent. `refused.json` says
/// which (``Description``). The spool's budget no longer counts these files.
public enum RefusedUploadArchive {
    /// What `refused.json` says about the upload.
    public struct Description: Codable, Equatable, Sendable {
        public var key: String
        public var bucket: String
        /// The store's endpoint (an `http(s)` URL), or the local store's root.
        public var store: String
        public var size: UInt64
        /// Why the store refused it.
        public var error: String
        /// The file kept whole, under this name; nil when only parts are.
        public var file: String?
        /// Part files kept, by part number, when the file is not whole.
        public var partsKept: [Int]
        /// Parts the store had taken: their bytes are not here.
        public var partsLost: [Int]
    }

    /// Moves what the spool still holds of `record` into a new folder under `spool/refused`;
    /// returns the folder, or nil when nothing of it was left to keep. Blocking.
    static func keep(_ record: UploadRecord, spool: String, error: any Error, now: Date = Date()) throws -> String? {
        let name = fileName(of: record.key)
        var parts: [UploadRecord.PendingPart] = []
        if let single = record.single {
            parts = [UploadRecord.PendingPart(number: 1, path: single.path, size: single.size)]
        } else {
            parts = try record.pending.filter { try PosixFile.status($0.path)?.isRegular == true }
                .sorted { $0.number < $1.number }
        }
        let whole = parts.enumerated().allSatisfy { $0.offset + 1 == $0.element.number }
            && parts.reduce(0) { $0 + $1.size } == record.size
        if parts.isEmpty && record.size > 0 { return nil }

        let refused = "\(spool)/refused"
        if mkdir(refused, 0o700) != 0 && errno != EEXIST {
            throw ObjectStoreError.io(operation: "mkdir \(refused)", errno: errno)
        }
        // The upload's name is unique, but a record the store refused again after a restart
        // that could not tell it so keeps it.
        var folder = "\(refused)/\(timestamp(now))-\(record.name)"
        var attempt = 1
        while mkdir(folder, 0o700) != 0 {
            guard errno == EEXIST, attempt < 100 else { throw ObjectStoreError.io(operation: "mkdir \(folder)", errno: errno) }
            attempt += 1
            folder = "\(refused)/\(timestamp(now))-\(record.name)-\(attempt)"
        }

        var description = Description(
            key: record.key, bucket: record.store.bucket, store: location(of: record.store), size: record.size,
            error: String(describing: error), file: nil, partsKept: [], partsLost: [])
        // Every part into the folder first: renames, which need no room, so nothing is lost
        // whatever follows. Then, when they make the whole file, they are joined into it; if
        // that cannot be done (the disk full), they stay as parts.
        var moved: [(number: Int, path: String, size: UInt64)] = []
        for part in parts {
            let path = "\(folder)/\(name).part-\(partLabel(part.number))"
            try DirectoryOps.rename(part.path, to: path)
            moved.append((part.number, path, part.size))
        }
        let kept = Set(parts.map(\.number))
        description.partsKept = parts.map(\.number)
        description.partsLost = record.stored.map(\.partNumber).filter { !kept.contains($0) }.sorted()
        if whole && joined(moved, into: "\(folder)/\(name)") {
            description.file = name
            description.partsKept = []
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let about = try PosixFile.createExclusive("\(folder)/refused.json")
        try about.writeAll(Array(try encoder.encode(description)) + [10])
        try about.sync()
        try DirectoryOps.syncFolder(folder)
        return folder
    }

    /// The uploads kept in `spool/refused`, with their folders, oldest first; a folder whose
    /// description cannot be read is left out. Blocking.
    public static func list(spool: String) -> [(folder: String, description: Description)] {
        let refused = "\(spool)/refused"
        let names = ((try? DirectoryOps.entries(of: refused)) ?? nil)?.map(\.name).sorted() ?? []
        return names.compactMap { name in
            let folder = "\(refused)/\(name)"
            guard let data = FileManager.default.contents(atPath: "\(folder)/refused.json"),
                let description = try? JSONDecoder().decode(Description.self, from: data)
            else { return nil }
            return (folder, description)
        }
    }

    /// Joins the part files, in order, into `target` (the first renamed into place, the others
    /// appended, in the kernel where it can) and removes them; false with every part file as
    /// it was when it cannot.
    static func joined(_ parts: [(number: Int, path: String, size: UInt64)], into target: String) -> Bool {
        guard let first = parts.first else { return (try? PosixFile.createExclusive(target)) != nil }
        guard (try? DirectoryOps.rename(first.path, to: target)) != nil else { return false }
        do {
            let output = try PosixFile.openAtEnd(target)
            for part in parts.dropFirst() {
                try output.append(contentsOf: try PosixFile.openForReading(part.path), length: part.size)
            }
            try output.sync()
        } catch {
            try? PosixFile.truncate(target, to: first.size)
            try? DirectoryOps.rename(target, to: first.path)
            return false
        }
        for part in parts.dropFirst() { try? DirectoryOps.unlinkIfPresent(part.path) }
        return true
    }

    /// The key's last segment, as a file name (`object` for one that cannot be).
    static func fileName(of key: String) -> String {
        let last = key.split(separator: "/").last.map(String.init) ?? ""
        return last.isEmpty || last == "." || last == ".." ? "object" : last
    }

    /// Where the store is, without its credentials (the journal's record has them; this
    /// folder is for reading).
    static func location(of store: StoreDescriptor) -> String {
        switch store {
        case .local(let root, _): root
        case .http(_, let endpoint, _, _, _, _, _, _, _, _, _): endpoint
        }
    }

    /// `00003`: part files sort in their order.
    static func partLabel(_ number: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    /// `20261130T071500Z`: folders sort in the order their uploads were refused.
    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}
