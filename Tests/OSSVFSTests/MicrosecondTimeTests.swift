import Testing
@testable import OSSVFS

@Suite struct MicrosecondTimeTests {
    /// A time set to an exact microsecond comes back as set, whichever way it reached a Double:
    /// from a timespec (utimensat on the mount) or from `mtime` metadata. About 4 in 10 came
    /// back a microsecond later.
    @Test func aTimeSetToTheMicrosecondComesBackAsSet() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let seconds = Int.random(in: -2_000_000_000...4_000_000_000, using: &generator)
            let micros = Int.random(in: 0..<1_000_000, using: &generator)
            let fromTimespec = Double(seconds) + Double(micros * 1000) / 1e9
            let fromMetadata = Double(Self.decimal(seconds: seconds, microseconds: micros))!
            for time in [fromTimespec, fromMetadata] {
                let shown = MicrosecondTime(time)
                #expect(shown == MicrosecondTime(seconds: seconds, microseconds: micros), "\(seconds).\(micros)")
            }
        }
    }

    /// `seconds + microseconds / 10^6` as a decimal, the way `mtime` metadata holds it.
    static func decimal(seconds: Int, microseconds: Int) -> String {
        guard seconds < 0 && microseconds > 0 else { return "\(seconds).\(UTCDate.pad(microseconds, 6))" }
        return "-\(-seconds - 1).\(UTCDate.pad(1_000_000 - microseconds, 6))"
    }

    /// `.999999` stays in its second (it came back as the next second: the next day at midnight
    /// for 23:59:59.999999), and a whole second stays whole.
    @Test func theLastMicrosecondOfASecondStaysInIt() {
        #expect(MicrosecondTime(1_578_009_599.999999) == MicrosecondTime(seconds: 1_578_009_599, microseconds: 999_999))
        #expect(MicrosecondTime(1_700_000_000) == MicrosecondTime(seconds: 1_700_000_000, microseconds: 0))
        #expect(MicrosecondTime(1_700_000_000.1) == MicrosecondTime(seconds: 1_700_000_000, microseconds: 100_000))
    }

    /// Digits past the microsecond round the time up, never down, and carry into the second.
    @Test func finerTimesRoundUpToTheMicrosecond() {
        let time = 1_700_000_000.0 + 123_456_789 / 1e9
        #expect(MicrosecondTime(time) == MicrosecondTime(seconds: 1_700_000_000, microseconds: 123_457))
        #expect(MicrosecondTime(12.000_000_1) == MicrosecondTime(seconds: 12, microseconds: 1))
        #expect(MicrosecondTime(12.999_999_9) == MicrosecondTime(seconds: 13, microseconds: 0))
        #expect(MicrosecondTime(0.000_01) == MicrosecondTime(seconds: 0, microseconds: 10))  // written 1e-05
    }

    /// Before 1970 the seconds round down and the microseconds count forward from them.
    @Test func timesBefore1970CountFromTheSecondBelow() {
        #expect(MicrosecondTime(-1.5) == MicrosecondTime(seconds: -2, microseconds: 500_000))
        #expect(MicrosecondTime(-0.25) == MicrosecondTime(seconds: -1, microseconds: 750_000))
        #expect(MicrosecondTime(-86_400) == MicrosecondTime(seconds: -86_400, microseconds: 0))
        // Rounded up is toward zero here: -1.1234567 shows as -1.123456.
        #expect(MicrosecondTime(-1.123_456_7) == MicrosecondTime(seconds: -2, microseconds: 876_544))
    }

    /// What is no time has no microsecond form.
    @Test func nonTimesAreNil() {
        #expect(MicrosecondTime(.nan) == nil)
        #expect(MicrosecondTime(.infinity) == nil)
        #expect(MicrosecondTime(1e300) == nil)
    }

    /// A kernel time rounds up to the microsecond exactly, however little past one it is: made
    /// into a Double first, 300 ns past a microsecond near 2026 was stored as that microsecond,
    /// and a `cp -p` copy on the mount was older than its source.
    @Test func aKernelTimeRoundsUpExactly() {
        #expect(MicrosecondTime(seconds: 1_796_000_000, nanoseconds: 300) == MicrosecondTime(seconds: 1_796_000_000, microseconds: 1))
        #expect(MicrosecondTime(seconds: 1_796_000_000, nanoseconds: 123_456_100) == MicrosecondTime(seconds: 1_796_000_000, microseconds: 123_457))
        #expect(MicrosecondTime(seconds: 1_796_000_000, nanoseconds: 123_456_000) == MicrosecondTime(seconds: 1_796_000_000, microseconds: 123_456))
        #expect(MicrosecondTime(seconds: 12, nanoseconds: 999_999_001) == MicrosecondTime(seconds: 13, microseconds: 0))
        #expect(MicrosecondTime(seconds: -14_182_940, nanoseconds: 300) == MicrosecondTime(seconds: -14_182_940, microseconds: 1))
        // utimensat(2) takes any second up to 2^63: no crash, a time the VFS then refuses.
        #expect(MicrosecondTime(seconds: Int.max, nanoseconds: 999_999_999).timeInterval == Double(Int.max))
    }

    /// The Double a time is carried in gives the time back, and the `mtime` metadata written for
    /// it is never earlier than it.
    @Test func theCarriedTimeAndItsMetadataKeepTheMicrosecond() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let seconds = Int.random(in: -2_000_000_000...4_000_000_000, using: &generator)
            let nanoseconds = Int.random(in: 0..<1_000_000_000, using: &generator)
            let time = MicrosecondTime(seconds: seconds, nanoseconds: nanoseconds)
            #expect(MicrosecondTime(time.timeInterval) == time, "\(seconds) \(nanoseconds)")
            let stored = ObjectVFS.format(time.timeInterval)
            #expect(MicrosecondTime(Double(stored)!) == time, "\(seconds) \(nanoseconds) stored as \(stored)")
        }
        // Rounded to the nearest, these were stored a fraction of a microsecond early.
        #expect(ObjectVFS.format(1_796_000_000.123_456_3) == "1796000000.123457000")
        #expect(ObjectVFS.format(-14_182_939.999_999_7) == "-14182939.999999000")
        #expect(ObjectVFS.format(1_796_000_000) == "1796000000")
    }
}
