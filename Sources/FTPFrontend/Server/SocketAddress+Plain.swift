import Glibc
import NIOCore

extension SocketAddress {
    /// Whether this is an IPv4 client of a dual-stack (`::`) listener (`::ffff:a.b.c.d`).
    var isIPv4Mapped: Bool {
        guard self.protocol == .inet6, let ip = ipAddress?.lowercased() else { return false }
        return ip.hasPrefix("::ffff:") && ip.contains(".")
    }

    /// The address as text, an IPv4-mapped one as plain IPv4: to such a client the session
    /// speaks IPv4 (PASV, PORT, the bounce and stealing checks, limits per address).
    var plainIPAddress: String? {
        guard let ip = ipAddress else { return nil }
        return isIPv4Mapped ? String(ip.dropFirst("::ffff:".count)) : ip
    }

    /// The address of an IP literal, with no resolver involved; nil for a host name. (Binding
    /// or connecting by host name goes through getaddrinfo, which first asks the kernel for
    /// every interface's addresses: a netlink round trip per data connection.)
    static func literal(_ host: String, port: Int) -> SocketAddress? {
        try? SocketAddress(ipAddress: host, port: port)
    }
}

extension ChannelOptions {
    /// SO_OOBINLINE: TCP urgent data stays in the stream (a plain control connection's urgent
    /// ABOR, RFC 959 §4.1.3), instead of the kernel taking its last byte out.
    static let urgentInline = Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_OOBINLINE))
}
