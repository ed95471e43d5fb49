trusted_proxies = { "10.0.0.0/33", "proxy.local" }
metrics = { allow = { "10.0.0.0/99" } }
