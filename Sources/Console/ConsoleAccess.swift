import Foundation

/// Who may use the console. With neither a password nor a token it serves read-only pages on
/// loopback and refuses every change; with either, every page and call needs one of them.
public struct ConsoleAccess: Sendable {
    /// Checks a password typed on the login page; nil when no password is set.
    public var verifyPassword: (@Sendable (String) async -> Bool)?
    /// A bearer token for the API and /metrics (`Authorization: Bearer ...`); nil for none.
    public var token: String?

    public init(verifyPassword: (@Sendable (String) async -> Bool)?, token: String?) {
        self.verifyPassword = verifyPassword
        self.token = token
    }

    /// Whether any credential is set: then nothing is served without one.
    public var isProtected: Bool { verifyPassword != nil || token != nil }

    /// Compares in time independent of where the strings differ.
    func tokenMatches(_ presented: String) -> Bool {
        guard let token else { return false }
        let a = Array(presented.utf8), b = Array(token.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// Login sessions of the console: random cookies that expire.
final class ConsoleLoginSessions: @unchecked Sendable {
    private let lock = NSLock()
    private var expiries: [String: Date] = [:]
    private let lifetime: TimeInterval

    init(lifetime: TimeInterval = 12 * 3600) {
        self.lifetime = lifetime
    }

    /// A new session's cookie value: 32 random bytes, hex.
    func open() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }
            .joined()
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        expiries = expiries.filter { $0.value > now }
        expiries[value] = now.addingTimeInterval(lifetime)
        return value
    }

    func isValid(_ value: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let expiry = expiries[value] else { return false }
        return expiry > Date()
    }

    func close(_ value: String) {
        lock.lock()
        defer { lock.unlock() }
        expiries[value] = nil
    }
}
