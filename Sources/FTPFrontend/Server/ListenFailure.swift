#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// A listener that could not start: its address and port, and the system's reason. NIO's own
/// description (`bind(127.0.0.1:2048): Address already in use) (errno: 98)`) names neither
/// the listener nor what to do; this one is read by whoever starts the server.
public struct ListenFailure: Error, CustomStringConvertible, Sendable {
    /// What listens (`FTP`, `implicit FTPS`, `web console`).
    public var listener: String
    public var host: String
    public var port: Int
    public var errno: Int32

    public init(listener: String, host: String, port: Int, errno: Int32) {
        self.listener = listener
        self.host = host
        self.port = port
        self.errno = errno
    }

    /// `error` as a listen failure of `listener` when it is a bind's system error, else nil.
    public init?(_ error: any Error, listener: String, host: String, port: Int) {
        guard let io = error as? IOError else { return nil }
        self.init(listener: listener, host: host, port: port, errno: io.errnoCode)
    }

    /// `host:port`, an IPv6 host in brackets (RFC 3986 §3.2.2: `:::2048` reads as nothing).
    public static func endpoint(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public var description: String {
        let shown = Self.endpoint(host, port)
        switch errno {
        case EADDRINUSE:
            return "the \(listener) address \(shown) is in use by another program"
        case EADDRNOTAVAIL:
            return "the \(listener) address \(shown) is not an address of this machine"
        case EACCES:
            return "the \(listener) port \(port) needs privileges (ports below 1024 are root's)"
        default:
            return "the \(listener) listener on \(shown) could not start: \(String(cString: strerror(errno))) (errno \(errno))"
        }
    }
}
