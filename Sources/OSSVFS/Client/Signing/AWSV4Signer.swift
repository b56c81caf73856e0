import Foundation

/// AWS Signature Version 4 for S3-compatible stores (AWS S3, MinIO, Ceph, SeaweedFS).
/// Signed by hand rather than through libcurl's `CURLOPT_AWS_SIGV4`, which in Debian's curl
/// signs unsorted query strings wrongly.
public struct AWSV4Signer: RequestSigner {
    public var region: String
    public var service: String

    public init(region: String, service: String = "s3") {
        self.region = region
        self.service = service
    }

    public func sign(_ request: inout SignableRequest, credentials: StoreCredentials, date: Date) {
        let timestamp = SigningDate.iso8601Basic(date)
        request.headers["x-amz-date"] = timestamp
        request.headers["host"] = request.host
        if request.headers["x-amz-content-sha256"] == nil { request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD" }
        if let token = credentials.securityToken { request.headers["x-amz-security-token"] = token }
        let scope = "\(SigningDate.day(date))/\(region)/\(service)/aws4_request"
        let signed = signedHeaders(request)
        let canonical = canonicalRequest(request, signed: signed)
        let toSign = "AWS4-HMAC-SHA256\n\(timestamp)\n\(scope)\n\(Crypto.sha256Hex(Array(canonical.utf8)))"
        let signature = hexString(Crypto.hmacSHA256(key: signingKey(credentials, date: date), Array(toSign.utf8)))
        request.headers["authorization"] =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signed.joined(separator: ";")), Signature=\(signature)"
    }

    /// Every header sent except those a proxy may change.
    func signedHeaders(_ request: SignableRequest) -> [String] {
        request.headers.keys.filter { $0 != "authorization" && $0 != "user-agent" && $0 != "expect" }.sorted()
    }

    func canonicalRequest(_ request: SignableRequest, signed: [String]) -> String {
        let headers = signed.map { "\($0):\((request.headers[$0] ?? "").trimmingCharacters(in: .whitespaces))\n" }.joined()
        return [
            request.method, request.path, canonicalQuery(request), headers, signed.joined(separator: ";"),
            request.headers["x-amz-content-sha256"] ?? "UNSIGNED-PAYLOAD",
        ].joined(separator: "\n")
    }

    /// The query with every name and value encoded and sorted; unlike OSS V4, an empty value
    /// keeps its `=` (`uploads=`).
    func canonicalQuery(_ request: SignableRequest) -> String {
        request.query.map { (URIEncoding.encode($0.key, keepSlash: false), URIEncoding.encode($0.value, keepSlash: false)) }
            .sorted { $0 < $1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    func signingKey(_ credentials: StoreCredentials, date: Date) -> [UInt8] {
        let dated = Crypto.hmacSHA256(key: Array("AWS4\(credentials.secretAccessKey)".utf8), Array(SigningDate.day(date).utf8))
        let regional = Crypto.hmacSHA256(key: dated, Array(region.utf8))
        let service = Crypto.hmacSHA256(key: regional, Array(self.service.utf8))
        return Crypto.hmacSHA256(key: service, Array("aws4_request".utf8))
    }
}
