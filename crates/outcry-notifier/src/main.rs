fn main() -> std::process::ExitCode {
    outcry_runtime::cli::service_main("notifier", outcry_notifier::run)
}
