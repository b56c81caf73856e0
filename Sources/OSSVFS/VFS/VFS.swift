/// The path-based file tree both frontends use, whatever the store behind it.
///
/// Every method is async and never blocks the caller's thread. Errors are ``VFSError``.
public protocol VFS: Sendable {
    /// What is at `path`.
    func stat(_ path: VFSPath) async throws -> VFSEntry

    /// What is at `path` once the uploads of it that were reported stored (write-back) are:
    /// for the start of a change that must act on them (RNFR), which ``stat(_:)`` would tell
    /// of a file not there yet. Waits as the change itself would, then gives up with 451.
    func statSettled(_ path: VFSPath) async throws -> VFSEntry

    /// The entries of a directory, yielded as the store's pages arrive.
    /// Throws before returning when `path` is missing or not a directory.
    func list(_ path: VFSPath) async throws -> VFSDirectoryListing

    /// The bytes of a file from `offset` on.
    func openRead(_ path: VFSPath, offset: UInt64) async throws -> ObjectByteStream

    /// A reader of a file that can also seek (FUSE reads at any offset).
    func openReader(_ path: VFSPath, offset: UInt64) async throws -> ReadAheadStream

    /// A new upload to `path`, stamped with `modified` (seconds since 1970) when given;
    /// nothing is visible until ``VFSWriter/commit()`` returns. With `keepingFirst: n`, the new
    /// object starts with the first `n` bytes of the existing one (resume: REST+STOR), then what
    /// is written; `UInt64.max` keeps all of it, at its size in the store as the upload opens
    /// (append: ``openAppend(_:)``). With `ifAbsent`, the commit fails with
    /// ``VFSError/alreadyExists(_:)`` if a file has the name by then, checked by the store as it
    /// commits (an account that may not replace files, while another may create the same name).
    /// With `onVersion` (an ETag), the upload is of a change to that version of the file: when
    /// the file is another version as the upload opens or commits, it fails with
    /// ``VFSError/busy(_:)`` and the other version stays (the mount's changes, which start
    /// from what it read or was told of the file).
    func openWrite(_ path: VFSPath, modified: Double?, keepingFirst prefixLength: UInt64?, ifAbsent: Bool,
                   onVersion: String?) async throws -> any VFSWriter

    /// Creates an empty directory.
    func makeDirectory(_ path: VFSPath) async throws

    /// Removes a file.
    func removeFile(_ path: VFSPath) async throws

    /// Removes an empty directory.
    func removeDirectory(_ path: VFSPath) async throws

    /// Renames a file or a directory, as the account's rename policy allows. Unless
    /// `replacing`, nothing at `destination` is ever replaced: a name there, seen by asking the
    /// store (not a cache) or made meanwhile, fails it with ``VFSError/alreadyExists(_:)``.
    func rename(_ source: VFSPath, to destination: VFSPath, replacing: Bool) async throws

    /// Throws what ``rename(_:to:)`` would for any rename here, when renames are refused (by
    /// the rename policy or the account): FTP's RNFR says so before the client sends RNTO.
    func checkRenameAllowed() throws

    /// Sets a file's modification time (seconds since 1970).
    func setModificationTime(_ path: VFSPath, _ time: Double) async throws

    /// Capacity and free space, for `df` and FTP's space queries.
    func space() async throws -> VFSSpace

    /// The checksums the store keeps for a file; nothing is read or computed.
    func checksums(_ path: VFSPath) async throws -> VFSChecksums

    /// What this view allows (the account's rights, and rename as configured): what listings
    /// advertise, as MLSD's `perm` fact.
    var permissions: AccountPermissions { get }
}

extension VFS {
    /// Renames a file or a directory, replacing a file or an empty directory at `destination`.
    public func rename(_ source: VFSPath, to destination: VFSPath) async throws {
        try await rename(source, to: destination, replacing: true)
    }

    /// An upload that does not depend on the version of the file it replaces or continues.
    public func openWrite(_ path: VFSPath, modified: Double?, keepingFirst prefixLength: UInt64?, ifAbsent: Bool)
        async throws -> any VFSWriter
    {
        try await openWrite(path, modified: modified, keepingFirst: prefixLength, ifAbsent: ifAbsent, onVersion: nil)
    }

    /// A new upload that may replace a file.
    public func openWrite(_ path: VFSPath, modified: Double?, keepingFirst prefixLength: UInt64?) async throws
        -> any VFSWriter
    {
        try await openWrite(path, modified: modified, keepingFirst: prefixLength, ifAbsent: false)
    }

    /// A new upload with the store's own time.
    public func openWrite(_ path: VFSPath) async throws -> any VFSWriter {
        try await openWrite(path, modified: nil, keepingFirst: nil)
    }

    /// An upload that continues `path` from its end, as the store holds it now (not as a cache
    /// remembers it); a missing file is created.
    public func openAppend(_ path: VFSPath) async throws -> any VFSWriter {
        try await openWrite(path, modified: nil, keepingFirst: .max)
    }

    /// A new upload stamped with `modified`.
    public func openWrite(_ path: VFSPath, modified: Double?) async throws -> any VFSWriter {
        try await openWrite(path, modified: modified, keepingFirst: nil)
    }
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
    /// The stored version's ETag, when a lookup of the file gave it (listings do not).
    public var etag: String?

    public init(name: String, kind: Kind, size: UInt64, modified: Double?, etag: String? = nil) {
        self.name = name
        self.kind = kind
        self.size = size
        self.modified = modified
        self.etag = etag
    }

    /// The entry's key below its directory's prefix (`name`, or `name/` for a directory):
    /// listings arrive in the UTF-8 byte order of these.
    var sortKey: String { kind == .directory ? name + "/" : name }
}

/// Space figures. Object stores have no fixed capacity; they report a large constant.
public struct VFSSpace: Sendable, Equatable {
    public var totalBytes: UInt64
    public var freeBytes: UInt64

    public init(totalBytes: UInt64, freeBytes: UInt64) {
        self.totalBytes = totalBytes
        self.freeBytes = freeBytes
    }

    /// What a bucket reports: 1 PiB, all of it free (s3fs and ossfs report similar figures).
    public static let unlimited = VFSSpace(totalBytes: 1 << 50, freeBytes: 1 << 50)
}

/// Whole-file checksums a store already keeps, as FTP's HASH reports them.
public struct VFSChecksums: Sendable, Equatable {
    /// The file's size, which the checksums cover.
    public var size: UInt64
    /// The MD5, lower-case hex: an ETag is one only for objects stored in a single PUT.
    public var md5: String?
    /// The CRC-64/XZ (ECMA-182), which OSS reports for every object.
    public var crc64: UInt64?

    public init(size: UInt64, md5: String? = nil, crc64: UInt64? = nil) {
        self.size = size
        self.md5 = md5
        self.crc64 = crc64
    }

    /// What an ETag says about the MD5: a multipart ETag (`"…-3"`) or a local store's
    /// size-and-time tag is not 32 hex digits, so it says nothing.
    public static func md5(fromETag etag: String) -> String? {
        // A weak tag (RFC 9110 §8.8.3) makes no promise about the bytes.
        if etag.hasPrefix("W/") { return nil }
        var bare = Substring(etag)
        bare = bare.drop { $0 == "\"" }
        while bare.last == "\"" { bare = bare.dropLast() }
        guard bare.utf8.count == 32, bare.allSatisfy(\.isHexDigit) else { return nil }
        return bare.lowercased()
    }
}

/// An upload in progress. Bytes go to the spool; ``commit()`` makes the object visible.
public protocol VFSWriter: AnyObject, Sendable {
    /// Appends the chunks, in order. They are read in place: a frontend hands over the buffers
    /// its reads filled, and they reach the spool file in one vectored write, with no copy.
    func write(contentsOf chunks: [any VFSBytes]) async throws
    /// Writes `bytes` from `offset` over bytes already written, appending any that reach past
    /// their end. Possible only while the bytes it covers are still in the spool, not yet on
    /// their way to the store: otherwise ``VFSError/invalidRange(_:)``, and the upload goes on
    /// unchanged. (Programs that patch a file they are writing, such as vim's swap file.)
    func overwrite(_ bytes: [UInt8], at offset: UInt64) async throws
    /// Up to `count` written bytes from `offset` (fewer at the end), under the same condition
    /// as ``overwrite(_:at:)``.
    func readBack(at offset: UInt64, count: Int) async throws -> [UInt8]
    /// Cuts what was written to its first `size` bytes, under the same condition as
    /// ``overwrite(_:at:)`` for the bytes cut (sqlite's `journal_mode=TRUNCATE`).
    func truncate(to size: UInt64) async throws
    /// Uploads what was written and returns once the object is stored; then it is visible.
    func commit() async throws
    /// Drops the upload; nothing becomes visible and nothing is left behind.
    func abort() async
    /// Keeps the first `bytes` of what is written in the spool even once sent to the store,
    /// until the commit, so that they can still be read back and patched (the mount: a file
    /// opened to read and write, which git's index-pack reads back; a header filled in last).
    func keepSentBytes(upTo bytes: Int64) async
}

extension VFSWriter {
    /// Appends bytes.
    public func write(_ bytes: [UInt8]) async throws {
        try await write(contentsOf: [bytes])
    }
}

/// Bytes that can be read in place: a byte array, or a frontend's own network buffer.
public protocol VFSBytes: Sendable {
    /// How many bytes there are.
    var count: Int { get }
    /// Calls `body` with the bytes' memory, valid only during the call.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: VFSBytes where Element == UInt8 {}

extension Array where Element == any VFSBytes {
    /// Calls `body` with the memory of every chunk at once (each valid only during the call).
    func withUnsafeBuffers<R>(_ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
        var buffers: [UnsafeRawBufferPointer] = []
        buffers.reserveCapacity(count)
        return try Self.nest(self[...], &buffers, body)
    }

    // One `withUnsafeBytes` scope inside the next, so that all the pointers are valid together.
    private static func nest<R>(_ rest: ArraySlice<any VFSBytes>, _ buffers: inout [UnsafeRawBufferPointer],
                                _ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
        guard let first = rest.first else { return try body(buffers) }
        return try first.withUnsafeBytes { pointer in
            buffers.append(pointer)
            return try nest(rest.dropFirst(), &buffers, body)
        }
    }
}

/// What rename does (config.json `rename`).
public enum RenamePolicy: Sendable, Equatable {
    /// Refused with a clear message: object storage has no rename (the default).
    case refuse
    /// Copy, then delete: files of any size, directories up to `maxDirectoryObjects` objects.
    case copy(maxDirectoryObjects: Int)
    /// The store's own atomic rename (OSS buckets with the hierarchical namespace, the local store).
    case native
}
