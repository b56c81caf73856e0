import COpenSSL
import NIOCore

/// Fired inbound when the handshake is done; `resumed` tells whether a session was reused.
struct TLSHandshakeCompleted {
    var resumed: Bool
}

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

    /// `dataConnection`: no TLS 1.3 session tickets are sent. A client that only writes
    /// (an upload) never reads them, and closing a socket with unread data makes the kernel
    /// send a reset, which discards the upload's last bytes on our side (Go's TLS, as in
    /// rclone, closes that way). Data connections resume the control connection's session
    /// and need no tickets of their own.
    init(context tls: TLSServerContext, dataConnection: Bool = false) {
        ssl = SSL_new(tls.context)!
        readBIO = cossl_bio_new_mem()!
        writeBIO = cossl_bio_new_mem()!
        SSL_set_bio(ssl, readBIO, writeBIO)  // the SSL object owns both BIOs now
        if dataConnection { _ = SSL_set_num_tickets(ssl, 0) }
        SSL_set_accept_state(ssl)
    }

    deinit {
        SSL_free(ssl)
    }

    // MARK: Inbound

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
            context.fireUserInboundEventTriggered(TLSHandshakeCompleted(resumed: SSL_session_reused(ssl) == 1))
            let writes = pendingWrites
            pendingWrites = []
            for (buffer, promise) in writes { encrypt(buffer, context: context, promise: promise) }
            context.flush()
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
        guard mode == .all, handshakeDone, !closing else {
            context.close(mode: mode, promise: promise)
            return
        }
        closing = true
        // close_notify before the socket closes (FileZilla fails transfers without it).
        _ = SSL_shutdown(ssl)
        let sent = context.eventLoop.makePromise(of: Void.self)
        flushCiphertext(context: context, promise: sent)
        context.flush()
        sent.futureResult.whenComplete { _ in context.close(mode: mode, promise: promise) }
    }

    /// The connection ended before the handshake did (a client that died while setting up a
    /// data connection): writes waiting for the handshake fail, or whoever waits on them (a
    /// transfer, a shutdown) would wait forever.
    func channelInactive(context: ChannelHandlerContext) {
        failPendingWrites(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failPendingWrites(ChannelError.ioOnClosedChannel)
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
