//! JSON, merge, strategic merge patch and server-side apply on JSON objects
