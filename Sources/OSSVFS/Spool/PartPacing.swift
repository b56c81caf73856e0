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
/// PUT).
final class PartPacing: @unchecked Sendable {
    /// The hold aimed at, in seconds: well within the clients' timeouts of 15 s and 20 s.
    static let holdTarget = 8.0
    /// The smallest part the pacing makes (bigger on a store with a bigger minimum, as S3's
    /// 5 MiB): smaller parts would cost a request each for little less of a hold.
    static let smallestPart = 1 << 20
    /// Parts of one size before the size doubles, so that a slow upload's 10,000 parts still
    /// hold terabytes.
    static let partsPerDoubling = 500

    private let lock = Lock()
    /// Bytes of the parts stored so far, and the seconds the store spent on them while any
    /// part was being sent: their quotient is the rate this upload gets from the store.
    private var storedBytes = 0
    private var busySeconds = 0.0
    private var sending = 0
    private var busySince: ContinuousClock.Instant?

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
            var seconds = busySeconds
            if let busySince { seconds += Self.seconds(ContinuousClock.now - busySince) }
            guard storedBytes > 0, seconds > 0 else { return nil }
            return Double(storedBytes) / seconds
        }
    }

    /// The size of part `number` of an upload whose configured schedule gives `scheduled`,
    /// sent `concurrency` at once, to a store whose smallest part is `storeMinimum`.
    func size(ofPart number: Int, scheduled: Int, concurrency: Int, storeMinimum: Int) -> Int {
        guard number > 1 else { return scheduled }
        let smallest = min(scheduled, max(storeMinimum, Self.smallestPart))
        // Before the store has stored a part its rate is unknown: small parts find it out
        // soon, and on a fast link the next parts have the configured size again.
        let paced = rate.map { Int(min($0 * Self.holdTarget / Double(max(1, concurrency)), Double(scheduled))) }
        let base = max(smallest, paced ?? smallest)
        let doublings = min(20, (number - 2) / Self.partsPerDoubling)
        let (grown, overflow) = base.multipliedReportingOverflow(by: 1 << doublings)
        return overflow ? scheduled : min(scheduled, grown)
    }

    private func begin() {
        lock.withLock {
            if sending == 0 { busySince = .now }
            sending += 1
        }
    }

    private func end(stored bytes: Int) {
        lock.withLock {
            sending -= 1
            storedBytes += bytes
            if sending == 0, let since = busySince {
                busySeconds += Self.seconds(ContinuousClock.now - since)
                busySince = nil
            }
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
