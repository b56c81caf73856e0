#if canImport(Glibc)
import Glibc
#endif
import OSSVFS

/// One open file: a reader, or an upload in one of two forms.
///
/// - Streaming: a new or truncated file written from start to end goes straight into the spool
///   and up in parts while it is written (the fast path: `cp`, `dd`, `>` redirection).
/// - Staged: an existing file changed in place is copied into the spool first
///   (``FuseStagedCopy``), up to the configured size.
///
/// Either is committed on flush (close), fsync or release; after a commit a streaming file can
/// go on growing at its end (the stored bytes are kept server-side). Every call on one open
/// file is serialized by its lock; libfuse calls from several threads.
final class FuseOpenFile: @unchecked Sendable {
    let path: VFSPath
    let lock = Lock()
    let writable: Bool
    /// Opened with O_APPEND: every write goes to the file's own end (see ``FuseFilesystem/write(_:_:at:)``).
    let appending: Bool
    /// Created, or opened with O_TRUNC: it replaces the file (the last to close wins), so it
    /// never waits for other writers, even when it goes on after a commit of its own.
    let replacing: Bool
    /// Created to append to (O_APPEND) or exclusively (O_EXCL): stored only if no file was
    /// made under its name meanwhile (another mount's), else its close gets EBUSY.
    let onlyIfAbsent: Bool
    /// The process that opened it, when known: only its close commits (see ``FuseFilesystem/flush(_:process:)``).
    let opener: pid_t?
    var reader: FuseReader?
    /// A reader's version of the file at its open (the ETag), when known.
    var version: String?
    /// The version (ETag) of the stored file that this descriptor's size and first change
    /// start from, when known: its upload commits only over that version (EBUSY otherwise).
    /// Unknown once it stored a change itself.
    var storedVersion: String?
    /// How many first bytes of its uploads stay in the spool once sent, until its close
    /// (``FuseFilesystem/keptSentBytes(_:)``).
    var keptSentBytes: Int64 = 0
    /// For a reader opened while another descriptor was writing the file and nothing of it
    /// was stored yet: that descriptor, whose pending bytes it reads until they are stored.
    var pendingSource: FuseOpenFile?
    /// Opened with direct I/O: another reader of the path has another version open, and the
    /// kernel's page cache, one per file, would hand each the other's pages.
    var bypassesCache = false
    /// The streaming upload, and how many bytes it holds.
    var writer: (any VFSWriter)?
    var size: UInt64 = 0
    /// How many of the streamed upload's first bytes it kept from the stored object (a file
    /// continued at its end): they stay in the store, and are read from there.
    var continuedFrom: UInt64 = 0
    /// A size set with truncate past what was streamed: zeros make up the rest at commit.
    var extendedSize: UInt64 = 0
    /// The stored size when nothing is pending: reads and appends start from it.
    var staged: FuseStagedCopy?
    /// A time set (utimens) while the file was not yet stored, applied once it is.
    var pendingModified: Double?
    /// A failed upload: every later call on the file reports it.
    var failure: Int32?
    /// Its reads found the object replaced by another one (not grown): each later read fails
    /// with EIO rather than go on in the new one's bytes.
    var readsReplaced = false
    /// Its name was unlinked while it was written: what it holds is dropped, never stored.
    var unlinked = false
    /// The opener has closed a descriptor of it: closes by other processes commit from then on.
    var openerClosed = false
    /// Set by another descriptor's commit of the same path: what this one read or copied (its
    /// read-ahead, a clean staged copy, its idea of the size) may be stale. Behind a lock of
    /// its own, so the committer need not take this file's.
    /// Cleared once its first change after that has started over from the stored object.
    let storedChanged = LockedValue(false)
    /// The same for its reads: cleared once they have dropped what they held.
    let readsStale = LockedValue(false)

    init(path: VFSPath, writable: Bool, appending: Bool = false, replacing: Bool = false, onlyIfAbsent: Bool = false,
         size: UInt64, opener: pid_t?) {
        self.path = path
        self.writable = writable
        self.appending = appending
        self.replacing = replacing
        self.onlyIfAbsent = onlyIfAbsent
        self.size = size
        self.opener = opener
    }

    /// The size a reader of its attributes sees while changes are pending.
    var pendingSize: UInt64 { staged?.size ?? max(size, extendedSize) }

    /// Whether there are changes not yet stored.
    var hasPendingChanges: Bool { writer != nil || staged?.dirty == true }

    /// Whether its name is being written: changes not yet stored, and not unlinked since.
    var isBeingWritten: Bool { !unlinked && hasPendingChanges }

    /// Whether the next write is a first change in place, which must claim the path: nothing
    /// pending, and either opened without O_TRUNC, or appending (O_APPEND) after another
    /// descriptor stored the file since this one's last commit: its end is not this one's any
    /// more. Replacing writers that do not append stay apart (the last to close wins): a
    /// writer that stored its file (fsync, a close) and writes again goes on from its own.
    var needsClaim: Bool {
        writer == nil && staged?.dirty != true && (!replacing || appending && storedChanged.withLock { $0 })
    }
}

/// The open files, by the handle number libfuse carries, and the paths being written (their
/// attributes come from here until they are stored).
final class FuseHandleTable: @unchecked Sendable {
    private let lock = Lock()
    private var files: [UInt64: FuseOpenFile] = [:]
    /// The file changing each path in place (see ``claim(_:for:timeout:)``).
    private var claims: [VFSPath: FuseOpenFile] = [:]
    private var next: UInt64 = 1

    func insert(_ file: FuseOpenFile) -> UInt64 {
        lock.withLock {
            let handle = next
            next += 1
            files[handle] = file
            return handle
        }
    }

    func file(_ handle: UInt64) -> FuseOpenFile? { lock.withLock { files[handle] } }

    func remove(_ handle: UInt64) -> FuseOpenFile? { lock.withLock { files.removeValue(forKey: handle) } }

    /// An open file of `path` with changes not yet stored, if any: each candidate is checked
    /// under its own lock (not the table's), so an idle writable handle beside a writer is
    /// passed over. Call without holding any file's lock.
    func writing(_ path: VFSPath, except excluded: FuseOpenFile? = nil) -> FuseOpenFile? {
        allWritable(path).first { file in
            file !== excluded && file.lock.withLock { file.isBeingWritten }
        }
    }

    /// Waits, up to `timeout`, until no open file of `path` but `excluded` has changes not yet
    /// stored, or is about to (holds the path's claim); false when one still has. With
    /// `idleGrace`, false as soon as one has had pending changes and no call of its own running
    /// (its lock free) for that long. `excluded`'s lock may be held: it is never taken here.
    func waitUntilNoneWriting(_ path: VFSPath, except excluded: FuseOpenFile? = nil,
                              timeout: Duration = .seconds(3), idleGrace: Duration? = nil) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var idle = IdleWatch(grace: idleGrace)
        while claimedByAnother(path, excluded) || writing(path, except: excluded) != nil {
            if idle.expired(seeing: idleWriter(path, except: excluded)) { return false }
            if ContinuousClock.now >= deadline { return false }
            usleep(5_000)
        }
        return true
    }

    /// Whether another open file of `path` has changes not yet stored and no call of its own
    /// running (its lock is free).
    private func idleWriter(_ path: VFSPath, except excluded: FuseOpenFile?) -> Bool {
        allWritable(path).contains { file in
            file !== excluded && file.lock.withLockIfFree { file.isBeingWritten } == true
        }
    }

    /// Claims the right to change `path` in place for `file`, waiting up to `timeout` for
    /// another file's claim and pending changes to end; false (nothing claimed) when they do
    /// not, or once the other has held them idle for ``writeIdleGrace``. The claim closes the
    /// gap between looking for other writers and becoming one: two files starting from the
    /// same stored bytes would each drop the other's changes.
    ///
    /// It is taken in write(2), where the kernel holds the file's inode lock for the whole
    /// call: the other descriptor may close meanwhile (its commit is what this waits for), but
    /// not write. One that writes again (`dd bs=1` writes byte by byte) was held up with this
    /// one for the whole timeout.
    func claim(_ path: VFSPath, for file: FuseOpenFile, timeout: Duration = .seconds(3)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var idle = IdleWatch(grace: Self.writeIdleGrace)
        while let holder = lock.withLock({ () -> FuseOpenFile? in
            if let holder = claims[path], holder !== file { return holder }
            claims[path] = file
            return nil
        }) {
            if idle.expired(seeing: holder.lock.withLockIfFree({ holder.isBeingWritten }) == true) { return false }
            if ContinuousClock.now >= deadline { return false }
            usleep(5_000)
        }
        guard waitUntilNoneWriting(path, except: file, timeout: max(.zero, deadline - ContinuousClock.now),
                                   idleGrace: Self.writeIdleGrace) else {
            unclaim(path, for: file)
            return false
        }
        return true
    }

    /// How long a write waits on another descriptor that holds pending changes and does
    /// nothing: a close comes at once after the last write (`echo >>`), more than this says
    /// the other has more to write, which this write's inode lock keeps it from.
    static let writeIdleGrace: Duration = .milliseconds(250)

    /// Whether `file` holds the claim on `path`.
    func holdsClaim(_ path: VFSPath, for file: FuseOpenFile) -> Bool {
        lock.withLock { claims[path] === file }
    }

    /// Gives up `file`'s claim on `path`, if it holds it.
    func unclaim(_ path: VFSPath, for file: FuseOpenFile) {
        lock.withLock {
            if claims[path] === file { claims[path] = nil }
        }
    }

    private func claimedByAnother(_ path: VFSPath, _ file: FuseOpenFile?) -> Bool {
        lock.withLock { claims[path].map { $0 !== file } ?? false }
    }

    /// Whether a file under `directory` (at any depth) has changes not yet stored. Call
    /// without holding any file's lock.
    func writingUnder(_ directory: VFSPath) -> Bool {
        let inside = lock.withLock {
            files.values.filter { $0.writable && $0.path.components.count > directory.components.count
                && $0.path.isWithin(directory) }
        }
        return inside.contains { file in file.lock.withLock { file.isBeingWritten } }
    }

    /// The files directly in `directory` with changes not yet stored, by name, with their
    /// size so far and the time to show. Call without holding any file's lock.
    func writingIn(_ directory: VFSPath) -> [ExactName: (size: UInt64, modified: Double?)] {
        let inside = lock.withLock {
            files.values.filter { $0.writable && $0.path.parent == directory }
        }
        var found: [ExactName: (size: UInt64, modified: Double?)] = [:]
        for file in inside {
            // A write holds the file's lock for a moment, a commit for as long as its upload:
            // past 40 ms the file is passed over, rather than holding `ls` of the whole
            // directory behind it.
            for _ in 0..<20 {
                let looked: Void? = file.lock.withLockIfFree {
                    if file.isBeingWritten, let name = file.path.components.last {
                        found[ExactName(name)] = (file.pendingSize, file.pendingModified)
                    }
                }
                if looked != nil { break }
                usleep(2_000)
            }
        }
        return found
    }

    /// Every read-only open file of `path`.
    func readers(_ path: VFSPath) -> [FuseOpenFile] {
        lock.withLock { files.values.filter { $0.path == path && !$0.writable } }
    }

    /// Every writable open file of `path`.
    func allWritable(_ path: VFSPath) -> [FuseOpenFile] {
        lock.withLock { files.values.filter { $0.path == path && $0.writable } }
    }

    /// Whether `file` is the only open file of its path: every descriptor on the path is then
    /// one of its own (a dup), since each open(2) of a FUSE file makes a handle of its own.
    func isOnlyOpen(_ file: FuseOpenFile) -> Bool {
        lock.withLock { !files.values.contains { $0 !== file && $0.path == file.path } }
    }

    /// Every open file (for the unmount).
    func all() -> [FuseOpenFile] { lock.withLock { Array(files.values) } }
}

/// A value behind a lock.
final class LockedValue<Value>: @unchecked Sendable {
    private let lock = Lock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}

extension LockedValue where Value == Bool {
    /// The flag's value, leaving it false.
    func take() -> Bool {
        withLock { flag in
            defer { flag = false }
            return flag
        }
    }
}

/// How long something has been seen idle, without a break.
private struct IdleWatch {
    let grace: Duration?
    private var since: ContinuousClock.Instant?

    init(grace: Duration?) { self.grace = grace }

    /// Notes one look; true once every look for `grace` saw it idle.
    mutating func expired(seeing idle: Bool) -> Bool {
        guard let grace, idle else {
            since = nil
            return false
        }
        let now = ContinuousClock.now
        guard let since else {
            self.since = now
            return false
        }
        return now - since >= grace
    }
}
