#if canImport(Glibc)
import Glibc
#endif
import CShims

extension SupervisorRuntime {
    func acceptClients() {
        while true {
            let fd = cshims_accept(listenFD)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let peer = ControlConnection.peerIsAllowed(fd)
            guard peer.allowed else {
                logger.warning("Control client refused: wrong user", metadata: [
                    "peer.uid": "\(peer.uid)", "peer.pid": "\(peer.pid)", "supervisor.uid": "\(geteuid())",
                ])
                ControlConnection.reply(fd, ControlReply(ok: false, error: "permission denied: uid \(peer.uid) may not control this supervisor (uid \(geteuid()))"))
                Posix.close(fd)
                continue
            }
            register(fd, as: .client)
            clients[fd] = ControlConnection()
        }
    }

    func readClient(fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let result = buffer.withUnsafeMutableBytes { bytes in
                Result { () throws(Errno) in try Posix.readAvailable(fd, into: bytes) }
            }
            guard case .success(let count?) = result else {
                unregister(fd)  // closed or failed: a `stop` waiter that hung up is simply dropped
                return
            }
            if count == 0 { return }
            guard var connection = clients[fd], connection.waiting == .nothing else { continue }
            connection.received += buffer[0..<count]
            clients[fd] = connection
            if let newline = connection.received.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: connection.received[..<newline], as: UTF8.self)
                handle(line: line, from: fd)
            } else if connection.received.count > ControlConnection.maxRequestBytes {
                finish(fd, ControlReply(ok: false, error: "request longer than \(ControlConnection.maxRequestBytes) bytes"))
                return
            }
        }
    }

    private func handle(line: String, from fd: Int32) {
        guard let request = ControlRequest(line: line) else {
            finish(fd, ControlReply(ok: false, error: "unknown request '\(line.prefix(80))'; expected status, restart NAME, "
                + "resume [NODE], stop [NAME] or start NAME"))
            return
        }
        switch request {
        case .status:
            finish(fd, ControlReply(ok: true, tree: StatusTree(tree.snapshot(now: Posix.monotonicNow()))))
        case .stop:
            logger.notice("Shutdown requested through the control socket")
            clients[fd]?.waiting = .exit
            ControlConnection.reply(fd, ControlReply(ok: true, message: "stopping"))
            process(.shutdown(reason: "stopped by 'cidp stop'"))
        case .restart(let name):
            route(name, from: fd, verb: "restart") { .restart($0) }
        case .resume(nil):
            routeRequest(.resume(nil), from: fd, described: "resume")
        case .resume(let name?):
            route(name, from: fd, verb: "resume", nodeOrWorker: true) { .resume($0) }
        case .stopChild(let name):
            route(name, from: fd, verb: "stop") { .stop($0) }
        case .start(let name):
            route(name, from: fd, verb: "start") { .start($0) }
        }
    }

    /// Hands a request on a named child to the tree; an unknown name is refused here, in the
    /// tree's words.
    private func route(_ name: String, from fd: Int32, verb: String, nodeOrWorker: Bool = false,
                       _ request: (ElementID) -> OperatorRequest) {
        guard let id = tree.elementID(named: name) else {
            let known = nodeOrWorker
                ? (tree.haltedElements.isEmpty ? "nothing is halted"
                    : "halted: " + tree.haltedElements.map { tree.name(of: $0) }.joined(separator: ", "))
                : "known: " + tree.names.dropFirst().joined(separator: ", ")
            let what = nodeOrWorker ? "no node or worker" : "unknown worker"
            finish(fd, ControlReply(ok: false, error: "cannot \(verb): \(what) '\(name)'; \(known)", code: ExitCode.usage))
            return
        }
        routeRequest(request(id), from: fd, described: "\(verb) \(name)")
    }

    /// The tree answers when the request is done (`answer(_:_:)`), at once when refused.
    private func routeRequest(_ request: OperatorRequest, from fd: Int32, described: String) {
        nextTicket += 1
        let ticket = nextTicket
        clients[fd]?.waiting = .answer(ticket: ticket)
        logger.notice("Operator request through the control socket", metadata: ["request": "\(described)"])
        process(.request(request, ticket: ticket))
    }

    /// The tree's answer to request `ticket`: to the client waiting for it, if still connected.
    /// Exit codes for the client: done 0, refused 2, failed 1 (`OperatorAnswer`).
    func answer(_ ticket: Int, _ answer: OperatorAnswer) {
        guard let fd = clients.first(where: { $0.value.waiting == .answer(ticket: ticket) })?.key else { return }
        switch answer {
        case .done(let message): finish(fd, ControlReply(ok: true, message: message))
        case .refused(let refusal): finish(fd, ControlReply(ok: false, error: "\(refusal)", code: ExitCode.usage))
        case .failed(let why): finish(fd, ControlReply(ok: false, error: why, code: ExitCode.failure))
        }
    }

    private func finish(_ fd: Int32, _ reply: ControlReply) {
        ControlConnection.reply(fd, reply)
        unregister(fd)
    }
}
