"""The one exception type the CLI turns into a one-line message."""


class AntispoofError(Exception):
    """A problem with the user's input: its message names the file and the problem."""
