import Foundation
import Glibc

/// A tiny HTTP/1.1 server on 127.0.0.1 for the extractor's tests: real sockets, real libcurl
/// on the other side. It answers requests with scripted replies in order (the last one again
/// once the script is used up), keeps connections alive, and counts connections and requests.
///
/// `listening: false` binds the port without listening, so connections to it are refused until
/// `startListening()`.
final class ExtractTestServer: @unchecked Sendable {
    /// What to do with one request.
    enum Reply {
        /// A complete response with `Content-Length`, on a connection kept open.
        case respond(status: Int, body: [UInt8])
        /// A response without `Content-Length`: the body ends when the server closes.
        case respondAndClose(status: Int, body: [UInt8])
        /// A complete response with `Content-Length` and the extra header lines `headers`
        /// (`"Retry-After: 2"`, `"Location: /next"`, `"Content-Encoding: gzip"`).
        case respondWithHeaders(status: Int, headers: [String], body: [UInt8])
        /// A 200 whose chunked body never ends: `chunk` again and again, each after `pause`,
        /// until the peer goes away or the server stops.
        case stream(chunk: [UInt8], pause: Duration)
        /// Read the request and never answer (until the server stops).
        case hang

        /// A 200 with `text` as the body.
        static func ok(_ text: String) -> Reply { .respond(status: 200, body: Array(text.utf8)) }
        /// An empty-bodied response with `status`.
        static func status(_ status: Int) -> Reply { .respond(status: status, body: Array("{\"error\":\"scripted\"}".utf8)) }
    }

    let port: UInt16
    private let listenFD: Int32
    private let lock = NSLock()
    private var script: [Reply]
    private var replyIndex = 0
    private var connectionFDs: [Int32] = []
    private var isStopped = false
    private var acceptedCount = 0
    private var requestLines: [String] = []
    private var requestHeads: [String] = []
    private let threads = DispatchGroup()

    /// Connections accepted so far.
    var acceptedConnections: Int { lock.withLock { acceptedCount } }
    /// The request lines received so far (`GET /path HTTP/1.1`).
    var requests: [String] { lock.withLock { requestLines } }
    /// Every request's head as received: request line and header lines, CRLF-separated.
    var heads: [String] { lock.withLock { requestHeads } }
    /// The base URL: `http://127.0.0.1:PORT`.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(_ script: [Reply], listening: Bool = true) throws {
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            let error = POSIXError(.init(rawValue: errno)!)
            close(fd)
            throw error
        }
        listenFD = fd
        port = UInt16(bigEndian: address.sin_port)
        if listening { try startListening() }
    }

    deinit {
        stop()
    }

    /// Starts accepting connections on the bound port.
    func startListening() throws {
        guard listen(listenFD, 16) == 0 else { throw POSIXError(.init(rawValue: errno)!) }
        spawn { self.acceptLoop() }
    }

    /// Closes everything and waits for the server's threads.
    func stop() {
        let fds: [Int32] = lock.withLock {
            guard !isStopped else { return [] }
            isStopped = true
            return [listenFD] + connectionFDs
        }
        // shutdown wakes the threads blocked in accept/read; they close their own descriptors.
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        threads.wait()
        if !fds.isEmpty { close(listenFD) }
    }

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        threads.enter()
        let thread = Thread {
            body()
            self.threads.leave()
        }
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let isAccepted = lock.withLock {
                guard !isStopped else { return false }
                acceptedCount += 1
                connectionFDs.append(fd)
                return true
            }
            guard isAccepted else {
                close(fd)
                return
            }
            spawn { self.serve(fd) }
        }
    }

    /// Answers requests on one connection until the peer or the server closes it.
    private func serve(_ fd: Int32) {
        defer {
            lock.withLock { connectionFDs.removeAll { $0 == fd } }
            close(fd)
        }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            // A GET has no body: a request is everything up to the blank line.
            while pending.count < 4 || !pending.indices.dropLast(3).contains(where: { pending[$0..<$0 + 4].elementsEqual([13, 10, 13, 10]) }) {
                let count = read(fd, &chunk, chunk.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return }
                pending += chunk[0..<count]
            }
            let end = pending.indices.dropLast(3).first { pending[$0..<$0 + 4].elementsEqual([13, 10, 13, 10]) }! + 4
            let head = String(decoding: pending[0..<end], as: UTF8.self)
            pending.removeFirst(end)
            let reply: Reply = lock.withLock {
                requestLines.append(String(decoding: head.utf8.prefix { $0 != 13 }, as: UTF8.self))
                requestHeads.append(head)
                defer { replyIndex += 1 }
                return script[min(replyIndex, script.count - 1)]
            }
            switch reply {
            case .respond(let status, let body):
                guard transmit(fd, head: "HTTP/1.1 \(status) Scripted\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n", body: body) else { return }
            case .respondAndClose(let status, let body):
                _ = transmit(fd, head: "HTTP/1.1 \(status) Scripted\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n", body: body)
                return
            case .respondWithHeaders(let status, let headers, let body):
                let extra = headers.map { $0 + "\r\n" }.joined()
                guard transmit(fd, head: "HTTP/1.1 \(status) Scripted\r\nContent-Type: application/json\r\n\(extra)Content-Length: \(body.count)\r\n\r\n", body: body) else { return }
            case .stream(let chunk, let pause):
                guard transmit(fd, head: "HTTP/1.1 200 Scripted\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", body: []) else { return }
                let framed = Array((String(chunk.count, radix: 16) + "\r\n").utf8) + chunk + Array("\r\n".utf8)
                while !lock.withLock({ isStopped }) {
                    guard transmit(fd, head: "", body: framed) else { return }
                    if pause > .zero { usleep(UInt32(pause.components.attoseconds / 1_000_000_000_000 + pause.components.seconds * 1_000_000)) }
                }
                return
            case .hang:
                while !lock.withLock({ isStopped }) { usleep(10_000) }
                return
            }
        }
    }

    /// Writes the head and body; false once the peer is gone (MSG_NOSIGNAL: no SIGPIPE).
    private func transmit(_ fd: Int32, head: String, body: [UInt8]) -> Bool {
        let bytes = Array(head.utf8) + body
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}
