import Foundation

/// Whole-file transfers between a local file and a store, as `ossftp cp` and the benches use
/// them: uploads as parallel multipart parts read straight from the file, downloads as one
/// streamed GET written as it arrives.
public enum ObjectTransfer {
    /// Uploads `path` to `key`: one PUT up to `partSize`, else `concurrency` parts at a time.
    public static func upload(file path: String, to key: String, store: any ObjectStore,
                              partSize: Int = 8 << 20, concurrency: Int = 8) async throws {
        guard let status = try PosixFile.status(path), !status.isDirectory else {
            throw ObjectStoreError.io(operation: "open \(path)", errno: 2)
        }
        let size = status.size
        let partSize = UInt64(max(partSize, store.capabilities.minPartSize))
        if size <= partSize {
            try await store.put(key, body: .file(path: path, offset: 0, length: size), metadata: [:])
            return
        }
        let count = Int((size + partSize - 1) / partSize)
        guard count <= store.capabilities.maxParts else {
            throw ObjectStoreError.invalidKey("\(path): \(count) parts of \(partSize) bytes exceed the store's limit")
        }
        try await multipartUpload(key, store: store) { uploadID in
            try await withThrowingTaskGroup(of: UploadedPart.self) { group in
                var parts: [UploadedPart] = []
                var next = 0
                func addPart() {
                    let number = next + 1
                    let offset = UInt64(next) * partSize
                    let length = min(partSize, size - offset)
                    next += 1
                    group.addTask {
                        try await store.uploadPart(key, uploadID: uploadID, partNumber: number,
                                                   body: .file(path: path, offset: offset, length: length))
                    }
                }
                while next < min(concurrency, count) { addPart() }
                while let part = try await group.next() {
                    parts.append(part)
                    if next < count { addPart() }
                }
                return parts
            }
        }
    }

    /// Starts a multipart upload of `key`, has `uploadParts` store its parts, and joins them
    /// in order; aborts the upload when anything fails, so no parts are left behind.
    static func multipartUpload(_ key: String, store: any ObjectStore,
                                _ uploadParts: (String) async throws -> [UploadedPart]) async throws {
        let uploadID = try await store.createMultipartUpload(key, metadata: [:])
        do {
            let parts = try await uploadParts(uploadID).sorted { $0.partNumber < $1.partNumber }
            try await store.completeMultipartUpload(key, uploadID: uploadID, parts: parts)
        } catch {
            try? await store.abortMultipartUpload(key, uploadID: uploadID)
            throw error
        }
    }

    /// Downloads `key` into a new file at `path` (replaced atomically when complete).
    public static func download(_ key: String, from store: any ObjectStore, to path: String) async throws {
        let stream = try await store.get(key, range: nil)
        let temp = path + ".ossftp-part-" + DirectoryOps.randomName()
        let file = try await BlockingIO.run { try PosixFile.createExclusive(temp, mode: 0o644) }
        do {
            for try await chunk in stream {
                try await BlockingIO.run { try file.writeAll(chunk) }
            }
            try await BlockingIO.run {
                try file.close()
                try DirectoryOps.rename(temp, to: path)
            }
        } catch {
            stream.cancel()
            try? await BlockingIO.run {
                try? file.close()
                try DirectoryOps.unlinkIfPresent(temp)
            }
            throw error
        }
    }
}
