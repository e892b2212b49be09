"""Readable names for VoIPBIN flow action types, with an icon so no state is told by colour alone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Action:
    type: str
    label: str
    icon: str


# VoIPBIN's action types (flow-manager); ``talk`` speaks text to the caller (text to speech).
_KNOWN: dict[str, tuple[str, str]] = {
    "agent_call": ("Calling an agent", "☏"),
    "amd": ("Detecting an answering machine", "⌕"),
    "answer": ("Answering", "☎"),
    "beep": ("Beeping", "♪"),
    "branch": ("Branching", "⋔"),
    "call": ("Placing a call", "☏"),
    "condition_call_digits": ("Checking the digits", "?"),
    "condition_call_status": ("Checking the call", "?"),
    "confbridge_join": ("Joining a conference", "⚇"),
    "conference_join": ("Joining a conference", "⚇"),
    "connect": ("Connecting", "⇄"),
    "digits_receive": ("Waiting for digits", "#"),
    "digits_send": ("Sending digits", "#"),
    "echo": ("Echoing", "↺"),
    "external_media_start": ("Streaming media", "⇶"),
    "external_media_stop": ("Stopping the media stream", "⇶"),
    "fetch": ("Fetching the next actions", "⇩"),
    "fetch_flow": ("Fetching a flow", "⇩"),
    "goto": ("Jumping", "↷"),
    "hangup": ("Hanging up", "■"),
    "message_send": ("Sending a message", "✉"),
    "play": ("Playing a message", "▶"),
    "queue_join": ("Waiting in queue", "◷"),
    "recording_start": ("Recording", "◉"),
    "recording_stop": ("Stopping the recording", "◎"),
    "sleep": ("Pausing", "…"),
    "stream_echo": ("Echoing", "↺"),
    "talk": ("Speaking to the caller", "❝"),
    "transcribe_start": ("Transcribing", "✎"),
    "transcribe_stop": ("Stopping the transcription", "✎"),
    "transcribe_recording": ("Transcribing the recording", "✎"),
    "transfer": ("Transferring", "↪"),
    "variable_set": ("Setting a variable", "≔"),
    "webhook_send": ("Sending a webhook", "⇪"),
}
_UNKNOWN_ICON = "•"


def describe(action_type: str) -> Action:
    """The label and icon of an action type; an unknown type reads as itself, in words. No type:
    the flow stands at VoIPBIN's start placeholder and has run nothing yet."""
    if not action_type:
        return Action(type=action_type, label="Starting", icon="▸")
    label, icon = _KNOWN.get(action_type, ("", _UNKNOWN_ICON))
    if not label:
        label = action_type.replace("_", " ").strip().capitalize() or "Unknown action"
    return Action(type=action_type, label=label, icon=icon)
