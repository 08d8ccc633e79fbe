//! Flags + environment (`CDCFORM_*`) + `cdcform.toml` → resolved settings.
