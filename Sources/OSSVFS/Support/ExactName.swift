/// A name or key compared by its UTF-8 bytes. Swift's `String` compares by canonical
/// equivalence: `café` with `é` as one code point equals `café` spelt `e` and a combining
/// accent. Object stores and file systems keep those as two different keys, so a dictionary or
/// set of keys must not merge them (one would answer for the other: its size, its bytes, its
/// deletion).
public struct ExactName: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    public static func == (a: ExactName, b: ExactName) -> Bool {
        a.text.utf8.elementsEqual(b.text.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(text.utf8.count)
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    public var description: String { text }
}

extension String {
    /// Whether this string's UTF-8 bytes begin with those of `prefix` (not `hasPrefix`, which
    /// compares characters: `e` is no prefix of `é` spelt with a combining accent, and `/`
    /// followed by a combining mark is one character).
    public func hasBytePrefix(_ prefix: String) -> Bool {
        utf8.starts(with: prefix.utf8)
    }

    /// What follows the first `count` UTF-8 bytes (a key after its folder's prefix). Cutting by
    /// characters would take a combining mark that follows the prefix along with it.
    public func droppingBytes(_ count: Int) -> String {
        String(decoding: utf8.dropFirst(count), as: UTF8.self)
    }

    /// The pieces between `separator` bytes (ASCII), cut by bytes. `split` on a String cuts at
    /// characters: a `/` followed by a combining mark (or after a prepended mark) is one
    /// character and no separator there, though the kernel and every store see a `/` byte.
    public func splitBytes(_ separators: Set<UInt8>, omittingEmpty: Bool = true) -> [String] {
        utf8.split(omittingEmptySubsequences: omittingEmpty) { separators.contains($0) }
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// The pieces between `/` bytes.
    public func splitBytes(_ separator: UInt8 = UInt8(ascii: "/"), omittingEmpty: Bool = true) -> [String] {
        splitBytes([separator], omittingEmpty: omittingEmpty)
    }

    /// Whether the last byte is `/` (`hasSuffix("/")` is false for `x\u{600}/`, one character).
    public var endsWithSlashByte: Bool { utf8.last == UInt8(ascii: "/") }

    /// Without its last byte, which must be ASCII (a key's trailing `/`).
    public func droppingLastByte() -> String {
        String(decoding: utf8.dropLast(), as: UTF8.self)
    }

    /// What comes before the last `/` byte, or nil when there is none.
    public func beforeLastSlashByte() -> String? {
        guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        return String(decoding: utf8[..<slash], as: UTF8.self)
    }
}
