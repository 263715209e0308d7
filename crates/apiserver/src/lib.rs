//! Kubernetes REST API server.
