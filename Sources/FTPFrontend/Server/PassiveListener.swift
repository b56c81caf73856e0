import NIOCore
import NIOPosix
import OSSVFS

/// A data connection as the transfers use it.
typealias DataChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

/// A passive data port: listens on a random port of the configured range and hands out the
/// first connection that comes from the control connection's peer address. Connections from
/// any other address, and any after the first, are closed (no PASV stealing: RFC 2577 §3).
///
/// The listener accepts on its own, so a client that connects before sending its transfer
/// command, as ftplib and curl do, is already waiting when the transfer starts. The accepted
/// connection is wrapped at once, so what it receives waits (with backpressure) for the
/// transfer, and it is closed if no transfer takes it.
final class PassiveListener: Sendable {
    let port: Int
    /// TLS for the accepted connection (PROT P), nil for a plain one.
    let tls: DataTLS?
    private let server: any Channel
    private let slot: AcceptSlot
    /// Closes the port if no transfer command comes in time (cancelled when one does).
    private let unused: Scheduled<Void>

    private init(port: Int, tls: DataTLS?, server: any Channel, slot: AcceptSlot, unused: Scheduled<Void>) {
        self.port = port
        self.tls = tls
        self.server = server
        self.slot = slot
        self.unused = unused
    }

    /// Opens a listener on a free port of `ports`, trying random ones. Unless a connection
    /// came within `timeout`, the port is closed then, whether a transfer command came or not.
    static func open(
        group: any EventLoopGroup, host: String, ports: ClosedRange<Int>, expectedPeer: String?,
        tls: DataTLS? = nil, timeout: Duration = .seconds(30), receiveBuffer: Int? = DataSocket.defaultReceiveBuffer
    ) async throws -> PassiveListener {
        var lastError: (any Error)?
        // A random port first (RFC 2577 §5: not guessable), then the rest of the range in turn.
        let first = Int.random(in: ports)
        for step in 0..<min(ports.count, 4096) {
            let port = ports.lowerBound + (first - ports.lowerBound + step) % ports.count
            let slot = AcceptSlot(promise: group.next().makePromise(of: DataChannel.self), expectedPeer: expectedPeer)
            do {
                var bootstrap = AcceptBackoff.install(on: ServerBootstrap(group: group))
                if let receiveBuffer {
                    // Accepted connections inherit the receive buffer before their handshake.
                    bootstrap = bootstrap.serverChannelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
                }
                let configured = bootstrap
                    .serverChannelOption(.backlog, value: 4)
                    // A port whose last data connection is in TIME_WAIT may be listened on again;
                    // without this, a burst of transfers used up the range for a minute.
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.recvAllocator, value: DataSocket.recvAllocator)
                    .childChannelInitializer { child in
                        child.eventLoop.makeCompletedFuture {
                            guard slot.claim(from: child.remoteAddress?.plainIPAddress) else {
                                throw ChannelError.inappropriateOperationForState
                            }
                            try tls?.install(on: child)
                            let wrapped = try DataChannel(
                                wrappingChannelSynchronously: child,
                                configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
                            // Handed out only once active: a transfer must not use a channel
                            // that is not registered yet.
                            try child.pipeline.syncOperations.addHandler(
                                ActivationSignal(slot: slot, channel: wrapped), position: .first)
                        }
                    }
                let server = try await (SocketAddress.literal(host, port: port).map { configured.bind(to: $0) }
                    ?? configured.bind(host: host, port: port)).get()
                // A client that sent PASV and no transfer command must not keep the port open;
                // a connection that came meanwhile is finished with it.
                let unused = server.eventLoop.scheduleTask(
                    in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)
                ) {
                    slot.close()
                    slot.promise.futureResult.whenSuccess { channel in
                        if slot.handOut() { AcceptSlot.finish(channel) }
                    }
                    server.close(promise: nil)
                }
                return PassiveListener(port: port, tls: tls, server: server, slot: slot, unused: unused)
            } catch {
                slot.close(error)
                lastError = error
            }
        }
        throw lastError ?? ChannelError.inappropriateOperationForState
    }

    /// A transfer command came: from now on ``accept(timeout:)`` keeps time, however long the
    /// transfer takes to get ready.
    func holdForTransfer() {
        unused.cancel()
    }

    /// Waits for the client's data connection, then stops listening.
    /// Returns nil when none came in time.
    func accept(timeout: Duration) async -> DataChannel? {
        unused.cancel()
        let slot = self.slot
        let future = slot.promise.futureResult
        let timer = future.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)) {
            slot.close(ChannelError.connectTimeout(.seconds(timeout.components.seconds)))
        }
        let accepted = try? await withTaskCancellationHandler {
            try await future.get()
        } onCancel: {
            slot.close(CancellationError())
        }
        timer.cancel()
        defer { server.close(promise: nil) }
        guard let accepted, slot.handOut() else { return nil }
        return accepted
    }

    /// Whether the port is closed already (no transfer command came in time): an accept would
    /// fail at once.
    var isClosed: Bool { slot.isClosed }

    /// Stops listening and closes a connection that no transfer took.
    func close() {
        unused.cancel()
        let slot = self.slot
        slot.close()
        slot.promise.futureResult.whenSuccess { channel in
            if slot.handOut() { AcceptSlot.finish(channel) }
        }
        server.close(promise: nil)
    }
}

/// Hands the accepted connection to the slot once it is active, then steps aside; a
/// connection that never becomes active is finished instead.
private final class ActivationSignal: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    private let slot: AcceptSlot
    // Touched on the channel's event loop only.
    private var channel: DataChannel?

    init(slot: AcceptSlot, channel: DataChannel) {
        self.slot = slot
        self.channel = channel
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if let channel {
            self.channel = nil
            slot.deliver(channel)
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let channel {
            self.channel = nil
            AcceptSlot.finish(channel)
        }
    }
}

/// The one connection a passive port hands out.
private final class AcceptSlot: Sendable {
    let promise: EventLoopPromise<DataChannel>
    let expectedPeer: String?
    private let lock = Lock()
    nonisolated(unsafe) private var taken = false
    nonisolated(unsafe) private var handedOut = false
    nonisolated(unsafe) private var closed = false

    init(promise: EventLoopPromise<DataChannel>, expectedPeer: String?) {
        self.promise = promise
        self.expectedPeer = expectedPeer
    }

    /// Whether a connection from `address` may take the slot; only the first from the peer does.
    func claim(from address: String?) -> Bool {
        guard expectedPeer == nil || address == expectedPeer else { return false }
        return lock.withLock {
            if taken { return false }
            taken = true
            return true
        }
    }

    /// Offers an active connection; once the listener is closed it is finished instead.
    func deliver(_ channel: DataChannel) {
        // Under the lock, so close() cannot fail the promise between the check and the success
        // (the only callback close() adds needs the lock, so none runs inline here).
        let delivered = lock.withLock { () -> Bool in
            guard !closed else { return false }
            promise.succeed(channel)
            return true
        }
        if !delivered { Self.finish(channel) }
    }

    /// Refuses further connections and ends a pending accept with `error`. The promise is
    /// failed only through here: a connection that becomes active after it is finished by
    /// ``deliver(_:)``; succeeding a failed promise would drop it unfinished, which NIO's
    /// async channel punishes by stopping the process.
    func close(_ error: any Error = ChannelError.ioOnClosedChannel) {
        lock.withLock { closed = true }
        promise.fail(error)
    }

    var isClosed: Bool { lock.withLock { closed } }

    /// Closes a connection no transfer will use: an async channel must be finished, not dropped.
    static func finish(_ channel: DataChannel) {
        Task { try? await channel.executeThenClose { _, _ in } }
    }

    /// Gives the accepted connection to one owner: a transfer, or close(). True for the first caller.
    func handOut() -> Bool {
        lock.withLock {
            if handedOut { return false }
            handedOut = true
            return true
        }
    }
}
