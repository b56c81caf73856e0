import OSSVFS

extension FTPReply {
    /// The reply for a VFS error: one exhaustive switch, so a new error case does not
    /// compile until it has a reply (RFC 959 §4.2.1 for the codes).
    init(_ error: VFSError) {
        switch error {
        case .notFound(let path):
            self.init(.fileUnavailable, "\(path): no such file or directory.")
        case .alreadyExists(let path):
            self.init(.fileUnavailable, "\(path): already exists.")
        case .notDirectory(let path):
            self.init(.fileUnavailable, "\(path): not a directory.")
        case .isDirectory(let path):
            self.init(.fileUnavailable, "\(path): is a directory.")
        case .directoryNotEmpty(let path):
            self.init(.fileUnavailable, "\(path): directory not empty.")
        case .permissionDenied(let reason):
            self.init(.fileUnavailable, "Permission denied: \(reason).")
        case .invalidName(let reason):
            self.init(.fileNameNotAllowed, "File name not allowed: \(reason).")
        case .nameTooLong(let reason):
            self.init(.fileNameNotAllowed, "File name too long: \(reason).")
        case .invalidRange(let reason):
            self.init(.fileUnavailable, "Invalid position: \(reason).")
        case .unsupported(let reason):
            self.init(.fileUnavailable, "Not supported on object storage: \(reason).")
        case .integrity(let reason):
            self.init(.localError, "Integrity check failed: \(reason).")
        case .noSpace:
            // The reason names the server's own folders (the spool's, the local store's): it
            // goes to the log, which records every failed transfer with it, not to the client.
            self.init(.insufficientStorage, "Insufficient storage space on the server; nothing was stored.")
        case .tooLarge(let reason):
            // RFC 959 §4.2.1: 552, exceeded storage allocation; for good, not "try again".
            self.init(.exceededStorage, "File too large: \(reason); nothing was stored.")
        case .busy(let reason):
            self.init(.fileBusy, "File busy, try again: \(reason).")
        case .storeUnavailable(let reason):
            self.init(.localError, Self.sentence("Storage unavailable, try again: \(reason)"))
        case .storeRefused(let reason):
            self.init(.fileUnavailable, Self.sentence("Refused by the store: \(reason)"))
        case .storeFailure(let reason):
            self.init(.localError, Self.sentence("Storage error: \(reason)"))
        }
    }

    /// `text` ending in one full stop: a store's message often brings its own. Not for texts
    /// that end in a client's name, whose own last dot must show.
    private static func sentence(_ text: String) -> String {
        text.hasSuffix(".") ? text : text + "."
    }
}
