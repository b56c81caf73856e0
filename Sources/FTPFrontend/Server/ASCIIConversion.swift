/// TYPE A line-end conversion, chunk by chunk (a CR may end one chunk and its LF start the next).
enum ASCIIConversion {
    /// Store to wire: every LF not already preceded by CR becomes CRLF.
    static func toNetwork(_ bytes: [UInt8], afterCR: inout Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 32)
        for byte in bytes {
            if byte == UInt8(ascii: "\n") && !afterCR { out.append(UInt8(ascii: "\r")) }
            out.append(byte)
            afterCR = byte == UInt8(ascii: "\r")
        }
        return out
    }

    /// Wire to store: CRLF becomes LF; a CR that ends a chunk waits to see what follows.
    static func fromNetwork(_ bytes: [UInt8], pendingCR: inout Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes {
            if pendingCR {
                pendingCR = false
                if byte != UInt8(ascii: "\n") { out.append(UInt8(ascii: "\r")) }
            }
            if byte == UInt8(ascii: "\r") {
                pendingCR = true
            } else {
                out.append(byte)
            }
        }
        return out
    }
}
