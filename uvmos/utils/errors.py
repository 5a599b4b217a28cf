"""The errors of bad input: :class:`ConfigError` (a bad config or override) and :class:`ToolExit`
(how the command-line tools stop on it). Both are re-exported by :mod:`uvmos.utils.config`."""

__all__ = ["ConfigError", "ToolExit"]


class ConfigError(ValueError):
    """A bad config file or override; the message names the key or file."""


class ToolExit(SystemExit):
    """How the command-line tools stop on bad input: ``error: <message>`` (one line) on stderr and
    exit status 2 (argparse's status for usage errors); ``str()`` is the printed line."""

    def __init__(self, message):
        import sys

        self.message = f"error: {message}"
        print(self.message, file=sys.stderr, flush=True)
        super().__init__(2)

    def __str__(self):
        return self.message
