#if canImport(Glibc)
import Glibc
#endif
import Posix
import Logging
import Wire

/// Starting a worker: its channels, its environment, the spawn itself.
extension SupervisorRuntime {
    func spawn(_ id: ElementID) {
        let spec = tree.workerSpec(id)
        let context = tree.spawnContext(of: id)
        let previousOutput = latestPID[id].flatMap { recentOutput.removeValue(forKey: $0) } ?? []
        if context.isResumed || context.poisonPill != nil {
            var metadata: Logger.Metadata = ["worker.name": "\(spec.name)", "resumed": "\(context.isResumed)"]
            if let pill = context.poisonPill { metadata["item"] = "\(pill.item)"; metadata["crashes"] = "\(pill.crashes)" }
            logger.info("Spawning worker with resume or poison-pill variables", metadata: metadata)
        }
        if let channels {
            let discarded = channels.discardStale(for: spec) { name in
                tree.elementID(named: name).flatMap { tree.pid(of: $0) } != nil
            }
            for (channel, frames) in discarded {
                logger.info("Discarded what a dead incarnation left on a data channel", metadata: [
                    "channel": "\(channel)", "frames": "\(frames)", "worker.name": "\(spec.name)",
                ])
            }
        }
        do throws(Errno) {
            let (parentEnd, childEnd) = try Posix.seqpacketPair()
            let stdout = try Posix.pipe(nonblockingRead: true)
            let stderr = try Posix.pipe(nonblockingRead: true)
            try Posix.setNonblocking(parentEnd)
            let childEnds = [childEnd, stdout.write, stderr.write]
            defer { childEnds.forEach(Posix.close) }
            let pid: Int32
            do throws(Errno) {
                guard let devNullFD else { throw Errno(rawValue: EBADF) }
                pid = try Posix.spawn(argv: commandLine(spec),
                                      environment: environment(for: spec, context: context, lastOutput: previousOutput),
                                      descriptors: [(devNullFD, .standardInput), (stdout.write, .standardOutput), (stderr.write, .standardError),
                                                    (childEnd, WireLayout.controlFD)]
                                        + (channels?.descriptors(for: spec) ?? []))
            } catch {
                [parentEnd, stdout.read, stderr.read].forEach(Posix.close)
                throw error
            }
            if let limit = spec.memoryLimit {
                // The worker applies the limit to itself too (from its environment), which closes
                // the window between exec and this call; this covers commands that do not.
                try? Posix.limitAddressSpace(of: pid, bytes: limit)
            }
            latestPID[id] = pid
            register(parentEnd, as: .control(id, pid: pid))
            controlReaders[parentEnd] = FrameReader(fd: parentEnd, channel: "\(spec.name) control")
            register(stdout.read, as: .output(id, pid: pid))
            forwarders[stdout.read] = WorkerOutputForwarder(logger: logger, worker: spec.name, pid: pid, stream: .stdout)
            register(stderr.read, as: .output(id, pid: pid))
            forwarders[stderr.read] = WorkerOutputForwarder(logger: logger, worker: spec.name, pid: pid, stream: .stderr)
            events.append(.spawned(id, pid: pid))
        } catch {
            logger.error("Cannot spawn worker", metadata: ["worker.name": "\(spec.name)", "command": "\(commandLine(spec).joined(separator: " "))", "error": "\(error)"])
            events.append(.spawnFailed(id, reason: "\(spec.executable): \(error)"))
        }
    }

    /// - Parameters:
    ///   - context: what the tree says this start must be told (resumed, a poison pill).
    ///   - lastOutput: the last lines the previous incarnation printed: the poison pill's evidence.
    func environment(for spec: ChildSpec, context: SpawnContext, lastOutput: [String]) -> [String] {
        let launchVariables = [WireLayout.resumedVariable, WireLayout.poisonItemVariable, WireLayout.poisonEvidenceVariable]
        var entries = baseEnvironment.filter { entry in !spec.environment.keys.contains { entry.hasPrefix($0 + "=") } }
        entries += spec.environment.filter { !launchVariables.contains($0.key) }
            .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let heartbeat = spec.watchdog.map { max(5, $0.milliseconds / 3) } ?? 1000
        entries += [
            "\(WireLayout.workerNameVariable)=\(spec.name)",
            "\(WireLayout.supervisorPIDVariable)=\(getpid())",
            "\(WireLayout.heartbeatIntervalVariable)=\(heartbeat)",
        ]
        if context.isResumed { entries.append("\(WireLayout.resumedVariable)=1") }
        if let pill = context.poisonPill {
            // One line each, without NUL (which cannot travel in an environment): control characters become spaces.
            let item = PoisonPill.withoutControlCharacters(pill.item)
            entries.append("\(WireLayout.poisonItemVariable)=\(item)")
            entries.append("\(WireLayout.poisonEvidenceVariable)=\(pill.evidence(lastOutput: lastOutput))")
        }
        if let limit = spec.memoryLimit {
            entries.append("\(WireLayout.memoryLimitVariable)=\(limit)")
            // RLIMIT_AS counts reserved address space: glibc reserves 64 MiB per malloc arena and
            // makes up to 8 per core, so a threaded worker could hit the limit without using the
            // memory. Two arenas keep the limit about what the worker really holds.
            if !spec.environment.keys.contains("MALLOC_ARENA_MAX") { entries.append("MALLOC_ARENA_MAX=2") }
        }
        return entries
    }
}
