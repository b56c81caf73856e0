import Foundation
import Testing
@testable import OSSVFS

/// The worked examples of the OSS reference (computed there with oss2 and alibabacloud-oss-v2,
/// and matching the Go SDK's own vectors). The generated comparison against both SDKs runs in
/// the functional suite.
@Suite struct SignerVectorTests {
    let v1Date = Date(timeIntervalSince1970: 1_672_223_261)  // Wed, 28 Dec 2022 10:27:41 GMT
    let v4Date = Date(timeIntervalSince1970: 1_733_214_600)  // 2024-12-03T08:30:00Z
    let credentials = StoreCredentials(accessKeyID: "LTAI5tExampleAKID", secretAccessKey: "ExampleSecretKey123")
    let sts = StoreCredentials(
        accessKeyID: "STS.ExampleAKID", secretAccessKey: "ExampleSecretKey123", securityToken: "ExampleToken==")
    let host = "examplebucket.oss-cn-hangzhou.aliyuncs.com"

    func authorization(_ signer: some RequestSigner, _ request: SignableRequest, _ credentials: StoreCredentials,
                       _ date: Date) -> String? {
        var request = request
        signer.sign(&request, credentials: credentials, date: date)
        return request.headers["authorization"]
    }

    @Test func v1PutObjectWithMetadata() {
        let request = SignableRequest(
            method: "PUT", host: host, path: "/dir/a%20b%2Bc.txt", bucket: "examplebucket", key: "dir/a b+c.txt",
            headers: ["content-md5": "XrY7u+Ae7tCTyyK7j1rNww==", "content-type": "text/plain",
                      "x-oss-meta-author": "alice", "x-oss-storage-class": "Standard"])
        #expect(SigningDate.rfc1123(v1Date) == "Wed, 28 Dec 2022 10:27:41 GMT")
        #expect(authorization(OSSV1Signer(), request, credentials, v1Date)
            == "OSS LTAI5tExampleAKID:LoIXigoqK1M7PqfIY9dArrMWQzk=")
    }

    @Test func v1ListSignsOnlySubresources() {
        let request = SignableRequest(
            method: "GET", host: host, path: "/", bucket: "examplebucket", key: nil,
            query: ["list-type": "2", "prefix": "dir/", "delimiter": "/", "max-keys": "100", "encoding-type": "url",
                    "continuation-token": "ChR0ZXN0L2EudHh0"])
        #expect(authorization(OSSV1Signer(), request, credentials, v1Date)
            == "OSS LTAI5tExampleAKID:KXnnlcUZgWDh4Dz7uXL2yb4aYJA=")
    }

    @Test func v1UploadPartWithSTS() {
        let request = SignableRequest(
            method: "PUT", host: host, path: "/big.bin", bucket: "examplebucket", key: "big.bin",
            query: ["partNumber": "1", "uploadId": "0004B9894A22E5B1888A1E29F8236E2D"],
            headers: ["content-type": "application/octet-stream"])
        #expect(authorization(OSSV1Signer(), request, sts, v1Date) == "OSS STS.ExampleAKID:4KI7CC9W/+BU5fy2OqXlP/kv+Yw=")
    }

    /// Every `x-oss-` query parameter is a subresource, as Alibaba's Go SDK v2 signs them
    /// (oss2's list lacks `x-oss-rename`, and a rename signed without it was refused).
    @Test func v1RenameSignsItsQueryParameter() {
        let request = SignableRequest(
            method: "POST", host: host, path: "/renamed%20a%2Bb.txt", bucket: "examplebucket", key: "renamed a+b.txt",
            query: ["x-oss-rename": ""], headers: ["x-oss-rename-source": "a%20b.txt"])
        var signed = request
        signed.headers["date"] = SigningDate.rfc1123(v1Date)
        #expect(OSSV1Signer().stringToSign(signed).hasSuffix("\n/examplebucket/renamed a+b.txt?x-oss-rename"))
        #expect(authorization(OSSV1Signer(), request, credentials, v1Date)
            == "OSS LTAI5tExampleAKID:UFOJ88zxAyaOYyqxAS9q/YPdNzc=")
    }

    @Test func v1ServiceAndBucketResources() {
        let list = SignableRequest(method: "GET", host: "oss-cn-hangzhou.aliyuncs.com", path: "/", bucket: nil, key: nil,
                                   query: ["prefix": "my", "max-keys": "10"])
        #expect(authorization(OSSV1Signer(), list, credentials, v1Date) == "OSS LTAI5tExampleAKID:mVhhXoXpJJfIpCn/vXM6dqChWnw=")
        let info = SignableRequest(method: "GET", host: host, path: "/", bucket: "examplebucket", key: nil,
                                   query: ["bucketInfo": ""])
        #expect(authorization(OSSV1Signer(), info, credentials, v1Date) == "OSS LTAI5tExampleAKID:fjmcDTJUb6tX3u2ZAmlmeoz96dQ=")
    }

    @Test func v4GetObjectDoesNotSignRange() {
        let request = SignableRequest(
            method: "GET", host: host, path: "/dir/a%20b%2Bc.txt", bucket: "examplebucket", key: "dir/a b+c.txt",
            headers: ["range": "bytes=0-1023", "x-oss-range-behavior": "standard"])
        #expect(authorization(OSSV4Signer(region: "cn-hangzhou"), request, credentials, v4Date)
            == "OSS4-HMAC-SHA256 Credential=LTAI5tExampleAKID/20241203/cn-hangzhou/oss/aliyun_v4_request,"
            + "Signature=175c308ec4a380bfdbf2d868bdd1c192df2709ac370b757f0a976d8407abc5a7")
    }

    @Test func v4ListSignsTheWholeQuery() {
        let request = SignableRequest(
            method: "GET", host: host, path: "/", bucket: "examplebucket", key: nil,
            query: ["list-type": "2", "prefix": "dir/", "delimiter": "/", "max-keys": "100", "encoding-type": "url",
                    "continuation-token": "ChR0ZXN0L2EudHh0"])
        #expect(authorization(OSSV4Signer(region: "cn-hangzhou"), request, credentials, v4Date)
            == "OSS4-HMAC-SHA256 Credential=LTAI5tExampleAKID/20241203/cn-hangzhou/oss/aliyun_v4_request,"
            + "Signature=271f7a74d96101df7b8dc1055abda584256b66fba95e0f22c5a5134b3fda139c")
    }

    @Test func v4UploadPartWithAdditionalHeaders() {
        let request = SignableRequest(
            method: "PUT", host: host, path: "/big.bin", bucket: "examplebucket", key: "big.bin",
            query: ["partNumber": "1", "uploadId": "0004B9894A22E5B1888A1E29F8236E2D"],
            headers: ["content-type": "application/octet-stream", "content-length": "5242880", "host": host])
        let signer = OSSV4Signer(region: "cn-hangzhou", additionalHeaders: ["host", "content-length"])
        #expect(authorization(signer, request, sts, v4Date)
            == "OSS4-HMAC-SHA256 Credential=STS.ExampleAKID/20241203/cn-hangzhou/oss/aliyun_v4_request,"
            + "AdditionalHeaders=content-length;host,"
            + "Signature=0353083b98c4bb8aae827bfbe1f0d0a8a8391560d8194b30c85d2ecb1591757b")
    }

    @Test func v4ListBuckets() {
        let request = SignableRequest(method: "GET", host: "oss-cn-hangzhou.aliyuncs.com", path: "/", bucket: nil,
                                      key: nil, query: ["prefix": "my", "max-keys": "10"])
        let header = authorization(OSSV4Signer(region: "cn-hangzhou"), request, credentials, v4Date) ?? ""
        #expect(header.hasSuffix("Signature=9a96dcf888c03f76774befb1f85a0e47b6c3eb2ae8cbf8c4654975aa387931f4"))
    }
}
