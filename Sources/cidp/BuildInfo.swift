/// What `cidp_build_info{version}` reports.
enum BuildInfo {
    static let version = "0.12.0"
}
