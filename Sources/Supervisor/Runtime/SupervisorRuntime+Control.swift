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
            finish(fd, ControlReply(ok: false, error: "unknown request '\(line.prefix(80))'; expected status, restart NAME or stop"))
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
            guard let id = tree.elementID(named: name) else {
                let known = tree.names.dropFirst().joined(separator: ", ")
                finish(fd, ControlReply(ok: false, error: "unknown worker '\(name)'; known: \(known)"))
                return
            }
            let actions: [TreeAction]
            do throws(SupervisorTree.RestartRefusal) {
                actions = try tree.restart(id, now: Posix.monotonicNow())
            } catch {
                finish(fd, ControlReply(ok: false, error: "cannot restart '\(name)': \(error)"))
                return
            }
            logger.notice("Restart requested through the control socket", metadata: ["child.id": "\(name)"])
            clients[fd]?.waiting = .restart(name: name, node: tree.parentID(of: id)!)
            for action in actions { perform(action) }
            drainEvents()
        }
    }

    /// Replies to the clients whose restart has completed (their node has nothing left to do).
    func answerRestartWaiters() {
        for (fd, connection) in clients {
            guard case .restart(let name, let node) = connection.waiting else { continue }
            if outcome != nil || tree.isShuttingDownNow {
                finish(fd, ControlReply(ok: false, error: "the supervisor is shutting down; '\(name)' was not restarted"))
            } else if tree.isIdle(node) {
                let entry = StatusTree(tree.snapshot(now: Posix.monotonicNow())).find(name)
                let detail = entry.map { "\($0.state)" + ($0.pid.map { ", pid \($0)" } ?? "") } ?? "unknown"
                finish(fd, ControlReply(ok: true, message: "restarted '\(name)' (\(detail))"))
            }
        }
    }

    private func finish(_ fd: Int32, _ reply: ControlReply) {
        ControlConnection.reply(fd, reply)
        unregister(fd)
    }
}
