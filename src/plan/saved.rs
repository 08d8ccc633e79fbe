//! Saved plan files.
