//! Pure configuration models: parse, normalise, diff and render the formats a
//! Mediant speaks. Nothing here performs I/O, so all of it is tested without a
//! network.

pub mod catalog;
pub mod cli;
pub mod ini;
pub mod limits;
pub mod pem;
pub mod sensitive;
