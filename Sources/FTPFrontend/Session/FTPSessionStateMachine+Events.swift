import OSSVFS

/// The events and actions of ``FTPSessionStateMachine``: what it asks its handler to do, and
/// the results the handler feeds back.
extension FTPSessionStateMachine {
    /// What the handler must do next.
    public enum Action: Equatable, Sendable {
        /// Send a reply.
        case send(FTPReply)
        /// Send a reply, then close the control connection.
        case sendAndClose(FTPReply)
        /// Check credentials; answer with ``authenticationSucceeded()`` or ``authenticationFailed()``.
        case authenticate(user: String, password: String)
        /// Run a VFS operation; answer with ``operationSucceeded(_:result:)`` or ``operationFailed(_:_:)``.
        case perform(Operation)
        /// Run a data transfer; answer with ``transferStarted()`` then ``transferFinished(_:)``.
        case transfer(Transfer)
        /// Hold the line until the running transfer ends, then feed it again.
        case deferLine(FTPControlLine)
        /// Send several replies in order (ABOR's 426 and 226).
        case sendReplies([FTPReply])
        /// Stop the running transfer; answer with ``transferFinished(_:)``.
        case abortTransfer
        /// Close the data connection set up for no transfer yet, then send the reply (ABOR
        /// with no transfer running, RFC 959 §4.1.3).
        case closeDataConnection(FTPReply)
        /// Forget the login and the data connection setup (REIN), then send the reply.
        case reinitialize(FTPReply)
        /// Send the reply (234), then start TLS on the control connection, dropping any
        /// plaintext that came after AUTH; with `loggedOut`, forget the login first (RFC 2228
        /// §3: an accepted AUTH makes the user log in again).
        case startTLS(FTPReply, loggedOut: Bool)
    }

    /// TLS policy of the server (RFC 4217).
    public struct TLSPolicy: Sendable, Equatable {
        public var available: Bool
        public var requiredForLogin: Bool
        public var requiredForData: Bool

        public init(available: Bool = false, requiredForLogin: Bool = false, requiredForData: Bool = false) {
            self.available = available
            self.requiredForLogin = requiredForLogin
            self.requiredForData = requiredForData
        }
    }

    /// Work on the VFS or the network that ends in one reply.
    public enum Operation: Equatable, Sendable {
        case changeDirectory(VFSPath)
        case makeDirectory(VFSPath)
        case removeDirectory(VFSPath)
        case removeFile(VFSPath)
        case size(VFSPath)
        case openPassiveListener(extended: Bool)
        /// PORT/EPRT: remember where to connect for the next transfer.
        case prepareActiveConnection(host: String, port: Int)
        /// RNFR: check that the source exists (a folder, when written with a trailing `/`).
        case renameSource(VFSPath, folder: Bool = false)
        /// RNTO: a destination written with a trailing `/` needs a folder as the source.
        case rename(VFSPath, to: VFSPath, folder: Bool = false)
        case modificationTime(VFSPath)
        case setModificationTime(VFSPath, Double)
        /// `MDTM time path`: the time of `named` (the whole argument as a path) when that
        /// exists, else set the time of `path`.
        /// The time of the file with the whole name, or else set `path`'s (nil: no real time).
        case modificationTimeOrSet(named: VFSPath?, VFSPath, Double?)
        /// MLST: the facts of one entry. `folderOnly`: the path was written with a trailing
        /// separator, so it names a folder (a file there is "not a directory").
        case machineStat(VFSPath, folderOnly: Bool = false)
        /// HASH, XMD5, XCRC: a stored checksum.
        case checksum(VFSPath, FTPHashAlgorithm, legacy: Bool)
        /// STAT with a path: its `ls -l` lines, at most `limit` of a directory's.
        case statusListing(VFSPath, limit: Int, entryItself: Bool = false, folderOnly: Bool = false)
    }

    /// What an operation found.
    public enum OperationResult: Equatable, Sendable {
        case done
        case size(UInt64)
        /// The passive listener is open at this address (dotted IPv4 for PASV) and port.
        case passiveListener(host: String, port: Int)
        case modified(Double)
        /// A time was set; the one the store kept, when it could be read back.
        case timeSet(Double?)
        /// MLST: the entry, and what the session may do with it (its `perm` fact).
        case entry(VFSEntry, permissions: AccountPermissions)
        case checksums(VFSChecksums)
        /// `ls -l` lines for STAT; `complete` is false when the directory has more entries.
        case statusLines([String], directory: Bool, complete: Bool)
    }

    /// A transfer over the data connection.
    public enum Transfer: Equatable, Sendable {
        /// `namePrefix`: for NLST of a file or a wildcard in a folder (`NLST sub/a.jpg`,
        /// `NLST sub/*.jpg`), the folder as the client wrote it, put before each name, as
        /// Windows' and BSD's `mget` then RETR them. A folder's own entries come bare.
        /// `entryItself`: the directory's own line (`LIST -d`), not its entries.
        /// `folderOnly`: the path was written with a trailing separator (`LIST f/`), so a file
        /// there is "not a directory", as `ls f/` says, rather than listed as itself.
        case list(VFSPath, format: FTPListingFormat, namePrefix: String = "", entryItself: Bool = false,
                  folderOnly: Bool = false)
        case retrieve(VFSPath, offset: UInt64)
        /// STOR, after REST n: keep the first n bytes of the existing file.
        case store(VFSPath, keepingFirst: UInt64?)
        case append(VFSPath)
        /// STOU: a new file under a name ossftp chose; with `nameGiven`, the client's name if no
        /// file has it, else that name with `.1` to `.99` or a random suffix added.
        case storeUnique(VFSPath, nameGiven: Bool)
    }

    /// How a transfer ended.
    public enum TransferOutcome: Equatable, Sendable {
        case completed
        /// Refused before any data moved (for example a missing file).
        case refused(VFSError)
        /// MLSD of something that is not a directory (RFC 3659 §7.2: 501).
        case notADirectoryListing(VFSPath)
        /// The data connection could not be opened.
        case noDataConnection
        /// The data connection broke or was closed early.
        case connectionLost
        /// A private data connection was closed for not resuming the control connection's TLS
        /// session (`tls_require_reuse`).
        case sessionNotResumed
        /// The transfer failed in the store or the spool; for uploads, nothing was committed.
        case failed(VFSError)
        /// ABOR stopped it; for uploads, nothing was committed.
        case aborted
        /// Nothing moved for this many seconds (`transfer_stall_timeout`): stopped; for
        /// uploads, nothing was committed.
        case stalled(seconds: Int)
    }
}
