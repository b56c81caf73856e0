import Foundation

/// Transfers to and from a stream whose length is not known ahead (`ossftp cp -`): standard
/// input into parts held in memory, an object into standard output.
extension ObjectTransfer {
    /// Uploads everything `input` gives until it ends to `key`: one PUT when it all fits in one
    /// part, else a multipart upload with `concurrency` parts in flight while the next is read.
    /// At most `concurrency + 1` parts are in memory. Nothing is stored unless the input ended
    /// and every part was taken; a failed upload is aborted.
    public static func upload(stream input: PosixFile, to key: String, store: any ObjectStore,
                              partSize: Int = 8 << 20, concurrency: Int = 8,
                              leftovers: TransferLeftovers? = nil) async throws {
        let partSize = max(partSize, Int(store.capabilities.minPartSize))
        // Handed over, not kept: held here for the whole upload, the first part made
        // `concurrency + 2` parts in memory.
        let first = LockedBox(try await readPart(input, size: partSize))
        guard first.value.count == partSize else {
            try await store.put(key, body: .bytes(first.value), metadata: [:])
            return
        }
        try await multipartUpload(key, store: store, leftovers: leftovers) { uploadID in
            try await withThrowingTaskGroup(of: UploadedPart.self) { group in
                var parts: [UploadedPart] = []
                var pending = first.withValue { part in
                    defer { part = [] }
                    return part
                }
                var number = 0
                var inFlight = 0
                while !pending.isEmpty {
                    number += 1
                    guard number <= store.capabilities.maxParts else {
                        throw ObjectStoreError.invalidKey(
                            "\(key): more than \(store.capabilities.maxParts) parts of \(partSize) bytes; use a larger --part_size")
                    }
                    let (body, partNumber) = (pending, number)
                    group.addTask {
                        try await leftovers.sendingPart {
                            try await store.uploadPart(key, uploadID: uploadID, partNumber: partNumber, body: .bytes(body))
                        }
                    }
                    inFlight += 1
                    pending = try await readPart(input, size: partSize)
                    if inFlight >= concurrency, let part = try await group.next() {
                        parts.append(part)
                        inFlight -= 1
                    }
                }
                while let part = try await group.next() { parts.append(part) }
                return parts
            }
        }
    }

    /// Writes the object `key` to `output` as it arrives.
    public static func download(_ key: String, from store: any ObjectStore, to output: PosixFile) async throws {
        try await write(try await store.get(key, range: nil), to: output)
    }

    /// Writes `stream` to `output` as it arrives.
    static func write(_ stream: ObjectByteStream, to output: PosixFile) async throws {
        do {
            for try await chunk in stream {
                try await BlockingIO.run { try output.writeAll(chunk) }
            }
        } catch {
            stream.cancel()
            throw error
        }
    }

    /// Up to `size` bytes of `input`, fewer only at its end.
    private static func readPart(_ input: PosixFile, size: Int) async throws -> [UInt8] {
        try await BlockingIO.run {
            try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                initialized = try input.readFully(into: UnsafeMutableRawBufferPointer(buffer))
            }
        }
    }
}
