/// A wildcard in the last name of a LIST or NLST path (`NLST *.jpg`: Windows' and BSD's ftp
/// send their `mget` and `mdelete` patterns so): `*` any run of characters, `?` any one. Only
/// in the last name, matched against one directory's entries, with one backtracking point: the
/// work is bounded by the listing, never exponential in the pattern (RFC 959 leaves globbing
/// to the server; pyftpdlib and vsftpd do as much).
struct FTPWildcard: Sendable {
    private let pattern: [Character]

    /// The pattern, or nil when `name` holds no wildcard.
    init?(_ name: String) {
        guard name.contains(where: { $0 == "*" || $0 == "?" }) else { return nil }
        pattern = Array(name)
    }

    func matches(_ name: String) -> Bool {
        let text = Array(name)
        var p = 0, t = 0
        // Where the last `*` was, and the text position it was matched up to.
        var star: Int?, resume = 0
        while t < text.count {
            if p < pattern.count && (pattern[p] == "?" || pattern[p] == text[t] && pattern[p] != "*") {
                p += 1
                t += 1
            } else if p < pattern.count && pattern[p] == "*" {
                star = p
                resume = t
                p += 1
            } else if let star {
                // The last `*` takes one more character; earlier stars never need to move.
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
