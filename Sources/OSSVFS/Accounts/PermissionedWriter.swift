/// An upload by an account that may not read files, or may not change what is stored: the
/// bytes it keeps of an existing file can be neither read back nor patched nor cut.
///
/// The mount continues a file by keeping its stored bytes in the upload, and its reads and
/// writes of the open file then go to the upload: an upload-only account read a whole file
/// back through `pread` after appending one byte, and a no-delete account appended a byte and
/// then overwrote or emptied the file (the audit's finding). Bytes the account wrote itself
/// stay its own to patch, as a new file's are.
final class PermissionedWriter: VFSWriter {
    private let upload: any VFSWriter
    /// How many of the upload's first bytes are the stored file's.
    private let kept: UInt64
    private let allowed: AccountPermissions

    init(_ upload: any VFSWriter, keeping kept: UInt64, allowed: AccountPermissions) {
        self.upload = upload
        self.kept = kept
        self.allowed = allowed
    }

    func write(contentsOf chunks: [any VFSBytes]) async throws {
        try await upload.write(contentsOf: chunks)
    }

    func overwrite(_ bytes: [UInt8], at offset: UInt64) async throws {
        if offset < kept && !bytes.isEmpty { try require(allowed.delete, "change what is stored") }
        try await upload.overwrite(bytes, at: offset)
    }

    func readBack(at offset: UInt64, count: Int) async throws -> [UInt8] {
        try require(allowed.read, "read files")
        return try await upload.readBack(at: offset, count: count)
    }

    func truncate(to size: UInt64) async throws {
        if size < kept { try require(allowed.delete, "cut what is stored") }
        try await upload.truncate(to: size)
    }

    func commit() async throws {
        try await upload.commit()
    }

    func abort() async {
        await upload.abort()
    }

    func keepSentBytes(upTo bytes: Int64) async {
        await upload.keepSentBytes(upTo: bytes)
    }

    private func require(_ allowed: Bool, _ what: String) throws {
        guard allowed else { throw VFSError.permissionDenied("this account may not \(what)") }
    }
}
