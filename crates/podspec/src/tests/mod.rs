//! Table tests over realistic pods, per public function.

mod container;
mod dns;
mod env;
mod fixtures;
mod resources;
mod sandbox;
mod security;
