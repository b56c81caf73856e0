/// The calendar fields of a UTC time, computed by hand (Howard Hinnant's civil-date
/// algorithms).
///
/// Foundation's `Calendar` and `DateFormatter` would do the same through ICU. Loading ICU's
/// data added about 5 MiB to the resident memory of a process whose only dates are HTTP
/// headers, signatures and FTP listings, and a formatter costs more than the request it dates.
public struct UTCDate: Equatable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    /// The fields of `time` (seconds since 1970), whole seconds rounded down. Times outside the
    /// years 0 to 9999 (or not finite, as a bad `mtime` could be) are clamped into them.
    public init(_ time: Double) {
        let clamped = time.isFinite ? min(max(time, Self.earliest), Self.latest) : 0
        let seconds = Int(clamped.rounded(.down))
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let secondOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        second = secondOfDay % 60
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    static let earliest: Double = -62_167_219_200
    static let latest: Double = 253_402_300_799

    /// `time` if it lies in the years 0 to 9999, else nil.
    static func validated(_ time: Double) -> Double? {
        (earliest...latest).contains(time) ? time : nil
    }

    /// Seconds since 1970.
    public var secondsSince1970: Int {
        Self.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// 0 for Sunday to 6 for Saturday.
    public var weekday: Int {
        let days = Self.daysSinceEpoch(year: year, month: month, day: day)
        return ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
    }

    /// Days from 1970-01-01 to a civil date.
    public static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    /// `Wed, 28 Dec 2022 10:27:41 GMT` (RFC 9110 §5.6.7 IMF-fixdate).
    public var imfFixdate: String {
        "\(Self.dayNames[weekday]), \(Self.pad(day, 2)) \(Self.monthNames[month - 1]) \(Self.pad(year, 4)) "
            + "\(Self.pad(hour, 2)):\(Self.pad(minute, 2)):\(Self.pad(second, 2)) GMT"
    }

    /// `20241203T083000Z`.
    public var iso8601Basic: String {
        Self.pad(year, 4) + Self.pad(month, 2) + Self.pad(day, 2) + "T" + Self.pad(hour, 2) + Self.pad(minute, 2)
            + Self.pad(second, 2) + "Z"
    }

    /// Parses an IMF-fixdate (`Fri, 03 Feb 2023 05:57:16 GMT`) into seconds since 1970; nil for
    /// anything else.
    public static func parseIMFFixdate(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count == 29, bytes[3] == UInt8(ascii: ","), bytes[4] == 32, bytes[7] == 32, bytes[11] == 32,
            bytes[16] == 32, bytes[19] == UInt8(ascii: ":"), bytes[22] == UInt8(ascii: ":"), bytes[25] == 32,
            String(decoding: bytes[26...], as: UTF8.self) == "GMT",
            dayNames.contains(String(decoding: bytes[0..<3], as: UTF8.self)),
            let monthIndex = monthNames.firstIndex(of: String(decoding: bytes[8..<11], as: UTF8.self)),
            let day = number(bytes, 5, 2), let year = number(bytes, 12, 4), let hour = number(bytes, 17, 2),
            let minute = number(bytes, 20, 2), let second = number(bytes, 23, 2),
            (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        let time = Double(daysSinceEpoch(year: year, month: monthIndex + 1, day: day) * 86_400 + hour * 3600
            + minute * 60 + second)
        // No 31 Feb, and the day name must be that date's.
        let date = UTCDate(time)
        guard date.day == day, dayNames[date.weekday] == String(decoding: bytes[0..<3], as: UTF8.self) else { return nil }
        return time
    }

    /// The decimal number of `count` digits at `start`, or nil.
    static func number(_ bytes: [UInt8], _ start: Int, _ count: Int) -> Int? {
        guard start + count <= bytes.count else { return nil }
        var value = 0
        for index in start..<start + count {
            let digit = Int(bytes[index]) - 48
            guard (0...9).contains(digit) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    /// `value` in decimal, zero-padded to `width` digits.
    public static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
