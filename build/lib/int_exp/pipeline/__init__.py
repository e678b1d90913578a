"""Stage contract, content-addressed cache and runner."""
