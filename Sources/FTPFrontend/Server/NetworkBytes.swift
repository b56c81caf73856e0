import NIOCore
import OSSVFS

/// A read buffer handed to the VFS as it is: the spool writes from its memory directly.
struct NetworkBytes: VFSBytes {
    let buffer: ByteBuffer

    init(_ buffer: ByteBuffer) {
        self.buffer = buffer
    }

    var count: Int { buffer.readableBytes }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes(body)
    }
}
