//! OpenAPI v3 documents from k8s-openapi schemas; strict unknown-field checks; patch metadata
