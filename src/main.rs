fn main() {
    std::process::exit(cdcform::main_entry());
}
