"""What both Azure ML backends share (SDK v1 in ``opml.backends.azure``, SDK v2 in ``opml.backends.azure_v2``):
the workspace's ``config.json``, the mapping of Azure's exceptions onto opml's errors, the state folder of what
Azure does not keep, and times as Azure writes them. Nothing here imports an Azure SDK."""
