import Foundation
import Testing

/// The import rules of docs/ARCHITECTURE.md, read from `Package.swift` itself: the compiler
/// refuses an import a target does not declare, but nothing stops a declaration being added.
@Suite struct TargetDependencyRulesTests {
    /// Each target's declared dependencies on other targets of the package (products left out).
    static func targetDependencies() throws -> [String: [String]] {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/PipelineTests/TargetDependencyRulesTests.swift
        let manifest = try String(contentsOfFile: parts.joined(separator: "/") + "/Package.swift", encoding: .utf8)
        return try parse(manifest)
    }

    /// Target name → the quoted names in its `dependencies: [...]`, `.product(...)` entries removed.
    static func parse(_ manifest: String) throws -> [String: [String]] {
        let text = Array(manifest)
        let target = try Regex(#"\.(target|executableTarget|testTarget|systemLibrary)\(\s*name:\s*"([^"]+)""#)
        var result: [String: [String]] = [:]
        for match in manifest.matches(of: target) {
            let name = String(match.output[2].substring ?? "")
            // The call's arguments: up to the parenthesis that closes `.target(`.
            let open = manifest.distance(from: manifest.startIndex, to: match.range.lowerBound)
            var index = open
            while text[index] != "(" { index += 1 }
            var depth = 0
            var end = index
            repeat {
                if text[end] == "(" { depth += 1 } else if text[end] == ")" { depth -= 1 }
                end += 1
            } while depth > 0 && end < text.count
            let call = String(text[index..<end])
            guard let list = call.firstMatch(of: try Regex(#"dependencies:\s*\[([^\]]*)\]"#)) else {
                result[name] = []
                continue
            }
            let withoutProducts = String(list.output[1].substring ?? "").replacing(try Regex(#"\.product\([^)]*\)"#), with: "")
            result[name] = withoutProducts.matches(of: try Regex(#""([^"]+)""#)).map { String($0.output[1].substring ?? "") }
        }
        return result
    }

    /// Every target `name` reaches through the package's own targets.
    static func reachable(from name: String, in graph: [String: [String]]) -> Set<String> {
        var seen: Set<String> = []
        var queue = graph[name] ?? []
        while let next = queue.popLast() {
            if seen.insert(next).inserted { queue += graph[next] ?? [] }
        }
        return seen
    }

    @Test func theManifestIsReadWithItsTargets() throws {
        let graph = try Self.targetDependencies()
        for name in ["Wire", "Pipeline", "Supervisor", "Workers", "cidp"] { #expect(graph[name] != nil, "\(name)") }
        #expect(graph["Workers"]?.contains("Pipeline") == true)
    }

    @Test func theEngineNeverReachesTheWorkersOrThePipeline() throws {
        let reached = Self.reachable(from: "Supervisor", in: try Self.targetDependencies())
        #expect(!reached.contains("Workers"))
        #expect(!reached.contains("Pipeline"))
    }

    @Test func theWorkersNeverReachTheEngine() throws {
        #expect(!Self.reachable(from: "Workers", in: try Self.targetDependencies()).contains("Supervisor"))
    }

    /// Posix is the one layer over the C shims; Wire frames descriptors through it (its errno,
    /// its clock) and depends on nothing else.
    @Test func posixAndWireAreTheBottomLayers() throws {
        let graph = try Self.targetDependencies()
        #expect(graph["Posix"] == ["CShims"])
        #expect(graph["Wire"] == ["Posix"])
    }

    @Test func thePipelineDependsOnlyOnWire() throws {
        let graph = try Self.targetDependencies()
        #expect(graph["Pipeline"] == ["Wire"])
        #expect(Self.reachable(from: "Pipeline", in: graph) == ["Wire", "Posix", "CShims"])
    }

    @Test func theParserSeesAnAddedDependency() throws {
        let graph = try Self.parse("""
            .target(name: "Supervisor", dependencies: [
                "Wire", .product(name: "TOMLKit", package: "TOMLKit"), "Workers",
            ]),
            .target(name: "Wire"),
            """)
        #expect(graph == ["Supervisor": ["Wire", "Workers"], "Wire": []])
    }
}
