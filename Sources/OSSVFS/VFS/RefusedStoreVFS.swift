/// The view of an account whose store refuses it for good (its local bucket folder is missing):
/// every operation fails with that refusal, as each would on an S3 store without the bucket.
/// Its logins succeed (the password was right) and each command gets 550 naming the cause,
/// instead of a "421 try again later" that clients retry forever.
public struct RefusedStoreVFS: VFS {
    let refusal: ObjectStoreError

    public init(refusal: ObjectStoreError) {
        self.refusal = refusal
    }

    private func refused(_ path: VFSPath) -> VFSError { VFSError(refusal, path: path.description) }

    public func stat(_ path: VFSPath) async throws -> VFSEntry { throw refused(path) }

    public func statSettled(_ path: VFSPath) async throws -> VFSEntry { throw refused(path) }

    public func list(_ path: VFSPath) async throws -> VFSDirectoryListing { throw refused(path) }

    public func openRead(_ path: VFSPath, offset: UInt64) async throws -> ObjectByteStream { throw refused(path) }

    public func openReader(_ path: VFSPath, offset: UInt64) async throws -> ReadAheadStream { throw refused(path) }

    public func openWrite(_ path: VFSPath, modified: Double?, keepingFirst prefixLength: UInt64?, ifAbsent: Bool,
                          onVersion: String?) async throws -> any VFSWriter
    {
        throw refused(path)
    }

    public func makeDirectory(_ path: VFSPath) async throws { throw refused(path) }

    public func removeFile(_ path: VFSPath) async throws { throw refused(path) }

    public func removeDirectory(_ path: VFSPath) async throws { throw refused(path) }

    public func rename(_ source: VFSPath, to destination: VFSPath, replacing: Bool) async throws { throw refused(source) }

    // RNFR asks the store (stat) next, which gives the refusal.
    public func checkRenameAllowed() throws {}

    public func setModificationTime(_ path: VFSPath, _ time: Double) async throws { throw refused(path) }

    public func space() async throws -> VFSSpace { throw refused(.root) }

    public func checksums(_ path: VFSPath) async throws -> VFSChecksums { throw refused(path) }

    public var permissions: AccountPermissions { .full }
}
