//! The one place that knows both manifest and wire forms: defaults, derivations, stripping.
