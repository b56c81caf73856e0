import Foundation

/// What differs between Alibaba OSS and S3-compatible stores on the wire. The operations
/// are otherwise the same requests, so one ``HTTPObjectStore`` serves both.
public struct StoreDialect: Sendable {
    public enum Kind: String, Sendable {
        case oss
        case s3
    }

    /// What lets the store check a body it receives.
    public enum BodyChecksum: String, Sendable, CaseIterable {
        /// Content-MD5 (OSS always; S3 stores that refuse `x-amz-checksum-*` headers).
        case md5
        /// `x-amz-checksum-crc32c`, named at CreateMultipartUpload and repeated at completion.
        case crc32c
    }

    public var kind: Kind
    public var bodyChecksum: BodyChecksum
    /// Signs each request (OSS V1 or V4, or AWS SigV4).
    public var signer: any RequestSigner
    /// `x-oss-` or `x-amz-`.
    public var headerPrefix: String
    /// Path-style (`/bucket/key`) or virtual-hosted (`bucket.host/key`) addressing.
    public var pathStyle: Bool
    /// The signing region and signature version, to describe the store again (journal).
    public var region: String
    public var signatureVersion: Int

    /// The MD5 of the bytes, when an answer's ETag is one: 32 hex digits (a multipart ETag has a
    /// dash), for an object stored in clear or encrypted with the store's own key. AWS S3 gives
    /// objects encrypted with a KMS key (`aws:kms`, `aws:kms:dsse`) or the customer's key (SSE-C)
    /// ETags that are not their MD5; OSS's KMS and SM4 are taken alike, as it does not say.
    public func contentMD5(etag: String?, in headers: [String: String]) -> String? {
        if let encryption = headers["\(headerPrefix)server-side-encryption"], encryption.uppercased() != "AES256" { return nil }
        if headers["\(headerPrefix)server-side-encryption-customer-algorithm"] != nil { return nil }
        return etag.flatMap(VFSChecksums.md5(fromETag:))
    }

    /// Alibaba OSS, signed with V4 (the SDKs' default) in `region`, or V1.
    public static func oss(region: String, signatureVersion: Int = 4, pathStyle: Bool = false) -> StoreDialect {
        let signer: any RequestSigner = signatureVersion == 1 ? OSSV1Signer() : OSSV4Signer(region: region)
        return StoreDialect(kind: .oss, bodyChecksum: .md5, signer: signer, headerPrefix: "x-oss-", pathStyle: pathStyle, region: region,
                            signatureVersion: signatureVersion)
    }

    /// An S3-compatible store signed with AWS SigV4 in `region`; bodies checked by CRC-32C
    /// unless `checksum` says MD5.
    public static func s3(region: String, pathStyle: Bool = true, checksum: BodyChecksum = .crc32c) -> StoreDialect {
        StoreDialect(kind: .s3, bodyChecksum: checksum, signer: AWSV4Signer(region: region), headerPrefix: "x-amz-",
                     pathStyle: pathStyle,
                     region: region, signatureVersion: 4)
    }
}

/// Where a store is: scheme, host and port of its endpoint.
public struct StoreEndpoint: Sendable, Equatable {
    public var scheme: String
    public var host: String
    public var port: Int?

    /// Why an endpoint was refused.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `https://host[:port]`, or a bare host (HTTPS). Anything else is refused: a path
    /// or query (dropped, it would not have been used), a port out of range, a host with
    /// spaces or other characters no host name has.
    public init(_ text: String) throws {
        // Credentials written into the URL (`http://key:secret@host`) are refused with the
        // rest, and not repeated in the message, which goes to logs and the console.
        let shown = Self.withoutUserInfo(text)
        func refuse(_ reason: String) -> Invalid { Invalid(description: "\(shown): \(reason); write scheme://host[:port]") }
        var rest = Substring(text)
        scheme = "https"
        if let range = rest.range(of: "://") {
            scheme = rest[..<range.lowerBound].lowercased()
            rest = rest[range.upperBound...]
        }
        guard scheme == "http" || scheme == "https" else { throw refuse("the scheme must be http or https") }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard rest.dropFirst(authority.count).allSatisfy({ $0 == "/" }) else { throw refuse("a path or query is not used") }
        rest = authority
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
                throw refuse("the port must be 1 to 65535")
            }
            host = String(rest[..<colon])
            self.port = port
        } else {
            host = String(rest)
            port = nil
        }
        guard !host.isEmpty else { throw refuse("no host") }
        let isIPv6 = host.hasPrefix("[") && host.hasSuffix("]")
        guard !host.contains("@") else { throw refuse("credentials do not go in the endpoint (give them as the account's)") }
        guard isIPv6 || host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") })
        else { throw refuse("\(host) is not a host name") }
    }

    /// `text` with everything between the scheme and its last `@` replaced by `***` (no
    /// endpoint has an `@`; a secret with a `/` in it would end the authority early).
    static func withoutUserInfo(_ text: String) -> String {
        let start = text.range(of: "://")?.upperBound ?? text.startIndex
        guard let at = text[start...].lastIndex(of: "@") else { return text }
        return String(text[..<start]) + "***" + String(text[at...])
    }

    /// Whether the host is an IP address, which cannot take a bucket name in front of it:
    /// such an endpoint is addressed by path unless told otherwise, as the SDKs do.
    public var isIPAddress: Bool {
        host.hasPrefix("[") || IPLiteral.isAddress(host)
    }

    /// `host` or `host:port`, as the Host header.
    public var authority: String {
        port.map { "\(host):\($0)" } ?? host
    }
}
