import NIOCore
import NIOPosix

/// A data connection as the transfers use it.
typealias DataChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

/// A passive data port: listens on a random port of the configured range and hands out the
/// first connection that comes from the control connection's peer address. Connections from
/// any other address are closed (no PASV stealing: RFC 2577 §3, pyftpdlib's 425 rule).
final class PassiveListener: Sendable {
    let port: Int
    private let server: NIOAsyncChannel<DataChannel, Never>
    private let expectedPeer: String?

    private init(port: Int, server: NIOAsyncChannel<DataChannel, Never>, expectedPeer: String?) {
        self.port = port
        self.server = server
        self.expectedPeer = expectedPeer
    }

    /// Opens a listener on a free port of `ports`, trying random ones.
    static func open(
        group: any EventLoopGroup, host: String, ports: ClosedRange<Int>, expectedPeer: String?
    ) async throws -> PassiveListener {
        var lastError: (any Error)?
        for _ in 0..<min(64, ports.count) {
            let port = Int.random(in: ports)
            do {
                let server = try await ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 4)
                    .childChannelOption(.allowRemoteHalfClosure, value: false)
                    .bind(host: host, port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try DataChannel(
                                wrappingChannelSynchronously: channel,
                                configuration: .init(backPressureStrategy: .init(lowWatermark: 4, highWatermark: 16)))
                        }
                    }
                return PassiveListener(port: port, server: server, expectedPeer: expectedPeer)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? ChannelError.inappropriateOperationForState
    }

    /// Waits for the client's data connection, then stops listening.
    /// Returns nil when none came in time.
    func accept(timeout: Duration) async -> DataChannel? {
        let server = self.server
        let expectedPeer = self.expectedPeer
        let accepted = await withTaskGroup(of: DataChannel?.self) { group -> DataChannel? in
            group.addTask {
                try? await server.executeThenClose { inbound -> DataChannel? in
                    for try await child in inbound {
                        if expectedPeer == nil || child.channel.remoteAddress?.ipAddress == expectedPeer {
                            return child
                        }
                        try? await child.channel.close()
                    }
                    return nil
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        close()
        return accepted
    }

    /// Stops listening.
    func close() {
        server.channel.close(promise: nil)
    }
}
