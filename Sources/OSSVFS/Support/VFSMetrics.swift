import Foundation
import Logging
import Metrics

/// The core's metrics, through swift-metrics: store requests by operation (count, latency,
/// errors by code), metadata cache lookups, and spool bytes. The backend is the executable's
/// choice (Prometheus on the console's /metrics); without one they cost next to nothing.
enum VFSMetrics {
    static let cacheHits = Counter(label: "ossftp_cache_lookups_total", dimensions: [("result", "hit")])
    static let cacheMisses = Counter(label: "ossftp_cache_lookups_total", dimensions: [("result", "miss")])
    static let spoolBytes = Gauge(label: "ossftp_spool_bytes")
    static let spoolBudget = Gauge(label: "ossftp_spool_budget_bytes")
    static let storeLogger = Logger(label: "ossftp.store")

    /// One request answered (any status) or failed in transport.
    static func storeRequest(_ operation: String, seconds: Double, error code: String?) {
        Timer(label: "ossftp_store_request_duration_seconds", dimensions: [("operation", operation)])
            .recordNanoseconds(Int64(seconds * 1e9))
        Counter(label: "ossftp_store_requests_total",
                dimensions: [("operation", operation), ("outcome", code == nil ? "ok" : "error")]).increment()
        if let code {
            Counter(label: "ossftp_store_errors_total", dimensions: [("operation", operation), ("code", code)])
                .increment()
        }
    }

    /// The API operation a request performs, from its method and query: the label of the
    /// store metrics.
    static func operation(method: String, hasKey: Bool, query: [String: String], headers: [String: String]) -> String {
        let names = Set(query.keys)
        switch method {
        case "GET":
            if names.contains("uploadId") { return "ListParts" }
            if names.contains("uploads") { return "ListMultipartUploads" }
            return hasKey ? "GetObject" : "ListObjects"
        case "HEAD": return hasKey ? "HeadObject" : "HeadBucket"
        case "PUT":
            if names.contains("partNumber") { return "UploadPart" }
            if headers.keys.contains(where: { $0.hasSuffix("copy-source") }) { return "CopyObject" }
            return names.contains("x-oss-rename") ? "Rename" : "PutObject"
        case "POST":
            if names.contains("uploads") { return "InitiateMultipartUpload" }
            if names.contains("uploadId") { return "CompleteMultipartUpload" }
            if names.contains("delete") { return "DeleteObjects" }
            if names.contains("append") { return "AppendObject" }
            return "Post"
        case "DELETE": return names.contains("uploadId") ? "AbortMultipartUpload" : "DeleteObject"
        default: return method
        }
    }
}

extension ObjectStoreError {
    /// The store's error code, as the errors metric labels it.
    var metricCode: String {
        switch self {
        case .noSuchKey: return "NoSuchKey"
        case .changed: return "PreconditionFailed"
        case .noSuchBucket: return "NoSuchBucket"
        case .noSuchUpload: return "NoSuchUpload"
        case .accessDenied: return "AccessDenied"
        case .invalidCredentials(let code, _): return code
        case .invalidKey: return "InvalidKey"
        case .keyTooLong: return "KeyTooLong"
        case .conflict: return "Conflict"
        case .checksumMismatch: return "ChecksumMismatch"
        case .io: return "IO"
        case .service(_, let code, _, _): return code
        case .transport: return "transport"
        }
    }
}
