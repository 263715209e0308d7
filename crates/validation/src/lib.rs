//! Per-kind validation with Kubernetes field paths and messages
