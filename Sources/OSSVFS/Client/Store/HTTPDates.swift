import Foundation

/// Dates in HTTP headers and XML answers.
enum HTTPDates {
    /// `Fri, 03 Feb 2023 05:57:16 GMT` as seconds since 1970.
    static func parseRFC1123(_ text: String) -> Double? {
        UTCDate.parseIMFFixdate(text)
    }

    /// `2012-02-24T08:42:32.000Z` (fractional seconds optional) as seconds since 1970.
    /// Parsed by hand: listings hold one per key, and a formatter per key costs more than the
    /// request did.
    static func parseISO8601(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ start: Int, _ count: Int) -> Int? { UTCDate.number(bytes, start, count) }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2), (1...12).contains(month)
        else { return nil }
        var fraction = 0.0
        var index = 19
        if bytes[index] == UInt8(ascii: ".") {
            var scale = 0.1
            index += 1
            while index < bytes.count, (48...57).contains(bytes[index]) {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "Z") else { return nil }
        return Double(UTCDate.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600
            + minute * 60 + second) + fraction
    }
}
