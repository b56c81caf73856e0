import OSSVFS

/// STAT, OPTS and SITE, which answer from the session's own state, and STOU's unique names.
extension FTPSessionStateMachine {
    /// Entries of a directory that `STAT path` shows at most: the reply is one message on the
    /// control connection, so a huge directory is left to LIST and MLSD, which stream.
    public static let statusListingLimit = 1000

    /// STAT without an argument (RFC 959 §4.1.3): who, where, and whether data is moving.
    var status: FTPReply {
        var lines = ["ossftp status:"]
        switch state {
        case .loggedIn(let user): lines.append(" Logged in as \(user)")
        case .awaitingUser, .awaitingPassword, .authenticating, .closed: lines.append(" Not logged in")
        }
        lines.append(" Working directory \(workingDirectory)")
        lines.append(" TYPE: \(transferType == .image ? "BINARY" : "ASCII"); STRUcture: File; transfer MODE: Stream")
        lines.append(transferring ? " A data transfer is in progress" : " No data connection")
        lines.append("End of status")
        return FTPReply(.systemStatus, lines: lines)
    }

    mutating func opts(_ option: String) -> Action {
        let words = option.uppercased().split(separator: " ")
        switch (words.first, words.dropFirst().first) {
        // RFC 2640 §3.1 and the expired UTF-8 option draft: clients (Windows Explorer among
        // them) need 200 here before they send non-ASCII names.
        case ("UTF8", "ON"), ("UTF-8", "ON"):
            return .send(FTPReply(.ok, "Always in UTF8 mode."))
        case ("UTF8", _), ("UTF-8", _):
            return .send(FTPReply(.parameterNotImplemented, "UTF8 cannot be turned off."))
        case ("HASH", nil):
            // The algorithm in use; with no store keeping checksums there is none.
            guard checksums.contains(hashAlgorithm) else {
                return .send(FTPReply(.parameterNotImplemented, "No store here keeps checksums."))
            }
            return .send(FTPReply(.ok, hashAlgorithm.rawValue))
        case ("HASH", let name?):
            guard let algorithm = FTPHashAlgorithm(rawValue: String(name)), checksums.contains(algorithm) else {
                guard !checksums.isEmpty else {
                    return .send(FTPReply(.parameterNotImplemented, "No store here keeps checksums."))
                }
                let names = checksums.map(\.rawValue).joined(separator: ", ")
                return .send(FTPReply(.parameterNotImplemented, "Unknown algorithm \(name); use \(names)."))
            }
            hashAlgorithm = algorithm
            return .send(FTPReply(.ok, algorithm.rawValue))
        case ("MLST", let facts):
            // RFC 3659 §7.9: unknown facts are ignored; the reply names those now on.
            let wanted = Set((facts ?? "").lowercased().split(separator: ";").map(String.init))
            machineFacts = wanted.intersection(FTPListingFormatter.allFacts)
            let on = FTPListingFormatter.factOrder.filter(machineFacts.contains).map { "\($0);" }.joined()
            return .send(FTPReply(.ok, "MLST OPTS \(on)"))
        default:
            return .send(FTPReply(.syntaxErrorInArguments, "Option not understood."))
        }
    }

    /// SITE: HELP lists what there is; CHMOD and SYMLINK (ProFTPD's, which clients offer as
    /// "create link") are answered honestly.
    func site(_ argument: String) -> Action {
        let words = argument.split(separator: " ", maxSplits: 1)
        switch words.first?.uppercased() {
        case "HELP":
            return .send(FTPReply(.help, lines: ["SITE commands:", " HELP", " CHMOD (object storage keeps no modes)",
                                                 " SYMLINK (object storage has no links)", "End"]))
        case "CHMOD":
            return .send(FTPReply(.notImplemented, "SITE CHMOD: object storage keeps no permissions; nothing changed."))
        case "SYMLINK", "LN":
            return .send(FTPReply(.notImplemented, "SITE \(words[0].uppercased()): object storage has no links; nothing created."))
        case nil:
            return .send(FTPReply(.syntaxErrorInArguments, "SITE needs a command; SITE HELP lists them."))
        default:
            // SITE itself is known; its parameter is not (RFC 959 §4.2: 504).
            return .send(FTPReply(.parameterNotImplemented,
                                  "SITE \(words.first.map(String.init) ?? "") is not a site command here; SITE HELP lists them."))
        }
    }

    /// A name no upload is likely to have chosen, for STOU.
    static func uniqueSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(UInt64.random(in: 0...UInt64.max, using: &generator), radix: 36)
    }
}
