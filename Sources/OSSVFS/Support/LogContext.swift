import Logging

/// What every log line of a piece of work carries, whichever layer writes it: a frontend sets
/// the session around the tasks it starts, and the store's lines (with their request ids) then
/// name the session they served.
public enum LogContext {
    /// The FTP session (or mount) the current task works for.
    @TaskLocal public static var session: String?

    /// Adds `session` to every line logged inside such a task.
    public static let metadataProvider = Logger.MetadataProvider {
        guard let session else { return [:] }
        return ["session": "\(session)"]
    }
}
