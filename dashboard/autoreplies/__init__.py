"""The auto-reply rules pages for VoIPBIN admins and supervisors: rules, dry run, replay, decision log.

The decisions themselves are the plain engine's (``dashboard.rules``); this package loads what it
needs from the database, records who changed what (``audit``) and renders it.
"""
