"""HTTP: the transport (pooling, retries, rate limits, redaction), authentication, and the
webhook client."""
