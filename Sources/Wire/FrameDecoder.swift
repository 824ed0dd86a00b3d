/// Cuts a byte stream into verified frames, as the bytes arrive.
///
/// Feed it with `append(_:)` in chunks of any size, then call `next()` until it returns `nil`.
/// Each frame is checked (magic, length limit, CRC-32C and, if `checksSequence`, the sequence)
/// before it is returned: a bad frame is never returned.
///
/// After a magic, length or checksum error the decoder stays failed — `next()` throws the same
/// error again — until `resynchronise()` makes it skip forward to the next frame that checks out.
/// An out-of-sequence frame is well formed: it is consumed (dropped) as it is reported, and
/// decoding goes on with the sequence still expected.
public struct FrameDecoder: Sendable {
    /// The channel named in errors.
    public let channel: String
    /// Whether sequences must be strictly consecutive (gap, repeat or reordering throw `outOfSequence`).
    public var checksSequence: Bool
    /// The sequence the next frame must carry; `nil` to accept whatever comes next and continue from it.
    public var expectedSequence: UInt64?
    /// Bytes dropped so far while resynchronising.
    public private(set) var discardedByteCount = 0

    /// Received bytes; those before `start` are consumed. Compacted only when the consumed part
    /// is at least as long as the rest, so that copying stays linear in the bytes received.
    private var storage: [UInt8] = []
    private var start = 0
    /// A magic, length or checksum error, thrown until `resynchronise()`.
    private var failure: WireError?
    private var isResynchronising = false

    /// A decoder for frames of `channel`.
    /// - Parameters:
    ///   - channel: named in errors, for example `"extractor→transformer"`.
    ///   - checksSequence: whether sequences must be strictly consecutive.
    ///   - expectedSequence: the first sequence expected; `nil` to start from the first frame seen.
    public init(channel: String = "", checksSequence: Bool = true, expectedSequence: UInt64? = nil) {
        self.channel = channel
        self.checksSequence = checksSequence
        self.expectedSequence = expectedSequence
    }

    /// Bytes received and not yet returned as frames.
    public var bufferedByteCount: Int { storage.count - start }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        storage.append(contentsOf: bytes)
    }

    /// Adds received bytes.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next verified frame, or `nil` if more bytes are needed.
    /// - Throws: `WireError` with `badMagic`, `oversized` or `badChecksum` (repeated until
    ///   `resynchronise()`), or `outOfSequence` (the frame is dropped).
    public mutating func next() throws(WireError) -> Frame? {
        if let failure { throw failure }
        if isResynchronising {
            guard skipToNextValidFrame() else { return nil }
        }
        switch inspect(at: start) {
        case .needsMore:
            return nil
        case .invalid(let error):
            failure = error
            throw error
        case .valid(let kind, let sequence, let length):
            let payloadStart = start + Frame.headerSize
            let payload = Array(storage[payloadStart..<payloadStart + length])
            start = payloadStart + length
            if checksSequence, let expected = expectedSequence, sequence != expected {
                throw WireError(.outOfSequence(expected: expected, got: sequence), channel: channel, sequence: sequence)
            }
            expectedSequence = sequence &+ 1
            return Frame(kind: kind, sequence: sequence, payload: payload)
        }
    }

    /// Clears a magic, length or checksum error and makes `next()` skip forward to the next
    /// magic whose header and payload check out (the bytes skipped count in `discardedByteCount`).
    ///
    /// The frame found may be out of sequence; set `expectedSequence` to `nil` first to accept it.
    /// A candidate whose header is cut off by the end of the buffer is kept until more bytes
    /// decide; garbage that looks like a header with a large length therefore holds the decoder
    /// until that many bytes arrived (at most `Frame.maxPayload`) or `finish()` reports it.
    public mutating func resynchronise() {
        if failure != nil, bufferedByteCount > 0 {
            // The failed frame's first byte cannot start a good frame: step over it.
            start += 1
            discardedByteCount += 1
        }
        failure = nil
        isResynchronising = true
    }

    /// Checks that the stream ended between frames; call it at end of file after `next()` returned `nil`.
    /// - Throws: `WireError.Code.truncated` when bytes of an incomplete frame remain, or the pending failure.
    public func finish() throws(WireError) {
        if let failure { throw failure }
        let remaining = bufferedByteCount
        guard remaining > 0 else { return }
        var sequence: UInt64?
        if remaining >= 12, storage[start] == Frame.magic.0, storage[start + 1] == Frame.magic.1 {
            sequence = load(UInt64.self, at: start + 4)
        }
        throw WireError(.truncated(remaining: remaining), channel: channel, sequence: sequence)
    }

    // MARK: - Inspection

    private enum Inspection {
        case needsMore
        case invalid(WireError)
        case valid(kind: FrameKind, sequence: UInt64, length: Int)
    }

    /// What the bytes at `offset` hold, without consuming them.
    private func inspect(at offset: Int) -> Inspection {
        let available = storage.count - offset
        guard available >= 1 else { return .needsMore }
        guard storage[offset] == Frame.magic.0 else {
            return .invalid(WireError(.badMagic(found: UInt16(storage[offset]) | (available >= 2 ? UInt16(storage[offset + 1]) << 8 : 0)), channel: channel))
        }
        guard available >= 2 else { return .needsMore }
        guard storage[offset + 1] == Frame.magic.1 else {
            return .invalid(WireError(.badMagic(found: load(UInt16.self, at: offset)), channel: channel))
        }
        guard available >= Frame.headerSize else { return .needsMore }
        let sequence = load(UInt64.self, at: offset + 4)
        let length = load(UInt32.self, at: offset + 12)
        guard length <= Frame.maxPayload else {
            return .invalid(WireError(.oversized(length: length), channel: channel, sequence: sequence))
        }
        guard available >= Frame.headerSize + Int(length) else { return .needsMore }
        let expected = load(UInt32.self, at: offset + 16)
        let got = storage.withUnsafeBytes { bytes in
            let headerCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 16]))
            let payloadStart = offset + Frame.headerSize
            return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<payloadStart + Int(length)]), continuing: headerCRC)
        }
        guard got == expected else {
            return .invalid(WireError(.badChecksum(expected: expected, got: got), channel: channel, sequence: sequence))
        }
        return .valid(kind: FrameKind(rawValue: load(UInt16.self, at: offset + 2)), sequence: sequence, length: Int(length))
    }

    /// Drops bytes up to the next magic whose frame checks out; `true` once one starts the buffer.
    /// When a candidate is still incomplete, keeps it and returns `false` (more bytes decide).
    private mutating func skipToNextValidFrame() -> Bool {
        var offset = start
        while offset < storage.count {
            if storage[offset] == Frame.magic.0 {
                switch inspect(at: offset) {
                case .valid:
                    drop(to: offset)
                    isResynchronising = false
                    return true
                case .needsMore:
                    drop(to: offset)
                    return false
                case .invalid:
                    break
                }
            }
            offset += 1
        }
        drop(to: offset)
        return false
    }

    private mutating func drop(to offset: Int) {
        discardedByteCount += offset - start
        start = offset
    }

    private func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        storage.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    /// Moves the unconsumed bytes to the front once the consumed part is at least as long.
    private mutating func compact() {
        guard start > 0 else { return }
        if start == storage.count {
            storage.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= storage.count - start {
            storage.removeSubrange(0..<start)
            start = 0
        }
    }
}
