import Foundation

/// Changing and reading back what is still here: the bytes of a file being written that are
/// still in the spool (the part being written, and the whole file until a second part begins).
extension SpoolUpload {
    /// Where one stretch of written bytes is held: in the buffer (from an index) or in a spool
    /// file (from an offset).
    enum Holder {
        case buffer(Int)
        case file(String, UInt64)
        /// A part already sent whose file is kept (its number, file and offset there).
        case sent(Int, String, UInt64)
    }

    /// The offset of the first byte not sent yet: of the first part kept back until a second
    /// begins, else of the part being written, else of the buffer.
    var firstUnsent: UInt64 {
        let bufferStart = total - UInt64(buffer.count)
        return bufferStart - UInt64(partFill) - UInt64(pendingFirst?.size ?? 0)
    }

    /// Where the `count` written bytes from `offset` are held, stretch by stretch: the parts
    /// sent and kept, the first part kept back until a second begins, the part being written,
    /// the buffer. Throws when some of them have already gone to the store and are not kept,
    /// or when the range lies past the end.
    func holders(from offset: UInt64, count: Int) throws -> [(Holder, Int)] {
        let end = offset + UInt64(count)
        let bufferStart = total - UInt64(buffer.count)
        let partStart = bufferStart - UInt64(partFill)
        let firstStart = firstUnsent
        guard end <= total else { throw VFSError.invalidRange("\(shown): bytes \(offset)-\(end) lie past the \(total) written") }
        var stretches: [(start: UInt64, end: UInt64, holder: (UInt64) -> Holder)] = []
        for part in retained {
            stretches.append((part.start, part.start + UInt64(part.size), { .sent(part.number, part.path, $0 - part.start) }))
        }
        if let first = pendingFirst { stretches.append((firstStart, partStart, { .file(first.path, $0 - firstStart) })) }
        if let path = partPath { stretches.append((partStart, bufferStart, { .file(path, $0 - partStart) })) }
        stretches.append((bufferStart, total, { .buffer(Int($0 - bufferStart)) }))
        var pieces: [(Holder, Int)] = []
        var position = offset
        for stretch in stretches where position < end && position < stretch.end && position >= stretch.start {
            let length = min(end, stretch.end) - position
            pieces.append((stretch.holder(position), Int(length)))
            position += length
        }
        // Sent and not kept (past the kept parts, before the first not sent).
        guard position == end else {
            throw VFSError.invalidRange("\(shown): bytes from \(position) were already sent to the store")
        }
        return pieces
    }

    public func overwrite(_ bytes: [UInt8], at offset: UInt64) async throws {
        guard case .accepting = state else { throw VFSError.storeFailure("upload is no longer accepting data") }
        try await guarded { try await startFromBase() }
        guard offset <= total else { throw VFSError.invalidRange("\(shown): a write at \(offset) lies past the \(total) bytes written") }
        let inside = Int(min(UInt64(bytes.count), total - offset))
        // Refused before anything changes: the upload goes on as it was.
        var pieces = try holders(from: offset, count: inside)
        let sending = pieces.compactMap { holder, _ -> Int? in if case .sent(let number, _, _) = holder { number } else { nil } }
        if !sending.isEmpty {
            // A part still on its way is let arrive first: a patch in the middle of its send
            // fails the part's checksum, and with it the upload. Then placed again, since
            // writes may have come in meanwhile.
            await waitUntilSent(sending)
            pieces = try holders(from: offset, count: inside)
        }
        let durable = configuration.writeBack
        try await guarded {
            var done = 0
            for (holder, length) in pieces {
                let slice = Array(bytes[done..<(done + length)])
                switch holder {
                case .buffer(let index):
                    buffer.replaceSubrange(index..<(index + length), with: slice)
                case .file(let path, let at):
                    // Its own descriptor: the part's own one is write-only and keeps its position.
                    try await storeIO {
                        let file = try PosixFile.openForChanging(path)
                        try file.writeAll(slice, at: at)
                        if durable { try file.sync() }
                        try file.close()
                    }
                case .sent(let number, let path, let at):
                    try await storeIO {
                        let file = try PosixFile.openForChanging(path)
                        try file.writeAll(slice, at: at)
                        try file.close()
                    }
                    sentPartPatched(number)
                }
                done += length
            }
            if inside < bytes.count { try await append([Array(bytes[inside...])]) }
        }
    }

    public func truncate(to size: UInt64) async throws {
        guard case .accepting = state else { throw VFSError.storeFailure("upload is no longer accepting data") }
        try await guarded { try await startFromBase() }
        guard size < total else { return }
        // Refused before anything changes: sent parts, kept or not, stay as sent.
        guard size >= firstUnsent else {
            throw VFSError.invalidRange("\(shown): bytes from \(size) were already sent to the store")
        }
        let bufferStart = total - UInt64(buffer.count)
        let partStart = bufferStart - UInt64(partFill)
        try await guarded {
            if size >= bufferStart {
                buffer.removeLast(Int(total - size))
            } else {
                buffer = []
                var start = partStart
                if size < partStart, let first = pendingFirst {
                    // Back into the first part, which becomes the part being written again. No
                    // part follows it: opening a second part sends the first (openPart).
                    pendingFirst = nil
                    nextPartNumber = first.number
                    // Held as the part being written before anything can fail: abort frees it.
                    partPath = first.path
                    partFill = first.size
                    partReserved = first.reserved
                    partLimit = adopted ? Int.max / 2 : nextPartLimit()
                    partFile = try await storeIO { try PosixFile.openForAppending(first.path) }
                    start = partStart - UInt64(first.size)
                }
                let kept = size - start
                if kept == 0 && start > 0, let file = partFile, let path = partPath {
                    // Cut at a part's very start: no part at all, rather than an empty one later.
                    try await storeIO { try file.close() }
                    await release(partReserved, path: path)
                    partFile = nil
                    partPath = nil
                    partReserved = 0
                } else if let file = partFile {
                    try await storeIO { try file.truncate(to: kept) }
                }
                partFill = Int(kept)
            }
            total = size
        }
    }

    public func readBack(at offset: UInt64, count: Int) async throws -> [UInt8] {
        guard case .accepting = state else { throw VFSError.storeFailure("upload is no longer accepting data") }
        try await guarded { try await startFromBase() }
        guard offset < total else { return [] }
        // What the buffer holds is taken before the first wait for the disk: a write that comes
        // in meanwhile may move the buffer into a part file.
        let pieces = try holders(from: offset, count: Int(min(UInt64(count), total - offset))).map { holder, length in
            if case .buffer(let index) = holder { return (holder, length, Array(buffer[index..<(index + length)])) }
            return (holder, length, [UInt8]())
        }
        var bytes: [UInt8] = []
        for (holder, length, buffered) in pieces {
            switch holder {
            case .buffer:
                bytes += buffered
            case .file(let path, let at), .sent(_, let path, let at):
                bytes += try await storeIO {
                    let file = try PosixFile.openForReading(path)
                    defer { try? file.close() }
                    let got = try file.read(at: at, count: length)
                    guard got.count == length else {
                        throw ObjectStoreError.io(operation: "read \(path): shorter than written", errno: EIO)
                    }
                    return got
                }
            }
        }
        return bytes
    }
}
