import Logging
import NIOCore
import NIOPosix
import OSSVFS

/// The FTP server: accepts control connections and runs each on its own channel's event loop,
/// so no client waits for another (the seed tool served everyone from one thread).
public final class FTPServer: Sendable {
    /// Settings and accounts for new sessions; a reload swaps them (sessions open keep theirs).
    private let current: LockedBox<(configuration: FTPServerConfiguration, authenticator: any Authenticator)>
    private var configuration: FTPServerConfiguration { current.value.configuration }
    private let group: any EventLoopGroup
    private let logger: Logger
    private let limiter: ConnectionLimiter
    private let registry = FTPSessionRegistry()

    public init(
        configuration: FTPServerConfiguration, authenticator: any Authenticator,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        limiter: ConnectionLimiter = ConnectionLimiter(), logger: Logger
    ) {
        self.limiter = limiter
        self.current = LockedBox((configuration, authenticator))
        self.group = group
        self.logger = logger
    }

    /// Listens and serves until the task is cancelled, then stops gracefully: no new
    /// connections, idle sessions closed with 421, transfers given `shutdownGrace` to finish
    /// (each session closes after its transfer's reply), then the rest closed and their uploads
    /// aborted, never half-committed. `onListening` gets the bound port. With an implicit FTPS
    /// port configured, a second listener speaks TLS from the first byte.
    public func run(onListening: @Sendable (Int) -> Void = { _ in }) async throws {
        let plain = try await bind(port: configuration.port, implicitTLS: false)
        let port = plain.first?.localAddress?.port ?? configuration.port
        logger.info("FTP server listening on \(ListenFailure.endpoint(configuration.host, port))")
        var listeners = plain
        if let implicitPort = configuration.implicitTLSPort {
            do {
                let secure = try await bind(port: implicitPort, implicitTLS: true)
                logger.info("implicit FTPS listening on \(ListenFailure.endpoint(configuration.host, secure.first?.localAddress?.port ?? implicitPort))")
                listeners += secure
            } catch {
                for listener in plain { try? await listener.close() }
                throw error
            }
        }
        onListening(port)
        let bound = listeners
        await withTaskCancellationHandler {
            for listener in bound { try? await listener.closeFuture.get() }
        } onCancel: {
            for listener in bound { listener.close(promise: nil) }
        }
        // A task of its own: the waits below must not end early because this one is cancelled.
        await Task { await stopSessions() }.value
    }

    /// Applies new settings, accounts and TLS certificate to sessions that start from now on;
    /// open sessions go on as they are. The listeners stay where they are: a new address or
    /// port takes a restart.
    public func reconfigure(_ configuration: FTPServerConfiguration, authenticator: any Authenticator) {
        current.withValue { current in
            var configuration = configuration
            configuration.host = current.configuration.host
            configuration.port = current.configuration.port
            configuration.implicitTLSPort = current.configuration.implicitTLSPort
            current = (configuration, authenticator)
        }
    }

    /// What each control connection is doing now, oldest first.
    public func sessions() -> [FTPSessionSnapshot] {
        registry.activities.map(\.snapshot).sorted { $0.id < $1.id }
    }

    private func stopSessions() async {
        let sessions = registry.beginStop()
        logger.notice("stopping: \(sessions.count) sessions; transfers get \(configuration.shutdownGrace) to finish")
        // Each session closes now if it has no transfer, else after its transfer's reply.
        for channel in sessions {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(FTPServerStopping()) }
        }
        await waitForTransfers(until: ContinuousClock.now + configuration.shutdownGrace)
        let left = registry.all
        if !left.isEmpty { logger.notice("stopping: \(left.count) sessions closed with their transfers aborted") }
        left.forEach(Self.close)
        // Aborted uploads clean up (the store's multipart upload, the spool) before the exit.
        await waitForTransfers(until: ContinuousClock.now + .seconds(10))
    }

    private func waitForTransfers(until deadline: ContinuousClock.Instant) async {
        while registry.transferTasksRunning > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private static func close(_ channel: any Channel) {
        channel.writeAndFlush(ByteBuffer(bytes: FTPControlHandler.stoppingReply.encoded()))
            .whenComplete { _ in channel.close(promise: nil) }
    }

    /// Listens on `port`, one socket per event loop (``ReusePortListeners``).
    private func bind(port: Int, implicitTLS: Bool) async throws -> [any Channel] {
        do {
            return try await listen(port: port, implicitTLS: implicitTLS)
        } catch {
            let host = current.value.configuration.host
            throw ListenFailure(error, listener: implicitTLS ? "implicit FTPS" : "FTP", host: host, port: port) ?? error
        }
    }

    private func listen(port: Int, implicitTLS: Bool) async throws -> [any Channel] {
        let current = self.current
        let group = self.group
        let limiter = self.limiter
        let registry = self.registry
        let logger = self.logger
        return try await ReusePortListeners.bind(host: current.value.configuration.host, port: port, group: group) {
            // Urgent data inline: clients send ABOR (or its Telnet DM) as TCP urgent data, and
            // without SO_OOBINLINE Linux takes the urgent byte out of the stream (ftplib's
            // abort() sends the whole line urgent, so the server would never see its LF).
            // RFC 959 §4.1.3 and RFC 854's Synch.
            // Set on the listening socket: accepted sockets inherit it on Linux, which spares a
            // setsockopt(2) per connection. Not under TLS, whose records the byte would break.
            $0.serverChannelOption(ChannelOptions.urgentInline, value: implicitTLS ? 0 : 1)
            // A client that half-closes (`printf 'MKD x\r\nQUIT\r\n' | nc -N`) still reads
            // the replies: its FIN ends its commands, not the session (FTPControlHandler).
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (configuration, authenticator) = current.value
                    let tls = implicitTLS ? configuration.tls : nil
                    let operations = channel.pipeline.syncOperations
                    // Implicit TLS needs its scope now; a plain connection makes one if it
                    // ever sends AUTH.
                    let scope = tls.map { _ in TLSSessionScope.random() }
                    if let tls, let scope {
                        try operations.addHandler(OpenSSLHandler(context: tls, scope: scope,
                                                                 handshakeTimeout: configuration.tlsHandshakeTimeout))
                    }
                    try operations.addHandler(FTPLineHandler())
                    try operations.addHandler(FTPControlHandler(
                        // The session's data connections and tasks stay on its own loop too.
                        configuration: configuration, authenticator: authenticator, group: channel.eventLoop,
                        limiter: limiter,
                        registry: registry, logger: logger, implicitTLS: implicitTLS,
                        controlIsIPv6: channel.localAddress.map { $0.protocol == .inet6 && !$0.isIPv4Mapped } ?? false,
                        peerAddress: channel.remoteAddress?.plainIPAddress, tlsScope: scope))
                }
            }
        }
    }
}
