"""After deployment: what a service's requests were (collected data), their ground truth and how right it was."""
