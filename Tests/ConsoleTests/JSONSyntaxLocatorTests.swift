@testable import Console
import Foundation
import Testing

@Suite struct JSONSyntaxLocatorTests {
    private func fault(_ text: String) -> JSONSyntaxLocator.Fault? {
        JSONSyntaxLocator.firstFault(in: Array(text.utf8))
    }

    private static let config = """
        {
          "modules": {
            "accounts": [
              {"login_username": "ann", "home_dir": "/exports/ü", "escaped": "a\\"b\\u00fc\\\\"}
            ],
            "ossftp": {"port": 2048, "ratio": -1.5e-3, "on": true, "off": false, "none": null}
          }
        }

        """

    @Test func acceptsJSONAndTheTrailingCommasTheDecoderTakes() {
        #expect(fault(Self.config) == nil)
        #expect(fault("\u{FEFF}{}") == nil)
        #expect(fault("[1, 2, ]") == nil)
        #expect(fault("{\"a\": 1,\n}") == nil)
        #expect(fault("  \"just a string\" ") == nil)
    }

    @Test func namesTheLineColumnAndFault() {
        #expect(fault("{\n  \"port\": 2048, // FTP\n}") == .init(line: 2, column: 17, message: "comments are not JSON"))
        #expect(fault("{\n  'port': 2048\n}")
            == .init(line: 2, column: 3, message: "strings take double quotes, not single ones"))
        #expect(fault("{\"a\": 1 \"b\": 2}")
            == .init(line: 1, column: 9, message: "found '\"', expected ',' or '}' after a value in the object opened on line 1"))
        #expect(fault("{\"a\" 1}") == .init(line: 1, column: 6, message: "found '1', expected ':' after the key"))
        #expect(fault("{\"a\": 08}")
            == .init(line: 1, column: 7, message: "a number does not start with 0 (write 8, not 08)"))
        #expect(fault("{\"a\": 1.}") == .init(line: 1, column: 9, message: "a number needs a digit after its '.'"))
        #expect(fault("{\"a\": \"x\\q\"}")
            == .init(line: 1, column: 9, message: "unknown escape in a string (write \\\\ for a backslash)"))
        #expect(fault("{\"a\": \"x\\u12\"}")
            == .init(line: 1, column: 9, message: "\\u takes four hexadecimal digits"))
        #expect(fault("{\"a\": \"x\ty\"}")
            == .init(line: 1, column: 9, message: "a control character inside a string (write it as an escape such as \\t)"))
        #expect(fault("{\n\"a\": \"INFO,\n\"b\": 1}")
            == .init(line: 2, column: 12, message: "the string opened on line 2, column 6 is not closed on its line"))
        #expect(fault("{\"a\": NaN}") == .init(
            line: 1, column: 7,
            message: "found 'N', expected a value (a string in double quotes, a number, true, false, null, { or [)"))
        #expect(fault("{} {}") == .init(line: 1, column: 4, message: "text after the end of the document"))
        #expect(fault("") == .init(line: 1, column: 1, message: "the text ends where a value should be"))
        #expect(fault("[\n[1,\n") == .init(line: 3, column: 1, message: "the text ends inside the array opened on line 2"))
    }

    @Test func columnsCountCharactersNotBytes() {
        #expect(fault("{\"ü\": x}")?.column == 7)
    }

    @Test func refusesBytesThatAreNotUTF8InStrings() {
        for bad: [UInt8] in [[0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF]] {
            let text = Array("{\"a\": \"x".utf8) + bad + Array("y\"}".utf8)
            #expect(JSONSyntaxLocator.firstFault(in: text)
                == .init(line: 1, column: 9, message: "a byte that is not UTF-8 inside a string (save the file as UTF-8)"))
        }
        #expect(JSONSyntaxLocator.firstFault(in: Array("{\"a\": \"\u{10FFFF}\u{E9}\"}".utf8)) == nil)
    }

    @Test func refusesNestingWithoutBoundAsFoundationDoes() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(fault(deep)?.message == "nested more than 512 deep")
        // Containers count, not the scalar inside them.
        for depth in [512, 513] {
            let text = String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth)
            let foundation = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) != nil
            #expect((fault(text) == nil) == foundation, "depth \(depth)")
        }
    }

    @Test func surrogateEscapesComeInPairs() {
        #expect(fault("[\"\\ud83d\\ude00\"]") == nil)
        #expect(fault("[\"\\uD800\"]")?.message == "a high surrogate \\u escape not followed by a low one")
        #expect(fault("[\"\\uDC00\"]")?.message == "a lone low surrogate \\u escape")
        #expect(fault("[\"\\uD800\\u0041\"]") != nil)
    }

    @Test func aByteOrderMarkIsNoColumn() {
        #expect(fault("\u{FEFF}{x}") == .init(line: 1, column: 2, message: "found 'x', expected a key in double quotes"))
    }

    /// Every cut of a valid text, and every byte of it replaced, is judged as Foundation's own
    /// parser judges it: a fault where it refuses the text, none where it takes it.
    @Test func agreesWithFoundationOnEveryCutAndChangedByte() {
        let bytes = Array(Self.config.utf8)
        var variants: [[UInt8]] = (0..<bytes.count).map { Array(bytes[..<$0]) }
        for index in bytes.indices {
            for replacement in Array("\"{}[],: x0\\/'\n".utf8) where replacement != bytes[index] {
                var changed = bytes
                changed[index] = replacement
                variants.append(changed)
            }
        }
        var disagreements: [String] = []
        for variant in variants {
            // Both of Foundation's parsers: JSONSerialization, and JSONDecoder, which reads
            // config.json (decoding every value, so that each string and number is read).
            let serialization = (try? JSONSerialization.jsonObject(with: Data(variant), options: .fragmentsAllowed)) != nil
            let decoder = (try? JSONDecoder().decode(AnyJSON.self, from: Data(variant))) != nil
            if serialization != decoder {
                disagreements.append("Foundation's two parsers: \(String(decoding: variant, as: UTF8.self))")
            }
            let foundation = serialization && decoder
            let located = JSONSyntaxLocator.firstFault(in: variant)
            if foundation != (located == nil) {
                disagreements.append("\(String(decoding: variant, as: UTF8.self)) -> \(located.map(\.description) ?? "nil")")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }
}

/// Any JSON value, every part of it decoded.
private enum AnyJSON: Decodable {
    case null, bool(Bool), number(Double), string(String), array([AnyJSON]), object([String: AnyJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([AnyJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: AnyJSON].self))
        }
    }
}
