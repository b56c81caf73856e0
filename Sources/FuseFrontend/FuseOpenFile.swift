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
    /// The process that opened it, when known: only its close commits (see ``FuseFilesystem/flush(_:process:)``).
    let opener: pid_t?
    var reader: FuseReader?
    /// The streaming upload, and how many bytes it holds.
    var writer: (any VFSWriter)?
    var size: UInt64 = 0
    /// A size set with truncate past what was streamed: zeros make up the rest at commit.
    var extendedSize: UInt64 = 0
    /// The stored size when nothing is pending: reads and appends start from it.
    var staged: FuseStagedCopy?
    /// A time set (utimens) while the file was not yet stored, applied once it is.
    var pendingModified: Double?
    /// A failed upload: every later call on the file reports it.
    var failure: Int32?
    /// Its name was unlinked while it was written: what it holds is dropped, never stored.
    var unlinked = false

    init(path: VFSPath, writable: Bool, size: UInt64, opener: pid_t?) {
        self.path = path
        self.writable = writable
        self.size = size
        self.opener = opener
    }

    /// The size a reader of its attributes sees while changes are pending.
    var pendingSize: UInt64 { staged?.size ?? max(size, extendedSize) }

    /// Whether there are changes not yet stored.
    var hasPendingChanges: Bool { writer != nil || staged?.dirty == true }
}

/// The open files, by the handle number libfuse carries, and the paths being written (their
/// attributes come from here until they are stored).
final class FuseHandleTable: @unchecked Sendable {
    private let lock = Lock()
    private var files: [UInt64: FuseOpenFile] = [:]
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
    func writing(_ path: VFSPath) -> FuseOpenFile? {
        allWritable(path).first { file in file.lock.withLock { !file.unlinked && file.hasPendingChanges } }
    }

    /// Every writable open file of `path`.
    func allWritable(_ path: VFSPath) -> [FuseOpenFile] {
        lock.withLock { files.values.filter { $0.path == path && $0.writable } }
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
