/// The seed tool's command lines, as its launcher wrote them.
enum SeedArguments {
    /// Options the seed's launcher passed with an empty value to mean "not set"
    /// (`--bucket_endpoints=`), as its option parser took them. The argument parser wants a
    /// value, and `ossftp --bucket_endpoints=` stopped with "Missing value".
    static let emptyMeansUnset: Set<String> = ["--bucket_endpoints", "--masquerade_address", "--internal"]

    /// `arguments` without the seed's empty `--name=` options.
    static func adapted(_ arguments: [String]) -> [String] {
        // After `--` everything is an operand, whatever it looks like.
        let end = arguments.firstIndex(of: "--") ?? arguments.endIndex
        let options = arguments[..<end].filter { argument in
            !(argument.hasSuffix("=") && emptyMeansUnset.contains(String(argument.dropLast())))
        }
        return options + arguments[end...]
    }
}
