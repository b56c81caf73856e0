#if canImport(Glibc)
import Glibc
#endif

/// A folder of one process's own inside a spool folder that several may share (two mounts of
/// one user use the same default spool). The process holds a lock on it while it runs, so a
/// later one can tell the folders of runs that ended without clearing up (killed) from those of
/// runs still going, and clear only the former: their journal's uploads aborted, their files
/// removed.
public final class SpoolRunFolder: @unchecked Sendable {
    public let path: String
    private let lockDescriptor: Int32

    private init(path: String, lockDescriptor: Int32) {
        self.path = path
        self.lockDescriptor = lockDescriptor
    }

    deinit { close(lockDescriptor) }

    /// Makes and locks a new run folder `<spool>/<prefix><random>` (mode 700).
    public static func claim(in spool: String, prefix: String) throws -> SpoolRunFolder {
        // Made and locked under another name first, so that no other process ever sees it
        // unlocked under a run folder's name and takes it for abandoned.
        let name = DirectoryOps.randomName()
        let making = "\(spool)/\(makingPrefix)\(name)"
        guard mkdir(making, 0o700) == 0 else { throw ObjectStoreError.io(operation: "mkdir \(making)", errno: errno) }
        guard let lock = lockFile(in: making, creating: true) else {
            let code = errno
            try? DirectoryOps.removeTree(making)
            throw ObjectStoreError.io(operation: "lock \(making)", errno: code)
        }
        let path = "\(spool)/\(prefix)\(name)"
        do {
            try DirectoryOps.rename(making, to: path)
        } catch {
            close(lock)
            try? DirectoryOps.removeTree(making)
            throw error
        }
        return SpoolRunFolder(path: path, lockDescriptor: lock)
    }

    /// The run folders in `spool` whose process is gone (nothing holds their lock), each now
    /// locked by the caller, who should clear and ``remove()`` them. So are the folders of a
    /// process that died while it made its own (`.making-*`, before their rename), a minute
    /// after they were made: no process is still making them by then.
    public static func abandoned(in spool: String, prefix: String) -> [SpoolRunFolder] {
        let entries = (try? DirectoryOps.entries(of: spool)) ?? []
        let now = Double(time(nil))
        return entries.compactMap { entry in
            guard entry.isDirectory else { return nil }
            let path = "\(spool)/\(entry.name)"
            if entry.name.hasPrefix(prefix) {
                return lockFile(in: path, creating: false).map { SpoolRunFolder(path: path, lockDescriptor: $0) }
            }
            guard entry.name.hasPrefix(makingPrefix), let made = (try? PosixFile.status(path)) ?? nil,
                now - made.modified > makingAge
            else { return nil }
            let lock = lockFile(in: path, creating: false) ?? lockFile(in: path, creating: true)
            return lock.map { SpoolRunFolder(path: path, lockDescriptor: $0) }
        }
    }

    static let makingPrefix = ".making-"
    static let makingAge = 60.0

    /// The folder's lock file, opened and locked without waiting; nil when another process
    /// holds it (or it cannot be opened).
    private static func lockFile(in folder: String, creating: Bool) -> Int32? {
        let descriptor = open("\(folder)/.lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW | (creating ? O_CREAT | O_EXCL : 0), 0o600)
        guard descriptor >= 0 else { return nil }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// Removes the folder and everything in it; the lock goes with the object.
    public func remove() {
        try? DirectoryOps.removeTree(path)
    }
}
