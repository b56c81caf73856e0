import Foundation
import Testing
import TestSupport
@testable import OSSVFS

/// The path-mapping examples of docs/SEMANTICS.md, run against the code.
@Suite struct SemanticsDocumentTests {
    /// The rows of the table between `<!-- examples: NAME -->` and `<!-- end examples -->`.
    static func examples(_ name: String) throws -> [[String]] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/SEMANTICS.md"), encoding: .utf8)
        guard let start = text.range(of: "<!-- examples: \(name) -->"),
            let end = text.range(of: "<!-- end examples -->", range: start.upperBound..<text.endIndex)
        else { return [] }
        let rows = text[start.upperBound..<end.lowerBound].split(separator: "\n").filter { $0.hasPrefix("|") }
        // Drop the header and the |---| line.
        return rows.dropFirst(2).map { row in
            row.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast().map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            }
        }
    }

    @Test func pathMappingExamplesHold() async throws {
        let rows = try Self.examples("path-mapping")
        #expect(rows.count >= 8)
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        _ = try folder.make("bucket")
        let store = try LocalStore(root: folder.path, bucket: "bucket")
        for row in rows {
            let (home, cwd, argument, path, key) = (row[0], row[1], row[2], row[3], row[4])
            let vfs = ObjectVFS(store: store, homeDirectory: home, spool: SpoolConfiguration(directory: folder.path))
            let resolved = try VFSPath(resolving: argument, from: try VFSPath(resolving: cwd))
            #expect(resolved.description == path, "\(row)")
            #expect(try vfs.key(for: resolved) == key, "\(row)")
        }
    }
}
