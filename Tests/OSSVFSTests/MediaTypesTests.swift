import Testing

@testable import OSSVFS

@Suite struct MediaTypesTests {
    @Test func typesComeFromTheLastNamesExtension() {
        #expect(MediaTypes.forKey("site/index.html") == "text/html; charset=utf-8")
        #expect(MediaTypes.forKey("DCIM/IMG_0001.JPG") == "image/jpeg")
        #expect(MediaTypes.forKey("backup.tar.gz") == "application/gzip")
        #expect(MediaTypes.forKey("fonts/a.woff2") == "font/woff2")
    }

    @Test func namesWithoutAKnownExtensionAreBytes() {
        for key in ["README", ".bashrc", "folder.html/", "a.unknown-ext", "noext.", "dir.css/file"] {
            #expect(MediaTypes.forKey(key) == "application/octet-stream", "\(key)")
        }
    }
}
