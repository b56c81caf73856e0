import Foundation

/// Finds a key written twice in one JSON object. JSON leaves the meaning of such a file open
/// (RFC 8259 §4: names "SHOULD be unique"): Foundation's decoder keeps the first, most tools
/// (Python's json, jq) the last. A config.json with `"permissions"` twice would be read by
/// ossftp one way and by the tool that wrote it another, so such a file is refused; so is a
/// console request written so.
public enum JSONDuplicateKeyScanner {
    /// The first key that repeats within its object, with its 1-based line; nil when none does.
    /// The text is assumed to be JSON otherwise; the decoder reports any other fault.
    public static func firstDuplicate(in bytes: [UInt8]) -> (key: String, line: Int)? {
        // One entry per open container: the keys seen so far (their bytes once unescaped), or
        // nil for an array.
        var containers: [Set<[UInt8]>?] = []
        // Whether the next string in the current object is a key (after `{` or `,`).
        var expectingKey = false
        var line = 1
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\n"):
                line += 1
            case UInt8(ascii: "{"):
                containers.append([])
                expectingKey = true
            case UInt8(ascii: "["):
                containers.append(nil)
                expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !containers.isEmpty { containers.removeLast() }
                expectingKey = false
            case UInt8(ascii: ","):
                expectingKey = containers.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                let start = index + 1
                index = start
                // To the closing quote; an escaped quote does not end the string.
                var escaped = false
                while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
                    if bytes[index] == UInt8(ascii: "\\") {
                        escaped = true
                        index += 1
                    }
                    index += 1
                }
                if expectingKey, var keys = containers.last ?? nil {
                    let written = Array(bytes[start..<min(index, bytes.count)])
                    // Compared as the decoder reads them: `"permi\u0073sions"` is `"permissions"`
                    // (compared as written, it passed, and a console edit then kept the other one).
                    let key = escaped ? unescaped(written) ?? written : written
                    if keys.contains(key) { return (String(decoding: key, as: UTF8.self), line) }
                    keys.insert(key)
                    containers[containers.count - 1] = keys
                }
                expectingKey = false
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// The bytes of a JSON string's text (between its quotes) with its escapes decoded.
    private static func unescaped(_ written: [UInt8]) -> [UInt8]? {
        let quoted = Data([UInt8(ascii: "\"")] + written + [UInt8(ascii: "\"")])
        guard let text = try? JSONSerialization.jsonObject(with: quoted, options: .fragmentsAllowed) as? String else {
            return nil
        }
        return Array(text.utf8)
    }
}
