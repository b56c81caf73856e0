/// Checks that the answer to a ranged GET holds exactly the bytes asked for.
///
/// A server may ignore `Range` and send the whole object with 200 (RFC 9110 §14.2), or a
/// proxy or S3-compatible store may answer another range than the one asked; either, passed
/// on as is, would hand a client the wrong bytes after a 226, and a range has no checksum of
/// its own to catch it.
enum ContentRangeCheck {
    /// Why an answer with `status`, `contentRange` and `contentLength` does not hold `range`;
    /// nil when it does.
    static func problem(asked range: ByteRange, status: Int, contentRange: String?, contentLength: UInt64?)
        -> String?
    {
        let asked = HTTPObjectStore.rangeHeader(range)
        guard status == 206 else {
            // The whole object: the range asked only when it starts at 0 and reaches the end.
            switch range {
            case .from(0): return nil
            case .closed(0, let end) where contentLength.map({ $0 == 0 || $0 - 1 <= end }) ?? false: return nil
            default: return "the store answered a GET of \(asked) with the whole object (HTTP \(status))"
            }
        }
        guard let contentRange, let (first, last, total) = parse(contentRange) else {
            return "the store answered a GET of \(asked) with Content-Range \(contentRange ?? "missing")"
        }
        let expected: (first: UInt64, last: UInt64?)
        switch range {
        case .from(let start): expected = (start, total.map { $0 - 1 })
        case .closed(let start, let end): expected = (start, total.map { min(end, $0 - 1) } ?? end)
        case .suffix(let count):
            // Without the total, a suffix's first byte cannot be known.
            guard let total else { return nil }
            expected = (total - min(count, total), total - 1)
        }
        guard first == expected.first, expected.last.map({ $0 == last }) ?? true else {
            return "the store answered a GET of \(asked) with bytes \(first)-\(last)"
        }
        // The body must be the range it names: a shorter one, passed on, left a hole in the
        // download that the next range closed up (RFC 9110 §14.4).
        if let contentLength, contentLength != last - first + 1 {
            return "the store answered a GET of \(asked) with \(contentLength) bytes for bytes \(first)-\(last)"
        }
        return nil
    }

    /// The bytes the body of an answer that passed ``problem(asked:status:contentRange:contentLength:)``
    /// must hold, when its status and headers say (a 206's range, or a 200's Content-Length).
    static func bodyLength(status: Int, contentRange: String?, contentLength: UInt64?) -> UInt64? {
        guard status == 206 else { return contentLength }
        guard let contentRange, let (first, last, _) = parse(contentRange) else { return nil }
        return last - first + 1
    }

    /// Whether an answer that passed ``problem(asked:status:contentRange:contentLength:)`` holds
    /// the whole object (200, or `bytes 0-(n-1)/n`): then the object's checksums apply to it.
    static func holdsWholeObject(status: Int, contentRange: String?) -> Bool {
        guard status == 206 else { return true }
        guard let contentRange, let (first, last, total) = parse(contentRange), let total else { return false }
        return first == 0 && last + 1 == total
    }

    /// `bytes 0-99/1234` or `bytes 0-99/*` (RFC 9110 §14.4): first, last and total if known.
    static func parse(_ text: String) -> (UInt64, UInt64, UInt64?)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = trimmed.dropFirst(6)
        let halves = spec.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2 else { return nil }
        let bounds = halves[0].split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = UInt64(bounds[0]), let last = UInt64(bounds[1]), first <= last else {
            return nil
        }
        if halves[1] == "*" { return (first, last, nil) }
        guard let total = UInt64(halves[1]), last < total else { return nil }
        return (first, last, total)
    }
}
