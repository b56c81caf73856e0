import Foundation
import NIOCore
import OSSVFS

/// Moves bytes between the VFS and a data connection. Never holds a whole file: downloads
/// write one chunk at a time and wait until the socket took it; uploads read with the data
/// channel's backpressure, so a slow spool stops the client instead of filling memory.
struct FTPDataTransfer: Sendable {
    typealias Outcome = FTPSessionStateMachine.TransferOutcome

    /// What is ready once the transfer was accepted, before any data moves.
    enum Prepared {
        /// The listing of the directory `path`, or the one entry of a file path.
        case listing(VFSDirectoryListing?, single: VFSEntry?, format: FTPListingFormat, path: VFSPath,
                     only: FTPWildcard? = nil, namePrefix: String = "")
        case download(ObjectByteStream, path: VFSPath)
        case upload(any VFSWriter)

        /// Releases what was prepared when no data connection came.
        func discard() async {
            switch self {
            case .listing: break
            case .download(let stream, _): stream.cancel()
            case .upload(let writer): await writer.abort()
            }
        }
    }

    /// How long an upload whose data connection ended waits for its control connection's end
    /// before it commits (a client that died closes both).
    static let controlEndWait = Duration.milliseconds(30)
    /// How many times, 10 ms apart, an upload waits for its session to read a control
    /// connection's end the kernel has.
    static let controlEndReadChecks = 300
    /// What a refused upload's client may still send, read and dropped, before its data
    /// connection is closed under it: the reply then reaches a client that finishes sending
    /// first (curl, ftplib) instead of a reset.
    static let refusedDrainBytes = 64 << 20
    static let refusedDrainTime = Duration.seconds(10)
    /// At most this many reads go to the writer at once (one vectored write; IOV_MAX is 1024).
    static let uploadChunkPieces = 64

    let vfs: any VFS
    /// The MLSD facts on.
    var facts: Set<String> = FTPListingFormatter.allFacts
    /// TYPE A: line ends become CRLF on the wire and LF in the store (RFC 959 §3.1.1.1).
    var ascii = false
    /// Whether a local file's cached bytes may go from the page cache to the socket (sendfile):
    /// only on a plain data connection, as TLS encrypts in the process.
    var sendsFileRegions = false
    /// Told why a data connection was lost (a TLS failure names its cause), for the log.
    var lost: @Sendable (any Error) -> Void = { _ in }
    /// Whether the client has ended its control connection, as the kernel knows, while the
    /// session has not read that end yet (see ``receive(into:over:progress:storeWait:aborted:)``).
    var controlEndUnread: @Sendable () async -> Bool = { false }

    /// Checks the request and opens what it needs; throws a ``VFSError`` to refuse it.
    func prepare(_ transfer: FTPSessionStateMachine.Transfer) async throws -> Prepared {
        switch transfer {
        case .list(let path, let format, let namePrefix, let entryItself, let folderOnly):
            do {
                // `LIST -d dir` shows the directory's own entry, as `ls -ld`.
                if entryItself {
                    return .listing(nil, single: try await vfs.stat(path, folderOnly: folderOnly), format: format, path: path)
                }
                return .listing(try await vfs.list(path), single: nil, format: format, path: path)
            } catch VFSError.notDirectory where format != .machine && !folderOnly {
                // `LIST file` shows that one file (RFC 959 §4.1.3 allows a file path); MLSD does
                // not. NLST gives it as written, folder and all.
                return .listing(nil, single: try await vfs.stat(path), format: format, path: path, namePrefix: namePrefix)
            } catch let error as VFSError where format != .machine {
                // No such name, but a wildcard in it: the parent's entries that match, each as
                // itself (MLSD takes no patterns, RFC 3659 §7.2). A name with a real `*` is
                // found above.
                guard case .notFound = error, let wildcard = path.components.last.flatMap(FTPWildcard.init),
                    let parent = path.parent
                else { throw error }
                return .listing(try await vfs.list(parent), single: nil, format: format, path: parent, only: wildcard,
                                namePrefix: namePrefix)
            }
        case .retrieve(let path, let offset):
            return .download(try await vfs.openRead(path, offset: offset), path: path)
        case .store(let path, let keepingFirst):
            return .upload(try await vfs.openWrite(path, modified: nil, keepingFirst: keepingFirst))
        case .storeUnique(let path, _):
            // Committed only if the name is still free (where the store can tell): two STOUs
            // that found the same free name must not both hear 226 and one file remain.
            return .upload(try await vfs.openWrite(path, modified: nil, keepingFirst: nil, ifAbsent: true))
        case .append(let path):
            // APPE of a missing file creates it (RFC 959 §4.1.3).
            return .upload(try await vfs.openAppend(path))
        }
    }

    /// STOU's name: the client's, if no entry has it; else it with `.1` to `.99` added (as BSD
    /// ftpd), then with a random suffix. Another upload may still take the name before this
    /// one commits: object stores have no exclusive create that every one of them keeps.
    func uniquePath(for path: VFSPath) async throws -> VFSPath {
        guard let name = path.name, let parent = path.parent else { throw VFSError.isDirectory(path.description) }
        let candidates = [name] + (1...99).map { "\(name).\($0)" }
        for candidate in candidates {
            do {
                _ = try await vfs.stat(parent.appending(candidate))
            } catch VFSError.notFound {
                return parent.appending(candidate)
            }
        }
        return parent.appending("\(name).\(FTPSessionStateMachine.uniqueSuffix())")
    }

    /// Runs a prepared transfer over `channel` and closes the channel. `aborted` tells whether
    /// the channel was closed on purpose (ABOR, the stall watchdog): an upload's end of input
    /// then is no end of file, and nothing is committed.
    /// `storeWait` brackets the waits on the store, which are not the client's stalls.
    func run(_ prepared: Prepared, over channel: DataChannel, progress: @escaping @Sendable (Int) -> Void = { _ in },
             storeWait: @escaping @Sendable (Bool) -> Void = { _ in }, aborted: @escaping @Sendable () -> Bool = { false })
        async
        -> Outcome
    {
        switch prepared {
        case .listing(let listing, let single, let format, let path, let only, let namePrefix):
            return await sendListing(listing, single: single, format: format, path: path, only: only,
                                     namePrefix: namePrefix, over: channel, progress: progress, storeWait: storeWait)
        case .download(let stream, let path):
            return await send(stream, of: path, over: channel, progress: progress, storeWait: storeWait)
        case .upload(let writer):
            return await receive(into: writer, over: channel, progress: progress, storeWait: storeWait, aborted: aborted)
        }
    }

    private func sendListing(
        _ listing: VFSDirectoryListing?, single: VFSEntry?, format: FTPListingFormat, path: VFSPath,
        only: FTPWildcard? = nil, namePrefix: String = "", over channel: DataChannel,
        progress: @Sendable (Int) -> Void, storeWait: @Sendable (Bool) -> Void
    ) async -> Outcome {
        let now = Date().timeIntervalSince1970
        let permissions = vfs.permissions
        var buffer = channel.channel.allocator.buffer(capacity: 64 * 1024)
        func line(_ entry: VFSEntry) {
            let text: String
            switch format {
            case .long: text = FTPListingFormatter.longLine(entry, now: now)
            case .names: text = namePrefix + FTPListingFormatter.nameLine(entry)
            case .machine:
                text = FTPListingFormatter.machineLine(entry, in: path, permissions: permissions, enabled: facts)
            }
            buffer.writeString(text)
            buffer.writeString("\r\n")
        }
        do {
            if let single { line(single) }
            if let listing {
                // The stall watchdog counts the lines sent, not the time the next page of a
                // huge directory takes to come from the store.
                var entries = listing.makeAsyncIterator()
                while true {
                    storeWait(true)
                    let next: VFSEntry?
                    do {
                        defer { storeWait(false) }
                        next = try await entries.next()
                    }
                    guard let entry = next else { break }
                    guard only?.matches(entry.name) ?? true else { continue }
                    line(entry)
                    if buffer.readableBytes >= 60 * 1024 {
                        let count = buffer.readableBytes
                        try await channel.channel.writeAndFlush(buffer)
                        progress(count)
                        buffer.clear()
                    }
                }
            }
            let count = buffer.readableBytes
            try await channel.channel.writeAndFlush(buffer)
            progress(count)
            try await Self.finish(channel)
            return .completed
        } catch let error as VFSError {
            try? await channel.channel.close()
            return .failed(error)
        } catch {
            lost(error)
            try? await channel.channel.close()
            return .connectionLost
        }
    }

    /// Sends a download, one chunk in flight: awaiting each write keeps at most one chunk
    /// queued per download.
    ///
    /// A local file's chunk that the kernel already holds goes from the page cache to a plain
    /// socket (sendfile), or over TLS is read straight into the socket's buffer; either here on
    /// the event loop, as neither can wait for the disk (cachestat tells first; preadv2 with
    /// RWF_NOWAIT). Any other chunk (a store's, or one that would wait for the disk) comes from
    /// ``ObjectChunkSource/nextChunk()``, off the loop, and is copied in.
    private func send(_ stream: ObjectByteStream, of path: VFSPath, over channel: DataChannel, progress: @Sendable (Int) -> Void,
                      storeWait: @Sendable (Bool) -> Void) async -> Outcome
    {
        let ready = ascii ? nil : stream.source as? any ImmediateChunkSource
        let regions = sendsFileRegions ? ready as? any FileRegionSource : nil
        // The file's own descriptor for sendfile, taken at the first cached range.
        var regionFile: NIOFileHandle?
        defer { try? regionFile?.close() }
        do {
            var lastWasCR = false
            while true {
                if let regions, let range = regions.nextCachedRange(maxLength: Self.regionChunk) {
                    guard !range.isEmpty else { break }
                    let file = try regionFile ?? NIOFileHandle(
                        _deprecatedTakingOwnershipOfDescriptor: regions.duplicateDescriptor())
                    regionFile = file
                    try await Self.sendRegion(range, of: file, from: regions, over: channel)
                    progress(range.count)
                    continue
                }
                var buffer: ByteBuffer
                if let ready, let filled = try Self.readReady(ready, allocator: channel.channel.allocator) {
                    guard filled.readableBytes > 0 else { break }
                    buffer = filled
                } else {
                    storeWait(true)
                    let next: [UInt8]?
                    do {
                        defer { storeWait(false) }
                        next = try await stream.source.nextChunk()
                    }
                    guard let chunk = next else { break }
                    buffer = ByteBuffer(bytes: ascii ? ASCIIConversion.toNetwork(chunk, afterCR: &lastWasCR) : chunk)
                }
                let count = buffer.readableBytes
                try await channel.channel.writeAndFlush(buffer)
                progress(count)
            }
            try await Self.finish(channel)
            return .completed
        } catch let error as VFSError {
            stream.cancel()
            try? await channel.channel.close()
            return .failed(error)
        } catch let error as ObjectStoreError {
            stream.cancel()
            try? await channel.channel.close()
            return .failed(VFSError(error, path: path.description))
        } catch {
            lost(error)
            stream.cancel()
            try? await channel.channel.close()
            return .connectionLost
        }
    }

    /// Sends `range` of `file` from the page cache. While the socket takes it, the file is
    /// looked at each second: cut shorter than the range by another program, it gives sendfile
    /// nothing to send, which NIO would try again and again until the stall watchdog. The
    /// connection is closed then, with the read's error.
    private static func sendRegion(_ range: Range<UInt64>, of file: NIOFileHandle, from source: any FileRegionSource,
                                   over channel: DataChannel) async throws
    {
        let socket = channel.channel
        let shrank = LockedBox(false)
        let watch = socket.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { task in
            guard source.endsBefore(range.upperBound) else { return }
            shrank.withValue { $0 = true }
            task.cancel()
            socket.close(promise: nil)
        }
        defer { watch.cancel() }
        do {
            try await socket.writeAndFlush(
                FileRegion(fileHandle: file, readerIndex: Int(range.lowerBound), endIndex: Int(range.upperBound)))
        } catch where shrank.value {
            throw ObjectStoreError.io(operation: "read: object shrank while being read", errno: EIO)
        }
    }

    /// Closes a data connection whose transfer went well. On a private one whose handshake has
    /// not ended (nothing was sent: an empty file, REST at the end) the close waits for it, so
    /// the client gets its handshake and close_notify; a plain connection has no TLS handler
    /// to take the event, which is fine.
    static func finish(_ channel: DataChannel) async throws {
        try? await channel.channel.triggerUserOutboundEvent(TLSCloseAfterHandshake())
        try await channel.channel.close()
    }

    /// The next chunk of `source` if it is ready at once (empty at the end), else nil.
    private static func readReady(_ source: any ImmediateChunkSource, allocator: ByteBufferAllocator) throws
        -> ByteBuffer?
    {
        var buffer = allocator.buffer(capacity: downloadChunk)
        var mustWait = false
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: downloadChunk) { pointer in
            guard let count = try source.nextChunkIfReady(into: pointer) else {
                mustWait = true
                return 0
            }
            return count
        }
        return mustWait ? nil : buffer
    }

    /// Bytes of a local file read at once for a download.
    static let downloadChunk = 256 << 10
    /// Bytes of a local file sent from the page cache at once: the stall watchdog hears of
    /// progress after each.
    static let regionChunk = 1 << 20
}

extension VFS {
    /// The entry at `path`; with `folderOnly` (the client wrote the path with a trailing
    /// separator, which names a folder) a file there is "not a directory", as `ls f/` says.
    func stat(_ path: VFSPath, folderOnly: Bool) async throws -> VFSEntry {
        let entry = try await stat(path)
        if folderOnly, entry.kind != .directory { throw VFSError.notDirectory(path.description) }
        return entry
    }
}
