import Foundation

/// OSS signature version 1: `Authorization: OSS <ak>:<base64 HMAC-SHA1>` over the verb,
/// Content-MD5, Content-Type, Date, the `x-oss-` headers and the canonical resource with its
/// signed sub-resources (oss2 `auth.py`).
public struct OSSV1Signer: RequestSigner {
    /// Query parameters that take part in the canonical resource (oss2's list); all others are not signed.
    static let subresources: Set<String> = [
        "accessPoint", "accessPointPolicy", "acl", "append", "asyncFetch", "bucketArchiveDirectRead", "bucketInfo",
        "callback", "callback-var", "cname", "comp", "continuation-token", "cors", "delete", "encryption", "endTime",
        "group", "httpsConfig", "inventory", "inventoryId", "lifecycle", "link", "live", "location", "logging",
        "metaQuery", "objectInfo", "objectMeta", "partNumber", "policy", "position", "publicAccessBlock", "qos",
        "qosInfo", "qosRequester", "redundancyTransition", "referer", "regionList", "replication",
        "replicationLocation", "replicationProgress", "requestPayment", "requesterQosInfo", "resourceGroup",
        "resourcePool", "resourcePoolBuckets", "resourcePoolInfo", "response-cache-control",
        "response-content-disposition", "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires", "restore", "security-token", "sequential", "startTime", "stat",
        "status", "style", "styleName", "symlink", "tagging", "transferAcceleration", "uploadId", "uploads",
        "versionId", "versioning", "versions", "vod", "website", "worm", "wormExtend", "wormId",
        "x-oss-ac-forward-allow", "x-oss-ac-source-ip", "x-oss-ac-subnet-mask", "x-oss-ac-vpc-id",
        "x-oss-access-point-name", "x-oss-async-process", "x-oss-process", "x-oss-redundancy-transition-taskid",
        "x-oss-request-payer", "x-oss-target-redundancy-type", "x-oss-traffic-limit",
        "x-oss-write-get-object-response",
    ]

    public init() {}

    public func sign(_ request: inout SignableRequest, credentials: StoreCredentials, date: Date) {
        request.headers["date"] = SigningDate.rfc1123(date)
        if let token = credentials.securityToken { request.headers["x-oss-security-token"] = token }
        let signature = Crypto.base64(
            Crypto.hmacSHA1(key: Array(credentials.secretAccessKey.utf8), Array(stringToSign(request).utf8)))
        request.headers["authorization"] = "OSS \(credentials.accessKeyID):\(signature)"
    }

    /// The string the signature covers.
    func stringToSign(_ request: SignableRequest) -> String {
        let ossHeaders = request.headers
            .filter { $0.key.hasPrefix("x-oss-") }
            // Values as sent, untrimmed, as oss2 signs them.
            .sorted { $0.key < $1.key }
            .map { "\($0.key):\($0.value)\n" }
            .joined()
        return [
            request.method, request.headers["content-md5"] ?? "", request.headers["content-type"] ?? "",
            request.headers["date"] ?? "",
        ].joined(separator: "\n") + "\n" + ossHeaders + canonicalResource(request)
    }

    func canonicalResource(_ request: SignableRequest) -> String {
        var resource: String
        switch (request.bucket, request.key) {
        case (nil, _): resource = "/"
        case (let bucket?, nil): resource = "/\(bucket)/"
        case (let bucket?, let key?): resource = "/\(bucket)/\(key)"
        }
        // Every `x-oss-` parameter too, as Alibaba's Go and Java SDKs sign them: oss2's list
        // lacks `x-oss-rename`, and a rename signed without it is refused.
        let signed = request.query.filter { Self.subresources.contains($0.key) || $0.key.hasPrefix("x-oss-") }
            .sorted { $0.key < $1.key }
            .map { $0.value.isEmpty ? $0.key : "\($0.key)=\($0.value)" }
        if !signed.isEmpty { resource += "?" + signed.joined(separator: "&") }
        return resource
    }
}
