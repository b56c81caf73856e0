/// What a transfer would leave if the process ended now: a multipart upload not completed
/// (parts the store keeps, and bills, until aborted) and a partial download beside its
/// destination. `ossftp cp` clears them when a signal ends the copy.
public final class TransferLeftovers: @unchecked Sendable {
    private let lock = Lock()
    private var upload: (store: any ObjectStore, key: String, uploadID: String)?
    private var partialFile: String?

    public init() {}

    func uploadStarted(_ key: String, uploadID: String, in store: any ObjectStore) {
        lock.withLock { upload = (store, key, uploadID) }
    }

    func uploadEnded() {
        lock.withLock { upload = nil }
    }

    func partialFileCreated(_ path: String) {
        lock.withLock { partialFile = path }
    }

    func partialFileEnded() {
        lock.withLock { partialFile = nil }
    }

    /// Aborts the upload and removes the partial file, if any; says what was done.
    public func clear() async -> [String] {
        let (upload, partialFile) = lock.withLock { () -> ((store: any ObjectStore, key: String, uploadID: String)?, String?) in
            defer { (self.upload, self.partialFile) = (nil, nil) }
            return (self.upload, self.partialFile)
        }
        var done: [String] = []
        if let upload {
            do {
                try await upload.store.abortMultipartUpload(upload.key, uploadID: upload.uploadID)
                // Parts still arriving when the abort came may be kept (S3 says to abort again).
                try? await Task.sleep(for: .milliseconds(500))
                try? await upload.store.abortMultipartUpload(upload.key, uploadID: upload.uploadID)
                done.append("the multipart upload of \(upload.key) was aborted")
            } catch {
                done.append("the multipart upload \(upload.uploadID) of \(upload.key) could not be aborted: \(error)")
            }
        }
        if let partialFile {
            try? DirectoryOps.unlinkIfPresent(partialFile)
            done.append("the partial file \(partialFile) was removed")
        }
        return done
    }
}
