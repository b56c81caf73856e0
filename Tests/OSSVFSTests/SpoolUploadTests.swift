import Foundation
import Testing
import TestSupport
@testable import OSSVFS

@Suite struct SpoolUploadTests {
    /// A local store in a temporary folder and a spool folder on another file system (tmpfs),
    /// so that the store copies spool files instead of adopting them and the budget applies as
    /// for a remote store.
    static func withForeignSpool(syncsWrites: Bool = false,
                                 _ body: (LocalStore, String) async throws -> Void) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = try folder.make("bucket")
        let spool = try TemporaryFolder(under: "/dev/shm")
        defer { spool.remove() }
        let store = try LocalStore(root: folder.path, bucket: "bucket", syncsWrites: syncsWrites)
        #expect(!store.adoptsFiles(in: spool.path), "/dev/shm must be another file system than \(folder.path)")
        try await body(store, spool.path)
    }

    /// More uploads than the budget holds parts for: each takes budget a step at a time and
    /// seals a smaller part rather than wait on the others, so all finish, intact, and the
    /// budget is whole again afterwards.
    @Test func manyUploadsShareASmallBudgetWithoutDeadlock() async throws {
        let bodies = (0..<6).map { index in
            [UInt8](repeating: UInt8(index), count: 20 << 20) + Array("end of \(index)".utf8)
        }
        try await Self.uploadTogether(bodies, writeSize: 256 << 10, budgetLimit: 24 << 20)
    }

    /// The same with writes larger than a paced part (1 MiB, before the store's rate is known),
    /// as FTP gathers them: a part sealed early for want of budget left the write sized for it
    /// to overrun the next, smaller part, and the write after that trapped (the server died).
    @Test func writesLargerThanAPacedPartFitTheNextPartAfterAnEarlySeal() async throws {
        let bodies = (0..<6).map { index in
            (0..<24).flatMap { [UInt8](repeating: UInt8(truncatingIfNeeded: $0 &* 7 &+ index), count: 1 << 20) }
                + Array("end of \(index)".utf8)
        }
        try await Self.uploadTogether(bodies, writeSize: 1_287_070, budgetLimit: 24 << 20)
    }

    /// Uploads `bodies` at once, each in writes of `writeSize`, through a spool of 16 MiB parts
    /// and a budget of `budgetLimit`; checks every object and that the budget came back whole.
    static func uploadTogether(_ bodies: [[UInt8]], writeSize: Int, budgetLimit: Int64) async throws {
        try await withForeignSpool { store, spoolPath in
            let budget = SpoolBudget(limit: budgetLimit)
            let spool = SpoolConfiguration(directory: spoolPath, partSize: 16 << 20, budget: budget)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, body) in bodies.enumerated() {
                    group.addTask {
                        let upload = SpoolUpload(store: store, key: "f\(index)", configuration: spool)
                        var offset = 0
                        while offset < body.count {
                            let end = min(body.count, offset + writeSize)
                            try await upload.write(Array(body[offset..<end]))
                            offset = end
                        }
                        try await upload.commit()
                    }
                }
                try await group.waitForAll()
            }
            for (index, body) in bodies.enumerated() {
                var stored: [UInt8] = []
                for try await chunk in try await store.get("f\(index)", range: nil) { stored += chunk }
                #expect(stored == body)
            }
            #expect(await budget.used == 0)
            #expect(await budget.peak <= budgetLimit)
        }
    }

    /// A small upload takes budget for what it writes, not a whole part.
    @Test func aSmallUploadHoldsOneStepOfBudget() async throws {
        try await Self.withForeignSpool(syncsWrites: true) { store, spoolPath in
            let budget = SpoolBudget(limit: 1 << 30)
            let spool = SpoolConfiguration(directory: spoolPath, partSize: 64 << 20, budget: budget)
            let upload = SpoolUpload(store: store, key: "small", configuration: spool)
            try await upload.write([UInt8](repeating: 7, count: 1 << 20))
            #expect(await budget.used == SpoolUpload.reservationStep)
            try await upload.commit()
            #expect(await budget.used == 0)
            #expect(try await store.head("small").size == 1 << 20)
        }
    }

    /// With the spool on the local store's file system, an upload stays one spool file that
    /// becomes the object by a link: never cut into parts (here four parts' worth), never
    /// copied, and holding no budget, even one smaller than the upload.
    @Test func theLocalStoreAdoptsTheSpoolFileWhole() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = try folder.make("bucket")
        let store = try LocalStore(root: folder.path, bucket: "bucket", syncsWrites: false)
        #expect(store.adoptsFiles(in: folder.path))
        let budget = SpoolBudget(limit: 8 << 20)
        let spool = SpoolConfiguration(directory: folder.path + "/spool", partSize: 1 << 20, budget: budget)
        let upload = SpoolUpload(store: store, key: "whole", configuration: spool)
        let body = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for start in stride(from: 0, to: body.count, by: 256 << 10) {
            try await upload.write(Array(body[start..<(start + (256 << 10))]))
        }
        var spoolFiles = try FileManager.default.contentsOfDirectory(atPath: folder.path + "/spool")
            .filter { $0.hasPrefix("upload-") }
        #expect(spoolFiles.count == 1)
        let inode = try FileManager.default.attributesOfItem(atPath: folder.path + "/spool/" + spoolFiles[0])[.systemFileNumber]
        #expect(await budget.peak == 0)
        try await upload.commit()
        #expect(try await collect(store.get("whole", range: nil)) == body)
        #expect(try FileManager.default.attributesOfItem(atPath: folder.path + "/bucket/whole")[.systemFileNumber] as? Int
            == inode as? Int)
        // Readable as any object's file, not the spool's owner-only mode.
        #expect(try FileManager.default.attributesOfItem(atPath: folder.path + "/bucket/whole")[.posixPermissions] as? Int
            == 0o644)
        spoolFiles = try FileManager.default.contentsOfDirectory(atPath: folder.path + "/spool")
            .filter { $0.hasPrefix("upload-") }
        #expect(spoolFiles.isEmpty)
        #expect(try await store.listPage(ListRequest(prefix: "")).objects.map(\.key) == ["whole"])
        // No multipart upload was ever started.
        let uploads = (try? FileManager.default.contentsOfDirectory(atPath: store.layout.uploadsFolderPath)) ?? []
        #expect(uploads.isEmpty)
    }

    /// A run killed between completing a write-back upload and dropping its record: the next
    /// start finds the upload gone and the object whole, and only drops the record.
    @Test func recoveryOfAnUploadCompletedJustBeforeAKill() async throws {
        try await Self.withJournal { folder, store, journal in
            let id = try await store.createMultipartUpload("done", metadata: [:])
            let part = try await store.uploadPart("done", uploadID: id, partNumber: 1, body: .bytes([7, 7, 7]))
            var record = UploadRecord(name: "r1", store: .local(root: folder.path, bucket: "bucket"), key: "done",
                                      metadata: [:], writeBack: true, uploadID: id)
            record.sealed = true
            record.stored = [part]
            record.size = 3
            // Saved before the completion is sent, as finish() does.
            record.completing = true
            try await journal.save(record)
            try await store.completeMultipartUpload("done", uploadID: id, parts: [part])

            try await UploadRecovery.finish(record, store: store, journal: journal)
            #expect(try await journal.records().isEmpty)
            #expect(try await collect(store.get("done", range: nil)) == [7, 7, 7])

            // Gone and not stored whole: that is a loss, reported, and the record is kept.
            var lost = record
            lost.name = "r2"
            lost.key = "missing"
            try await journal.save(lost)
            await #expect(throws: ObjectStoreError.self) {
                try await UploadRecovery.finish(lost, store: store, journal: journal)
            }
            #expect(try await journal.records().map(\.name) == ["r2"])

            // Gone without a completion sent (aborted by someone else): an object of the same
            // size is not taken for this upload.
            let other = try await store.createMultipartUpload("done", metadata: [:])
            try await store.abortMultipartUpload("done", uploadID: other)
            var aborted = record
            aborted.name = "r3"
            aborted.uploadID = other
            aborted.completing = false
            try await journal.save(aborted)
            await #expect(throws: ObjectStoreError.self) {
                try await UploadRecovery.finish(aborted, store: store, journal: journal)
            }
        }
    }

    /// A local store in a temporary folder and a journal in its spool folder.
    static func withJournal(_ body: (TemporaryFolder, LocalStore, UploadJournal) async throws -> Void) async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = try folder.make("bucket")
        let store = try LocalStore(root: folder.path, bucket: "bucket", syncsWrites: false)
        try await body(folder, store, UploadJournal(directory: folder.path + "/spool/journal"))
    }

    /// Chunks of odd sizes, handed over as several at once, cross part boundaries and reach
    /// the spool by vectored writes: the object has every byte in order.
    @Test func chunksHandedOverTogetherCrossPartsIntact() async throws {
        try await Self.withForeignSpool { store, spoolPath in
            let spool = SpoolConfiguration(directory: spoolPath, partSize: 1 << 20, writeBufferSize: 64 << 10,
                                           budget: SpoolBudget(limit: 64 << 20))
            let upload = SpoolUpload(store: store, key: "pieces", configuration: spool)
            let body = (0..<(3 << 20) + 12_345).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
            var offset = 0
            var sizes = [1, 70_001, 13, 200_000, 4096, 65_536, 0, 333_333]
            while offset < body.count {
                var batch: [any VFSBytes] = []
                for _ in 0..<5 where offset < body.count {
                    let size = min(sizes[0], body.count - offset)
                    sizes.append(sizes.removeFirst())
                    batch.append(Array(body[offset..<(offset + size)]))
                    offset += size
                }
                try await upload.write(contentsOf: batch)
            }
            try await upload.commit()
            #expect(try await collect(store.get("pieces", range: nil)) == body)
        }
    }

    /// Writes back into an upload reach its bytes wherever the spool still holds them (the
    /// first part kept back, the part being written, the buffer, and across their borders), and
    /// read back what they wrote. Once the first part has gone to the store a write there is
    /// refused, and the upload goes on unchanged to store exactly what was written.
    @Test func overwritesReachEveryByteStillInTheSpool() async throws {
        try await Self.withForeignSpool { store, spoolPath in
            let model = ModelledUpload(store: store, key: "patched", spoolPath: spoolPath)
            let upload = model.upload
            func append(_ count: Int, _ seed: Int) async throws { try await model.append(count, seed) }
            func patch(_ count: Int, at offset: Int, _ seed: Int) async throws {
                let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 5 &+ seed) }
                try await upload.overwrite(bytes, at: UInt64(offset))
                if offset + count > model.expected.count { model.expected += [UInt8](repeating: 0, count: offset + count - model.expected.count) }
                model.expected.replaceSubrange(offset..<(offset + count), with: bytes)
            }
            func check(_ ranges: [(Int, Int)]) async throws {
                for (offset, count) in ranges {
                    let got = try await upload.readBack(at: UInt64(offset), count: count)
                    #expect(got == Array(model.expected[offset..<min(model.expected.count, offset + count)]))
                }
            }
            // 240,000 bytes in the part file being written, then 40,000 in the buffer.
            for index in 0..<14 { try await append(20_000, index) }
            for (count, offset) in [(4096, 0), (5000, 100_000), (300, 239_900), (20, 240_005), (3000, 279_000)] {
                try await patch(count, at: offset, count)
            }
            #expect(model.expected.count == 282_000)
            try await check([(0, 5000), (239_800, 500), (279_000, 10_000)])
            // The buffer flushed to exactly 1 MiB seals the first part, kept back until a second
            // begins; 10,000 bytes wait in the buffer after it.
            try await append((1 << 20) - model.expected.count, 7)
            try await append(10_000, 8)
            try await patch(100, at: (1 << 20) - 50, 9)
            try await patch(64, at: 10, 10)
            try await check([(0, 100), ((1 << 20) - 60, 200)])
            #expect(try await upload.readBack(at: UInt64(model.expected.count), count: 10).isEmpty)
            await #expect(throws: VFSError.self) { try await upload.overwrite([1], at: UInt64(model.expected.count + 1)) }
            // A second part begins: the first goes up, and its bytes can no longer change.
            try await append(100_000, 11)
            await #expect(throws: VFSError.self) { try await upload.overwrite([1, 2, 3], at: 10) }
            await #expect(throws: VFSError.self) { _ = try await upload.readBack(at: 10, count: 3) }
            try await patch(7, at: model.expected.count - 3, 42)
            try await upload.commit()
            #expect(try await collect(store.get("patched", range: nil)) == model.expected)
        }
    }

    /// With sent parts kept (the mount), bytes already sent are read back and patched until
    /// the commit, which sends the patched parts again; past the retention nothing more is
    /// kept, and those bytes are refused once sent, as before, while the kept ones stay open.
    /// Nothing is left in the spool afterwards.
    @Test func keptPartsAreReadAndPatchedUntilTheCommit() async throws {
        try await Self.withForeignSpool { store, spoolPath in
            let model = ModelledUpload(store: store, key: "kept", spoolPath: spoolPath, retainSentBytes: 3 << 20)
            let upload = model.upload
            func patch(_ count: Int, at offset: Int, _ seed: Int) async throws {
                let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 3 &+ seed) }
                try await upload.overwrite(bytes, at: UInt64(offset))
                model.expected.replaceSubrange(offset..<(offset + count), with: bytes)
            }
            // Parts 1 and 2 sent (part 3 being written).
            for index in 0..<5 { try await model.append(500_000 + index, index) }
            try await patch(100, at: 10, 1)
            try await patch(300, at: (1 << 20) - 150, 2)
            for (offset, count) in [(0, 200), ((1 << 20) - 200, 400), ((2 << 20) - 10, 20)] {
                #expect(try await upload.readBack(at: UInt64(offset), count: count)
                        == Array(model.expected[offset..<(offset + count)]))
            }
            try await patch(50, at: 10, 3)
            // Part 3 fills the 3 MiB kept; part 4 does not fit, so it is not kept once sent,
            // nor any later part. The three kept stay open to patches.
            try await model.append((3 << 20) - model.expected.count + 100_000, 9)
            try await patch(10, at: (2 << 20) + 5, 4)
            try await model.append(1 << 20, 10)
            try await patch(3, at: 10, 5)
            await #expect(throws: VFSError.self) { try await upload.overwrite([1, 2, 3], at: (3 << 20) + 10) }
            await #expect(throws: VFSError.self) { _ = try await upload.readBack(at: (3 << 20) - 2, count: 4) }
            #expect(try await upload.readBack(at: 8, count: 6) == Array(model.expected[8..<14]))
            try await upload.commit()
            let stored = try await collect(store.get("kept", range: nil))
            let same = stored == model.expected
            #expect(same)
            if !same {
                let first = zip(stored, model.expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                Issue.record("sizes \(stored.count) \(model.expected.count), first difference at \(String(describing: first))")
            }
            let left = try FileManager.default.contentsOfDirectory(atPath: spoolPath)
            #expect(left.isEmpty, "\(left)")
        }
    }

    /// Cutting an upload back while the bytes cut are in the spool: in the buffer, in the part
    /// being written, into the first part kept back (which becomes the part being written
    /// again); refused once they have gone to the store. Writing goes on from the new end.
    @Test func truncationCutsBytesStillInTheSpool() async throws {
        try await Self.withForeignSpool { store, spoolPath in
            let model = ModelledUpload(store: store, key: "cut", spoolPath: spoolPath)
            let upload = model.upload
            func append(_ count: Int, _ seed: Int) async throws { try await model.append(count, seed) }
            func cut(to size: Int) async throws {
                try await upload.truncate(to: UInt64(size))
                model.expected.removeLast(model.expected.count - size)
                let tail = try await upload.readBack(at: UInt64(max(0, size - 100)), count: 1000)
                #expect(tail == Array(model.expected[max(0, size - 100)...]))
            }
            for index in 0..<14 { try await append(20_000, index) }  // 240,000 in the part, 40,000 buffered
            try await cut(to: 270_000)
            try await cut(to: 200_000)
            try await append(10_000, 1)
            #expect(try await upload.readBack(at: 199_990, count: 20) == Array(model.expected[199_990..<200_010]))
            // Exactly 1 MiB seals the first part, kept back; 10,000 more wait in the buffer.
            try await append((1 << 20) - model.expected.count, 2)
            try await append(10_000, 3)
            try await cut(to: (1 << 20) - 100)
            try await append(50, 4)
            // A second part begins: the first goes up, and can no longer be cut.
            try await append(200_000, 5)
            await #expect(throws: VFSError.self) { try await upload.truncate(to: 10) }
            try await cut(to: model.expected.count - 5)
            // Cut at the second part's very start: no empty part is sent; writing goes on.
            try await upload.truncate(to: 1 << 20)
            model.expected.removeLast(model.expected.count - (1 << 20))
            try await append(1000, 6)
            try await upload.commit()
            #expect(try await collect(store.get("cut", range: nil)) == model.expected)
        }
    }

    /// A run folder is never taken for abandoned while its process holds it; once its lock is
    /// gone (the process killed) the next caller gets it, locked, to clear.
    @Test func runFoldersAreAbandonedOnlyWhenTheirLockIsFree() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var running: SpoolRunFolder? = try SpoolRunFolder.claim(in: folder.path, prefix: "run-")
        let path = running!.path
        let other = try SpoolRunFolder.claim(in: folder.path, prefix: "run-")
        #expect(path.hasPrefix(folder.path + "/run-") && path != other.path)
        #expect(SpoolRunFolder.abandoned(in: folder.path, prefix: "run-").isEmpty)
        running = nil  // as if killed: the folder stays, its lock is free
        let abandoned = SpoolRunFolder.abandoned(in: folder.path, prefix: "run-")
        #expect(abandoned.map(\.path) == [path])
        #expect(SpoolRunFolder.abandoned(in: folder.path, prefix: "run-").isEmpty)  // locked by the finder now
        abandoned.forEach { $0.remove() }
        #expect(!FileManager.default.fileExists(atPath: path) && FileManager.default.fileExists(atPath: other.path))
        // Killed while making its folder, before the rename (with its lock or before it): left
        // alone for a minute, as a process may still be making it, then cleared.
        for (name, locked) in [("a", true), ("b", false)] {
            let making = folder.path + "/" + SpoolRunFolder.makingPrefix + name
            #expect(mkdir(making, 0o700) == 0)
            if locked { #expect(FileManager.default.createFile(atPath: making + "/.lock", contents: nil)) }
        }
        #expect(SpoolRunFolder.abandoned(in: folder.path, prefix: "run-").isEmpty)
        for name in ["a", "b"] {
            var old = [timespec(tv_sec: time(nil) - 120, tv_nsec: 0), timespec(tv_sec: time(nil) - 120, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, folder.path + "/" + SpoolRunFolder.makingPrefix + name, &old, 0) == 0)
        }
        let leftovers = SpoolRunFolder.abandoned(in: folder.path, prefix: "run-")
        #expect(leftovers.map(\.path).sorted() == ["a", "b"].map { folder.path + "/" + SpoolRunFolder.makingPrefix + $0 })
        leftovers.forEach { $0.remove() }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [other.path.split(separator: "/").last.map(String.init)!])
    }

    /// A record whose multipart upload cannot be aborted (no store to tell) is kept for the
    /// next start; once aborted, it goes.
    @Test func aRecordIsDroppedOnlyOnceItsUploadIsAborted() async throws {
        try await Self.withJournal { folder, store, journal in
            let id = try await store.createMultipartUpload("k", metadata: [:])
            let record = UploadRecord(name: "r", store: .local(root: folder.path, bucket: "bucket"), key: "k",
                                      metadata: [:], writeBack: false, uploadID: id)
            try await journal.save(record)
            #expect(await UploadRecovery.drop(record, store: nil, journal: journal) == false)
            #expect(try await journal.records().map(\.name) == ["r"])
            #expect(await UploadRecovery.drop(record, store: store, journal: journal))
            #expect(try await journal.records().isEmpty)
            // Already gone from the store: nothing to abort, so the record goes too.
            try await journal.save(record)
            #expect(await UploadRecovery.drop(record, store: store, journal: journal))
        }
    }

    /// A vectored write of a range that starts and ends inside pieces writes just that range.
    @Test func vectoredWriteOfARange() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let pieces: [[UInt8]] = [Array(0..<10), [], Array(10..<13), Array(13..<40)]
        let file = try PosixFile.createExclusive(folder.path + "/f")
        try ([any VFSBytes])(pieces).withUnsafeBuffers { try file.writeAll($0, range: 7..<31) }
        try file.close()
        #expect(try PosixFile.openForReading(folder.path + "/f").read(at: 0, count: 100) == Array(7..<31))
    }
}

/// An upload beside the bytes it should hold, for tests that write, patch and cut it: parts of
/// 1 MiB, a 64 KiB buffer.
final class ModelledUpload: @unchecked Sendable {
    let upload: SpoolUpload
    var expected: [UInt8] = []
    /// The first bytes kept once sent (``SpoolUpload/keepSentBytes(upTo:)``), set at the first append.
    var keptBytes: Int64 = 0

    init(store: LocalStore, key: String, spoolPath: String, retainSentBytes: Int64 = 0) {
        let spool = SpoolConfiguration(directory: spoolPath, partSize: 1 << 20, writeBufferSize: 64 << 10,
                                       budget: SpoolBudget(limit: 64 << 20))
        upload = SpoolUpload(store: store, key: key, configuration: spool)
        keptBytes = retainSentBytes
    }

    func append(_ count: Int, _ seed: Int) async throws {
        if expected.isEmpty && keptBytes > 0 { await upload.keepSentBytes(upTo: keptBytes) }
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ seed) }
        try await upload.write(bytes)
        expected += bytes
    }
}
