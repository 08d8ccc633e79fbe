//! `cdcform policy test`: run `test_*` rules as `opa test` does.
