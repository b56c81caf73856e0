/// One upload staged through a spool file, then committed to the store.
///
/// States: accepting writes → committing → committed, or aborted from any of them.
/// A file up to one part goes up with a single PUT; a larger one as a multipart upload of
/// part-sized slices of the spool file. If anything fails, the multipart upload is aborted and
/// the spool file removed, so nothing half-written becomes visible.
public actor SpoolUpload: VFSWriter {
    private enum State {
        case accepting
        case committing
        case committed
        case aborted
    }

    private let store: any ObjectStore
    private let key: String
    private let metadata: [String: String]
    private let onCommit: @Sendable () async -> Void
    private let configuration: SpoolConfiguration
    private let spoolPath: String
    private var file: PosixFile?
    private var buffer: [UInt8] = []
    private var size: UInt64 = 0
    private var state = State.accepting
    private var uploadID: String?

    /// An upload of `key` (with `metadata`) staged under the spool folder; `onCommit` runs once
    /// the object is stored.
    public init(store: any ObjectStore, key: String, metadata: [String: String] = [:],
                configuration: SpoolConfiguration, onCommit: @escaping @Sendable () async -> Void = {}) {
        self.store = store
        self.key = key
        self.metadata = metadata
        self.onCommit = onCommit
        self.configuration = configuration
        self.spoolPath = "\(configuration.directory)/upload-\(DirectoryOps.randomName())"
        buffer.reserveCapacity(configuration.writeBufferSize)
    }

    public func write(_ bytes: [UInt8]) async throws {
        guard case .accepting = state else { throw VFSError.storeFailure("upload is no longer accepting data") }
        buffer.append(contentsOf: bytes)
        size += UInt64(bytes.count)
        if buffer.count >= configuration.writeBufferSize { try await flush() }
    }

    /// Writes the in-memory buffer to the spool file.
    private func flush() async throws {
        guard !buffer.isEmpty else { return }
        let pending = buffer
        buffer.removeAll(keepingCapacity: true)
        let file = try await openFile()
        do {
            try await BlockingIO.run { try file.writeAll(pending) }
        } catch let error as ObjectStoreError {
            throw VFSError(error, path: key)
        }
    }

    private func openFile() async throws -> PosixFile {
        if let file { return file }
        let directory = configuration.directory
        let path = spoolPath
        do {
            let opened = try await BlockingIO.run { () -> PosixFile in
                try DirectoryOps.makePath(directory, under: "")
                return try PosixFile.createExclusive(path)
            }
            file = opened
            return opened
        } catch let error as ObjectStoreError {
            throw VFSError(error, path: key)
        }
    }

    public func commit() async throws {
        guard case .accepting = state else { throw VFSError.storeFailure("upload already finished") }
        state = .committing
        do {
            if size <= UInt64(configuration.partSize) && file == nil {
                try await store.put(key, body: .bytes(buffer), metadata: metadata)
            } else {
                try await flush()
                if let file { try await BlockingIO.run { try file.close() } }
                if size <= UInt64(configuration.partSize) {
                    try await store.put(key, body: .file(path: spoolPath, offset: 0, length: size), metadata: metadata)
                } else {
                    try await uploadParts()
                }
            }
            state = .committed
            await onCommit()
            await removeSpoolFile()
        } catch {
            await abort()
            if let error = error as? ObjectStoreError { throw VFSError(error, path: key) }
            throw error
        }
    }

    /// Uploads the spool file as part-sized slices and completes the multipart upload.
    private func uploadParts() async throws {
        let id = try await store.createMultipartUpload(key, metadata: metadata)
        uploadID = id
        var parts: [UploadedPart] = []
        var offset: UInt64 = 0
        var number = 1
        while offset < size {
            let length = min(UInt64(configuration.partSize), size - offset)
            let body = ObjectBody.file(path: spoolPath, offset: offset, length: length)
            parts.append(try await store.uploadPart(key, uploadID: id, partNumber: number, body: body))
            offset += length
            number += 1
        }
        try await store.completeMultipartUpload(key, uploadID: id, parts: parts)
        uploadID = nil
    }

    public func abort() async {
        switch state {
        case .committed, .aborted: return
        case .accepting, .committing: state = .aborted
        }
        if let id = uploadID {
            uploadID = nil
            try? await store.abortMultipartUpload(key, uploadID: id)
        }
        await removeSpoolFile()
    }

    private func removeSpoolFile() async {
        buffer = []
        let path = spoolPath
        let file = self.file
        self.file = nil
        _ = try? await BlockingIO.run {
            try? file?.close()
            try DirectoryOps.unlinkIfPresent(path)
        }
    }
}
