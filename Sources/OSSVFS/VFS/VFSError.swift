/// The one error type of the VFS. Each frontend maps it with one exhaustive switch:
/// FTPFrontend to reply codes, FuseFrontend to errno values.
public enum VFSError: Error, Sendable, Equatable {
    /// Nothing exists at the path.
    case notFound(String)
    /// Something already exists at the path.
    case alreadyExists(String)
    /// A directory was expected.
    case notDirectory(String)
    /// A file was expected, and the path is a directory.
    case isDirectory(String)
    /// A directory to remove still holds entries.
    case directoryNotEmpty(String)
    /// The account or the store does not allow this.
    case permissionDenied(String)
    /// The name cannot become a key (NUL, invalid, reserved).
    case invalidName(String)
    /// The key would exceed the store's limit.
    case nameTooLong(String)
    /// A position or range outside the object.
    case invalidRange(String)
    /// Object storage cannot do this (and ossftp does not pretend it can).
    case unsupported(String)
    /// Data did not match its checksum; nothing was committed.
    case integrity(String)
    /// The spool or the local disk is full.
    case noSpace(String)
    /// The file is larger than the server's disk takes (EFBIG: a file-size limit, FAT's 4 GiB).
    case tooLarge(String)
    /// Another upload is continuing the same file; trying again once it ends will work.
    case busy(String)
    /// The store did not answer or answered with a transient error; retrying may work.
    case storeUnavailable(String)
    /// The store refused the request for good, with no more precise reason (a 4xx as
    /// InvalidArgument, a redirect to another endpoint, 501 NotImplemented): asking again
    /// will not help, the account's or the server's settings must change.
    case storeRefused(String)
    /// The store or the server's own disk failed in a way neither could name (an upload the
    /// store dropped, an unexpected errno): asking again may work once it is looked into.
    case storeFailure(String)

    /// The path or reason the error carries.
    public var detail: String {
        switch self {
        case .notFound(let text), .alreadyExists(let text), .notDirectory(let text), .isDirectory(let text),
            .directoryNotEmpty(let text), .permissionDenied(let text), .invalidName(let text), .nameTooLong(let text),
            .invalidRange(let text), .unsupported(let text), .integrity(let text), .noSpace(let text),
            .tooLarge(let text), .busy(let text), .storeUnavailable(let text), .storeRefused(let text),
            .storeFailure(let text):
            return text
        }
    }

    /// What an I/O operation did (`write`, `rename`), without the file it named (`read: object
    /// shrank while being read`, which names none, is kept whole).
    static func verb(of operation: String) -> String {
        guard operation.contains("/") else { return operation }
        let first = operation.prefix { $0 != " " && $0 != ":" }
        return !first.isEmpty && first.allSatisfy({ $0.isLetter || $0 == "_" }) ? String(first) : "work on a file"
    }

    /// Error codes of answers below 500 that a later request may not meet: those the store
    /// client asks again itself (a body the store waited too long for, a clock out of step), a
    /// conflicting operation still running, and a server error sent in a 200's document.
    static let transientCodes = RetryPolicy.retryableCodes.union([
        "OperationAborted", "PriorRequestNotComplete", "InternalError", "ServiceUnavailable",
    ])

    /// Statuses below 500 that a later request may not meet: a temporary redirect (S3's while a
    /// new bucket's name spreads), a proxy's request timeout, too early, too many requests.
    static let transientStatuses: Set<Int> = [307, 408, 425, 429]

    /// The VFS meaning of a store error.
    public init(_ error: ObjectStoreError, path: String) {
        switch error {
        case .noSuchKey: self = .notFound(path)
        // Named by the client's path, never the key: for an account with a home folder the key
        // tells of the bucket above it.
        case .changed: self = .integrity("\(path) was replaced while it was read; read it again")
        // For good, not "try again" (451): 550 on FTP, ENOENT on the mount.
        case .noSuchBucket(let bucket): self = .notFound("the bucket \(bucket)")
        // The store's words (HTTPObjectStore) or the local store's upload id: either way, the
        // upload the parts went to is gone (aborted by a lifecycle rule), and a new one works.
        case .noSuchUpload: self = .storeFailure("\(path): the store no longer has the multipart upload (NoSuchUpload)")
        case .accessDenied: self = .permissionDenied(path)
        case .invalidCredentials(let code, _): self = .permissionDenied("\(path): \(code)")
        case .invalidKey(let reason): self = .invalidName(reason)
        case .keyTooLong(let reason): self = .nameTooLong("\(path): \(reason)")
        case .conflict: self = .alreadyExists(path)
        case .checksumMismatch(let expected, let actual):
            self = .integrity("\(path): checksum \(actual), expected \(expected)")
        case .io(let operation, let code):
            switch code {
            // The operation names the server's own files (the spool's, the local store's
            // folder): the client hears only what was done.
            case 28, 122: self = .noSpace(operation)  // ENOSPC, EDQUOT (the 452 does not show it)
            // ENOENT: the local store's folder went while the file was written into it (another
            // session's RMD or rename): no such folder, for good, as for a folder missing at the
            // start (550), not "try again" (451).
            case 2: self = .notFound(path)
            case 36: self = .nameTooLong("\(path): a name is longer than the file system allows")  // ENAMETOOLONG
            case 39: self = .directoryNotEmpty("\(path) holds entries no listing shows")  // ENOTEMPTY
            case 27: self = .tooLarge("\(path) is larger than the server's disk takes")  // EFBIG
            // EPERM, EACCES, EROFS: the local store's folder refuses (an immutable or read-only
            // folder); no retry will change that, so not "try again later" (451) but 550.
            case 1, 13, 30: self = .permissionDenied("\(path): the file system refused to \(Self.verb(of: operation))")
            // EMFILE, ENFILE, ENOMEM: the server ran short of open files or memory, which
            // passes as load does; not "failed on the server's disk".
            case 23, 24: self = .storeUnavailable("\(path): the server has too many files open")
            case 12: self = .storeUnavailable("\(path): the server is short of memory")
            default:
                let said = operation.contains("/") ? "\(Self.verb(of: operation)) failed on the server's disk" : operation
                self = .storeFailure("\(path): \(said) (errno \(code))")
            }
        case .service(let status, let code, let message, _):
            if status == 416 {
                self = .invalidRange(message)
            } else if code == "InvalidObjectState" {
                // An archived object (OSS's Archive classes, S3's Glacier) reads only once
                // restored: asking again will not help, so 550 and EACCES, not 451.
                self = .permissionDenied("\(path) is archived: restore it first (InvalidObjectState)")
            } else if code == "EntityTooLarge" {
                self = .tooLarge("\(path): the store takes no object this large (EntityTooLarge)")
            } else if status == 413 {
                // A proxy's or gateway's size limit, often with an HTML page for a body.
                self = .tooLarge("\(path): the store takes no request this large (\(code))")
            } else if status == 507 || code == "XMinioStorageFull" || code == "QuotaExceeded" {
                // A full store or a used-up quota (Ceph RGW's 403 QuotaExceeded): 452 and
                // ENOSPC, as a full disk, which room made later lets pass.
                self = .noSpace("the store is full (\(code): \(message))")
            } else if status == 501 || code == "NotImplemented" {
                self = .unsupported("\(path): the store does not implement this (\(code))")
            } else if status >= 500 || Self.transientStatuses.contains(status) || Self.transientCodes.contains(code) {
                self = .storeUnavailable("\(code): \(message)")
            } else if status < 300 {
                // An answer that said success but could not be used (a copy's error document,
                // a range ignored, a listing that is none): the store's fault, not a refusal.
                self = .storeFailure("\(code): \(message)")
            } else {
                // RFC 959 §4.2: a 4xx reply tells the client to try again, and lftp sent the
                // whole file again up to 1,000 times for a refusal that could never change.
                self = .storeRefused("\(code): \(message)")
            }
        // libcurl's words name the store's address: the client hears what happened, the log
        // (every failed request, every failed transfer) where.
        case .transport(let reason, let code):
            let summary = code.map { HTTPTransportError(code: $0, message: "").summary } ?? reason
            // An answer too large for libcurl stays too large: no use trying again.
            self = code == 27 || code == 100 ? .storeFailure(summary) : .storeUnavailable(summary)
        }
    }
}
