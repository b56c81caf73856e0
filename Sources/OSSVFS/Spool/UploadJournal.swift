import Foundation

/// What the journal knows of one upload: enough for a restarted ossftp to abort it (the client
/// was never told it succeeded) or to finish it (write-back: the client was told).
public struct UploadRecord: Codable, Sendable, Equatable {
    /// A part on disk in the spool, not yet in the store.
    public struct PendingPart: Codable, Sendable, Equatable {
        public var number: Int
        public var path: String
        public var size: UInt64
    }

    /// The upload's name: its journal file and the prefix of its spool files.
    public var name: String
    public var store: StoreDescriptor
    public var key: String
    public var metadata: [String: String]
    /// Standard headers the object is stored with (``ObjectInfo/contentHeaders``); absent when
    /// none, and in records of earlier versions.
    public var contentHeaders: [String: String]?
    public var writeBack: Bool
    /// Whether the commit may only create the object (absent: it may replace one).
    public var ifAbsent: Bool?
    /// The multipart upload, once started.
    public var uploadID: String?
    /// Whether the client was told the upload is done (write-back only).
    public var sealed = false
    /// When the client was told (seconds since 1970): uploads of one name are finished in
    /// this order (``WriteBackOrder``). Absent in records of earlier versions: oldest.
    public var sealedAt: Double?
    /// Whether CompleteMultipartUpload was sent: only then is an upload found gone taken for
    /// stored (its answer lost). Written from the first save on; absent (nil) only in records
    /// of earlier versions, which cannot say.
    public var completing: Bool? = false
    /// Parts in the store.
    public var stored: [UploadedPart] = []
    /// Parts on disk still to send.
    public var pending: [PendingPart] = []
    /// A file of one part, sent with one PUT.
    public var single: PendingPart?
    public var size: UInt64 = 0
}

/// Upload records on disk (`<spool>/journal/<name>.json`, mode 0600: they hold the store's
/// credentials). Each save is atomic and synced, so a record survives kill -9 and power loss.
public final class UploadJournal: Sendable {
    public let directory: String
    /// How many marks of each write-back name may be on disk: a record's removal sweeps the
    /// marks of its own name only, and only while there are some.
    private let marksByName = LockedBox<[String: Int]>([:])

    public init(directory: String) {
        self.directory = directory
    }

    private func path(_ name: String) -> String { "\(directory)/\(name).json" }

    /// Writes a record (temporary file, fsync, rename).
    public func save(_ record: UploadRecord) async throws {
        try await write(Array(try JSONEncoder().encode(record)), to: path(record.name))
    }

    private func write(_ data: [UInt8], to target: String) async throws {
        let directory = self.directory
        try await BlockingIO.run {
            try DirectoryOps.makePath(directory, under: "", mode: 0o700)
            let temp = target + ".tmp-" + DirectoryOps.randomName()
            do {
                let file = try PosixFile.createExclusive(temp, mode: 0o600)
                defer { try? file.close() }
                try file.writeAll(data)
                try file.sync()
                try DirectoryOps.rename(temp, to: target)
            } catch {
                // A full disk must not leave one empty file per attempt behind.
                try? DirectoryOps.unlinkIfPresent(temp)
                throw error
            }
            // The new name itself must survive a power loss, not only the bytes.
            try DirectoryOps.syncFolder(directory)
        }
    }

    /// That an upload of a name, sealed at `sealedAt`, was stored while uploads of the name
    /// sealed before it were still in the journal: those must never be completed, by this run
    /// or a later one (their older bytes would replace the newer). Marks are removed once no
    /// such upload is left: when the last record of the name goes, or at the next start.
    struct StoredMark: Codable {
        var name: String
        var sealedAt: Double
    }

    /// `record` is stored while other uploads of its name are pending: leaves a
    /// ``StoredMark``. (Editing their records instead raced with their own saves.)
    func markStored(_ record: UploadRecord) async {
        let mark = StoredMark(name: WriteBackOrder.name(record.key, in: record.store), sealedAt: record.sealedAt ?? 0)
        guard let data = try? JSONEncoder().encode(mark) else { return }
        marksByName.withValue { $0[mark.name, default: 0] += 1 }
        try? await write(Array(data), to: "\(directory)/stored-\(DirectoryOps.randomName()).mark")
    }

    /// Removes the marks no record needs any more (those with no upload of their name sealed
    /// before them left in `records`, every record of the journal, read at start) and counts
    /// those kept. Returns them.
    @discardableResult
    func removeMarks(notNeededBy records: [UploadRecord]) async -> [StoredMark] {
        var kept: [StoredMark] = []
        for (path, mark) in await marks() {
            if Self.needs(mark, records) { kept.append(mark) } else { await removeFile(path) }
        }
        marksByName.withValue { counts in
            counts = [:]
            for mark in kept { counts[mark.name, default: 0] += 1 }
        }
        return kept
    }

    /// Whether an upload in `records` of the mark's name was sealed before it.
    private static func needs(_ mark: StoredMark, _ records: [UploadRecord]) -> Bool {
        records.contains { WriteBackOrder.name($0.key, in: $0.store) == mark.name && ($0.sealedAt ?? 0) < mark.sealedAt }
    }

    /// After the removal of a record of the write-back name `name`, while this process knows
    /// of marks of it: those no record needs any more go, rather than piling up in the journal
    /// until a restart. The marks are listed before the records are read: a record sealed
    /// before a mark was saved before the mark was written, so it is in the records read, and a
    /// mark written meanwhile is not judged. Nothing is removed while a record cannot be read.
    private func removeMarksNoLongerNeeded(of name: String) async {
        guard (marksByName.value[name] ?? 0) > 0 else { return }
        let listed = await marks().filter { $0.mark.name == name }
        guard let journal = try? await readAll(), journal.unreadable.isEmpty else { return }
        var removed = 0
        for (path, mark) in listed where !Self.needs(mark, journal.records) {
            await removeFile(path)
            removed += 1
        }
        marksByName.withValue { counts in
            let left = (counts[name] ?? 0) - removed
            counts[name] = left > 0 ? left : nil
        }
    }

    /// The marks left, each with its file.
    func marks() async -> [(path: String, mark: StoredMark)] {
        let directory = self.directory
        return (try? await BlockingIO.run {
            guard let entries = try DirectoryOps.entries(of: directory) else { return [] }
            return entries.filter { $0.name.hasSuffix(".mark") }.compactMap { entry in
                let path = "\(directory)/\(entry.name)"
                guard let file = try? PosixFile.openForReading(path), let bytes = try? file.read(at: 0, count: 1 << 16),
                    let mark = try? JSONDecoder().decode(StoredMark.self, from: Data(bytes))
                else { return nil }
                return (path, mark)
            }
        }) ?? []
    }

    func removeFile(_ path: String) async {
        _ = try? await BlockingIO.run { try DirectoryOps.unlinkIfPresent(path) }
    }

    /// Removes a record; `writeBackName`, its upload's name in ``WriteBackOrder``, lets marks
    /// of that name that no record needs any more go with it.
    public func remove(_ name: String, writeBackName: String? = nil) async {
        await removeFile(path(name))
        if let writeBackName { await removeMarksNoLongerNeeded(of: writeBackName) }
    }

    /// Every record, oldest name order; unreadable files are skipped.
    public func records() async throws -> [UploadRecord] {
        try await readAll().records
    }

    /// The records, and the paths of the record files that could not be read as one (damaged,
    /// or written by another version).
    public func readAll() async throws -> (records: [UploadRecord], unreadable: [String]) {
        let directory = self.directory
        return try await BlockingIO.run {
            guard let entries = try DirectoryOps.entries(of: directory) else { return ([], []) }
            var records: [UploadRecord] = []
            var unreadable: [String] = []
            for entry in entries.filter({ $0.name.hasSuffix(".json") }).sorted(by: { $0.name < $1.name }) {
                let path = "\(directory)/\(entry.name)"
                if let file = try? PosixFile.openForReading(path), let bytes = try? file.read(at: 0, count: 16 << 20),
                    let record = try? JSONDecoder().decode(UploadRecord.self, from: Data(bytes))
                {
                    records.append(record)
                } else {
                    unreadable.append(path)
                }
            }
            return (records, unreadable)
        }
    }
}
