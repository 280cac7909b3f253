"""Write-behind machinery: the queue, the Redis Stream, the flusher and delivery."""
