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
            finish(fd, ControlReply(ok: false, error: "unknown request '\(line.prefix(80))'; expected status, restart NAME, resume [NODE] or stop"))
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
        case .resume(let name):
            resume(name, from: fd)
        }
    }

    /// `resume [NAME]`: lifts the halt of one node (or worker), or of every halted one, and answers
    /// once they run again. Refused, changing nothing, when nothing (or not that one) is halted.
    private func resume(_ name: String?, from fd: Int32) {
        let targets: [ElementID]
        if let name {
            guard let id = tree.elementID(named: name) else {
                let halted = tree.haltedElements.map { tree.name(of: $0) }
                let known = halted.isEmpty ? "nothing is halted" : "halted: " + halted.joined(separator: ", ")
                finish(fd, ControlReply(ok: false, error: "cannot resume: no node or worker '\(name)'; \(known)"))
                return
            }
            targets = [id]
        } else {
            targets = tree.haltedElements
            guard !targets.isEmpty else {
                finish(fd, ControlReply(ok: false, error: "cannot resume: \(SupervisorTree.ResumeRefusal.nothingHalted)"))
                return
            }
        }
        logger.notice("Resume requested through the control socket", metadata: [
            "node": "\(targets.map { tree.name(of: $0) }.joined(separator: ","))",
        ])
        var resumed: [ElementID] = []
        var refusals: [String] = []
        for id in targets {
            do throws(SupervisorTree.ResumeRefusal) {
                let actions = try tree.resume(id, now: Posix.monotonicNow())
                resumed.append(id)
                for action in actions { perform(action) }
            } catch {
                refusals.append("\(error)")
            }
        }
        guard !resumed.isEmpty else {
            finish(fd, ControlReply(ok: false, error: "cannot resume: " + refusals.joined(separator: "; ")))
            return
        }
        clients[fd]?.waiting = .resume(ids: resumed)
        drainEvents()
    }

    /// Replies to the clients whose restart has completed (their node has nothing left to do),
    /// or whose resume has (the nodes run again, or are down again).
    func answerRestartWaiters() {
        for (fd, connection) in clients {
            if case .resume(let ids) = connection.waiting {
                answerResume(fd, ids: ids)
                continue
            }
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

    private func answerResume(_ fd: Int32, ids: [ElementID]) {
        let names = ids.map { tree.name(of: $0) }
        if outcome != nil {
            finish(fd, ControlReply(ok: false, error: "the supervisor is shutting down; \(names.joined(separator: ", ")) not resumed"))
            return
        }
        var running: [String] = []
        for id in ids {
            switch tree.resumeProgress(of: id) {
            case .underWay:
                return
            case .running:
                running.append(tree.name(of: id))
            case .halted(let reason):
                finish(fd, ControlReply(ok: false, error: "'\(tree.name(of: id))' halted again: \(reason)"))
                return
            case .failed(let reason):
                finish(fd, ControlReply(ok: false, error: "'\(tree.name(of: id))' did not come back: \(reason)"))
                return
            }
        }
        finish(fd, ControlReply(ok: true, message: "resumed \(running.joined(separator: ", ")) (running)"))
    }

    private func finish(_ fd: Int32, _ reply: ControlReply) {
        ControlConnection.reply(fd, reply)
        unregister(fd)
    }
}
