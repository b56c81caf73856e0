import Foundation
import Testing
@testable import OSSVFS

/// Signs a few hundred generated requests and checksums generated data, and compares with
/// what Alibaba's SDKs (oss2 for V1 and CRC-64, alibabacloud-oss-v2 for V4) compute for the
/// same inputs (tests/vectors/oss_sdk_vectors.py, run with the project's .venv).
@Suite struct OSSSDKComparisonTests {
    struct V4: Decodable {
        let authorization: String
        let canonical_request: String
        let string_to_sign: String
    }

    struct SignatureCase: Decodable {
        let method: String
        let bucket: String?
        let key: String?
        let query: [String: String]
        let headers: [String: String]
        let access_key_id: String
        let secret: String
        let token: String?
        let additional: [String]
        let v1: String
        let v4: V4
    }

    struct CRCCase: Decodable {
        let data: String
        let split: Int
        let crc: UInt64
        let crc_first: UInt64
        let crc_second: UInt64
        let combined: UInt64
    }

    struct Vectors: Decodable {
        let signatures: [SignatureCase]
        let crc64: [CRCCase]
        let v4_time: Double
    }

    static let vectors: Result<Vectors, any Error> = Result {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let process = Process()
        process.executableURL = root.appendingPathComponent(".venv/bin/python")
        process.arguments = [root.appendingPathComponent("tests/vectors/oss_sdk_vectors.py").path, "--count", "400"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw SeaweedFSServer.HarnessError("the SDK vector script failed (run `make deps` first)")
        }
        return try JSONDecoder().decode(Vectors.self, from: data)
    }

    func request(_ item: SignatureCase) -> SignableRequest {
        SignableRequest(method: item.method, host: item.headers["host"] ?? "example.invalid", path: "/",
                        bucket: item.bucket, key: item.key, query: item.query, headers: item.headers)
    }

    @Test func v1MatchesOSS2() throws {
        let vectors = try Self.vectors.get()
        #expect(vectors.signatures.count == 400)
        let date = Date(timeIntervalSince1970: 1_672_223_261)
        for item in vectors.signatures {
            var signable = request(item)
            signable.headers = signable.headers.filter { !["host", "content-length", "range"].contains($0.key) }
            let credentials = StoreCredentials(accessKeyID: item.access_key_id, secretAccessKey: item.secret,
                                               securityToken: item.token)
            OSSV1Signer().sign(&signable, credentials: credentials, date: date)
            #expect(signable.headers["authorization"] == item.v1, "\(item.method) \(item.bucket ?? "-") \(item.key ?? "-") \(item.query)")
        }
    }

    @Test func v4MatchesAlibabaCloudOSSV2() throws {
        let vectors = try Self.vectors.get()
        let date = Date(timeIntervalSince1970: vectors.v4_time)
        for item in vectors.signatures {
            var signable = request(item)
            let credentials = StoreCredentials(accessKeyID: item.access_key_id, secretAccessKey: item.secret,
                                               securityToken: item.token)
            let signer = OSSV4Signer(region: "cn-hangzhou", additionalHeaders: Set(item.additional))
            signer.sign(&signable, credentials: credentials, date: date)
            let additional = signer.additionalSigned(signable)
            let label = "\(item.method) \(item.bucket ?? "-") \(item.key ?? "-") \(item.query)"
            #expect(signer.canonicalRequest(signable, additional: additional) == item.v4.canonical_request, "\(label)")
            #expect(signer.stringToSign(signable, additional: additional,
                                        scope: "20241203/cn-hangzhou/oss/aliyun_v4_request") == item.v4.string_to_sign)
            #expect(signable.headers["authorization"] == item.v4.authorization, "\(label)")
        }
    }

    @Test func crc64MatchesOSS2() throws {
        for item in try Self.vectors.get().crc64 {
            let data = Array(Data(base64Encoded: item.data)!)
            #expect(CRC64.checksum(data) == item.crc)
            #expect(CRC64.checksum(Array(data[..<item.split])) == item.crc_first)
            #expect(CRC64.checksum(Array(data[item.split...])) == item.crc_second)
            #expect(CRC64.combine(item.crc_first, item.crc_second, secondLength: UInt64(data.count - item.split))
                    == item.combined)
            #expect(item.combined == item.crc)
        }
    }
}
