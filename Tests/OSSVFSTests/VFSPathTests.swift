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
