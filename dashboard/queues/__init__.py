"""Queues page and agents board: live agents, queues and queuecalls, their figures, their pages."""
