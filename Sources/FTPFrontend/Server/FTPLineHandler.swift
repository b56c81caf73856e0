import NIOCore

/// Frames the control connection into lines with ``FTPLineDecoder`` and passes them on.
///
/// Unlike NIO's generic decoder handler, it forgets the bytes it holds when a TLS handshake
/// completes: a partial line that followed AUTH TLS in the same packet was sent in clear and
/// must not become the start of the first encrypted command (RFC 4217 §4).
final class FTPLineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = FTPControlLine

    private var decoder = FTPLineDecoder()
    private var buffered: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var held = buffered {
            buffered = nil
            held.writeBuffer(&incoming)
            incoming = held
        }
        while let line = decoder.decodeLine(&incoming) {
            context.fireChannelRead(wrapInboundOut(line))
        }
        if incoming.readableBytes > 0 {
            incoming.discardReadBytes()
            buffered = incoming
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted {
            buffered = nil
            decoder = FTPLineDecoder()
        }
        context.fireUserInboundEventTriggered(event)
    }
}
