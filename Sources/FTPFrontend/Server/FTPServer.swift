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
    public func run(onListening: @Sendable (Int) -> Void = { _ in }) async throws {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FTPLineDecoder()))
                    return try NIOAsyncChannel<FTPControlLine, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? configuration.port
        logger.info("FTP server listening on \(configuration.host):\(port)")
        onListening(port)
        let handler = FTPConnectionHandler(
            configuration: configuration, authenticator: authenticator, group: group, limiter: limiter, logger: logger)
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
