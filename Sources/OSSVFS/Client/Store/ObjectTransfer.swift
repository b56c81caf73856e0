import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file transfers between a local file and a store, as `ossftp cp` and the benches use
/// them: uploads as parallel multipart parts read straight from the file, downloads as one
/// streamed GET written as it arrives.
public enum ObjectTransfer {
    /// Uploads `path` to `key`: one PUT up to `partSize`, else `concurrency` parts at a time.
    ///
    /// The file is opened once, through any link, and every part is read from that open file
    /// (`/proc/self/fd/N`): a file renamed over `path` meanwhile (an editor's save, a log
    /// rotation) is not mixed in. A file changed in place while its parts go up is not
    /// stored: its size or time moved, and the upload is dropped. A file that gives no size
    /// (`/proc`) is read to its end.
    public static func upload(file path: String, to key: String, store: any ObjectStore,
                              partSize: Int = 8 << 20, concurrency: Int = 8,
                              leftovers: TransferLeftovers? = nil) async throws {
        let file = try PosixFile.openForReading(path)
        defer { try? file.close() }
        let before = try identity(of: file, path)
        if before.isDirectory { throw ObjectStoreError.io(operation: "read \(path)", errno: EISDIR) }
        if before.size == 0 {
            try await upload(stream: file, to: key, store: store, partSize: partSize, concurrency: concurrency,
                             leftovers: leftovers)
            return
        }
        // Without /proc (a bare chroot) each part opens the path again, as before.
        let pinned = access("/proc/self/fd/\(file.descriptor)", R_OK) == 0 ? "/proc/self/fd/\(file.descriptor)" : path
        let size = before.size
        let partSize = try Self.partSize(for: size, atLeast: partSize, store: store, path: path)
        do {
            try await upload(pinned, of: size, to: key, store: store, partSize: partSize, concurrency: concurrency,
                             leftovers: leftovers, file: file, path: path, before: before)
        } catch {
            // Parts read while the file was written fail their checksum (BadDigest, every
            // retry) or come up short: the change is what went wrong, not the store.
            if let after = try? identity(of: file, path), after.size != before.size || after.modified != before.modified {
                throw changed(path)
            }
            throw error
        }
    }

    /// The part size for a file of `size` bytes: `requested`, or larger when the store's
    /// 10,000 parts would not hold the file (as `aws s3 cp` does), in whole MiB.
    static func partSize(for size: UInt64, atLeast requested: Int, store: any ObjectStore, path: String) throws -> UInt64 {
        let chosen = UInt64(max(requested, store.capabilities.minPartSize))
        let maxParts = UInt64(store.capabilities.maxParts)
        guard (size + chosen - 1) / chosen > maxParts else { return chosen }
        let mebibyte: UInt64 = 1 << 20
        let needed = ((size + maxParts - 1) / maxParts + mebibyte - 1) / mebibyte * mebibyte
        guard needed <= 5 << 30 else {
            throw ObjectStoreError.service(status: 400, code: "EntityTooLarge",
                                           message: "\(path) needs more than \(maxParts) parts of 5 GiB", requestID: nil)
        }
        return needed
    }

    private static func changed(_ path: String) -> ObjectStoreError {
        ObjectStoreError.io(operation: "\(path) changed while it was being copied; nothing stored", errno: EAGAIN)
    }

    /// One PUT up to `partSize`, else `concurrency` parts at a time, all read from `pinned`.
    private static func upload(_ pinned: String, of size: UInt64, to key: String, store: any ObjectStore,
                               partSize: UInt64, concurrency: Int, leftovers: TransferLeftovers?, file: PosixFile,
                               path: String, before: (isDirectory: Bool, size: UInt64, modified: [Int])) async throws {
        if size <= partSize {
            try await store.put(key, body: .file(path: pinned, offset: 0, length: size), metadata: [:])
            return
        }
        let count = Int((size + partSize - 1) / partSize)
        try await multipartUpload(key, store: store, leftovers: leftovers) { uploadID in
            let parts = try await withThrowingTaskGroup(of: UploadedPart.self) { group in
                var parts: [UploadedPart] = []
                var next = 0
                func addPart() {
                    let number = next + 1
                    let offset = UInt64(next) * partSize
                    let length = min(partSize, size - offset)
                    next += 1
                    group.addTask {
                        try await leftovers.sendingPart {
                            try await store.uploadPart(key, uploadID: uploadID, partNumber: number,
                                                       body: .file(path: pinned, offset: offset, length: length))
                        }
                    }
                }
                while next < min(concurrency, count) { addPart() }
                while let part = try await group.next() {
                    parts.append(part)
                    if next < count { addPart() }
                }
                return parts
            }
            // Its parts were read at different times: one written meanwhile would join old and
            // new bytes into an object that never was a file.
            let after = try identity(of: file, path)
            guard after.size == before.size && after.modified == before.modified else { throw changed(path) }
            return parts
        }
    }

    /// What tells whether the open file changed: its kind, size and modification time.
    private static func identity(of file: PosixFile, _ path: String) throws
        -> (isDirectory: Bool, size: UInt64, modified: [Int])
    {
        var status = stat()
        guard fstat(file.descriptor, &status) == 0 else { throw ObjectStoreError.io(operation: "stat \(path)", errno: errno) }
        return ((status.st_mode & S_IFMT) == S_IFDIR, UInt64(status.st_size),
                [status.st_mtim.tv_sec, status.st_mtim.tv_nsec])
    }

    /// Starts a multipart upload of `key`, has `uploadParts` store its parts, and joins them
    /// in order; aborts the upload when anything fails, so no parts are left behind.
    static func multipartUpload(_ key: String, store: any ObjectStore, leftovers: TransferLeftovers?,
                                _ uploadParts: (String) async throws -> [UploadedPart]) async throws {
        leftovers?.uploadStarting(true)
        let uploadID: String
        do {
            uploadID = try await store.createMultipartUpload(key, metadata: [:])
        } catch {
            leftovers?.uploadStarting(false)
            throw error
        }
        leftovers?.uploadStarted(key, uploadID: uploadID, in: store)
        defer { leftovers?.uploadEnded() }
        do {
            let parts = try await uploadParts(uploadID).sorted { $0.partNumber < $1.partNumber }
            try await store.completeMultipartUpload(key, uploadID: uploadID, parts: parts)
        } catch {
            try? await store.abortMultipartUpload(key, uploadID: uploadID)
            throw error
        }
    }

    /// Downloads `key` to `path` as `cp` writes a file (``LocalDownloadTarget``): a new or
    /// ordinary file is replaced atomically once complete, keeping the replaced file's mode and
    /// owner; a device, a FIFO or a hard-linked file is written into.
    public static func download(_ key: String, from store: any ObjectStore, to path: String,
                                leftovers: TransferLeftovers? = nil) async throws {
        switch try await BlockingIO.run({ try LocalDownloadTarget.of(path) }) {
        case .writeInto(let path, let truncating):
            // The object first: a missing key or a refusal must not have emptied the file.
            let stream = try await store.get(key, range: nil)
            let output: PosixFile
            do {
                output = try await BlockingIO.run { try PosixFile.openForWriting(path, truncating: truncating) }
            } catch {
                stream.cancel()
                throw error
            }
            do {
                try await write(stream, to: output)
            } catch {
                try? output.close()
                throw error
            }
            try output.close()
        case .replace(let path, let kept):
            try await replace(path, keeping: kept, with: key, from: store, leftovers: leftovers)
        }
    }

    private static func replace(_ path: String, keeping kept: LocalDownloadTarget.Kept?, with key: String,
                                from store: any ObjectStore, leftovers: TransferLeftovers?) async throws {
        let stream = try await store.get(key, range: nil)
        // Beside the file, but not named after it: a name already as long as the file system
        // allows (255 bytes) took no suffix, and such a file could not be downloaded.
        let folderEnd = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let temp = String(path[..<folderEnd]) + ".ossftp-part-" + DirectoryOps.randomName()
        // Private until complete when it replaces a file (whose mode it then takes); a new file
        // gets 0666 less the umask, as cp's.
        let file: PosixFile
        leftovers?.partialFileStarting(true)
        do {
            file = try await BlockingIO.run { try PosixFile.createExclusive(temp, mode: kept == nil ? 0o666 : 0o600) }
        } catch {
            leftovers?.partialFileStarting(false)
            stream.cancel()
            if case ObjectStoreError.io(_, let code) = error { throw ObjectStoreError.io(operation: "create \(path)", errno: code) }
            throw error
        }
        leftovers?.partialFileCreated(temp)
        defer { leftovers?.partialFileEnded() }
        do {
            for try await chunk in stream {
                try await BlockingIO.run { try file.writeAll(chunk) }
            }
            try await BlockingIO.run {
                if let kept {
                    // The owner first: a chown clears setuid and setgid, which the mode then sets.
                    // (Only the owner or root replaces a file: see LocalDownloadTarget.)
                    _ = fchown(file.descriptor, kept.owner, kept.group)
                    guard fchmod(file.descriptor, kept.mode) == 0 else {
                        throw ObjectStoreError.io(operation: "chmod \(temp)", errno: errno)
                    }
                }
                try file.close()
                try DirectoryOps.rename(temp, to: path)
            }
        } catch {
            stream.cancel()
            try? await BlockingIO.run {
                try? file.close()
                try DirectoryOps.unlinkIfPresent(temp)
            }
            // Named by the file the user asked for, not the temporary one (a full disk).
            if case ObjectStoreError.io(let operation, let code) = error, operation.contains(temp) {
                throw ObjectStoreError.io(operation: operation.replacingOccurrences(of: temp, with: path), errno: code)
            }
            throw error
        }
    }
}
