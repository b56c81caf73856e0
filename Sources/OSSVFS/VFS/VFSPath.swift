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
        let slashed = input.replacingOccurrences(of: "\\", with: "/")
        var parts = slashed.hasPrefix("/") ? [] : base.components
        for part in slashed.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(String(part))
            }
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
        a.components.count == b.components.count
            && zip(a.components, b.components).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    public func hash(into hasher: inout Hasher) {
        for name in components { hasher.combine(ExactName(name)) }
    }

    /// `/a/b`, or `/` for the root.
    public var description: String {
        "/" + components.joined(separator: "/")
    }
}
