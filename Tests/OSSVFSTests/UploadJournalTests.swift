import Foundation
import Testing
import TestSupport
@testable import OSSVFS

@Suite struct UploadJournalTests {
    /// A record of a write-back upload of `key`, sealed at `sealedAt`.
    static func record(_ name: String, key: String, sealedAt: Double, folder: TemporaryFolder) -> UploadRecord {
        UploadRecord(name: name, store: .local(root: folder.path, bucket: "bucket"), key: key, metadata: [:],
                     writeBack: true, sealed: true, sealedAt: sealedAt)
    }

    /// The record's name in ``WriteBackOrder``.
    static func name(_ record: UploadRecord) -> String { WriteBackOrder.name(record.key, in: record.store) }

    /// A mark that an upload was stored while an older one of its name was pending stays while
    /// that older record is in the journal, and goes with it, in the same run: marks no longer
    /// pile up until the next start.
    @Test func aStoredMarkGoesWithTheLastOlderRecordOfItsName() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let journal = UploadJournal(directory: folder.path + "/journal")
        let older = Self.record("a", key: "k", sealedAt: 1, folder: folder)
        let newer = Self.record("b", key: "k", sealedAt: 2, folder: folder)
        let elsewhere = Self.record("c", key: "other", sealedAt: 0.5, folder: folder)
        for record in [older, newer, elsewhere] { try await journal.save(record) }
        await journal.markStored(newer)
        await journal.remove(newer.name, writeBackName: Self.name(newer))
        // The older upload of "k" must still never be completed: its mark is kept.
        #expect(await journal.marks().map(\.mark.sealedAt) == [2])
        // A record of another name, sealed earlier, does not hold the mark.
        await journal.remove(older.name, writeBackName: Self.name(older))
        #expect(await journal.marks().isEmpty)
        #expect(try await journal.records().map(\.name) == ["c"])
    }

    /// While a record cannot be read (it may be the older upload of the mark's name), no mark
    /// is removed.
    @Test func noMarkGoesWhileARecordIsUnreadable() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let journal = UploadJournal(directory: folder.path + "/journal")
        let (older, newer) = (Self.record("a", key: "k", sealedAt: 1, folder: folder),
                              Self.record("b", key: "k", sealedAt: 2, folder: folder))
        try await journal.save(older)
        try await journal.save(newer)
        await journal.markStored(newer)
        try Data("{damaged".utf8).write(to: URL(fileURLWithPath: folder.path + "/journal/a.json"))
        await journal.remove(newer.name, writeBackName: Self.name(newer))
        #expect(await journal.marks().count == 1)
    }
}
