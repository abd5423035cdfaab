//! `quant`: the command-line program, all of it in the `cli` library (a user crate's binary is
//! the same line with its own strategies: `cli::main_with`).

fn main() -> std::process::ExitCode {
    cli::main()
}
