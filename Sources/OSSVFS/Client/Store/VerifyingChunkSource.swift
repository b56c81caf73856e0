import Foundation

/// Passes a download through while counting it and computing its CRC-64 and MD5, and fails
/// if it ends with another length than its headers said (a broken transfer, which a reader
/// may resume) or either checksum differs from what the store announced: a corrupted or
/// truncated download never ends as a success.
final class VerifyingChunkSource: ObjectChunkSource, @unchecked Sendable {
    private let upstream: ObjectByteStream
    private let key: String
    private let expectedCRC64: UInt64?
    private let expectedMD5: String?
    private let expectedBytes: UInt64?
    private var received: UInt64 = 0
    // Set from any thread (a reader cancelling while another waits for a chunk).
    private let cancelled = LockedBox(false)
    private var crc = CRC64()
    private var md5: Digest?

    init(upstream: ObjectByteStream, key: String, expectedCRC64: UInt64?, expectedMD5: String?,
         expectedLength: UInt64? = nil) {
        self.upstream = upstream
        self.key = key
        self.expectedCRC64 = expectedCRC64
        self.expectedMD5 = expectedMD5
        self.expectedBytes = expectedLength
        if expectedMD5 != nil { md5 = Digest(.md5) }
    }

    var expectedLength: UInt64? { expectedBytes }

    func nextChunk() async throws -> [UInt8]? {
        let next: [UInt8]?
        do {
            next = try await upstream.source.nextChunk()
        } catch let error as HTTPTransportError {
            // Named as the store's failure (451, EIO): left as the transport's, the FTP
            // frontend took a body cut mid-way for its own client's connection (426).
            throw ObjectStoreError.transport(error.description, curlCode: error.code)
        }
        guard let chunk = next else {
            // Cut off by its reader: the end it asked for, not a short body.
            if cancelled.value { return nil }
            if let expectedBytes, received < expectedBytes {
                throw ObjectStoreError.transport("the store's answer ended after \(received) of \(expectedBytes) bytes")
            }
            if let expectedCRC64, crc.value != expectedCRC64 {
                throw ObjectStoreError.checksumMismatch(expected: String(expectedCRC64), actual: String(crc.value))
            }
            if let expectedMD5, let digest = md5.take()?.finalize(), hexString(digest) != expectedMD5 {
                throw ObjectStoreError.checksumMismatch(expected: expectedMD5, actual: hexString(digest))
            }
            return nil
        }
        received += UInt64(chunk.count)
        if let expectedBytes, received > expectedBytes {
            upstream.cancel()
            throw ObjectStoreError.service(status: 200, code: "InvalidRangeAnswer",
                                           message: "the store's answer holds more than \(expectedBytes) bytes", requestID: nil)
        }
        if expectedCRC64 != nil { crc.update(chunk) }
        md5?.update(chunk)
        return chunk
    }

    func cancel() {
        cancelled.withValue { $0 = true }
        upstream.cancel()
    }
}
