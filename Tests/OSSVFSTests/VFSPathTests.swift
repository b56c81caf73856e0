import Testing
@testable import OSSVFS

@Suite struct VFSPathTests {
    @Test(arguments: [
        ("..", "/"), ("/../x", "/x"), ("..\\..\\x", "/x"), ("../../etc/passwd", "/etc/passwd"),
        ("a/./b", "/a/b"), ("a//b", "/a/b"), ("dir/", "/dir"), ("%2e%2e/x", "/%2e%2e/x"), ("/", "/"),
    ])
    func resolvesInsideTheRoot(input: String, expected: String) throws {
        #expect(try VFSPath(resolving: input).description == expected)
    }

    @Test func relativePathsStartFromTheBase() throws {
        let base = try VFSPath(resolving: "/a/b")
        #expect(try VFSPath(resolving: "c", from: base).description == "/a/b/c")
        #expect(try VFSPath(resolving: "../../../..", from: base).description == "/")
        #expect(try VFSPath(resolving: "/x", from: base).description == "/x")
    }

    /// Separators are bytes: a `/` followed by a combining mark is one character of a String,
    /// and splitting by characters made `../\u{301}x` one name, a way out of the home.
    @Test func separatorsAreCutAsBytes() throws {
        let home = try VFSPath(resolving: "/home")
        #expect(try VFSPath(resolving: "../\u{301}x", from: home).components == ["\u{301}x"])
        #expect(try VFSPath(resolving: "a/\u{301}b\\\u{301}c").components == ["a", "\u{301}b", "\u{301}c"])
        #expect(try VFSPath(resolving: "x\u{600}/y").components == ["x\u{600}", "y"])
    }

    @Test func refusesNULCRAndLF() {
        for bad in ["a\u{0}b", "q\rx", "q\nx"] {
            #expect(throws: VFSError.self) { try VFSPath(resolving: bad) }
        }
    }

    @Test func parentAndName() throws {
        let path = try VFSPath(resolving: "/a/b")
        #expect(path.name == "b")
        #expect(path.parent?.description == "/a")
        #expect(VFSPath.root.parent == nil)
    }
}
