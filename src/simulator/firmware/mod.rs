//! The simulated firmware: what it knows (the [`catalog`]), what it holds
//! ([`config`]), how it reads INI files ([`ini_read`], [`ini_load`]) and CLI
//! scripts ([`cli_exec`]), and how it writes them back ([`ini_render`],
//! [`cli_render`]). Nothing here is shared with the client: the rules come
//! from the AudioCodes manuals and `../shared/reference/audiocodes-cli.md`
//! (see `src/simulator/README.md`).

pub(crate) mod catalog;
pub(crate) mod cli_exec;
pub(crate) mod cli_render;
pub mod config;
pub mod ini_load;
pub(crate) mod ini_read;
pub(crate) mod ini_render;
pub mod seed;

pub use config::DeviceConfig;
pub use ini_load::{ConfigError, LoadReport, interpret_upload, seed_from_dump};
