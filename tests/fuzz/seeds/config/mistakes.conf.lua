log_level = "verbose"
limits = { body = "big" }
sessions = "30m"
listn = "[::1]:8080"
