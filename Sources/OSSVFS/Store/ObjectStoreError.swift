#if canImport(Glibc)
import Glibc
#endif

/// Every way an ``ObjectStore`` operation fails, whatever the backend.
///
/// Service error codes (OSS and S3 share most of them) become cases; anything else keeps
/// its HTTP status, code and request id for the logs.
public enum ObjectStoreError: Error, Sendable, Equatable {
    /// The key does not exist (`NoSuchKey`, HTTP 404).
    case noSuchKey(String)
    /// The object was replaced while it was read (its ETag is no longer the one asked for).
    case changed(String)
    /// The bucket does not exist (`NoSuchBucket`).
    case noSuchBucket(String)
    /// The multipart upload does not exist (`NoSuchUpload`).
    case noSuchUpload(String)
    /// The credentials may not do this (`AccessDenied`).
    case accessDenied(requestID: String?)
    /// The key id is unknown or the secret is wrong (`InvalidAccessKeyId`, `SignatureDoesNotMatch`).
    case invalidCredentials(code: String, requestID: String?)
    /// The key cannot be stored by this backend (empty, too long, or a name the backend cannot hold).
    case invalidKey(String)
    /// The key, or a name in it, is longer than the backend takes (`KeyTooLongError`: S3 caps
    /// keys at 1,024 bytes, and SeaweedFS each name at 255).
    case keyTooLong(String)
    /// The key collides with another object in a way this backend cannot represent.
    case conflict(String)
    /// The data read back does not match its checksum.
    case checksumMismatch(expected: String, actual: String)
    /// A local I/O failure, with its errno.
    case io(operation: String, errno: Int32)
    /// Any other answer of the service.
    case service(status: Int, code: String, message: String, requestID: String?)
    /// The request never got an answer (connection refused, timeout, TLS failure): what
    /// happened, for the log, and libcurl's code when it was libcurl's failure (its message
    /// names the store's address, which clients are told in other words).
    case transport(String, curlCode: Int32? = nil)
}

extension ObjectStoreError: CustomStringConvertible {
    /// In words, for logs and messages (the default spelled the request id `Optional("…")`).
    public var description: String {
        func id(_ requestID: String?) -> String { requestID.map { " (request id \($0))" } ?? "" }
        switch self {
        case .noSuchKey(let key): return "no such key: \(key)"
        case .changed(let key): return "\(key) was replaced while it was read"
        case .noSuchBucket(let bucket): return "no such bucket: \(bucket)"
        case .noSuchUpload(let upload): return "no such multipart upload: \(upload)"
        case .accessDenied(let requestID): return "access denied\(id(requestID))"
        case .invalidCredentials(let code, let requestID): return "invalid credentials: \(code)\(id(requestID))"
        case .invalidKey(let reason): return "invalid key: \(reason)"
        case .keyTooLong(let reason): return "key too long: \(reason)"
        case .conflict(let reason): return "conflict: \(reason)"
        case .checksumMismatch(let expected, let actual): return "checksum mismatch: expected \(expected), got \(actual)"
        case .io(let operation, let code): return "\(operation): \(String(cString: strerror(code)))"
        case .service(let status, let code, let message, let requestID):
            return "HTTP \(status) \(code): \(message)\(id(requestID))"
        case .transport(let reason, _): return "no answer: \(reason)"
        }
    }
}

extension ObjectStoreError {
    /// A conditional write refused because its condition did not hold.
    var isConditionRefusal: Bool {
        switch self {
        case .conflict, .changed: return true
        default: return false
        }
    }
}
