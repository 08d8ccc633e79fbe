//! Plan as pure data; diff and planner are pure functions; saved plan files.
