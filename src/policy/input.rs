//! The policy input document: the JSON plan plus cluster, desired and live (masked).
