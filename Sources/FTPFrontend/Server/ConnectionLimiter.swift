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
    /// Lines about refused connections in the current minute, and refusals not logged in it.
    nonisolated(unsafe) private var refusalMinute: (start: Double, lines: Int, unlogged: Int) = (0, 0, 0)
    /// At most one line a minute per client tells of its refused connections, and at most
    /// `refusalLinesPerMinute` lines in all (a flood from a whole /48 has 65,536 clients): a
    /// flood of connections must not become a flood of log lines.
    static let refusalLogInterval = 60.0
    static let refusalLinesPerMinute = 20
    /// When both tables were last cleared of what expired.
    nonisolated(unsafe) private var lastSweep: Double = 0
    /// Clients tracked at most; past it the ones that failed longest ago are forgotten, down to
    /// nine tenths of it.
    static let trackedClients = 100_000

    public init(limits: Limits = Limits()) {
        self.inForce = limits
    }

    // Bans and failure windows run on the monotonic clock: a wall clock set forward lifted
    // every ban at once, one set back made a 20 s ban last for the step.
    private var now: Double { MonotonicTime.now }

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
    /// included (from this client, and from all when the minute's lines ran out), when it is
    /// time for a line: a client's first, then one a minute, within the minute's lines.
    func refusalToLog(_ address: String, at current: Double? = nil) -> Int? {
        lock.withLock {
            let client = IPLiteral.clientKey(address)
            let current = current ?? now
            if current - refusalMinute.start >= Self.refusalLogInterval {
                refusalMinute = (current, 0, refusalMinute.unlogged)
                // Clients logged over a minute ago need no entry (their next line is due) unless
                // they have refusals to count, kept ten minutes: at most 20 a minute join it.
                refusals = refusals.filter { current - $0.value.loggedAt < Self.refusalLogInterval
                    || ($0.value.unlogged > 0 && current - $0.value.loggedAt < 10 * Self.refusalLogInterval) }
            }
            let last = refusals[client]
            guard last.map({ current - $0.loggedAt >= Self.refusalLogInterval }) ?? true,
                refusalMinute.lines < Self.refusalLinesPerMinute
            else {
                if let last { refusals[client] = (last.loggedAt, last.unlogged + 1) } else { refusalMinute.unlogged += 1 }
                return nil
            }
            let count = (last?.unlogged ?? 0) + 1 + refusalMinute.unlogged
            refusalMinute.lines += 1
            refusalMinute.unlogged = 0
            refusals[client] = (current, 0)
            return count
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
