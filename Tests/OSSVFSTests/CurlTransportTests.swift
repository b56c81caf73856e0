import Foundation
import Testing
@testable import OSSVFS

#if canImport(Glibc)
import Glibc
#endif

/// A TCP server on loopback that accepts connections, reads what comes, and never answers:
/// a store that froze.
final class SilentServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var accepted: [Int32] = []

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            lock.withLock { accepted.append(connection) }
        }
    }

    /// Connections accepted so far.
    var connections: Int { lock.withLock { accepted.count } }

    func close() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        lock.withLock { accepted.forEach { _ = Glibc.close($0) } }
    }
}

/// The transport's handling of a cancelled task, against a server that never answers.
@Suite struct CurlTransportTests {
    /// One worker thread and a low-speed limit (10 s by default), so that a transfer left
    /// running would show as a wait of that long. The bounds below are far from it: the tests
    /// run beside others on two cores.
    func transport(lowSpeedSeconds: Int = 10) -> CurlTransport {
        CurlTransport(configuration: .init(maxConcurrentTransfers: 1, lowSpeedTimeSeconds: lowSpeedSeconds))
    }

    func request(_ method: String, port: Int, operation: String = "") -> HTTPRequest {
        var request = HTTPRequest(method: method, url: "http://127.0.0.1:\(port)/bucket/key",
                                  body: method == "PUT" ? .bytes([1, 2, 3]) : nil)
        request.operation = operation
        return request
    }

    func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// A GET whose task is cancelled ends at once with `CancellationError`, and frees its
    /// worker: the next request on the only worker starts within about a second, not after
    /// the low-speed limit.
    @Test func aCancelledReadEndsAndFreesItsWorker() async throws {
        let server = try SilentServer()
        defer { server.close() }
        let transport = transport()
        let get = request("GET", port: server.port)
        let task = Task { try await transport.start(get) }
        while server.connections < 1 { try await Task.sleep(for: .milliseconds(20)) }
        let cancelled = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(seconds(since: cancelled) < 3)
        let second = Task { try await transport.start(self.request("HEAD", port: server.port)) }
        while server.connections < 2 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(seconds(since: cancelled) < 6)
        second.cancel()
        _ = await second.result
    }

    /// A task cancelled before its request starts never sends it.
    @Test func aReadCancelledBeforeItStartsIsNotSent() async throws {
        let server = try SilentServer()
        defer { server.close() }
        let transport = transport()
        let get = request("GET", port: server.port)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await transport.start(get)
        }
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        try await Task.sleep(for: .milliseconds(300))
        #expect(server.connections == 0)
    }

    /// A request that changes what is stored is not cut short by a cancelled task: it runs to
    /// its answer (here the low-speed limit), so its outcome is known.
    @Test func aCancelledPutRunsToItsEnd() async throws {
        let server = try SilentServer()
        defer { server.close() }
        let transport = transport(lowSpeedSeconds: 3)
        let put = request("PUT", port: server.port, operation: "PutObject")
        #expect(!put.stopsWhenCancelled)
        #expect(request("PUT", port: server.port, operation: "UploadPart").stopsWhenCancelled)
        let started = ContinuousClock.now
        let task = Task { try await transport.start(put) }
        while server.connections < 1 { try await Task.sleep(for: .milliseconds(20)) }
        task.cancel()
        let outcome = await task.result
        guard case .failure(let error) = outcome else {
            Issue.record("a silent server answered")
            return
        }
        #expect(error is HTTPTransportError, "\(error)")
        #expect(seconds(since: started) >= 2.5)
    }

    /// A reader whose task is cancelled while it waits for body bytes gets
    /// `CancellationError`, and so does every later read: a cut body never reads as whole.
    @Test func aCancelledReaderNeverTakesACutBodyForAWholeOne() async throws {
        let pipe = BodyPipe(capacity: 1 << 20, followsTaskCancellation: true)
        #expect(pipe.push([1, 2, 3]))
        let reader = Task { () -> [[UInt8]] in
            var chunks: [[UInt8]] = []
            while let chunk = try await pipe.nextChunk() { chunks.append(chunk) }
            return chunks
        }
        try await Task.sleep(for: .milliseconds(200))
        reader.cancel()
        await #expect(throws: CancellationError.self) { _ = try await reader.value }
        await #expect(throws: CancellationError.self) { _ = try await pipe.nextChunk() }
        #expect(!pipe.push([4]))
    }
}
