import ArgumentParser
import OperatorText
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// Writes one line to stderr in a single write.
func printError(_ text: String) {
    Posix.writeFully(.standardError, Array((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

// Parse errors exit 2 (usage), not ArgumentParser's 64, per the command-line contract.
do {
    var command = try Cidp.parseAsRoot()
    try command.run()
    exit(0)
} catch let error as CLIExit {
    // One line, whatever it quotes: a halt's reason, a worker's last error, a refusal's detail.
    if !error.message.isEmpty { printError("cidp: \(OperatorText.escaped(error.message))") }
    exit(error.code)
} catch {
    let code = Cidp.exitCode(for: error)
    if code == .success {
        print(Cidp.fullMessage(for: error))
        exit(0)
    }
    printError(Cidp.fullMessage(for: error))
    exit(code == .validationFailure ? 2 : code.rawValue)
}
