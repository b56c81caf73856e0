import Foundation
import Testing
import TestSupport
@testable import OSSVFS

/// A local store that notes the ranges read from it; everything else goes straight through.
private final class RangeNotingStore: ObjectStore, @unchecked Sendable {
    let base: LocalStore
    let ranges = LockedBox<[ClosedRange<UInt64>]>([])

    init(_ base: LocalStore) { self.base = base }

    var capabilities: ObjectStoreCapabilities { base.capabilities }
    var identity: StoreIdentity { base.identity }
    var descriptor: StoreDescriptor { base.descriptor }
    func head(_ key: String) async throws -> ObjectInfo { try await base.head(key) }
    func get(_ key: String, range: ByteRange?, ifMatch: String?) async throws -> ObjectByteStream {
        if case .closed(let start, let end) = range { ranges.withValue { $0.append(start...end) } }
        return try await base.get(key, range: range, ifMatch: ifMatch)
    }
    func listPage(_ request: ListRequest) async throws -> ListPage { try await base.listPage(request) }
    func put(_ key: String, body: ObjectBody, metadata: [String: String], contentHeaders: [String: String],
             condition: WriteCondition) async throws -> String {
        try await base.put(key, body: body, metadata: metadata, contentHeaders: contentHeaders, condition: condition)
    }
    func createMultipartUpload(_ key: String, metadata: [String: String], contentHeaders: [String: String])
        async throws -> String {
        try await base.createMultipartUpload(key, metadata: metadata, contentHeaders: contentHeaders)
    }
    func uploadPart(_ key: String, uploadID: String, partNumber: Int, body: ObjectBody) async throws -> UploadedPart {
        try await base.uploadPart(key, uploadID: uploadID, partNumber: partNumber, body: body)
    }
    func completeMultipartUpload(_ key: String, uploadID: String, parts: [UploadedPart], condition: WriteCondition)
        async throws -> String { try await base.completeMultipartUpload(key, uploadID: uploadID, parts: parts, condition: condition) }
    func uploadPartCopy(_ key: String, uploadID: String, partNumber: Int, source: String, range: ClosedRange<UInt64>,
                        ifMatch: String?) async throws -> UploadedPart {
        try await base.uploadPartCopy(key, uploadID: uploadID, partNumber: partNumber, source: source, range: range,
                                      ifMatch: ifMatch)
    }
    func listParts(_ key: String, uploadID: String) async throws -> [UploadedPart] {
        try await base.listParts(key, uploadID: uploadID)
    }
    func abortMultipartUpload(_ key: String, uploadID: String) async throws {
        try await base.abortMultipartUpload(key, uploadID: uploadID)
    }
    func delete(_ key: String) async throws { try await base.delete(key) }
    func deleteMany(_ keys: [String]) async throws -> [String: ObjectStoreError] { try await base.deleteMany(keys) }
    func copy(from source: String, to destination: String, condition: WriteCondition) async throws {
        try await base.copy(from: source, to: destination, condition: condition)
    }
    func replaceMetadata(_ key: String, metadata: [String: String]) async throws {
        try await base.replaceMetadata(key, metadata: metadata)
    }
}

@Suite struct ReadAheadStreamTests {
    /// From an open, the range being read has the next two asked for behind it (1 MiB, 2 MiB,
    /// 4 MiB); after a seek, one small range alone, the next asked for only once it is read,
    /// each twice the last, until the window is back to 1 MiB. A seek used to start 1 MiB and
    /// 2 MiB at once, which the next seek of random reads (a database's pages) cut off
    /// mid-body, closing their connections.
    @Test func aSeekStartsSmallAndAlone() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = try folder.make("bucket")
        let store = RangeNotingStore(try LocalStore(root: folder.path, bucket: "bucket"))
        let data = (0..<(16 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 12) }
        try await store.put("big.bin", body: .bytes(data), metadata: [:])
        let stream = ReadAheadStream(store: store, info: try await store.head("big.bin"), offset: 0,
                                     configuration: ReadAheadConfiguration())
        defer { stream.cancel() }
        var read = try #require(try await stream.nextChunk())
        #expect(Array(data[0..<read.count]) == read)
        try await Task.sleep(for: .milliseconds(200))  // the second range's request is made in a task
        let mib: UInt64 = 1 << 20
        let opened: [ClosedRange<UInt64>] = [0...mib - 1, mib...3 * mib - 1, 3 * mib...7 * mib - 1]
        #expect(store.ranges.value.sorted { $0.lowerBound < $1.lowerBound } == opened)

        let at: UInt64 = 8 << 20
        store.ranges.withValue { $0 = [] }
        stream.seek(to: at)
        // One read after the seek: its range alone was asked for, nothing behind it.
        var got = try #require(try await stream.nextChunk())
        try await Task.sleep(for: .milliseconds(200))
        #expect(store.ranges.value == [at...at + (128 << 10) - 1])
        // Read through the small windows and into the first full one.
        while got.count < (128 + 256 + 512 + 1) << 10 {
            read = try #require(try await stream.nextChunk())
            got += read
        }
        #expect(Array(data[Int(at)..<Int(at) + got.count]) == got)
        try await Task.sleep(for: .milliseconds(200))
        let k: UInt64 = 1 << 10
        // 128 KiB, 256 KiB and 512 KiB one by one; then 1 MiB with the next two behind it again.
        let ends: [UInt64] = [0, 128, 384, 896, 1920, 3968, 8064]
        let sought: [ClosedRange<UInt64>] = zip(ends, ends.dropFirst()).map { at + $0 * k...at + $1 * k - 1 }
        #expect(store.ranges.value.sorted { $0.lowerBound < $1.lowerBound } == sought)
    }
}
