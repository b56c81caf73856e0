/// Finds where a JSON text first stops being JSON, for an error a person can act on.
/// Foundation's decoder refuses such a text with "The given data was not valid JSON." and no
/// place; a config.json edited by hand is refused with its line and column instead
/// ("line 27, column 22: comments are not JSON").
///
/// RFC 8259's grammar, except that a comma may end an object or an array: Foundation's decoder
/// takes that, and the place reported is the fault the decoder refused, not one it passed.
public struct JSONSyntaxLocator {
    /// A fault: 1-based line and column (in characters) and what is wrong there.
    public struct Fault: Error, Equatable, Sendable, CustomStringConvertible {
        public var line: Int
        public var column: Int
        public var message: String
        public var description: String { "line \(line), column \(column): \(message)" }
    }

    private let bytes: [UInt8]
    private var index = 0

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The first fault of `bytes`, or nil when they are one JSON value (with white space around).
    public static func firstFault(in bytes: [UInt8]) -> Fault? {
        var locator = JSONSyntaxLocator(bytes)
        do throws(Fault) {
            // A UTF-8 byte order mark is taken, as the decoder takes it.
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { locator.index = 3 }
            try locator.value(depth: 0)
            locator.skipSpace()
            if locator.index < bytes.count { throw locator.fault("text after the end of the document") }
            return nil
        } catch {
            return error
        }
    }

    // Deep enough for any configuration; a text nested deeper is refused rather than recursed
    // into without bound.
    private static let maxDepth = 512

    private mutating func value(depth: Int) throws(Fault) {
        skipSpace()
        guard index < bytes.count else { throw fault("the text ends where a value should be") }
        switch bytes[index] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            // Containers count, as Foundation counts them: 512 of them nested are taken.
            guard depth < Self.maxDepth else { throw fault("nested more than \(Self.maxDepth) deep") }
            try container(close: bytes[index] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]"), depth: depth)
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: throw unexpected("a value (a string in double quotes, a number, true, false, null, { or [)")
        }
    }

    /// An object (`close` is `}`: key, colon, value) or an array, from its opening bracket.
    private mutating func container(close: UInt8, depth: Int) throws(Fault) {
        let isObject = close == UInt8(ascii: "}")
        let opening = index
        // Worked out only for a fault: a line count per container would make a long text slow.
        var name: String {
            "the \(isObject ? "object" : "array") opened on line \(position(of: opening).line)"
        }
        index += 1
        var first = true
        while true {
            skipSpace()
            guard index < bytes.count else { throw fault("the text ends inside \(name)") }
            if bytes[index] == close {
                index += 1
                return
            }
            if !first {
                guard bytes[index] == UInt8(ascii: ",") else {
                    throw unexpected("',' or '\(Character(Unicode.Scalar(close)))' after a value in \(name)")
                }
                index += 1
                skipSpace()
                guard index < bytes.count else { throw fault("the text ends inside \(name)") }
                if bytes[index] == close {
                    index += 1
                    return
                }
            }
            first = false
            if isObject {
                guard bytes[index] == UInt8(ascii: "\"") else { throw unexpected("a key in double quotes") }
                try string()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw unexpected("':' after the key")
                }
                index += 1
            }
            try value(depth: depth + 1)
        }
    }

    private mutating func string() throws(Fault) {
        let start = index
        var opening: (line: Int, column: Int) { position(of: start) }
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { break }
                switch bytes[index] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    index -= 1
                    guard let unit = hexEscape(at: index) else { throw fault("\\u takes four hexadecimal digits") }
                    // UTF-16 surrogates come in pairs, a high one escaped just before a low one;
                    // alone, they name no character (Foundation refuses them).
                    if (0xDC00...0xDFFF).contains(unit) { throw fault("a lone low surrogate \\u escape") }
                    if (0xD800...0xDBFF).contains(unit) {
                        guard let low = hexEscape(at: index + 6), (0xDC00...0xDFFF).contains(low) else {
                            throw fault("a high surrogate \\u escape not followed by a low one")
                        }
                        index += 6
                    }
                    index += 6
                default:
                    index -= 1
                    throw fault("unknown escape in a string (write \\\\ for a backslash)")
                }
            case 0..<0x20:
                throw fault(byte == UInt8(ascii: "\n")
                    ? "the string opened on line \(opening.line), column \(opening.column) is not closed on its line"
                    : "a control character inside a string (write it as an escape such as \\t)")
            case 0x80...:
                guard let length = Self.utf8Length(bytes[index...]) else {
                    throw fault("a byte that is not UTF-8 inside a string (save the file as UTF-8)")
                }
                index += length
            default:
                index += 1
            }
        }
        throw fault("the string opened on line \(opening.line), column \(opening.column) is not closed")
    }

    /// The UTF-16 unit of the `\uXXXX` escape at `offset` (its backslash), or nil.
    private func hexEscape(at offset: Int) -> UInt16? {
        guard offset + 6 <= bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
        else { return nil }
        let digits = bytes[(offset + 2)..<(offset + 6)]
        guard digits.allSatisfy({ $0.isHexDigit }) else { return nil }
        return UInt16(String(decoding: digits, as: UTF8.self), radix: 16)
    }

    /// The length of the well-formed UTF-8 sequence `bytes` starts with (Unicode's table 3-7:
    /// no overlong forms, no surrogates, nothing past U+10FFFF), or nil.
    private static func utf8Length(_ bytes: ArraySlice<UInt8>) -> Int? {
        let lead = bytes[bytes.startIndex]
        let (length, second): (Int, ClosedRange<UInt8>)
        switch lead {
        case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
        case 0xE0: (length, second) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, second) = (3, 0x80...0xBF)
        case 0xED: (length, second) = (3, 0x80...0x9F)
        case 0xF0: (length, second) = (4, 0x90...0xBF)
        case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
        case 0xF4: (length, second) = (4, 0x80...0x8F)
        default: return nil
        }
        let rest = bytes.dropFirst().prefix(length - 1)
        guard rest.count == length - 1, second.contains(rest[rest.startIndex]),
            rest.dropFirst().allSatisfy({ (0x80...0xBF).contains($0) })
        else { return nil }
        return length
    }

    private mutating func number() throws(Fault) {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits(_ locator: inout JSONSyntaxLocator) -> Int {
            let from = locator.index
            while locator.index < locator.bytes.count, locator.bytes[locator.index].isDigit { locator.index += 1 }
            return locator.index - from
        }
        let whole = index
        guard digits(&self) > 0 else { throw fault("a number needs a digit here") }
        if bytes[whole] == UInt8(ascii: "0") && index - whole > 1 {
            index = start
            throw fault("a number does not start with 0 (write 8, not 08)")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw fault("a number needs a digit after its '.'") }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw fault("a number needs a digit in its exponent") }
        }
    }

    private mutating func literal(_ word: String) throws(Fault) {
        let expected = Array(word.utf8)
        guard bytes[index...].starts(with: expected) else {
            throw unexpected("a value (a string in double quotes, a number, true, false, null, { or [)")
        }
        index += expected.count
    }

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }

    /// A fault at the current byte that names what is there and what should be.
    private func unexpected(_ expected: String) -> Fault {
        guard index < bytes.count else { return fault("the text ends where \(expected) should be") }
        let here = bytes[index]
        if here == UInt8(ascii: "/"), index + 1 < bytes.count,
            bytes[index + 1] == UInt8(ascii: "/") || bytes[index + 1] == UInt8(ascii: "*")
        {
            return fault("comments are not JSON")
        }
        if here == UInt8(ascii: "'") { return fault("strings take double quotes, not single ones") }
        let shown = here < 0x20 || here >= 0x7F ? "byte 0x\(String(here, radix: 16, uppercase: true))" : "'\(Character(Unicode.Scalar(here)))'"
        return fault("found \(shown), expected \(expected)")
    }

    private func fault(_ message: String) -> Fault {
        let (line, column) = position(of: index)
        return Fault(line: line, column: column, message: message)
    }

    /// The 1-based line and column of the byte at `offset`; columns count characters (UTF-8
    /// continuation bytes are not counted).
    private func position(of offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        // A byte order mark is no character of the first line.
        let start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? min(3, offset) : 0
        for byte in bytes[start..<max(start, min(offset, bytes.count))] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }
}

extension UInt8 {
    fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    fileprivate var isHexDigit: Bool { isDigit || (self | 0x20 >= UInt8(ascii: "a") && self | 0x20 <= UInt8(ascii: "f")) }
}
