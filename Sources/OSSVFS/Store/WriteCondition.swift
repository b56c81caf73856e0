/// What must hold of a key for a write to it to take place.
public enum WriteCondition: Sendable, Equatable {
    /// Nothing: the write replaces whatever is there.
    case none
    /// No object has the key (S3's `If-None-Match: *`, OSS's `x-oss-forbid-overwrite`); else
    /// ``ObjectStoreError/conflict(_:)``.
    case absent
    /// The object under the key has this ETag (S3's `If-Match`, RFC 9110 §13.1.1); else
    /// ``ObjectStoreError/changed(_:)``. OSS has no such check for writes: there the write
    /// takes place regardless, and the caller looks just before it.
    case matching(String)

    /// `.absent` when `ifAbsent`, else `.none`.
    public init(ifAbsent: Bool) {
        self = ifAbsent ? .absent : .none
    }
}
