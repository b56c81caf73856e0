import Metrics

/// The FTP server's metrics, through swift-metrics (the executable picks the backend:
/// Prometheus on the console's /metrics).
enum FTPMetrics {
    /// Control connections open now.
    static let sessions = Meter(label: "ossftp_ftp_sessions")
    static let bytesIn = Counter(label: "ossftp_ftp_bytes_total", dimensions: [("direction", "in")])
    static let bytesOut = Counter(label: "ossftp_ftp_bytes_total", dimensions: [("direction", "out")])

    /// Logins by outcome; made once, as every login counts in one of them.
    static let loginSucceeded = Counter(label: "ossftp_ftp_logins_total", dimensions: [("outcome", "success")])
    static let loginFailed = Counter(label: "ossftp_ftp_logins_total", dimensions: [("outcome", "failure")])

    /// A transfer ended.
    static func transfer(_ direction: FTPTransferProgress.Direction,
                         _ outcome: FTPSessionStateMachine.TransferOutcome) {
        let name: String
        switch outcome {
        case .completed: name = "completed"
        case .refused, .notADirectoryListing: name = "refused"
        case .noDataConnection: name = "no_data_connection"
        case .connectionLost: name = "connection_lost"
        case .sessionNotResumed: name = "tls_session_not_resumed"
        case .failed: name = "failed"
        case .aborted: name = "aborted"
        case .stalled: name = "stalled"
        }
        Counter(label: "ossftp_ftp_transfers_total", dimensions: [("direction", direction.rawValue), ("outcome", name)])
            .increment()
    }
}
