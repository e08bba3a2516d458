"""The agent: the one long-lived process per workspace that makes the store's desired state real.

``scheduler`` (claims queued runs, starts each in its own process, forwards cancels, fires schedules),
``supervisor`` (scoring services' processes), ``gateway`` (the published pipelines' REST endpoint, a thread
of the agent), ``processes`` (starting and watching OS processes), ``launcher`` (start an agent in the
background), and the entry points of the processes it starts: ``run_process`` and ``scoring_process``.
The agent depends on the workspace (``opml.backends.local``); nothing in the workspace depends on it.
"""
