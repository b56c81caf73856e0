import Foundation
import OSSVFS

/// Admission for control connections: a cap in total and per address (421 beyond), and bans
/// of addresses that keep failing to log in (RFC 2577 §5).
public final class ConnectionLimiter: Sendable {
    public struct Limits: Sendable {
        public var maxConnections: Int
        public var maxConnectionsPerAddress: Int
        /// Failed logins from one address within `banWindow` that ban it (0: no bans)...
        public var banThreshold: Int
        public var banWindow: Double
        /// ...for this many seconds.
        public var banDuration: Double

        public init(maxConnections: Int = 512, maxConnectionsPerAddress: Int = 32, banThreshold: Int = 10,
                    banWindow: Double = 600, banDuration: Double = 600) {
            self.maxConnections = maxConnections
            self.maxConnectionsPerAddress = maxConnectionsPerAddress
            self.banThreshold = banThreshold
            self.banWindow = banWindow
            self.banDuration = banDuration
        }
    }

    private let lock = Lock()
    nonisolated(unsafe) private var inForce: Limits
    /// The limits in force; a reload changes them for the next connection and login.
    public var limits: Limits {
        get { lock.withLock { inForce } }
        set { lock.withLock { inForce = newValue } }
    }
    nonisolated(unsafe) private var total = 0
    /// Connections, failed logins and bans, by client (``IPLiteral/clientKey(_:)``: an IPv6
    /// client's /64; counted by address, connections let a client with a /64 open
    /// max_connections_per_ip from each of its addresses, and so take every slot).
    nonisolated(unsafe) private var perClient: [String: Int] = [:]
    nonisolated(unsafe) private var failures: [String: [Double]] = [:]
    nonisolated(unsafe) private var bannedUntil: [String: Double] = [:]
    /// Refused connections by client not logged yet, and when the last one was.
    nonisolated(unsafe) private var refusals: [String: (loggedAt: Double, unlogged: Int)] = [:]
    /// At most one line a minute per client tells of its refused connections: a flood of them
    /// must not become a flood of log lines.
    static let refusalLogInterval = 60.0
    /// When both tables were last cleared of what expired.
    nonisolated(unsafe) private var lastSweep: Double = 0
    /// Clients tracked at most; past it the ones that failed longest ago are forgotten, down to
    /// nine tenths of it.
    static let trackedClients = 100_000

    public init(limits: Limits = Limits()) {
        self.inForce = limits
    }

    private var now: Double { Date().timeIntervalSince1970 }

    /// What a banned address is told, at connect and at login.
    static let bannedReply = FTPReply(.serviceNotAvailable, "Too many failed logins from your address; try again later.")

    /// Takes a slot for a new connection from `address`, or says why not.
    func admit(_ address: String) -> FTPReply? {
        lock.withLock {
            let client = IPLiteral.clientKey(address)
            if let until = bannedUntil[client] {
                // A reload to ban_threshold 0 ("no bans") lifts the bans in force as well.
                if until > now && inForce.banThreshold > 0 { return Self.bannedReply }
                bannedUntil[client] = nil
            }
            if total >= inForce.maxConnections {
                return FTPReply(.serviceNotAvailable, "Too many connections; try again later.")
            }
            if perClient[client, default: 0] >= inForce.maxConnectionsPerAddress {
                return FTPReply(.serviceNotAvailable, "Too many connections from your address.")
            }
            total += 1
            perClient[client, default: 0] += 1
            return nil
        }
    }

    /// Counts a refused connection from `address`; returns how many went unlogged, this one
    /// included, when it is time for a line (the first, then one a minute), else nil.
    func refusalToLog(_ address: String) -> Int? {
        lock.withLock {
            let client = IPLiteral.clientKey(address)
            let current = now
            if refusals.count > Self.trackedClients {
                refusals = refusals.filter { current - $0.value.loggedAt < Self.refusalLogInterval }
            }
            guard let last = refusals[client], current - last.loggedAt < Self.refusalLogInterval else {
                let count = (refusals[client]?.unlogged ?? 0) + 1
                refusals[client] = (current, 0)
                return count
            }
            refusals[client] = (last.loggedAt, last.unlogged + 1)
            return nil
        }
    }

    /// Gives back a connection's slot.
    func release(_ address: String) {
        lock.withLock {
            total -= 1
            let client = IPLiteral.clientKey(address)
            let left = perClient[client, default: 1] - 1
            perClient[client] = left > 0 ? left : nil
        }
    }

    /// Whether `address` is banned now. Checked at every login, not only at connect: connections
    /// opened before the ban would otherwise go on guessing, and a right guess would log in.
    func isBanned(_ address: String) -> Bool {
        lock.withLock { inForce.banThreshold > 0 && (bannedUntil[IPLiteral.clientKey(address)] ?? 0) > now }
    }

    /// Counts a failed login; enough of them within the window ban the address (none with a
    /// threshold of 0). Returns the ban's length in seconds when this one brought it.
    func recordFailedLogin(_ address: String) -> Double? {
        lock.withLock {
            guard inForce.banThreshold > 0 else { return nil }
            let current = now
            let client = IPLiteral.clientKey(address)
            var recent = failures[client, default: []].filter { $0 > current - inForce.banWindow }
            recent.append(current)
            var banned: Double?
            if recent.count >= inForce.banThreshold {
                bannedUntil[client] = current + inForce.banDuration
                banned = inForce.banDuration
                recent = []
            }
            failures[client] = recent.isEmpty ? nil : recent
            sweep(at: current)
            return banned
        }
    }

    /// Forgets failures older than the window and bans that ended, once a window (at most a
    /// minute) or when more than ``trackedClients`` failed within it. A client that failed once
    /// and never came back stayed for the life of the process (some 150 bytes each, from every
    /// address that ever failed). Bans are never dropped early; each takes a threshold of failures.
    private func sweep(at current: Double) {
        let crowded = failures.count > Self.trackedClients
        guard crowded || current - lastSweep >= min(60, inForce.banWindow) else { return }
        lastSweep = current
        let windowStart = current - inForce.banWindow
        failures = failures.filter { ($0.value.last ?? 0) > windowStart }
        bannedUntil = bannedUntil.filter { $0.value > current }
        // Still too many within the window: the clients whose last failure is oldest go, down to
        // nine tenths of the bound (some room, so that the next failures do not sort again).
        let excess = failures.count - Self.trackedClients / 10 * 9
        if crowded, excess > 0 {
            let oldest = failures.sorted { ($0.value.last ?? 0) < ($1.value.last ?? 0) }.prefix(excess)
            for (client, _) in oldest { failures[client] = nil }
        }
    }

    /// Clients with failures or bans on record, for tests.
    var trackedClientCount: Int { lock.withLock { failures.count + bannedUntil.count } }
}
