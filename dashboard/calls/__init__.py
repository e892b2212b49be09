"""Calls as their people see them: conversations (a customer call, its flow, its queue stay and its
agent legs), the live calls page, and how call events are stored."""
