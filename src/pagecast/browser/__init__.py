"""Browser management: launching Chromium, warm isolated page slots, the pool."""
