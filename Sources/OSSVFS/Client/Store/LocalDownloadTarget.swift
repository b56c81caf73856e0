#if canImport(Glibc)
import Glibc
#endif

/// How a download to a local path is written, decided as `cp` decides it: an ordinary file is
/// replaced whole once the download is complete, anything else is written into as it is.
enum LocalDownloadTarget: Equatable {
    /// The mode and owner of a file being replaced, which the new one keeps.
    struct Kept: Equatable {
        var mode: mode_t
        var owner: uid_t
        var group: gid_t
    }

    /// A new file, or an ordinary one (a single name) replaced: written beside `path` under a
    /// temporary name, then renamed over it. A new file gets 0666 less the umask.
    case replace(path: String, keeping: Kept?)
    /// A device, a FIFO, a file with other hard links, or another user's file: opened and
    /// written, as `cp` does (renaming over `/dev/null` would put a file in its place; over a
    /// hard link, split it).
    case writeInto(path: String, truncating: Bool)

    /// The target for `path`. A symbolic link is followed: the file it names is replaced and
    /// the link stays; a link to nothing is refused, as `cp` refuses to write through it.
    static func of(_ path: String) throws -> LocalDownloadTarget {
        var link = stat()
        guard lstat(path, &link) == 0 else {
            guard errno == ENOENT else { throw ObjectStoreError.io(operation: "stat \(path)", errno: errno) }
            return .replace(path: path, keeping: nil)
        }
        var status = stat()
        guard stat(path, &status) == 0 else {
            let code = errno
            if code == ENOENT {
                throw ObjectStoreError.io(operation: "not writing through the dangling symbolic link \(path)", errno: code)
            }
            throw ObjectStoreError.io(operation: "stat \(path)", errno: code)
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG where status.st_nlink > 1 || (status.st_uid != geteuid() && geteuid() != 0):
            // Hard-linked, or someone else's file: written into, as cp does (refused unless it
            // may be written), never replaced by one of the caller's in a folder it may write.
            return .writeInto(path: path, truncating: true)
        case S_IFREG:
            let kept = Kept(mode: status.st_mode & 0o7777, owner: status.st_uid, group: status.st_gid)
            guard link.st_mode & S_IFMT == S_IFLNK else { return .replace(path: path, keeping: kept) }
            guard let resolved = realpath(path, nil) else {
                throw ObjectStoreError.io(operation: "resolve \(path)", errno: errno)
            }
            defer { free(resolved) }
            return .replace(path: String(cString: resolved), keeping: kept)
        case S_IFDIR:
            throw ObjectStoreError.io(operation: "write \(path)", errno: EISDIR)
        default:
            return .writeInto(path: path, truncating: false)
        }
    }
}
