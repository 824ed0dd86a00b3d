import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

// Parse errors exit 2 (usage), not ArgumentParser's 64, per the command-line contract.
do {
    var command = try Cidp.parseAsRoot()
    if var asyncCommand = command as? AsyncParsableCommand {
        _ = asyncCommand
        fatalError("no async commands")
    }
    try command.run()
    exit(0)
} catch let error as CLIExit {
    if !error.message.isEmpty { fputs("cidp: \(error.message)\n", stderr) }
    exit(error.code)
} catch {
    let code = Cidp.exitCode(for: error)
    if code == .success {
        print(Cidp.fullMessage(for: error))
        exit(0)
    }
    fputs(Cidp.fullMessage(for: error) + "\n", stderr)
    exit(code == .validationFailure ? 2 : code.rawValue)
}
