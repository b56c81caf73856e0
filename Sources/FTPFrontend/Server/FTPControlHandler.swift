import Logging
import NIOCore
import OSSVFS

/// Runs one control connection on its channel's event loop: feeds lines and results into the
/// session state machine and carries out its actions. Replies that need no I/O go out in the
/// same event-loop turn as the line that asked for them; VFS work, logins and transfers run as
/// tasks that report back to the loop. Transfers run beside the control connection, so it
/// keeps answering NOOP, ABOR and QUIT while data moves; other commands wait for the
/// transfer's reply (the state machine defers them).
final class FTPControlHandler: ChannelInboundHandler {
    typealias InboundIn = FTPControlLine
    typealias OutboundOut = ByteBuffer
    typealias Machine = FTPSessionStateMachine

    private let configuration: FTPServerConfiguration
    private let authenticator: any Authenticator
    private let group: any EventLoopGroup
    private let limiter: ConnectionLimiter
    private let operations: FTPSessionOperations
    private let registry: FTPSessionRegistry
    private var logger: Logger

    private var machine: Machine
    private var context: ChannelHandlerContext?
    /// Where this session's async work runs: its own event loop.
    private var taskExecutor: EventLoopTaskExecutor?
    /// The slot taken from the limiter, given back when the connection ends.
    private var admittedAddress: String?
    private var vfs: (any VFS)?
    private var dataSource: DataConnectionSource?
    private var transferHandle: TransferHandle?
    /// The transfer the state machine started, for its log line.
    private var startedTransfer: Machine.Transfer?
    /// How many lines about its own commands this session may still log this minute.
    private var logBudget = SessionLogBudget()

    /// Logs a line about the session's own commands at `level`, within its budget (past it,
    /// at DEBUG).
    private func logSessionLine(_ line: String, level: Logger.Level) {
        if level > .debug, let shown = logBudget.admit(line) {
            logger.log(level: level, "\(shown)")
        } else {
            logger.debug("\(SessionLogBudget.shown(line))")
        }
    }

    /// A login went through: the session's file tree, and its user on every later log line.
    private func loggedIn(as user: String, vfs: any VFS) {
        self.vfs = vfs
        activity?.loggedIn(as: user)
        logger[metadataKey: "user"] = "\(user)"
        execute(machine.authenticationSucceeded())
    }
    private var transferTask: Task<Void, Never>?
    /// Lines read while a VFS operation or login is under way, answered in order after it.
    private var pending: [FTPControlLine] = []
    /// Lines held back by the state machine until the running transfer ends.
    private var deferred: [FTPControlLine] = []
    /// A login or VFS operation is running; its answer comes back through ``runAsync(_:then:)``.
    private var busy = false
    private var closing = false
    /// The client half-closed: no more commands come. The session ends once those read are
    /// answered and the transfer running has sent its reply.
    private var inputClosed = false
    /// The last reply written: a connection closes once it is out.
    private var lastWrite: EventLoopFuture<Void>?
    /// Plaintext that followed AUTH in the same read is discarded, never obeyed (RFC 4217 §4).
    private var droppingPlaintext = false
    private var lastActivity = NIODeadline.now()
    /// Since when the session waits for a login (its start, or its last REIN).
    private var awaitingLoginSince = NIODeadline.now()
    private var idleCheck: RepeatedTask?
    /// What the console shows of this session.
    private var activity: FTPSessionActivity?
    /// The TLS session scope of this connection and its data connections, made when TLS is
    /// first used: most plain sessions never need one.
    private lazy var tlsScope: TLSSessionScope = TLSSessionScope.random()

    init(configuration: FTPServerConfiguration, authenticator: any Authenticator, group: any EventLoopGroup,
         limiter: ConnectionLimiter, registry: FTPSessionRegistry, logger: Logger, implicitTLS: Bool,
         controlIsIPv6: Bool, peerAddress: String?, tlsScope: TLSSessionScope?)
    {
        self.registry = registry
        self.configuration = configuration
        self.authenticator = authenticator
        self.group = group
        self.limiter = limiter
        self.operations = FTPSessionOperations(configuration: configuration, group: group)
        self.logger = logger
        let policy = Machine.TLSPolicy(
            available: configuration.tls != nil, requiredForLogin: configuration.requireTLSForLogin,
            requiredForData: configuration.requireTLSForData)
        self.machine = Machine(maxFailedLogins: configuration.maxFailedLogins, controlIsIPv6: controlIsIPv6,
                               peerAddress: peerAddress, tls: policy, implicitTLS: implicitTLS,
                               checksums: configuration.storedChecksums, loginHint: authenticator.loginHint)
        if let tlsScope { self.tlsScope = tlsScope }
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        taskExecutor = EventLoopTaskExecutor(context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The context holds this handler: kept here, it kept both alive after the connection
        // closed, and with them the session's VFS and whatever it had listed (about 3 KB per
        // connection, and 200 bytes per entry listed, never given back).
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        // The channel's addresses, not the context's: the channel keeps them from the accept,
        // where the context's asks the kernel again (a getpeername(2) each time).
        let remote = context.channel.remoteAddress
        let address = remote?.plainIPAddress ?? "?"
        let peer = remote?.port.map { "\(address):\($0)" } ?? address
        logger[metadataKey: "peer"] = "\(peer)"
        if let refusal = limiter.admit(address) {
            if let count = limiter.refusalToLog(address) {
                let text = refusal.lines.joined(separator: " ")
                logger.notice(count == 1 ? "connection refused: \(text)"
                              : "connection refused: \(text) (\(count) refused since the last such line)")
            }
            execute(.sendAndClose(refusal))
            return
        }
        admittedAddress = address
        let activity = FTPSessionActivity(address: peer)
        self.activity = activity
        logger[metadataKey: "session"] = "\(activity.id)"
        FTPMetrics.sessions.increment()
        guard registry.add(context.channel, activity) else {
            execute(.sendAndClose(Self.stoppingReply))
            return
        }
        logger.info("control connection opened")
        send(Machine.greeting)
        startIdleWatchdog(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        idleCheck?.cancel()
        // An upload still running when the control connection ends is aborted.
        transferTask?.cancel()
        transferHandle?.abort()
        dataSource?.close()
        dataSource = nil
        registry.remove(context.channel)
        if let address = admittedAddress {
            admittedAddress = nil
            limiter.release(address)
            FTPMetrics.sessions.decrement()
            logger.info("control connection closed")
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let line = unwrapInboundIn(data)
        lastActivity = .now()
        activity?.commandReceived()
        if droppingPlaintext { return }
        // Replies the client does not read pile up in the outbound buffer: until it drains,
        // commands wait in `pending` (bounded) instead of adding more replies.
        if busy || !context.channel.isWritable {
            guard pending.count < configuration.maxPendingLines else { return execute(.sendAndClose(Self.floodReply)) }
            pending.append(line)
            return
        }
        execute(machine.receivedLine(line))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Stop reading while the client does not read its replies; resume when it does.
        let writable = context.channel.isWritable
        context.channel.setOption(ChannelOptions.autoRead, value: writable).whenFailure { _ in }
        if writable && !closing { drainPending() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is TLSHandshakeCompleted:
            // Lines read between AUTH and the end of the handshake were sent in clear; from
            // here on, lines come through TLS.
            droppingPlaintext = false
        case ChannelEvent.inputClosed:
            inputClosed = true
            // A client that dies mid-upload closes its data connection too, which reads as the
            // file's end (stream mode): only an upload the client said QUIT after is kept;
            // otherwise its FIN counts as a disconnect and the upload is aborted, as before.
            if transferTask != nil && machine.transferStores && !quitSent {
                transferHandle?.abort()
                transferTask?.cancel()
            }
            closeIfAnswered()
        case is FTPServerStopping:
            // A session moving data closes after the transfer's reply (see transferEvent).
            if transferTask == nil && !closing { execute(.sendAndClose(Self.stoppingReply)) }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("control connection error: \(error)")
        context.close(promise: nil)
    }

    // MARK: - Actions

    private func send(_ reply: FTPReply) {
        guard let context else { return }
        logger.debug("reply \(reply.code.rawValue)")
        lastWrite = context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: reply.encoded())))
    }

    /// Whether the lines waiting to be answered include a QUIT.
    private var quitSent: Bool {
        let loggedIn = machine.isLoggedIn
        func isQuit(_ line: FTPControlLine) -> Bool {
            guard case .line(let bytes) = line, case .command(.quit, _) = FTPCommandParser.parse(bytes, loggedIn: loggedIn)
            else { return false }
            return true
        }
        return deferred.contains(where: isQuit) || pending.contains(where: isQuit)
    }

    /// After the client's half-close: closes the connection once every command it sent is
    /// answered and no transfer or operation is left to report (RFC 959 §4.1.1 keeps QUIT's
    /// connection open for a transfer's reply; a FIN is no more than that).
    private func closeIfAnswered() {
        guard inputClosed, !closing, !busy, transferTask == nil, pending.isEmpty, deferred.isEmpty,
            let context
        else { return }
        closing = true
        Self.close(context, after: lastWrite ?? context.eventLoop.makeSucceededVoidFuture())
    }

    /// Closes once `written` completes, or at ``closeDeadline``: a peer that never reads (or
    /// never finishes a TLS handshake) would hold that write, and the connection, forever.
    private static func close(_ context: ChannelHandlerContext, after written: EventLoopFuture<Void>) {
        written.whenComplete { _ in context.close(promise: nil) }
        let deadline = context.eventLoop.scheduleTask(in: closeDeadline) { context.close(promise: nil) }
        // The deadline's task holds the context, and with it this handler and its session:
        // left to run out, it kept every closed connection's memory for five more seconds.
        context.channel.closeFuture.whenComplete { _ in deadline.cancel() }
    }

    private func execute(_ action: Machine.Action) {
        switch action {
        case .send(let reply):
            send(reply)
        case .sendAndClose(let reply):
            closing = true
            pending = []
            guard let context else { return }
            Self.close(context, after: context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: reply.encoded()))))
        case .deferLine(let line):
            // Held lines are bounded like queued ones: a client cannot pile up memory by
            // pipelining during a long transfer.
            guard deferred.count < configuration.maxPendingLines else { return execute(.sendAndClose(Self.floodReply)) }
            deferred.append(line)
        case .sendReplies(let replies):
            replies.forEach(send)
        case .abortTransfer:
            // The transfer task sees its data connection close and reports; ABOR's replies follow.
            transferHandle?.abort()
            transferTask?.cancel()
        case .startTLS(let reply, let loggedOut):
            guard let tls = configuration.tls, let context else {
                preconditionFailure("AUTH is accepted only with TLS configured")
            }
            if loggedOut { forgetLogin() }
            // In this event-loop turn: the 234 goes out in clear, and every byte read after it
            // goes through TLS. Lines already read after AUTH were sent in clear: dropped.
            send(reply)
            pending = []
            droppingPlaintext = true
            do {
                try context.pipeline.syncOperations.addHandler(OpenSSLHandler(context: tls, scope: tlsScope, handshakeTimeout: configuration.tlsHandshakeTimeout), position: .first)
                // Urgent data inline would now land in the TLS records and break them (an
                // urgent ABOR's DM byte, RFC 959 §4.1.3): out of line, the kernel drops it.
                try context.channel.syncOptions?.setOption(ChannelOptions.urgentInline, value: 0)
            } catch {
                logger.error("cannot start TLS: \(error)")
                context.close(promise: nil)
            }
        case .closeDataConnection(let reply):
            dataSource?.close()
            dataSource = nil
            send(reply)
        case .reinitialize(let reply):
            forgetLogin()
            send(reply)
        case .authenticate(let user, let password):
            authenticate(user: user, password: password)
        case .perform(let operation):
            perform(operation)
        case .transfer(let transfer):
            startTransfer(transfer)
        }
    }

    /// Back to before USER (REIN, or AUTH after a login): the account's VFS and the data
    /// connection set up for it are dropped.
    private func forgetLogin() {
        awaitingLoginSince = .now()
        vfs = nil
        activity?.loggedOut()
        dataSource?.close()
        dataSource = nil
    }

    /// Answers the lines that waited for a login or operation to finish, until one starts
    /// another.
    private func drainPending() {
        while !busy && !closing && !pending.isEmpty && context?.channel.isWritable != false {
            execute(machine.receivedLine(pending.removeFirst()))
        }
        closeIfAnswered()
    }

    /// Runs `work` off the loop, then `done` with its result back on the loop.
    private func runAsync<T: Sendable>(
        _ work: @escaping @Sendable () async -> T, then done: @escaping (FTPControlHandler, T) -> Void
    ) {
        guard let context else { return }
        busy = true
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let finish = NIOLoopBound(done, eventLoop: loop)
        let session = activity.map { "\($0.id)" }
        Task(executorPreference: taskExecutor) {
            let result = await LogContext.$session.withValue(session) { await work() }
            loop.execute {
                let handler = handler.value
                handler.busy = false
                guard !handler.closing else { return }
                finish.value(handler, result)
                handler.drainPending()
            }
        }
    }

    private func authenticate(user: String, password: String) {
        let authenticator = self.authenticator
        let limiter = self.limiter
        let delay = configuration.failedLoginDelay
        let address = admittedAddress ?? "?"
        let logger = self.logger
        // A plaintext password on the local store: answered here, on the event loop, without a
        // trip to a task and back (a login is a few round trips; the trip was a tenth of one).
        if !limiter.isBanned(address), let session = authenticator.authenticateAtOnce(user: user, password: password) {
            logger.info("login", metadata: ["user": "\(user)"])
            FTPMetrics.loginSucceeded.increment()
            loggedIn(as: user, vfs: session.vfs)
            return
        }
        runAsync({ () -> Result<any VFS, AuthenticationError>? in
            // A failure is answered `delay` after the attempt began, not after the password's
            // check: the hash of a known user's password takes longer than none, and would tell
            // which user names exist.
            let deadline = ContinuousClock.now.advanced(by: delay)
            // nil: the address is banned (by this or another of its connections).
            if limiter.isBanned(address) { return nil }
            do {
                let authenticated = try await authenticator.authenticate(user: user, password: password)
                // A parallel guess from the same address may have brought the ban meanwhile.
                if limiter.isBanned(address) { return nil }
                logger.info("login", metadata: ["user": "\(user)"])
                FTPMetrics.loginSucceeded.increment()
                return .success(authenticated.vfs)
            } catch AuthenticationError.refusedByStore(let reason) {
                // Right credentials the store will not serve: no ban, no delay.
                logger.warning("login refused by the store", metadata: ["user": "\(user)", "reason": "\(reason)"])
                return .failure(.refusedByStore(reason))
            } catch AuthenticationError.unavailable(let reason) {
                // The store, not the password: no ban, no delay.
                let shown = authenticator.mayBeUser(user) ? user : "(not known to be an account)"
                logger.warning("login while the account's storage cannot be reached", metadata: ["user": "\(shown)", "reason": "\(reason)"])
                return .failure(.unavailable(reason))
            } catch {
                // A name that is no account's may be a password typed one field early.
                let shown = authenticator.mayBeUser(user) ? user : "(not an account)"
                logger.notice("failed login", metadata: ["user": "\(shown)", "reason": "\(error)"])
                FTPMetrics.loginFailed.increment()
                // Windows Explorer and browsers log in as `anonymous` whenever a URL names no
                // user. Where that is no account it guesses no password, and counted toward the
                // ban it locked out every user behind one NAT after ten such visits.
                let guess = authenticator.mayBeUser(user) || !Self.anonymousNames.contains(user.lowercased())
                if guess, let seconds = limiter.recordFailedLogin(address) {
                    logger.warning("too many failed logins from \(address): refused for \(Int(seconds)) s",
                                   metadata: ["address": "\(address)"])
                }
                // RFC 2577 §5: failed logins are slowed down.
                try? await Task.sleep(until: deadline, clock: .continuous)
                if limiter.isBanned(address) { return nil }
                return .failure(error as? AuthenticationError ?? .rejected)
            }
        }, then: { handler, result in
            guard let result else {
                handler.execute(.sendAndClose(ConnectionLimiter.bannedReply))
                return
            }
            switch result {
            case .success(let vfs):
                handler.loggedIn(as: user, vfs: vfs)
            case .failure(let reason):
                // A login attempt is progress: the deadline counts from the last one (three
                // failures close the connection anyway).
                handler.awaitingLoginSince = .now()
                handler.execute(handler.machine.authenticationFailed(reason: reason))
            }
        })
    }

    private func perform(_ operation: Machine.Operation) {
        guard let vfs else { preconditionFailure("operations need a login") }
        let request = FTPSessionOperations.Request(
            vfs: vfs, local: context?.channel.localAddress, peer: context?.channel.remoteAddress, dataTLS: dataTLS())
        switch operation {
        case .prepareActiveConnection, .openPassiveListener:
            // A new data connection setup replaces the previous one.
            dataSource?.close()
            dataSource = nil
            if request.dataTLS != nil { context?.triggerUserOutboundEvent(TLSIssueSessionTicket(), promise: nil) }
        default:
            break
        }
        let operations = self.operations
        let logger = self.logger
        runAsync({
            await operations.perform(operation, request, logger: logger)
        }, then: { handler, outcome in
            switch outcome {
            case .success(let result, let source):
                if let change = operation.changeDescription { handler.logSessionLine("\(change): done", level: .info) }
                if let source { handler.dataSource = source }
                handler.execute(handler.machine.operationSucceeded(operation, result: result))
                handler.activity?.moved(to: handler.machine.workingDirectory.description)
            case .failure(let error):
                if let change = operation.changeDescription {
                    handler.logSessionLine("\(change): \(error.logWords)", level: error.isClientMistake ? .debug : .notice)
                }
                handler.execute(handler.machine.operationFailed(operation, error))
            }
        })
    }

    /// TLS for the next data connection when PROT P is in force.
    private func dataTLS() -> DataTLS? {
        guard let tls = configuration.tls, machine.dataPrivate else { return nil }
        return DataTLS(context: tls, scope: tlsScope, requireReuse: configuration.requireTLSSessionReuse,
                       handshakeTimeout: configuration.dataConnectionTimeout)
    }

    // MARK: - Transfers

    private func startTransfer(_ transfer: Machine.Transfer) {
        guard let vfs, let context else { preconditionFailure("the state machine asks for transfers only with a login") }
        guard let source = dataSource else {
            // The state machine asks for one only with a data connection set up; were the two
            // ever to disagree, the client gets 425, and the server goes on.
            execute(machine.transferFinished(.noDataConnection))
            return
        }
        dataSource = nil
        startedTransfer = transfer
        let handle = TransferHandle(FTPTransferProgress(transfer))
        transferHandle = handle
        activity?.setTransfer(handle.counter)
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let report: @Sendable (TransferEvent) -> Void = { event in
            // The 150 leaves before the transfer's first bytes when the transfer runs on this
            // loop; queued, it waited for the transfer's first suspension (a small file's
            // data, and even its close, came before it).
            if case .started = event, loop.inEventLoop {
                handler.value.transferEvent(event)
            } else {
                loop.execute { handler.value.transferEvent(event) }
            }
        }
        let runner = FTPTransferRunner(
            vfs: vfs, source: source, handle: handle, group: group,
            mover: FTPDataTransfer(vfs: vfs, facts: machine.machineFacts, ascii: machine.transferType == .ascii,
                                   sendsFileRegions: source.tls == nil,
                                   lost: { [logger] in logger.info("data connection lost: \($0)") },
                                   controlEndUnread: Self.controlEndUnread(handler, channel: context.channel)),
            dataConnectionTimeout: configuration.dataConnectionTimeout,
            stallTimeout: Double(configuration.stallTimeout.components.seconds), logger: logger)
        let registry = self.registry
        registry.transferTaskStarted()
        let session = activity.map { "\($0.id)" }
        transferTask = Task(executorPreference: taskExecutor) {
            await LogContext.$session.withValue(session) { await runner.run(transfer, report: report) }
            registry.transferTaskEnded()
        }
    }

    /// Whether reading is paused (``channelWritabilityChanged(context:)``).
    private var readsPaused: Bool { context?.channel.isWritable == false }

    /// The client ended the control connection while reads were paused, so that its end cannot
    /// be read: as at its FIN, an upload it did not QUIT after is aborted.
    private func controlEndedUnread() {
        guard !inputClosed, !closing else { return }
        if transferTask != nil && machine.transferStores && !quitSent {
            transferHandle?.abort()
            transferTask?.cancel()
        }
    }

    /// Whether the client has ended the control connection (its FIN or reset is in the kernel:
    /// the socket is no longer ESTABLISHED) while the session has not read that end yet.
    private static func controlEndUnread(_ handler: NIOLoopBound<FTPControlHandler>, channel: any Channel)
        -> @Sendable () async -> Bool
    {
        {
            #if os(Linux)
            guard let provider = channel as? SocketOptionProvider else { return false }
            // One hop onto the loop: on it, the socket option is read at once (its future is
            // already done), so the session's state and the socket's are seen together.
            let loop = channel.eventLoop
            let unread = try? await loop.flatSubmit { () -> EventLoopFuture<Bool> in
                guard !handler.value.inputClosed && !handler.value.closing else { return loop.makeSucceededFuture(false) }
                return provider.getTCPInfo().map { info in
                    // TCP_ESTABLISHED in linux/tcp_states.h (not in Glibc's module).
                    guard info.tcpi_state != 1 else { return false }
                    // Reads are paused while the client does not read its replies: its end would
                    // never be read, and the wait would end in a commit of what may be a cut file.
                    if handler.value.readsPaused {
                        handler.value.controlEndedUnread()
                        return false
                    }
                    return true
                }
            }.get()
            return unread == true
            #else
            return false
            #endif
        }
    }

    private func transferEvent(_ event: TransferEvent) {
        guard !closing else { return }
        switch event {
        case .started(let transfer):
            execute(machine.transferStarted(transfer))
        case .finished(let outcome):
            lastActivity = .now()
            let moved = transferHandle?.counter.snapshotNow
            transferTask = nil
            transferHandle = nil
            activity?.setTransfer(nil)
            let what = [startedTransfer?.verb, moved?.path].compactMap { $0 }.joined(separator: " ")
            startedTransfer = nil
            let line = "\(what.isEmpty ? "transfer" : what): \(outcome.logDescription)"
                + (moved.map { ", \($0.bytes) bytes in \(Int($0.seconds * 1000)) ms" } ?? "")
            logSessionLine(line, level: outcome.logLevel)
            execute(machine.transferFinished(outcome))
            if registry.isStopping {
                // The server is stopping and waited for this transfer: the session ends here.
                execute(.sendAndClose(Self.stoppingReply))
                return
            }
            // Lines that arrived during the transfer are answered now, in order, before any
            // read since.
            pending.insert(contentsOf: deferred, at: 0)
            deferred = []
            drainPending()
        }
    }

    // MARK: - Idle timeout

    private func startIdleWatchdog(_ context: ChannelHandlerContext) {
        let timeout = configuration.idleTimeout
        let seconds = Double(timeout.components.seconds)
        // Checks a few times a minute; a running transfer counts as activity.
        let every = TimeAmount.milliseconds(Int64(min(5, max(1, seconds / 4)) * 1000))
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { task in
            let handler = handler.value
            guard !handler.closing else { return task.cancel() }
            if handler.transferTask != nil { handler.lastActivity = .now() }
            let limit = TimeAmount.nanoseconds(Int64(seconds * 1e9))
            // The log says why the session ended: "control connection closed" alone read as
            // the client's doing.
            if NIODeadline.now() - handler.lastActivity > limit {
                task.cancel()
                handler.logger.info("idle for \(Int(seconds)) s (idle_timeout): closing")
                handler.execute(.sendAndClose(FTPReply(.serviceNotAvailable, "Idle timeout; closing.")))
            } else if !handler.machine.isLoggedIn && NIODeadline.now() - handler.awaitingLoginSince > limit {
                // NOOPs before a login do not keep a connection (and its slot) forever.
                task.cancel()
                handler.logger.info("no login within \(Int(seconds)) s (idle_timeout): closing")
                handler.execute(.sendAndClose(FTPReply(.serviceNotAvailable, "No login within the idle timeout; closing.")))
            }
        }
    }
}

extension FTPControlHandler {
    /// How long a closing reply may take to be written before the connection is closed anyway.
    static let closeDeadline = TimeAmount.seconds(5)
    /// Sent to sessions the server closes as it stops.
    static let stoppingReply = FTPReply(.serviceNotAvailable, "Server shutting down.")
    /// The names clients send for an anonymous login (RFC 1635): not counted toward a ban
    /// unless an account has one.
    static let anonymousNames: Set<String> = ["anonymous", "ftp"]
    /// Sent when a client piles up more unanswered lines than `maxPendingLines`.
    static let floodReply = FTPReply(.serviceNotAvailable, "Too many commands pending.")
}
