import Foundation

/// How large each part of one upload may be, so that its client is never held long while the
/// parts before it go up.
///
/// Without write-back the writer waits for the oldest part in flight before it seals another
/// (``SpoolUpload``), and parts that start together share the link and end together: the
/// client is held, its data connection silent, for about `concurrency × part size ÷ the
/// store's rate`. At the default 4 × 16 MiB over a 16 Mbit/s uplink that was 33 s: FileZilla
/// gives up after 20 s without traffic and WinSCP after 15 s, and they reported failed uploads
/// that the server went on to store. Parts after the first are therefore sized from the rate
/// the store has shown this upload, so that the hold stays near ``holdTarget``; on a fast link
/// that is the configured size, and the first part keeps it (a file up to it goes up as one
/// PUT). Until the first part is stored it goes up alone (``SpoolUpload``), so the first hold
/// is that part's own time, not that of four parts sharing the link.
final class PartPacing: @unchecked Sendable {
    /// The hold aimed at, in seconds: well within the clients' timeouts of 15 s and 20 s.
    static let holdTarget = 8.0
    /// The smallest part the pacing makes (bigger on a store with a bigger minimum, as S3's
    /// 5 MiB): smaller parts would cost a request each for little less of a hold.
    static let smallestPart = 1 << 20
    /// Parts paced to the rate alone; past them the size doubles every ``partsPerDoubling``,
    /// so that a slow upload's 10,000 parts still hold a terabyte at the smallest size (5 TB on
    /// S3). Doubling from the start held the client twice as long after every 1,000 s or so.
    static let partsBeforeDoubling = 5_000
    static let partsPerDoubling = 500
    /// The rate looks at about the last minute of sending: weights halve every 30 s of it, so
    /// a link that slows down after a long fast stretch gets smaller parts soon.
    static let halfLife = 30.0

    private let halfLife: Double
    private let lock = Lock()
    /// Bytes of the parts stored, and the seconds during which any part was being sent, both
    /// weighted by age (``halfLife``): their quotient is the rate this upload gets.
    private var storedBytes = 0.0
    private var busySeconds = 0.0
    private var sending = 0
    private var lastChange = ContinuousClock.now

    init(halfLife: Double = PartPacing.halfLife) {
        self.halfLife = halfLife
    }

    /// Runs the sending of a part of `size` bytes, counting the time and the bytes.
    func sending<T: Sendable>(_ size: Int, _ body: () async throws -> T) async throws -> T {
        begin()
        do {
            let result = try await body()
            end(stored: size)
            return result
        } catch {
            end(stored: 0)
            throw error
        }
    }

    /// The rate the store has taken this upload's parts at, in bytes a second; nil until it
    /// stored one.
    var rate: Double? {
        lock.withLock {
            advance()
            guard storedBytes > 0, busySeconds > 0 else { return nil }
            return storedBytes / busySeconds
        }
    }

    /// The size of part `number` of an upload whose configured schedule gives `scheduled`,
    /// sent `concurrency` at once, to a store whose smallest part is `storeMinimum`.
    func size(ofPart number: Int, scheduled: Int, concurrency: Int, storeMinimum: Int) -> Int {
        guard number > 1 else { return scheduled }
        let smallest = Self.smallest(scheduled: scheduled, storeMinimum: storeMinimum)
        // Before the store has stored a part its rate is unknown: small parts find it out
        // soon, and on a fast link the next parts have the configured size again.
        let paced = rate.map { Int(min($0 * Self.holdTarget / Double(max(1, concurrency)), Double(scheduled))) }
        let base = max(smallest, paced ?? smallest)
        let doublings = number <= Self.partsBeforeDoubling
            ? 0 : min(20, (number - Self.partsBeforeDoubling - 1) / Self.partsPerDoubling + 1)
        let (grown, overflow) = base.multipliedReportingOverflow(by: 1 << doublings)
        return overflow ? scheduled : min(scheduled, grown)
    }

    /// How many of the client's parts may be on their way at once: `configured`, fewer when
    /// even parts of the smallest size would take longer than ``holdTarget`` together with the
    /// part being filled meanwhile, which goes up after them (a link below about 3 MB/s with
    /// S3's 5 MiB parts, or several uploads sharing one link, each measuring its share), and
    /// one until the store's rate is known. So slow a link has no use for parts side by side:
    /// they only shared it. Without counting the part being filled, a rate measured a little
    /// high (a link that lets a burst through first) let three 5 MiB parts go at 1.5 MiB/s, and
    /// the client waited 13.4 s after its last byte.
    func partsAtOnce(configured: Int, smallestPart: Int) -> Int {
        guard let rate else { return 1 }
        let fit = rate * Self.holdTarget / Double(max(1, smallestPart)) - 1
        return max(1, min(configured, Int(min(fit, Double(configured)))))
    }

    /// The smallest part the pacing makes: 1 MiB, or the store's minimum if larger (5 MiB on
    /// S3), or the configured size if smaller.
    static func smallest(scheduled: Int, storeMinimum: Int) -> Int {
        min(scheduled, max(storeMinimum, smallestPart))
    }

    private func begin() {
        lock.withLock {
            advance()
            sending += 1
        }
    }

    private func end(stored bytes: Int) {
        lock.withLock {
            advance()
            sending -= 1
            storedBytes += Double(bytes)
        }
    }

    /// Counts the time since the last change as sending time if a part was being sent, and
    /// ages what came before. Called with the lock held.
    private func advance() {
        let now = ContinuousClock.now
        if sending > 0 {
            let elapsed = Self.seconds(now - lastChange)
            let kept = pow(0.5, elapsed / halfLife)
            storedBytes *= kept
            busySeconds = busySeconds * kept + elapsed
        }
        lastChange = now
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
