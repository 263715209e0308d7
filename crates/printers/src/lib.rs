//! Server-side Table columns and rows per kind, as kubectl get prints them
