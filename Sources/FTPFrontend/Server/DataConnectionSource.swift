import Foundation
import NIOCore
import NIOPosix
import OSSVFS

/// Where the next data connection comes from: a passive listener (PASV/EPSV), or a connection
/// ossftp opens to the client (PORT/EPRT).
enum DataConnectionSource: Sendable {
    case passive(PassiveListener)
    case active(host: String, port: Int, tls: DataTLS?, receiveBuffer: Int?)

    /// The data connection, or nil when none could be made in time.
    func connect(group: any EventLoopGroup, timeout: Duration) async -> DataChannel? {
        switch self {
        case .passive(let listener):
            return await listener.accept(timeout: timeout)
        case .active(let host, let port, let tls, let receiveBuffer):
            var bootstrap = ClientBootstrap(group: group)
            if let receiveBuffer {
                bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
            }
            let configured = bootstrap
                .connectTimeout(.seconds(Int64(timeout.components.seconds)))
                .channelOption(.recvAllocator, value: DataSocket.recvAllocator)
            let initializer: @Sendable (any Channel) -> EventLoopFuture<DataChannel> = { channel in
                channel.eventLoop.makeCompletedFuture {
                    // RFC 4217 §7: ossftp is the TLS server even when it opens the connection.
                    try tls?.install(on: channel)
                    return try DataChannel(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
                }
            }
            // PORT and EPRT give an address; only one the parser does not take (an IPv6 zone)
            // goes through the resolver.
            if let address = SocketAddress.literal(host, port: port) {
                return try? await configured.connect(to: address, channelInitializer: initializer)
            }
            return try? await configured.connect(host: host, port: port, channelInitializer: initializer)
        }
    }

    /// The TLS the data connection gets (PROT P), nil for a plain one.
    var tls: DataTLS? {
        switch self {
        case .passive(let listener): return listener.tls
        case .active(_, _, let tls, _): return tls
        }
    }

    /// Whether no connection can come any more: a passive port closed for want of a transfer
    /// command in time.
    var isClosed: Bool {
        if case .passive(let listener) = self { return listener.isClosed }
        return false
    }

    /// A transfer command came for this connection (the passive port stays open for it).
    func holdForTransfer() {
        if case .passive(let listener) = self { listener.holdForTransfer() }
    }

    /// Releases a listener that no transfer will use.
    func close() {
        if case .passive(let listener) = self { listener.close() }
    }
}

/// What every data connection gets, passive or active.
enum DataSocket {
    /// Bulk data: larger reads than the control connection's defaults, but at most 256 KiB:
    /// an upload may hold 8 reads while the spool catches up, and with 1 MiB reads 50 uploads
    /// at once held 400 MiB.
    static let recvAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64 << 10, initial: 256 << 10, maximum: 256 << 10)

    /// The kernel's receive buffer unless configured (`data_receive_buffer_kb`; nil leaves it
    /// to the kernel's autotuning). When an upload's FIN arrives, NIO reads everything the
    /// socket holds in one go, past the backpressure that bounds reads otherwise, and an
    /// autotuned buffer (up to `tcp_rmem`'s maximum, 32 MiB here) put up to 30 MiB on the heap
    /// at the end of a 1 GiB upload. 2 MiB, which the kernel doubles, still leaves a window of
    /// 2 MiB or more: over 100 MB/s per upload at 20 ms of round trip.
    ///
    /// Only where the kernel grants it (`net.core.rmem_max`): a fixed buffer turns autotuning
    /// off, and a stock kernel's cap of 208 KiB would hold uploads to about 15 MB/s at 20 ms.
    /// There the buffer is left to autotuning, which a stock `tcp_rmem` bounds at 6 MiB.
    static let defaultReceiveBuffer: Int? = {
        let wanted = 2 << 20
        guard let text = try? String(contentsOfFile: "/proc/sys/net/core/rmem_max", encoding: .utf8),
            let granted = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), granted >= wanted
        else { return nil }
        return wanted
    }()
}

/// The data connection of the transfer in progress, so that ABOR can close it from the
/// control task.
final class TransferHandle: @unchecked Sendable {
    /// Bytes moved so far, for the console, the byte counters and the stall watchdog.
    let counter: FTPTransferProgress
    private let lock = Lock()
    private var channel: (any Channel)?
    private var aborted = false

    init(_ counter: FTPTransferProgress) {
        self.counter = counter
    }

    /// Records the transfer's data connection; closes it at once if ABOR came first.
    func attach(_ channel: any Channel) {
        let close = lock.withLock { () -> Bool in
            self.channel = channel
            return aborted
        }
        if close { channel.close(promise: nil) }
    }

    /// Closes the data connection, now or as soon as there is one.
    func abort() {
        let channel = lock.withLock { () -> (any Channel)? in
            aborted = true
            return self.channel
        }
        channel?.close(promise: nil)
    }

    var wasAborted: Bool { lock.withLock { aborted } }
}

/// TLS for a private data connection (PROT P): the server's context, and whether the client
/// must resume the control connection's session.
struct DataTLS: Sendable {
    let context: TLSServerContext
    /// The control connection's sessions, the only ones a data connection may resume.
    let scope: TLSSessionScope
    let requireReuse: Bool
    /// Set when a data connection was closed for not resuming the session, so that the
    /// transfer's reply and log can say why instead of "connection closed".
    let refusedUnresumed = LockedBox(false)
    /// How long the client has to finish the handshake (the data connection's own timeout).
    var handshakeTimeout: Duration = .seconds(30)

    /// Puts TLS first in a new data channel's pipeline (on its event loop).
    func install(on channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandler(OpenSSLHandler(context: context, scope: scope, dataConnection: true), position: .first)
        try channel.pipeline.syncOperations.addHandler(HandshakeDeadline(timeout: handshakeTimeout))
        if requireReuse { try channel.pipeline.syncOperations.addHandler(SessionReuseGuard(refusal: refusedUnresumed)) }
    }
}

/// Closes a data connection whose TLS handshake is not done within the data connection
/// timeout: a client that connects and never starts TLS held the session until the transfer's
/// stall timeout (300 s), ten times the time it has to connect at all.
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: Duration
    private var timer: Scheduled<Void>?

    init(timeout: Duration) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)) {
            // An error, not just a close: an upload's stream must not end as if complete.
            channel.pipeline.fireErrorCaught(TLSError("the data connection's TLS handshake was not done in time"))
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted {
            timer?.cancel()
            timer = nil
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Closes a data connection whose TLS handshake did not resume a session, as FileZilla Server
/// and vsftpd do (`require_ssl_reuse`): it proves the data connection comes from the client
/// that holds the control connection.
final class SessionReuseGuard: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let refusal: LockedBox<Bool>

    init(refusal: LockedBox<Bool>) {
        self.refusal = refusal
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let completed = event as? TLSHandshakeCompleted, !completed.resumed {
            refusal.withValue { $0 = true }
            // An error, not just a close: an upload's stream must not end as if complete (an
            // empty file would replace the stored one).
            context.fireErrorCaught(TLSError("the data connection did not resume the control connection's TLS session"))
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
