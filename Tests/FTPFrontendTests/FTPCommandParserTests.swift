import Testing
@testable import FTPFrontend

@Suite struct FTPCommandParserTests {
    func parse(_ text: String, loggedIn: Bool = true) -> FTPCommandParser.Outcome {
        FTPCommandParser.parse(Array(text.utf8), loggedIn: loggedIn)
    }

    func code(_ outcome: FTPCommandParser.Outcome) -> Int? {
        if case .refused(let reply) = outcome { return reply.code.rawValue }
        return nil
    }

    @Test func verbsAreCaseInsensitiveAndArgumentsKeepSpaces() {
        #expect(parse("stor  my file .txt") == .command(.stor(" my file .txt"), verb: "STOR"))
        #expect(parse("opts utf8 on") == .command(.opts("utf8 on"), verb: "OPTS"))
    }

    /// `MODE S `, `REST 0 `, `EPSV 1 `, `NOOP  ` and `PWD  ` were refused (504, 501) for
    /// their trailing spaces; paths and passwords keep theirs.
    @Test func spacesAroundAKeywordAreDroppedButNotAroundANameOrPassword() {
        #expect(parse("MODE S ") == parse("MODE S"))
        #expect(parse("STRU F  ") == parse("STRU F"))
        #expect(parse("REST 0 ") == parse("REST 0"))
        #expect(parse("EPSV 1 ") == parse("EPSV 1"))
        #expect(parse("TYPE I ") == parse("TYPE I"))
        #expect(parse("NOOP  ") == .command(.noop, verb: "NOOP"))
        #expect(parse("PWD  ") == parse("PWD"))
        #expect(code(parse("NOOP x")) == 501)
        #expect(parse("MKD a ") == .command(.mkd("a "), verb: "MKD"))
        #expect(parse("PASS secret ") == .command(.pass("secret "), verb: "PASS"))
    }

    @Test func unknownVerbIs500() {
        #expect(code(parse("FOO bar")) == 500)
        #expect(code(parse("")) == 500)
    }

    @Test func verbsNeedingLoginAre530Before() {
        for verb in ["PWD", "LIST", "RETR x", "STOR x", "CWD /", "MKD d", "PASV"] {
            #expect(code(parse(verb, loggedIn: false)) == 530, "\(verb)")
        }
        #expect(parse("FEAT", loggedIn: false) == .command(.feat, verb: "FEAT"))
        #expect(parse("USER a", loggedIn: false) == .command(.user("a"), verb: "USER"))
    }

    @Test func argumentRulesGive501() {
        #expect(code(parse("MKD")) == 501)
        #expect(code(parse("USER", loggedIn: false)) == 501)
        #expect(code(parse("PWD extra")) == 501)
    }

    @Test func NULAndInvalidUTF8Are501() {
        #expect(code(FTPCommandParser.parse(Array("MKD a".utf8) + [0] + Array("b".utf8), loggedIn: true)) == 501)
        #expect(code(FTPCommandParser.parse(Array("MKD ".utf8) + [0xFF, 0xFE], loggedIn: true)) == 501)
        #expect(code(FTPCommandParser.parse(Array("MKD ".utf8) + [0xC0, 0xAE], loggedIn: true)) == 501)
        // A lone 0xFF inside a name is a byte of it (not UTF-8: 501), not a Telnet IAC to drop.
        #expect(code(FTPCommandParser.parse(Array("STOR a".utf8) + [0xFF] + Array("b".utf8), loggedIn: true)) == 501)
        // Before the verb it is ABOR's IAC IP, IAC and a DM sent out of band.
        #expect(FTPCommandParser.parse([0xFF, 0xF4, 0xFF] + Array("ABOR".utf8), loggedIn: true)
            == .command(.abor, verb: "ABOR"))
    }

    @Test func typedArguments() {
        #expect(parse("TYPE I") == .command(.type(.image), verb: "TYPE"))
        #expect(parse("TYPE L 8") == .command(.type(.image), verb: "TYPE"))
        #expect(parse("TYPE A") == .command(.type(.ascii), verb: "TYPE"))
        #expect(code(parse("TYPE E")) == 504)
        #expect(code(parse("TYPE Z")) == 501)
        #expect(parse("TYPE a n") == .command(.type(.ascii), verb: "TYPE"))
        for unimplemented in ["TYPE A T", "TYPE E N", "TYPE L 7"] {
            #expect(code(parse(unimplemented)) == 504, "\(unimplemented)")
        }
        // More than a type: no type (`TYPE I I` was taken for I).
        for malformed in ["TYPE I I", "TYPE I X Y", "TYPE i junk", "TYPE A N X", "TYPE L 8 8", "TYPE A X", "TYPE L x"] {
            #expect(code(parse(malformed)) == 501, "\(malformed)")
        }
        #expect(parse("EPSV") == .command(.epsv(.any), verb: "EPSV"))
        #expect(parse("EPSV ALL") == .command(.epsv(.all), verb: "EPSV"))
        // Families the server lacks are the session's to refuse: it knows its connection's.
        #expect(parse("EPSV 3") == .command(.epsv(.family(3)), verb: "EPSV"))
        #expect(parse("LIST -la") == .command(.list(nil, directoryItself: false), verb: "LIST"))
        #expect(parse("LIST -a dir name") == .command(.list("dir name", directoryItself: false), verb: "LIST"))
        #expect(parse("LIST -ld dir") == .command(.list("dir", directoryItself: true), verb: "LIST"))
        #expect(parse("LIST -l -d") == .command(.list(nil, directoryItself: true), verb: "LIST"))
        // A name that begins with `-` is a name, not options; `--` ends the options.
        #expect(parse("LIST -dash.txt") == .command(.list("-dash.txt", directoryItself: false), verb: "LIST"))
        #expect(parse("LIST -- -dash") == .command(.list("-dash", directoryItself: false), verb: "LIST"))
        #expect(parse("LIST -la -- -d x") == .command(.list("-d x", directoryItself: false), verb: "LIST"))
        // STAT with options only lists the working directory; STAT alone is the status.
        #expect(parse("STAT -la") == .command(.stat("."), verb: "STAT"))
        #expect(parse("STAT -d dir") == .command(.stat("dir", directoryItself: true), verb: "STAT"))
        #expect(parse("STAT") == .command(.stat(nil), verb: "STAT"))
        #expect(parse("STOU") == .command(.stou(nil), verb: "STOU"))
        #expect(parse("STOU photo.jpg") == .command(.stou("photo.jpg"), verb: "STOU"))
        // `MDTM time path` sets (the older form of MFMT); anything else asks.
        #expect(parse("MDTM 20200101000000 a b.txt")
            == .command(.mdtmSet(time: 1_577_836_800, path: "a b.txt", whole: "20200101000000 a b.txt"), verb: "MDTM"))
        #expect(parse("MDTM 20200101000000") == .command(.mdtm("20200101000000"), verb: "MDTM"))
        // A time's shape but no real date: still a set, which gets 501 unless a file has the whole name.
        #expect(parse("MDTM 20201301000000 x")
            == .command(.mdtmSet(time: nil, path: "x", whole: "20201301000000 x"), verb: "MDTM"))
        #expect(parse("MDTM 2020130100000 x") == .command(.mdtm("2020130100000 x"), verb: "MDTM"))
    }

    @Test func timeValsAreASCIIDigitsAndRealDates() {
        #expect(FTPCommandTable.parseTimeVal("20200101000000") == 1_577_836_800)
        #expect(FTPCommandTable.parseTimeVal("19691231235959") == -1)
        #expect(FTPCommandTable.parseTimeVal("20200101000000.5") == 1_577_836_800.5)
        // Digits past the microsecond round it up, exactly: .0000001 added to a Double was lost.
        #expect(FTPCommandTable.parseTimeVal("20200101000000.0000001") == 1_577_836_800.000001)
        #expect(FTPCommandTable.parseTimeVal("20200101000000.999999999") == 1_577_836_801)
        #expect(FTPCommandTable.parseTimeVal("19691231235959.0000001") == -0.999999)
        // These crashed the server or were moved to another day.
        for bad in ["２０２００１０１０００００００", "20200101000000.9e309", "20200101000000.", "20210229000000",
                    "20200431000000", "2020010100000", "20200101000000.1234567890"] {
            #expect(FTPCommandTable.parseTimeVal(bad) == nil, "\(bad)")
        }
    }

    @Test func featAndHelpComeFromTheTable() {
        let feat = FTPCommandTable.featReply
        #expect(feat.code == .systemStatus)
        #expect(feat.lines.contains(" SIZE") && feat.lines.contains(" UTF8") && feat.lines.contains(" EPSV"))
        let help = FTPCommandTable.helpReply(for: nil, tls: true, checksums: [.md5, .crc64, .crc32])
        let words = Set(help.lines.joined(separator: " ").split(separator: " ").map(String.init))
        for entry in FTPCommandTable.entries {
            #expect(words.contains(entry.verb))
        }
        // Checksum verbs only where a store keeps what they ask for.
        let local = Set(FTPCommandTable.helpReply(for: nil, checksums: []).lines.joined(separator: " ").split(separator: " "))
        #expect(local.isDisjoint(with: ["HASH", "XMD5", "XCRC"]))
        let s3 = Set(FTPCommandTable.helpReply(for: nil, checksums: [.md5]).lines.joined(separator: " ").split(separator: " "))
        #expect(s3.isSuperset(of: ["HASH", "XMD5"]) && !s3.contains("XCRC"))
        #expect(FTPCommandTable.helpReply(for: "nope").code == .syntaxErrorInArguments)
        // Without TLS, HELP offers what FEAT offers: no AUTH, PBSZ, PROT or CCC.
        let plain = Set(FTPCommandTable.helpReply(for: nil, tls: false).lines.joined(separator: " ").split(separator: " "))
        #expect(plain.isDisjoint(with: ["AUTH", "PBSZ", "PROT", "CCC"]) && plain.contains("EPSV"))
        #expect(FTPCommandTable.helpReply(for: "AUTH", tls: false).code == .notImplemented)
        #expect(FTPCommandTable.helpReply(for: "auth", tls: true).code == .help)
    }
}
