#if canImport(Glibc)
import Glibc
#endif

/// What a transfer would leave if the process ended now: a multipart upload not completed
/// (parts the store keeps, and bills, until aborted) and a partial download beside its
/// destination. `ossftp cp` clears them when a signal ends the copy.
public final class TransferLeftovers: @unchecked Sendable {
    private let lock = Lock()
    private var upload: (store: any ObjectStore, key: String, uploadID: String)?
    /// A multipart upload is being created: its id is not known yet.
    private var uploadStarting = false
    private var partialFile: String?

    public init() {}

    func uploadStarting(_ starting: Bool) {
        lock.withLock { uploadStarting = starting }
    }

    func uploadStarted(_ key: String, uploadID: String, in store: any ObjectStore) {
        lock.withLock {
            upload = (store, key, uploadID)
            uploadStarting = false
        }
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
        // An upload the store is creating now is waited for (up to 10 s), to be aborted too.
        for _ in 0..<200 where lock.withLock({ uploadStarting }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
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
        // Said only when there was one: a download that got its name just before the signal
        // has no partial file left (it said "removed" of a file that was complete).
        if let partialFile, unlink(partialFile) == 0 {
            done.append("the partial file \(partialFile) was removed")
        }
        return done
    }
}
