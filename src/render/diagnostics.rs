//! Diagnostics rendered with the offending source line.

use crate::manifest::Diagnostics;

pub fn render(d: &Diagnostics, _color: bool) -> String {
    d.to_string()
}
