"""The HTTP server of `bulletin serve`: the JSON API, /metrics, /healthz and /readyz."""
