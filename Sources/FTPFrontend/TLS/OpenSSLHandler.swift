import COpenSSL
import NIOCore

/// Fired inbound when the handshake is done; `resumed` tells whether a session was reused.
struct TLSHandshakeCompleted {
    var resumed: Bool
}

/// Sent outbound by a transfer that ended well with nothing (or nothing more) to send: its
/// close then waits for the handshake, so the client still gets a handshake and close_notify.
/// Any other close (ABOR, the stall watchdog, a shutdown, a refused session) is at once.
struct TLSCloseAfterHandshake {}

/// Sent outbound on a control connection before each protected data connection: a fresh
/// TLS 1.3 session ticket for it to resume. TLS 1.3 clients use a ticket once (RFC 8446
/// Appendix C.4), data connections send none (see ``OpenSSLHandler/init(context:scope:dataConnection:)``),
/// and the handshake's were soon spent: with `tls_require_reuse`, curl's later data connections
/// on one control connection were refused.
struct TLSIssueSessionTicket {}

/// TLS on a NIO channel with OpenSSL and memory BIOs: ciphertext from the socket goes into
/// the read BIO, plaintext comes out of `SSL_read`; plaintext written goes through `SSL_write`
/// and the write BIO's ciphertext is written to the socket. Everything runs on the channel's
/// event loop; OpenSSL never touches the socket. Closing sends close_notify first.
final class OpenSSLHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private var handshakeDone = false
    private var pendingWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var closing = false
    /// The peer sent close_notify: the stream ended cleanly, whatever the socket says next.
    private var peerClosed = false
    private let dataConnection: Bool
    /// The transfer ended well (``TLSCloseAfterHandshake``): a close before the handshake waits,
    /// and a close after it waits for its close_notify to be sent. Other closes of a data
    /// connection are at once.
    private var closeWaitsForHandshake = false
    /// Such a close, waiting for the handshake.
    private var closeAfterHandshake: EventLoopPromise<Void>?
    /// How long such a close waits for a handshake that does not come.
    static let handshakeWaitOnClose = TimeAmount.seconds(10)
    private let handshakeTimeout: Duration?
    /// The end of ``handshakeTimeout``, from the handler's start on an active channel.
    private var handshakeDeadline: Scheduled<Void>?

    /// `dataConnection`: no TLS 1.3 session tickets are sent. A client that only writes
    /// (an upload) never reads them, and closing a socket with unread data makes the kernel
    /// send a reset, which discards the upload's last bytes on our side (Go's TLS, as in
    /// rclone, closes that way). Data connections resume the control connection's session
    /// and need no tickets of their own.
    /// `scope`: the control connection's (``TLSSessionScope``).
    /// `handshakeTimeout`: a handshake not finished by then fails, and the connection closes
    /// (nil: none; data connections have their own timeout).
    init(context tls: TLSServerContext, scope: TLSSessionScope, dataConnection: Bool = false,
         handshakeTimeout: Duration? = nil) {
        self.handshakeTimeout = handshakeTimeout
        ssl = SSL_new(tls.context)!
        readBIO = cossl_bio_new_mem()!
        writeBIO = cossl_bio_new_mem()!
        SSL_set_bio(ssl, readBIO, writeBIO)  // the SSL object owns both BIOs now
        scope.apply(to: ssl)
        self.dataConnection = dataConnection
        if dataConnection { _ = SSL_set_num_tickets(ssl, 0) }
        SSL_set_accept_state(ssl)
    }

    deinit {
        SSL_free(ssl)
    }

    // MARK: Inbound

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHandshakeClock(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startHandshakeClock(context: context)
        context.fireChannelActive()
    }

    private func startHandshakeClock(context: ChannelHandlerContext) {
        guard let handshakeTimeout, handshakeDeadline == nil, !handshakeDone else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let seconds = handshakeTimeout.components.seconds
        handshakeDeadline = context.eventLoop.scheduleTask(in: .seconds(seconds)) {
            let (handler, context) = bound.value
            handler.handshakeDeadline = nil
            guard !handler.handshakeDone, context.channel.isActive else { return }
            handler.fail(context: context, TLSError("no TLS handshake within \(seconds) s"))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { bytes in
            _ = BIO_write(readBIO, bytes.baseAddress, Int32(bytes.count))
        }
        if !handshakeDone {
            handshake(context: context)
            if !handshakeDone { return }
        }
        readPlaintext(context: context)
    }

    private func handshake(context: ChannelHandlerContext) {
        let result = SSL_do_handshake(ssl)
        flushCiphertext(context: context, promise: nil)
        context.flush()
        if result == 1 {
            handshakeDone = true
            handshakeDeadline?.cancel()
            handshakeDeadline = nil
            context.fireUserInboundEventTriggered(TLSHandshakeCompleted(resumed: SSL_session_reused(ssl) == 1))
            let writes = pendingWrites
            pendingWrites = []
            for (buffer, promise) in writes { encrypt(buffer, context: context, promise: promise) }
            context.flush()
            if let promise = closeAfterHandshake {
                closeAfterHandshake = nil
                close(context: context, mode: .all, promise: promise)
            }
            return
        }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return }
        fail(context: context, TLSError("TLS handshake failed: \(TLSServerContext.lastError())"))
    }

    private func readPlaintext(context: ChannelHandlerContext) {
        var produced = false
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if count > 0 {
                var out = context.channel.allocator.buffer(capacity: Int(count))
                out.writeBytes(chunk[0..<Int(count)])
                context.fireChannelRead(wrapInboundOut(out))
                produced = true
                continue
            }
            let error = SSL_get_error(ssl, count)
            if error == SSL_ERROR_ZERO_RETURN {
                // The peer's close_notify: answer it and close.
                peerClosed = true
                _ = SSL_shutdown(ssl)
                flushCiphertext(context: context, promise: nil)
                context.flush()
                context.close(promise: nil)
            } else if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                fail(context: context, TLSError("TLS read failed: \(TLSServerContext.lastError())"))
            }
            break
        }
        flushCiphertext(context: context, promise: nil)
        context.flush()
        if produced { context.fireChannelReadComplete() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Plaintext read-complete is fired by readPlaintext.
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        guard handshakeDone else {
            pendingWrites.append((buffer, promise))
            return
        }
        encrypt(buffer, context: context, promise: promise)
    }

    private func encrypt(_ buffer: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        var remaining = buffer
        while remaining.readableBytes > 0 {
            let written = remaining.withUnsafeReadableBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            guard written > 0 else {
                promise?.fail(TLSError("TLS write failed: \(TLSServerContext.lastError())"))
                return
            }
            remaining.moveReaderIndex(forwardBy: Int(written))
        }
        flushCiphertext(context: context, promise: promise)
    }

    /// Writes out what OpenSSL produced; `promise` completes with that write.
    private func flushCiphertext(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let pending = Int(BIO_ctrl_pending(writeBIO))
        guard pending > 0 else {
            promise?.succeed()
            return
        }
        var out = context.channel.allocator.buffer(capacity: pending)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { bytes in
            Int(BIO_read(writeBIO, bytes.baseAddress, Int32(pending)))
        }
        context.write(wrapOutboundOut(out), promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, !handshakeDone, closeWaitsForHandshake, !closing, context.channel.isActive {
            // Nothing was sent (an empty file, REST at the end): the client still expects a
            // handshake and close_notify, and a strict one (Python's ssl, Go's) fails the
            // transfer, or forgets the session the next data connection must resume.
            if let waiting = closeAfterHandshake {
                promise.map { waiting.futureResult.cascade(to: $0) }
                return
            }
            let waiting = context.eventLoop.makePromise(of: Void.self)
            promise.map { waiting.futureResult.cascade(to: $0) }
            closeAfterHandshake = waiting
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: Self.handshakeWaitOnClose) {
                let (handler, context) = bound.value
                guard let waiting = handler.closeAfterHandshake else { return }
                handler.closeAfterHandshake = nil
                context.close(mode: .all, promise: waiting)
            }
            return
        }
        guard mode == .all, handshakeDone, !closing else {
            // Writes waiting for a handshake that will not come now fail at once.
            if mode == .all { failPendingWrites(ChannelError.ioOnClosedChannel) }
            context.close(mode: mode, promise: promise)
            return
        }
        closing = true
        // close_notify before the socket closes (FileZilla fails transfers without it).
        _ = SSL_shutdown(ssl)
        guard context.channel.isWritable else {
            // A peer that stopped reading (a stalled or aborted download) would never take
            // the close_notify queued behind what it left unread, and the close would wait
            // for it forever, holding the transfer's 426 and the session.
            context.close(mode: mode, promise: promise)
            return
        }
        if dataConnection && !closeWaitsForHandshake {
            // A transfer that did not end well (ABOR, the stall watchdog, a shutdown): its
            // client is told so on the control connection, and its close_notify is sent only
            // if the socket takes it now. NIO's buffer may be empty while the kernel's is full
            // of what a client that stopped reading left: waiting held ABOR's 426 for 5 s.
            flushCiphertext(context: context, promise: nil)
            context.flush()
            context.close(mode: mode, promise: promise)
            return
        }
        let sent = context.eventLoop.makePromise(of: Void.self)
        flushCiphertext(context: context, promise: sent)
        context.flush()
        let closed = NIOLoopBound(context, eventLoop: context.eventLoop)
        let timeout = context.eventLoop.scheduleTask(in: Self.closeNotifyWait) {
            closed.value.close(mode: mode, promise: nil)
        }
        sent.futureResult.whenComplete { _ in
            timeout.cancel()
            // Closed by the wait's end already: the close is done.
            if context.channel.isActive { context.close(mode: mode, promise: promise) } else { promise?.succeed() }
        }
    }

    /// How long a close waits for its close_notify to be taken by a peer that reads slowly.
    static let closeNotifyWait = TimeAmount.seconds(5)

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case is TLSCloseAfterHandshake:
            closeWaitsForHandshake = true
            promise?.succeed()
        case is TLSIssueSessionTicket:
            // TLS 1.2 sessions resume any number of times; a 1.3 ticket is made now and goes
            // out ahead of the next reply.
            if handshakeDone, !closing, !peerClosed, SSL_version(ssl) == TLS1_3_VERSION, SSL_new_session_ticket(ssl) == 1 {
                guard SSL_do_handshake(ssl) == 1 else {
                    // The connection is unusable now: every later reply would be lost.
                    promise?.succeed()
                    return fail(context: context, TLSError("TLS session ticket failed: \(TLSServerContext.lastError())"))
                }
                flushCiphertext(context: context, promise: nil)
            }
            promise?.succeed()
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    /// The connection ended before the handshake did (a client that died while setting up a
    /// data connection): writes waiting for the handshake fail, or whoever waits on them (a
    /// transfer, a shutdown) would wait forever.
    func channelInactive(context: ChannelHandlerContext) {
        // The deadline's task holds this handler: not for its whole time after the close.
        handshakeDeadline?.cancel()
        handshakeDeadline = nil
        failPendingWrites(ChannelError.ioOnClosedChannel)
        // A transfer that ended well and was waiting to give the client its handshake.
        let transferEnded = closeAfterHandshake != nil
        if let waiting = closeAfterHandshake {
            closeAfterHandshake = nil
            waiting.succeed()
        }
        if dataConnection, !handshakeDone, !transferEnded {
            // Closed before any TLS: under PROT P no byte of it can count, and an upload so
            // ended was stored empty with 226 (RFC 4217 §9: the data connection is protected).
            context.fireErrorCaught(TLSError("the data connection ended before its TLS handshake"))
        } else if dataConnection, handshakeDone, !peerClosed, !closing {
            // The stream ended without close_notify: a FIN anyone on the path can forge. An
            // upload so ended may be cut short; it must not be stored as complete (as vsftpd's
            // strict_ssl_read_eof).
            context.fireErrorCaught(TLSError("the data connection ended without TLS close_notify"))
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        handshakeDeadline?.cancel()
        handshakeDeadline = nil
        failPendingWrites(ChannelError.ioOnClosedChannel)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed? = event as? ChannelEvent, !handshakeDone {
            // The peer ended its side before the handshake finished, which now never can: what
            // waits for it (the implicit port's 220) would hold the connection, and its place
            // in the per-address limit, until a deadline. (Only control connections take
            // half-closes; a data connection's end closes it.)
            failPendingWrites(ChannelError.ioOnClosedChannel)
            if let waiting = closeAfterHandshake {
                closeAfterHandshake = nil
                context.close(mode: .all, promise: waiting)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func failPendingWrites(_ error: any Error) {
        let writes = pendingWrites
        pendingWrites = []
        for (_, promise) in writes { promise?.fail(error) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A peer that sent close_notify may close its socket without waiting for ours (Go's
        // TLS does): the broken pipe that follows is not a failure of the transfer.
        if peerClosed {
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }

    private func fail(context: ChannelHandlerContext, _ error: TLSError) {
        failPendingWrites(error)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}
