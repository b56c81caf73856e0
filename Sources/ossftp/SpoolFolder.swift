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
                "the spool folder \(path) must be a folder of this user that no one else may write in (not a link); give --spool_dir")
        }
    }
}
