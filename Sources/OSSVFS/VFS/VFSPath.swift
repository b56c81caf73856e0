import Foundation

/// An absolute, normalised path inside one account's view of a bucket.
///
/// Resolution never leaves the root: `..` at `/` stays at `/`, so `../../etc`, `/../x` and
/// `..\..\x` all land inside the account. `\` is a separator (FTP clients on Windows send it,
/// and the seed tool accepted it). No percent-decoding happens: `%2e%2e` is a name.
public struct VFSPath: Hashable, Sendable, CustomStringConvertible {
    /// The names from the root down; empty for the root.
    public let components: [String]

    /// The root of the account.
    public static let root = VFSPath(components: [])

    public init(components: [String]) {
        self.components = components
    }

    /// Resolves `input` (absolute, or relative to `base`) into a confined path.
    /// Throws ``VFSError/invalidName(_:)`` for a NUL, CR or LF byte (a CR would be shown as a
    /// space in replies and raw in listings, where it breaks lines).
    public init(resolving input: String, from base: VFSPath = .root) throws {
        guard !input.utf8.contains(0) else { throw VFSError.invalidName("a path may not contain NUL") }
        guard !input.utf8.contains(13), !input.utf8.contains(10) else {
            throw VFSError.invalidName("a path may not contain CR or LF")
        }
        let first = input.utf8.first
        var parts = first == UInt8(ascii: "/") || first == UInt8(ascii: "\\") ? [] : base.components
        // Cut at the separator bytes: a `/` followed by a combining mark is one character of a
        // String, and splitting by characters made `../\u{301}x` one name, not `..` and a name.
        for part in input.splitBytes([UInt8(ascii: "/"), UInt8(ascii: "\\")]) {
            if part.utf8.elementsEqual(".".utf8) { continue }
            if part.utf8.elementsEqual("..".utf8) {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        components = parts
    }

    public var isRoot: Bool { components.isEmpty }

    /// The last name; nil for the root.
    public var name: String? { components.last }

    /// The folder holding this path; nil for the root.
    public var parent: VFSPath? {
        isRoot ? nil : VFSPath(components: Array(components.dropLast()))
    }

    /// This path with `name` added below it.
    public func appending(_ name: String) -> VFSPath {
        VFSPath(components: components + [name])
    }

    // Paths are equal when their names are byte for byte (see ``ExactName``): two keys that
    // differ only in Unicode normalization are two files.
    public static func == (a: VFSPath, b: VFSPath) -> Bool {
        a.components.count == b.components.count && a.isWithin(b)
    }

    public func hash(into hasher: inout Hasher) {
        for name in components { hasher.combine(ExactName(name)) }
    }

    /// Whether this path is `ancestor` or lies below it, names compared byte for byte.
    public func isWithin(_ ancestor: VFSPath) -> Bool {
        components.count >= ancestor.components.count
            && zip(components, ancestor.components).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    /// `/a/b`, or `/` for the root.
    public var description: String {
        "/" + components.joined(separator: "/")
    }
}
