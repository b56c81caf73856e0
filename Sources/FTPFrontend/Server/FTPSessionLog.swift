import Logging
import OSSVFS

/// How a session's changes and transfers are named in the log, so that an administrator can
/// read what a user did: the command, the session's path, and how it ended. (The log had
/// "transfer finished: completed" and nothing at all for DELE, MKD, RMD or a rename.)
extension FTPSessionStateMachine.Operation {
    /// `DELE /a.txt` for an operation that changes the store; nil for the ones that only look
    /// (CWD, SIZE, MDTM, MLST, STAT) or set up a data connection.
    var changeDescription: String? {
        switch self {
        case .makeDirectory(let path): return "MKD \(path)"
        case .removeDirectory(let path): return "RMD \(path)"
        case .removeFile(let path): return "DELE \(path)"
        case .rename(let source, let target, _): return "rename \(source) to \(target)"
        case .setModificationTime(let path, _): return "MFMT \(path)"
        case .modificationTimeOrSet(_, let path, let time?): return "MDTM (set) \(path) to \(Int(time))"
        case .changeDirectory, .size, .openPassiveListener, .prepareActiveConnection, .renameSource, .modificationTime,
            .modificationTimeOrSet, .machineStat, .checksum, .statusListing:
            return nil
        }
    }
}

extension FTPSessionStateMachine.Transfer {
    /// The command, as the log names it.
    var verb: String {
        switch self {
        case .list(_, let format, _, _, _):
            switch format {
            case .long: return "LIST"
            case .names: return "NLST"
            case .machine: return "MLSD"
            }
        case .retrieve(_, let offset): return offset > 0 ? "RETR (from \(offset))" : "RETR"
        case .store(_, let kept?): return "STOR (after REST \(kept))"
        case .store: return "STOR"
        case .append: return "APPE"
        case .storeUnique: return "STOU"
        }
    }
}

extension FTPSessionStateMachine.TransferOutcome {
    /// How the transfer ended, in words: for a refusal or a failure, the reply's text.
    var logDescription: String {
        switch self {
        case .completed: return "completed"
        case .refused(let error): return "refused: \(error.logWords)"
        case .failed(let error): return "failed: \(error.logWords)"
        case .notADirectoryListing(let path): return "refused: \(path) is not a directory"
        case .noDataConnection: return "no data connection was made"
        case .connectionLost: return "the data connection was lost"
        case .sessionNotResumed: return "the data connection did not resume the TLS session"
        case .aborted: return "aborted"
        case .stalled(let seconds): return "stalled: nothing moved for \(seconds) s"
        }
    }

    /// The level of its line: a failure of the store or the spool is the operator's to see
    /// (WARNING); a client's cancel or disconnect is INFO, and a refusal of what it asked DEBUG.
    var logLevel: Logger.Level {
        if isClientMistake { return .debug }
        if case .failed = self { return .warning }
        return .info
    }

    /// Whether the client's own request was at fault (a missing file, a bad name): logged at
    /// DEBUG, since a client can ask for such things as fast as it can send lines.
    var isClientMistake: Bool {
        switch self {
        case .refused(let error), .failed(let error): return error.isClientMistake
        case .notADirectoryListing: return true
        case .completed, .noDataConnection, .connectionLost, .sessionNotResumed, .aborted, .stalled: return false
        }
    }
}

extension VFSError {
    /// The reply's text, and the error's own detail where the reply leaves it out (a full
    /// spool's folder, which clients are not told).
    var logWords: String {
        let reply = FTPReply(self).lines.joined(separator: " ")
        return reply.contains(detail) ? reply : "\(reply) (\(detail))"
    }

    /// A refusal of what the client asked, not a fault of the server or the store.
    var isClientMistake: Bool {
        switch self {
        case .notFound, .alreadyExists, .notDirectory, .isDirectory, .directoryNotEmpty, .invalidName, .nameTooLong,
            .invalidRange, .unsupported:
            return true
        case .permissionDenied, .integrity, .noSpace, .tooLarge, .busy, .storeUnavailable, .storeRefused, .storeFailure:
            return false
        }
    }
}

/// A session's lines about its own commands, as logged: control characters of the client's
/// names shown as `?` (as LIST shows them: an ESC wrote a live escape sequence into the log),
/// at most 512 characters; and at most `perMinute` lines a minute at their own level, the rest
/// at DEBUG, with the count said on the next line let through.
struct SessionLogBudget {
    static let perMinute = 120
    static let longest = 512
    private var windowStart: ContinuousClock.Instant?
    private var used = 0
    private var held = 0

    /// The line to log at its level, or nil when over the budget (log it at DEBUG then).
    mutating func admit(_ line: String, now: ContinuousClock.Instant = .now) -> String? {
        if let start = windowStart, now - start < .seconds(60) {
            guard used < Self.perMinute else {
                held += 1
                return nil
            }
        } else {
            windowStart = now
            used = 0
        }
        used += 1
        let shown = Self.shown(line)
        guard held > 0 else { return shown }
        defer { held = 0 }
        return "\(shown) (\(held) lines before this one were logged at DEBUG only: over \(Self.perMinute) a minute)"
    }

    /// `line` with control characters as `?`, cut at `longest` characters.
    static func shown(_ line: String) -> String {
        let listed = FTPListingFormatter.listed(line)
        return listed.count > longest ? String(listed.prefix(longest)) + "…" : listed
    }
}
