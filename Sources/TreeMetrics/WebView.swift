import Foundation
import Supervisor

/// The live web view at `/` (issue 12, item 6, read-only part): a page that polls
/// `/api/status` every 500 ms and draws the tree — each node's strategy, each worker's state,
/// pid, uptime, restarts, memory, CPU, rows and rate, and why it is in trouble — with the
/// stages' throughput over the last five minutes as small charts (`/api/throughput`, sampled
/// by the root every 5 s, so a page opened late still shows the minutes before it) and the
/// open halts; and `/api/warehouse` every 2 s for the newest quarantined batches and the model
/// versions. Every text the world wrote (a reason, an error line) is set with `textContent`,
/// never parsed as HTML; the page loads nothing from elsewhere (`Content-Security-Policy`).
/// With `[metrics] actions = true`, each worker row has a restart button and each halt a resume
/// button; the page reads the per-run token from `/api/session` and sends it with each action
/// (`WebActions`).
enum WebView {
    /// `/api/status`: the tree as `cidp status --json` gives it, with the /proc samples.
    static func statusJSON(snapshot: TreeSnapshot?, sample: (Int32) -> ProcessSample? = ProcessSample.read(pid:)) -> [UInt8] {
        guard var tree = snapshot?.tree else { return Array(#"{"starting":true}"#.utf8) }
        tree.updateWorkers { worker in
            if let pid = worker.pid, let process = sample(pid) {
                worker.rssBytes = process.residentBytes
                worker.cpuSeconds = process.cpuSeconds
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(tree)) ?? Data(#"{"error":"cannot encode"}"#.utf8))
    }

    /// `/api/warehouse`: the newest quarantined batches, the open halts among them, and the
    /// model versions (`{}` for a tree without a warehouse).
    static func warehouseJSON(_ figures: WarehouseFigures?) -> [UInt8] {
        struct Body: Encodable {
            var quarantine: [WarehouseFigures.QuarantinedBatch]
            var models: [WarehouseFigures.ModelVersion]
            var checkpointBatch: Int64
            enum CodingKeys: String, CodingKey {
                case quarantine, models
                case checkpointBatch = "checkpoint_batch"
            }
        }
        guard let figures else { return Array("{}".utf8) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        let body = Body(quarantine: figures.quarantine, models: figures.models, checkpointBatch: figures.checkpointBatch)
        return Array((try? encoder.encode(body)) ?? Data("{}".utf8))
    }

    /// `/api/throughput`: each worker's rows out per second, one value per sampling interval
    /// of the last five minutes, oldest first.
    static func throughputJSON(_ rates: [String: [Double]]) -> [UInt8] {
        struct Body: Encodable {
            var intervalSeconds: Int64
            var workers: [String: [Double]]
            enum CodingKeys: String, CodingKey {
                case workers
                case intervalSeconds = "interval_s"
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = Body(intervalSeconds: MetricsBoard.sampleInterval.components.seconds,
                        workers: rates.mapValues { $0.map { ($0 * 10).rounded() / 10 } })
        return Array((try? encoder.encode(body)) ?? Data("{}".utf8))
    }

    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'"

    static let page = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>cidp</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
        h1 { font-size: 1.3em; margin: 0 0 .3em; }
        table { border-collapse: collapse; }
        th, td { text-align: left; padding: .2em .7em; border-bottom: 1px solid #ddd; white-space: nowrap; }
        td.why { white-space: normal; max-width: 40em; }
        tr.node td { font-weight: 600; background: #f6f6f6; }
        .state-running { color: #17702a; } .state-degraded, .state-restarting, .state-starting { color: #a15c00; }
        .state-halted, .state-failed { color: #b00020; font-weight: 600; } .state-stopped, .state-stopping { color: #666; }
        #halts li { color: #b00020; } #halts li.none { color: #666; }
        #updated { color: #666; font-size: .9em; }
        svg.chart { vertical-align: middle; background: #fafafa; border: 1px solid #eee; }
        body:not(.actions) .action { display: none; }
        #action-result { margin: .5em 0; } #action-result.refused { color: #b00020; }
        </style>
        </head>
        <body>
        <h1 id="title">cidp</h1>
        <div id="updated">connecting…</div>
        <h2>Tree</h2>
        <table>
        <thead><tr><th>name</th><th>strategy / restart</th><th>state</th><th>pid</th><th>uptime</th><th>restarts</th>
        <th>memory</th><th>cpu</th><th>rows in/out</th><th>rate</th><th>last 5 min</th><th>why</th><th class="action">action</th></tr></thead>
        <tbody id="tree"></tbody>
        </table>
        <div id="action-result" class="action"></div>
        <h2>Open halts</h2>
        <ul id="halts"><li class="none">none</li></ul>
        <h2>Newest quarantined batches</h2>
        <table>
        <thead><tr><th>batch</th><th>gate</th><th>action</th><th>records</th><th>when</th><th>open</th><th>reason</th></tr></thead>
        <tbody id="quarantine"><tr><td colspan="7">none</td></tr></tbody>
        </table>
        <h2>Model versions</h2>
        <table>
        <thead><tr><th>version</th><th>status</th><th>created</th><th>ROC-AUC</th><th>training rows</th></tr></thead>
        <tbody id="models"><tr><td colspan="5">none</td></tr></tbody>
        </table>
        <script src="/app.js"></script>
        </body>
        </html>
        """

    static let script = #"""
        "use strict";
        let throughput = {};         // worker -> rows/s per 5 s, oldest first (/api/throughput)
        const keep = 60;             // five minutes
        let token = null;            // the per-run token of /api/session, when actions are on

        function cell(row, text, className) {
          const td = document.createElement("td");
          td.textContent = text;
          if (className) td.className = className;
          row.appendChild(td);
          return td;
        }
        function uptime(ms) {
          if (ms == null) return "-";
          const s = Math.floor(ms / 1000);
          if (s < 60) return (ms / 1000).toFixed(1) + "s";
          if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60) + "s";
          return Math.floor(s / 3600) + "h" + Math.floor(s % 3600 / 60) + "m";
        }
        function bytes(n) { return n == null ? "-" : (n / 1048576).toFixed(1) + " MiB"; }
        function chart(samples) {
          const ns = "http://www.w3.org/2000/svg";
          const svg = document.createElementNS(ns, "svg");
          svg.setAttribute("class", "chart"); svg.setAttribute("width", "120"); svg.setAttribute("height", "24");
          const max = Math.max(1, ...samples);
          const line = document.createElementNS(ns, "polyline");
          line.setAttribute("fill", "none"); line.setAttribute("stroke", "#3367d6");
          line.setAttribute("points", samples.map((v, i) =>
            ((keep - samples.length + i) * 120 / Math.max(1, keep - 1)).toFixed(1) + ","   // newest at the right edge
            + (23 - v * 22 / max).toFixed(1)).join(" "));
          svg.appendChild(line);
          return svg;
        }
        function why(node, haltedAbove) {
          if (haltedAbove && node.state === "halted" && node.reason === haltedAbove.reason) return "halted with " + haltedAbove.name;
          if (node.halted_by) return "halted by " + node.halted_by + ": " + (node.reason || "");
          if (node.reason) return node.reason;
          if (node.last_error) return "last error: " + node.last_error;
          if (node.restarts > 0 && node.last_exit) return "last exit: " + node.last_exit;
          return "";
        }
        function render(tree) {
          document.getElementById("title").textContent = "cidp — " + tree.name;
          const body = document.getElementById("tree");
          const rows = [];
          const halts = [];
          (function walk(node, depth, haltedAbove) {
            const row = document.createElement("tr");
            row.className = node.kind;
            row.dataset.child = node.name;
            row.dataset.state = node.state;
            if (node.pid != null) row.dataset.pid = String(node.pid);
            const name = cell(row, "\u00a0\u00a0".repeat(depth) + node.name);
            cell(row, node.strategy || node.restart || "");
            cell(row, node.state, "state-" + node.state);
            cell(row, node.pid == null ? "-" : String(node.pid), "pid");
            cell(row, uptime(node.uptime_ms));
            cell(row, String(node.restarts));
            cell(row, bytes(node.rss_bytes));
            cell(row, node.cpu_seconds == null ? "-" : node.cpu_seconds.toFixed(1) + "s");
            cell(row, node.records_in == null && node.records_out == null ? "-"
                 : (node.records_in ?? "-") + " / " + (node.records_out ?? "-"));
            cell(row, node.records_per_s == null ? "-" : node.records_per_s + "/s");
            const chartCell = cell(row, "");
            if (node.kind === "worker" && (throughput[node.name] || []).length > 0) {
              chartCell.appendChild(chart(throughput[node.name].slice(-keep)));
              chartCell.title = "rows out per second, the last five minutes (5 s steps)";
            }
            cell(row, why(node, haltedAbove), "why");
            const halted = node.kind === "node" && node.state === "halted" && !haltedAbove;
            const actionCell = cell(row, "", "action");
            if (token) {
              if (halted || (node.kind === "worker" && node.halted_by && !haltedAbove)) {
                actionCell.appendChild(button("resume", "/api/resume/" + encodeURIComponent(node.name)));
              } else if (node.kind === "worker") {
                actionCell.appendChild(button("restart", "/api/restart/" + encodeURIComponent(node.name)));
              }
            }
            rows.push(row);
            if (halted || (node.kind === "worker" && node.halted_by && !haltedAbove)) halts.push(node);
            for (const child of node.children || []) walk(child, depth + 1, halted ? node : haltedAbove);
          })(tree, 0, null);
          body.replaceChildren(...rows);
          const list = document.getElementById("halts");
          const items = halts.map(node => {
            const li = document.createElement("li");
            li.textContent = node.name + " halted by " + (node.halted_by || "?") + ": " + (node.reason || "");
            return li;
          });
          if (items.length === 0) {
            const li = document.createElement("li"); li.className = "none"; li.textContent = "none"; items.push(li);
          }
          list.replaceChildren(...items);
        }
        function button(label, path) {
          const b = document.createElement("button");
          b.textContent = label;
          b.dataset.path = path;
          b.addEventListener("click", () => act(path));
          return b;
        }
        async function act(path) {
          const result = document.getElementById("action-result");
          try {
            const response = await fetch(path, {method: "POST", cache: "no-store", headers: {"X-CIDP-Token": token}});
            const answer = await response.json();
            result.className = "action" + (answer.ok ? "" : " refused");
            result.textContent = path.split("/").slice(2).map(decodeURIComponent).join(" ") + ": "
              + (answer.ok ? (answer.message || "done") : (answer.error || response.status));
          } catch (error) {
            result.className = "action refused";
            result.textContent = "no answer from cidp (" + error + ")";
          }
        }
        async function session() {
          try {
            const answer = await (await fetch("/api/session", {cache: "no-store"})).json();
            if (answer.actions && answer.token) { token = answer.token; document.body.classList.add("actions"); }
          } catch (error) { /* no actions */ }
        }
        function table(id, items, columns, empty) {
          const rows = items.map(item => {
            const row = document.createElement("tr");
            for (const value of columns(item)) cell(row, value);
            return row;
          });
          if (rows.length === 0) {
            const row = document.createElement("tr");
            cell(row, empty).colSpan = 7;
            rows.push(row);
          }
          document.getElementById(id).replaceChildren(...rows);
        }
        async function pollWarehouse() {
          try {
            const response = await fetch("/api/warehouse", {cache: "no-store"});
            const figures = await response.json();
            table("quarantine", figures.quarantine || [], q => [String(q.batch), q.gate, q.action, String(q.records),
              q.quarantined_at, q.action === "halt" && !q.resumed_at ? "halt open" : "", q.reason], "none");
            table("models", figures.models || [], m => [String(m.version), m.status, m.created_at,
              typeof m.roc_auc === "number" ? m.roc_auc.toFixed(4) : "-", String(m.rows)], "none");
          } catch (error) { /* the tree view says when cidp does not answer */ }
          setTimeout(pollWarehouse, 2000);
        }
        pollWarehouse();
        async function pollThroughput() {
          try {
            const response = await fetch("/api/throughput", {cache: "no-store"});
            throughput = (await response.json()).workers || {};
          } catch (error) { /* shown by the tree's poll */ }
          setTimeout(pollThroughput, 5000);
        }
        pollThroughput();
        async function poll() {
          try {
            const response = await fetch("/api/status", {cache: "no-store"});
            const tree = await response.json();
            if (tree.name) {
              render(tree);
              document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
            }
          } catch (error) {
            document.getElementById("updated").textContent = "no answer from cidp (" + error + ")";
          }
          setTimeout(poll, 500);
        }
        session().then(poll);
        """#
}
