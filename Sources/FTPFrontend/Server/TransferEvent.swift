/// What a running transfer tells its control connection.
enum TransferEvent: Sendable {
    case started(FTPSessionStateMachine.Transfer)
    case finished(FTPSessionStateMachine.TransferOutcome)
}
