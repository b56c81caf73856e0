import Foundation

/// The spool folder of `serve` and `mount`.
enum SpoolFolder {
    /// Creates the folder (mode 700) or checks the one there: a real folder of the caller's
    /// that no one else may write in. The default one is at a name anyone can guess under
    /// /tmp, and another user must not be able to plant it (or links in it) first.
    static func prepare(_ path: String) throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            // Its parents too (the shipped config.json's `data/spool` in a fresh checkout),
            // readable by their owner only, as the spool.
            let parent = (path as NSString).deletingLastPathComponent
            guard errno == ENOENT, !parent.isEmpty,
                (try? FileManager.default.createDirectory(
                    atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])) != nil,
                mkdir(path, 0o700) == 0 || errno == EEXIST
            else {
                throw ConfigError("cannot create the spool folder \(path): \(String(cString: strerror(errno)))")
            }
        }
        var status = stat()
        guard lstat(path, &status) == 0 else {
            throw ConfigError("cannot read the spool folder \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFDIR, status.st_uid == getuid(), status.st_mode & 0o022 == 0 else {
            throw ConfigError(
                "the spool folder \(path) must be a folder of this user that no one else may write in (not a link): fix its owner and mode (chmod 700), or choose another folder with --spool_dir")
        }
    }

    /// A warning when the file system of `path` has less room than `budget` bytes: uploads
    /// then fail with 452 (ENOSPC on the mount) once it is full, though the budget would have
    /// let them wait for parts to be stored.
    /// `kept`: disk the spool takes beside the budget (the mount keeps each written file's first
    /// part until its close), counted in for the comparison.
    static func roomWarning(_ path: String, budget: Int64, kept: Int64 = 0) -> String? {
        var space = statvfs()
        guard statvfs(path, &space) == 0 else { return nil }
        let free = Int64(space.f_bavail) * Int64(space.f_frsize)
        guard free < budget + kept else { return nil }
        let beside = kept > 0 ? " and the \(kept >> 20) MiB a written file keeps beside it" : ""
        return "the spool folder \(path) has \(free >> 20) MiB free, less than the spool budget of \(budget >> 20) MiB\(beside): "
            + "uploads will fail with 452 (ENOSPC) when it is full; lower spool_budget_mb or give a larger spool_dir"
    }

    /// Takes the spool for this `serve` alone, for as long as the process runs. At start a
    /// server clears the spool files no record of its journal names, and finishes or drops
    /// what the journal holds: a second server on the same folder deleted the first one's
    /// uploads in flight, some of them already answered 226. (Mounts keep to run folders of
    /// their own inside the spool, and are not concerned.)
    static func claimForServe(_ path: String) throws {
        let lockPath = "\(path)/.serve.lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw ConfigError("cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &holder, holder.count, 0)
            let pid = count > 0 ? String(decoding: holder[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            close(descriptor)
            throw ConfigError("the spool folder \(path) is in use by another ossftp serve\(pid.isEmpty ? "" : " (pid \(pid))"); "
                + "give each server its own spool_dir")
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, text, text.count, 0)
        // Held until the process ends: the descriptor is never closed.
        heldLock = descriptor
    }

    /// The lock's descriptor, kept open for the process's life (closing it would free the lock).
    nonisolated(unsafe) private static var heldLock: Int32 = -1
}
