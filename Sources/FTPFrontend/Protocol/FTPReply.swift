import Foundation

/// A reply of the server: a typed code and its text lines (RFC 959 §4.2).
///
/// Replies are values, never strings with a code glued on; ``encoded()`` writes the one
/// wire format, multi-line when there is more than one line.
public struct FTPReply: Equatable, Sendable, Error {
    public var code: Code
    public var lines: [String]

    public init(_ code: Code, _ text: String) {
        self.code = code
        self.lines = [text]
    }

    public init(_ code: Code, lines: [String]) {
        precondition(!lines.isEmpty, "a reply has at least one line")
        self.code = code
        self.lines = lines
    }

    /// The reply as sent: `ddd text\r\n`, or `ddd-first\r\n … ddd last\r\n`.
    ///
    /// Intermediate lines are sent as given; a line that would look like a final line
    /// (`ddd ` at its start) is indented by one space so clients do not stop early.
    public func encoded() -> [UInt8] {
        let code = String(self.code.rawValue)
        var text = ""
        for (index, line) in lines.enumerated() {
            let clean = Self.singleLine(line)
            if index == lines.count - 1 {
                text += "\(code) \(clean)\r\n"
            } else if index == 0 {
                text += "\(code)-\(clean)\r\n"
            } else {
                text += clean.hasPrefix("\(code) ") ? " \(clean)\r\n" : "\(clean)\r\n"
            }
        }
        return Array(text.utf8)
    }

    // A CR or LF inside a reply line would let a file name forge a reply.
    private static func singleLine(_ line: String) -> String {
        // Scalars, not Characters: "\r\n" is one Character in Swift.
        var scalars = String.UnicodeScalarView()
        for scalar in line.unicodeScalars {
            scalars.append(scalar == "\r" || scalar == "\n" ? " " : scalar)
        }
        return String(scalars)
    }

    /// Reply codes, named by meaning (RFC 959 §4.2.1, RFC 2228, RFC 2428, RFC 3659).
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let openingDataConnection = Code(rawValue: 150)
        public static let ok = Code(rawValue: 200)
        public static let superfluous = Code(rawValue: 202)
        public static let systemStatus = Code(rawValue: 211)
        public static let directoryStatus = Code(rawValue: 212)
        public static let fileStatus = Code(rawValue: 213)
        public static let help = Code(rawValue: 214)
        public static let systemType = Code(rawValue: 215)
        public static let serviceReady = Code(rawValue: 220)
        public static let closingControl = Code(rawValue: 221)
        public static let closingDataConnection = Code(rawValue: 226)
        public static let enteringPassiveMode = Code(rawValue: 227)
        public static let enteringExtendedPassiveMode = Code(rawValue: 229)
        public static let loggedIn = Code(rawValue: 230)
        public static let fileActionOK = Code(rawValue: 250)
        public static let pathCreated = Code(rawValue: 257)
        public static let securityExchangeOK = Code(rawValue: 234)
        public static let needPassword = Code(rawValue: 331)
        public static let pendingFurtherInformation = Code(rawValue: 350)
        public static let serviceNotAvailable = Code(rawValue: 421)
        public static let cannotOpenDataConnection = Code(rawValue: 425)
        public static let transferAborted = Code(rawValue: 426)
        public static let fileBusy = Code(rawValue: 450)
        public static let localError = Code(rawValue: 451)
        public static let insufficientStorage = Code(rawValue: 452)
        public static let syntaxError = Code(rawValue: 500)
        public static let syntaxErrorInArguments = Code(rawValue: 501)
        public static let notImplemented = Code(rawValue: 502)
        public static let badSequence = Code(rawValue: 503)
        public static let parameterNotImplemented = Code(rawValue: 504)
        public static let networkProtocolNotSupported = Code(rawValue: 522)
        public static let notLoggedIn = Code(rawValue: 530)
        public static let dataProtectionRefused = Code(rawValue: 521)
        public static let policyRefused = Code(rawValue: 534)
        public static let protectionLevelNotSupported = Code(rawValue: 536)
        public static let fileUnavailable = Code(rawValue: 550)
        public static let exceededStorage = Code(rawValue: 552)
        public static let fileNameNotAllowed = Code(rawValue: 553)
    }
}

extension FTPReply {
    /// `257 "path" text`, with embedded quotes doubled (RFC 959 Appendix II).
    static func pathReply(_ path: String, _ text: String) -> FTPReply {
        FTPReply(.pathCreated, "\"\(path.replacingOccurrences(of: "\"", with: "\"\""))\" \(text)")
    }
}
