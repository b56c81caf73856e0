/// A time (seconds since 1970, as the VFS carries it in a Double) to the microsecond, for the
/// places that hand it to the kernel: the mount's attributes and the local store's files.
///
/// Near 2026 a Double holds a time to about 0.24 µs, so a time set to an exact microsecond
/// comes back a fraction of a microsecond off. Taken from the Double's arithmetic and rounded
/// up (so that a copy made with its source's time is never the older), `touch -d` with
/// `.123456` came back as `.123457` (17 of 40 such times), `.999999` as the next second (the
/// next day at midnight), and `rsync` with nanosecond times copied those files on every run.
/// The shortest decimal that reads back as the Double is the time that was set, when it was
/// set to the microsecond; only digits past the microsecond are rounded up.
public struct MicrosecondTime: Equatable, Sendable {
    /// Whole seconds since 1970, rounded down (negative before 1970).
    public var seconds: Int
    /// 0 to 999,999.
    public var microseconds: Int
}

extension MicrosecondTime {
    /// `time` to the microsecond: exact for a time set to the microsecond, else rounded up.
    /// Times that are not finite, or too large for whole seconds, are nil.
    public init?(_ time: Double) {
        guard time.isFinite, abs(time) < 1e15 else { return nil }
        // Swift writes a Double as the shortest decimal that reads back as it (exponent
        // notation only far from the times a file has, handled by the arithmetic below).
        let text = String(time)
        if !text.contains("e"), let parts = Self.parts(of: text) {
            self = parts
        } else {
            let whole = time.rounded(.down)
            let micros = ((time - whole) * 1e6).rounded(.up)
            self.init(seconds: Int(whole), microseconds: 0)
            add(microseconds: Int(micros))
        }
    }

    /// A time given as whole seconds and nanoseconds past them (a timespec's fields), to the
    /// microsecond, rounded up exactly. Made into a Double first, a time less than about
    /// 0.24 µs past a microsecond (near 2026) was that microsecond, and `cp -p` onto the mount
    /// gave the copy a time before its source's.
    public init(seconds: Int, nanoseconds: Int) {
        self.init(seconds: seconds, microseconds: 0)
        // The last second an Int holds has no next one to round into (a time refused anyway).
        add(microseconds: seconds == Int.max ? min(nanoseconds / 1000, 999_999) : (nanoseconds + 999) / 1000)
    }

    /// The nanoseconds of the microsecond.
    public var nanoseconds: Int { microseconds * 1000 }

    /// The time as the VFS carries it: the Double nearest to it, whose shortest decimal is
    /// this time's, so that ``init(_:)`` gives this time back.
    /// Times too far for microseconds in an Int (past 290,000 years from 1970; utimensat(2)
    /// takes any second up to 2^63) are the plain sum, which the VFS refuses as no time.
    public var timeInterval: Double {
        guard let (sign, magnitude) = signAndMagnitude else { return Double(seconds) + Double(microseconds) / 1e6 }
        return Double("\(sign)\(magnitude / 1_000_000).\(UTCDate.pad(Int(magnitude % 1_000_000), 6))")!
    }

    /// The sign (`-` or nothing) and the microseconds of the time's distance from 1970; nil
    /// past what an Int holds.
    var signAndMagnitude: (String, UInt)? {
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow, scaled <= Int.max - microseconds else { return nil }
        let total = scaled + microseconds
        return (total < 0 ? "-" : "", total.magnitude)
    }

    /// The parts of a plain decimal such as `-12.345`, or nil.
    private static func parts(of text: String) -> MicrosecondTime? {
        let negative = text.hasPrefix("-")
        let digits = negative ? text.dropFirst() : Substring(text)
        let pieces = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count <= 2, let whole = Int(pieces[0]) else { return nil }
        let fraction = pieces.count == 2 ? pieces[1] : ""
        guard fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var micros = Int(fraction.prefix(6) + String(repeating: "0", count: max(0, 6 - fraction.count))) ?? 0
        // Digits past the microsecond round up, for a positive time; a negative one counts
        // back from its whole seconds, so there they are dropped (its magnitude rounds down).
        let beyond = fraction.dropFirst(6).contains { $0 != "0" }
        if beyond && !negative { micros += 1 }
        var time = MicrosecondTime(seconds: negative ? -whole : whole, microseconds: 0)
        time.add(microseconds: negative ? -micros : micros)
        return time
    }

    /// Adds `count` microseconds (of either sign), carrying into the seconds.
    private mutating func add(microseconds count: Int) {
        let total = microseconds + count
        let carry = total >= 0 ? total / 1_000_000 : -((999_999 - total) / 1_000_000)
        seconds += carry
        microseconds = total - carry * 1_000_000
    }
}
