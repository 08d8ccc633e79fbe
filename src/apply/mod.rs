//! Execute a Plan: ordering, parallelism, pause/update/resume, waits, compensation.
