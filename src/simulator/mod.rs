//! A faithful in-memory TiCDC OpenAPI v2 simulator (a test double, not a TiCDC).
