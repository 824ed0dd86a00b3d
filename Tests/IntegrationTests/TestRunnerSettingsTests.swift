import Foundation
import Testing
import TestRunnerSettings

/// The test process runs no more test cases at once than it has threads for them
/// (`Tests/TestRunnerSettings/settings.c`): time limits measure a test, not its wait for a thread.
@Suite struct TestRunnerSettingsTests {
    @Test func testCasesRunNoMoreAtOnceThanThereAreCores() {
        #expect(cidp_test_runner_settings_linked() == 1)
        let width = ProcessInfo.processInfo.environment["SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH"].flatMap(Int.init)
        #expect(width != nil && width! >= 1)
    }
}
