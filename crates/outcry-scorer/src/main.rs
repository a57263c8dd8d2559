fn main() -> std::process::ExitCode {
    outcry_runtime::cli::service_main("scorer", outcry_scorer::run)
}
