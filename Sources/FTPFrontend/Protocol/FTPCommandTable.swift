#if canImport(Glibc)
import Glibc
#endif
import OSSVFS
/// The one table of verbs: it drives parsing, the login gate, FEAT and HELP
/// (in the manner of pyftpdlib's `proto_cmds`).
public enum FTPCommandTable {
    /// Whether a verb takes an argument.
    public enum ArgumentRule: Sendable {
        case none
        case required
        case optional
    }

    /// How a verb is handled before it reaches the session.
    public struct Entry: Sendable {
        public var verb: String
        public var argument: ArgumentRule
        /// Whether the verb is refused with 530 before login.
        public var requiresLogin: Bool
        /// The line HELP shows.
        public var help: String
        /// The feature line FEAT advertises, if any (RFC 2389 §3.2).
        public var feature: String?
        /// Builds the typed command from the argument; throws a reply for a bad one.
        public var build: @Sendable (String?) throws(FTPReply) -> FTPCommand
    }

    /// Verbs whose argument is a keyword, a number or an address, never a name: spaces around
    /// it are dropped before it is read.
    static let keywordVerbs: Set<String> = [
        "AUTH", "PBSZ", "PROT", "TYPE", "MODE", "STRU", "EPSV", "PORT", "EPRT", "ALLO", "REST", "OPTS", "HELP",
    ]

    /// Every verb served, in HELP order.
    public static let entries: [Entry] = [
        Entry(verb: "AUTH", argument: .required, requiresLogin: false, help: "AUTH TLS: encrypts the control connection.",
              feature: "AUTH TLS") { .auth($0!) },
        Entry(verb: "PBSZ", argument: .required, requiresLogin: false, help: "PBSZ 0: after AUTH TLS.",
              feature: "PBSZ") { .pbsz($0!) },
        Entry(verb: "PROT", argument: .required, requiresLogin: false, help: "PROT C|P: clear or private data connections.",
              feature: "PROT") { .prot($0!) },
        Entry(verb: "CCC", argument: .none, requiresLogin: false, help: "CCC: refused; the control connection stays encrypted.",
              feature: nil) { _ in .ccc },
        Entry(verb: "USER", argument: .required, requiresLogin: false, help: "USER <name>: names the account.",
              feature: nil) { .user($0!) },
        Entry(verb: "PASS", argument: .optional, requiresLogin: false, help: "PASS <password>: logs in.",
              feature: nil) { .pass($0 ?? "") },
        Entry(verb: "ACCT", argument: .required, requiresLogin: false, help: "ACCT <account>: not needed here.",
              feature: nil) { _ in .acct },
        Entry(verb: "REIN", argument: .none, requiresLogin: false, help: "REIN: logs out and starts over.",
              feature: nil) { _ in .rein },
        Entry(verb: "QUIT", argument: .none, requiresLogin: false, help: "QUIT: ends the session.",
              feature: nil) { _ in .quit },
        Entry(verb: "SYST", argument: .none, requiresLogin: false, help: "SYST: shows the system type.",
              feature: nil) { _ in .syst },
        // STAT with a path needs a login; the state machine checks that, since STAT alone does not.
        Entry(verb: "STAT", argument: .optional, requiresLogin: false,
              help: "STAT [<path>]: the session's status, or a listing on the control connection.",
              feature: nil) { argument in
            // `STAT -la` (options only) lists the working directory, as `STAT .`.
            argument.map { .stat(stripListOptions($0) ?? ".", directoryItself: listOptions($0).contains("d")) } ?? .stat(nil)
        },
        Entry(verb: "SITE", argument: .required, requiresLogin: true, help: "SITE HELP|CHMOD: site commands.",
              feature: nil) { .site($0!) },
        Entry(verb: "CLNT", argument: .optional, requiresLogin: false, help: "CLNT <name>: the client says who it is.",
              feature: "CLNT") { _ in .clnt },
        // Not in FEAT: a client that saw it there would send it before every PASV for nothing.
        Entry(verb: "PRET", argument: .required, requiresLogin: true,
              help: "PRET <command>: announces the next transfer; nothing to prepare here.",
              feature: nil) { _ in .pret },
        Entry(verb: "FEAT", argument: .none, requiresLogin: false, help: "FEAT: lists the extensions served.",
              feature: nil) { _ in .feat },
        Entry(verb: "HELP", argument: .optional, requiresLogin: false, help: "HELP [<verb>]: shows help.",
              feature: nil) { .help($0) },
        Entry(verb: "NOOP", argument: .none, requiresLogin: false, help: "NOOP: does nothing.",
              feature: nil) { _ in .noop },
        Entry(verb: "OPTS", argument: .required, requiresLogin: false, help: "OPTS <option>: sets an option.",
              feature: "UTF8") { .opts($0!) },
        Entry(verb: "PWD", argument: .none, requiresLogin: true, help: "PWD: shows the current directory.",
              feature: nil) { _ in .pwd },
        Entry(verb: "CWD", argument: .required, requiresLogin: true, help: "CWD <path>: changes directory.",
              feature: nil) { .cwd($0!) },
        Entry(verb: "CDUP", argument: .none, requiresLogin: true, help: "CDUP: goes to the parent directory.",
              feature: nil) { _ in .cdup },
        Entry(verb: "TYPE", argument: .required, requiresLogin: true, help: "TYPE A|I: sets the transfer type.",
              feature: nil) { argument throws(FTPReply) in try parseType(argument) },
        Entry(verb: "MODE", argument: .required, requiresLogin: true, help: "MODE S: stream mode only.",
              feature: nil) { .mode($0!) },
        Entry(verb: "STRU", argument: .required, requiresLogin: true, help: "STRU F: file structure only.",
              feature: nil) { .stru($0!) },
        Entry(verb: "PASV", argument: .none, requiresLogin: true, help: "PASV: opens a passive data port.",
              feature: nil) { _ in .pasv },
        Entry(verb: "EPSV", argument: .optional, requiresLogin: true, help: "EPSV [1|2|ALL]: extended passive mode.",
              feature: "EPSV") { argument throws(FTPReply) in try parseEPSV(argument) },
        Entry(verb: "PORT", argument: .required, requiresLogin: true,
              help: "PORT h1,h2,h3,h4,p1,p2: active data connection to the client.", feature: nil) { argument throws(FTPReply) in
            try parsePORT(argument!)
        },
        Entry(verb: "EPRT", argument: .required, requiresLogin: true,
              help: "EPRT |family|address|port|: active data connection (RFC 2428).", feature: "EPRT") { argument throws(FTPReply) in
            try parseEPRT(argument!)
        },
        Entry(verb: "ALLO", argument: .optional, requiresLogin: true, help: "ALLO: space is allocated as data arrives.",
              feature: nil) { _ in .allo },
        Entry(verb: "ABOR", argument: .none, requiresLogin: true, help: "ABOR: aborts the transfer in progress.",
              feature: nil) { _ in .abor },
        Entry(verb: "LIST", argument: .optional, requiresLogin: true, help: "LIST [<path>]: lists in ls -l form.",
              feature: nil) { .list(stripListOptions($0), directoryItself: listOptions($0).contains("d")) },
        Entry(verb: "NLST", argument: .optional, requiresLogin: true, help: "NLST [<path>]: lists names.",
              feature: nil) { .nlst(stripListOptions($0)) },
        Entry(verb: "RETR", argument: .required, requiresLogin: true, help: "RETR <path>: downloads a file.",
              feature: nil) { .retr($0!) },
        Entry(verb: "STOR", argument: .required, requiresLogin: true, help: "STOR <path>: uploads a file.",
              feature: nil) { .stor($0!) },
        Entry(verb: "STOU", argument: .optional, requiresLogin: true,
              help: "STOU [<name>]: uploads under a new unique name (the name given, if free).",
              feature: nil) { .stou($0) },
        Entry(verb: "APPE", argument: .required, requiresLogin: true, help: "APPE <path>: appends to a file.",
              feature: nil) { .appe($0!) },
        // REST STREAM (RFC 3659 §5): FileZilla resumes uploads with REST+STOR only when it sees it.
        Entry(verb: "REST", argument: .required, requiresLogin: true, help: "REST <offset>: restarts the next transfer there.",
              feature: "REST STREAM") { argument throws(FTPReply) in
            // Up to off_t's largest: beyond, no file has such a byte (and UInt64.max means
            // "the whole object" to the VFS).
            guard let offset = UInt64(argument!), argument!.allSatisfy(\.isNumber), offset <= UInt64(Int64.max) else {
                throw FTPReply(.syntaxErrorInArguments, "REST needs a byte offset from 0 to \(Int64.max).")
            }
            return .rest(offset)
        },
        Entry(verb: "SIZE", argument: .required, requiresLogin: true, help: "SIZE <path>: shows a file's size.",
              feature: "SIZE") { .size($0!) },
        Entry(verb: "MDTM", argument: .required, requiresLogin: true,
              help: "MDTM <path>: shows a file's time (UTC); MDTM <YYYYMMDDHHMMSS> <path> sets it.",
              feature: "MDTM") { argument in
            if let set = try? parseMFMT(argument!), case .mfmt(let time, let path) = set {
                return .mdtmSet(time: time, path: path, whole: argument!)
            }
            // Fourteen digits and a path, but no real date: a time asked to be set, unless a
            // file has the whole name.
            let words = argument!.split(separator: " ", maxSplits: 1)
            if words.count == 2, let first = words.first?.split(separator: ".", maxSplits: 1).first,
               first.utf8.count == 14, first.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
                return .mdtmSet(time: nil, path: String(words[1]), whole: argument!)
            }
            return .mdtm(argument!)
        },
        Entry(verb: "MFMT", argument: .required, requiresLogin: true,
              help: "MFMT <YYYYMMDDHHMMSS> <path>: sets a file's time (UTC).", feature: "MFMT") { argument throws(FTPReply) in
            try parseMFMT(argument!)
        },
        Entry(verb: "MLST", argument: .optional, requiresLogin: true, help: "MLST [<path>]: facts of one entry.",
              feature: "MLST type*;size*;modify*;perm*;unique*;") { .mlst($0) },
        Entry(verb: "MLSD", argument: .optional, requiresLogin: true, help: "MLSD [<path>]: lists a directory's facts.",
              feature: nil) { .mlsd($0) },
        Entry(verb: "HASH", argument: .required, requiresLogin: true,
              help: "HASH <path>: the file's stored checksum (OPTS HASH MD5|CRC64 selects).",
              feature: "HASH") { .hash($0!, algorithm: nil, legacy: false) },
        Entry(verb: "XMD5", argument: .required, requiresLogin: true, help: "XMD5 <path>: the file's stored MD5.",
              feature: nil) { .hash($0!, algorithm: .md5, legacy: true) },
        Entry(verb: "XCRC", argument: .required, requiresLogin: true, help: "XCRC <path>: the file's stored CRC-32.",
              feature: nil) { .hash($0!, algorithm: .crc32, legacy: true) },
        Entry(verb: "RNFR", argument: .required, requiresLogin: true, help: "RNFR <path>: names what to rename.",
              feature: nil) { .rnfr($0!) },
        Entry(verb: "RNTO", argument: .required, requiresLogin: true, help: "RNTO <path>: renames it (if allowed).",
              feature: nil) { .rnto($0!) },
        Entry(verb: "DELE", argument: .required, requiresLogin: true, help: "DELE <path>: deletes a file.",
              feature: nil) { .dele($0!) },
        Entry(verb: "MKD", argument: .required, requiresLogin: true, help: "MKD <path>: makes a directory.",
              feature: nil) { .mkd($0!) },
        Entry(verb: "RMD", argument: .required, requiresLogin: true, help: "RMD <path>: removes an empty directory.",
              feature: nil) { .rmd($0!) },
        // The X-variants of RFC 775, still sent by some Windows clients.
        Entry(verb: "XPWD", argument: .none, requiresLogin: true, help: "XPWD: as PWD.",
              feature: nil) { _ in .pwd },
        Entry(verb: "XCWD", argument: .required, requiresLogin: true, help: "XCWD <path>: as CWD.",
              feature: nil) { .cwd($0!) },
        Entry(verb: "XCUP", argument: .none, requiresLogin: true, help: "XCUP: as CDUP.",
              feature: nil) { _ in .cdup },
        Entry(verb: "XMKD", argument: .required, requiresLogin: true, help: "XMKD <path>: as MKD.",
              feature: nil) { .mkd($0!) },
        Entry(verb: "XRMD", argument: .required, requiresLogin: true, help: "XRMD <path>: as RMD.",
              feature: nil) { .rmd($0!) },
    ]

    /// Entries by upper-case verb.
    public static let byVerb: [String: Entry] = Dictionary(entries.map { ($0.verb, $0) }, uniquingKeysWith: { a, _ in a })

    /// Verbs advertised only when TLS is configured: lftp starts TLS as soon as it sees AUTH.
    static let tlsVerbs: Set<String> = ["AUTH", "PBSZ", "PROT"]

    /// The FEAT reply (RFC 2389 §3.2): each feature on its own line, led by one space.
    /// HASH's line names the algorithms and stars the session's selection (draft-bryan-ftpext-hash §3.1).
    /// HASH is advertised only with `checksums`, the algorithms some store keeps. MLST's line
    /// stars the facts `machineFacts` has on (RFC 3659 §7.8: OPTS MLST changes what FEAT shows).
    public static func featReply(tls: Bool, hash: FTPHashAlgorithm = .md5,
                                 checksums: [FTPHashAlgorithm] = FTPHashAlgorithm.offered,
                                 machineFacts: Set<String> = FTPListingFormatter.allFacts) -> FTPReply {
        let hashLine = "HASH " + checksums.map { $0 == hash ? "\($0.rawValue)*" : $0.rawValue }.joined(separator: ";")
        let mlstLine = "MLST " + FTPListingFormatter.factOrder.map { machineFacts.contains($0) ? "\($0)*;" : "\($0);" }.joined()
        // TVFS (RFC 3659 §6): paths are one tree with `/` separators.
        let advertised = entries.filter { tls || !tlsVerbs.contains($0.verb) }.compactMap(\.feature)
            .filter { $0 != "HASH" || !checksums.isEmpty }
            .map { $0 == "HASH" ? hashLine : $0.hasPrefix("MLST ") ? mlstLine : $0 }
        let features = Set(advertised + ["TVFS"]).sorted()
        return FTPReply(.systemStatus, lines: ["Features:"] + features.map { " \($0)" } + ["End"])
    }

    /// The FEAT reply of a server without TLS.
    public static var featReply: FTPReply { featReply(tls: false) }

    /// The HELP reply: every verb served, or one verb's line. Without TLS, the TLS verbs
    /// (and CCC) are not served, so HELP does not list them either.
    /// The checksum verbs are listed only when a store here keeps what they ask for (no store
    /// keeps XCRC's CRC-32); they are still recognized, and answer 504 saying so.
    public static func helpReply(for verb: String?, tls: Bool = false,
                                 checksums: [FTPHashAlgorithm] = FTPHashAlgorithm.offered) -> FTPReply {
        let served = { (verb: String) in tls || !(tlsVerbs.contains(verb) || verb == "CCC") }
        if let verb {
            guard let entry = byVerb[verb.uppercased()] else {
                return FTPReply(.syntaxErrorInArguments, "Unknown command \(verb.uppercased()).")
            }
            guard served(entry.verb) else { return FTPReply(.notImplemented, "\(entry.verb): TLS is not configured on this server.") }
            return FTPReply(.help, entry.help)
        }
        var lines = ["The following commands are recognized:"]
        let answered: [String: Bool] = [
            "HASH": !checksums.isEmpty, "XMD5": checksums.contains(.md5), "XCRC": checksums.contains(.crc32),
        ]
        let verbs = entries.map(\.verb).filter { served($0) && answered[$0] != false }
        stride(from: 0, to: verbs.count, by: 8).forEach { start in
            lines.append(" " + verbs[start..<min(start + 8, verbs.count)].joined(separator: " "))
        }
        lines.append("Help OK.")
        return FTPReply(.help, lines: lines)
    }

    private static func parseType(_ argument: String?) throws(FTPReply) -> FTPCommand {
        let words = argument!.uppercased().split(separator: " ")
        // RFC 959 §4.1.2: `I`, `L <size>`, or `A`/`E` with a format code (N, T or C) after it;
        // anything more is no type (`TYPE I I` was taken for I).
        switch (words.first, words.count) {
        case ("I", 1): return .type(.image)
        // "L 8" is binary by another name (RFC 959 §3.1.1.4).
        case ("L", 2) where words[1] == "8": return .type(.image)
        case ("A", 1): return .type(.ascii)
        case ("A", 2) where words[1] == "N": return .type(.ascii)
        case ("A", 2) where ["T", "C"].contains(words[1]), ("E", 1), ("E", 2) where ["N", "T", "C"].contains(words[1]),
             ("L", 2) where UInt8(words[1]) != nil:
            throw FTPReply(.parameterNotImplemented, "Type \(argument!) not implemented.")
        default: throw FTPReply(.syntaxErrorInArguments, "Unknown type \(argument!).")
        }
    }

    /// `PORT h1,h2,h3,h4,p1,p2` (RFC 959 §4.1.2).
    private static func parsePORT(_ argument: String) throws(FTPReply) -> FTPCommand {
        let numbers = argument.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard numbers.count == 6, numbers.allSatisfy({ $0 != nil && (0...255).contains($0!) }) else {
            throw FTPReply(.syntaxErrorInArguments, "Use PORT h1,h2,h3,h4,p1,p2 with numbers from 0 to 255.")
        }
        let values = numbers.map { $0! }
        return .port(host: values[0..<4].map(String.init).joined(separator: "."), port: values[4] << 8 | values[5], family: 1)
    }

    /// `EPRT |1|132.235.1.2|6275|` or `EPRT |2|::1|5282|` (RFC 2428 §2); any delimiter.
    private static func parseEPRT(_ argument: String) throws(FTPReply) -> FTPCommand {
        guard let delimiter = argument.first, !delimiter.isNumber, !delimiter.isLetter else {
            throw FTPReply(.syntaxErrorInArguments, "Use EPRT |family|address|port|.")
        }
        let fields = argument.split(separator: delimiter, omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[4].isEmpty, let family = Int(fields[1]) else {
            throw FTPReply(.syntaxErrorInArguments, "Use EPRT |family|address|port|.")
        }
        guard family == 1 || family == 2 else { return .eprtFamily(family) }
        var host = String(fields[2])
        let valid: Bool
        if family == 1 {
            let octets = host.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
            valid = octets.count == 4 && octets.allSatisfy { $0 != nil }
            // As PORT's numbers: `127.000.000.001` is the client's own 127.0.0.1.
            if valid { host = octets.map { String($0!) }.joined(separator: ".") }
        } else if let canonical = canonicalIPv6(host) {
            // Compared with the client's address as inet_ntop writes it: `0:0:0:0:0:0:0:1` and
            // `::0001` are the client's own ::1, and an IPv4-mapped one its IPv4 address.
            (valid, host) = (true, canonical)
        } else {
            valid = false
        }
        guard valid, let port = Int(fields[3]), (1...65535).contains(port) else {
            throw FTPReply(.syntaxErrorInArguments, "Bad EPRT address or port.")
        }
        return .port(host: host, port: port, family: family)
    }

    /// An IPv6 literal as inet_ntop(3) writes it (an IPv4-mapped one as plain IPv4), or nil.
    static func canonicalIPv6(_ text: String) -> String? {
        var address = in6_addr()
        guard text.utf8.count < INET6_ADDRSTRLEN, inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        let canonical = String(cString: buffer)
        if canonical.hasPrefix("::ffff:"), canonical.contains(".") { return String(canonical.dropFirst(7)) }
        return canonical
    }

    /// `MFMT YYYYMMDDHHMMSS[.sss] path` (draft-somers-ftp-mfxx-04 §3), time in UTC.
    private static func parseMFMT(_ argument: String) throws(FTPReply) -> FTPCommand {
        guard let space = argument.firstIndex(of: " "), let time = parseTimeVal(String(argument[..<space])) else {
            throw FTPReply(.syntaxErrorInArguments, "Use MFMT YYYYMMDDHHMMSS path.")
        }
        let path = String(argument[argument.index(after: space)...])
        guard !path.isEmpty else { throw FTPReply(.syntaxErrorInArguments, "Use MFMT YYYYMMDDHHMMSS path.") }
        return .mfmt(time: time, path: path)
    }

    /// Seconds since 1970 from `YYYYMMDDHHMMSS[.sss]` (RFC 3659 §2.3), or nil: ASCII digits
    /// only (not any Unicode digit, not an exponent in the fraction), a real calendar date.
    static func parseTimeVal(_ text: String) -> Double? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let digits = Array((parts.first ?? "").utf8)
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        guard digits.count == 14, digits.allSatisfy(isDigit) else { return nil }
        if parts.count == 2 { guard (1...9).contains(parts[1].utf8.count), parts[1].utf8.allSatisfy(isDigit) else { return nil } }
        func field(_ start: Int, _ length: Int) -> Int {
            digits[start..<start + length].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        }
        let (year, month, day) = (field(0, 4), field(4, 2), field(6, 2))
        let (hour, minute, second) = (field(8, 2), field(10, 2), field(12, 2))
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        // A leap second (60) is allowed, as RFC 3659 §2.3 does.
        guard (1...12).contains(month), (1...daysInMonth[month - 1]).contains(day), hour < 24, minute < 60,
            second <= 60
        else { return nil }
        // Days from civil (Howard Hinnant), the inverse of the listing formatter's.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        // The fraction, up to nanoseconds, rounded up to the microsecond exactly, as the mount
        // takes times: added to a Double, .0000001 past a second was lost.
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        let nanoseconds = Int(fraction + String(repeating: "0", count: 9 - fraction.utf8.count)) ?? 0
        return MicrosecondTime(seconds: days * 86_400 + hour * 3600 + minute * 60 + second, nanoseconds: nanoseconds).timeInterval
    }

    private static func parseEPSV(_ argument: String?) throws(FTPReply) -> FTPCommand {
        guard let argument else { return .epsv(.any) }
        switch argument.uppercased() {
        case "ALL": return .epsv(.all)
        case "1": return .epsv(.family(1))
        case "2": return .epsv(.family(2))
        default:
            // Any other family: the session answers 522 with the one its connection has.
            if let family = Int(argument) { return .epsv(.family(family)) }
            throw FTPReply(.syntaxErrorInArguments, "Unknown EPSV argument \(argument).")
        }
    }

    /// The `ls` options a LIST, NLST or STAT argument begins with (`-la`, `-a -l`, `-1`): words
    /// of a `-` and letters or digits only, up to a `--`, which ends them. A name such as `-dash.txt` is not
    /// an option (it was taken for `-d` and more, and the folder listed instead).
    static func splitListOptions(_ argument: String?) -> (letters: Set<Character>, rest: Substring?) {
        guard var rest = argument?[...] else { return ([], nil) }
        var letters: Set<Character> = []
        while rest.hasPrefix("-") {
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            let word = rest[rest.index(after: rest.startIndex)..<end]
            if word == "-" {
                rest = rest[end...].drop { $0 == " " }
                break
            }
            guard !word.isEmpty, word.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { break }
            letters.formUnion(word)
            rest = rest[end...].drop { $0 == " " }
        }
        return (letters, rest.isEmpty ? nil : rest)
    }

    /// The letters of the `ls` options before the path (`la` of `-la dir`).
    static func listOptions(_ argument: String?) -> Set<Character> {
        splitListOptions(argument).letters
    }

    /// Drops `ls` options that clients send with LIST (`-a`, `-la`, `-l`): object storage has no
    /// hidden files, and the format is always `ls -l`.
    static func stripListOptions(_ argument: String?) -> String? {
        splitListOptions(argument).rest.map(String.init)
    }
}
