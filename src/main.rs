fn main() -> std::process::ExitCode {
    kubectl_notify::main()
}
