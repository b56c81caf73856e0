import Foundation
import Logging

/// An ``ObjectStore`` over HTTP for one bucket of Alibaba OSS or of an S3-compatible store.
/// The two dialects send the same operations; ``StoreDialect`` holds what differs (signing,
/// header prefix, addressing). Requests go through ``CurlTransport``, are signed anew on every
/// attempt, and are retried with full-jitter backoff when that is safe.
public final class HTTPObjectStore: ObjectStore, @unchecked Sendable {
    public let bucket: String
    public let endpoint: StoreEndpoint
    public let dialect: StoreDialect
    public let credentials: StoreCredentials
    public let capabilities: ObjectStoreCapabilities
    let transport: CurlTransport
    let retry: RetryPolicy
    // Set once a store answered that it has no ListObjectsV2.
    private let listV1 = Lock()
    private var useListV1 = false

    /// The bucket's address: `scheme://host[:port]/bucket`.
    var bucketAddress: String { "\(endpoint.scheme)://\(endpoint.authority)/\(bucket)" }

    public var identity: StoreIdentity {
        StoreIdentity(bucket: bucketAddress,
                      principal: credentials.accessKeyID + ":" + Crypto.sha256Hex(Array(credentials.secretAccessKey.utf8)))
    }

    public var descriptor: StoreDescriptor {
        .http(kind: dialect.kind.rawValue, endpoint: "\(endpoint.scheme)://\(endpoint.authority)", region: dialect.region,
              pathStyle: dialect.pathStyle, signatureVersion: dialect.signatureVersion,
              hierarchicalNamespace: capabilities.nativeRename, bucket: bucket, accessKeyID: credentials.accessKeyID,
              secret: credentials.secretAccessKey, token: credentials.securityToken,
              checksum: dialect.bodyChecksum.rawValue)
    }

    /// `hierarchicalNamespace`: an OSS bucket with the hierarchical namespace, whose atomic
    /// Rename is then used.
    public init(bucket: String, endpoint: StoreEndpoint, dialect: StoreDialect, credentials: StoreCredentials,
                transport: CurlTransport, retry: RetryPolicy = RetryPolicy(), hierarchicalNamespace: Bool = false) {
        self.bucket = bucket
        self.endpoint = endpoint
        self.dialect = dialect
        self.credentials = credentials
        self.transport = transport
        self.retry = retry
        switch dialect.kind {
        case .oss:
            capabilities = ObjectStoreCapabilities(maxParts: 10_000, minPartSize: 100 * 1024, maxKeyLength: 1023,
                                                   nativeRename: hierarchicalNamespace)
        case .s3: capabilities = ObjectStoreCapabilities(maxParts: 10_000, minPartSize: 5 << 20, maxKeyLength: 1024)
        }
    }

    // How far the store's clock is ahead of this machine's, learnt from a RequestTimeTooSkewed
    // answer: requests are signed at the store's time, as Alibaba's and AWS's SDKs do, so a
    // camera or NAS whose clock is off still gets through.
    private let skew = Lock()
    private var storeClockOffset: TimeInterval = 0

    /// This machine's clock (tests set one that is off; set before the first request).
    var machineClock: @Sendable () -> Date = { Date() }

    /// Now, by the store's clock as last learnt.
    var storeNow: Date {
        machineClock().addingTimeInterval(skew.withLock { storeClockOffset })
    }

    var prefersListV1: Bool {
        get { listV1.withLock { useListV1 } }
        set { listV1.withLock { useListV1 = newValue } }
    }

    // The conditional writes each store answered with NotImplemented (``conditional(_:_:_:_:)``),
    // by endpoint and bucket: each kind by itself (stores took If-None-Match before If-Match,
    // and PUT before a multipart completion). Kept for the process, since a store is made per
    // login: each FTP session would otherwise find it out again, and log it again.
    private static let conditionsRefused = LockedBox<[String: Set<String>]>([:])

    /// Whether the store has answered `kind` of conditional write with NotImplemented: its
    /// condition is then checked by a HEAD just before each such write.
    func refusesConditions(_ kind: String) -> Bool {
        Self.conditionsRefused.value[bucketAddress]?.contains(kind) ?? false
    }

    /// Notes that the store refuses `kind`; true the first time.
    func noteConditionsRefused(_ kind: String) -> Bool {
        Self.conditionsRefused.withValue { $0[bucketAddress, default: []].insert(kind).inserted }
    }

    // MARK: - Building requests

    /// A signed request for this bucket (or, with `service`, for the endpoint itself).
    func makeRequest(_ method: String, key: String? = nil, query: [String: String] = [:],
                     headers: [String: String] = [:], body: ObjectBody? = nil, service: Bool = false) -> HTTPRequest {
        let host: String
        var path: String
        let encodedKey = key.map { URIEncoding.encode($0, keepSlash: true) } ?? ""
        if service {
            host = endpoint.authority
            path = "/"
        } else if dialect.pathStyle {
            host = endpoint.authority
            path = key == nil ? "/\(bucket)" : "/\(bucket)/\(encodedKey)"
        } else {
            host = "\(bucket).\(endpoint.authority)"
            path = "/\(encodedKey)"
        }
        // Values as they go on the wire: spaces and tabs around a field value are not part of it
        // (RFC 9110 §5.5), libcurl leaves them out, and a signature over them would not match.
        let sent = headers.mapValues { $0.trimmingCharacters(in: [" ", "\t"]) }
        var signable = SignableRequest(
            method: method, host: host, path: path, bucket: service ? nil : bucket, key: key, query: query,
            headers: sent)
        dialect.signer.sign(&signable, credentials: credentials, date: storeNow)
        let queryString = signable.encodedQuery
        let url = "\(endpoint.scheme)://\(host)\(path)" + (queryString.isEmpty ? "" : "?\(queryString)")
        var request = HTTPRequest(method: method, url: url, headers: signable.headers, body: body)
        request.operation = service ? "ListBuckets"
            : VFSMetrics.operation(method: method, hasKey: key != nil, query: query, headers: headers)
        return request
    }

    // MARK: - Sending

    /// Sends a request built (and signed) anew for every attempt; returns a 2xx response.
    func send(key: String? = nil, retryable: Bool, _ build: () -> HTTPRequest) async throws -> HTTPResponse {
        var attempt = 0
        let firstStarted = ContinuousClock.now
        while true {
            attempt += 1
            let request = build()
            let started = ContinuousClock.now
            do {
                let response = try await transport.send(request)
                if (200..<300).contains(response.status) {
                    record(request, key: key, since: started, .answered(response.head, nil))
                    return response
                }
                let error = serviceError(response.head, body: response.body, key: key)
                record(request, key: key, since: started, .answered(response.head, error))
                if retryable && retry.allows(after: attempt, since: firstStarted) && RetryPolicy.isRetryable(error) {
                    try await retry.pause(before: attempt + 1)
                    continue
                }
                throw error
            } catch let error as HTTPTransportError {
                record(request, key: key, since: started, .transportFailed(error))
                let mayRetry = retryable || (error.code == 6 || error.code == 7)
                if mayRetry && retry.allows(after: attempt, since: firstStarted) && error.isConnectionFailure {
                    try await retry.pause(before: attempt + 1)
                    continue
                }
                throw ObjectStoreError.transport(error.description, curlCode: error.code)
            }
        }
    }

    /// How one attempt of a request ended.
    enum RequestEnd {
        /// The store answered; with the typed error when it refused.
        case answered(HTTPResponseHead, ObjectStoreError?)
        case transportFailed(HTTPTransportError)
    }

    /// Counts one attempt in the store metrics and logs it with the store's request id, which
    /// the store's operators ask for: a DEBUG line when it succeeded or found no key (the
    /// everyday answer to a lookup), a WARNING when it was refused or never answered.
    func record(_ request: HTTPRequest, key: String?, since start: ContinuousClock.Instant, _ end: RequestEnd) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var metadata: Logger.Metadata = ["operation": "\(request.operation)", "key": "\(key ?? "")",
                                         "ms": "\(Int(seconds * 1000))"]
        switch end {
        case .answered(let head, let error):
            VFSMetrics.storeRequest(request.operation, seconds: seconds, error: error?.metricCode)
            metadata["status"] = "\(head.status)"
            metadata["request_id"] = "\(head.headers["\(dialect.headerPrefix)request-id"] ?? "-")"
            switch error {
            case nil:
                VFSMetrics.storeLogger.debug("store request", metadata: metadata)
            case .noSuchKey?:
                VFSMetrics.storeLogger.debug("store answered NoSuchKey", metadata: metadata)
            case let error?:
                metadata["code"] = "\(error.metricCode)"
                VFSMetrics.storeLogger.warning("store request refused: \(error)", metadata: metadata)
            }
        case .transportFailed(let error):
            VFSMetrics.storeRequest(request.operation, seconds: seconds, error: "transport")
            metadata["error"] = "\(error)"
            VFSMetrics.storeLogger.warning("store request failed in transport", metadata: metadata)
        }
    }

    /// The typed error for an unsuccessful response.
    func serviceError(_ head: HTTPResponseHead, body: [UInt8], key: String?) -> ObjectStoreError {
        let requestID = head.headers["\(dialect.headerPrefix)request-id"]
        var document = XMLNode.parse(body)
        // OSS answers HEAD errors without a body but with the XML, base64-encoded, in x-oss-err.
        if document == nil, let encoded = head.headers["x-oss-err"], let data = Data(base64Encoded: encoded) {
            document = XMLNode.parse(Array(data))
        }
        let code = document?.value("Code") ?? Self.defaultCode(for: head.status)
        let message = document?.value("Message") ?? Self.defaultMessage(for: head.status)
        if code == "RequestTimeTooSkewed" {
            // The answer's ServerTime (both dialects' error documents carry it), else its Date.
            if let storeTime = document?.value("ServerTime").flatMap(HTTPDates.parseISO8601)
                ?? head.headers["date"].flatMap(HTTPDates.parseRFC1123)
            {
                let offset = storeTime - machineClock().timeIntervalSince1970
                skew.withLock { storeClockOffset = offset }
                VFSMetrics.storeLogger.warning(
                    "the store's clock differs from this machine's by \(Int(offset)) s: requests are signed at the store's time")
            }
        }
        return Self.error(bucket: bucket, code: code, message: message, status: head.status, requestID: requestID, key: key ?? "")
    }

    static func defaultCode(for status: Int) -> String {
        switch status {
        case 403: return "AccessDenied"
        case 404: return "NoSuchKey"
        case 416: return "InvalidRange"
        // A HEAD's refusal has no body: the status's own name (RFC 9110 §15), not "HTTP503".
        default: return statusNames[status]?.code ?? "HTTP\(status)"
        }
    }

    /// What an answer without an error document says: its status and the status's reason.
    static func defaultMessage(for status: Int) -> String {
        "HTTP \(status)\(statusNames[status].map { " \($0.reason)" } ?? "")"
    }

    private static let statusNames: [Int: (code: String, reason: String)] = [
        429: ("TooManyRequests", "Too Many Requests"), 500: ("InternalError", "Internal Server Error"),
        502: ("BadGateway", "Bad Gateway"), 503: ("ServiceUnavailable", "Service Unavailable"),
        504: ("GatewayTimeout", "Gateway Timeout"),
    ]

    static func error(bucket: String, code: String, message: String, status: Int, requestID: String?, key: String)
        -> ObjectStoreError
    {
        switch code {
        case "NoSuchKey": return .noSuchKey(key)
        case "NoSuchBucket": return .noSuchBucket(bucket)
        case "NoSuchUpload": return .noSuchUpload(message)
        case "AccessDenied", "AllAccessDisabled": return .accessDenied(requestID: requestID)
        case "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidSecurityToken", "ExpiredToken",
            "SecurityTokenExpired":
            return .invalidCredentials(code: code, requestID: requestID)
        case "KeyTooLongError": return .keyTooLong(message.isEmpty ? "the key is too long for the store" : message)
        default: return .service(status: status, code: code, message: message, requestID: requestID)
        }
    }
}

/// How many times and how long to wait: exponential backoff with "equal jitter" (half the
/// delay fixed, half random), so that the retries of an upload span a store's restart.
public struct RetryPolicy: Sendable {
    public var attempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// No new attempt starts this long after the first: a store that takes connections and
    /// never answers (frozen) costs each attempt the transport's 20 s low-speed limit, and eight
    /// of them kept a LIST waiting almost three minutes for its 451.
    public var deadline: Duration

    /// Eight attempts over 8 to 16 seconds: enough to ride out a store restarting.
    public init(attempts: Int = 8, baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(4),
                deadline: Duration = .seconds(30)) {
        self.attempts = attempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.deadline = deadline
    }

    /// Whether another attempt may follow attempt number `attempt` of a request first tried at
    /// `start`.
    func allows(after attempt: Int, since start: ContinuousClock.Instant) -> Bool {
        attempt < attempts && ContinuousClock.now - start < deadline
    }

    /// Waits between half and all of `base * 2^(attempt-2)`, capped.
    func pause(before attempt: Int) async throws {
        let ceiling = min(maxDelay, baseDelay * (1 << max(0, attempt - 2)))
        let milliseconds = Int(ceiling.components.seconds * 1000 + ceiling.components.attoseconds / 1_000_000_000_000_000)
        try await Task.sleep(for: .milliseconds(milliseconds / 2 + Int.random(in: 0...max(1, milliseconds / 2))))
    }

    /// Server answers worth another try: 5xx, 429, the codes that say "try again", and
    /// BadDigest or InvalidDigest (the body the store got does not match the checksum sent:
    /// damaged on the way, and the next copy may not be; OSS answers InvalidDigest for that,
    /// and ossftp's own checksum headers are never malformed); not 501
    /// (RFC 9110 §15.6.2: the store does not implement what was asked, and will not on the
    /// next try: a conditional PUT was sent whole eight times before its fallback).
    static func isRetryable(_ error: ObjectStoreError) -> Bool {
        guard case .service(let status, let code, _, _) = error else { return false }
        guard status != 501 && code != "NotImplemented" else { return false }
        return status >= 500 || status == 429 || retryableCodes.contains(code)
    }

    /// The error codes of answers below 500 that are asked again here.
    static let retryableCodes: Set<String> = ["RequestTimeout", "RequestTimeTooSkewed", "SlowDown", "BadDigest", "InvalidDigest"]
}
