#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// One listening socket per event loop on the same port (SO_REUSEPORT), each keeping the
/// connections it accepts on its own loop.
///
/// With a single listener, every accepted connection was handed to another loop: a cross-thread
/// wake-up before the banner could go out, which on a virtual machine (an interprocessor
/// interrupt, a VM exit) cost about 40 µs of each login. With a listener per loop the kernel
/// spreads connections over the loops and each is served where it was accepted.
///
/// The first socket binds *without* SO_REUSEPORT and only then turns it on, so a port held by
/// anyone else (another ossftp instance included) still fails with "address in use" instead of
/// being silently shared. While ossftp listens, a process of the same user that binds with
/// SO_REUSEPORT on purpose could still join the group (Linux allows it within one user); with a
/// single event loop nothing is shared at all.
enum ReusePortListeners {
    /// Binds on every loop of `group`; `configure` gives each bootstrap its child initializer.
    static func bind(host: String, port: Int, group: any EventLoopGroup,
                     configure: (ServerBootstrap) -> ServerBootstrap) async throws -> [any Channel] {
        let loops = Array(group.makeIterator())
        // One loop needs no sharing, and then no other process can join the port either.
        let first = try exclusiveSocket(host: host, port: port, shared: loops.count > 1)
        // From here NIO owns the socket, and closes it if the channel cannot be made.
        let firstChannel = try await configure(bootstrap(on: loops[0])).withBoundSocket(first).get()
        // NIO listens with its default backlog (128) when it takes a bound socket; raise it to
        // the others' (listen(2) on a listening socket only updates the backlog).
        _ = Glibc.listen(first, Self.backlog)
        // The others bind to this very address and port (not the host name again, which could
        // resolve differently, nor port 0).
        guard let address = firstChannel.localAddress else {
            try? await firstChannel.close()
            throw ChannelError.unknownLocalAddress
        }
        var channels = [firstChannel]
        do {
            for loop in loops.dropFirst() {
                channels.append(try await configure(bootstrap(on: loop))
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .serverChannelOption(Self.reusePort, value: 1)
                    .bind(to: address).get())
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return channels
    }

    private static func bootstrap(on loop: any EventLoop) -> ServerBootstrap {
        AcceptBackoff.install(on: ServerBootstrap(group: loop, childGroup: loop))
            .serverChannelOption(.backlog, value: Self.backlog)
    }

    private static let backlog: Int32 = 256
    private static let reusePort = ChannelOptions.Types.SocketOption(
        level: .socket, name: NIOBSDSocket.Option(rawValue: SO_REUSEPORT))

    /// A listening socket bound the ordinary way (failing on a port in use), then opened to
    /// SO_REUSEPORT for this process's other listeners.
    private static func exclusiveSocket(host: String, port: Int, shared: Bool) throws -> CInt {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let family = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let handle = Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard handle >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        do {
            var on: CInt = 1
            let size = socklen_t(MemoryLayout<CInt>.size)
            guard setsockopt(handle, SOL_SOCKET, SO_REUSEADDR, &on, size) == 0 else {
                throw IOError(errnoCode: errno, reason: "setsockopt(SO_REUSEADDR)")
            }
            let bound = address.withSockAddr { Glibc.bind(handle, $0, socklen_t($1)) }
            guard bound == 0 else { throw IOError(errnoCode: errno, reason: "bind(\(host):\(port))") }
            // Linux checks SO_REUSEPORT on both sockets when the next one binds, and forms the
            // group at listen() (NIO's, when it takes the socket): turning it on now is enough.
            guard !shared || setsockopt(handle, SOL_SOCKET, SO_REUSEPORT, &on, size) == 0 else {
                throw IOError(errnoCode: errno, reason: "setsockopt(SO_REUSEPORT)")
            }
            return handle
        } catch {
            _ = Glibc.close(handle)
            throw error
        }
    }
}
