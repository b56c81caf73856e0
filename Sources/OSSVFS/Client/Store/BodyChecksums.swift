import Foundation

/// What lets the store check a request body, computed before sending (off the event loops).
/// OSS gets Content-MD5, and its CRC-64 is compared with the one it reports. S3 gets CRC-32C
/// (`x-amz-checksum-crc32c`), which AWS S3, MinIO and SeaweedFS check as they check
/// Content-MD5: the same refusal of a damaged body for a tenth of MD5's CPU. S3 stores that
/// refuse the header get Content-MD5 (``StoreDialect/BodyChecksum``).
struct BodyChecksums {
    var md5: [UInt8]?
    var crc64: UInt64?
    var crc32c: CRC32C?

    static func compute(_ body: ObjectBody, for dialect: StoreDialect) async throws -> BodyChecksums {
        try await compute(body, md5: dialect.bodyChecksum == .md5, crc64: dialect.kind == .oss,
                          crc32c: dialect.bodyChecksum == .crc32c)
    }

    static func compute(_ body: ObjectBody, md5 wantMD5: Bool, crc64 wantCRC64: Bool, crc32c wantCRC32C: Bool)
        async throws -> BodyChecksums
    {
        try await BlockingIO.run {
            var md5: Digest? = wantMD5 ? Digest(.md5) : nil
            var crc: CRC64? = wantCRC64 ? CRC64() : nil
            var crc32c: CRC32C? = wantCRC32C ? CRC32C() : nil
            switch body {
            case .bytes(let bytes):
                md5?.update(bytes)
                crc?.update(bytes)
                crc32c?.update(bytes)
            case .file(let path, let offset, let length, _):
                let file = try PosixFile.openForReading(path)
                var position = offset
                while position < offset + length {
                    let chunk = try file.read(at: position, count: Int(min(1 << 20, offset + length - position)))
                    guard !chunk.isEmpty else { throw ObjectStoreError.io(operation: "read \(path): short", errno: 5) }
                    md5?.update(chunk)
                    crc?.update(chunk)
                    crc32c?.update(chunk)
                    position += UInt64(chunk.count)
                }
            }
            return BodyChecksums(md5: md5.take()?.finalize(), crc64: crc?.value, crc32c: crc32c)
        }
    }

    /// The request headers that make the store refuse a body that differs.
    var headers: [String: String] {
        var headers: [String: String] = [:]
        if let md5 { headers["content-md5"] = Crypto.base64(md5) }
        if let crc32c { headers["x-amz-checksum-crc32c"] = crc32c.base64 }
        return headers
    }

    /// Checks what the store reports having received: its CRC-32C, or an ETag that is an MD5
    /// (a single PUT's and a part's, on both dialects, unless encrypted with a key of KMS or the
    /// customer's: ``StoreDialect/contentMD5(etag:in:)``). A store that answers without the
    /// CRC-32C ignored it, and so checked nothing: the body's MD5 is then compared with the
    /// ETag, as before CRC-32C (that MD5 costs only such stores).
    func verify(_ response: [String: String], body: ObjectBody, dialect: StoreDialect) async throws {
        let storedMD5 = dialect.contentMD5(etag: response["etag"], in: response)
        if let crc32c {
            if let reported = response["x-amz-checksum-crc32c"] {
                guard reported == crc32c.base64 else {
                    throw ObjectStoreError.checksumMismatch(expected: crc32c.base64, actual: reported)
                }
                return
            }
            guard storedMD5 != nil else { return }
            let computed = try await Self.compute(body, md5: true, crc64: false, crc32c: false)
            try computed.verify(storedMD5: storedMD5)
            return
        }
        try verify(storedMD5: storedMD5)
    }

    /// Compares the MD5 with the store's, when it gave one.
    func verify(storedMD5: String?) throws {
        guard let md5, let storedMD5 else { return }
        if storedMD5 != hexString(md5) {
            throw ObjectStoreError.checksumMismatch(expected: hexString(md5), actual: storedMD5)
        }
    }
}
