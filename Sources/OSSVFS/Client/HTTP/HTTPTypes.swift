/// A request as the transport sends it.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The full URL, already encoded.
    public var url: String
    /// Headers with lower-case names.
    public var headers: [String: String]
    public var body: ObjectBody?
    /// The API operation (`PutObject`, `ListObjects`...): the label of the store metrics.
    public var operation = ""

    public init(method: String, url: String, headers: [String: String] = [:], body: ObjectBody? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// Whether a cancelled task stops the request (within about a second) instead of waiting
    /// for its answer: reads, and part uploads, whose loss changes nothing stored. A request
    /// that changes what is stored (a PUT of an object, a completion, a copy, a delete) runs to
    /// its answer, so that a client who went away does not leave its outcome unknown, and the
    /// clean-up after a cancelled upload still reaches the store.
    public var stopsWhenCancelled: Bool {
        method == "GET" || method == "HEAD" || operation == "UploadPart"
    }

    /// Whether repeating the request cannot do harm (RFC 9110 §9.2.2).
    public var isIdempotent: Bool {
        ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"].contains(method)
    }
}

/// Status and headers of a response.
public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    /// Headers with lower-case names; repeated headers keep the last value.
    public var headers: [String: String]

    public init(status: Int, headers: [String: String]) {
        self.status = status
        self.headers = headers
    }
}

/// A whole response, body included (for the small XML answers of the APIs).
public struct HTTPResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: [UInt8]

    public var status: Int { head.status }
    public var headers: [String: String] { head.headers }
}

/// A failure to get any answer.
public struct HTTPTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libcurl's error code.
    public var code: Int32
    public var message: String

    public var description: String { "transport error \(code): \(message)" }

    /// A transfer ended, or refused, by ``CurlTransport/stop()`` (CURLE_ABORTED_BY_CALLBACK):
    /// never tried again.
    public static let stopped = HTTPTransportError(code: 42, message: "the transport was stopped (shutting down)")

    /// Whether the request may have reached the server; connection failures before sending may not.
    public var isConnectionFailure: Bool {
        // CURLE_COULDNT_RESOLVE_HOST 6, COULDNT_CONNECT 7, OPERATION_TIMEDOUT 28, SEND_ERROR 55,
        // RECV_ERROR 56, GOT_NOTHING 52, SSL_CONNECT_ERROR 35, PARTIAL_FILE 18, and
        // SEND_FAIL_REWIND 65 (a dead kept-alive connection whose request libcurl could not
        // send again itself).
        [6, 7, 18, 28, 35, 52, 55, 56, 65].contains(code)
    }

    /// What went wrong, in words that name no host, port or address (libcurl's messages name
    /// the store's): for FTP clients, who need not learn where the store is. The log keeps
    /// ``description``.
    public var summary: String {
        switch code {
        case 6: "the store's host name does not resolve"
        case 7: "cannot connect to the store"
        case 28: "the store did not answer in time"
        case 35, 51, 53, 54, 58, 59, 60, 66, 77, 80, 83, 90, 91: "the TLS connection to the store failed"
        case 18, 52, 55, 56, 65: "the connection to the store broke"
        case 42: "the server is stopping"
        // libcurl 7.x says out of memory (27), later ones too large (100), for an answer whose
        // headers pass its 300 KB limit: an object with that much metadata, which another tool
        // stored where the store allows it (AWS keeps 2 KB).
        case 27, 100: "the store's answer is larger than it may be (over 300 KB of headers: the object's metadata)"
        default: "the store could not be reached (libcurl error \(code))"
        }
    }

}
