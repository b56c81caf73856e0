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
    nonisolated(unsafe) private var perAddress: [String: Int] = [:]
    nonisolated(unsafe) private var failures: [String: [Double]] = [:]
    nonisolated(unsafe) private var bannedUntil: [String: Double] = [:]

    public init(limits: Limits = Limits()) {
        self.inForce = limits
    }

    private var now: Double { Date().timeIntervalSince1970 }

    /// What a banned address is told, at connect and at login.
    static let bannedReply = FTPReply(.serviceNotAvailable, "Too many failed logins from your address; try again later.")

    /// Takes a slot for a new connection from `address`, or says why not.
    func admit(_ address: String) -> FTPReply? {
        lock.withLock {
            if let until = bannedUntil[address] {
                if until > now { return Self.bannedReply }
                bannedUntil[address] = nil
            }
            if total >= inForce.maxConnections {
                return FTPReply(.serviceNotAvailable, "Too many connections; try again later.")
            }
            if perAddress[address, default: 0] >= inForce.maxConnectionsPerAddress {
                return FTPReply(.serviceNotAvailable, "Too many connections from your address.")
            }
            total += 1
            perAddress[address, default: 0] += 1
            return nil
        }
    }

    /// Gives back a connection's slot.
    func release(_ address: String) {
        lock.withLock {
            total -= 1
            let left = perAddress[address, default: 1] - 1
            perAddress[address] = left > 0 ? left : nil
        }
    }

    /// Whether `address` is banned now. Checked at every login, not only at connect: connections
    /// opened before the ban would otherwise go on guessing, and a right guess would log in.
    func isBanned(_ address: String) -> Bool {
        lock.withLock { (bannedUntil[address] ?? 0) > now }
    }

    /// Counts a failed login; enough of them within the window ban the address (none with a
    /// threshold of 0). Returns the ban's length in seconds when this one brought it.
    func recordFailedLogin(_ address: String) -> Double? {
        lock.withLock {
            guard inForce.banThreshold > 0 else { return nil }
            let current = now
            var recent = failures[address, default: []].filter { $0 > current - inForce.banWindow }
            recent.append(current)
            var banned: Double?
            if recent.count >= inForce.banThreshold {
                bannedUntil[address] = current + inForce.banDuration
                banned = inForce.banDuration
                recent = []
            }
            failures[address] = recent.isEmpty ? nil : recent
            return banned
        }
    }
}
