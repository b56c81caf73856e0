import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import NIOCore

/// The web console and `/metrics` on Hummingbird: HTML pages, the JSON API behind them, and
/// the Prometheus exposition. Listens on loopback unless a password or token is set (the
/// caller checks that with ``ConsoleServer/isLoopback(_:)``).
public struct ConsoleServer: Sendable {
    let host: String
    let port: Int
    let source: any ConsoleSource
    let access: ConsoleAccess
    let log: ConsoleLogBuffer
    let logger: Logger
    let sessions = ConsoleLoginSessions()
    let failures = ConsoleLoginFailures()
    /// Wrong tokens are answered at once, so guessing one could go on unseen: each is counted,
    /// and said at most once a minute.
    let wrongTokens = ConsoleWrongTokens()
    /// What one client holds whole (the executable's `IPLiteral.clientKey`: an IPv6 client's
    /// /64), the unit failed logins are counted by.
    let clientKey: @Sendable (String) -> String

    static let cookieName = "ossftp_console"
    /// Sent by the console's own scripts on every change: a cross-site form cannot set it
    /// without a CORS preflight, which this server never grants.
    static let csrfHeader = "X-OSSFTP-Console"

    public init(host: String, port: Int, source: any ConsoleSource, access: ConsoleAccess, log: ConsoleLogBuffer,
                logger: Logger, clientKey: @escaping @Sendable (String) -> String = { $0 }) {
        self.clientKey = clientKey
        self.host = host
        self.port = port
        self.source = source
        self.access = access
        self.log = log
        self.logger = logger
    }

    /// Whether `host` is a loopback address: `localhost`, or a literal in 127.0.0.0/8, `::1`
    /// or `::ffff:127.x.y.z`. The console listens beyond loopback only with a password or token,
    /// so that a forgotten setting does not publish the server's state. Judged on the parsed
    /// address: a name such as `127.0.0.1.example.net` passed a test of its text, and a
    /// resolver may give it any address.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { $0[0] == 127 }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        return withUnsafeBytes(of: &v6) { bytes in
            let loopback = bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1  // ::1
            let mapped = bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
            return loopback || (mapped && bytes[12] == 127)  // ::ffff:127.x.y.z
        }
    }

    /// Console connections served at once, and how long one may sit idle.
    static let maxConnections = 64
    static let idleTimeout = TimeAmount.seconds(30)

    /// Serves until the task is cancelled. `onListening` gets the bound port.
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        // Bounded like the FTP side: at most `maxConnections` at once (more wait in the listen
        // backlog) and an idle one closed after `idleTimeout`. Without, idle connections to the
        // console used up the process's descriptors, and FTP logins with them.
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: .init(idleTimeout: Self.idleTimeout)),
            configuration: .init(address: .hostname(host, port: port), serverName: "ossftp",
                                 availableConnectionsDelegate: MaximumAvailableConnections(Self.maxConnections)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        // Ended by the task's cancellation, as a graceful shutdown: cancelled itself, the
        // server logged "Waiting on child channel: CancellationError()" as an error at every
        // clean stop, and the console listed it among the recent errors.
        // The group runs apart from this task, which cancellation would reach through.
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }

    // MARK: - Routes

    func makeRouter() -> Router<ConsoleRequestContext> {
        let router = Router(context: ConsoleRequestContext.self)
        router.add(middleware: ConsoleHostCheck(loopbackOnly: Self.isLoopback(host)))
        router.getAndHead("/") { request, _ in
            guard self.mayRead(request) else { return Self.redirect(to: "/login") }
            return Self.html(ConsolePage.main(protected: self.access.isProtected))
        }
        router.getAndHead("/login") { _, _ in
            Self.html(ConsolePage.login(error: nil, enabled: self.access.current().verifyPassword != nil,
                                        locked: self.access.isProtected))
        }
        router.post("/login") { request, context in try await self.login(request, from: context.remoteAddress) }
        router.post("/logout") { request, _ in
            if let cookie = request.cookies[Self.cookieName] { self.sessions.close(cookie.value) }
            var response = Self.redirect(to: "/login")
            response.setCookie(Cookie(name: Self.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true,
                                      sameSite: .strict))
            return response
        }
        router.getAndHead("/metrics") { request, _ in
            guard self.mayRead(request) else { return Self.refusal(.unauthorized, "authentication required") }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: self.source.metrics())))
        }
        let api = router.group("api")
        api.getAndHead("status") { request, _ in try await self.read(request) { await self.source.status() } }
        api.getAndHead("sessions") { request, _ in try await self.read(request) { await self.source.sessions() } }
        api.getAndHead("transfers") { request, _ in
            try await self.read(request) { await self.source.sessions().filter { $0.transfer != nil } }
        }
        api.getAndHead("spool") { request, _ in try await self.read(request) { await self.source.spool() } }
        api.getAndHead("errors") { request, _ in try await self.read(request) { self.log.recentErrors() } }
        api.getAndHead("log") { request, _ in try await self.read(request) { self.log.tail() } }
        api.getAndHead("config") { request, _ in try await self.read(request) { await self.source.configuration() } }
        api.post("config") { request, _ in try await self.edit(request) }
        api.post("reload") { request, _ in
            if let refused = self.refuseChange(request) { return refused }
            do {
                try await self.source.reload()
                return try Self.json(["reloaded": true])
            } catch let error as ConsoleEditError {
                return Self.refusal(.unprocessableContent, error.message)
            }
        }
        return router
    }

    // MARK: - Access

    /// Reading needs a login or the token when either is set.
    func mayRead(_ request: Request) -> Bool {
        access.isProtected ? isAuthenticated(request) : true
    }

    /// The token of an `Authorization: Bearer` header; the scheme's name in any case (RFC 9110 §11.1).
    static func bearerToken(_ request: Request) -> String? {
        guard let header = request.headers[.authorization], header.utf8.count > 7,
            header.prefix(7).lowercased() == "bearer "
        else { return nil }
        return String(header.dropFirst(7))
    }

    func isAuthenticated(_ request: Request) -> Bool {
        if let token = Self.bearerToken(request) {
            if access.tokenMatches(token) { return true }
            if let count = wrongTokens.countToLog() {
                logger.notice("console: wrong token", metadata: ["refused": "\(count) since the last such line"])
            }
        }
        if let cookie = request.cookies[Self.cookieName], sessions.isValid(cookie.value, stamp: access.current().stamp) {
            return true
        }
        return false
    }

    /// Nil when `request` may change state; else the refusal to send.
    func refuseChange(_ request: Request) -> Response? {
        guard access.isProtected else {
            return Self.refusal(.forbidden, "changes need a console password or token (modules.launcher in config.json)")
        }
        guard isAuthenticated(request) else { return Self.refusal(.unauthorized, "authentication required") }
        // A session cookie rides along on any request the browser makes; the header proves
        // the console's own page sent this one. A bearer token cannot be sent cross-site.
        let bearer = Self.bearerToken(request) != nil
        if !bearer, request.headers[HTTPField.Name(Self.csrfHeader)!] == nil {
            return Self.refusal(.forbidden, "missing \(Self.csrfHeader) header")
        }
        return nil
    }

    private func login(_ request: Request, from peer: SocketAddress?) async throws -> Response {
        // Past ten wrong passwords from one address (an IPv6 client's /64) in ten minutes, it is
        // refused until ten minutes after its last, unchecked: guessing from one place ends there;
        // past a hundred from all addresses, every one is refused (``ConsoleLoginFailures``).
        let address = peer?.ipAddress ?? "unknown"
        let client = clientKey(address)
        if failures.isRefused(client) {
            logger.notice("console: login refused, too many failures", metadata: ["peer": "\(address)"])
            return Self.html(ConsolePage.login(error: "Too many failed logins (from this address, or from all together); try again later.",
                                               enabled: true), status: .tooManyRequests)
        }
        let credentials = access.current()
        guard let verify = credentials.verifyPassword else {
            return Self.html(ConsolePage.login(error: "No console password is set.", enabled: false,
                                               locked: access.isProtected), status: .forbidden)
        }
        let body = try await request.body.collect(upTo: 16 << 10)
        let form = Self.formFields(String(buffer: body))
        guard await verify(form["password"] ?? "", address) else {
            failures.failed(client)
            logger.notice("console: failed login", metadata: ["peer": "\(address)"])
            // Answered slowly already: `verifyPassword` holds a wrong password a second (a
            // second wait here made it two, where CONFIG.md says one).
            return Self.html(ConsolePage.login(error: "Wrong password.", enabled: true), status: .unauthorized)
        }
        failures.succeeded(client)
        logger.info("console: login", metadata: ["peer": "\(address)"])
        var response = Self.redirect(to: "/")
        response.setCookie(Cookie(name: Self.cookieName, value: sessions.open(stamp: credentials.stamp), path: "/", httpOnly: true,
                                  sameSite: .strict))
        return response
    }

    private func read<T: Encodable>(_ request: Request, _ value: () async -> T) async throws -> Response {
        guard mayRead(request) else { return Self.refusal(.unauthorized, "authentication required") }
        return try Self.json(await value())
    }

    private struct Edit: Decodable {
        var key: String
        var value: String

        // A number or a boolean as JSON has it, or as text (what the page sends).
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            key = try container.decode(String.self, forKey: .key)
            if let number = try? container.decode(Int.self, forKey: .value) {
                value = String(number)
            } else if let flag = try? container.decode(Bool.self, forKey: .value) {
                value = String(flag)
            } else {
                value = try container.decode(String.self, forKey: .value)
            }
        }

        private enum CodingKeys: String, CodingKey { case key, value }
    }

    private func edit(_ request: Request) async throws -> Response {
        if let refused = refuseChange(request) { return refused }
        let body = try await request.body.collect(upTo: 64 << 10)
        if let duplicate = JSONDuplicateKeyScanner.firstDuplicate(in: Array(buffer: body)) {
            return Self.refusal(.badRequest, "\"\(duplicate.key)\" is given twice")
        }
        guard let edit = try? JSONDecoder().decode(Edit.self, from: Data(buffer: body)) else {
            // An object with its key, whose value is the trouble (120.5, null): said so.
            if let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any],
                object["key"] is String, object.keys.contains("value")
            {
                return Self.refusal(.badRequest, "\"value\" must be a whole number or text")
            }
            return Self.refusal(.badRequest, "expected a JSON object {\"key\": ..., \"value\": ...}")
        }
        do {
            let configuration = try await source.update(edit.key, to: edit.value)
            logger.notice("console: \(edit.key) set", metadata: ["value": "\(edit.value)"])
            return try Self.json(configuration)
        } catch let error as ConsoleEditError {
            return Self.refusal(.unprocessableContent, error.message)
        }
    }

    // MARK: - Responses

    static func json<T: Encodable>(_ value: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func refusal(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = (try? JSONEncoder().encode(["error": message])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status,
                 headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                           .contentSecurityPolicy: "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// Fields of an `application/x-www-form-urlencoded` body.
    static func formFields(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let name = parts.first { fields[name] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }
}

extension RouterMethods where Context == ConsoleRequestContext {
    /// GET of `path`, and HEAD with the same status and headers and no body: RFC 9110 §9.3.2
    /// has HEAD wherever GET is (it was 404).
    @discardableResult
    func getAndHead(_ path: RouterPath, use handler: @Sendable @escaping (Request, Context) async throws -> Response) -> Self {
        get(path, use: handler)
        return head(path) { request, context in
            var response = try await handler(request, context)
            response.body = ResponseBody()
            return response
        }
    }
}
