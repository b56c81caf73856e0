/// What an account may do.
public struct AccountPermissions: Sendable, Equatable {
    public var read: Bool
    public var write: Bool
    /// Remove files and directories, and replace existing files.
    public var delete: Bool
    public var rename: Bool

    public init(read: Bool = true, write: Bool = true, delete: Bool = true, rename: Bool = true) {
        self.read = read
        self.write = write
        self.delete = delete
        self.rename = rename
    }

    public static let full = AccountPermissions()
    public static let readOnly = AccountPermissions(write: false, delete: false, rename: false)
    /// Everything but removing, replacing or renaming what is there.
    public static let noDelete = AccountPermissions(delete: false, rename: false)
    /// Cameras and scanners: add files and folders, see names, read and change nothing.
    public static let uploadOnly = AccountPermissions(read: false, delete: false, rename: false)

    /// The permissions named in config.json (`full`, `read-only`, `no-delete`, `upload-only`).
    public init?(name: String) {
        switch name.lowercased() {
        case "", "full": self = .full
        case "read-only", "readonly": self = .readOnly
        case "no-delete", "nodelete": self = .noDelete
        case "upload-only", "uploadonly": self = .uploadOnly
        default: return nil
        }
    }
}

/// A VFS that refuses what the account may not do, before anything reaches the store.
public struct PermissionedVFS: VFS {
    let base: any VFS
    /// The account's own rights.
    let allowed: AccountPermissions

    public init(_ base: any VFS, permissions: AccountPermissions) {
        self.base = base
        self.allowed = permissions
    }

    /// `base` limited to `permissions`; `base` itself when they allow everything.
    public static func limiting(_ base: any VFS, to permissions: AccountPermissions) -> any VFS {
        permissions == .full ? base : PermissionedVFS(base, permissions: permissions)
    }

    public var permissions: AccountPermissions {
        let below = base.permissions
        return AccountPermissions(read: below.read && allowed.read, write: below.write && allowed.write,
                                  delete: below.delete && allowed.delete, rename: below.rename && allowed.rename)
    }

    private func require(_ allowed: Bool, _ what: String) throws {
        guard allowed else { throw VFSError.permissionDenied("this account may not \(what)") }
    }

    public func stat(_ path: VFSPath) async throws -> VFSEntry { try await base.stat(path) }

    public func statSettled(_ path: VFSPath) async throws -> VFSEntry { try await base.statSettled(path) }

    /// A digest tells of the content (a short secret can be guessed and checked against it):
    /// as reading.
    public func checksums(_ path: VFSPath) async throws -> VFSChecksums {
        try require(allowed.read, "read files")
        return try await base.checksums(path)
    }

    public func openReader(_ path: VFSPath, offset: UInt64) async throws -> ReadAheadStream {
        try require(allowed.read, "read files")
        return try await base.openReader(path, offset: offset)
    }

    public func list(_ path: VFSPath) async throws -> VFSDirectoryListing { try await base.list(path) }

    public func openRead(_ path: VFSPath, offset: UInt64) async throws -> ObjectByteStream {
        try require(allowed.read, "read files")
        return try await base.openRead(path, offset: offset)
    }

    public func openWrite(_ path: VFSPath, modified: Double?, keepingFirst prefixLength: UInt64?, ifAbsent: Bool,
                          onVersion: String?) async throws -> any VFSWriter
    {
        try require(allowed.write, "upload")
        if !allowed.delete, let existing = try? await base.stat(path), existing.kind == .file {
            // Replacing a file destroys it; only continuing it from its end keeps every byte.
            guard prefixLength == existing.size || prefixLength == .max else {
                throw VFSError.permissionDenied("this account may not replace existing files")
            }
            // The size compared may be the cache's: the upload must continue that very version,
            // or a file grown meanwhile by another process is cut back to it (REST at the old
            // size, then STOR, got 226). APPE keeps all there is, whatever its size.
            let version = prefixLength == .max ? onVersion : onVersion ?? existing.etag
            let upload = try await base.openWrite(path, modified: modified, keepingFirst: prefixLength,
                                                  ifAbsent: ifAbsent, onVersion: version)
            return PermissionedWriter(upload, keeping: existing.size, allowed: allowed)
        }
        // A new file: the store checks again as it commits, since another account or session may
        // create the name while this upload's bytes arrive (the check above alone let it replace
        // that file).
        let upload = try await base.openWrite(path, modified: modified, keepingFirst: prefixLength,
                                              ifAbsent: ifAbsent || !allowed.delete, onVersion: onVersion)
        return allowed.read ? upload : PermissionedWriter(upload, keeping: 0, allowed: allowed)
    }

    public func makeDirectory(_ path: VFSPath) async throws {
        try require(allowed.write, "make directories")
        try await base.makeDirectory(path)
    }

    public func removeFile(_ path: VFSPath) async throws {
        try require(allowed.delete, "delete")
        try await base.removeFile(path)
    }

    public func removeDirectory(_ path: VFSPath) async throws {
        try require(allowed.delete, "delete")
        try await base.removeDirectory(path)
    }

    public func checkRenameAllowed() throws {
        try require(allowed.rename, "rename")
        try base.checkRenameAllowed()
    }

    public func rename(_ source: VFSPath, to destination: VFSPath, replacing: Bool) async throws {
        try require(allowed.rename, "rename")
        // Onto an existing name, a rename destroys what was there (a file, an empty directory):
        // without the right to delete, it may go only where nothing is, as the store says now
        // (a cached "missing" let it replace a file another client had stored since).
        do {
            try await base.rename(source, to: destination, replacing: replacing && allowed.delete)
        } catch VFSError.alreadyExists where !allowed.delete && replacing {
            throw VFSError.permissionDenied("this account may not replace existing files or directories")
        }
    }

    public func setModificationTime(_ path: VFSPath, _ time: Double) async throws {
        try require(allowed.write, "change files")
        try await base.setModificationTime(path, time)
    }

    public func space() async throws -> VFSSpace { try await base.space() }
}
