import Logging
import NIOCore
import NIOPosix
import OSSVFS

/// The FTP server: accepts control connections and runs each in its own task, so no client
/// waits for another (the seed tool served everyone from one thread).
public final class FTPServer: Sendable {
    private let configuration: FTPServerConfiguration
    private let authenticator: any Authenticator
    private let group: any EventLoopGroup
    private let logger: Logger
    private let limiter: ConnectionLimiter

    public init(
        configuration: FTPServerConfiguration, authenticator: any Authenticator,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        limiter: ConnectionLimiter = ConnectionLimiter(), logger: Logger
    ) {
        self.limiter = limiter
        self.configuration = configuration
        self.authenticator = authenticator
        self.group = group
        self.logger = logger
    }

    /// Listens and serves until the task is cancelled. `onListening` gets the bound port.
    /// With an implicit FTPS port configured, a second listener speaks TLS from the first byte.
    public func run(onListening: @Sendable (Int) -> Void = { _ in }) async throws {
        let plain = try await bind(port: configuration.port, implicitTLS: false)
        let port = plain.channel.localAddress?.port ?? configuration.port
        logger.info("FTP server listening on \(configuration.host):\(port)")
        onListening(port)
        var listeners = [(plain, false)]
        if let implicitPort = configuration.implicitTLSPort {
            let secure = try await bind(port: implicitPort, implicitTLS: true)
            logger.info("implicit FTPS listening on \(configuration.host):\(secure.channel.localAddress?.port ?? implicitPort)")
            listeners.append((secure, true))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (listener, implicitTLS) in listeners {
                group.addTask { try await self.serve(listener, implicitTLS: implicitTLS) }
            }
            try await group.waitForAll()
        }
    }

    private typealias Listener = NIOAsyncChannel<NIOAsyncChannel<FTPControlLine, ByteBuffer>, Never>

    private func bind(port: Int, implicitTLS: Bool) async throws -> Listener {
        let tls = implicitTLS ? configuration.tls : nil
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .bind(host: configuration.host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(OpenSSLHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FTPLineDecoder()))
                    return try NIOAsyncChannel<FTPControlLine, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    private func serve(_ server: Listener, implicitTLS: Bool) async throws {
        var handler = FTPConnectionHandler(
            configuration: configuration, authenticator: authenticator, group: group, limiter: limiter, logger: logger)
        handler.implicitTLS = implicitTLS
        let limiter = self.limiter
        try await withThrowingDiscardingTaskGroup { tasks in
            try await withTaskCancellationHandler {
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        let address = connection.channel.remoteAddress?.ipAddress ?? "?"
                        if let refusal = limiter.admit(address) {
                            tasks.addTask {
                                try? await connection.executeThenClose { _, outbound in
                                    try await outbound.write(ByteBuffer(bytes: refusal.encoded()))
                                }
                            }
                            continue
                        }
                        tasks.addTask {
                            await handler.run(connection)
                            limiter.release(address)
                        }
                    }
                }
            } onCancel: {
                server.channel.close(promise: nil)
            }
        }
    }
}
