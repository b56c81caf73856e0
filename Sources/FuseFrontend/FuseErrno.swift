import CFuse3
import OSSVFS

/// The errno FUSE returns for each VFS error: one exhaustive switch, so a new error case
/// does not compile until it has an errno.
public enum FuseErrno {
    public static func code(for error: VFSError) -> Int32 {
        switch error {
        case .notFound: return ENOENT
        case .alreadyExists: return EEXIST
        case .notDirectory: return ENOTDIR
        case .isDirectory: return EISDIR
        case .directoryNotEmpty: return ENOTEMPTY
        case .permissionDenied: return EACCES
        case .invalidName: return EINVAL
        case .nameTooLong: return ENAMETOOLONG
        case .invalidRange: return EINVAL
        case .unsupported: return ENOTSUP
        case .integrity: return EIO
        case .noSpace: return ENOSPC
        case .tooLarge: return EFBIG
        case .busy: return EBUSY
        // Not EAGAIN: on a blocking descriptor programs read it as "no data yet" (Python's
        // read returns None), and a copy ended short as if it were whole.
        case .storeUnavailable: return EIO
        case .storeRefused: return EIO
        case .storeFailure: return EIO
        }
    }
}

extension FuseErrno {
    /// The errno of any error a callback meets: VFS errors by the table above, store errors
    /// through their VFS meaning, an errno carried as such, anything else EIO.
    public static func code(forAny error: any Error) -> Int32 {
        switch error {
        case let error as VFSError: return code(for: error)
        case let error as ObjectStoreError: return code(for: VFSError(error, path: ""))
        case let error as FuseError: return error.errno
        default: return EIO
        }
    }
}

/// An errno chosen by the FUSE frontend itself (for what has no VFS meaning).
public struct FuseError: Error, Equatable {
    public var errno: Int32
    public init(_ errno: Int32) { self.errno = errno }
}

/// The libfuse3 the mount runs on.
public enum FuseLibrary {
    /// libfuse's version as major * 100 + minor (314 for 3.14).
    public static var version: Int { Int(fuse_version()) }
}
