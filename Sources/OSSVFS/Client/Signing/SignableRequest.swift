import Foundation

/// A request as the signers see it: method, bucket and key (raw), query (decoded), and headers
/// with lower-case names. The signers add their headers (`authorization`, dates, tokens).
public struct SignableRequest: Sendable, Equatable {
    public var method: String
    /// Host header value, as sent.
    public var host: String
    /// The URI path as sent, percent-encoded.
    public var path: String
    public var bucket: String?
    public var key: String?
    /// Query parameters, decoded; an empty value is a bare name (`?uploads`).
    public var query: [String: String]
    /// Headers with lower-case names.
    public var headers: [String: String]

    public init(method: String, host: String, path: String, bucket: String?, key: String?,
                query: [String: String] = [:], headers: [String: String] = [:]) {
        self.method = method
        self.host = host
        self.path = path
        self.bucket = bucket
        self.key = key
        self.query = query
        self.headers = headers
    }

    /// The query string as sent: names and values encoded, sorted by name.
    public var encodedQuery: String {
        query.map { (URIEncoding.encode($0.key, keepSlash: false), URIEncoding.encode($0.value, keepSlash: false)) }
            .sorted { $0.0 < $1.0 }
            .map { $0.1.isEmpty ? $0.0 : "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }
}

/// Access key id, secret and, for temporary credentials, the STS token.
public struct StoreCredentials: Sendable, Equatable, Hashable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var securityToken: String?

    public init(accessKeyID: String, secretAccessKey: String, securityToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.securityToken = securityToken
    }
}

/// Signs requests for one dialect.
public protocol RequestSigner: Sendable {
    /// Adds the authentication headers for `credentials` at `date`.
    func sign(_ request: inout SignableRequest, credentials: StoreCredentials, date: Date)
}

/// Date formats of the signers, in UTC.
enum SigningDate {
    /// `20241203T083000Z`.
    static func iso8601Basic(_ date: Date) -> String {
        UTCDate(date.timeIntervalSince1970).iso8601Basic
    }

    /// `20241203`.
    static func day(_ date: Date) -> String {
        String(iso8601Basic(date).prefix(8))
    }

    /// `Wed, 28 Dec 2022 10:27:41 GMT` (RFC 9110 §5.6.7 IMF-fixdate).
    static func rfc1123(_ date: Date) -> String {
        UTCDate(date.timeIntervalSince1970).imfFixdate
    }
}
