/// The shape of the tree: unique names, defined children, one parent each, no cycles, nothing unreachable.
extension PolicyDecoder {
    /// Checks the tree rooted at `[supervisor]`, then builds it.
    func assembleTree(root: NodeDefinition, nodes: [NodeDefinition],
                      workers: [WorkerDefinition]) throws(PolicyError) -> NodeSpec {
        let nodesByName = Dictionary(nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let workersByName = Dictionary(workers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        try checkUniqueNames(root: root, nodes: nodes, workers: workers, workersByName: workersByName)

        // Depth-first from the root, in start order: the first problem met is the one reported.
        var parentOf: [String: NodeDefinition] = [:]
        var path: [String] = []
        func visit(_ node: NodeDefinition) throws(PolicyError) {
            path.append(node.name)
            defer { path.removeLast() }
            for child in node.children {
                let childNode = nodesByName[child]
                guard childNode != nil || workersByName[child] != nil else {
                    throw source.error(at: node.childrenPath, "\(child.quotedForMessage) is not defined: "
                        + "expected a [nodes.\(child)] or [workers.\(child)] table")
                }
                if childNode != nil, let start = path.firstIndex(of: child) {
                    let cycle = (path[start...] + [child]).joined(separator: " -> ")
                    throw source.error(at: node.childrenPath, "cycle of nodes: \(cycle)")
                }
                // Checked before going deeper: the walk (here and in the engine) recurses per level.
                if childNode != nil, path.count > PolicySchema.maximumNodeDepth {
                    throw source.error(at: node.childrenPath, "\(child.quotedForMessage) would be a node "
                        + "\(path.count) levels below [supervisor] (\((path + [child]).joined(separator: " -> "))); "
                        + "nodes nest at most \(PolicySchema.maximumNodeDepth) levels")
                }
                if let parent = parentOf[child] {
                    let listed = parent.childrenPath.joined(separator: ".")
                    throw source.error(at: node.childrenPath, "\(child.quotedForMessage) is already listed in "
                        + "\(listed); a child has exactly one parent")
                }
                parentOf[child] = node
                if let childNode { try visit(childNode) }
            }
        }
        try visit(root)

        let unreachable = (nodes.map { ($0.name, $0.path) } + workers.map { ($0.name, $0.path) })
            .filter { parentOf[$0.0] == nil }
            .min { (source.line(of: $0.1) ?? .max) < (source.line(of: $1.1) ?? .max) }
        if let (name, definition) = unreachable {
            throw source.error(at: definition, "defined but not reachable from [supervisor]: "
                + "no node lists \(name.quotedForMessage) in its children")
        }

        try checkChannels(workers: workers, workersByName: workersByName)
        try checkPoisonPills(workers: workers, parentOf: parentOf)

        func build(_ node: NodeDefinition) -> NodeSpec {
            NodeSpec(name: node.name, strategy: node.strategy, intensity: node.intensity,
                     period: .milliseconds(node.periodMilliseconds), onIntensityExceeded: node.onIntensityExceeded,
                     children: node.children.map { name in
                         if let child = nodesByName[name] { return .node(build(child)) }
                         // Checked above: every child is a node or a worker.
                         return .worker(childSpec(workersByName[name]!, nodeIntensity: node.intensity))
                     })
        }
        return build(root)
    }

    /// At most `PolicySchema.maximumElements` nodes and workers: the first table past the limit,
    /// in file order, is blamed.
    func checkSize(nodes: [NodeDefinition], workers: [WorkerDefinition]) throws(PolicyError) {
        let count = nodes.count + workers.count
        guard count > PolicySchema.maximumElements else { return }
        let paths = (nodes.map(\.path) + workers.map(\.path)).sorted { (source.line(of: $0) ?? .max) < (source.line(of: $1) ?? .max) }
        throw source.error(at: paths[PolicySchema.maximumElements], "\(count) nodes and workers; a tree holds at most "
            + "\(PolicySchema.maximumElements) (each worker is a process and descriptors of the root)")
    }

    /// A name is used once: not as both a node and a worker, and not as the root's name.
    private func checkUniqueNames(root: NodeDefinition, nodes: [NodeDefinition], workers: [WorkerDefinition],
                                  workersByName: [String: WorkerDefinition]) throws(PolicyError) {
        for node in nodes {
            guard let worker = workersByName[node.name] else { continue }
            // Blame whichever of the two tables comes later in the file.
            let nodeLine = source.line(of: node.path) ?? 0, workerLine = source.line(of: worker.path) ?? 0
            let (later, earlier) = nodeLine > workerLine ? (node.path, worker.path) : (worker.path, node.path)
            let earlierLine = source.line(of: earlier).map { " (line \($0))" } ?? ""
            throw source.error(at: later, "duplicate name \(node.name.quotedForMessage): already defined as "
                + "[\(earlier.joined(separator: "."))]\(earlierLine)")
        }
        let clash = nodes.first { $0.name == root.name }?.path ?? workersByName[root.name]?.path
        if let clash {
            throw source.error(at: clash, "duplicate name \(root.name.quotedForMessage): already the name of the "
                + "root [supervisor]; names are unique in the whole tree")
        }
    }

    /// Data channels: `input` names another worker; each worker feeds at most one other; no loops.
    private func checkChannels(workers: [WorkerDefinition], workersByName: [String: WorkerDefinition]) throws(PolicyError) {
        var consumerOf: [String: WorkerDefinition] = [:]
        for worker in workers {
            guard let input = worker.input else { continue }
            let path = worker.path + ["input"]
            guard input != worker.name else {
                throw source.error(at: path, "a worker cannot take its own output as input")
            }
            guard workersByName[input] != nil else {
                throw source.error(at: path, "\(input.quotedForMessage) is not a worker: expected the name of a "
                    + "[workers.X] table whose output feeds this worker")
            }
            if let other = consumerOf[input] {
                throw source.error(at: path, "\(input.quotedForMessage) already feeds "
                    + "\(other.name.quotedForMessage); a worker has one output")
            }
            consumerOf[input] = worker
        }
        for worker in workers {
            var seen: [String] = [worker.name]
            var current = worker.input
            while let name = current {
                if name == worker.name {
                    throw source.error(at: worker.path + ["input"], "channels form a loop: "
                        + (seen + [name]).joined(separator: " <- "))
                }
                seen.append(name)
                current = workersByName[name]?.input
            }
        }
    }

    /// Every crash on the way to a poison pill is a restart its node counts: a node whose
    /// intensity is below `poison_pill_crashes` gives up before the worker is ever restarted with
    /// the poison pill, so such a setting is an error (blamed on the table that set it). The
    /// built-in default is capped at the node's intensity instead, so that a policy that does not
    /// mention the key is never rejected for it.
    private func checkPoisonPills(workers: [WorkerDefinition], parentOf: [String: NodeDefinition]) throws(PolicyError) {
        for worker in workers {
            guard let crashes = worker.settings.poisonPillCrashes, let node = parentOf[worker.name],
                  crashes.value > node.intensity else { continue }
            throw source.error(at: crashes.path, "expected 0 (off) or at most \(node.intensity), the intensity of "
                + "node \(node.name.quotedForMessage) that restarts worker \(worker.name.quotedForMessage) (each crash "
                + "counts towards it: the node would give up before the poison pill is handed over), got \(crashes.value)")
        }
    }

    /// The worker's spec: its own keys, then `[defaults]`, then the built-in defaults.
    /// - Parameter nodeIntensity: the intensity of the worker's node, which caps the built-in
    ///   `poison_pill_crashes`.
    func childSpec(_ worker: WorkerDefinition, nodeIntensity: Int) -> ChildSpec {
        let settings = worker.settings
        let watchdog = settings.watchdogMilliseconds ?? 0
        let memoryLimit = settings.memoryLimitBytes ?? 0
        return ChildSpec(name: worker.name,
                         role: worker.role, executable: executable, arguments: worker.arguments,
                         restart: settings.restart ?? .permanent,
                         shutdown: settings.shutdown ?? .grace(.milliseconds(5000)),
                         readinessTimeout: .milliseconds(settings.readinessTimeoutMilliseconds ?? 5000),
                         watchdog: watchdog == 0 ? nil : .milliseconds(watchdog),
                         memoryLimit: memoryLimit == 0 ? nil : memoryLimit,
                         environment: worker.environment,
                         backoff: settings.backoff.backoff,
                         input: worker.input,
                         poisonPillCrashes: settings.poisonPillCrashes?.value
                            ?? min(PolicySchema.defaultPoisonPillCrashes, nodeIntensity))
    }
}
