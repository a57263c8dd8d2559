fn main() -> std::process::ExitCode {
    outcry_runtime::cli::service_main("router", outcry_router::run)
}
