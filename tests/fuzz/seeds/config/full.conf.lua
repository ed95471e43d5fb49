listen = "127.0.0.1:8080"
database = "/var/lib/gavel/gavel.db"
workflows = "/usr/share/gavel/workflows"
log_level = "info"
tls = { certificate = "/etc/gavel/cert.pem", key = "/etc/gavel/key.pem" }
metrics = { allow = { "10.0.0.0/8", "fd00::/8" } }
trusted_proxies = { "127.0.0.1", "::1" }
sessions = { idle = "30m", absolute = "12h", token_idle = "2h", token_absolute = "24h" }
limits = { body = 1048576, password_queue = 16, batch = 256 }
login = { max_failures = 5, max_failures_per_address = 30 }
plugins = {
  audit = { key_file = "gavel-audit.key" },
  email = { smtp = "smtp://mail.example.org:587", from = "noreply@example.org",
            password_file = "/etc/gavel/smtp-password", base_url = "https://gavel.example.org" },
  web = false,
}
