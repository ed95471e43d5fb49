-- /etc/gavel/gavel.conf.lua: the configuration of the gavel service (see gavel.conf.lua(5)).
--
-- Plain assignments in sandboxed Lua. Apart from the database, every setting below is
-- commented out and shows its default. A mistake stops `gavel serve` with one line
-- "file:line: message": after a change, `systemctl restart gavel` and, if it fails,
-- `journalctl -u gavel -n 5` names the line.
--
-- Each setting is taken from, in this order: the command-line option (--db, --listen,
-- --workflows, --config), the environment (GAVEL_DATABASE, GAVEL_CONFIG), this file,
-- the built-in default.

-- The database. The service runs as the gavel user, which may write only under
-- /var/lib/gavel. Create it once with:
--   sudo -u gavel gavel init --db /var/lib/gavel/gavel.db --forum midiocc
database = "/var/lib/gavel/gavel.db"

-- Address and port to serve on. Keep loopback behind a reverse proxy.
-- listen = "127.0.0.1:8080"

-- The workflows and forum definitions (default: /usr/share/gavel/workflows). To adapt
-- them, copy that directory to /etc/gavel/workflows and name it here.
-- workflows = "/etc/gavel/workflows"

-- debug, info, warn, error or off. GAVEL_LOG_LEVEL in the environment wins.
-- log_level = "info"

-- text (TIME LEVEL EVENT key=value ...) or json (one object a line, for a log collector).
-- log_format = "text"

-- TLS, when Gavel faces browsers itself (both files readable by the gavel user);
-- systemctl reload gavel reads a renewed certificate and key.
-- tls = { certificate = "/etc/gavel/cert.pem", key = "/etc/gavel/key.pem" }

-- Who may read /metrics besides loopback: addresses or networks.
-- metrics = { allow = { "10.0.0.0/8" } }

-- Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed.
-- trusted_proxies = { "127.0.0.1", "::1" }

-- Session lifetimes: browser sessions and API bearer tokens.
-- sessions = { idle = "30m", absolute = "12h", token_idle = "2h", token_absolute = "24h" }

-- Request body size in bytes, password hashes waiting at most, actions per commit.
-- limits = { body = 1048576, password_queue = 16, batch = 256 }

-- Failed sign-ins allowed in 15 minutes, per account and address and per address.
-- login = { max_failures = 5, max_failures_per_address = 30 }

-- Plugins: each one's settings, or false to turn it off.
-- plugins = {
--   audit = { key_file = "gavel-audit.key" },   -- beside the database
--   email = { smtp = "smtp://mail.example.org:587", from = "noreply@example.org",
--             password_file = "/etc/gavel/smtp-password",
--             base_url = "https://gavel.example.org" },
--   web = false,
-- }
