//! CLI-script engine (being written).
