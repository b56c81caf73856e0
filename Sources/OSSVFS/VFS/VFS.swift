/// The path-based file tree both frontends use, whatever the store behind it.
///
/// Every method is async and never blocks the caller's thread. Errors are ``VFSError``.
public protocol VFS: Sendable {
    /// What is at `path`.
    func stat(_ path: VFSPath) async throws -> VFSEntry

    /// The entries of a directory, yielded as the store's pages arrive.
    /// Throws before returning when `path` is missing or not a directory.
    func list(_ path: VFSPath) async throws -> VFSDirectoryListing

    /// The bytes of a file from `offset` on.
    func openRead(_ path: VFSPath, offset: UInt64) async throws -> ObjectByteStream

    /// A new upload to `path`; nothing is visible until ``VFSWriter/commit()`` returns.
    func openWrite(_ path: VFSPath) async throws -> any VFSWriter

    /// Creates an empty directory.
    func makeDirectory(_ path: VFSPath) async throws

    /// Removes a file.
    func removeFile(_ path: VFSPath) async throws

    /// Removes an empty directory.
    func removeDirectory(_ path: VFSPath) async throws
}

/// A file or a directory, as the frontends show it.
public struct VFSEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case file
        case directory
    }

    public var name: String
    public var kind: Kind
    public var size: UInt64
    /// Seconds since 1970-01-01 UTC; nil when the store gives none (prefix-only directories).
    public var modified: Double?

    public init(name: String, kind: Kind, size: UInt64, modified: Double?) {
        self.name = name
        self.kind = kind
        self.size = size
        self.modified = modified
    }
}

/// An upload in progress. Bytes go to the spool; ``commit()`` makes the object visible.
public protocol VFSWriter: AnyObject, Sendable {
    /// Appends bytes.
    func write(_ bytes: [UInt8]) async throws
    /// Uploads what was written and returns once the object is stored; then it is visible.
    func commit() async throws
    /// Drops the upload; nothing becomes visible and nothing is left behind.
    func abort() async
}
