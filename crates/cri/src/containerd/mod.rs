//! Running containerd for berth: a config that keeps it apart from any other containerd on the
//! machine, and a child process that answers CRI before `start` returns.

mod config;
mod process;

pub use config::{ContainerdConfig, DEFAULT_CNI_BIN_DIR, SHARED_DEFAULT_SOCKET};
pub use process::{Containerd, ContainerdError};
