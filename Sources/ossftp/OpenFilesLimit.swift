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
}
