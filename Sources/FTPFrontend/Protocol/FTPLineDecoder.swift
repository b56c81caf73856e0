import NIOCore

/// A control-channel line, as framed by ``FTPLineDecoder``.
public enum FTPControlLine: Equatable, Sendable {
    /// One line without its CRLF (or bare LF).
    case line([UInt8])
    /// A line longer than the limit; its bytes were discarded up to the next LF.
    case overlong
}

/// Frames the control channel into lines ending in CRLF or a bare LF (RFC 959 §4.1 asks for
/// CRLF; some clients send LF). A line over the limit is dropped and reported once, and the
/// decoder resynchronises at the next LF, so a flood without line endings uses bounded memory.
/// ``FTPLineHandler`` feeds it; a line left without its end when the connection closes is dropped.
public struct FTPLineDecoder: Sendable {
    private let maxLength: Int
    private var discarding = false

    public init(maxLength: Int = FTPCommandParser.maxLineLength) {
        self.maxLength = maxLength
    }

    /// The next framed line in `buffer`, consuming it; nil when more bytes are needed.
    public mutating func decodeLine(_ buffer: inout ByteBuffer) -> FTPControlLine? {
        while true {
            let view = buffer.readableBytesView
            guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
                if view.count > maxLength {
                    // Drop what came so far and keep dropping until a line ends.
                    let wasDiscarding = discarding
                    buffer.moveReaderIndex(forwardBy: view.count)
                    discarding = true
                    if !wasDiscarding { return .overlong }
                }
                return nil
            }
            let length = newline - view.startIndex
            var bytes = buffer.readBytes(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if discarding {
                discarding = false
                continue
            }
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            if bytes.count > maxLength { return .overlong }
            return .line(bytes)
        }
    }
}
