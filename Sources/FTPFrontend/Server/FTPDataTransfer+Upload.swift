import Foundation
import NIOCore
import OSSVFS

extension FTPDataTransfer {
    /// Reads an upload into `writer` and commits it once the client's end of file is known
    /// to be one (not an abort, not a dead client).
    func receive(into writer: any VFSWriter, over channel: DataChannel, progress: @Sendable (Int) -> Void,
                 storeWait: @Sendable (Bool) -> Void, aborted: @Sendable () -> Bool)
        async
        -> Outcome
    {
        // Set when a write was refused: the outcome, however the drain that follows ends.
        var refused: (error: VFSError, at: ContinuousClock.Instant)?
        do {
            var pendingCR = false
            // Socket reads (often 64 KiB or less) are gathered into larger writes: one hop to
            // the writer per 256 KiB to 1 MiB (UploadGathering) instead of one per read. A
            // well-filled read buffer is handed over as it is (no copy); a mostly empty one is
            // copied out, so that what is held stays close to the bytes gathered.
            var gathered: [any VFSBytes] = []
            var gatheredBytes = 0
            // A write refused (a full disk, a file too large) ends the upload, but the client
            // is still sending: closed at once, its connection was reset and curl or ftplib
            // reported "connection reset" instead of the 452. What it still sends is read and
            // dropped, within bounds, so that it finishes and reads the reply.
            var dropped = 0
            // Counted while the socket is read, not through the commit: an upload that only
            // waits for its store does not shrink the others' writes.
            UploadGathering.begin()
            var receiving = true
            defer { if receiving { UploadGathering.end() } }
            try await channel.executeThenClose { inbound, _ in
                for try await buffer in inbound {
                    let count = buffer.readableBytes
                    if let refused {
                        progress(count)
                        dropped += count
                        if dropped > Self.refusedDrainBytes || ContinuousClock.now - refused.at > Self.refusedDrainTime { break }
                        continue
                    }
                    if ascii {
                        let converted = ASCIIConversion.fromNetwork(Array(buffer.readableBytesView), pendingCR: &pendingCR)
                        gathered.append(converted)
                        gatheredBytes += converted.count
                    } else if count * 2 >= buffer.capacity {
                        gathered.append(NetworkBytes(buffer))
                        gatheredBytes += count
                    } else {
                        gathered.append(Array(buffer.readableBytesView))
                        gatheredBytes += count
                    }
                    progress(count)
                    if gatheredBytes >= UploadGathering.chunk || gathered.count >= Self.uploadChunkPieces {
                        storeWait(true)
                        defer { storeWait(false) }
                        do {
                            try await writer.write(contentsOf: gathered)
                        } catch let error as VFSError {
                            refused = (error, .now)
                            // Its spool space and files go now, not after the drain.
                            await writer.abort()
                        }
                        gathered.removeAll(keepingCapacity: true)
                        gatheredBytes = 0
                    }
                }
            }
            receiving = false
            UploadGathering.end()
            if let refused { return .failed(refused.error) }
            // The client has sent everything: from here on only the store is waited for.
            storeWait(true)
            if pendingCR { gathered.append([UInt8(ascii: "\r")]) }
            if !gathered.isEmpty { try await writer.write(contentsOf: gathered) }
        } catch let error as VFSError {
            await writer.abort()
            return .failed(error)
        } catch {
            await writer.abort()
            // A refused upload whose client then reset the connection: the refusal is what
            // the operator needs to hear of (a full spool), not the reset.
            if let refused { return .failed(refused.error) }
            lost(error)
            return .connectionLost
        }
        // A client that dies closes its data and control connections together, and the data
        // connection's end looks like the end of the file. Give the control connection's end a
        // moment to arrive (it cancels this task) before committing what may be a torn file.
        // Both ends leave the client's host together: the moment covers their arrival apart,
        // and is paid by every upload (100 ms held a camera's small files to ten a second).
        try? await Task.sleep(for: Self.controlEndWait)
        // On a busy server the session may not have read the control connection's end within
        // that moment though the kernel has it (a third of the uploads of clients killed
        // mid-transfer were stored cut): then the session is given time to read it, and what
        // came before it (a QUIT keeps the upload), and to decide.
        for _ in 0..<Self.controlEndReadChecks where !aborted() && !Task.isCancelled {
            guard await controlEndUnread() else { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        if aborted() {
            await writer.abort()
            return .aborted
        }
        if Task.isCancelled {
            await writer.abort()
            return .connectionLost
        }
        do {
            // Every byte is in: the commit runs to its end in a task of its own, which an ABOR
            // or a closing control connection from here on does not cancel (a part upload cut
            // halfway would fail an upload the client sent whole).
            try await Task { try await writer.commit() }.value
            return .completed
        } catch let error as VFSError {
            return .failed(error)
        } catch {
            return .failed(.storeFailure("\(error)"))
        }
    }
}
