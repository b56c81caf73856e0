import Testing
@testable import OSSVFS

/// What a ranged GET's answer must be for its bytes to be used (RFC 9110 §14.4, §15.3.7).
struct ContentRangeCheckTests {
    @Test func parsesContentRange() {
        #expect(ContentRangeCheck.parse("bytes 0-99/1234")! == (0, 99, 1234))
        #expect(ContentRangeCheck.parse("bytes 5-5/*")! == (5, 5, nil))
        for bad in ["", "bytes", "bytes 9-1/20", "bytes 0-20/20", "items 0-1/2", "bytes -1-2/3", "bytes 0-1"] {
            #expect(ContentRangeCheck.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func acceptsOnlyTheRangeAsked() {
        func problem(_ range: ByteRange, _ status: Int, _ contentRange: String?, length: UInt64? = nil) -> Bool {
            ContentRangeCheck.problem(asked: range, status: status, contentRange: contentRange, contentLength: length) != nil
        }
        #expect(!problem(.closed(100, 199), 206, "bytes 100-199/1000"))
        #expect(!problem(.closed(900, 1999), 206, "bytes 900-999/1000"))  // cut at the object's end
        #expect(!problem(.from(10), 206, "bytes 10-999/1000"))
        #expect(!problem(.suffix(10), 206, "bytes 990-999/1000"))
        #expect(!problem(.suffix(5000), 206, "bytes 0-999/1000"))
        #expect(!problem(.closed(0, 99), 206, "bytes 0-99/*"))
        #expect(problem(.closed(100, 199), 206, "bytes 0-99/1000"))  // another range
        #expect(problem(.closed(100, 199), 206, "bytes 100-150/1000"))  // short of what exists
        #expect(problem(.from(10), 206, nil))
        // A body shorter than the range it names (a proxy cut it, its length made to match):
        // passed on, the next range closed the hole up, and the download ended 226.
        #expect(problem(.closed(0, 99), 206, "bytes 0-99/1000", length: 50))
        #expect(!problem(.closed(0, 99), 206, "bytes 0-99/1000", length: 100))
        // 200: the whole object, which is the range only when that covers it.
        #expect(!problem(.from(0), 200, nil))
        #expect(!problem(.closed(0, 1 << 20), 200, nil, length: 1000))
        #expect(problem(.closed(0, 99), 200, nil, length: 1000))
        #expect(problem(.from(1000), 200, nil, length: 5000))
        #expect(problem(.suffix(10), 200, nil, length: 5000))
    }

    /// What the body must hold, counted as it streams: the range a 206 names, else the length.
    @Test func theBodyHoldsTheRangeItNames() {
        #expect(ContentRangeCheck.bodyLength(status: 206, contentRange: "bytes 100-199/1000", contentLength: nil) == 100)
        #expect(ContentRangeCheck.bodyLength(status: 206, contentRange: "bytes 5-5/*", contentLength: 7) == 1)
        #expect(ContentRangeCheck.bodyLength(status: 200, contentRange: nil, contentLength: 42) == 42)
        #expect(ContentRangeCheck.bodyLength(status: 200, contentRange: nil, contentLength: nil) == nil)
    }

    /// A range that covers the object (an upload continuing it reads it so) gets the object's
    /// checksums; any other range has none.
    @Test func aRangeCoveringTheObjectIsAWholeRead() {
        #expect(ContentRangeCheck.holdsWholeObject(status: 200, contentRange: nil))
        #expect(ContentRangeCheck.holdsWholeObject(status: 206, contentRange: "bytes 0-999/1000"))
        #expect(!ContentRangeCheck.holdsWholeObject(status: 206, contentRange: "bytes 0-998/1000"))
        #expect(!ContentRangeCheck.holdsWholeObject(status: 206, contentRange: "bytes 1-999/1000"))
        #expect(!ContentRangeCheck.holdsWholeObject(status: 206, contentRange: "bytes 0-999/*"))
        #expect(!ContentRangeCheck.holdsWholeObject(status: 206, contentRange: nil))
    }

    @Test func anAddressEndpointIsAddressedByPath() throws {
        #expect(try StoreEndpoint("http://127.0.0.1:9000").isIPAddress)
        #expect(try StoreEndpoint("http://[::1]:9000").isIPAddress)
        #expect(try !StoreEndpoint("https://oss-cn-hangzhou.aliyuncs.com").isIPAddress)
        #expect(try !StoreEndpoint("http://localhost:9000").isIPAddress)
    }

    /// A key and secret written into the endpoint were repeated whole in the refusal, which
    /// goes to the log and the console's list of errors.
    @Test func credentialsInAnEndpointAreRefusedUnrepeated() {
        for text in ["http://AKX:UrlUserinfoSecret81@127.0.0.1:45100", "https://AKX:Url/Secret@store.example/"] {
            do {
                _ = try StoreEndpoint(text)
                Issue.record("\(text) was taken")
            } catch {
                let said = "\(error)"
                #expect(!said.contains("Secret") && said.contains("***@"), "\(said)")
            }
        }
    }
}
