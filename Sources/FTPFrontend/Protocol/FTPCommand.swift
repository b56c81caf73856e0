/// A parsed command with typed arguments. The parser builds it from the ``FTPCommandTable``;
/// the session state machine switches over it exhaustively, so a new verb does not compile
/// until it is handled.
public enum FTPCommand: Equatable, Sendable {
    // Access control (RFC 959 §4.1.1).
    case user(String)
    case pass(String)
    case acct
    case rein
    case cwd(String)
    case cdup
    case quit
    // Transfer parameters (RFC 959 §4.1.2, RFC 2428).
    case type(FTPTransferType)
    case mode(String)
    case stru(String)
    case pasv
    case epsv(EPSVArgument)
    /// PORT or EPRT: the client's address and port for an active data connection, and the
    /// family it was given as (1, IPv4, for PORT; EPRT's: an IPv4-mapped address given as 2
    /// is written as its IPv4 address).
    case port(host: String, port: Int, family: Int)
    /// EPRT naming a network family other than 1 (IPv4) and 2 (IPv6): the session answers
    /// 522 with its connection's (RFC 2428 §2).
    case eprtFamily(Int)
    case allo
    // Service commands (RFC 959 §4.1.3, RFC 3659).
    case retr(String)
    case stor(String)
    case appe(String)
    /// STOU, with the name the client would like (BSD ftp's `sunique` sends one).
    case stou(String?)
    case rest(UInt64)
    case abor
    case dele(String)
    case rmd(String)
    case mkd(String)
    case pwd
    /// LIST; `directoryItself` for `LIST -d`, which shows a directory's own line, as `ls -d`.
    case list(String?, directoryItself: Bool)
    case nlst(String?)
    case size(String)
    case rnfr(String)
    case rnto(String)
    case syst
    /// STAT alone: the session's status; STAT with a path: its listing on the control
    /// connection (`-d`: the entry itself, as `ls -ld`).
    case stat(String?, directoryItself: Bool = false)
    case site(String)
    case clnt
    /// PRET <command>: the next transfer, announced ahead (drftpd's extension, sent by curl
    /// `--ftp-pret`); nothing here needs it.
    case pret
    case help(String?)
    case noop
    // Security (RFC 4217).
    case auth(String)
    case pbsz(String)
    case prot(String)
    case ccc
    // Extensions (RFC 2389, RFC 2640, RFC 3659, draft-somers-ftp-mfxx).
    case feat
    case opts(String)
    case mdtm(String)
    /// `MDTM YYYYMMDDHHMMSS path`, the older way to set a time that WinSCP and others send
    /// when MFMT is not offered; a file whose own name looks so is queried, not set.
    /// `MDTM time path`; `time` is nil when the first word has a time's shape but is no real
    /// date (`20201301000000`).
    case mdtmSet(time: Double?, path: String, whole: String)
    case mfmt(time: Double, path: String)
    case mlst(String?)
    case mlsd(String?)
    /// HASH (draft-bryan-ftpext-hash-02), XMD5 and XCRC: a checksum the store keeps.
    case hash(String, algorithm: FTPHashAlgorithm?, legacy: Bool)
}

/// The checksums HASH can name. Only stored ones are answered; nothing is computed.
public enum FTPHashAlgorithm: String, CaseIterable, Equatable, Sendable {
    case md5 = "MD5"
    /// CRC-64/XZ, as OSS keeps it (not in the draft's list; clients may select it by name).
    case crc64 = "CRC64"
    /// CRC-32, which XCRC asks for; no store keeps it.
    case crc32 = "CRC32"

    /// The algorithms FEAT may advertise for HASH.
    public static let offered: [FTPHashAlgorithm] = [.md5, .crc64]
}

/// The form of a directory listing on the data connection.
public enum FTPListingFormat: Equatable, Sendable {
    /// LIST: `ls -l` lines.
    case long
    /// NLST: bare names.
    case names
    /// MLSD: RFC 3659 facts.
    case machine
}

/// The representation type of TYPE (RFC 959 §3.1.1). Only A and I are served.
public enum FTPTransferType: Equatable, Sendable {
    case ascii
    case image
}

/// The argument of EPSV (RFC 2428 §3).
public enum EPSVArgument: Equatable, Sendable {
    /// No argument: the protocol of the control connection.
    case any
    /// `EPSV 1` (IPv4) or `EPSV 2` (IPv6).
    case family(Int)
    /// `EPSV ALL`: only EPSV from now on.
    case all
}
