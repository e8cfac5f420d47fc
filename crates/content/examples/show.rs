//! Prints the analysis of message files:
//! `cargo run -p havre-content --example show -- FILE...`
fn main() {
    for path in std::env::args().skip(1) {
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        println!(
            "== {path}\n{:#?}",
            havre_content::analyze(&raw, &havre_content::Limits::default())
        );
    }
}
