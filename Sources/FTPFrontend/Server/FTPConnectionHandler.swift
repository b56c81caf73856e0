import Logging
import NIOCore
import OSSVFS

/// Runs one control connection: feeds lines and results into the session state machine and
/// carries out its actions. Transfers run as child tasks, so the control connection keeps
/// answering NOOP and QUIT while data moves; other commands wait for the transfer's reply.
struct FTPConnectionHandler {
    typealias ControlChannel = NIOAsyncChannel<FTPControlLine, ByteBuffer>
    typealias Machine = FTPSessionStateMachine

    let configuration: FTPServerConfiguration
    let authenticator: any Authenticator
    let group: any EventLoopGroup
    let limiter: ConnectionLimiter
    let logger: Logger

    private enum Event: Sendable {
        case line(FTPControlLine)
        case flood
        case controlClosed
        case idle
        case transferStarted(Machine.Transfer)
        case transferFinished(Machine.TransferOutcome)
    }

    /// Session state the handler owns besides the state machine.
    private final class Session: @unchecked Sendable {
        var machine: Machine
        var vfs: (any VFS)?
        var dataSource: DataConnectionSource?
        var transferHandle: TransferHandle?
        var deferred: [[UInt8]] = []
        var closing = false
        var transfer: Task<Void, Never>?
        let clock = ActivityClock()
        var plaintextToDrop = 0

        init(machine: Machine) {
            self.machine = machine
        }
    }

    /// Whether this connection came in on the implicit FTPS port (TLS already in the pipeline).
    var implicitTLS = false

    func run(_ connection: ControlChannel) async {
        let peer = connection.channel.remoteAddress
        let local = connection.channel.localAddress
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(peer?.description ?? "?")"
        logger.info("control connection opened")
        let policy = Machine.TLSPolicy(
            available: configuration.tls != nil, requiredForLogin: configuration.requireTLSForLogin,
            requiredForData: configuration.requireTLSForData)
        let session = Session(
            machine: Machine(maxFailedLogins: configuration.maxFailedLogins, controlIsIPv6: local?.protocol == .inet6,
                             peerAddress: peer?.ipAddress, tls: policy, implicitTLS: implicitTLS))
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: Machine.greeting.encoded()))
                let (events, continuation) = AsyncStream.makeStream(of: Event.self)
                let pending = PendingCounter()
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask {
                        do {
                            for try await line in inbound {
                                if pending.increment() > configuration.maxPendingLines {
                                    continuation.yield(.flood)
                                    break
                                }
                                continuation.yield(.line(line))
                            }
                        } catch {}
                        continuation.yield(.controlClosed)
                    }
                    let idleTimeout = Double(configuration.idleTimeout.components.seconds)
                    let clock = session.clock
                    tasks.addTask {
                        // The idle watchdog: checks a few times a minute, gone with the session.
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .seconds(min(5, max(1, idleTimeout / 4))))
                            if clock.idleSeconds > idleTimeout {
                                continuation.yield(.idle)
                                return
                            }
                        }
                    }
                    let context = EventContext(
                        session: session, outbound: outbound, continuation: continuation,
                        channel: connection.channel, pending: pending,
                        local: local, peer: peer, logger: logger)
                    for await event in events {
                        if case .line = event { pending.decrement() }
                        try await handle(event, context)
                        if session.closing { break }
                    }
                    continuation.finish()
                    tasks.cancelAll()
                    // An upload still running when the control connection ends is aborted.
                    session.transfer?.cancel()
                    await session.transfer?.value
                }
            }
        } catch {
            logger.debug("control connection ended: \(error)")
        }
        session.dataSource?.close()
        logger.info("control connection closed")
    }

    private struct EventContext {
        let session: Session
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        let continuation: AsyncStream<Event>.Continuation
        let channel: any Channel
        let pending: PendingCounter
        let local: SocketAddress?
        let peer: SocketAddress?
        let logger: Logger
    }

    private func handle(_ event: Event, _ context: EventContext) async throws {
        let session = context.session
        switch event {
        case .line(let line):
            session.clock.touch()
            if session.plaintextToDrop > 0 {
                // Sent in clear after AUTH TLS, before the handshake: never obeyed (RFC 4217 §4).
                session.plaintextToDrop -= 1
                return
            }
            try await execute(session.machine.receivedLine(line), context)
        case .idle:
            try await execute(.sendAndClose(FTPReply(.serviceNotAvailable, "Idle timeout; closing.")), context)
        case .flood:
            try await execute(.sendAndClose(FTPReply(.serviceNotAvailable, "Too many commands pending.")), context)
        case .controlClosed:
            session.closing = true
        case .transferStarted(let transfer):
            try await execute(session.machine.transferStarted(transfer), context)
        case .transferFinished(let outcome):
            session.clock.setBusy(false)
            context.logger.info("transfer finished: \(outcome)")
            try await execute(session.machine.transferFinished(outcome), context)
            // Lines that arrived during the transfer are answered now, in order.
            while !session.deferred.isEmpty && !session.closing {
                let line = session.deferred.removeFirst()
                try await execute(session.machine.receivedLine(.line(line)), context)
            }
        }
    }

    private func send(_ reply: FTPReply, _ context: EventContext) async throws {
        context.logger.debug("reply \(reply.code.rawValue)")
        try await context.outbound.write(ByteBuffer(bytes: reply.encoded()))
    }

    private func execute(_ action: Machine.Action, _ context: EventContext) async throws {
        let session = context.session
        switch action {
        case .send(let reply):
            try await send(reply, context)
        case .sendAndClose(let reply):
            try await send(reply, context)
            session.closing = true
        case .deferLine(let line):
            session.deferred.append(line)
        case .sendReplies(let replies):
            for reply in replies { try await send(reply, context) }
        case .abortTransfer:
            // The transfer task sees its data connection close and reports; ABOR's replies follow.
            session.transferHandle?.abort()
            session.transfer?.cancel()
        case .startTLS(let reply):
            guard let tls = configuration.tls else { preconditionFailure("AUTH is accepted only with TLS configured") }
            let channel = context.channel
            // In one event-loop turn: the 234 goes out in clear, and every byte read after it
            // goes through TLS.
            try await channel.eventLoop.submit {
                channel.writeAndFlush(ByteBuffer(bytes: reply.encoded()), promise: nil)
                try channel.pipeline.syncOperations.addHandler(OpenSSLHandler(context: tls), position: .first)
            }.get()
            session.plaintextToDrop = context.pending.value
        case .reinitialize(let reply):
            session.vfs = nil
            session.dataSource?.close()
            session.dataSource = nil
            try await send(reply, context)
        case .authenticate(let user, let password):
            do {
                let authenticated = try await authenticator.authenticate(user: user, password: password)
                session.vfs = authenticated.vfs
                context.logger.info("login", metadata: ["user": "\(user)"])
                try await execute(session.machine.authenticationSucceeded(), context)
            } catch {
                context.logger.notice("failed login", metadata: ["user": "\(user)", "reason": "\(error)"])
                limiter.recordFailedLogin(context.peer?.ipAddress ?? "?")
                try? await Task.sleep(for: configuration.failedLoginDelay)
                let reason = error as? AuthenticationError ?? .rejected
                try await execute(session.machine.authenticationFailed(reason: reason), context)
            }
        case .perform(let operation):
            do {
                let result = try await perform(operation, context)
                try await execute(session.machine.operationSucceeded(operation, result: result), context)
            } catch let error as VFSError {
                try await execute(session.machine.operationFailed(operation, error), context)
            }
        case .transfer(let transfer):
            startTransfer(transfer, context)
        }
    }

    private func perform(_ operation: Machine.Operation, _ context: EventContext) async throws
        -> Machine.OperationResult
    {
        let session = context.session
        guard let vfs = session.vfs else { preconditionFailure("operations need a login") }
        switch operation {
        case .changeDirectory(let path):
            let entry = try await vfs.stat(path)
            guard entry.kind == .directory else { throw VFSError.notDirectory(path.description) }
            return .done
        case .makeDirectory(let path):
            try await vfs.makeDirectory(path)
            return .done
        case .removeDirectory(let path):
            try await vfs.removeDirectory(path)
            return .done
        case .removeFile(let path):
            try await vfs.removeFile(path)
            return .done
        case .size(let path):
            let entry = try await vfs.stat(path)
            guard entry.kind == .file else { throw VFSError.isDirectory(path.description) }
            return .size(entry.size)
        case .renameSource(let path):
            _ = try await vfs.stat(path)
            return .done
        case .rename(let source, let destination):
            try await vfs.rename(source, to: destination)
            return .done
        case .modificationTime(let path):
            let entry = try await vfs.stat(path)
            guard entry.kind == .file, let modified = entry.modified else {
                throw VFSError.isDirectory(path.description)
            }
            return .modified(modified)
        case .setModificationTime(let path, let time):
            try await vfs.setModificationTime(path, time)
            return .done
        case .checksum(let path, _, _):
            return .checksums(try await vfs.checksums(path))
        case .machineStat(let path):
            var entry = try await vfs.stat(path)
            entry.name = path.description
            return .entry(entry)
        case .prepareActiveConnection(let host, let port):
            session.dataSource?.close()
            session.dataSource = .active(host: host, port: port, tls: dataTLS(session))
            return .done
        case .openPassiveListener:
            session.dataSource?.close()
            session.dataSource = nil
            let bindHost = context.local?.ipAddress ?? configuration.host
            do {
                let listener = try await PassiveListener.open(
                    group: group, host: bindHost, ports: configuration.passivePorts,
                    expectedPeer: context.peer?.ipAddress, tls: dataTLS(session))
                session.dataSource = .passive(listener)
                let announced = configuration.masqueradeAddress ?? bindHost
                return .passiveListener(host: announced, port: listener.port)
            } catch {
                context.logger.error("cannot open a passive port: \(error)")
                throw VFSError.storeUnavailable("no passive port")
            }
        }
    }

    /// TLS for the next data connection when PROT P is in force.
    private func dataTLS(_ session: Session) -> DataTLS? {
        guard let tls = configuration.tls, session.machine.dataPrivate else { return nil }
        return DataTLS(context: tls, requireReuse: configuration.requireTLSSessionReuse)
    }

    private func startTransfer(_ transfer: Machine.Transfer, _ context: EventContext) {
        let session = context.session
        guard let vfs = session.vfs, let source = session.dataSource else {
            preconditionFailure("the state machine asks for transfers only with a login and a data connection set up")
        }
        session.dataSource = nil
        let handle = TransferHandle()
        session.transferHandle = handle
        session.clock.setBusy(true)
        let stallTimeout = Double(configuration.stallTimeout.components.seconds)
        let group = self.group
        let ascii = session.machine.transferType == .ascii
        let timeout = configuration.dataConnectionTimeout
        let facts = session.machine.machineFacts
        let continuation = context.continuation
        let logger = context.logger
        session.transfer = Task {
            let mover = FTPDataTransfer(vfs: vfs, facts: facts, ascii: ascii)
            let prepared: FTPDataTransfer.Prepared
            do {
                prepared = try await mover.prepare(transfer)
            } catch {
                source.close()
                if case .list(let path, .machine) = transfer, case VFSError.notDirectory = error {
                    continuation.yield(.transferFinished(.notADirectoryListing(path)))
                } else {
                    continuation.yield(.transferFinished(.refused(error as? VFSError ?? .storeFailure("\(error)"))))
                }
                return
            }
            continuation.yield(.transferStarted(transfer))
            guard let channel = await source.connect(group: group, timeout: timeout) else {
                await prepared.discard()
                continuation.yield(.transferFinished(.noDataConnection))
                return
            }
            logger.debug("data connection with \(channel.channel.remoteAddress?.description ?? "?")")
            handle.attach(channel.channel)
            // The stall watchdog: a transfer that moves nothing for too long is aborted.
            let watchdog = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(min(5, max(1, stallTimeout / 4))))
                    if handle.secondsSinceProgress > stallTimeout {
                        logger.notice("transfer stalled for \(Int(stallTimeout)) s; aborting")
                        handle.abort()
                        return
                    }
                }
            }
            var outcome = await mover.run(prepared, over: channel) { handle.progress() }
            watchdog.cancel()
            if handle.wasAborted && outcome != .completed { outcome = .aborted }
            continuation.yield(.transferFinished(outcome))
        }
    }
}

/// Counts control lines read but not yet handled, to refuse floods with bounded memory.
final class PendingCounter: @unchecked Sendable {
    private let lock = Lock()
    private var count = 0

    func increment() -> Int {
        lock.withLock {
            count += 1
            return count
        }
    }

    func decrement() {
        lock.withLock { count -= 1 }
    }

    /// Lines read and not yet handled.
    var value: Int { lock.withLock { count } }
}
