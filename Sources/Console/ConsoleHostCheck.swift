import HTTPTypes
import Hummingbird

/// Refuses requests that name another host than the console's own loopback address. A web
/// page can point a name it controls at 127.0.0.1 (DNS rebinding) and then read a console
/// that needs no login as if it were its own site: the browser still sends that name in
/// `Host`, which is how it is told apart. A console listening beyond loopback needs a
/// password or token anyway, and its cookie is SameSite=Strict.
struct ConsoleHostCheck<Context: RequestContext>: RouterMiddleware {
    /// Whether the console listens on loopback only: then only loopback names are accepted.
    let loopbackOnly: Bool

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !loopbackOnly || Self.isLoopbackAuthority(request.head.authority) else {
            return ConsoleServer.refusal(.forbidden, "this console answers only to a loopback address in Host")
        }
        return try await next(request, context)
    }

    /// `localhost` or a loopback address (`127.x.y.z`, `[::1]`, `[::ffff:127.x.y.z]`), with or
    /// without a port.
    static func isLoopbackAuthority(_ authority: String?) -> Bool {
        guard var host = authority?.lowercased() else { return false }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        if host.hasSuffix(".") { host.removeLast() }
        // The same judgement as the listening address's: `[::ffff:7f00:1]` is loopback too.
        return ConsoleServer.isLoopback(host)
    }
}
