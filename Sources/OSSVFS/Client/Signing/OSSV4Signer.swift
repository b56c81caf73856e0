import Foundation

/// OSS signature version 4 (`OSS4-HMAC-SHA256`), the default of Alibaba's current SDKs:
/// a canonical request over the method, `/bucket/key`, the whole query, the `x-oss-*`,
/// `content-type` and `content-md5` headers (plus chosen additional ones) and
/// `UNSIGNED-PAYLOAD`, signed with a key derived per day, region and product.
public struct OSSV4Signer: RequestSigner {
    /// The region id the endpoint serves, such as `cn-hangzhou`.
    public var region: String
    /// Extra headers to sign when present (`host`, `content-length`...).
    public var additionalHeaders: Set<String>

    public init(region: String, additionalHeaders: Set<String> = []) {
        self.region = region
        self.additionalHeaders = additionalHeaders
    }

    public func sign(_ request: inout SignableRequest, credentials: StoreCredentials, date: Date) {
        let timestamp = SigningDate.iso8601Basic(date)
        request.headers["x-oss-date"] = timestamp
        request.headers["date"] = SigningDate.rfc1123(date)
        if let token = credentials.securityToken { request.headers["x-oss-security-token"] = token }
        request.headers["x-oss-content-sha256"] = "UNSIGNED-PAYLOAD"
        let additional = additionalSigned(request)
        let scope = "\(SigningDate.day(date))/\(region)/oss/aliyun_v4_request"
        let toSign = stringToSign(request, additional: additional, scope: scope)
        let signature = hexString(Crypto.hmacSHA256(key: signingKey(credentials, date: date), Array(toSign.utf8)))
        var header = "OSS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope)"
        if !additional.isEmpty { header += ",AdditionalHeaders=\(additional.joined(separator: ";"))" }
        request.headers["authorization"] = header + ",Signature=\(signature)"
    }

    static func isDefaultSigned(_ name: String) -> Bool {
        name.hasPrefix("x-oss-") || name == "content-type" || name == "content-md5"
    }

    /// Additional headers that the request carries, sorted.
    func additionalSigned(_ request: SignableRequest) -> [String] {
        additionalHeaders.map { $0.lowercased() }
            .filter { !Self.isDefaultSigned($0) && !(request.headers[$0] ?? "").isEmpty }
            .sorted()
    }

    func canonicalRequest(_ request: SignableRequest, additional: [String]) -> String {
        var uri = "/"
        if let bucket = request.bucket { uri += bucket + "/" }
        if let key = request.key { uri += key }
        let headers = request.headers
            .filter { Self.isDefaultSigned($0.key) || additional.contains($0.key) }
            .sorted { $0.key < $1.key }
            .map { "\($0.key):\($0.value)\n" }
            .joined()
        return [
            request.method, URIEncoding.encode(uri, keepSlash: true), request.encodedQuery, headers,
            additional.joined(separator: ";"), request.headers["x-oss-content-sha256"] ?? "UNSIGNED-PAYLOAD",
        ].joined(separator: "\n")
    }

    func stringToSign(_ request: SignableRequest, additional: [String], scope: String) -> String {
        let canonical = canonicalRequest(request, additional: additional)
        return "OSS4-HMAC-SHA256\n\(request.headers["x-oss-date"] ?? "")\n\(scope)\n"
            + Crypto.sha256Hex(Array(canonical.utf8))
    }

    func signingKey(_ credentials: StoreCredentials, date: Date) -> [UInt8] {
        let dated = Crypto.hmacSHA256(key: Array("aliyun_v4\(credentials.secretAccessKey)".utf8), Array(SigningDate.day(date).utf8))
        let regional = Crypto.hmacSHA256(key: dated, Array(region.utf8))
        let product = Crypto.hmacSHA256(key: regional, Array("oss".utf8))
        return Crypto.hmacSHA256(key: product, Array("aliyun_v4_request".utf8))
    }
}
