import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What a listener does when accept(2) fails, most often because the process is out of file
/// descriptors (EMFILE) or the system is (ENFILE): it stops watching its socket for a moment,
/// then accepts again. Left alone the listener retried at once, forever: NIO keeps a listening
/// socket whose accept failed registered for reads (nio#469), its connections still waiting,
/// so epoll woke it again straight away; both cores were busy, nothing was logged, and NIO's
/// AcceptBackoffHandler, which only delays the next read request, did not stop it.
final class AcceptBackoff: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    /// The pause before the next accept.
    static let pause = TimeAmount.milliseconds(200)

    /// When a warning was last logged: at most one a minute, whichever listener fails.
    private static let lastWarning = NIOLockedValueBox<NIODeadline?>(nil)
    private static let logger = Logger(label: "ossftp.ftp")

    private var paused = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError, [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error.errnoCode) else {
            return context.fireErrorCaught(error)
        }
        Self.warn(error)
        guard !paused, let options = context.channel.syncOptions else { return }
        paused = true
        // Off: NIO stops watching the socket. Back on: it watches it and accepts again.
        try? options.setOption(ChannelOptions.autoRead, value: false)
        let channel = context.channel
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.pause) { [self] in
            paused = false
            try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        }
    }

    private static func warn(_ error: IOError) {
        let now = NIODeadline.now()
        let due = lastWarning.withLockedValue { last in
            guard last.map({ now - $0 >= .minutes(1) }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        logger.warning("cannot accept connections: \(error); trying again every \(pause.nanoseconds / 1_000_000) ms (raise the open files limit, ulimit -n)")
    }

    /// The bootstrap with the handler on each listening channel it makes.
    static func install(on bootstrap: ServerBootstrap) -> ServerBootstrap {
        bootstrap.serverChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(AcceptBackoff())
            }
        }
    }
}
