#if canImport(Glibc)
import Glibc
#endif
import Posix
import Foundation
import Logging
import Wire

/// `cidp upgrade --root`: the root re-executes itself in place, as nginx's binary upgrade and
/// systemd's `daemon-reexec` do, handing the new image the tree's state and descriptors
/// (`RootHandover`), so that no worker restarts.
///
/// Why the workers survive: they are the root *process's* children, and `execve` keeps the pid;
/// the descriptors they share with the root (control channel, output pipes, data channels) stay
/// open across it, so no worker reads end of file; and their parent-death signal
/// (`PR_SET_PDEATHSIG`) fires when the *thread* that spawned them ends — every spawn is done by
/// the loop's thread, the main thread, and the exec is done by that same thread: it is replaced,
/// not ended (the other threads — the metrics listener — are ended, and never spawn). Between
/// the exec and the new loop's first turn (tens of milliseconds) what workers send waits in the
/// sockets; a worker that exits meanwhile is reaped by the new root (its SIGCHLD stays pending
/// across the exec).
extension SupervisorRuntime {
    /// Refuses (exit 2, nothing changed) or re-executes; on success this never returns, and the new
    /// root answers the client.
    func upgradeRoot(executable: String?, from fd: FileDescriptor) {
        let refuse = { (why: String) in
            self.logger.error("Root upgrade refused", metadata: ["reason": "\(why)"])
            self.finish(fd, ControlReply(ok: false, error: "cannot upgrade the root: \(why)", code: ExitCode.usage))
        }
        guard !tree.isShuttingDown else { return refuse("the tree is stopping") }
        guard tree.pendingRequests.isEmpty else {
            return refuse("another request is under way; try again once it is answered")
        }
        if let policySource {
            // The new root reads the policy file again: it must describe the tree that runs.
            let current: Policy
            do { current = try policySource() } catch { return refuse("the policy cannot be read again: \(error)") }
            guard current.root == policy.root else {
                return refuse("the policy file changed since the tree read it; 'cidp reload' first, then upgrade the root")
            }
        }
        let path = executable ?? Self.runningExecutable()
        if let problem = Self.problemTakingOver(path) { return refuse(problem) }

        // Whatever is queued now is read by this root, so nothing is left half-read.
        for (channel, source) in sources {
            switch source {
            case .control(let id, let pid): readControl(fd: channel, worker: id, pid: pid)
            case .output: readOutput(fd: channel, maxChunks: 64)
            default: break
            }
        }
        drainEvents()
        guard !tree.isShuttingDown, outcome == nil else { return refuse("the tree began stopping") }
        guard let listenFD else { return refuse("the control socket is not open") }

        let host = handoverHost?() ?? (state: [:], descriptors: [])
        var handover = RootHandover(
            format: RootHandover.currentFormat, tree: tree, listenFD: listenFD,
            controls: [], outputs: [], clients: [], channels: channels,
            recentOutput: recentOutput, lastErrors: lastErrors, latestPID: latestPID, nextTicket: nextTicket,
            figures: figures, requester: fd, previousBuild: BuildInfo.short, host: host.state)
        for (channel, source) in sources {
            switch source {
            case .control(let id, let pid):
                handover.controls.append(.init(fd: channel, element: id, pid: pid))
            case .output(let id, let pid):
                handover.outputs.append(.init(fd: channel, element: id, pid: pid,
                                              stream: forwarders[channel]?.stream.rawValue ?? "stderr"))
            case .client:
                guard let connection = clients[channel] else { continue }
                let ticket: Int?
                switch connection.waiting {
                case .nothing: ticket = nil
                case .answer(let waited): ticket = waited
                case .exit: ticket = -1
                }
                handover.clients.append(.init(fd: channel, acceptedAt: connection.acceptedAt,
                                              received: connection.received, ticket: ticket))
            case .signals, .listener:
                break
            }
        }
        let stateFD: FileDescriptor
        do throws(Errno) { stateFD = try handover.write() } catch {
            return refuse("cannot write the handover: \(error)")
        }
        let kept = handover.descriptors + host.descriptors
        for descriptor in kept { Posix.setCloseOnExec(descriptor, false) }
        logger.notice("Root re-executing", metadata: [
            "executable": "\(path)", "build.previous": "\(BuildInfo.short)", "workers": "\(handover.controls.count)",
        ])

        var arguments = CommandLine.arguments
        arguments[0] = path
        var environment = Posix.environmentEntries().filter { !$0.hasPrefix(RootHandover.variable + "=") }
        environment.append("\(RootHandover.variable)=\(stateFD)")
        let error = Posix.execute(path, arguments: arguments, environment: environment)

        // Still here: the exec failed, and this root carries on as it was.
        Posix.close(stateFD)
        for descriptor in kept { Posix.setCloseOnExec(descriptor, true) }
        refuse("cannot execute '\(path)': \(error)")
    }

    /// The path this process runs from (`/proc/self/exe`), without the ` (deleted)` the kernel
    /// appends once the file was replaced — the path that now holds the new binary.
    static func runningExecutable() -> String {
        let path = Posix.executablePath()
        return path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
    }

    /// Why `path` cannot take over, or nil: it must be an executable file that reads this
    /// handover's format (`cidp root-handover-format`, within 5 s).
    static func problemTakingOver(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(path, X_OK) == 0 else {
            return "'\(path)' is not an executable file"
        }
        // Our own spawn (not Foundation's Process, which keeps descriptors of its own open that
        // would then leak into the new image) and a pipe read with a deadline.
        let pipe: (read: FileDescriptor, write: FileDescriptor)
        let pid: Int32
        do throws(Errno) {
            let null = try Posix.open("/dev/null", O_RDWR | O_CLOEXEC)
            defer { Posix.close(null) }
            pipe = try Posix.pipe(nonblockingRead: true)
            do throws(Errno) {
                pid = try Posix.spawn(argv: [path, RootHandover.formatQueryArgument], environment: ["LC_ALL=C"],
                                      descriptors: [(null, .standardInput), (pipe.write, .standardOutput), (null, .standardError)])
            } catch {
                Posix.close(pipe.read)
                Posix.close(pipe.write)
                throw error
            }
            Posix.close(pipe.write)
        } catch {
            return "'\(path)' cannot be run: \(error)"
        }
        defer { Posix.close(pipe.read) }
        let deadline = Posix.monotonicNow() + .seconds(5)
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        reading: while text.count <= 4096 {
            let left = deadline - Posix.monotonicNow()
            guard left > .zero else { break }
            guard Posix.waitReadable([pipe.read], timeout: max(.milliseconds(1), left)) else { continue }
            let count: Int?
            do throws(Errno) { count = try Posix.readAvailable(pipe.read, into: &buffer) } catch { break reading }
            guard let count else { break reading }
            text += buffer[0..<count]
        }
        // Ours to reap, now: the loop's reaper never sees it.
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped == -1 && errno != EINTR) { break }
            if Posix.monotonicNow() >= deadline {
                Posix.signalGroup(pid, SIGKILL)
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                break
            }
            Posix.sleep(for: .microseconds(1000))
        }
        let line = String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let exitedCleanly = (status & 0x7f) == 0 && ((status >> 8) & 0xff) == 0
        guard exitedCleanly, line == RootHandover.formatLine else {
            return "'\(path)' does not take over a running root of this format (\(RootHandover.formatLine)); "
                + "it answered '\(line.prefix(80))': stop the tree and start it with the new binary"
        }
        return nil
    }

    /// Takes over what the previous root handed over: the tree as it stood, and every descriptor.
    /// Call before `run`; `run` then registers them instead of booting the tree.
    public func adopt(_ handover: RootHandover) {
        tree = handover.tree
        adopted = handover
        recentOutput = handover.recentOutput
        lastErrors = handover.lastErrors
        latestPID = handover.latestPID
        nextTicket = handover.nextTicket
        figures = handover.figures
        channels = handover.channels
    }

    /// In `run`, for an adopted tree: the descriptors registered, the clients given back their
    /// connections, and the requester told.
    func resumeAdopted(_ handover: RootHandover) {
        listenFD = handover.listenFD
        for descriptor in handover.descriptors { Posix.setCloseOnExec(descriptor, true) }
        register(handover.listenFD, as: .listener)
        for control in handover.controls {
            register(control.fd, as: .control(control.element, pid: control.pid))
            controlReaders[control.fd] = FrameReader(fd: control.fd, channel: "\(tree.name(of: control.element)) control")
        }
        for output in handover.outputs {
            register(output.fd, as: .output(output.element, pid: output.pid))
            forwarders[output.fd] = WorkerOutputForwarder(
                logger: logger, worker: tree.name(of: output.element), pid: output.pid,
                stream: WorkerOutputForwarder.Stream(rawValue: output.stream) ?? .stderr)
        }
        for client in handover.clients {
            register(client.fd, as: .client)
            var connection = ControlConnection(acceptedAt: client.acceptedAt)
            connection.received = client.received
            if let ticket = client.ticket {
                connection.waiting = ticket == -1 ? .exit : .answer(ticket: ticket)
            }
            clients[client.fd] = connection
        }
        let workers = handover.controls.count
        logger.notice("Supervisor re-executed: the tree taken over", metadata: [
            "supervisor.pid": "\(getpid())", "build.previous": "\(handover.previousBuild)", "build": "\(BuildInfo.short)",
            "workers": "\(workers)", "control.socket": "\(runDirectory.socketPath)",
        ])
        if let requester = handover.requester, clients[requester] != nil {
            finish(requester, ControlReply(ok: true, message: "root upgraded in place: pid \(getpid()) kept, build "
                + "\(handover.previousBuild) → \(BuildInfo.short), \(workers) worker\(workers == 1 ? "" : "s") kept running"))
        }
    }
}
