import Foundation

/// Requests with a wrong bearer token: counted, and told at most once a minute.
final class ConsoleWrongTokens: @unchecked Sendable {
    static let interval = 60.0
    private let lock = NSLock()
    private var loggedAt = -Double.infinity
    private var unlogged = 0

    /// Counts one; returns how many went unlogged, this one included, when a line is due.
    /// `now` is on a clock the wall clock's steps do not move (a step back silenced the line).
    func countToLog(now: Double = ProcessInfo.processInfo.systemUptime) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        unlogged += 1
        guard now - loggedAt >= Self.interval else { return nil }
        loggedAt = now
        defer { unlogged = 0 }
        return unlogged
    }
}
