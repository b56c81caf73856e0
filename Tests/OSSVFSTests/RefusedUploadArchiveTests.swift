import Foundation
import Testing
@testable import OSSVFS

/// What the spool keeps of a write-back upload the store refused after its client was told
/// it is stored.
@Suite final class RefusedUploadArchiveTests {
    let spool: String

    init() throws {
        spool = NSTemporaryDirectory() + "refused-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(atPath: spool) }

    func part(_ number: Int, _ bytes: [UInt8]) throws -> UploadRecord.PendingPart {
        let path = "\(spool)/upload-u1-\(number)"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return UploadRecord.PendingPart(number: number, path: path, size: UInt64(bytes.count))
    }

    func record(size: UInt64) -> UploadRecord {
        UploadRecord(name: "u1", store: .http(kind: "s3", endpoint: "http://127.0.0.1:9", region: "r", pathStyle: true,
                                              signatureVersion: 4, hierarchicalNamespace: false, bucket: "b",
                                              accessKeyID: "AKID", secret: "SECRET", token: nil),
                     key: "in/scan.pdf", metadata: [:], writeBack: true, size: size)
    }

    func description(in folder: String) throws -> RefusedUploadArchive.Description {
        try JSONDecoder().decode(RefusedUploadArchive.Description.self,
                                 from: Data(contentsOf: URL(fileURLWithPath: folder + "/refused.json")))
    }

    /// Every part still in the spool: one file, in part order, named as the key's last segment.
    @Test func partsThatAreAllHereMakeTheFileWhole() throws {
        var upload = record(size: 7)
        upload.pending = [try part(2, [4, 5, 6]), try part(1, [1, 2, 3]), try part(3, [7])]
        let folder = try #require(try RefusedUploadArchive.keep(upload, spool: spool, error: ObjectStoreError.accessDenied(requestID: nil)))
        #expect(FileManager.default.contents(atPath: folder + "/scan.pdf") == Data([1, 2, 3, 4, 5, 6, 7]))
        let about = try description(in: folder)
        #expect(about.file == "scan.pdf" && about.key == "in/scan.pdf" && about.bucket == "b" && about.size == 7)
        #expect(about.store == "http://127.0.0.1:9")
        #expect(try !String(contentsOfFile: folder + "/refused.json", encoding: .utf8).contains("SECRET"))
        #expect(!FileManager.default.fileExists(atPath: "\(spool)/upload-u1-1"))
        #expect(!FileManager.default.fileExists(atPath: "\(spool)/upload-u1-2"))
    }

    /// Parts the store had taken are gone from the spool: the others are kept as parts, and
    /// the description says which are missing.
    @Test func partsAlreadySentLeaveTheOthersAsParts() throws {
        var upload = record(size: 9)
        upload.stored = [UploadedPart(partNumber: 1, etag: "e1", size: 3)]
        upload.pending = [try part(2, [4, 5, 6]), try part(3, [7, 8, 9]),
                          UploadRecord.PendingPart(number: 1, path: "\(spool)/upload-u1-gone", size: 3)]
        let folder = try #require(try RefusedUploadArchive.keep(upload, spool: spool, error: ObjectStoreError.noSuchUpload("x")))
        #expect(FileManager.default.contents(atPath: folder + "/scan.pdf.part-00002") == Data([4, 5, 6]))
        #expect(FileManager.default.contents(atPath: folder + "/scan.pdf.part-00003") == Data([7, 8, 9]))
        #expect(!FileManager.default.fileExists(atPath: folder + "/scan.pdf"))
        let about = try description(in: folder)
        #expect(about.file == nil && about.partsKept == [2, 3] && about.partsLost == [1])
    }

    /// A file of one part, and an empty file; nothing kept when the spool holds none of it.
    @Test func singleAndEmptyFiles() throws {
        var single = record(size: 2)
        single.single = try part(1, [8, 9])
        let first = try #require(try RefusedUploadArchive.keep(single, spool: spool, error: ObjectStoreError.accessDenied(requestID: nil)))
        #expect(FileManager.default.contents(atPath: first + "/scan.pdf") == Data([8, 9]))
        let empty = try #require(try RefusedUploadArchive.keep(record(size: 0), spool: spool, error: ObjectStoreError.accessDenied(requestID: nil)))
        #expect(FileManager.default.contents(atPath: empty + "/scan.pdf") == Data())
        #expect(first != empty)
        var sent = record(size: 3)
        sent.stored = [UploadedPart(partNumber: 1, etag: "e1", size: 3)]
        #expect(try RefusedUploadArchive.keep(sent, spool: spool, error: ObjectStoreError.accessDenied(requestID: nil)) == nil)
    }
}
