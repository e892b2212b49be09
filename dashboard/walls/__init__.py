"""The team wall display: a link for a TV that shows one account's queues and inbox, and nothing else."""
