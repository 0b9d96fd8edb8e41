"""Error raised when requested embeddings cannot be had on this machine."""


class EmbeddingsUnavailableError(RuntimeError):
    """Embeddings that need a download (or a missing local path) could not be loaded.

    A distinct type lets callers (the CLI, experiment runners) tell "no internet / no file"
    apart from genuine bugs and point the user to the offline alternatives.
    """
