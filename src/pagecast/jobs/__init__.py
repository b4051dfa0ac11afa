"""Durable jobs on Redis Streams: submission, the queue, workers, webhooks."""
