fn main() -> std::process::ExitCode {
    outcry_runtime::cli::service_main("ingestor", outcry_ingestor::run)
}
