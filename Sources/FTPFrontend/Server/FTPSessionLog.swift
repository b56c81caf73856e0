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
        case .refused(let error): return "refused: \(Self.words(error))"
        case .failed(let error): return "failed: \(Self.words(error))"
        case .notADirectoryListing(let path): return "refused: \(path) is not a directory"
        case .noDataConnection: return "no data connection was made"
        case .connectionLost: return "the data connection was lost"
        case .sessionNotResumed: return "the data connection did not resume the TLS session"
        case .aborted: return "aborted"
        case .stalled(let seconds): return "stalled: nothing moved for \(seconds) s"
        }
    }

    /// The reply's text, and the error's own detail where the reply leaves it out (a full
    /// spool's folder, which clients are not told).
    static func words(_ error: VFSError) -> String {
        let reply = FTPReply(error).lines.joined(separator: " ")
        return reply.contains(error.detail) ? reply : "\(reply) (\(error.detail))"
    }
}
