import Foundation

/// IP address literals, as a listener or an endpoint names them.
public enum IPLiteral {
    /// Whether `text` is an IPv4 or IPv6 address (without brackets).
    public static func isAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// What one client holds whole: an IPv4 address as it is, an IPv6 address as its /64 (one
    /// client may use any address of it, and would otherwise spread over 2^64 entries).
    public static func clientKey(_ address: String) -> String {
        var v6 = in6_addr()
        guard address.contains(":"), inet_pton(AF_INET6, address, &v6) == 1 else { return address }
        return withUnsafeBytes(of: &v6) { bytes in
            // An IPv4 client of a dual-stack listener (`::ffff:a.b.c.d`) is its IPv4 address:
            // as a /64, every such client would share one.
            if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                return bytes.suffix(4).map { String($0) }.joined(separator: ".")
            }
            return bytes.prefix(8).map { String($0, radix: 16) }.joined(separator: ".") + "/64"
        }
    }
}
