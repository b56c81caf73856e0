import Foundation

/// IP address literals, as a listener or an endpoint names them.
public enum IPLiteral {
    /// Whether `text` is an IPv4 or IPv6 address (without brackets).
    public static func isAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
