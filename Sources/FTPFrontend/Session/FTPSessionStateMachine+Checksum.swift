import OSSVFS

extension FTPSessionStateMachine {
    /// The reply to HASH, XMD5 or XCRC once the stored checksums are known.
    ///
    /// HASH answers `213 <algorithm> <start>-<end> <hex> <path>` (draft-bryan-ftpext-hash-02 §3.2);
    /// the older XMD5 and XCRC answer `250 <hex>`. When the store keeps no such checksum,
    /// 504 says so: reading the whole object back to compute one is work without a bound.
    static func checksumReply(path: VFSPath, algorithm: FTPHashAlgorithm, legacy: Bool,
                              sums: VFSChecksums) -> Action {
        let hex: String?
        switch algorithm {
        case .md5: hex = sums.md5
        case .crc64: hex = sums.crc64.map { String($0, radix: 16).leftPadded(to: 16) }
        case .crc32: hex = nil
        }
        guard let hex else {
            return .send(FTPReply(.parameterNotImplemented, missingReason(path: path, algorithm: algorithm, sums: sums)))
        }
        if legacy { return .send(FTPReply(.fileActionOK, hex.uppercased())) }
        return .send(FTPReply(.fileStatus, "\(algorithm.rawValue) 0-\(sums.size) \(hex) \(path)"))
    }

    private static func missingReason(path: VFSPath, algorithm: FTPHashAlgorithm, sums: VFSChecksums) -> String {
        var other: [String] = []
        if sums.md5 != nil { other.append("MD5") }
        if sums.crc64 != nil { other.append("CRC64") }
        let hint = other.isEmpty ? "" : " Stored here: \(other.joined(separator: ", ")) (OPTS HASH <name>, then HASH)."
        switch algorithm {
        case .md5:
            return "No stored MD5 for \(path): the store's ETag is not one (uploaded in parts, encrypted with a KMS or customer key, or a local store).\(hint)"
        case .crc64:
            return "No stored CRC64 for \(path): only OSS keeps one.\(hint)"
        case .crc32:
            return "No store keeps a CRC-32, and ossftp does not read whole objects to compute one.\(hint)"
        }
    }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
