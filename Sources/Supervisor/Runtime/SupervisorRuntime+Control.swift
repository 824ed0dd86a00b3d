#if canImport(Glibc)
import Glibc
#endif
import Posix
import Logging
import Wire

extension SupervisorRuntime {
    /// Clients accepted per turn of the loop at most: a flood of connections is served (or refused)
    /// between the other events, never instead of them.
    static let acceptsPerTurn = 64

    func acceptClients() {
        for _ in 0..<Self.acceptsPerTurn {
            let fd: FileDescriptor
            do throws(Errno) {
                guard let listenFD, let accepted = try Posix.accept(listenFD) else { return }
                fd = accepted
            } catch {
                if error.rawValue == EMFILE || error.rawValue == ENFILE { refuseWithSpareDescriptor() }
                return
            }
            guard clients.count < admission.cap else {
                refuse(fd, .busy, admission.busyReply(open: clients.count, oldestIdleSince: oldestIdleClient(),
                                                      now: Posix.monotonicNow()))
                continue
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
            clients[fd] = ControlConnection(acceptedAt: Posix.monotonicNow())
        }
    }

    /// Past the descriptor limit (something else took what `reserveDescriptors` counted on): the
    /// spare descriptor is given up for one accept, so the client waiting in the backlog is told
    /// why it is refused instead of waiting, and the loop is not woken again and again for it.
    private func refuseWithSpareDescriptor() {
        guard let spare = admission.spareFD, let listenFD else { return }
        Posix.close(spare)
        if let fd = try? Posix.accept(listenFD) {
            refuse(fd, .outOfDescriptors, ControlReply(ok: false, error: "the supervisor is out of descriptors "
                + "(RLIMIT_NOFILE); try again shortly"))
        }
        admission.spareFD = try? Posix.open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    /// Answers a client that is not let in, closes it, and counts it for the log.
    private func refuse(_ fd: FileDescriptor, _ refusal: ControlAdmission.Refusal, _ reply: ControlReply) {
        ControlConnection.reply(fd, reply)
        Posix.close(fd)
        logRefusal(refusal)
    }

    /// One warning for the first refusal, then one every `ControlAdmission.logInterval` at most,
    /// with the counts by kind since the last.
    private func logRefusal(_ refusal: ControlAdmission.Refusal?) {
        let now = Posix.monotonicNow()
        let counts = if let refusal { admission.note(refusal, now: now) } else { admission.flush(now: now) }
        guard let counts else { return }
        var metadata: Logger.Metadata = [
            "connections.open": "\(clients.count)", "connections.max": "\(admission.cap)",
            "idle_timeout_ms": "\(admission.idleTimeout.milliseconds)",
        ]
        for (kind, count) in counts { metadata["refused.\(kind.rawValue)"] = "\(count)" }
        logger.warning("Control clients refused", metadata: metadata)
    }

    /// When the longest-connected idle client connected (nil when none is idle).
    private func oldestIdleClient() -> Duration? {
        clients.values.filter(\.isIdle).map(\.acceptedAt).min()
    }

    /// When the next idle client is due to be closed: a deadline of the loop.
    func nextIdleDeadline() -> Duration? {
        oldestIdleClient().map { $0 + admission.idleTimeout }
    }

    /// Answers and closes every client that has not sent its whole request within the idle
    /// timeout; logs the refusals counted but not logged yet, once their interval has passed.
    func closeIdleClients() {
        let now = Posix.monotonicNow()
        for (fd, connection) in clients where connection.isIdle && now - connection.acceptedAt >= admission.idleTimeout {
            finish(fd, admission.idleReply)
            logRefusal(.idle)
        }
        logRefusal(nil)
    }

    /// Sets the descriptors aside (`DescriptorBudget`): the spare one, the tree's reserve, then as
    /// many control clients as fit, up to `control.max_connections`, raising the soft limit as far
    /// as needed. Call once everything but the workers is open.
    /// - Throws: `SupervisorError` when even the reserve and one client exceed the hard limit.
    func reserveDescriptors() throws(SupervisorError) {
        admission.spareFD = try? Posix.open("/dev/null", O_RDONLY | O_CLOEXEC)
        let limit: (soft: UInt64, hard: UInt64)
        let open: Int
        do throws(Errno) {
            limit = try Posix.descriptorLimit()
            open = try Posix.openDescriptorCount()
        } catch {
            throw SupervisorError(.refused, path: "descriptor limit (RLIMIT_NOFILE)", detail: "cannot read it: \(error)")
        }
        let budget = DescriptorBudget(open: open, workers: policy.root.workers.count)
        switch budget.plan(maxConnections: policy.control.maxConnections, soft: limit.soft, hard: limit.hard) {
        case .tooLow(let hard, let needed):
            throw SupervisorError(.refused, path: "descriptor limit (RLIMIT_NOFILE)", detail: "\(hard) is too low for this "
                + "tree: it needs \(needed) (\(open) open, \(budget.reserve) reserved for \(policy.root.workers.count) workers, "
                + "1 control client); raise it (ulimit -n) or use a smaller tree")
        case .serve(let connections, let raise):
            if let raise {
                do throws(Errno) { try Posix.setDescriptorSoftLimit(raise) } catch {
                    throw SupervisorError(.refused, path: "descriptor limit (RLIMIT_NOFILE)",
                                          detail: "cannot raise the soft limit to \(raise): \(error)")
                }
            }
            admission.cap = connections
            let metadata: Logger.Metadata = [
                "descriptors.open": "\(open)", "descriptors.reserved": "\(budget.reserve)",
                "descriptors.limit": "\(raise ?? limit.soft)", "connections.max": "\(connections)",
                "idle_timeout_ms": "\(admission.idleTimeout.milliseconds)",
            ]
            if connections < policy.control.maxConnections {
                // The descriptor limit holds no more beside the tree's reserve.
                logger.warning("Control clients capped below control.max_connections by the descriptor limit", metadata: metadata)
            } else {
                logger.debug("Descriptors reserved", metadata: metadata)
            }
        }
    }

    func readClient(fd: FileDescriptor) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let result = Result { () throws(Errno) in try Posix.readAvailable(fd, into: &buffer) }
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

    private func handle(line: String, from fd: FileDescriptor) {
        guard let request = ControlRequest(line: line) else {
            finish(fd, ControlReply(ok: false, error: "unknown request '\(line.prefix(80))'; expected status, restart NAME, "
                + "resume [NODE], stop [NAME], start NAME, reload [--dry-run], upgrade NAME [PATH] or upgrade --root [PATH]"))
            return
        }
        switch request {
        case .status:
            finish(fd, ControlReply(ok: true, tree: statusTree(sampleProcesses: true)))
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
        case .reload(let dryRun):
            reload(dryRun: dryRun, from: fd)
        case .upgrade(let name, let executable):
            route(name, from: fd, verb: "upgrade") { .upgrade($0, executable: executable) }
        case .upgradeRoot(let executable):
            logger.notice("Operator request through the control socket", metadata: ["request": "upgrade --root"])
            upgradeRoot(executable: executable, from: fd)
        }
    }

    /// `cidp reload [--dry-run]` (from a client, `fd`) or SIGHUP (nil): re-reads the policy through
    /// `policySource`, refuses it whole with one line when it is invalid, else computes the plan,
    /// logs it and — unless a dry run — applies it; the client's answer comes once it is done.
    func reload(dryRun: Bool, from fd: FileDescriptor?) {
        let refuse = { (error: String) in
            self.logger.error("Policy reload refused; the running tree is unchanged", metadata: ["reason": "\(error)"])
            if let fd { self.finish(fd, ControlReply(ok: false, error: error, code: ExitCode.usage)) }
        }
        guard let policySource else { return refuse("this tree was not started from a policy file") }
        let next: Policy
        do { next = try policySource() } catch { return refuse("\(error)") }
        if next.logging != policy.logging || next.control != policy.control {
            return refuse("cannot reload: the [logging] and [control] settings are read at start; "
                + "stop the tree and start it with the new policy")
        }
        let plan: ReloadPlan
        do throws(OperatorRefusal) { plan = try tree.reloadPlan(for: next.root) } catch { return refuse("\(error)") }
        logger.notice(dryRun ? "Policy reload plan (dry run)" : "Policy reload plan",
                      metadata: ["plan": "\(plan.text)", "changes": "\(plan.changes.count)"])
        if dryRun {
            if let fd { finish(fd, ControlReply(ok: true, message: plan.text)) }
            return
        }
        policy = Policy(root: next.root, logging: policy.logging, control: policy.control)
        if let fd {
            routeRequest(.reload(next.root), from: fd, described: "reload")
        } else {
            nextTicket += 1
            process(.request(.reload(next.root), ticket: nextTicket))
        }
    }

    /// Hands a request on a named child to the tree; an unknown name is refused here, in the
    /// tree's words.
    private func route(_ name: String, from fd: FileDescriptor, verb: String, nodeOrWorker: Bool = false,
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
    private func routeRequest(_ request: OperatorRequest, from fd: FileDescriptor, described: String) {
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

    func finish(_ fd: FileDescriptor, _ reply: ControlReply) {
        ControlConnection.reply(fd, reply)
        unregister(fd)
    }
}
