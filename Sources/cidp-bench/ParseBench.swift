import Foundation
import Posix
import Supervisor
import Wire
import Workers
import CivilCalendar

/// `cidp-bench parse`: the extractor's page decoder alone, on pages of 1000 records held in
/// memory, in the body forms a source may send. No I/O, one core: the figure is the decoder's
/// own cost per record and per byte (the HTTP and the other stages are `cidp-bench etl`'s).
///
/// Forms:
/// - `simulator`: what `cidp-sensor-sim` serves (`"2000-01-01T00:00:00Z"`, readings as numbers);
/// - `rfc3339`: the same records with timestamps as most HTTP APIs write them,
///   `"2000-01-01T05:30:00.123+05:30"`.
enum ParseBench {
    struct Form {
        var name: String
        var pages: [[UInt8]]
    }

    /// `count` records of the simulator (seed 42) as pages of 1000 in each form.
    static func forms(records count: Int) -> [Form] {
        let generator = TelemetryGenerator(seed: 42, count: count)
        var simulator: [[UInt8]] = []
        var rfc3339: [[UInt8]] = []
        for start in stride(from: 0, to: count, by: 1000) {
            let end = min(count, start + 1000)
            var plain = "{\"records\":["
            var offset = "{\"records\":["
            for index in start..<end {
                let record = generator.record(at: index)
                if index > start {
                    plain += ","
                    offset += ","
                }
                let readings = "\"pump_id\":\"\(record.pumpID)\",\"flow_rate\":\(record.flowRate),\"pressure\":\(record.pressure),"
                    + "\"vibration\":\(record.vibration),\"temperature\":\(record.temperature),\"failure\":\(record.failure)}"
                plain += "{\"timestamp\":\"\(text(record.timestamp, offsetMinutes: 0, fraction: nil))\"," + readings
                offset += "{\"timestamp\":\"\(text(record.timestamp, offsetMinutes: 330, fraction: "123"))\"," + readings
            }
            let cursor = end < count ? "\"\(end)\"" : "null"
            plain += "],\"next_cursor\":\(cursor)}"
            offset += "],\"next_cursor\":\(cursor)}"
            simulator.append(Array(plain.utf8))
            rfc3339.append(Array(offset.utf8))
        }
        return [Form(name: "simulator", pages: simulator), Form(name: "rfc3339", pages: rfc3339)]
    }

    /// `seconds` as RFC 3339 text in local time `offsetMinutes` east of UTC (`Z` for 0 without a
    /// fraction), with `.fraction` if given.
    static func text(_ seconds: Int64, offsetMinutes: Int64, fraction: String?) -> String {
        let local = seconds + offsetMinutes * 60
        let days = CivilDate.floorDivide(local, 86_400)
        let second = local - days * 86_400
        let date = CivilDate.date(days: days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var text = "\(date.year)-\(two(date.month))-\(two(date.day))T\(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60))"
        if let fraction { text += "." + fraction }
        if offsetMinutes == 0 { return text + "Z" }
        let sign = offsetMinutes < 0 ? "-" : "+"
        return text + sign + two(abs(offsetMinutes) / 60) + ":" + two(abs(offsetMinutes) % 60)
    }

    /// Decodes every page of each form `rounds` times; prints the median round's records/s and MB/s,
    /// and the best round's records/s.
    static func run(records: Int, rounds: Int) {
        print("| body form | records | MB | median records/s | median MB/s | best records/s | rounds |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for form in forms(records: records) {
            let bytes = form.pages.reduce(0) { $0 + $1.count }
            var seconds: [Double] = []
            var refusal: String?
            for _ in 0..<rounds {
                let start = Posix.monotonicNow()
                var decoded = 0
                for page in form.pages {
                    do {
                        decoded += try TelemetryPage.decode(page).records.count
                    } catch {
                        refusal = "\(error)"
                        break
                    }
                }
                seconds.append((Posix.monotonicNow() - start).seconds)
                if refusal != nil { break }
                precondition(decoded == records, "decoded \(decoded) of \(records) records")
            }
            if let refusal {
                print("| \(form.name) | \(records) | \(String(format: "%.1f", Double(bytes) / 1e6)) | refused: \(refusal.prefix(120)) | | | |")
                continue
            }
            let median = seconds.sorted()[seconds.count / 2]
            // The best round is the one least disturbed by other processes on a shared machine.
            let best = seconds.min()!
            print("| \(form.name) | \(records) | \(String(format: "%.1f", Double(bytes) / 1e6)) | "
                + "\(Int(Double(records) / median)) | \(String(format: "%.0f", Double(bytes) / 1e6 / median)) | "
                + "\(Int(Double(records) / best)) | \(rounds) |")
        }
    }
}
