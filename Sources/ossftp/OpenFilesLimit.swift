import Glibc

/// The process's open files limit. Each FTP session holds a control socket, a data socket or
/// passive listener, spool files and store connections; the usual soft limit of 1024 runs out
/// below the default 512 connections, and the hard limit is what the administrator allows.
enum OpenFilesLimit {
    /// Raises the soft limit to the hard one (at most a million), as Go programs and nginx's
    /// worker_rlimit_nofile do; returns the limit in force.
    @discardableResult
    static func raise() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        let wanted = min(limit.rlim_max, 1 << 20)
        if limit.rlim_cur < wanted {
            var raised = limit
            raised.rlim_cur = wanted
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(wanted) }
        }
        return UInt64(limit.rlim_cur)
    }

    /// Descriptors a transferring session holds: its control socket, a passive listener or
    /// data socket, a spool or local file, and a store connection.
    static let perSession: UInt64 = 4
    /// Beside the sessions: listeners, the console, logs, libraries, the store's idle pool.
    static let reserve: UInt64 = 64

    /// A warning when `limit` cannot hold `connections` sessions transferring at once: past
    /// it, idle logins used every descriptor and each transfer got 425, with nothing said at
    /// start. nil when it can, or when the limit is unknown (0).
    static func shortfall(_ limit: UInt64, connections: Int) -> String? {
        let needed = UInt64(max(connections, 0)) * perSession + reserve
        guard limit > 0, limit < needed else { return nil }
        let sessions = limit > reserve ? (limit - reserve) / perSession : 0
        return "the open files limit is \(limit): about \(sessions) sessions can transfer at once, not max_connections' \(connections) (each holds about \(perSession) files while transferring); raise the hard limit (ulimit -Hn, LimitNOFILE= in the systemd unit) to \(needed), or lower max_connections"
    }
}
