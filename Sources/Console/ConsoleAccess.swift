import Foundation

/// Who may use the console. With neither a password nor a token it serves read-only pages on
/// loopback and refuses every change; with either, every page and call needs one of them.
///
/// The credentials are looked up at each use, so a reload that changes them (a leaked one
/// rotated) takes effect at once; a login made under other credentials ends then too.
public struct ConsoleAccess: Sendable {
    /// The credentials in force.
    public struct Credentials: Sendable {
        /// Checks a password typed on the login page, answering a wrong one slowly (a second:
        /// guesses must not be fast); nil when no password is set.
        public var verifyPassword: (@Sendable (_ password: String, _ peer: String) async -> Bool)?
        /// A bearer token for the API and /metrics (`Authorization: Bearer ...`); nil for none.
        public var token: String?
        /// Differs whenever the password or token does.
        public var stamp: String

        public init(verifyPassword: (@Sendable (_ password: String, _ peer: String) async -> Bool)?, token: String?,
                    stamp: String) {
            self.verifyPassword = verifyPassword
            self.token = token
            self.stamp = stamp
        }
    }

    /// The credentials now (config.json as last loaded).
    public var current: @Sendable () -> Credentials
    /// Whether credentials were set when the console started: whether it may listen beyond
    /// loopback and take changes. A reload cannot turn that on or off.
    public let isProtected: Bool

    public init(current: @escaping @Sendable () -> Credentials) {
        self.current = current
        let now = current()
        isProtected = now.verifyPassword != nil || now.token != nil
    }

    /// Compares in time independent of where the strings differ.
    func tokenMatches(_ presented: String) -> Bool {
        guard let token = current().token else { return false }
        let a = Array(presented.utf8), b = Array(token.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// Login sessions of the console: random cookies that expire, and end when the credentials
/// they were opened under change.
final class ConsoleLoginSessions: @unchecked Sendable {
    private let lock = NSLock()
    /// Expiries on a clock the wall clock's steps do not move (systemUptime).
    private var expiries: [String: (expiry: TimeInterval, stamp: String)] = [:]
    private let lifetime: TimeInterval

    init(lifetime: TimeInterval = 12 * 3600) {
        self.lifetime = lifetime
    }

    /// A new session's cookie value: 32 random bytes, hex.
    func open(stamp: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let value = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }
            .joined()
        lock.lock()
        defer { lock.unlock() }
        let now = ProcessInfo.processInfo.systemUptime
        expiries = expiries.filter { $0.value.expiry > now }
        expiries[value] = (now + lifetime, stamp)
        return value
    }

    /// Whether `value` is a live session opened under the credentials `stamp` names.
    func isValid(_ value: String, stamp: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let session = expiries[value] else { return false }
        return session.expiry > ProcessInfo.processInfo.systemUptime && session.stamp == stamp
    }

    func close(_ value: String) {
        lock.lock()
        defer { lock.unlock() }
        expiries[value] = nil
    }
}

/// Failed console logins by address: past `threshold` within `window`, an address is refused
/// (429) until `window` has passed since its last failure, whatever password it sends. Past
/// `totalThreshold` failures within `window` from all addresses together, every address is:
/// a local user owns all of 127.0.0.0/8, and ten guesses from each of its addresses went
/// unchecked (the token, which no failure counts against, still gets in).
final class ConsoleLoginFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String: (count: Int, last: ContinuousClock.Instant)] = [:]
    /// When the latest failures came, oldest first, at most `totalThreshold` of them.
    private var recent: [ContinuousClock.Instant] = []
    let threshold: Int
    let totalThreshold: Int
    let window: Duration

    init(threshold: Int = 10, totalThreshold: Int = 100, window: Duration = .seconds(600)) {
        self.threshold = threshold
        self.totalThreshold = totalThreshold
        self.window = window
    }

    func isRefused(_ address: String) -> Bool {
        lock.withLock {
            let now = ContinuousClock.now
            if recent.count >= totalThreshold, let oldest = recent.first, now - oldest <= window { return true }
            guard let entry = failures[address] else { return false }
            if now - entry.last > window {
                failures[address] = nil
                return false
            }
            return entry.count >= threshold
        }
    }

    func failed(_ address: String) {
        lock.withLock {
            let now = ContinuousClock.now
            // Old entries go as new failures come: the table holds recent addresses only.
            failures = failures.filter { now - $0.value.last <= window }
            let count = (failures[address]?.count ?? 0) + 1
            failures[address] = (count, now)
            recent.append(now)
            if recent.count > totalThreshold { recent.removeFirst(recent.count - totalThreshold) }
        }
    }

    func succeeded(_ address: String) {
        lock.withLock { failures[address] = nil }
    }
}
