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
    /// A partial download's file is being created: a signal then waits for its name.
    private var partialFileStarting = false
    /// Parts being sent: one the store took in before an abort may still be written after
    /// it, and bring the upload back (SeaweedFS's filer makes the part's folder anew).
    private var partsInFlight = 0
    /// A signal is clearing: no part starts any more, so those in flight only end.
    private var clearing = false

    public init() {}

    /// Runs `send`, a part's upload, counted as in flight.
    func sendingPart<T>(_ send: () async throws -> T) async throws -> T {
        try lock.withLock {
            if clearing { throw CancellationError() }
            partsInFlight += 1
        }
        defer { lock.withLock { partsInFlight -= 1 } }
        return try await send()
    }

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

    /// A partial download's file is about to be created (true), or its creation failed.
    func partialFileStarting(_ starting: Bool) {
        lock.withLock { partialFileStarting = starting }
    }

    func partialFileCreated(_ path: String) {
        lock.withLock {
            partialFile = path
            partialFileStarting = false
        }
    }

    func partialFileEnded() {
        lock.withLock { partialFile = nil }
    }

    /// Aborts the upload and removes the partial file, if any; says what was done.
    public func clear() async -> [String] {
        lock.withLock { clearing = true }
        // An upload the store is creating now is waited for (up to 10 s), to be aborted too.
        // So is a partial file being created: a signal between its creation and its naming here
        // left it behind.
        for _ in 0..<200 where lock.withLock({ uploadStarting || partialFileStarting }) {
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
                // Parts still arriving when the abort came may be kept (S3 says to abort again):
                // once those in flight have ended (up to 10 s; a fixed half second was too
                // short for a 5 MiB part on a busy machine, and the upload came back).
                try? await Task.sleep(for: .milliseconds(100))
                for _ in 0..<200 where lock.withLock({ partsInFlight > 0 }) {
                    try? await Task.sleep(for: .milliseconds(50))
                }
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

extension Optional where Wrapped == TransferLeftovers {
    /// Runs `send`, a part's upload, counted as in flight when there are leftovers to keep.
    func sendingPart<T>(_ send: () async throws -> T) async throws -> T {
        guard let leftovers = self else { return try await send() }
        return try await leftovers.sendingPart(send)
    }
}
