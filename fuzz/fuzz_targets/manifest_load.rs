//! Manifest loading never panics; what it accepts is well formed, what it refuses renders.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| (name.len() < 40).then(|| "fuzz-secret".to_string());
    match cdcform::manifest::load_str("fuzz.yaml", text, &env) {
        Ok(set) => {
            for cf in &set.changefeeds {
                // Every accepted id follows TiCDC's rule: letters/digits joined by single hyphens.
                assert!(!cf.id.is_empty() && cf.id.len() <= 128, "{:?}", cf.id);
                assert!(
                    cf.id.split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric())),
                    "{:?}",
                    cf.id
                );
                // Debug shows templates, never the expanded secret.
                assert!(!format!("{cf:?}").contains("fuzz-secret"));
            }
        }
        Err(d) => {
            let shown = cdcform::render::diagnostics::render(&d, false);
            assert!(shown.contains("error"));
            assert!(!shown.contains("fuzz-secret"), "{shown}");
        }
    }
});
