import CCurl
import Foundation

/// HTTP over libcurl. Each transfer runs on one of a fixed set of worker threads, never on a
/// NIO event loop or the cooperative pool; each thread keeps one easy handle, so connections
/// are reused (keep-alive) from one request to the next. Response bodies stream through a
/// ``BodyPipe`` with a bounded buffer.
public final class CurlTransport: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Transfers that may run at once (worker threads).
        public var maxConcurrentTransfers: Int
        public var connectTimeoutMilliseconds: Int
        /// A transfer slower than `lowSpeedLimit` bytes/s for this long is aborted.
        public var lowSpeedTimeSeconds: Int
        public var lowSpeedLimit: Int
        /// Bytes of a response body held in memory per transfer.
        public var bodyBufferSize: Int

        public init(maxConcurrentTransfers: Int = 32, connectTimeoutMilliseconds: Int = 10_000,
                    lowSpeedTimeSeconds: Int = 20, lowSpeedLimit: Int = 1, bodyBufferSize: Int = 1 << 20) {
            self.maxConcurrentTransfers = maxConcurrentTransfers
            self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
            self.lowSpeedTimeSeconds = lowSpeedTimeSeconds
            self.lowSpeedLimit = lowSpeedLimit
            self.bodyBufferSize = bodyBufferSize
        }
    }

    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    let configuration: Configuration
    /// Set by ``stop()``: shared with every job, whose progress callback reads it.
    private let stopped = LockedBox(false)
    private let condition = NSCondition()
    private var jobs: [CurlJob] = []
    private var threads = 0
    private var idle = 0

    public init(configuration: Configuration = Configuration()) {
        _ = Self.globalInit
        self.configuration = configuration
    }

    /// Ends every transfer running or queued, within about a second, and fails every later
    /// one at once, with ``HTTPTransportError/stopped``: for a process that is going away and
    /// must not wait out a store that does not answer (what was not stored stays in the
    /// upload journal for the next start).
    public func stop() {
        stopped.withValue { $0 = true }
        condition.lock()
        let queued = jobs
        jobs = []
        condition.unlock()
        for job in queued { job.fail(HTTPTransportError.stopped) }
    }

    /// Starts a request and returns once the response head arrived; the body follows as a stream.
    public func start(_ request: HTTPRequest) async throws -> (HTTPResponseHead, ObjectByteStream) {
        if stopped.value { throw HTTPTransportError.stopped }
        let cancellable = request.stopsWhenCancelled
        if cancellable { try Task.checkCancellation() }
        let pipe = BodyPipe(capacity: configuration.bodyBufferSize, followsTaskCancellation: cancellable,
                            parks: BodyPipe.parksWhenUnread)
        let job = CurlJob(request: request, pipe: pipe, stopped: stopped)
        guard cancellable else {
            let head = try await withCheckedThrowingContinuation { continuation in
                if job.attach(continuation) { enqueue(job) }
            }
            return (head, ObjectByteStream(source: pipe))
        }
        // ABOR, or a client gone, cancels the task: the wait for the answer ends at once, and
        // the transfer within about a second (the progress callback), where the low-speed limit
        // and the retries would have held a frozen store's request for a minute.
        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if job.attach(continuation) { enqueue(job) }
            }
        } onCancel: {
            job.cancel()
        }
        return (head, ObjectByteStream(source: pipe))
    }

    /// Sends a request and collects the whole body (at most `maxBodySize` bytes).
    public func send(_ request: HTTPRequest, maxBodySize: Int = 16 << 20) async throws -> HTTPResponse {
        let (head, stream) = try await start(request)
        var body: [UInt8] = []
        for try await chunk in stream {
            body += chunk
            if body.count > maxBodySize {
                stream.cancel()
                throw HTTPTransportError(code: 23, message: "response body over \(maxBodySize) bytes")
            }
        }
        return HTTPResponse(head: head, body: body)
    }

    private func enqueue(_ job: CurlJob) {
        condition.lock()
        jobs.append(job)
        // More waiting jobs than waiting workers: another thread, or a job would sit in the queue
        // behind transfers that may be waiting for it (a streamed body is read only after the
        // next range's headers arrive).
        if jobs.count > idle && threads < configuration.maxConcurrentTransfers {
            threads += 1
            let thread = Thread { [self] in workerLoop() }
            thread.name = "ossftp-curl-\(threads)"
            thread.start()
        }
        condition.signal()
        condition.unlock()
    }

    private func workerLoop() {
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed") }
        while true {
            condition.lock()
            while jobs.isEmpty {
                idle += 1
                condition.wait()
                idle -= 1
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.run(on: handle, configuration: configuration)
        }
    }
}

/// One transfer's state, shared with libcurl's callbacks.
final class CurlJob: @unchecked Sendable {
    let request: HTTPRequest
    let pipe: BodyPipe
    /// The transport's ``CurlTransport/stop()`` flag.
    let stopped: LockedBox<Bool>
    private var headContinuation: CheckedContinuation<HTTPResponseHead, any Error>?
    /// Set by ``cancel()``: the progress callback then ends the transfer.
    private var cancelled = false
    private let lock = NSLock()
    private var status = 0
    private var headers: [String: String] = [:]
    private var bodyFile: PosixFile?
    private var bodyPosition: UInt64 = 0
    private var bodyRemaining: UInt64 = 0
    // libcurl hands the body over in pieces of at most 16 KiB (CURL_MAX_WRITE_SIZE); they are
    // gathered into larger chunks so the consumer wakes up once per chunk, not per piece.
    private var gathered: [UInt8] = []
    private static let chunkSize = 256 * 1024

    init(request: HTTPRequest, pipe: BodyPipe, stopped: LockedBox<Bool>) {
        self.request = request
        self.pipe = pipe
        self.stopped = stopped
    }

    /// Takes the continuation that waits for the response head; false (and the continuation
    /// resumed with `CancellationError`) when the job was cancelled first.
    func attach(_ continuation: CheckedContinuation<HTTPResponseHead, any Error>) -> Bool {
        lock.lock()
        guard !cancelled else {
            lock.unlock()
            continuation.resume(throwing: CancellationError())
            return false
        }
        headContinuation = continuation
        lock.unlock()
        return true
    }

    /// The waiting task was cancelled: its wait ends now, and the transfer at the next
    /// progress callback (or before it starts, if still queued).
    func cancel() {
        lock.lock()
        cancelled = true
        lock.unlock()
        _ = failHead(CancellationError())
    }

    /// Whether the transfer should end: the transport stopped, the waiting task cancelled, or
    /// the body's reader gone (a reader that stops reading a store that stopped sending would
    /// otherwise hold this thread until the low-speed limit).
    var shouldEnd: Bool {
        if stopped.value || pipe.isCancelled { return true }
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }

    /// Ends a job that never ran.
    func fail(_ error: HTTPTransportError) {
        if !failHead(error) { pipe.finish(error) }
    }

    func run(on handle: UnsafeMutableRawPointer, configuration: CurlTransport.Configuration) {
        if stopped.value { return fail(HTTPTransportError.stopped) }
        if shouldEnd { return fail(HTTPTransportError(code: 42, message: "cancelled before it started")) }
        curl_easy_reset(handle)
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        let context = Unmanaged.passUnretained(self).toOpaque()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            _ = ccurl_setopt_str(handle, CURLOPT_URL, request.url)
            _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = ccurl_setopt_long(handle, CURLOPT_PATH_AS_IS, 1)
            _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
            // Larger socket reads and writes than the defaults; each handle keeps its buffers for
            // as long as its thread lives, so they stay moderate.
            _ = ccurl_setopt_long(handle, CURLOPT_BUFFERSIZE, 256 * 1024)
            _ = ccurl_setopt_long(handle, CURLOPT_UPLOAD_BUFFERSIZE, 128 * 1024)
            _ = ccurl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
            _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeoutMilliseconds)
            _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, configuration.lowSpeedTimeSeconds)
            _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, configuration.lowSpeedLimit)
            _ = ccurl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
            _ = ccurl_setopt_writefn(handle, curlWrite)
            _ = ccurl_setopt_ptr(handle, CURLOPT_WRITEDATA, context)
            _ = ccurl_setopt_headerfn(handle, curlHeader)
            _ = ccurl_setopt_ptr(handle, CURLOPT_HEADERDATA, context)
            // Called about once a second even while nothing moves: how stop() reaches a
            // transfer the store never answers.
            _ = ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
            _ = ccurl_setopt_xferinfofn(handle, curlProgress)
            _ = ccurl_setopt_ptr(handle, CURLOPT_XFERINFODATA, context)
            let length = Int64(request.body?.length ?? 0)
            switch request.method {
            case "HEAD":
                _ = ccurl_setopt_long(handle, CURLOPT_NOBODY, 1)
            case "GET":
                _ = ccurl_setopt_long(handle, CURLOPT_HTTPGET, 1)
            case "PUT":
                _ = ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                _ = ccurl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
            case "POST":
                _ = ccurl_setopt_long(handle, CURLOPT_POST, 1)
                _ = ccurl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(length))
            default:
                _ = ccurl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, request.method)
            }
            if request.method == "PUT" || request.method == "POST" {
                _ = ccurl_setopt_readfn(handle, curlRead)
                _ = ccurl_setopt_ptr(handle, CURLOPT_READDATA, context)
                // A kept-alive connection the store dropped (it restarted) is found dead only
                // once the request is under way: libcurl then sends it again on a new
                // connection, which needs the body from its start. Without this it failed with
                // "necessary data rewind wasn't possible" (65).
                _ = ccurl_setopt_seekfn(handle, curlSeek)
                _ = ccurl_setopt_ptr(handle, CURLOPT_SEEKDATA, context)
            }
            // libcurl drops a header with nothing after its colon; `name;` sends it empty (an
            // empty user metadata value, signed as such, was not sent, and the request refused).
            var headerLines = request.headers.map { $0.value.isEmpty ? "\($0.key);" : "\($0.key): \($0.value)" }
            // No 100-continue round trip; and no form content type on POST unless the caller set one.
            headerLines.append("Expect:")
            if request.headers["content-type"] == nil { headerLines.append("Content-Type:") }
            for line in headerLines { list = curl_slist_append(list, line) }
            _ = ccurl_setopt_ptr(handle, CURLOPT_HTTPHEADER, list)
            return curl_easy_perform(handle)
        }
        try? bodyFile?.close()
        bodyFile = nil
        if code == CURLE_OK {
            deliverHead()
            _ = flushGathered()
            pipe.finish(nil)
        } else {
            let detail = String(cString: errorBuffer)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            let error = code == CURLE_ABORTED_BY_CALLBACK && stopped.value
                ? HTTPTransportError.stopped : HTTPTransportError(code: Int32(code.rawValue), message: message)
            if !failHead(error) { pipe.finish(pipe.isCancelled ? nil : error) }
        }
    }

    // MARK: callbacks (on the curl thread)

    fileprivate func received(header line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") {
            let parts = trimmed.split(separator: " ")
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = [:]
        } else if let colon = trimmed.firstIndex(of: ":") {
            let name = trimmed[..<colon].lowercased()
            headers[name] = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }

    fileprivate func received(body bytes: UnsafeRawBufferPointer) -> Bool {
        deliverHead()
        if gathered.isEmpty { gathered.reserveCapacity(Self.chunkSize) }
        gathered.append(contentsOf: bytes)
        guard gathered.count >= Self.chunkSize else { return !pipe.isCancelled }
        return flushGathered()
    }

    private func flushGathered() -> Bool {
        guard !gathered.isEmpty else { return true }
        let chunk = gathered
        gathered = []
        return pipe.push(chunk)
    }

    fileprivate func fill(_ buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int? {
        guard let body = request.body else { return 0 }
        switch body {
        case .bytes(let bytes):
            let start = Int(bodyPosition)
            let count = min(capacity, bytes.count - start)
            guard count > 0 else { return 0 }
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + start, byteCount: count)
            }
            bodyPosition += UInt64(count)
            return count
        case .file(let path, let offset, let length, _):
            do {
                if bodyFile == nil {
                    bodyFile = try PosixFile.openForReading(path)
                    bodyPosition = offset
                    bodyRemaining = length
                }
                guard bodyRemaining > 0, let file = bodyFile else { return 0 }
                // Straight from the file into libcurl's buffer: no copy in between.
                let wanted = Int(min(UInt64(capacity), bodyRemaining))
                let count = try file.read(at: bodyPosition, into: UnsafeMutableRawBufferPointer(start: buffer, count: wanted))
                guard count > 0 else { return nil }
                bodyPosition += UInt64(count)
                bodyRemaining -= UInt64(count)
                return count
            } catch {
                return nil
            }
        }
    }

    /// Moves the body back to `offset` bytes from its start (libcurl asks for 0 to send the
    /// request again); false when that is outside the body.
    fileprivate func rewind(to offset: UInt64) -> Bool {
        guard let body = request.body, offset <= body.length else { return false }
        switch body {
        case .bytes:
            bodyPosition = offset
        case .file(let path, let start, let length, _):
            if bodyFile == nil {
                guard let file = try? PosixFile.openForReading(path) else { return false }
                bodyFile = file
            }
            bodyPosition = start + offset
            bodyRemaining = length - offset
        }
        return true
    }

    private func deliverHead() {
        lock.lock()
        let continuation = headContinuation
        headContinuation = nil
        lock.unlock()
        continuation?.resume(returning: HTTPResponseHead(status: status, headers: headers))
    }

    /// Fails the head if it was not delivered yet; returns whether it did.
    private func failHead(_ error: any Error) -> Bool {
        lock.lock()
        let continuation = headContinuation
        headContinuation = nil
        lock.unlock()
        guard let continuation else { return false }
        continuation.resume(throwing: error)
        return true
    }
}

private let curlSeek: ccurl_seek_cb = { context, offset, origin in
    let job = Unmanaged<CurlJob>.fromOpaque(context!).takeUnretainedValue()
    guard origin == SEEK_SET, offset >= 0, job.rewind(to: UInt64(offset)) else { return Int32(CURL_SEEKFUNC_CANTSEEK) }
    return Int32(CURL_SEEKFUNC_OK)
}

private let curlWrite: ccurl_data_cb = { pointer, size, count, context in
    let job = Unmanaged<CurlJob>.fromOpaque(context!).takeUnretainedValue()
    let total = size * count
    // Returning less than `total` makes libcurl stop the transfer (the reader went away).
    return job.received(body: UnsafeRawBufferPointer(start: pointer, count: total)) ? total : 0
}

private let curlHeader: ccurl_data_cb = { pointer, size, count, context in
    let job = Unmanaged<CurlJob>.fromOpaque(context!).takeUnretainedValue()
    let total = size * count
    job.received(header: String(decoding: UnsafeRawBufferPointer(start: pointer, count: total), as: UTF8.self))
    return total
}

private let curlRead: ccurl_data_cb = { pointer, size, count, context in
    let job = Unmanaged<CurlJob>.fromOpaque(context!).takeUnretainedValue()
    guard let filled = job.fill(pointer!, capacity: size * count) else { return Int(CURL_READFUNC_ABORT) }
    return filled
}

private let curlProgress: ccurl_xferinfo_cb = { context, _, _, _, _ in
    let job = Unmanaged<CurlJob>.fromOpaque(context!).takeUnretainedValue()
    return job.shouldEnd ? 1 : 0
}
