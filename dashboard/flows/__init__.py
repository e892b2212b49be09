"""Flow execution: where each call is in its VoIPBIN flow, live (activeflow events)."""
