import Foundation
import Testing
@testable import OSSVFS

@Suite struct UTCDateTests {
    /// The hand-made fields agree with Foundation's Gregorian calendar, across leap days,
    /// century years and times before 1970.
    @Test func fieldsAgreeWithFoundationsCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var generator = SystemRandomNumberGenerator()
        let fixed: [Double] = [0, -1, 951_782_400, 951_868_799, 4_107_542_400, -2_208_988_800, 1_672_223_261]
        let random = (0..<2000).map { _ in Double(Int64.random(in: -3_000_000_000...7_000_000_000, using: &generator)) }
        for time in fixed + random {
            let mine = UTCDate(time)
            let theirs = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday],
                                                 from: Date(timeIntervalSince1970: time))
            #expect([mine.year, mine.month, mine.day, mine.hour, mine.minute, mine.second, mine.weekday + 1]
                == [theirs.year, theirs.month, theirs.day, theirs.hour, theirs.minute, theirs.second, theirs.weekday],
                "\(time)")
            #expect(mine.secondsSince1970 == Int(time))
            #expect(UTCDate.parseIMFFixdate(mine.imfFixdate) == time, "\(mine.imfFixdate)")
        }
    }

    @Test func formats() {
        let date = UTCDate(1_672_223_261)
        #expect(date.imfFixdate == "Wed, 28 Dec 2022 10:27:41 GMT")
        #expect(date.iso8601Basic == "20221228T102741Z")
        #expect(UTCDate(951_782_400).imfFixdate == "Tue, 29 Feb 2000 00:00:00 GMT")
    }

    /// Only the IMF-fixdate form is taken; anything else is nil, never a wrong date.
    @Test func malformedDatesAreRefused() {
        for text in ["", "Wed, 28 Dec 2022 10:27:41 UTC", "Wed, 28 Dec 2022 10:27:41", "Wed 28 Dec 2022 10:27:41 GMT",
                     "Wed, 28 Dez 2022 10:27:41 GMT", "Xyz, 28 Dec 2022 10:27:41 GMT", "Wed, 2x Dec 2022 10:27:41 GMT",
                     "Wed, 28 Dec 2022 25:27:41 GMT", "Wednesday, 28-Dec-22 10:27:41 GMT", "Wed, 28 Dec 2022 10:27:41 GMTX",
                     "Thu, 28 Dec 2022 10:27:41 GMT", "Fri, 31 Feb 2023 10:27:41 GMT"] {
            #expect(UTCDate.parseIMFFixdate(text) == nil, "\(text)")
        }
    }

    /// A time no calendar holds (a bad `mtime`, say) is clamped, never a crash.
    @Test func timesBeyondTheCalendarAreClamped() {
        #expect(UTCDate(.nan) == UTCDate(0))
        #expect(UTCDate(.infinity) == UTCDate(0))
        #expect(UTCDate(1e300).year == 9999)
        #expect(UTCDate(-1e300).year == 0)
        #expect(UTCDate(-1e300).imfFixdate.hasSuffix(" 0000 00:00:00 GMT"))
    }
}
