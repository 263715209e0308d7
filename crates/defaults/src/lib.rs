//! Per-kind defaulting as Kubernetes applies it on create/update
