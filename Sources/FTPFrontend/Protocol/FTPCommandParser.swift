import Foundation

/// Turns one control line (without its line ending) into a command, or into the reply that
/// refuses it. The login gate is applied here too, from the table.
public enum FTPCommandParser {
    /// The result of parsing: a command with its table entry, or a refusal.
    public enum Outcome: Equatable, Sendable {
        case command(FTPCommand, verb: String)
        case refused(FTPReply)
    }

    /// Removes Telnet commands (RFC 854) that clients put before ABOR and STAT: `IAC IP`,
    /// `IAC DM` (whose DM byte, sent as urgent data, may be missing), option negotiations;
    /// `IAC IAC` stands for one 0xFF byte. RFC 959 §4.1.3.
    static func withoutTelnetCommands(_ line: [UInt8]) -> [UInt8] {
        guard line.contains(0xFF) || line.first.map({ $0 >= 0xF0 }) == true else { return line }
        var out: [UInt8] = []
        out.reserveCapacity(line.count)
        var index = 0
        while index < line.count {
            let byte = line[index]
            if byte == 0xFF, index + 1 < line.count {
                let command = line[index + 1]
                if command == 0xFF {
                    out.append(0xFF)
                    index += 2
                } else if (0xFB...0xFE).contains(command) {
                    index += 3  // WILL, WONT, DO, DONT and their option
                } else if command >= 0xF0 {
                    index += 2
                } else if out.isEmpty {
                    index += 1  // before the verb: an IAC whose command went out of band (ABOR's DM)
                } else {
                    // Inside the argument it is a byte of the name, which is then not UTF-8
                    // (501), rather than a name silently stored without it.
                    out.append(0xFF)
                    index += 1
                }
                continue
            }
            if (byte == 0xFF && out.isEmpty) || (out.isEmpty && (0xF0...0xFE).contains(byte)) {
                index += 1  // a stray IAC, or a DM delivered in line, before the verb
                continue
            }
            out.append(byte)
            index += 1
        }
        return out
    }

    /// Longest accepted line, in bytes (vsftpd's limit).
    public static let maxLineLength = 4096

    /// Parses `line`. `loggedIn` selects the 530 gate for verbs that need a login.
    public static func parse(_ rawLine: [UInt8], loggedIn: Bool) -> Outcome {
        let line = withoutTelnetCommands(rawLine)
        // The verb is everything up to the first space; the argument is the rest, inner spaces
        // included (RFC 959 §5.3.1), so file names with spaces survive.
        let space = line.firstIndex(of: UInt8(ascii: " "))
        let verbBytes = line[..<(space ?? line.endIndex)]
        let verb = String(decoding: verbBytes, as: UTF8.self).uppercased()
        guard let entry = FTPCommandTable.byVerb[verb] else {
            let shown = verbBytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F } ? verb : "?"
            return .refused(FTPReply(.syntaxError, "Command \(shown.prefix(16)) not understood."))
        }
        if entry.requiresLogin && !loggedIn {
            return .refused(FTPReply(.notLoggedIn, "Log in with USER and PASS first."))
        }
        var argument: String?
        if let space {
            let bytes = Array(line[line.index(after: space)...])
            guard !bytes.contains(0) else {
                return .refused(FTPReply(.syntaxErrorInArguments, "A NUL byte is not allowed."))
            }
            // RFC 2640 §2.2: paths are UTF-8. Invalid bytes are refused, never decoded lossily
            // into another key.
            guard let text = String(validating: bytes, as: UTF8.self) else {
                return .refused(FTPReply(.syntaxErrorInArguments, "The argument is not valid UTF-8."))
            }
            argument = text.isEmpty ? nil : text
        }
        // Spaces after a keyword or a number (`MODE S `, `REST 0 `, `NOOP  `), as some embedded
        // clients send, are no part of it: trimmed, so the command is not refused for them. A
        // path or a password keeps its spaces (`MKD a ` names "a ", RFC 959 §5.3.1).
        if let text = argument, entry.argument == .none || FTPCommandTable.keywordVerbs.contains(entry.verb) {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            argument = trimmed.isEmpty ? nil : trimmed
        }
        switch (entry.argument, argument) {
        case (.required, nil):
            return .refused(FTPReply(.syntaxErrorInArguments, "\(verb) needs an argument."))
        case (.none, .some):
            return .refused(FTPReply(.syntaxErrorInArguments, "\(verb) takes no argument."))
        default:
            break
        }
        do {
            return .command(try entry.build(argument), verb: verb)
        } catch {
            return .refused(error)
        }
    }
}
