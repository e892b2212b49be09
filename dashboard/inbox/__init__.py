"""The message inbox: threads of SMS per (our number, remote number), for supervisors and admins."""
