import Foundation
import Supervisor
import Testing
import Wire
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A sensor API nobody here wrote: Python's `http.server` on a free loopback port, serving the
/// simulator's records (seed 42) as a real API might write them — RFC 3339 timestamps with
/// offsets and fractions, or Unix time; renamed fields; numbers as strings; extra fields in any
/// order; gzip — behind a credential, throttling with `Retry-After`, or misbehaving on purpose
/// from one page on. Every request is logged (monotonic time, path, whether authorized) to a file.
final class ForeignSource {
    let process: RunningSupervisor
    /// `http://127.0.0.1:PORT`.
    let url: String
    let logPath: String

    /// One request the server saw.
    struct Request {
        var time: Double
        var path: String
        var isAuthorized: Bool
    }

    /// Starts the server on the first `records` records of the simulator (seed 42), with
    /// `settings` (see the script: `timestamps`, `fields`, `strings`, `extras`, `gzip`, `auth`,
    /// `throttle`, `hostile`, `at`, `tls`).
    init(_ sandbox: Sandbox, records: Int, settings: [String: Any] = [:]) throws {
        let generator = TelemetryGenerator(seed: EtlTests.seed, count: records)
        let rows: [[Any]] = (0..<records).map { index in
            let record = generator.record(at: index)
            // Readings travel as their shortest round-trip text: the server writes them verbatim.
            return [record.timestamp, record.pumpID, "\(record.flowRate)", "\(record.pressure)", "\(record.vibration)",
                    "\(record.temperature)", Int(record.failure)]
        }
        let id = UUID().uuidString.prefix(8)
        let recordsPath = sandbox.path + "/foreign-records-\(id).json"
        logPath = sandbox.path + "/foreign-requests-\(id).log"
        try JSONSerialization.data(withJSONObject: rows).write(to: URL(fileURLWithPath: recordsPath))
        var configuration = settings
        configuration["records_file"] = recordsPath
        configuration["log"] = logPath
        let configPath = sandbox.path + "/foreign-config-\(id).json"
        try JSONSerialization.data(withJSONObject: configuration).write(to: URL(fileURLWithPath: configPath))
        process = try RunningSupervisor(sandbox: sandbox, arguments: ["python3", "-c", Self.script, configPath], executable: "/usr/bin/env")
        let process = process
        // A whole line: the log may be read between "port " and the number.
        let announced = { () -> Int? in
            process.log.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                .first { $0.hasPrefix("port ") }.flatMap { Int($0.dropFirst(5).trimmingCharacters(in: .whitespaces)) }
        }
        #expect(poll(timeout: .seconds(60)) { announced() != nil || !process.isRunning }, "\(process.log)")
        let port = try #require(announced(), "\(process.log)")
        url = (settings["tls"] == nil ? "http" : "https") + "://127.0.0.1:\(port)"
    }

    deinit {
        kill(process.pid, SIGKILL)
        _ = process.waitForExit()
    }

    /// The requests served so far, in order.
    var requests: [Request] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 3, let time = Double(fields[0]) else { return nil }
            return Request(time: time, path: String(fields[1]), isAuthorized: fields[2] == "yes")
        }
    }

    /// The server: one thread per connection, HTTP/1.1 keep-alive, pages of `limit` records from
    /// `cursor` (a record offset), `next_cursor` the offset after the page or null at the end.
    static let script = #"""
    import base64, gzip, http.server, json, sys, threading, time
    from datetime import datetime, timedelta, timezone

    config = json.load(open(sys.argv[1]))
    rows = json.load(open(config['records_file']))
    names = {k: k for k in ['records', 'next_cursor', 'timestamp', 'pump_id', 'flow_rate', 'pressure', 'vibration', 'temperature', 'failure']}
    names.update(config.get('fields', {}))
    style = config.get('timestamps', 'rfc3339')
    log = open(config['log'], 'a', buffering=1)
    lock = threading.Lock()
    served = {'count': 0}

    # (offset east of UTC, separator, fraction, zone written instead of the offset)
    FORMS = [(timedelta(0), 'T', '', 'Z'), (timedelta(0), 'T', '.000', '+00:00'),
             (timedelta(hours=5, minutes=30), 'T', '.123456', None), (timedelta(hours=-8), 't', '.9', None),
             (timedelta(hours=14), ' ', '.999999999999', None), (timedelta(minutes=-45), 'T', '.5', None),
             (timedelta(0), 't', '.25', 'z'), (timedelta(0), 'T', '', '-00:00')]

    def timestamp(seconds, i):
        if style == 'epoch-seconds':
            return [str(seconds), '"%d"' % seconds, '%d.75' % seconds][i % 3]
        if style == 'epoch-millis':
            millis = seconds * 1000 + (i * 7) % 1000
            return str(millis) if i % 2 == 0 else '"%d"' % millis
        offset, separator, fraction, zone = FORMS[i % len(FORMS)]
        local = datetime.fromtimestamp(seconds, tz=timezone(offset))
        if zone is None:
            minutes = int(offset.total_seconds()) // 60
            zone = '%s%02d:%02d' % ('-' if minutes < 0 else '+', abs(minutes) // 60, abs(minutes) % 60)
        return '"%s%s%s%s%s"' % (local.strftime('%Y-%m-%d'), separator, local.strftime('%H:%M:%S'), fraction, zone)

    def record(i):
        seconds, pump, flow, pressure, vibration, temperature, failure = rows[i]
        strings = config.get('strings') and i % 2 == 1
        number = (lambda text: json.dumps(text)) if strings else (lambda text: text)
        label = str(failure)
        if config.get('strings'):
            label = ['true' if failure else 'false', '"%d"' % failure, str(failure)][i % 3]
        items = [(names['timestamp'], timestamp(seconds, i)), (names['pump_id'], json.dumps(pump)),
                 (names['flow_rate'], number(flow)), (names['pressure'], number(pressure)),
                 (names['vibration'], number(vibration)), (names['temperature'], number(temperature)),
                 (names['failure'], label)]
        if config.get('extras'):
            items += [('site', '"yard-7"'), ('meta', '{"fw":[1,2,{"x":null}],"ok":true,"note":"caf\\u00e9"}')]
            if i % 2 == 0:
                items.reverse()
        if config.get('hostile') == 'deep' and i == config.get('at', 0):
            items.append(('meta_deep', '[' * 100000))
        return '{' + ','.join('%s:%s' % (json.dumps(k), v) for k, v in items) + '}'

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def reply(self, status, body, headers=()):
            if config.get('gzip') and 'gzip' in self.headers.get('Accept-Encoding', ''):
                body = gzip.compress(body)
                headers = list(headers) + [('Content-Encoding', 'gzip')]
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            for name, value in headers:
                self.send_header(name, value)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            authorization = self.headers.get('Authorization', '')
            expected = config.get('auth')
            authorized = expected is not None and authorization == expected
            log.write('%.6f %s %s\n' % (time.monotonic(), self.path.replace(' ', '%20'), 'yes' if authorized else 'no'))
            if expected is not None and not authorized:
                # Echoes what it was sent, as careless servers do: the client must never print it.
                return self.reply(401, json.dumps({'error': 'unauthorized', 'got': authorization}).encode(),
                                  [('WWW-Authenticate', 'Bearer')])
            with lock:
                served['count'] += 1
                count = served['count']
            throttle = config.get('throttle')
            if throttle and count <= throttle['count']:
                return self.reply(throttle.get('status', 429), b'{"error":"slow down"}', [('Retry-After', str(throttle['seconds']))])
            query = dict(part.split('=', 1) for part in self.path.partition('?')[2].split('&') if '=' in part)
            start = int(query.get('cursor', '0'))
            limit = int(query.get('limit', '1000'))
            hostile = config.get('hostile')
            if hostile and start == config.get('at', 0):
                if hostile == 'endless':
                    self.send_response(200)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Transfer-Encoding', 'chunked')
                    self.end_headers()
                    chunk = b'%x\r\n%s\r\n' % (65536, b' ' * 65536)
                    try:
                        self.wfile.write(b'3\r\n{"r\r\n')
                        while True:
                            self.wfile.write(chunk)
                    except OSError:
                        return
                if hostile == 'hang':
                    time.sleep(3600)
                    return
                if hostile == 'big-extra':
                    blob = b'x' * (64 << 20)
                    page = '{"records":[' + ','.join(record(i) for i in range(start, min(len(rows), start + limit)))
                    tail = '],"next_cursor":%s}' % (json.dumps(str(start + limit)) if start + limit < len(rows) else 'null')
                    return self.reply(200, b'{"blob":"' + blob + b'",' + page[1:].encode() + tail.encode())
            end = min(len(rows), start + limit)
            cursor = json.dumps(str(end)) if end < len(rows) else 'null'
            if hostile == 'cursor-stuck' and start == config.get('at', 0):
                cursor = json.dumps(str(start))
            if hostile == 'cursor-back' and start == config.get('at', 0):
                cursor = json.dumps('1000')
            parts = ['%s:[%s]' % (json.dumps(names['records']), ','.join(record(i) for i in range(start, end))),
                     '%s:%s' % (json.dumps(names['next_cursor']), cursor)]
            if config.get('extras'):
                parts = ['"count":%d' % (end - start), '"links":{"self":%s}' % json.dumps(self.path)] + parts[::-1]
            self.reply(200, ('{' + ','.join(parts) + '}').encode())

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    if config.get('tls'):
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(config['tls']['cert'], config['tls']['key'])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print('port', server.server_address[1], flush=True)
    server.serve_forever()
    """#
}

extension String {
    /// The default policy's text with TOML `keys` (lines of `[workers.extractor]`, nested tables
    /// inline: `source = { auth = "bearer" }`) and `env` given to its extractor.
    func withExtractor(_ keys: String, env: [String: String] = [:]) -> String {
        var lines = "[workers.extractor]\nrole = \"extractor\"\n\(keys)\n"
        if !env.isEmpty {
            lines += "env = { " + env.map { "\($0.key) = \"\($0.value)\"" }.joined(separator: ", ") + " }\n"
        }
        let replaced = replacingOccurrences(of: "[workers.extractor]\nrole = \"extractor\"\n", with: lines)
        precondition(replaced != self, "the policy has no plain [workers.extractor] table")
        return replaced
    }
}

/// A private CA and a certificate it signed for 127.0.0.1, made by the openssl command in
/// `directory`: the paths of the CA's certificate, the server's certificate and its key.
func makePrivateCA(in directory: String) throws -> (ca: String, certificate: String, key: String) {
    let script = """
        set -e
        cd "$1"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 \\
            -subj "/CN=CIDP test CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \\
            -subj "/CN=127.0.0.1" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \\
            -extfile server.ext 2>/dev/null
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script, "sh", directory]
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "openssl failed")
    return (directory + "/ca.pem", directory + "/server.pem", directory + "/server.key")
}
