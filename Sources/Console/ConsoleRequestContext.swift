import Foundation
import Hummingbird
import NIOCore

/// Hummingbird's request context with the peer's address, which the login's per-address
/// count of failures needs.
struct ConsoleRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Failed console logins by address: past `threshold` within `window`, an address is refused
/// (429) until `window` has passed since its last failure, whatever password it sends.
final class ConsoleLoginFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String: (count: Int, last: ContinuousClock.Instant)] = [:]
    let threshold: Int
    let window: Duration

    init(threshold: Int = 10, window: Duration = .seconds(600)) {
        self.threshold = threshold
        self.window = window
    }

    func isRefused(_ address: String) -> Bool {
        lock.withLock {
            guard let entry = failures[address] else { return false }
            if ContinuousClock.now - entry.last > window {
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
        }
    }

    func succeeded(_ address: String) {
        lock.withLock { failures[address] = nil }
    }
}
