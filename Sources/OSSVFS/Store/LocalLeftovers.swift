#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Files a process that died left in the local store's `.ossftp-tmp`: a copy or an upload being
/// staged there, or a completion's object being joined, when it was killed. Nothing names them
/// afterwards, and each held disk (up to the whole object) for good.
///
/// A file there that nothing has written for ``abandonedAge`` is abandoned: staging and joining
/// write without pause while they run. The first part of a completion cut short stays, whatever
/// its age: its upload's next completion takes it back (``LocalKeyLayout/resumeCompletion(in:key:)``).
enum LocalLeftovers {
    /// How long a staging file is left unwritten before it counts as abandoned.
    static let abandonedAge: Double = 3600

    /// Bucket folders this process sweeps already.
    private static let sweeping = LockedBox<Set<String>>([])

    /// Sweeps the bucket's staging folder now and every ``abandonedAge``, once per bucket folder
    /// in this process (a server makes a store per login). Off the caller's thread.
    static func sweepRegularly(_ layout: LocalKeyLayout) {
        guard sweeping.withValue({ $0.insert(layout.bucketPath).inserted }) else { return }
        Task.detached(priority: .background) {
            while true {
                _ = try? await BlockingIO.run { sweep(layout, now: Date().timeIntervalSince1970) }
                try? await Task.sleep(for: .seconds(abandonedAge))
            }
        }
    }

    /// Removes the abandoned staging files; returns how many. Blocking.
    @discardableResult
    static func sweep(_ layout: LocalKeyLayout, now: Double) -> Int {
        guard let entries = (try? DirectoryOps.entries(of: layout.tempFolderPath)) ?? nil, !entries.isEmpty else { return 0 }
        let kept = completionParts(layout)
        var removed = 0
        for entry in entries where !kept.contains(entry.name) {
            let path = "\(layout.tempFolderPath)/\(entry.name)"
            // The later of its data's and its inode's last change: a file staged by a hard link
            // to a spool file, or given its object's time before it is placed, carries an old
            // mtime while it is in use; the link, the rename and the time set change its ctime.
            var status = stat()
            guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
            let changed = max(Double(status.st_mtim.tv_sec), Double(status.st_ctim.tv_sec))
            guard now - changed > abandonedAge else { continue }
            if (try? DirectoryOps.unlinkIfPresent(path)) != nil { removed += 1 }
        }
        return removed
    }

    /// The names in `.ossftp-tmp` that completions cut short have their first parts at.
    private static func completionParts(_ layout: LocalKeyLayout) -> Set<String> {
        var names = Set<String>()
        for upload in ((try? DirectoryOps.entries(of: layout.uploadsFolderPath)) ?? nil) ?? [] {
            if let note = LocalKeyLayout.CompletionNote.read(in: "\(layout.uploadsFolderPath)/\(upload.name)") {
                names.insert(note.tempName)
            }
        }
        return names
    }
}
