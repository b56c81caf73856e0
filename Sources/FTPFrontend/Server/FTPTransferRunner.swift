import Logging
import NIOCore
import OSSVFS

/// Runs one data transfer as a task beside its control connection: prepares it, reports that
/// it started (the 150), waits for the data connection, moves the bytes under a stall
/// watchdog, and reports how it ended.
struct FTPTransferRunner: Sendable {
    let vfs: any VFS
    let source: DataConnectionSource
    let handle: TransferHandle
    let group: any EventLoopGroup
    let mover: FTPDataTransfer
    let dataConnectionTimeout: Duration
    let stallTimeout: Double
    let logger: Logger

    func run(_ transfer: FTPSessionStateMachine.Transfer, report: @escaping @Sendable (TransferEvent) -> Void) async {
        let direction = handle.counter.direction
        let report: @Sendable (TransferEvent) -> Void = { event in
            if case .finished(let outcome) = event { FTPMetrics.transfer(direction, outcome) }
            report(event)
        }
        source.holdForTransfer()
        // A passive port already closed (the transfer command came after data_connection_timeout):
        // 425 alone, not a 150 that promised a connection none can make.
        if source.isClosed {
            report(.finished(.noDataConnection))
            return
        }
        var transfer = transfer
        let prepared: FTPDataTransfer.Prepared
        do {
            if case .storeUnique(let path, nameGiven: true) = transfer {
                let unique = try await mover.uniquePath(for: path)
                handle.counter.retarget(unique)
                transfer = .storeUnique(unique, nameGiven: true)
            }
            prepared = try await mover.prepare(transfer)
        } catch {
            source.close()
            if case .list(let path, .machine, _, _, _) = transfer, case VFSError.notDirectory = error {
                report(.finished(.notADirectoryListing(path)))
            } else {
                report(.finished(.refused(error as? VFSError ?? .storeFailure("\(error)"))))
            }
            return
        }
        if case .download(let stream, _) = prepared { handle.counter.expect(stream.source.expectedLength) }
        report(.started(transfer))
        guard let channel = await source.connect(group: group, timeout: dataConnectionTimeout) else {
            await prepared.discard()
            report(.finished(.noDataConnection))
            return
        }
        logger.debug("data connection with \(channel.channel.remoteAddress?.description ?? "?")")
        handle.attach(channel.channel)
        // The stall watchdog: a transfer that moves nothing for too long is aborted.
        let handle = self.handle
        let stallTimeout = self.stallTimeout
        let logger = self.logger
        let dataChannel = channel.channel
        let stalled = LockedBox(false)
        let watchdog = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(min(5, max(1, stallTimeout / 4))))
                if handle.counter.secondsSinceMoved > stallTimeout {
                    // A download counts its bytes as each write ends (a 1 MiB region of a file,
                    // a 256 KiB chunk of a store's answer): a client reading slowly but steadily
                    // takes longer than the timeout over one, and was cut off as stalled. The
                    // socket says when it last sent data and heard an answer: a stalled
                    // reader's window is shut (nothing sent), a vanished one answers nothing
                    // (what is sent again does not count).
                    // Moved `idle` seconds ago, not now: counting the timeout again from the
                    // check let a stalled download hold on for up to twice it.
                    if direction != .upload, let idle = await Self.secondsSinceDataMoved(dataChannel), idle < stallTimeout {
                        handle.counter.stillMoving(secondsAgo: idle)
                        continue
                    }
                    logger.notice("transfer stalled for \(Int(stallTimeout)) s; aborting")
                    stalled.withValue { $0 = true }
                    handle.abort()
                    return
                }
            }
        }
        var outcome = await mover.run(prepared, over: channel, progress: { handle.counter.moved($0) },
                                      storeWait: { handle.counter.waitingOnStore($0) }, aborted: { handle.wasAborted })
        watchdog.cancel()
        // A store's or spool's failure stays the outcome: an abort or stall during the drain of
        // a refused upload came after it.
        if case .failed = outcome {
        } else if handle.wasAborted && outcome != .completed {
            outcome = stalled.value ? .stalled(seconds: Int(stallTimeout)) : .aborted
        }
        if outcome == .connectionLost, source.tls?.refusedUnresumed.value == true {
            logger.notice("data connection refused: it did not resume the control connection's TLS session")
            outcome = .sessionNotResumed
        }
        report(.finished(outcome))
    }

    /// Seconds since `channel`'s socket last sent data or got an acknowledgement, whichever is
    /// longer ago (TCP_INFO's `tcpi_last_data_sent` and `tcpi_last_ack_recv`); nil where the
    /// system does not say.
    static func secondsSinceDataMoved(_ channel: any Channel) async -> Double? {
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider,
            let info = try? await provider.getTCPInfo().get()
        else { return nil }
        return Double(max(info.tcpi_last_data_sent, info.tcpi_last_ack_recv)) / 1000
        #else
        return nil
        #endif
    }
}
